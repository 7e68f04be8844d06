"""In-memory fakes of the store and the hasher, for unit tests of ``server.accounts`` rules.

``FakeAccountStore`` applies the same delay rule as the database's reservation statement
(checked against MariaDB in ``tests/integration/test_store.py``) and records every call, so a
test can compare the work done for two logins. ``FakeHasher`` accepts ``hash:<password>`` and
can hold its callers inside ``verify`` to show what runs at the same time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from common.account_keys import KdfParams
from server.store import DelayPolicy, UserRecord
from tests.unit.fakes_account_rows import FakeAccountRows


@dataclass
class Attempts:
    failures: float = 0.0
    updated_ms: int = 0
    not_before_ms: int = 0


@dataclass
class FakeAccountStore(FakeAccountRows):
    users: dict[str, UserRecord] = field(default_factory=dict)
    attempts: dict[tuple[str, str], Attempts] = field(default_factory=dict)
    tokens: dict[bytes, tuple[str, int]] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def add(self, username: str, password: str, nickname: str = "") -> None:
        self.users[username] = UserRecord(username, nickname or username, f"hash:{password}")

    def get_user(self, username: str) -> UserRecord | None:
        self.calls.append(("get_user", (username,)))
        return self.users.get(username)

    def reserve_login_attempt(
        self, name: str, address: str, now_ms: int, policy: DelayPolicy
    ) -> bool:
        self.calls.append(("reserve_login_attempt", (name, address, now_ms)))
        row = self.attempts.setdefault((name, address), Attempts())
        if row.not_before_ms > now_ms:
            return False
        elapsed = max(0, now_ms - row.updated_ms)
        row.failures = row.failures * 0.5 ** (elapsed / policy.half_life_ms) + 1
        row.updated_ms = now_ms
        if row.failures < policy.free_attempts - 0.5:
            row.not_before_ms = 0
        else:
            delay = policy.base_ms * 2 ** min(row.failures - policy.free_attempts, 60)
            row.not_before_ms = now_ms + int(min(policy.cap_ms, delay))
        return True

    def login_attempt_state(self, name: str, address: str) -> tuple[float, int] | None:
        row = self.attempts.get((name, address))
        return (row.failures, row.not_before_ms) if row is not None else None

    def clear_login_attempts(self, name: str, address: str) -> None:
        self.calls.append(("clear_login_attempts", (name, address)))
        self.attempts.pop((name, address), None)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self.calls.append(("set_password_hash", (username,)))
        if username in self.users:
            self.users[username] = UserRecord(username, self.users[username].nickname,
                                              password_hash)

    def set_account_key(self, username: str, key_hash: str, kdf: KdfParams) -> None:
        self.calls.append(("set_account_key", (username,)))
        user = self.users[username]
        self.users[username] = UserRecord(user.username, user.nickname, key_hash, kdf)

    def save_resume_token(
        self, token_hash: bytes, username: str, expires_ms: int, keep: int = 10
    ) -> None:
        self.calls.append(("save_resume_token", (username, keep)))
        self.tokens[token_hash] = (username, expires_ms)
        mine = sorted((e, h) for h, (u, e) in self.tokens.items() if u == username)
        for _, old in mine[: max(0, len(mine) - keep)]:
            del self.tokens[old]

    def consume_resume_token(self, token_hash: bytes, now_ms: int) -> str | None:
        self.calls.append(("consume_resume_token", ()))
        found = self.tokens.pop(token_hash, None)
        return found[0] if found and found[1] >= now_ms else None

    def revoke_resume_token(self, token_hash: bytes) -> bool:
        self.calls.append(("revoke_resume_token", ()))
        return self.tokens.pop(token_hash, None) is not None

    def sweep_resume_tokens(self, now_ms: int, batch: int = 1_000) -> int:
        self.calls.append(("sweep_resume_tokens", (now_ms,)))
        expired = [h for h, (_, e) in self.tokens.items() if e < now_ms]
        for h in expired:
            del self.tokens[h]
        return len(expired)

    def sweep_login_attempts(self, idle_before_ms: int, now_ms: int, batch: int = 1_000) -> int:
        self.calls.append(("sweep_login_attempts", (idle_before_ms, now_ms)))
        idle = [
            k for k, a in self.attempts.items()
            if a.updated_ms < idle_before_ms and a.not_before_ms <= now_ms
        ]
        for k in idle:
            del self.attempts[k]
        return len(idle)

    def sweep_invitations(self, now_ms: int) -> int:
        self.calls.append(("sweep_invitations", (now_ms,)))
        return 0

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeHasher:
    """``hash:<password>`` matches ``password``; ``hold`` keeps callers inside ``verify``."""

    def __init__(self) -> None:
        self.verified: list[str | None] = []
        self.inside = 0
        self.most_inside = 0
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Semaphore(0)
        self._lock = threading.Lock()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.verified.append(stored_hash)
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.release()
        try:
            self.hold.wait(10.0)
            return stored_hash == f"hash:{password}"
        finally:
            with self._lock:
                self.inside -= 1

    def needs_rehash(self, stored_hash: str) -> bool:
        return False

    def hash(self, password: str) -> str:
        return f"hash:{password}"


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
