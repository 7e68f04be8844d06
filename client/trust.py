"""Server names and pinned keys: the ``known_servers`` file, SSH-style, and which key to trust.

The handshake proves the server holds the private half of whatever public key the client pins,
so everything rests on pinning the right key. Order of trust: a key given explicitly
(``--server-key``); else the project's own ``keys/server_public.pem`` when talking to this
machine (set-up just made it; no question asked); else the ``known_servers`` entry for
``host:port``; else the person is shown the fingerprint and decides (like SSH's ``accept-new``).
A key is recorded only after a handshake with it succeeded: the server proved it holds the
private half, so a port that refuses the connection or serves another key records nothing.
A key that differs from the recorded one is never accepted silently: the person sees both
fingerprints and must type the end of the new one (``CONFIRM_CHARS``) to replace it.

Lines are ``host:port SHA256:<base64>``; the PEM of each accepted key is kept beside the file
under ``server_keys/`` because the handshake needs the key itself, not only its fingerprint.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from Crypto.PublicKey import RSA

from common.crypto import fingerprint, load_public_key

logger = logging.getLogger(__name__)

APP_DIR_NAME = "chat-envelope"
KNOWN_SERVERS = "known_servers"
KEYS_SUBDIR = "server_keys"
CONFIRM_CHARS = 8
"""How many characters at the end of a new fingerprint a person types to accept a changed key:
enough that it cannot be done without reading the fingerprint, few enough to compare."""


class TrustDecision(enum.Enum):
    """How an offered key compares with what is on record for ``host:port``."""

    NEW = "new"  # nothing on record: ask (or record silently for the project's own key)
    MATCH = "match"  # the recorded key: go ahead
    CHANGED = "changed"  # a different key is on record: refuse and explain


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/chat-envelope`` (``~/.config/chat-envelope`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / APP_DIR_NAME


def server_id(host: str, port: int) -> str:
    """The ``known_servers`` name of a server: ``host:port`` (``[v6]:port`` for IPv6)."""
    host = host.strip().lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Address(NamedTuple):
    """Where the server is."""

    host: str
    port: int


def parse_address(text: str, default_port: int) -> Address | None:
    """``host``, ``host:port`` or ``[v6]:port``; None if it makes no sense."""
    text = text.strip()
    if not text:
        return None
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or any(c.isspace() for c in host):
        return None
    if not port_text:
        return Address(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return Address(host, int(port_text))


def next_server(servers: list[tuple[str, int]], current: tuple[str, int]) -> tuple[str, int]:
    """The node to reconnect to after ``current`` failed: the next one of ``servers`` (the
    nodes of one cluster, all holding the same pinned key), or ``current`` if it is alone."""
    if current not in servers:
        return current
    return servers[(servers.index(current) + 1) % len(servers)]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: only then is the project key implied."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically with mode 0600: a crash never leaves half a trust file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class KnownServers:
    """The known_servers file and the PEMs beside it, in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def path(self) -> Path:
        """Where the ``host:port SHA256:...`` lines live."""
        return self.directory / KNOWN_SERVERS

    def _key_path(self, host: str, port: int) -> Path:
        safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in server_id(host, port))
        return self.directory / KEYS_SUBDIR / f"{safe}.pem"

    def entries(self) -> dict[str, str]:
        """``server_id -> fingerprint``; comments, blank and malformed lines are skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        found: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) < 2 or not parts[1].startswith("SHA256:"):
                logger.warning("ignoring malformed line %d of %s", number, self.path)
                continue
            found.setdefault(parts[0].lower(), parts[1])
        return found

    def lookup(self, host: str, port: int) -> str | None:
        """The recorded fingerprint for ``host:port``, if any."""
        return self.entries().get(server_id(host, port))

    def check(self, host: str, port: int, public_key: RSA.RsaKey) -> TrustDecision:
        """Compare an offered key with the record."""
        recorded = self.lookup(host, port)
        if recorded is None:
            return TrustDecision.NEW
        return TrustDecision.MATCH if recorded == fingerprint(public_key) else TrustDecision.CHANGED

    def remember(
        self, host: str, port: int, public_key: RSA.RsaKey, replace: str | None = None
    ) -> None:
        """Record a key after a successful handshake with it. Another key on record is replaced
        only when ``replace`` names it (the person confirmed the change for that very key)."""
        name, fp = server_id(host, port), fingerprint(public_key)
        recorded = self.lookup(host, port)
        if recorded is not None and recorded != fp and recorded != replace:
            raise ValueError(f"{name} already has a different key on record")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self._key_path(host, port), public_key.export_key(format="PEM"))
        if recorded != fp:
            try:
                old = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                old = "# servers this chat client trusts: host:port SHA256:<fingerprint>\n"
            lines = [line for line in old.splitlines()
                     if recorded is None or line.lower().split()[:1] != [name]]
            write_private(self.path, "\n".join([*lines, f"{name} {fp}"]).encode() + b"\n")
        if recorded is not None and recorded != fp:
            logger.warning("replaced the key of %s: %s -> %s", name, recorded, fp)
        else:
            logger.info("recorded the key of %s as %s", name, fp)

    def load_key(self, host: str, port: int) -> RSA.RsaKey | None:
        """The stored key for ``host:port`` if it is there and matches the recorded fingerprint."""
        recorded = self.lookup(host, port)
        if recorded is None:
            return None
        try:
            key = load_public_key(self._key_path(host, port).read_bytes())
        except (OSError, ValueError, IndexError, TypeError):
            return None
        if fingerprint(key) != recorded:
            logger.warning("stored key for %s does not match known_servers", server_id(host, port))
            return None
        return key


KeySource = Literal["explicit", "project", "known", "accepted", ""]
"""Where the pinned key came from; ``accepted``: the person accepted it just now (first use or
a confirmed change), and it is recorded once the handshake with it succeeds."""


@dataclass(frozen=True)
class KeyChoice:
    """Which key to pin for a connection, and why.

    ``source`` is ``explicit``, ``project``, ``known``, or ``""`` when no key is at hand and the
    server must be asked for it (then shown to the person). ``decision`` compares a project key
    with the record (CHANGED means refuse); ``recorded`` is the fingerprint on record, if any.
    """

    key: RSA.RsaKey | None
    source: KeySource
    decision: TrustDecision | None = None
    recorded: str | None = None


def choose_key(
    host: str,
    port: int,
    store: KnownServers,
    explicit: RSA.RsaKey | None = None,
    project_key: Path | None = None,
) -> KeyChoice:
    """Decide which key to pin, in the order the module docstring gives. Reads only."""
    if explicit is not None:
        return KeyChoice(explicit, "explicit")
    recorded = store.lookup(host, port)
    if project_key is not None and is_loopback(host) and project_key.is_file():
        try:
            key = load_public_key(project_key.read_bytes())
        except (OSError, ValueError, IndexError, TypeError):
            logger.warning("cannot read the project key %s", project_key)
        else:
            return KeyChoice(key, "project", store.check(host, port, key), recorded)
    if recorded is not None:
        stored = store.load_key(host, port)
        if stored is not None:
            return KeyChoice(stored, "known", TrustDecision.MATCH, recorded)
        return KeyChoice(None, "known", None, recorded)
    return KeyChoice(None, "")


def changed_key_text(host: str, port: int, recorded: str, offered: str, store: KnownServers) -> str:
    """What a changed key may mean and what to do, for the refusal dialog and the login form."""
    name = server_id(host, port)
    return (
        f"The server at {name} offers a different key than the one recorded when you first "
        f"connected.\n\nRecorded: {recorded}\nOffered:  {offered}\n\n"
        "Someone may be intercepting the connection (a man-in-the-middle), or the server's key "
        "was replaced (for example, its keys were generated again). Nothing was sent.\n\n"
        "If the server's administrator told you the key was replaced and gave you the new "
        f"fingerprint, compare it, then type its last {CONFIRM_CHARS} characters to accept the "
        "new key; it replaces the old one in known_servers "
        f"({store.path}) only once the server proves it holds it. Otherwise, cancel."
    )
