"""The Tkinter desktop client: one window per user, speaking to the server through ``common``.

Layers, outermost first: ``__main__`` (reads config, builds Tk), ``ui`` (widgets only), ``app``
(the controller: state and policy, no widgets), ``model`` (conversations and the outbox, pure),
``session`` (socket and threads, no Tk), ``trust`` (pinned server keys).
"""
