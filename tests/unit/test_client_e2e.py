"""The client's sealed direct messages, sent and received, with a scripted key directory and
fake sessions (keys, pins and verification: ``test_client_e2e_keys``).

Each attack a dishonest server can try on what arrives is performed here and must show as a
"could not be verified" line or a label, never as a normal message: a tampered blob, a
replayed one, a forged sender, a blob relabelled to another sender, a clear ``1003`` made up
by the server. Nothing is ever sent in clear, even to someone without keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.e2e_dm import CLEAR_LABEL
from client.trust import config_dir
from common.e2e import from_field, open_blob, to_field
from common.identity import Identity
from common.messages import (
    Ack,
    ChatDelivery,
    DirectDelivery,
    DirectRequest,
    HistoryEnd,
)
from common.messages_e2e import (
    KeyLookupRequest,
    PublicKeys,
    SealedDirectDelivery,
    SealedDirectRequest,
)
from tests.unit.e2e_client_fakes import (
    ALICE,
    BOB,
    CREATED,
    MALLORY,
    KeyDirectory,
    deliver,
    e2e,
    online,
    reconnect,
    sealed_from,
    send_to_bob,
    system_lines,
)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return config_dir()


@pytest.fixture
def directory(config: Path) -> KeyDirectory:
    keys = KeyDirectory()
    keys.enrol("user1", ALICE)
    keys.enrol("user2", BOB)
    return keys


# --- sending ----------------------------------------------------------------------------------


def test_a_direct_message_is_sealed_for_the_pinned_key_and_never_sent_in_clear(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "the vault code is 4711")
    session = h.session
    assert not session.of(DirectRequest)
    assert session.of(KeyLookupRequest) == [KeyLookupRequest("user2", "")]
    (sealed,) = session.of(SealedDirectRequest)
    opened = open_blob(from_field(sealed.blob), "user2", BOB, ALICE.public)
    assert opened.text == "the vault code is 4711"
    assert opened.header.client_msg_id == sealed.client_msg_id
    assert "4711" not in sealed.blob
    assert h.app.unsent_count() == 1  # the outbox waits for the ack, as for any message
    session.deliver(Ack(sealed.client_msg_id, 40, CREATED))
    h.pump()
    assert h.app.unsent_count() == 0
    assert h.view.messages()[-1][1:] == ("the vault code is 4711", "sent")


def test_a_resend_after_a_reconnect_is_the_same_sealed_message(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "once only")
    first = h.session.of(SealedDirectRequest)[0]
    session = reconnect(h, directory)
    again = session.of(SealedDirectRequest)
    assert again == [first]  # same id and same blob: the server dedupes it


def test_to_someone_without_keys_the_message_waits_and_goes_when_their_keys_appear(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user3")
    assert h.app.send_text("are you there?")
    directory.settle(h)
    assert not h.session.of(SealedDirectRequest) and not h.session.of(DirectRequest)
    assert h.view.messages()[-1][2] == "waiting"
    assert any("has not set up end-to-end encryption" in s for s in system_lines(h))
    carol = Identity.generate()
    h.session.deliver(PublicKeys("user3", to_field(carol.public.to_bytes()), CREATED))  # unasked
    h.pump()
    (sealed,) = h.session.of(SealedDirectRequest)
    assert open_blob(from_field(sealed.blob), "user3", carol, ALICE.public).text == (
        "are you there?")
    assert h.view.messages()[-1][2] == "pending"


# --- receiving --------------------------------------------------------------------------------


def test_a_sealed_message_is_opened_and_shown(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user2")
    deliver(h, directory, sealed_from("user2", BOB, "user1", ALICE.public, "hello alice", 7))
    assert h.view.messages()[-1][1] == "hello alice"


def test_tampered_replayed_and_forged_messages_are_shown_as_not_verified(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user2")
    good = sealed_from("user2", BOB, "user1", ALICE.public, "pay 10", 7)
    raw = bytearray(from_field(good.blob))
    raw[len(raw) // 2] ^= 1
    tampered = SealedDirectDelivery(8, "user2", "user2", "user1", 1, to_field(bytes(raw)))
    replayed = SealedDirectDelivery(9, "user2", "user2", "user1", 1, good.blob)
    forged = sealed_from("user2", MALLORY, "user1", ALICE.public, "pay mallory", 10)
    relabelled = SealedDirectDelivery(11, "user3", "user3", "user1", 1, good.blob)
    deliver(h, directory, good, tampered, replayed, forged, relabelled)
    shown = [text for _s, text, _st in h.view.messages()]
    assert shown == ["pay 10"]
    failures = [s for s in system_lines(h) if "could not be verified" in s]
    assert len(failures) == 3
    assert "signature" in failures[0] and "replay" in failures[1]
    assert "other than the sender's known key" in failures[2]
    assert not any("pay mallory" in s for s in system_lines(h))
    h.app.select_conversation("@user3")  # the server claims user3 sent bob's blob
    assert h.view.messages() == []
    assert "names other people than the sealed message" in system_lines(h)[-1]


def test_own_messages_from_history_are_read_with_own_keys(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user2")
    deliver(h, directory, sealed_from("user1", ALICE, "user2", BOB.public, "from my laptop", 5),
            HistoryEnd("@user2", 5, False))
    assert h.view.messages() == [("user1", "from my laptop", "sent")]


def test_a_message_whose_sender_key_is_fetched_keeps_its_place_in_order(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.session.deliver(sealed_from("user2", BOB, "user1", ALICE.public, "first", 20),
                      DirectDelivery(21, "user2", "user2", "user1", 2, "second"))
    h.pump()
    assert e2e(h)._inbox  # held behind the key lookup
    directory.settle(h)
    h.app.select_conversation("@user2")
    assert [text for _s, text, _st in h.view.messages()] == ["first", CLEAR_LABEL + "second"]


def test_a_clear_direct_message_is_labelled_as_not_end_to_end(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user2")
    deliver(h, directory, DirectDelivery(30, "user2", "user2", "user1", 2, "trust me"),
            ChatDelivery(31, "lobby", "user2", "user2", 3, "room text"))
    assert h.view.messages()[-1][1] == CLEAR_LABEL + "trust me"


def test_blobs_are_opened_off_the_tk_thread_and_passed_on_in_order(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from client import e2e_dm
    from common.e2e import open_blob as real_open

    threads: list[str] = []

    def recording_open(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(e2e_dm, "open_blob", recording_open)
    h = online(tmp_path, key, config, directory)
    h.app.open_direct("user2")
    deliver(h, directory, *(sealed_from("user2", BOB, "user1", ALICE.public, f"n{i}", 50 + i)
                            for i in range(5)),
            DirectDelivery(60, "user2", "user2", "user1", 2, "after them"))
    assert [text for _s, text, _st in h.view.messages()] == [
        "n0", "n1", "n2", "n3", "n4", CLEAR_LABEL + "after them"]
    assert threads and all(name.startswith("e2e-open") for name in threads)
    assert threading.current_thread().name not in threads
