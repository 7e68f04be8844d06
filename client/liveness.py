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

logger = logging.getLogger(__name__)

TICK_MS = 250


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
