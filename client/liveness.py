"""Is the server still answering? Pings from the controller, and the verdict in a few seconds.

A server that is stopped (SIGSTOP, a hung process, a dead route) keeps its TCP connection
open: no reset, no close, so nothing on the socket says it is gone, and the window used to
stay green "connected" for over a minute while a message sat at "sending…". The session's own
idle ping (``client.session``) gives up only after 2.5 ping intervals; this watchdog runs in
the Tk thread on the view's timers and asks sooner:

* a send that gets no answer within ``ack_grace`` seconds is followed by a ping (the server
  answers a ping only after the acks of the sends before it, so the pong or the ack settles it);
* an idle connection is pinged every ``idle_interval`` seconds;
* a ping with no reply of any kind within ``reply_timeout`` seconds turns the status to
  "not responding" (its own level, ``stalled``), and anything received turns it back;
* after ``give_up`` seconds of silence since that ping the connection is dropped and the
  controller reconnects.

Any message from the server counts as a sign of life, not only the pong.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from client.backoff import Backoff, ReconnectTimer
from client.formatting import reconnect_status
from client.renderer import StatusLevel

logger = logging.getLogger(__name__)

TICK_MS = 250


class StatusView(Protocol):
    """What the watch needs of the view (``client.renderer.View`` has it all)."""

    def after(self, ms: int, callback: Callable[[], None]) -> object: ...
    def after_cancel(self, token: object) -> None: ...
    def set_status(self, text: str, level: StatusLevel) -> None: ...
    def offer_reconnect(self, offered: bool) -> None: ...


class StatusLine:
    """The status area as the controller and the watch write it, with one standing notice kept
    at its end: once the person chose to close when the unsent messages are sent, a later word
    about the connection ("reconnecting in 5 s") must not hide that the window waits to close.
    """

    def __init__(self, view: StatusView) -> None:
        self._view = view
        self._notice = ""
        self._last: tuple[str, StatusLevel] = ("", "busy")

    def after(self, ms: int, callback: Callable[[], None]) -> object:
        return self._view.after(ms, callback)

    def after_cancel(self, token: object) -> None:
        self._view.after_cancel(token)

    def offer_reconnect(self, offered: bool) -> None:
        self._view.offer_reconnect(offered)

    def set_status(self, text: str, level: StatusLevel) -> None:
        self._last = (text, level)
        notice = self._notice
        self._view.set_status(f"{text} · {notice}" if text and notice else text or notice, level)

    def set_notice(self, notice: str) -> None:
        """Keep ``notice`` after every status from now on ("" removes it)."""
        self._notice = notice
        self.set_status(*self._last)


@dataclass(frozen=True)
class LivenessTimes:
    """The watchdog's bounds, in seconds (defaults tuned for a person watching the window)."""

    ack_grace: float = 3.0
    idle_interval: float = 15.0
    reply_timeout: float = 5.0
    give_up: float = 20.0


