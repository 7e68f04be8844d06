"""End-to-end direct messages against the real server and MariaDB: the server stores and
relays blobs it cannot read, keeps public keys and sealed backups only, refuses a forged
sender, and a key it swaps is noticed by the sender's client."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from common.e2e import Header, dm_conversation, from_field, open_blob, seal, to_field
from common.e2e_pins import KeyPins, PinVerdict
from common.identity import Identity, PublicIdentity, open_backup, seal_backup
from common.messages import Ack, ErrorReply, HistoryEnd, HistoryRequest
from common.messages_e2e import (
    KeyLookupRequest,
    OwnKeys,
    OwnKeysRequest,
    PublicKeys,
    PublishKeysRequest,
    SealedDirectDelivery,
    SealedDirectRequest,
)
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def master_key(password: str) -> bytes:
    """Stands in for the client's password-derived master key (never sent to the server)."""
    return hashlib.sha256(b"test master key\x00" + password.encode()).digest()


def publish(client: ChatClient, username: str, identity: Identity, password: str) -> OwnKeys:
    backup = seal_backup(identity, username, master_key(password))
    client.send(PublishKeysRequest(to_field(identity.public.to_bytes()), to_field(backup)))
    return client.recv_until(lambda m: isinstance(m, OwnKeys | ErrorReply))


def lookup(client: ChatClient, username: str, key_id: str = "") -> PublicKeys:
    client.send(KeyLookupRequest(username, key_id))
    return client.recv_until(lambda m: isinstance(m, PublicKeys) and m.username == username)


def send_sealed(client: ChatClient, sender: str, mine: Identity, recipient: str,
                theirs: PublicIdentity, text: str) -> tuple[str, bytes]:
    cid = uuid.uuid4().hex
    header = Header(sender, recipient, dm_conversation(sender, recipient), cid, 1,
                    mine.public.key_id, theirs.key_id)
    blob = seal(text, header, mine, theirs)
    client.send(SealedDirectRequest(recipient, cid, to_field(blob)))
    return cid, blob


def sealed_history(client: ChatClient, peer: str) -> list[SealedDirectDelivery]:
    client.collect(0.2)
    client.send(HistoryRequest(f"@{peer}", None, 200))
    rows = []
    while True:
        m = client.recv_until(lambda m: isinstance(m, SealedDirectDelivery | HistoryEnd))
        if isinstance(m, HistoryEnd):
            return rows
        rows.append(m)


def every_value_in_the_database(chat) -> list[object]:
    values: list[object] = []
    with chat.store._transaction() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT * FROM `{table}`")
            for row in cur.fetchall():
                values.extend(row)
    return values


ALICE, BOB = Identity.generate(), Identity.generate()


