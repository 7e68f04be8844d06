"""The client's end-to-end rules, with a scripted key directory and fake sessions.

Each attack a dishonest server (or a man in the middle of it) can try on a direct
conversation is performed here and must show as a warning, a held message or a "could not be
verified" line, never as a normal message: a tampered blob, a replayed one, a forged sender,
a substituted key (for a contact not verified and for one verified), a clear ``1003`` made up
by the server.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client import master_key
from client.e2e_dm import CLEAR_LABEL, SealedDirect
from client.e2e_state import STATE_SUBDIR
from client.stash import stash_name
from client.trust import config_dir
from common.e2e import from_field, open_blob, to_field
from common.identity import Identity, PublicIdentity, open_backup
from common.messages import (
    Ack,
    ChatDelivery,
    DirectDelivery,
    DirectRequest,
    HistoryEnd,
    LoginResult,
)
from common.messages_e2e import (
    KeyLookupRequest,
    OwnKeysRequest,
    PublicKeys,
    PublishKeysRequest,
    SealedDirectDelivery,
    SealedDirectRequest,
)
from tests.unit.client_fakes import FakeSession, Harness
from tests.unit.e2e_client_fakes import CREATED, KeyDirectory, fast_master_keys, sealed_from

ALICE, BOB, MALLORY = Identity.generate(), Identity.generate(), Identity.generate()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    fast_master_keys(monkeypatch)
    return config_dir()


@pytest.fixture
def directory(config: Path) -> KeyDirectory:
    keys = KeyDirectory()
    keys.enrol("user1", ALICE)
    keys.enrol("user2", BOB)
    return keys


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


# --- the account's own keys -------------------------------------------------------------------


def test_a_first_login_makes_keys_and_publishes_them_with_a_backup_only_the_password_opens(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    keys = KeyDirectory()
    h = online(tmp_path, key, config, keys)
    assert h.session.of(OwnKeysRequest)
    published = h.session.of(PublishKeysRequest)
    assert len(published) == 1
    bundle = PublicIdentity.from_bytes(from_field(published[0].bundle))
    mine = e2e(h).keyring.identity
    assert mine is not None and mine.public == bundle
    master = master_key.master_key_for("user1", "111111")
    assert open_backup(from_field(published[0].backup), "user1", master, bundle) == mine
    assert "111111" not in repr(published[0])


def test_every_window_of_the_account_opens_the_same_keys(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    assert e2e(h).keyring.identity == ALICE
    assert not h.session.of(PublishKeysRequest)  # nothing new made


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


def deliver(h: Harness, keys: KeyDirectory, *messages: object) -> None:
    h.session.deliver(*messages)
    h.pump()
    keys.settle(h)


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


# --- pins, key changes and verification --------------------------------------------------------


def test_a_substituted_key_of_an_unverified_contact_is_warned_about(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "hi")
    directory.keys["user2"] = MALLORY.public  # the server swaps bob's key
    reconnect(h, directory)
    h.app.select_conversation("@user2")
    assert h.app.send_text("second")
    directory.settle(h)
    assert any("security keys changed" in s for s in system_lines(h))
    assert e2e(h).note("@user2").level == "e2e"
    assert e2e(h).note("lobby").level == "transit"  # rooms are readable by the server


def test_a_substituted_key_of_a_verified_contact_holds_sending_until_accepted(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "hi")
    h.app.open_verify()
    first = h.view.safety
    assert not first.verified and len(first.number.replace(" ", "")) == 60
    assert [len(group) for group in first.number.split()] == [5] * 12
    h.app.mark_verified("user2")
    assert e2e(h).note("@user2").level == "verified"

    directory.keys["user2"] = MALLORY.public
    session = reconnect(h, directory)
    h.app.select_conversation("@user2")
    before = len(session.of(SealedDirectRequest))
    assert h.app.send_text("the new plan")
    directory.settle(h)
    assert len(session.of(SealedDirectRequest)) == before  # nothing sealed for mallory
    assert h.view.messages()[-1][1:] == ("the new plan", "held")
    assert any("since you verified them" in s for s in system_lines(h))
    assert e2e(h).note("@user2").level == "warning"
    h.app.open_verify()
    assert h.view.safety.new_number and h.view.safety.new_number != first.number

    h.app.accept_key_change("user2")
    (sealed,) = session.of(SealedDirectRequest)[before:]
    assert open_blob(from_field(sealed.blob), "user2", MALLORY, ALICE.public).text == (
        "the new plan")
    h.app.open_verify()
    assert not h.view.safety.verified and not h.view.safety.new_number  # accepting: not verifying


def test_pins_and_verification_are_kept_0600_for_the_next_window(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "hi")
    h.app.mark_verified("user2")
    h.app.quit()
    path = config / STATE_SUBDIR / stash_name("127.0.0.1", 8090, "user1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "hi" not in path.read_text().replace("hi\"", "")  # no text, only keys and ids

    directory.keys["user2"] = MALLORY.public  # swapped while the window was closed
    again = online(tmp_path, key, config, directory)
    again.app.open_direct("user2")
    assert again.app.send_text("still you?")
    directory.settle(again)
    assert again.view.messages()[-1][2] == "held"


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


def test_a_backup_that_no_longer_opens_makes_a_new_key_set(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    """After an administrator's reset the old master key is gone: the backup stays shut (it
    is never taken for someone else's keys) and the client makes and publishes new keys."""
    keys = KeyDirectory()
    keys.enrol("user1", ALICE, password="the old password")
    h = online(tmp_path, key, config, keys)
    (published,) = h.session.of(PublishKeysRequest)
    mine = e2e(h).keyring.identity
    assert mine is not None and mine != ALICE
    assert PublicIdentity.from_bytes(from_field(published.bundle)) == mine.public


