"""Keys are trusted only once verified: the project key of set-up and a key accepted on first
use are recorded after a successful handshake with them, never for a port that refuses the
connection or serves another key; a changed key is replaced only when the person types the
end of the new fingerprint. Settings live in a temporary XDG_CONFIG_HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.keyflow import MISTYPED_TEXT, confirms
from client.session import ConnectFailed, KeyFetched
from client.trust import config_dir
from common.crypto import fingerprint
from common.messages_login import KdfParamsRequest
from tests.unit.client_fakes import Harness


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's settings directory inside a temporary XDG_CONFIG_HOME."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return config_dir()


def project(tmp_path: Path, key: RSA.RsaKey) -> Path:
    pem = tmp_path / "server_public.pem"
    pem.write_bytes(key.public_key().export_key())
    return pem


def test_the_project_key_is_not_recorded_for_a_port_that_refuses(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    h = Harness(tmp_path, key, config, explicit_key=None, project_key=project(tmp_path, key))
    h.app.login("127.0.0.1:8091", "user1", "111111")
    h.session.events.put(ConnectFailed(h.session.id, "connection refused", "connect"))
    h.pump()
    assert h.app.phase == "login"
    assert h.store.lookup("127.0.0.1", 8091) is None
    assert not (config / "known_servers").exists()


def test_the_project_key_is_not_recorded_for_a_port_serving_another_key(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    h = Harness(tmp_path, key, config, explicit_key=None, project_key=project(tmp_path, key))
    h.app.login("127.0.0.1:8092", "user1", "111111")
    h.session.events.put(ConnectFailed(h.session.id, "bad signature", "handshake", identity=True))
    h.pump()
    h.app.events.put(KeyFetched("127.0.0.1", 8092, RSA.generate(1024).public_key()))
    h.pump()
    assert h.view.login_error.startswith("The server could not prove its identity")
    assert "different key" in h.view.login_error
    assert h.store.lookup("127.0.0.1", 8092) is None


def test_the_project_key_is_recorded_after_its_handshake(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    h = Harness(tmp_path, key, config, explicit_key=None, project_key=project(tmp_path, key))
    h.app.login("127.0.0.1:8090", "user1", "111111")
    assert h.store.lookup("127.0.0.1", 8090) is None
    h.session.handshake()
    h.pump()
    assert h.store.lookup("127.0.0.1", 8090) == fingerprint(key)
    assert (config / "known_servers").stat().st_mode & 0o077 == 0


def changed(tmp_path: Path, key: RSA.RsaKey, config: Path) -> tuple[Harness, str]:
    """A server re-cloned: a new project key on a port whose old key is on record."""
    h = Harness(tmp_path, key, config, explicit_key=None, project_key=project(tmp_path, key))
    old = RSA.generate(1024).public_key()
    h.store.remember("127.0.0.1", 8090, old)
    h.app.login("127.0.0.1:8090", "user1", "111111")
    assert h.view.replace_question is not None and not h.sessions
    return h, fingerprint(old)


def test_a_changed_key_is_replaced_by_typing_the_end_of_the_new_fingerprint(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    h, old = changed(tmp_path, key, config)
    assert h.view.replace_question is not None
    _, recorded, offered, answer = h.view.replace_question
    assert recorded == old and offered == fingerprint(key)
    answer(offered[-8:])
    assert fingerprint(h.session.key) == offered and h.app.phase == "connecting"
    assert h.store.lookup("127.0.0.1", 8090) == old  # not until the server proves it
    h.session.handshake()
    h.pump()
    assert h.store.lookup("127.0.0.1", 8090) == fingerprint(key)
    assert h.session.of(KdfParamsRequest)


@pytest.mark.parametrize("typed", ["", "x", "SHA256:", "00000000"])
def test_a_mistyped_confirmation_replaces_nothing(
    tmp_path: Path, key: RSA.RsaKey, config: Path, typed: str
) -> None:
    h, old = changed(tmp_path, key, config)
    assert h.view.replace_question is not None
    h.view.replace_question[3](typed)
    assert h.view.login_error == MISTYPED_TEXT and not h.sessions
    assert h.store.lookup("127.0.0.1", 8090) == old


def test_an_accepted_change_is_not_recorded_if_the_handshake_fails(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    h, old = changed(tmp_path, key, config)
    assert h.view.replace_question is not None
    offered = h.view.replace_question[2]
    h.view.replace_question[3](offered[-8:])
    h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
    h.pump()
    assert h.store.lookup("127.0.0.1", 8090) == old


def test_confirms() -> None:
    fp = "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
    assert confirms(fp, "JKLMNOPQ") and confirms(fp, " JKLMNOPQ ")
    assert not confirms(fp, "jklmnopq") and not confirms(fp, "KLMNOPQ") and not confirms(fp, "")
