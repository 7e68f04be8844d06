"""The server key on disk: 0600, never silently replaced, fingerprint as clients show it."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest

from server.keyfile import generate_keypair, load_private_key, load_public_key


def test_generate_writes_0600_private_and_refuses_overwrite(tmp_path: Path) -> None:
    fp = generate_keypair(tmp_path, bits=2048)
    private, public = tmp_path / "server_private.pem", tmp_path / "server_public.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PRIVATE" not in public.read_bytes()
    der = load_public_key(public).export_key(format="DER")
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert fp == expected and len(fp) == 7 + 43
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path, bits=2048)
    assert generate_keypair(tmp_path, force=True, bits=2048) != fp
    assert load_private_key(private).has_private()


def test_loose_mode_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    generate_keypair(tmp_path, bits=2048)
    private = tmp_path / "server_private.pem"
    private.chmod(0o644)
    load_private_key(private)
    assert "should be 0600" in caplog.text
