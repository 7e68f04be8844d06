"""Fixtures shared by every test: a private, real MariaDB started by the project's own script.

The instance lives under ``.run/test-mariadb`` (apart from the one ``make run`` uses), is started
once per test session and stopped at its end. Each test module gets a fresh database with the
schema and a least-privilege account, exactly as ``init-db`` makes them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from server import provision  # noqa: E402
from server.store import DbParams  # noqa: E402

DB_SCRIPT = REPO / "scripts" / "db.sh"


@dataclass
class MariaDB:
    """The private test instance: its socket, and how to stop and start it mid-test."""

    run_dir: Path

    @property
    def socket(self) -> str:
        return str(self.run_dir / "mysqld.sock")

    def admin_params(self, database: str = "") -> DbParams:
        return DbParams(database=database, user="root", password="", unix_socket=self.socket)

    def _script(self, action: str) -> None:
        subprocess.run([str(DB_SCRIPT), action, str(self.run_dir)], check=True, timeout=120)

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def running(self) -> bool:
        status = subprocess.run(
            [str(DB_SCRIPT), "status", str(self.run_dir)], capture_output=True, timeout=30
        )
        return status.returncode == 0


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """The session's private instance; ``CHAT_TEST_MARIADB_DIR`` gives one its own directory.

    It is stopped at the end only if this session started it, so a second test run in the same
    checkout does not pull the database from under the first.
    """
    run_dir = os.environ.get("CHAT_TEST_MARIADB_DIR") or REPO / ".run" / "test-mariadb"
    db = MariaDB(Path(run_dir).resolve())
    was_running = db.running()
    db.start()
    yield db
    if not was_running:
        db.stop()


@pytest.fixture(scope="module")
def db_params(mariadb: MariaDB) -> Iterator[DbParams]:
    """A fresh database with the schema and the server's least-privilege account."""
    suffix = secrets.token_hex(4)
    name, user, password = f"chat_test_{suffix}", f"chat_srv_{suffix}", secrets.token_urlsafe(18)
    admin = mariadb.admin_params()
    provision.apply_schema(admin, name)
    provision.ensure_server_account(admin, name, user, password)
    yield DbParams(
        database=name, user=user, password=password, unix_socket=mariadb.socket, pool_size=8,
        timeout=3.0,
    )
    try:
        mariadb.start()  # a test may have left it stopped
        provision.drop_database(admin, name)
        provision.drop_account(admin, user)
    except Exception:  # pragma: no cover - clean-up must not hide the test's own result
        pass


@pytest.fixture()
def db_control(mariadb: MariaDB) -> Iterator[MariaDB]:
    """Stop/start the private instance inside a test; always left running afterwards."""
    yield mariadb
    mariadb.start()
