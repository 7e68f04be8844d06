"""Set-up only: create the database, apply the schema, make the server's least-privilege account.

This runs as the database administrator from ``python -m server init-db`` and from test
fixtures, never inside the running server. Database names cannot be bound as SQL parameters, so
they are checked against a strict pattern and back-quoted; account names are checked the same way
and, like passwords, passed as bound parameters (``'user'@'host'`` string literals).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pymysql

from server.names import is_username, nickname_key, nickname_problem
from server.store import DbParams

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "sql" / "schema.sql"
SERVER_GRANTS = "SELECT, INSERT, UPDATE, DELETE"


def new_account_problem(username: str, nickname: str) -> str | None:
    """Why ``add-user``/``init-db`` must not create this account, or None when it may.

    The same rules the server applies to names on the wire (``server.names``): an account the
    server could never match, or a nickname that renders like another, is refused here.
    """
    if not is_username(username):
        return "usernames are 1-32 of A-Z a-z 0-9 _ . -"
    return nickname_problem(nickname)


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"unsafe SQL identifier {name!r}")
    return f"`{name}`"


def _admin_connect(admin: DbParams, database: str | None = None) -> pymysql.connections.Connection:
    kwargs = admin.connect_kwargs()
    kwargs["database"] = database
    kwargs["autocommit"] = True
    return pymysql.connect(**kwargs)


def schema_statements(sql_text: str) -> list[str]:
    """The statements of schema.sql (comments dropped, split on ``;``)."""
    lines = [line.split("--", 1)[0] for line in sql_text.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def apply_schema(admin: DbParams, db_name: str, schema_sql: str | None = None) -> None:
    """Create the database (utf8mb4) if needed and every table of the schema."""
    sql = schema_sql if schema_sql is not None else SCHEMA_PATH.read_text(encoding="utf-8")
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {_identifier(db_name)} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cur.execute(f"USE {_identifier(db_name)}")
            for statement in schema_statements(sql):
                cur.execute(statement)
            _fill_nickname_keys(cur)
    finally:
        conn.close()
    log.info("schema applied to database %s", db_name)


def _fill_nickname_keys(cur: Any) -> None:
    """Give accounts made before nickname keys theirs, then make the keys unique.

    A nickname whose key another account already has keeps NULL (the unique key allows
    several) and is named in the log: its owner should get a distinct one.
    """
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'users' AND COLUMN_NAME = 'nickname_key'"
    )
    if not cur.fetchone()[0]:  # a schema without nickname keys (an older one, in a test)
        return
    cur.execute("SELECT nickname_key FROM users WHERE nickname_key IS NOT NULL")
    taken = {row[0] for row in cur.fetchall()}
    cur.execute("SELECT id, username, nickname FROM users WHERE nickname_key IS NULL ORDER BY id")
    for row_id, username, nickname in cur.fetchall():
        key = nickname_key(nickname)
        if key in taken:
            log.warning("account %s: nickname looks like another account's; change it", username)
            continue
        taken.add(key)
        cur.execute("UPDATE users SET nickname_key = %s WHERE id = %s", (key, row_id))
    cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS uq_users_nickname_key ON users (nickname_key)")


LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def is_local_host(db_host: str) -> bool:
    """True when the server reaches the database on this machine (socket or loopback)."""
    return db_host.strip().lower() in LOCAL_HOSTS


def ensure_server_account(
    admin: DbParams, db_name: str, user: str, password: str, remote: bool = False
) -> None:
    """The server's own account: only the row rights it uses, on its own database only.

    The account is ``'user'@'localhost'``; ``remote=True`` (the database is on another host) adds
    ``'user'@'%'`` with the same rights, because MySQL matches accounts by client host.
    An existing account gets the new password, so init-db can be re-run after a password change.
    """
    hosts = ["localhost", "%"] if remote else ["localhost"]
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            _identifier(user)  # validated, although account names travel as parameters
            for host in hosts:
                account = (user, host)
                cur.execute(
                    "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (*account, password)
                )
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (*account, password))
                cur.execute(f"GRANT {SERVER_GRANTS} ON {_identifier(db_name)}.* TO %s@%s", account)
    finally:
        conn.close()
    log.info("server account %s@%s has %s on %s", user, "+".join(hosts), SERVER_GRANTS, db_name)


def drop_database(admin: DbParams, db_name: str) -> None:
    """Remove a database (tests and benchmarks clean up after themselves)."""
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_identifier(db_name)}")
    finally:
        conn.close()


def drop_account(admin: DbParams, user: str) -> None:
    """Remove the server account (both host forms ensure_server_account may have made)."""
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            _identifier(user)
            for host in ("localhost", "%"):
                cur.execute("DROP USER IF EXISTS %s@%s", (user, host))
    finally:
        conn.close()
