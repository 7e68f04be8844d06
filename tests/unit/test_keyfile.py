"""The server key on disk: 0600, never silently replaced, fingerprint as clients show it."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest

from server.keyfile import (
    KeyFileExposedError,
    generate_keypair,
    load_private_key,
    load_public_key,
)


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


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_readable_key_is_refused(tmp_path: Path, mode: int) -> None:
    generate_keypair(tmp_path, bits=2048)
    private = tmp_path / "server_private.pem"
    private.chmod(mode)
    with pytest.raises(KeyFileExposedError) as caught:
        load_private_key(private)
    message = str(caught.value)
    assert str(private) in message and f"chmod 600 {private}" in message
    private.chmod(0o600)  # the fix the message gives works
    assert load_private_key(private).has_private()
