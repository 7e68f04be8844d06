"""The chat server under test, set up from nothing for each bench run.

A private MariaDB (``scripts/db.sh start .run/bench-mariadb``, stopped at the end), a fresh
database made with ``server.provision``, the demo users plus ``bench0001..benchNNNN`` created
through ``server.store.Store``, a key pair made once into a temp dir, and ``python -m server
serve`` as a subprocess with generous limits, so the per-address and per-user throttles (all
bench clients come from 127.0.0.1) do not cap what is being measured.

The bench users are key accounts (PROTOCOL.md §8) sharing one salt and one key hash computed
once: a thousand client derivations would take longer than the benchmark, and a shared hash
costs the server exactly the same per login. They log in as the chat's client does, with the
authentication key (``0031``); the target's ``password`` is that key (``bench.wire.KEY_PREFIX``).
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.procs import ServerProcess, free_port, python_module
from bench.scenarios import ChatTarget
from bench.wire import KEY_PREFIX

BENCH_DB = "chat_bench"
BENCH_DB_USER = "chat_bench"
BENCH_PASSWORD = "bench-password-1"
LIMITS = {
    "CHAT_MSG_RATE": "1000000",
    "CHAT_MSG_BURST": "1000000",
    "CHAT_LOGIN_RATE": "100000",
    "CHAT_LOGIN_BURST": "100000",
    "CHAT_HANDSHAKE_RATE": "100000",
    "CHAT_HANDSHAKE_BURST": "100000",
    "CHAT_MAX_CONNS_PER_ADDR": "5000",
    # every benchmark client comes from 127.0.0.1: the per-network, pending, handshake-queue,
    # per-account and request limits are set so that they measure speed, not the limits
    "CHAT_MAX_CONNS_PER_NETWORK": "5000",
    "CHAT_MAX_PENDING_CONNECTIONS": "5000",
    "CHAT_HANDSHAKE_NETWORK_RATE": "100000",
    "CHAT_HANDSHAKE_NETWORK_BURST": "100000",
    "CHAT_HANDSHAKE_QUEUE": "5000",
    "CHAT_MAX_CONNS_PER_ACCOUNT": "5000",
    "CHAT_REQUEST_RATE": "1000000",
    "CHAT_REQUEST_BURST": "1000000",
    "CHAT_HISTORY_ROWS_RATE": "1000000",
    "CHAT_HISTORY_ROWS_BURST": "1000000",
    "CHAT_LOGIN_HASHES_PER_ADDRESS": "64",
    "CHAT_ACCOUNT_LOGIN_RATE": "100000",
    "CHAT_ACCOUNT_LOGIN_BURST": "100000",
    "CHAT_ACCOUNT_BACKOFF_AFTER": "1000000",
    "CHAT_IDLE_TIMEOUT": "900",
}


def bench_users(count: int) -> tuple[str, ...]:
    """``bench0001`` .. ``bench{count:04}``."""
    return tuple(f"bench{i:04d}" for i in range(1, count + 1))


def _db_script(repo: Path, action: str, run_dir: Path) -> str:
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "db.sh"), action, str(run_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/db.sh {action} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout.strip()


def _db_pid(run_dir: Path) -> int:
    try:
        return int((run_dir / "mysqld.pid").read_text().strip())
    except (OSError, ValueError):
        return 0


def start_chat(
    stack: ExitStack,
    repo: Path,
    tmp: Path,
    *,
    keep_db: bool = False,
    users: int = 1000,
    say: Callable[[str], None] = print,
    server_argv: list[str] | None = None,
) -> ChatTarget:
    """Bring up MariaDB, the database, keys and the server; ``stack`` tears them down."""
    from common.account_keys import derive_account_keys
    from common.e2e import to_field
    from server import keyfile, provision
    from server.__main__ import DEMO_PASSWORD, DEMO_USERS
    from server.credentials import new_key_account
    from server.options import ServerOptions
    from server.store import DbParams, Store
    from server.store_signup import NewAccount

    t0 = time.monotonic()
    run_dir = repo / ".run" / "bench-mariadb"
    _db_script(repo, "start", run_dir)
    if not keep_db:
        stack.callback(_db_script, repo, "stop", run_dir)
    socket_path = run_dir / "mysqld.sock"
    admin = DbParams(database="", user="root", password="", unix_socket=str(socket_path),
                     pool_size=1)
    db_password = secrets.token_urlsafe(18)
    provision.drop_database(admin, BENCH_DB)
    provision.apply_schema(admin, BENCH_DB)
    provision.ensure_server_account(admin, BENCH_DB, BENCH_DB_USER, db_password)
    params = DbParams(database=BENCH_DB, user=BENCH_DB_USER, password=db_password,
                      unix_socket=str(socket_path), pool_size=2)
    store = Store(params)
    options = ServerOptions()  # the client's derivation and key hash at their defaults
    try:
        for username, nickname in DEMO_USERS:
            store.register_user(new_key_account(username, nickname, DEMO_PASSWORD, options),
                                None, 0)
        # one derivation and one key hash shared by every bench user, as a thousand
        # derivations would take longer than the benchmark; each login costs the same
        shared = new_key_account("bench", "bench", BENCH_PASSWORD, options)
        auth_key = derive_account_keys(BENCH_PASSWORD, shared.kdf).auth_key
        names = bench_users(users)
        for name in names:
            account = NewAccount(name, name, shared.key_hash, shared.kdf)
            store.register_user(account, None, 0)
    finally:
        store.close()
    key_dir = tmp / "keys"
    keyfile.generate_keypair(key_dir)
    public_pem = (key_dir / keyfile.PUBLIC_NAME).read_bytes()
    port = free_port()
    env = {
        "CHAT_HOST": "127.0.0.1",
        "CHAT_PORT": str(port),
        "CHAT_KEY_DIR": str(key_dir),
        "CHAT_RUN_DIR": str(tmp / "run"),
        "CHAT_DB_HOST": "",
        "CHAT_DB_SOCKET": str(socket_path),
        "CHAT_DB_NAME": BENCH_DB,
        "CHAT_DB_USER": BENCH_DB_USER,
        "CHAT_DB_PASSWORD": db_password,
        "CHAT_DB_PASSWORD_FILE": str(tmp / "db_password"),
        **LIMITS,
    }
    log_path = repo / ".run" / "bench" / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    argv = server_argv or python_module("server", "serve")
    server = ServerProcess(argv, port, env=env, log=log_path)
    stack.enter_context(server)
    say(f"chat server pid {server.pid} on 127.0.0.1:{port} with {len(names)} bench users "
        f"(MariaDB {run_dir}, set up in {time.monotonic() - t0:.1f} s; log {log_path})")
    return ChatTarget(server=server, public_pem=public_pem, users=names,
                      password=KEY_PREFIX + to_field(auth_key), db=params,
                      db_pid=_db_pid(run_dir))
