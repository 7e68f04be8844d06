"""Process wiring for ``python -m server serve``: settings in, a running server out.

``server.__main__`` reads ``config`` and calls ``listener.main(settings)``, which lands here.
This module turns the settings into plain values (``ServerOptions``, ``DbParams``), builds the
store, the Argon2id pool, the hub, the group committer and the service, loads the key, and
serves until SIGINT or SIGTERM; then it stops accepting, lets every connection flush, and
closes the database pool. It never imports ``config`` itself: the settings object is passed in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from server.commit import GroupCommitter
from server.hub import InProcessHub
from server.keyfile import PRIVATE_NAME, load_private_key
from server.listener import ChatServer
from server.options import ServerOptions
from server.outbox import coalescing
from server.passwords import PasswordHasherPool
from server.service import ChatService
from server.store import DbParams, Store

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
GCM_TAG = 16


def options_from_settings(settings: Any) -> ServerOptions:
    """``ServerOptions`` from a ``config.Settings`` (passed in: this module never reads config)."""
    return ServerOptions(
        host=settings.host,
        port=settings.port,
        max_frame=settings.max_frame,
        max_text=settings.max_text,
        handshake_timeout=settings.handshake_timeout,
        idle_timeout=settings.idle_timeout,
        outbox_limit=settings.outbox_limit,
        max_conns_per_addr=settings.max_conns_per_addr,
        msg_rate=settings.msg_rate,
        msg_burst=settings.msg_burst,
        login_failure_rate=settings.login_rate,
        login_failure_burst=settings.login_burst,
        handshake_rate=settings.handshake_rate,
        handshake_burst=settings.handshake_burst,
        account_backoff_after=settings.account_backoff_after,
        account_backoff_seconds=settings.account_backoff_seconds,
        history_limit=settings.history_limit,
        resume_token_ttl=settings.resume_token_ttl,
        **resource_options(settings),
    )


RESOURCE_SETTINGS = (
    "handshake_workers", "handshake_queue", "max_conns_per_network", "handshake_network_rate",
    "handshake_network_burst", "max_pending_connections", "first_byte_timeout", "fd_reserve",
    "max_conns_per_account", "outbox_total_bytes", "write_stall_timeout",
    "history_rows_rate", "history_rows_burst", "request_rate", "request_burst",
)


def resource_options(settings: Any) -> dict[str, Any]:
    """The server-resource limits, which have the same names in both places."""
    return {name: getattr(settings, name) for name in RESOURCE_SETTINGS}


def db_params(settings: Any) -> DbParams:
    """The server's own least-privilege database account, from settings."""
    return DbParams(
        database=settings.db_name,
        user=settings.db_user,
        password=settings.database_password(),
        host=settings.db_host,
        port=settings.db_port,
        unix_socket=str(settings.db_socket),
        pool_size=settings.db_pool_size,
        timeout=settings.db_timeout,
    )


def _return_freed_memory() -> None:
    """Make glibc give large freed blocks back to the OS at once (process-wide, best effort).

    Each Argon2id verify allocates 19 MiB. glibc's dynamic mmap threshold would, after the first
    one, serve the next from a malloc arena and keep it there, and with thousands of threads
    there are up to 8 arenas per core: hundreds of MB of RSS for memory nobody uses. A fixed
    threshold keeps every such block in its own mapping, unmapped when freed.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 256 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        log.debug("mallopt not available")


def run(settings: Any) -> int:
    """Build everything from ``settings`` (a ``config.Settings``) and serve until a signal."""
    _return_freed_memory()
    key_path = Path(settings.key_dir) / PRIVATE_NAME
    if not key_path.exists():
        log.error("no server key at %s; run `make keys` (python -m server keygen)", key_path)
        return 1
    private_key = load_private_key(key_path)
    options = options_from_settings(settings)
    store = Store(db_params(settings))
    if not store.ping():
        log.warning("database not reachable yet; logins answer 'service unavailable' until it is")
    hasher = PasswordHasherPool(settings.argon2_workers)
    committer = GroupCommitter(store, options.commit_batch, resolving=coalescing)
    hub = InProcessHub(options.max_frame - GCM_TAG, options.presence_interval)
    service = ChatService(store, hasher, hub, committer, options)
    server = ChatServer(options, service, private_key)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", options.host, options.port, exc)
            return 1
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        committer.close()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
