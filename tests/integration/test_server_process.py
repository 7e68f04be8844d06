"""``python -m server serve`` as a person runs it: serves, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from common.messages import ChatDelivery
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited early"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start listening")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_then_stop_cleanly(
    demo_db, live_server_key: RSA.RsaKey, tmp_path: Path, sig: signal.Signals
) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    private = key_dir / "server_private.pem"
    private.write_bytes(live_server_key.export_key(pkcs=8))
    private.chmod(0o600)
    port = free_port()
    env = {
        **os.environ,
        "CHAT_HOST": "127.0.0.1",
        "CHAT_PORT": str(port),
        "CHAT_KEY_DIR": str(key_dir),
        "CHAT_DB_NAME": demo_db.database,
        "CHAT_DB_USER": demo_db.user,
        "CHAT_DB_PASSWORD": demo_db.password,
        "CHAT_DB_SOCKET": demo_db.unix_socket,
        "CHAT_RUN_DIR": str(tmp_path / "run"),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        wait_for_port(port, proc)
        alice = ChatClient("127.0.0.1", port, live_server_key.public_key())
        bob = ChatClient("127.0.0.1", port, live_server_key.public_key())
        assert alice.login("user1").ok and bob.login("user2").ok
        alice.chat_acked("hello from a real process")
        bob.recv_until(lambda m: isinstance(m, ChatDelivery) and m.sender == "user1")
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert alice.closed_by_server(2.0) and bob.closed_by_server(2.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    assert "listening on 127.0.0.1" in text and "shutting down" in text
    assert "server stopped" in text
    assert "Traceback" not in text
