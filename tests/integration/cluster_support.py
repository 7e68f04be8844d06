"""Real Redis and real server processes for the cluster tests: started here, killed by PID.

Redis runs from ``scripts/redis.sh`` under the test's temporary directory, on a free port of
127.0.0.1; each node is ``python -m server serve`` with ``CHAT_REDIS_URL`` pointing at it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from Crypto.PublicKey import RSA

from server.store import DbParams

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRedis:
    """A Redis of the test's own, which the test may kill and start again."""

    run_dir: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "redis.sh"), "start", str(self.run_dir), str(self.port)],
            check=True, capture_output=True, timeout=30,
        )

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the subscribers."""
        pid = int((self.run_dir / "redis.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "redis.sh"), "stop", str(self.run_dir)],
            check=False, capture_output=True, timeout=30,
        )


@dataclass
class Node:
    """One ``python -m server serve`` process of the cluster."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_node(
    tmp_path: Path, name: str, db: DbParams, key: RSA.RsaKey, redis_url: str,
    port: int | None = None, **settings: str,
) -> Node:
    """Start one node and wait until it listens (20 s at most)."""
    key_dir = tmp_path / "keys"
    key_dir.mkdir(exist_ok=True)
    private = key_dir / "server_private.pem"
    if not private.exists():
        private.write_bytes(key.export_key(pkcs=8))
        private.chmod(0o600)
    port = port or free_port()
    env = {
        **os.environ,
        "CHAT_HOST": "127.0.0.1",
        "CHAT_PORT": str(port),
        "CHAT_KEY_DIR": str(key_dir),
        "CHAT_DB_NAME": db.database,
        "CHAT_DB_USER": db.user,
        "CHAT_DB_PASSWORD": db.password,
        "CHAT_DB_SOCKET": db.unix_socket,
        "CHAT_RUN_DIR": str(tmp_path / f"run-{name}"),
        "CHAT_REDIS_URL": redis_url,
        "CHAT_PRESENCE_TTL": "2",
        "CHAT_CATCHUP_INTERVAL": "1",
        **{f"CHAT_{k.upper()}": v for k, v in settings.items()},
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
        )
    node = Node(proc, port, log_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node {name} exited: {log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return node
        except OSError:
            time.sleep(0.1)
    node.kill()
    raise AssertionError(f"node {name} did not listen")
