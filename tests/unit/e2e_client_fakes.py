"""A scripted key directory for the controller tests of end-to-end direct messages.

``KeyDirectory`` plays the server's part of ``0040``-``0042``: it answers what the client
under test sent on a ``FakeSession`` (its own keys, lookups) from a dictionary the test can
rewrite, as a dishonest server would. Master keys are the key login's, derived with the
harness's cheap parameters (``tests.unit.client_fakes``); the rules do not depend on the cost.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from client.e2e_dm import SealedDirect
from common.account_keys import KdfParams, derive_account_keys
from common.e2e import Header, dm_conversation, from_field, seal, to_field
from common.identity import Identity, PublicIdentity, seal_backup
from common.messages import LoginResult
from common.messages_e2e import (
    KeyLookupRequest,
    OwnKeys,
    OwnKeysRequest,
    PublicKeys,
    PublishKeysRequest,
    SealedDirectDelivery,
)
from tests.unit.client_fakes import TEST_SALT, FakeSession, Harness

CREATED = 1_763_830_000_000
ALICE, BOB, MALLORY = Identity.generate(), Identity.generate(), Identity.generate()


def master_key_of(password: str) -> bytes:
    """The master key ``Harness.login`` derives from ``password`` (every account: one salt)."""
    return derive_account_keys(password, KdfParams(64, 1, 1, TEST_SALT)).master_key


class KeyDirectory:
    """The server's key directory as the client under test sees it."""

    def __init__(self) -> None:
        self.keys: dict[str, PublicIdentity] = {}
        self.backups: dict[str, bytes] = {}
        self._answered: dict[int, int] = {}  # session id -> how many sent messages looked at

    def enrol(self, username: str, identity: Identity, password: str = "111111") -> None:
        """An account that already has keys (made by another window, earlier)."""
        self.keys[username] = identity.public
        self.backups[username] = seal_backup(
            identity, username, master_key_of(password))

    def own(self, username: str) -> OwnKeys:
        key = self.keys.get(username)
        if key is None:
            return OwnKeys("", "", None)
        return OwnKeys(to_field(key.to_bytes()), to_field(self.backups[username]), CREATED)

    def public(self, username: str) -> PublicKeys:
        key = self.keys.get(username)
        return PublicKeys(username, to_field(key.to_bytes()) if key else "", CREATED)

    def answer(self, session: FakeSession, username: str = "user1") -> int:
        """Answer every key request the client sent since the last call; how many."""
        start = self._answered.get(session.id, 0)
        new = session.sent[start:]
        self._answered[session.id] = len(session.sent)
        count = 0
        for message in new:
            reply: Any = None
            if isinstance(message, OwnKeysRequest):
                reply = self.own(username)
            elif isinstance(message, PublishKeysRequest):
                self.keys[username] = PublicIdentity.from_bytes(from_field(message.bundle))
                self.backups[username] = from_field(message.backup)
                reply = self.own(username)
            elif isinstance(message, KeyLookupRequest):
                reply = self.public(message.username)
            if reply is not None:
                session.deliver(reply)
                count += 1
        return count

    def settle(self, h: Harness, username: str = "user1", timeout: float = 10.0) -> None:
        """Let the master key be derived and answer until the client asks nothing more."""
        quiet, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.005)  # worker threads derive the master key and open blobs
            h.advance(0.1)
            e2e = h.app.e2e
            if self.answer(h.session, username):
                quiet = 0
            elif e2e is not None and e2e.keyring.ready and not e2e._inbox:
                quiet += 1
                if quiet > 2:
                    return
        h.pump()


def sealed_from(
    sender: str, identity: Identity, recipient: str, key: PublicIdentity, text: str,
    msg_id: int, cid: str = "", sent_ms: int = CREATED,
) -> SealedDirectDelivery:
    """A ``1043`` as the server would relay it, sealed by ``sender``'s real keys."""
    cid = cid or f"c{msg_id}"
    header = Header(sender, recipient, dm_conversation(sender, recipient), cid, sent_ms,
                    identity.public.key_id, key.key_id)
    blob = seal(text, header, identity, key)
    return SealedDirectDelivery(msg_id, sender, sender, recipient, sent_ms, to_field(blob))


def online(tmp_path: Path, key: RSA.RsaKey, config: Path, keys: KeyDirectory) -> Harness:
    h = Harness(tmp_path, key, config=config)
    h.online()
    keys.settle(h)
    return h


def e2e(h: Harness) -> SealedDirect:
    assert h.app.e2e is not None
    return h.app.e2e


def system_lines(h: Harness) -> list[str]:
    return [line.text for line in h.view.lines if line.kind == "system"]


def send_to_bob(h: Harness, keys: KeyDirectory, text: str) -> None:
    h.app.open_direct("user2")
    assert h.app.send_text(text)
    keys.settle(h)


def reconnect(h: Harness, keys: KeyDirectory) -> FakeSession:
    h.session.drop()
    h.advance(5)
    session = h.session
    session.handshake()
    h.pump()
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    keys.settle(h)
    return session


def deliver(h: Harness, keys: KeyDirectory, *messages: object) -> None:
    h.session.deliver(*messages)
    h.pump()
    keys.settle(h)
