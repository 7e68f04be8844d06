"""The known_servers store and the choice of key to pin."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.trust import (
    KnownServers,
    TrustDecision,
    changed_key_text,
    choose_key,
    config_dir,
    is_loopback,
    server_id,
)
from common.crypto import fingerprint


@pytest.fixture(scope="module")
def keys() -> tuple[RSA.RsaKey, RSA.RsaKey]:
    return RSA.generate(1024).public_key(), RSA.generate(1024).public_key()


def test_new_then_match_then_changed(tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]) -> None:
    store = KnownServers(tmp_path / "cfg")
    first, second = keys
    assert store.check("127.0.0.1", 8090, first) is TrustDecision.NEW
    store.remember("127.0.0.1", 8090, first)
    assert store.check("127.0.0.1", 8090, first) is TrustDecision.MATCH
    assert store.check("127.0.0.1", 8090, second) is TrustDecision.CHANGED
    assert store.check("127.0.0.1", 8091, second) is TrustDecision.NEW  # per host:port
    with pytest.raises(ValueError):
        store.remember("127.0.0.1", 8090, second)  # never silently replaced
    assert store.lookup("127.0.0.1", 8090) == fingerprint(first)


def test_file_format_and_modes(tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]) -> None:
    store = KnownServers(tmp_path / "cfg")
    store.remember("Example.org", 9000, keys[0])
    store.remember("example.org", 9000, keys[0])  # same key again: no second line
    store.remember("::1", 8090, keys[1])
    lines = [ln for ln in store.path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [
        f"example.org:9000 {fingerprint(keys[0])}",
        f"[::1]:8090 {fingerprint(keys[1])}",
    ]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    for pem in (tmp_path / "cfg" / "server_keys").iterdir():
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cfg").stat().st_mode) == 0o700
    loaded = store.load_key("example.org", 9000)
    assert loaded is not None and fingerprint(loaded) == fingerprint(keys[0])


def test_stored_pem_must_match(tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]) -> None:
    store = KnownServers(tmp_path)
    store.remember("h", 1, keys[0])
    pem = next((tmp_path / "server_keys").iterdir())
    pem.write_bytes(keys[1].export_key())  # someone swapped the file
    assert store.load_key("h", 1) is None


def test_malformed_lines_are_skipped(tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]) -> None:
    store = KnownServers(tmp_path)
    store.path.write_text(f"garbage\n\n# comment\nh:1 {fingerprint(keys[0])}\n")
    assert store.entries() == {"h:1": fingerprint(keys[0])}


def test_choose_key_order(tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]) -> None:
    store = KnownServers(tmp_path / "cfg")
    project = tmp_path / "server_public.pem"
    project.write_bytes(keys[0].export_key())
    explicit = choose_key("127.0.0.1", 8090, store, keys[1], project)
    assert explicit.source == "explicit" and explicit.key is keys[1]
    local = choose_key("127.0.0.1", 8090, store, None, project)
    assert (local.source, local.decision) == ("project", TrustDecision.NEW)
    remote = choose_key("chat.example.org", 8090, store, None, project)
    assert remote.source == "" and remote.key is None  # the project key is for this machine only
    store.remember("chat.example.org", 8090, keys[1])
    known = choose_key("chat.example.org", 8090, store, None, project)
    assert (known.source, known.decision) == ("known", TrustDecision.MATCH)
    store.remember("127.0.0.1", 8090, keys[1])  # on record: a different key than the project's
    changed = choose_key("127.0.0.1", 8090, store, None, project)
    assert changed.decision is TrustDecision.CHANGED
    assert changed.recorded == fingerprint(keys[1])


def test_changed_text_explains(tmp_path: Path) -> None:
    text = changed_key_text("127.0.0.1", 8090, "SHA256:old", "SHA256:new", KnownServers(tmp_path))
    assert "man-in-the-middle" in text and "SHA256:old" in text and "SHA256:new" in text
    assert str(tmp_path / "known_servers") in text and "type its last 8 characters" in text


def test_a_key_is_replaced_only_when_the_old_one_is_named(
    tmp_path: Path, keys: tuple[RSA.RsaKey, RSA.RsaKey]
) -> None:
    store = KnownServers(tmp_path / "cfg")
    first, second = keys
    store.remember("other.org", 1, second)
    store.remember("127.0.0.1", 8090, first)
    with pytest.raises(ValueError):
        store.remember("127.0.0.1", 8090, second, replace="SHA256:not-the-recorded-one")
    store.remember("127.0.0.1", 8090, second, replace=fingerprint(first))
    lines = [ln for ln in store.path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"other.org:1 {fingerprint(second)}",
                     f"127.0.0.1:8090 {fingerprint(second)}"]
    assert store.load_key("127.0.0.1", 8090) is not None
    assert fingerprint(store.load_key("127.0.0.1", 8090)) == fingerprint(second)  # type: ignore[arg-type]


def test_config_dir_honours_xdg(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "chat-envelope"
    assert config_dir({"XDG_CONFIG_HOME": "relative"}).parent.name == ".config"


def test_names() -> None:
    assert server_id("LOCALHOST", 1) == "localhost:1"
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.org")
