"""Identity keys, their backup under the master key, and safety numbers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.identity import (
    BACKUP_BYTES,
    Identity,
    IdentityError,
    PublicIdentity,
    open_backup,
    seal_backup,
)
from common.safety import safety_number
from tests.unit.e2e_fixtures import ALICE, BOB, CAROL, counter_random

MASTER = bytes(range(32))
KNOWN_BACKUP = bytes.fromhex(
    "019e978aca16f0fe0bbfbd7a801dd43af4c3a436e0684704ff4bfd69d3b50a480f4127f0b4aaa7753128ad7e"
    "2ccd046c0e203f96c8a836b04b30847e29c1ebc6ee7067e0c473620b82ae6c279bd6165df300ecd9f9c59c49"
    "9619438a00"
)


def test_known_answer_identity_and_backup() -> None:
    assert ALICE.public.to_bytes().hex() == (
        "01658549aa2aa7fa7770cd511792e8b404fb9d7d6a13064906a049169b2597b52ddd7b7c1e4414f41f6e1a3"
        "9c93e76073fdd877c853afda12088036eb34172f501"
    )
    assert seal_backup(ALICE, "user1", MASTER, counter_random(b"bk")) == KNOWN_BACKUP
    assert len(KNOWN_BACKUP) == BACKUP_BYTES == 93


def test_another_window_opens_the_backup_with_the_same_master_key() -> None:
    opened = open_backup(seal_backup(ALICE, "user1", MASTER), "user1", MASTER, ALICE.public)
    assert opened == ALICE and "seed" not in repr(opened)


def test_a_wrong_master_key_another_account_or_another_key_set_is_refused() -> None:
    backup = seal_backup(ALICE, "user1", MASTER)
    with pytest.raises(IdentityError):
        open_backup(backup, "user1", bytes(32), ALICE.public)  # the old password's key
    with pytest.raises(IdentityError):
        open_backup(backup, "user2", MASTER, ALICE.public)  # moved to another account
    with pytest.raises(IdentityError):
        open_backup(backup, "user1", MASTER, BOB.public)  # published keys swapped


def test_a_backup_whose_keys_are_not_the_published_ones_is_refused() -> None:
    """Even a backup that opens (sealed by someone holding the master key, e.g. a server that
    learned it) must hold the private half of the published keys: the key id binds them."""
    other_keys_same_id = seal_backup(CAROL, "user1", MASTER)
    with pytest.raises(IdentityError):
        open_backup(other_keys_same_id, "user1", MASTER, ALICE.public)


def test_a_password_change_rewraps_the_same_keys() -> None:
    new_master = bytes(reversed(MASTER))
    backup = seal_backup(open_backup(seal_backup(ALICE, "user1", MASTER), "user1", MASTER,
                                     ALICE.public), "user1", new_master)
    assert open_backup(backup, "user1", new_master, ALICE.public).public == ALICE.public


@pytest.mark.parametrize("at", [0, 1, 20, 92])
def test_a_tampered_backup_byte_is_refused(at: int) -> None:
    backup = bytearray(seal_backup(ALICE, "user1", MASTER))
    backup[at] ^= 1
    with pytest.raises(IdentityError):
        open_backup(bytes(backup), "user1", MASTER, ALICE.public)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_the_bundle_and_backup_decoders_take_any_bytes(data: bytes) -> None:
    try:
        assert PublicIdentity.from_bytes(data).to_bytes() == data
    except IdentityError:
        pass
    with pytest.raises(IdentityError):
        open_backup(data, "user1", MASTER, ALICE.public)


def test_safety_numbers_are_sixty_digits_equal_on_both_sides() -> None:
    mine = safety_number("user1", ALICE.public, "user2", BOB.public)
    theirs = safety_number("user2", BOB.public, "user1", ALICE.public)
    assert mine == theirs
    assert re.fullmatch(r"\d{5}( \d{5}){11}", mine)
    assert mine == "02604 58412 33834 55581 42408 67984 19996 58043 06705 55337 94952 61844"


def test_the_safety_number_changes_with_either_key() -> None:
    both = safety_number("user1", ALICE.public, "user2", BOB.public)
    new_bob = Identity.generate(counter_random(b"bob after reset"))
    assert safety_number("user1", ALICE.public, "user2", new_bob.public) != both
    assert safety_number("user1", CAROL.public, "user2", BOB.public) != both


def test_pins_take_the_first_key_and_report_every_change() -> None:
    from common.e2e_pins import KeyPins, PinVerdict

    pins = KeyPins()
    assert pins.see("user2", BOB.public) is PinVerdict.FIRST_USE
    assert pins.see("user2", BOB.public) is PinVerdict.SAME
    assert pins.see("user2", CAROL.public) is PinVerdict.CHANGED  # a swapped directory entry
    assert pins.pinned("user2") == BOB.public and pins.may_send("user2")
    pins.mark_verified("user2")
    assert pins.see("user2", CAROL.public) is PinVerdict.CHANGED_VERIFIED
    assert not pins.may_send("user2")  # held until the person acknowledges
    pins.accept_change("user2", CAROL.public)
    assert pins.may_send("user2") and not pins.is_verified("user2")
