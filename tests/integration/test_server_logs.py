"""The server's log of a whole session names who and why, never passwords, tokens, keys or text.

SECURITY.md S8: a log is read by more people than the chat is, and kept longer.
"""

from __future__ import annotations

import base64
import logging

import pytest

from common.messages import DirectDelivery, PingRequest, Pong

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

WRONG_PASSWORD = "Wr0ng-P@ss-xyzzy-41"
PASSWORD_AS_USERNAME = "my-real-password-typed-as-name"
ROOM_TEXT = "room secret text 7c1e"
DIRECT_TEXT = "direct secret text 9b2d"


def test_a_full_session_logs_no_secrets(make_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    live = make_server()
    alice, bob = live.login("user1"), live.login("user2")
    tokens = [alice.login_result.detail, bob.login_result.detail]
    assert not live.client().login("user1", WRONG_PASSWORD).ok
    assert not live.client().login(PASSWORD_AS_USERNAME, "111111").ok
    alice.chat_acked(ROOM_TEXT)
    alice.wait_ack(alice.direct("user2", DIRECT_TEXT))
    bob.recv_until(lambda m: isinstance(m, DirectDelivery))
    resumed = live.client().resume("user1", tokens[0])
    assert resumed.ok
    tokens.append(resumed.detail)
    assert not live.client().resume("user1", tokens[0]).ok  # a reused token is logged as such
    attacker = live.login("user3")
    attacker.send(PingRequest("x"))
    attacker.recv_until(lambda m: isinstance(m, Pong))
    record = bytearray(attacker.conn.send(PingRequest("y")))
    record[8] ^= 1
    attacker.send_raw(bytes(record))
    assert attacker.closed_by_server()
    live.stop()

    text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    key = live.private_key
    secrets = {
        "demo password": "111111",
        "wrong password": WRONG_PASSWORD,
        "password typed as a name": PASSWORD_AS_USERNAME,
        "room text": ROOM_TEXT,
        "direct text": DIRECT_TEXT,
        "private exponent": str(key.d)[:40],
        "private key PEM": key.export_key().decode().splitlines()[5],
        **{f"token {i}": t for i, t in enumerate(tokens)},
        **{f"token {i} (std b64)": base64.b64encode(
            base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))).decode()[:20]
           for i, t in enumerate(tokens)},
    }
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert not leaked, f"secrets in the log: {leaked}"
    # ...while saying who came, who failed and why someone was dropped
    assert "logged in as user1" in text
    assert "login failed for user1" in text and "login failed for <unknown user>" in text
    assert "record failed authentication" in text
