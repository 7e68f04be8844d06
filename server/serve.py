"""The server wired in one place: ``build`` makes every part, ``run`` serves until a signal.

``python -m server serve`` (``server.__main__``), the integration tests and the benchmark all
call ``build``, so there is one way the parts fit together:

    Store ──────────────┬──> Accounts (inside ChatService) <── PasswordHasherPool
    GroupCommitter ─────┤        │
    InProcessHub ───────┴──> ChatService <── ChatServer (listener: sockets and threads)
            ▲                    │
            └── committer.start(service.on_committed): each group commit is handed back
                to the service, which acks and relays it

This module gets typed values (``ServerOptions``, ``DbParams``, a key); it never reads
``config`` and never imports the CLI, and the listener does not import it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from Crypto.PublicKey import RSA

from common.messages import encode_message
from common.messages_account import SignedOut
from server.account_admin import SIGN_OUT_TEXT, SignOutWatcher
from server.accounts import TokenSweeper
from server.commit import GroupCommitter
from server.credentials import key_hasher_of, salt_secret
from server.hub import Audience, InProcessHub
from server.hub_redis import RedisHub
from server.keyfile import KeyFileExposedError, load_private_key
from server.listener import ChatServer
from server.options import ServerOptions
from server.passwords import PasswordHasherPool
from server.service import ChatService, PendingSend
from server.store import DbParams, Store, StoredMessage

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


@dataclass
class BuiltServer:
    """Every part of one server, as ``build`` connected them; ``start``, then ``stop``."""

    options: ServerOptions
    store: Store
    hasher: PasswordHasherPool
    hub: InProcessHub | RedisHub
    committer: GroupCommitter[PendingSend]
    service: ChatService
    server: ChatServer
    sweeper: TokenSweeper
    watcher: SignOutWatcher  # sign-outs decided on the command line

    def start(self) -> tuple[str, int]:
        """Listen; returns the bound ``(host, port)`` (port 0 picks a free one).

        A node of a cluster first subscribes to Redis (briefly; it catches up later if Redis
        is down), so that nothing committed elsewhere after its first client logs in is missed.
        """
        if isinstance(self.hub, RedisHub) and not self.hub.wait_subscribed(5.0):
            log.warning("redis not reachable yet; serving, and catching up once it is")
        address = self.server.start()
        self.sweeper.start()
        self.watcher.start()
        return address

    def stop(self) -> None:
        """Stop accepting, flush every connection, commit what is queued, close the pool."""
        self.server.stop()
        self.sweeper.stop()
        self.watcher.stop()
        self.committer.close()
        self.store.close()


def build(
    options: ServerOptions,
    db: DbParams,
    private_key: RSA.RsaKey,
    *,
    hasher: PasswordHasherPool | None = None,
    key_hasher: PasswordHasherPool | None = None,
) -> BuiltServer:
    """Make and connect every part; nothing listens until ``start``.

    ``hasher`` replaces the Argon2id pool of ``options.argon2_workers`` and ``key_hasher``
    the one of authentication keys (tests pass cheaper parameters).
    """
    store = Store(db)
    hasher = hasher or PasswordHasherPool(options.argon2_workers)
    key_hasher = key_hasher or key_hasher_of(options, options.argon2_workers)
    hub: InProcessHub | RedisHub
    services: list[ChatService] = []  # the service is made after the hub it talks through

    def delivery(stored: StoredMessage) -> tuple[bytes, Audience]:
        """A caught-up message's line and audience, by the service's rules (rooms included)."""
        return services[0].delivery(stored) if services else (b"", frozenset())

    if options.redis_url:  # one process of a cluster: Redis tells it what the others committed
        hub = RedisHub(
            options.redis_url,
            store,
            delivery,
            max_line=options.max_line,
            presence_interval=options.presence_interval,
            presence_ttl=options.presence_ttl,
            catchup_interval=options.catchup_interval,
        )
    else:
        hub = InProcessHub(options.max_line, options.presence_interval)
    committer: GroupCommitter[PendingSend] = GroupCommitter(store, options.commit_batch)
    counts = hub.counts if isinstance(hub, RedisHub) else None  # limits for the whole cluster
    service = ChatService(store, hasher, hub, committer, options, shared_counts=counts,
                          key_hasher=key_hasher, salt_secret=salt_secret(private_key))
    services.append(service)
    committer.start(service.on_committed)
    server = ChatServer(options, service, private_key, counts)
    sweeper = TokenSweeper(service.accounts, options.token_sweep_interval)
    def sign_out_here(username: str, reason: str) -> None:
        line = encode_message(SignedOut(reason, SIGN_OUT_TEXT.get(reason, reason))).encode()
        hub.sign_out(username, line, everywhere=False)  # every process reads the rows itself

    watcher = SignOutWatcher(store, sign_out_here, options.signout_poll_interval)
    return BuiltServer(options, store, hasher, hub, committer, service, server, sweeper, watcher)


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


def run(options: ServerOptions, db: DbParams, key_path: Path) -> int:
    """``python -m server serve``: build, serve until SIGINT or SIGTERM, then shut down."""
    _return_freed_memory()
    if not key_path.exists():
        log.error("no server key at %s; run `make keys` (python -m server keygen)", key_path)
        return 1
    try:
        private_key = load_private_key(key_path)
    except KeyFileExposedError as exc:
        log.error("%s", exc)
        return 1
    built = build(options, db, private_key)
    if not built.store.ping():
        log.warning("database not reachable yet; logins answer 'service unavailable' until it is")
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            built.start()
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", options.host, options.port, exc)
            return 1
        while not stop.wait(1.0):
            pass
    finally:
        built.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