class Liveness:
    """Watches one logged-in session; ``start``/``stop`` with it, ``heard``/``sent`` as they happen.

    ``ping()`` sends a ``0006``; ``on_stalled(True/False)`` reports "not responding" and its
    end; ``on_dead()`` asks the controller to drop the connection and reconnect.
    """

    def __init__(
        self,
        after: Callable[[int, Callable[[], None]], object],
        cancel: Callable[[object], None],
        monotonic: Callable[[], float],
        ping: Callable[[str], None],
        on_stalled: Callable[[bool], None],
        on_dead: Callable[[], None],
        times: LivenessTimes | None = None,
    ) -> None:
        self.times = times or LivenessTimes()
        self._after, self._cancel, self._now = after, cancel, monotonic
        self._ping, self._on_stalled, self._on_dead = ping, on_stalled, on_dead
        self._nonces = itertools.count(1)
        self._timer: object | None = None
        self._last_heard = 0.0
        self._unanswered_send: float | None = None  # when the oldest unanswered send went
        self._ping_sent: float | None = None  # when the outstanding ping went
        self.stalled = False

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """Logged in: the connection is alive now."""
        self.stop()
        self._last_heard, self._unanswered_send, self._ping_sent = self._now(), None, None
        self.stalled = False
        self._timer = self._after(TICK_MS, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._cancel(self._timer)
            self._timer = None
        self._ping_sent = self._unanswered_send = None

    def sent(self) -> None:
        """A request that expects an answer (a message) went out."""
        if self._unanswered_send is None:
            self._unanswered_send = self._now()

    def heard(self, settled: bool) -> None:
        """Something arrived; ``settled``: nothing we sent is waiting for an answer any more."""
        self._last_heard = self._now()
        self._ping_sent = None
        self._unanswered_send = None if settled else self._last_heard
        if self.stalled:
            self.stalled = False
            self._on_stalled(False)

    def _tick(self) -> None:
        self._timer = None
        now, t = self._now(), self.times
        if self._ping_sent is not None:
            silent = now - self._ping_sent
            if silent >= t.give_up:
                logger.warning("no reply to a ping for %.0f s: reconnecting", silent)
                self._ping_sent = None
                self._on_dead()
                return
            if silent >= t.reply_timeout and not self.stalled:
                logger.info("no reply to a ping for %.0f s: not responding", silent)
                self.stalled = True
                self._on_stalled(True)
        else:
            waiting = self._unanswered_send is not None and now - self._unanswered_send >= (
                t.ack_grace)
            if waiting or now - self._last_heard >= t.idle_interval:
                self._ping_sent = now
                self._ping(str(next(self._nonces)))
        self._timer = self._after(TICK_MS, self._tick)


ACTIVE_WINDOW = 60.0
"""Seconds after the person's last keystroke or send during which they count as active."""
ACTIVE_RECONNECT_CAP = 5.0
"""The longest reconnect wait while the person is active (the back-off's own cap is 30 s)."""
NOT_RESPONDING = "not responding · the server has not answered for a few seconds"


class ConnectionWatch:
    """What the status area says about the connection, and when the window reconnects.

    Joins the ``Liveness`` watchdog (while online) and the ``ReconnectTimer`` (while waiting),
    and the person's part in both: "Reconnect now" is offered while waiting, and a person who
    typed within ``ACTIVE_WINDOW`` seconds never waits more than ``ACTIVE_RECONNECT_CAP``.
    """

    def __init__(
        self,
        view: StatusView,
        backoff: Backoff,
        monotonic: Callable[[], float],
        send_ping: Callable[[str], None],
        reconnect: Callable[[], None],
        drop: Callable[[str], None],
        times: LivenessTimes | None = None,
    ) -> None:
        self._view, self._now = view, monotonic
        self.timer = ReconnectTimer(
            backoff, view.after, view.after_cancel, monotonic,
            lambda left, why: view.set_status(reconnect_status(left, why), "busy"), reconnect,
        )
        self.liveness = Liveness(
            view.after, view.after_cancel, monotonic, send_ping, self._stalled,
            lambda: drop("the server stopped answering"), times,
        )
        self._last_input: float | None = None
        self.online_text = ""  # the status while connected (cipher and key)

    def online(self, unsent: bool) -> None:
        """Logged in: green, and the watchdog starts (expecting acks if ``unsent``)."""
        self._view.set_status(self.online_text, "ok")
        self.liveness.start()
        if unsent:
            self.liveness.sent()

    def heard(self, settled: bool) -> None:
        if self.liveness.running:
            self.liveness.heard(settled)

    def sent(self) -> None:
        if self.liveness.running:
            self.liveness.sent()

    def stop(self) -> None:
        """The session ended: no watchdog, no pending reconnect, no offer."""
        self.timer.cancel()
        self.liveness.stop()
        self._view.offer_reconnect(False)

    def wait(self, reason: str) -> float:
        """Wait out the next back-off (shorter while the person is active) and offer to skip it."""
        delay = self.timer.schedule(reason, ACTIVE_RECONNECT_CAP if self.active() else None)
        self._view.offer_reconnect(True)
        return delay

    def note_input(self) -> None:
        """The person typed or sent: a wait under way shrinks to the active cap."""
        self._last_input = self._now()
        self.timer.shorten(ACTIVE_RECONNECT_CAP)

    def active(self) -> bool:
        last = self._last_input
        return last is not None and self._now() - last < ACTIVE_WINDOW

    def _stalled(self, stalled: bool) -> None:
        if stalled:
            self._view.set_status(NOT_RESPONDING, "stalled")
        else:
            self._view.set_status(self.online_text, "ok")
