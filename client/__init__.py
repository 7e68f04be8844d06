"""The Tkinter desktop client: one window per user, speaking to the server through ``common``.

Layers, outermost first: ``__main__`` (reads config and the deadlines, builds Tk); ``ui``
(widgets only); the controller, all in the Tk thread and with no widgets: ``app`` (the
connection's life, as moves of the ``lifecycle`` state machine) with ``actions`` (what the
chat widgets call), ``liveness`` (pings, "not responding", reconnect waits and "Reconnect
now"), ``keyflow`` and ``trust`` (which server key to pin, recorded once a handshake proves
it), ``traffic`` (the conversation once logged in, sending through a ``link`` to whichever
session is current), ``renderer`` (paints only what changed) and ``formatting`` (pure text
rules, invisible characters shown); ``model`` (conversations, roster and the outbox, pure
data) with ``presence`` (join/leave runs folded) and ``stash`` (unsent messages and drafts on
disk); ``session`` (socket and threads, no Tk) and ``backoff`` (reconnect waits).
"""