def test_keys_messages_history_and_the_database_holds_no_plaintext(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    assert publish(alice, "user1", ALICE, "111111").bundle == to_field(ALICE.public.to_bytes())
    publish(bob, "user2", BOB, "111111")

    # a second window of bob opens the key backup with the master key and finds his keys
    bob2 = chat.login("user2")
    bob2.send(OwnKeysRequest())
    own = bob2.recv_until(lambda m: isinstance(m, OwnKeys))
    bob_again = open_backup(from_field(own.backup), "user2", master_key("111111"),
                            PublicIdentity.from_bytes(from_field(own.bundle)))
    assert bob_again == BOB

    found = lookup(alice, "user2")
    bob_key = PublicIdentity.from_bytes(from_field(found.bundle))
    assert bob_key == BOB.public

    texts = [f"secret number {i}: 暗号 {uuid.uuid4().hex}" for i in range(3)]
    for text in texts:
        cid, blob = send_sealed(alice, "user1", ALICE, "user2", bob_key, text)
        ack = alice.recv_until(lambda m, c=cid: isinstance(m, Ack) and m.client_msg_id == c)
        got = bob.recv_until(lambda m, c=ack.msg_id: isinstance(m, SealedDirectDelivery)
                             and m.msg_id == c)
        assert from_field(got.blob) == blob and got.sender == "user1"
        assert open_blob(from_field(got.blob), "user2", BOB, ALICE.public).text == text

    rows = sealed_history(bob2, "user1")
    assert [open_blob(from_field(r.blob), "user2", bob_again, ALICE.public).text
            for r in rows[-3:]] == texts
    own_rows = sealed_history(alice, "user2")  # the sender reads its own history too
    assert [open_blob(from_field(r.blob), "user1", ALICE, ALICE.public).text
            for r in own_rows[-3:]] == texts

    for value in every_value_in_the_database(chat):
        raw = value if isinstance(value, bytes) else str(value).encode()
        for text in texts:
            assert text.encode() not in raw
            assert text.split(":")[0].encode() not in raw  # not even a part of it


def test_a_forged_sender_in_the_header_is_refused_and_not_stored(chat) -> None:
    mallory = chat.login("user3")
    bob = chat.login("user2")
    cid = uuid.uuid4().hex
    forged = Header("user1", "user2", "dm:user1:user2", cid, 1, ALICE.public.key_id,
                    BOB.public.key_id)
    blob = seal("pay mallory", forged, ALICE, BOB.public)  # even with alice's real key
    mallory.send(SealedDirectRequest("user2", cid, to_field(blob)))
    refusal = mallory.recv_until(lambda m: isinstance(m, ErrorReply | Ack))
    assert isinstance(refusal, ErrorReply) and refusal.code_word == "forbidden"
    assert not [m for m in bob.collect(0.5) if isinstance(m, SealedDirectDelivery)]
    assert all(str(v) != cid for v in every_value_in_the_database(chat))


def test_a_blob_for_another_recipient_or_garbage_is_refused(chat) -> None:
    alice = chat.login("user1")
    send_sealed(alice, "user1", ALICE, "user2", BOB.public, "hi")
    alice.recv_until(lambda m: isinstance(m, Ack))
    header = Header("user1", "user3", "dm:user1:user3", "x1", 1, ALICE.public.key_id,
                    BOB.public.key_id)
    alice.send(SealedDirectRequest("user2", "x1", to_field(seal("hi", header, ALICE,
                                                                BOB.public))))
    assert alice.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "bad_request"
    alice.send(SealedDirectRequest("user2", "x2", "not a blob"))
    assert alice.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "bad_request"
    alice.send(SealedDirectRequest("user2", "x3", "A" * 30_000))
    assert alice.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "too_long"


def test_a_swapped_recipient_key_is_noticed_by_the_senders_client(chat) -> None:
    """The operator rewrites bob's entry in the key directory with a key of its own."""
    alice = chat.login("user1")
    pins = KeyPins()
    first = PublicIdentity.from_bytes(from_field(lookup(alice, "user2").bundle))
    assert pins.see("user2", first) is PinVerdict.FIRST_USE
    operator = Identity.generate()
    with chat.store._transaction() as cur:
        cur.execute("UPDATE identity_keys SET key_id = %s, bundle = %s WHERE username = %s",
                    (operator.public.key_id, operator.public.to_bytes(), "user2"))
    swapped = PublicIdentity.from_bytes(from_field(lookup(alice, "user2").bundle))
    assert swapped == operator.public
    assert pins.see("user2", swapped) is PinVerdict.CHANGED  # warned, not adopted
    assert pins.pinned("user2") == BOB.public
    with chat.store._transaction() as cur:  # put bob's key back for the tests after this one
        cur.execute("UPDATE identity_keys SET key_id = %s, bundle = %s WHERE username = %s",
                    (BOB.public.key_id, BOB.public.to_bytes(), "user2"))


def test_a_password_change_keeps_history_readable_and_a_reset_is_announced(chat) -> None:
    alice, bob = chat.login("user1"), chat.login("user2")
    cid, _ = send_sealed(alice, "user1", ALICE, "user2", BOB.public, "before the change")
    alice.recv_until(lambda m, c=cid: isinstance(m, Ack) and m.client_msg_id == c)

    # a password change: the same keys sealed under the new master key; nothing announced
    publish(bob, "user2", BOB, "new password")
    bob2 = chat.login("user2")
    bob2.send(OwnKeysRequest())
    own = bob2.recv_until(lambda m: isinstance(m, OwnKeys))
    rewrapped = open_backup(from_field(own.backup), "user2", master_key("new password"),
                            BOB.public)
    texts = [open_blob(from_field(r.blob), "user2", rewrapped, ALICE.public).text
             for r in sealed_history(bob2, "user1")]
    assert "before the change" in texts
    assert not [m for m in alice.collect(0.3) if isinstance(m, PublicKeys)]

    # an administrator's reset: a new key set, announced to everyone online
    new_bob = Identity.generate()
    publish(bob2, "user2", new_bob, "reset password")
    notice = alice.recv_until(lambda m: isinstance(m, PublicKeys) and m.username == "user2")
    assert PublicIdentity.from_bytes(from_field(notice.bundle)) == new_bob.public
    old = lookup(alice, "user2", to_field(BOB.public.key_id))  # older messages' key, by id
    assert PublicIdentity.from_bytes(from_field(old.bundle)) == BOB.public
