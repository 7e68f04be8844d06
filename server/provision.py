"""Set-up only: create the database, apply the schema, make the server's least-privilege account.

This runs as the database administrator from ``python -m server init-db`` and from test
fixtures, never inside the running server. Identifiers cannot be bound as SQL parameters, so they
are checked against a strict pattern and back-quoted; passwords are always bound parameters.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pymysql

from server.store import DbParams

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "sql" / "schema.sql"
SERVER_GRANTS = "SELECT, INSERT, UPDATE, DELETE"


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
    finally:
        conn.close()
    log.info("schema applied to database %s", db_name)


def ensure_server_account(admin: DbParams, db_name: str, user: str, password: str) -> None:
    """The server's own account: only the row rights it uses, on its own database only."""
    conn = _admin_connect(admin)
    account = f"{_identifier(user)}@'localhost'"
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s", (password,))
            cur.execute(f"ALTER USER {account} IDENTIFIED BY %s", (password,))
            cur.execute(f"GRANT {SERVER_GRANTS} ON {_identifier(db_name)}.* TO {account}")
    finally:
        conn.close()
    log.info("server account %s has %s on %s", user, SERVER_GRANTS, db_name)


def drop_database(admin: DbParams, db_name: str) -> None:
    """Remove a database (tests and benchmarks clean up after themselves)."""
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_identifier(db_name)}")
    finally:
        conn.close()


def drop_account(admin: DbParams, user: str) -> None:
    conn = _admin_connect(admin)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS {_identifier(user)}@'localhost'")
    finally:
        conn.close()
