"""The server's long-term RSA key on disk: made once, private half mode 0600."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from Crypto.PublicKey import RSA

from common.crypto import RSA_BITS, fingerprint, generate_rsa_key

log = logging.getLogger(__name__)

PRIVATE_NAME = "server_private.pem"
PUBLIC_NAME = "server_public.pem"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def generate_keypair(key_dir: Path, force: bool = False, bits: int = RSA_BITS) -> str:
    """Write a new key pair into ``key_dir``; refuse to replace one unless ``force``.

    Returns the fingerprint clients will show (``SHA256:...``).
    """
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = key_dir / PRIVATE_NAME, key_dir / PUBLIC_NAME
    if private_path.exists() and not force:
        raise FileExistsError(f"{private_path} exists; use --force to replace it")
    key = generate_rsa_key(bits)
    _write_atomically(private_path, key.export_key(format="PEM", pkcs=8), 0o600)
    _write_atomically(public_path, key.public_key().export_key(format="PEM"), 0o644)
    fp = fingerprint(key)
    log.info("new server key %s in %s", fp, key_dir)
    return fp


class KeyFileExposedError(PermissionError):
    """The private key file is readable (or writable) by the group or by everyone.

    Such a key may already be copied by another account on the machine, and anyone holding it
    can impersonate the server to every client that pinned it: starting anyway would hide
    that. The message names the file and the command that fixes it.
    """


def load_private_key(path: Path) -> RSA.RsaKey:
    """The server's private key; refuses a file that the group or others can access."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.error("refusing %s: mode %o gives the group or others access", path, mode)
        raise KeyFileExposedError(
            f"the server private key {path} has mode {mode:o}: the group or others can access "
            f"it. Run `chmod 600 {path}` (and consider the key compromised if others could "
            "read it: replace it with `python -m server keygen --force`)."
        )
    key = RSA.import_key(path.read_bytes())
    if not key.has_private():
        raise ValueError(f"{path} holds no private key")
    return key


def load_public_key(path: Path) -> RSA.RsaKey:
    """A public key from a PEM file (a private key file yields its public half)."""
    return RSA.import_key(path.read_bytes()).public_key()
