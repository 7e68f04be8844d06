"""The client's end-to-end keys: its own (made, opened, rewrapped), its contacts' (pinned,
changed, verified, kept on disk). With a scripted key directory and fake sessions.

A key the server substitutes (looked up after a reconnect, or announced with ``1041``) is
shown as a warning, and for a verified contact nothing is sealed for it until the person
accepts it; a backup that does not open is never taken for someone's keys.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.e2e_state import STATE_SUBDIR
from client.stash import stash_name
from client.trust import config_dir
from common.e2e import from_field, open_blob, to_field
from common.identity import IdentityError, PublicIdentity, open_backup
from common.messages_account import AccountDone, ChangeSecretRequest
from common.messages_e2e import (
    OwnKeysRequest,
    PublicKeys,
    PublishKeysRequest,
    SealedDirectRequest,
)
from common.messages_login import KdfParamsReply
from tests.unit.client_fakes import TEST_SALT
from tests.unit.e2e_client_fakes import (
    ALICE,
    BOB,
    CREATED,
    MALLORY,
    KeyDirectory,
    e2e,
    master_key_of,
    online,
    reconnect,
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
    master = master_key_of("111111")
    assert open_backup(from_field(published[0].backup), "user1", master, bundle) == mine
    assert "111111" not in repr(published[0])


def test_every_window_of_the_account_opens_the_same_keys(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    h = online(tmp_path, key, config, directory)
    assert e2e(h).keyring.identity == ALICE
    assert not h.session.of(PublishKeysRequest)  # nothing new made


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
    ring = OwnKeyring("user1", sent.append, view, lambda: ready.append(True))
    ring.start(master_key_of("111111"))
    ring.own_keys(directory.own("user1"))
    clock.now += 1
    view.fire_due()
    assert ready == [True] and ring.identity == ALICE and sent == [OwnKeysRequest()]

    new_master = master_key_of("a new password")
    request = ring.rewrap(new_master)
    assert request is not None
    assert request.bundle == to_field(ALICE.public.to_bytes())  # the same keys
    assert open_backup(from_field(request.backup), "user1", new_master, ALICE.public) == ALICE


def test_a_password_change_seals_the_same_keys_under_the_new_master_key(
    tmp_path: Path, key: RSA.RsaKey, config: Path, directory: KeyDirectory
) -> None:
    """After ``1036|password`` the window sends ``0040`` with the same bundle and a backup that
    opens with the new password's master key (and no longer with the old one), so every later
    window, logging in with the new password, reads the same history."""
    h = online(tmp_path, key, config, directory)
    assert e2e(h).keyring.identity == ALICE
    h.app.account_state.username = "user1"
    h.app.change_password("111111", "correct horse battery staple", "correct horse battery staple")
    h.session.deliver(KdfParamsReply(64, 1, 1, to_field(TEST_SALT)))
    h.pump()
    deadline = time.monotonic() + 10.0
    while not h.session.of(ChangeSecretRequest) and time.monotonic() < deadline:
        time.sleep(0.005)
        h.pump()
    assert not h.session.of(PublishKeysRequest)  # nothing re-sealed before the server agrees
    h.session.deliver(AccountDone("password", "user1", "token-2"))
    h.pump()
    (request,) = h.session.of(PublishKeysRequest)
    assert request.bundle == to_field(ALICE.public.to_bytes())
    backup = from_field(request.backup)
    new_master = master_key_of("correct horse battery staple")
    assert open_backup(backup, "user1", new_master, ALICE.public) == ALICE
    with pytest.raises(IdentityError):
        open_backup(backup, "user1", master_key_of("111111"), ALICE.public)
