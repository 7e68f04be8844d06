"""Account names and nicknames (``server.names``) and add-user's check of both."""

from __future__ import annotations

import pytest

from server.names import is_username, nickname_key, nickname_problem
from server.provision import new_account_problem


@pytest.mark.parametrize("name", ["user1", "User_2", "a.b-c", "x" * 32])
def test_account_names(name: str) -> None:
    assert is_username(name)


@pytest.mark.parametrize(
    "name", ["", "user2 ", " user2", "user\t2", "x" * 33, "u" * 65_536, "名字", "a|b", "user2\n"]
)
def test_not_account_names(name: str) -> None:
    assert not is_username(name)


@pytest.mark.parametrize("nickname", ["wang_yuan", "丁真", "Zoë 🙂", "x" * 32, "a b"])
def test_good_nicknames(nickname: str) -> None:
    assert nickname_problem(nickname) is None


@pytest.mark.parametrize(
    ("nickname", "why"),
    [
        ("", "empty"),
        (" alice", "space"),
        ("alice ", "space"),
        ("ali\u202ece", "U+202E"),  # right-to-left override
        ("ali\u200dce", "U+200D"),  # zero-width joiner
        ("ali\x07ce", "U+0007"),
        ("x" * 33, "at most 32"),
        ("x" * 10_000, "at most 32"),
        ("\u3000alice", "space"),  # ideographic space becomes a space under NFKC
    ],
)
def test_bad_nicknames(nickname: str, why: str) -> None:
    problem = nickname_problem(nickname)
    assert problem is not None and why in problem


def test_look_alike_nicknames_share_a_key() -> None:
    assert nickname_key("Alice") == nickname_key("ALICE") == nickname_key("\uff21lice")
    assert nickname_key("ﬁsh") == nickname_key("FISH")  # the ligature folds to "fi"
    assert nickname_key("alice") != nickname_key("alicia")


def test_add_user_checks_name_and_nickname() -> None:
    assert new_account_problem("user1", "wang_yuan") is None
    assert "1-32" in (new_account_problem("user1 ", "ok") or "")
    assert "U+202E" in (new_account_problem("user9", "evil\u202e") or "")