def test_an_unreadable_pins_file_is_set_aside_not_deleted(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    path = config / STATE_SUBDIR / stash_name("127.0.0.1", 8090, "user1")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    h = online(tmp_path, key, config, directory)
    assert path.with_suffix(".bad").read_text() == "{not json"
    assert e2e(h).state.pins.entries() == []


def test_an_announced_key_change_of_a_verified_contact_holds_at_once(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    send_to_bob(h, directory, "hi")
    h.app.mark_verified("user2")
    h.session.deliver(PublicKeys("user2", to_field(MALLORY.public.to_bytes()), CREATED))  # 1041
    h.pump()
    assert any("since you verified them" in s for s in system_lines(h))
    before = len(h.session.of(SealedDirectRequest))
    assert h.app.send_text("held, not sealed")
    directory.settle(h)
    assert len(h.session.of(SealedDirectRequest)) == before
    assert h.view.messages()[-1][1:] == ("held, not sealed", "held")


def test_a_master_key_from_the_login_is_used_as_is_and_a_password_change_rewraps(
    config: Path, directory: KeyDirectory
) -> None:
    from client.e2e_keys import OwnKeyring
    from tests.unit.client_fakes import Clock, FakeView

    sent: list[object] = []
    ready: list[bool] = []
    clock = Clock()  # the view only gives timers here
    view = FakeView(clock)
    ring = OwnKeyring("user1", sent.append, view, lambda: ready.append(True),
                      derive=lambda _u, _p: pytest.fail("nothing is derived"))
    ring.start(master_key=master_key.master_key_for("user1", "111111"))
    ring.own_keys(directory.own("user1"))
    clock.now += 1
    view.fire_due()
    assert ready == [True] and ring.identity == ALICE and sent == [OwnKeysRequest()]

    new_master = master_key.master_key_for("user1", "a new password")
    request = ring.rewrap(new_master)
    assert request is not None
    assert request.bundle == to_field(ALICE.public.to_bytes())  # the same keys
    assert open_backup(from_field(request.backup), "user1", new_master, ALICE.public) == ALICE
