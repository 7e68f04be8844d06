"""Keys derived from a password: fixed answers, independence, stable salts for any name."""

from __future__ import annotations

from common.account_keys import KdfParams, derive_account_keys, salt_for_name

CHEAP = KdfParams(memory_kib=64, time_cost=1, parallelism=1, salt=b"0123456789abcdef")


def test_known_answer_is_stable() -> None:
    keys = derive_account_keys("111111", CHEAP)
    again = derive_account_keys("111111", CHEAP)
    assert keys == again
    # pinned: a client and a server built later must derive exactly these bytes
    assert keys.auth_key.hex() == (
        "febd68b69dee3156a93a141c711242b20e53e306b8bfb64537448d3705495cfc")
    assert keys.master_key.hex() == (
        "fc43bf50255b8d4626b5cb1c5e1cfdb113e0676e61bcb66082f042d6d20a42df")
    assert len(keys.auth_key) == len(keys.master_key) == 32


def test_authentication_and_master_keys_are_independent() -> None:
    keys = derive_account_keys("111111", CHEAP)
    assert keys.auth_key != keys.master_key
    assert "111111" not in repr(keys) and keys.auth_key.hex() not in repr(keys)


def test_salt_and_password_change_both_keys() -> None:
    base = derive_account_keys("111111", CHEAP)
    other_salt = KdfParams(64, 1, 1, b"fedcba9876543210")
    assert derive_account_keys("111111", other_salt).auth_key != base.auth_key
    assert derive_account_keys("111112", CHEAP).master_key != base.master_key


def test_salt_for_a_name_is_stable_and_secret_dependent() -> None:
    assert salt_for_name(b"s" * 32, "user1") == salt_for_name(b"s" * 32, "user1")
    assert salt_for_name(b"s" * 32, "user1") != salt_for_name(b"s" * 32, "user2")
    assert salt_for_name(b"t" * 32, "user1") != salt_for_name(b"s" * 32, "user1")
    assert len(salt_for_name(b"s" * 32, "nobody")) == 16
