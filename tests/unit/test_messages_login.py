"""Login results on the wire (PROTOCOL.md §4): refusals carry a code word, older forms still
decode, and results that contradict themselves are never sent."""

from __future__ import annotations

import pytest

from common.errors import LocalProtocolError
from common.messages import (
    SERVER_MESSAGES,
    LoginResult,
    decode_message,
    encode_message,
    escape_field,
)
from common.protocol import LoginRefusal


@pytest.mark.parametrize("refusal", list(LoginRefusal))
def test_every_refusal_has_a_code_word_on_the_wire(refusal: LoginRefusal) -> None:
    line = encode_message(LoginResult.refused(refusal)).encode()
    assert line == b"1001|0|" + refusal.code_word.encode() + b"||" + escape_field(
        refusal.value).encode()
    decoded = decode_message(line, SERVER_MESSAGES)
    assert isinstance(decoded, LoginResult) and decoded.refusal is refusal
    assert decoded.detail == refusal.value  # an older reader's last field is still the reason


def test_older_refusal_forms_decode_without_a_code_word() -> None:
    for line in (b"1001|0|||service unavailable", b"1001|0|service unavailable"):
        decoded = decode_message(line, SERVER_MESSAGES)
        assert decoded == LoginResult(False, "", "", "service unavailable")
        assert isinstance(decoded, LoginResult) and decoded.refusal is None


def test_an_unknown_code_word_decodes_with_its_text() -> None:
    decoded = decode_message(b"1001|0|banned||you are banned", SERVER_MESSAGES)
    assert decoded == LoginResult(False, "", "", "you are banned", "banned")
    assert isinstance(decoded, LoginResult) and decoded.refusal is None


@pytest.mark.parametrize("result", [
    LoginResult(True, "n", "u", "tok", "wrong_credentials"),
    LoginResult(False, "n", "", "reason", "wrong_credentials"),
])
def test_inconsistent_login_results_are_refused_locally(result: LoginResult) -> None:
    with pytest.raises(LocalProtocolError):
        encode_message(result)


def test_a_failed_login_shows_its_reason() -> None:
    assert "bad password" in repr(LoginResult(False, "", "", "bad password"))
