"""Admission limits of the chat service: what one account or one connection may cost.

Kept apart from ``server.service`` (the rules of the chat) because these are budgets, not
rules: how many connections an account may hold, how often it may log in or resume, how many
history rows it may read, and how many cheap requests one connection may make. Each is a
setting (``ServerOptions``) and each bound exists because its absence was an attack
(SECURITY.md, "Server resources" and "Login and accounts").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from server.connection_state import ConnectionState
from server.limits import RequestLimiter, SharedCounts, count_down, network_key
from server.limits_redis import buckets
from server.names import is_username
from server.options import ServerOptions

log = logging.getLogger(__name__)


class Admission:
    """The per-account and per-connection budgets; thread-safe, one per service."""

    def __init__(self, options: ServerOptions, clock: Callable[[], float] = time.monotonic,
                 shared: SharedCounts | None = None):
        self._options = options
        self._shared = shared  # a cluster: connections per account counted for all nodes
        keys = options.rate_limit_keys
        self._account_conns: dict[str, int] = {}  # logged-in connections per account
        self._account_lock = threading.Lock()
        url = options.redis_url  # set: these buckets hold for the whole cluster
        self._logins = buckets(
            url, "login", options.account_login_rate, options.account_login_burst, keys, clock
        )
        self._history_rows = buckets(
            url, "history", options.history_rows_rate, options.history_rows_burst, keys, clock
        )
        self._requests = RequestLimiter(options.request_rate, options.request_burst, clock)

    # --- logins and resumes per (account, network) -------------------------------------------

    def may_log_in(self, username: str, address: str) -> bool:
        """Take one login or resume of ``username`` from ``address``'s network; False: refuse.

        Every successful login or resume announces the account to everyone (``join``), and its
        disconnect a ``leave``: one account cycling 93 times a second made every window receive
        174 presence lines a second. The bucket is per (account, network), not per account, so
        someone who merely knows the name can only drain the buckets of their own networks and
        never keeps the owner out from anywhere else (SECURITY.md, "Login and accounts").
        A name that cannot be an account gets no bucket (``server.accounts`` refuses it at no
        cost), so a flood of 64 KB names cannot fill the map.
        """
        if not is_username(username) or self._logins.take(f"{username}\n{network_key(address)}"):
            return True
        log.warning("logins of %s from %s refused: too many", username, network_key(address))
        return False

    # --- connections per account ---------------------------------------------------------

    def claim_account_slot(self, username: str) -> bool:
        """Count one more connection of ``username``; False past ``max_conns_per_account``.

        Each connection may hold megabytes of queued replies and two threads; without this
        bound one password multiplied by many sockets is a memory attack.
        """
        with self._account_lock:
            count = self._account_conns.get(username, 0)
            if count >= self._options.max_conns_per_account:
                return False
            self._account_conns[username] = count + 1
        if self._shared is None or self._shared.claim(
                (f"account:{username}", self._options.max_conns_per_account)):
            return True
        with self._account_lock:
            count_down(self._account_conns, username)
        log.warning("connection of %s refused: the cluster holds %d", username,
                    self._options.max_conns_per_account)
        return False

    def release_account_slot(self, username: str) -> None:
        with self._account_lock:
            count_down(self._account_conns, username)
        if self._shared is not None:
            self._shared.release(f"account:{username}")

    # --- history rows per account --------------------------------------------------------

    def take_history_rows(self, username: str, rows: int) -> bool:
        """A page of ``rows`` from the account's history bucket; False: refuse the page."""
        return self._history_rows.take(username, rows)

    # --- cheap requests per connection ---------------------------------------------------

    def check_request(self, conn: ConnectionState) -> str:
        """``"ok"``, ``"refuse"`` or ``"cut"`` for one cheap request (a ping) of ``conn``."""
        return self._requests.check(conn)

    def count_request(self, conn: ConnectionState) -> bool:
        """A refused send or history page still cost a decode and a reply: count it against
        the connection's request bucket (False: close the connection)."""
        if self._requests.check(conn) == "cut":
            return self.refuse_request(conn, "cut")
        return True

    def refuse_request(self, conn: ConnectionState, verdict: str) -> bool:
        """Past the bucket: ``rate_limited``; past ``request_burst`` refusals in a row: close."""
        if verdict == "cut":
            log.warning("closing %s: requests go on while rate limited", conn.peer)
            return False
        conn.error("rate_limited", "too many requests; slow down")
        return True

    def forget(self, conn: ConnectionState) -> None:
        """The connection is gone."""
        self._requests.forget(conn)
