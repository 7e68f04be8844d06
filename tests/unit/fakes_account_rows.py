"""An in-memory ``server.store_accounts.AccountRows`` for unit tests of the account rules.

Mixed into ``FakeAccountStore`` (which holds ``users`` and ``tokens``); the statements it
stands for are checked against MariaDB in ``tests/integration/test_server_account.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from server.names import nickname_key
from server.store import UserRecord
from server.store_accounts import AccountRow, NicknameTaken, SessionRow


class FakeAccountRows:
    users: dict[str, UserRecord]
    tokens: dict[bytes, tuple[str, int]]

    def _extra(self) -> dict[str, Any]:
        state: dict[str, Any] = self.__dict__.setdefault(
            "_account_rows", {"flags": {}, "codes": {}, "sessions": {}, "signouts": []}
        )
        return state

    def _row(self, username: str) -> AccountRow | None:
        user = self.users.get(username)
        if user is None:
            return None
        flags = self._extra()["flags"].get(username, {})
        return AccountRow(username, user.nickname, flags.get("is_admin", False),
                          flags.get("disabled", False))

    def account(self, username: str) -> AccountRow | None:
        return self._row(username)

    def accounts(self, limit: int = 10_000) -> list[AccountRow]:
        return [row for name in sorted(self.users) if (row := self._row(name))][:limit]

    def set_nickname(self, username: str, nickname: str) -> bool:
        key = nickname_key(nickname)
        if any(nickname_key(u.nickname) == key for n, u in self.users.items() if n != username):
            raise NicknameTaken(nickname)
        user = self.users.get(username)
        if user is None:
            return False
        self.users[username] = dataclasses.replace(user, nickname=nickname)
        return True

    def set_flag(self, username: str, flag: str, value: bool) -> bool:
        self._extra()["flags"].setdefault(username, {})[flag] = value
        return username in self.users

    def delete_account(self, username: str) -> bool:
        self.revoke_sessions(username)
        return self.users.pop(username, None) is not None

    def set_reset_code(self, username: str, code_hash: bytes, expires_ms: int) -> bool:
        self._extra()["codes"][username] = (code_hash, expires_ms)
        return username in self.users

    def take_reset_code(self, username: str, code_hash: bytes, now_ms: int) -> bool:
        codes = self._extra()["codes"]
        if codes.get(username, (b"", -1))[0] == code_hash and codes[username][1] >= now_ms:
            del codes[username]
            return True
        return False

    def clear_reset_code(self, username: str) -> None:
        self._extra()["codes"].pop(username, None)

    def session_of(self, token_hash: bytes) -> SessionRow | None:
        meta = self._extra()["sessions"].get(token_hash)
        if token_hash not in self.tokens:
            return None
        return SessionRow(token_hash, *meta) if meta else SessionRow(token_hash, "", "", 0, 0)

    def label_session(
        self, token_hash: bytes, session_id: str, address: str, login_ms: int, seen_ms: int
    ) -> None:
        self._extra()["sessions"][token_hash] = (session_id, address, login_ms, seen_ms)

    def touch_session(self, token_hash: bytes, seen_ms: int) -> None:
        meta = self._extra()["sessions"].get(token_hash)
        if meta:
            self._extra()["sessions"][token_hash] = (*meta[:3], seen_ms)

    def sessions(self, username: str, now_ms: int) -> list[SessionRow]:
        found = [self.session_of(h) for h, (u, e) in self.tokens.items()
                 if u == username and e >= now_ms]
        return [row for row in found if row is not None]

    def revoke_sessions(self, username: str, keep: bytes = b"") -> int:
        gone = [h for h, (u, _) in self.tokens.items() if u == username and h != keep]
        for h in gone:
            del self.tokens[h]
        return len(gone)

    def record_signout(self, username: str, reason: str, now_ms: int) -> None:
        self._extra()["signouts"].append((username, reason))

    def signouts_after(self, after_id: int) -> list[tuple[int, str, str]]:
        rows = self._extra()["signouts"]
        return [(i + 1, u, r) for i, (u, r) in enumerate(rows) if i + 1 > after_id]

    def last_signout_id(self) -> int:
        return len(self._extra()["signouts"])
