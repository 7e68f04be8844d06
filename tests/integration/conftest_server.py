"""Fixtures that run a real server (``server.serve.build``) on 127.0.0.1, port 0, over MariaDB.

Register with ``pytest_plugins = ["tests.integration.conftest_server"]`` (a test module or the
top-level ``tests/conftest.py``). ``db_params`` and ``db_control`` come from
``tests/conftest.py``: each test module gets its own fresh database, and this plugin seeds it
with the demo accounts (user1/user2/user3, password 111111) hashed by the server's own Argon2id
code, with cheaper parameters so a login costs milliseconds instead of ~50 ms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from Crypto.PublicKey import RSA

from common.crypto import generate_rsa_key
from common.messages import RosterUpdate
from server.commit import GroupCommitter
from server.credentials import new_key_account
from server.hub import InProcessHub
from server.listener import ChatServer
from server.options import ServerOptions
from server.passwords import PasswordHasherPool
from server.serve import BuiltServer, build
from server.service import ChatService, PendingSend
from server.store import DbParams, Store
from tests.support.chat_client import ChatClient

DEMO_USERS = (("user1", "wang_yuan"), ("user2", "ding_zhen"), ("user3", "cxk"))
DEMO_PASSWORD = "111111"
TEST_ARGON2 = {"time_cost": 1, "memory_cost": 8_192, "parallelism": 1}  # fast, still Argon2id

TEST_OPTIONS = ServerOptions(
    host="127.0.0.1",
    port=0,
    handshake_timeout=5.0,
    idle_timeout=60.0,
    msg_rate=1_000.0,  # the rate-limit test starts its own server with a small rate
    msg_burst=1_000,
    account_login_rate=1_000.0,  # many tests log the demo accounts in; the storm test does not
    account_login_burst=1_000,
    account_backoff_after=3,
    account_backoff_seconds=1.0,
    commit_timeout=5.0,
    kdf_memory_kib=1_024,  # the client's derivation, cheap in tests (still Argon2id)
    kdf_time_cost=1,
    kdf_parallelism=1,
    auth_hash_memory_kib=1_024,
)


@dataclass
class LiveServer:
    """A running server (built by ``server.serve.build``) for tests to drive and inspect."""

    built: BuiltServer
    private_key: RSA.RsaKey
    host: str = ""
    port: int = 0
    _clients: list[ChatClient] = field(default_factory=list)

    @property
    def server(self) -> ChatServer:
        return self.built.server

    @property
    def service(self) -> ChatService:
        return self.built.service

    @property
    def store(self) -> Store:
        return self.built.store

    @property
    def committer(self) -> GroupCommitter[PendingSend]:
        return self.built.committer

    @property
    def hub(self) -> InProcessHub:
        return self.built.hub

    @property
    def hasher(self) -> PasswordHasherPool:
        return self.built.hasher

    @property
    def options(self) -> ServerOptions:
        return self.built.options

    @property
    def public_key(self) -> RSA.RsaKey:
        return self.private_key.public_key()

    def client(self, timeout: float = 10.0) -> ChatClient:
        """A new, unauthenticated connection (closed at teardown)."""
        c = ChatClient(self.host, self.port, self.public_key, timeout)
        self._clients.append(c)
        return c

    def login(self, username: str, password: str = DEMO_PASSWORD) -> ChatClient:
        """A logged-in connection whose roster reply has been consumed."""
        c = self.client()
        result = c.login(username, password)
        assert result.ok, f"login of {username} failed: {result.detail}"
        c.recv_until(lambda m: isinstance(m, RosterUpdate))
        return c

    def close_clients(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()

    def stop(self) -> None:
        self.close_clients()
        self.built.stop()


def start_live_server(db: DbParams, key: RSA.RsaKey, options: ServerOptions) -> LiveServer:
    """``server.serve.build``, as ``python -m server serve`` does, with a cheap hasher; start."""
    hasher = PasswordHasherPool(options.argon2_workers, **TEST_ARGON2)
    live = LiveServer(build(options, db, key, hasher=hasher), key)
    live.host, live.port = live.built.start()
    return live


@pytest.fixture(scope="session")
def live_server_key() -> RSA.RsaKey:
    """One RSA-3072 key for the whole session (generating one takes a second or two)."""
    return generate_rsa_key()


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    return PasswordHasherPool(1, **TEST_ARGON2).hash(DEMO_PASSWORD)


def seed_demo_users(
    db: DbParams, password_hash: str, key_options: ServerOptions | None = None
) -> None:
    """Add the demo accounts that are not there yet, all with ``password_hash``: rows made
    before key login, which their first ``0001`` login migrates. With ``key_options`` they are
    key accounts as ``init-db --demo`` makes them (the client's derivation done once here)."""
    store = Store(db)
    try:
        for username, nickname in DEMO_USERS:
            if store.user_exists(username):
                continue
            if key_options is None:
                store.add_user(username, nickname, password_hash)
            else:
                account = new_key_account(username, nickname, DEMO_PASSWORD, key_options)
                store.register_user(account, None, 0)
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_db(db_params: DbParams, demo_password_hash: str) -> DbParams:
    """The module's fresh database with the three demo accounts."""
    seed_demo_users(db_params, demo_password_hash)
    return db_params


@pytest.fixture(scope="module")
def live_server(demo_db: DbParams, live_server_key: RSA.RsaKey) -> Iterator[LiveServer]:
    """A server for the whole module, with ``TEST_OPTIONS``."""
    live = start_live_server(demo_db, live_server_key, TEST_OPTIONS)
    yield live
    live.stop()


@pytest.fixture()
def make_server(
    demo_db: DbParams, live_server_key: RSA.RsaKey
) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with some options changed: ``make_server(handshake_timeout=0.5)``."""
    started: list[LiveServer] = []

    def make(**changes: Any) -> LiveServer:
        live = start_live_server(
            demo_db, live_server_key, dataclasses.replace(TEST_OPTIONS, **changes)
        )
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture()
def chat(live_server: LiveServer) -> Iterator[LiveServer]:
    """The module's server; the connections a test opened are closed after it."""
    yield live_server
    live_server.close_clients()
