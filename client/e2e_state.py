"""What the end-to-end client keeps on disk: pinned contact keys, verification, replays.

One file per server and account, beside the unsent-messages file (``client.stash``), under
``e2e/`` in the client's config directory, written atomically with mode 0600 in a 0700
directory. It holds public keys only (the pins, a verified contact's changed key waiting to
be acknowledged) and the ``SeenIds`` records: never a private key, never a message text.
A pin forgotten would let a swapped key pass as a first use, so an unreadable file is set
aside (``.bad``), never deleted, and the client starts again from nothing pinned.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from client.stash import stash_name
from client.trust import write_private
from common.e2e import from_field, to_field
from common.e2e_pins import KeyPins
from common.e2e_replay import SeenIds
from common.identity import PublicIdentity

logger = logging.getLogger(__name__)

STATE_SUBDIR = "e2e"
FORMAT_VERSION = 1


@dataclass
class E2eState:
    """Pins, the new keys of verified contacts not yet acknowledged, and seen message ids."""

    pins: KeyPins = field(default_factory=KeyPins)
    changed: dict[str, PublicIdentity] = field(default_factory=dict)
    seen: SeenIds = field(default_factory=SeenIds)


class E2eStateFile:
    """Reads and writes the end-to-end state of one account on one server."""

    def __init__(self, config_directory: Path, host: str, port: int, username: str) -> None:
        self.path = config_directory / STATE_SUBDIR / stash_name(host, port, username)

    def load(self) -> E2eState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return E2eState()
        except OSError:
            logger.warning("cannot read the pinned keys in %s", self.path, exc_info=True)
            return E2eState()
        try:
            return _parse(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError):
            bad = self.path.with_suffix(".bad")
            logger.warning("unreadable pinned-keys file %s, set aside as %s", self.path, bad)
            try:
                self.path.replace(bad)
            except OSError:
                logger.warning("cannot set %s aside", self.path, exc_info=True)
            return E2eState()

    def save(self, state: E2eState) -> None:
        document = {
            "version": FORMAT_VERSION,
            "pins": [{"username": name, "bundle": to_field(key.to_bytes()),
                      "verified": verified, "held": held}
                     for name, key, verified, held in state.pins.entries()],
            "changed": {name: to_field(key.to_bytes()) for name, key in state.changed.items()},
            "seen": [list(item) for item in state.seen.entries()],
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def _key(field_text: object) -> PublicIdentity:
    return PublicIdentity.from_bytes(from_field(str(field_text)))


def _parse(document: object) -> E2eState:
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ValueError("not a pinned-keys file of a known version")
    state = E2eState()
    for pin in document["pins"]:
        state.pins.restore(str(pin["username"]), _key(pin["bundle"]), bool(pin["verified"]),
                           bool(pin["held"]))
    state.changed = {str(name): _key(bundle) for name, bundle in document["changed"].items()}
    for conversation, sender, cid, msg_id in document["seen"]:
        state.seen.restore(str(conversation), str(sender), str(cid), int(msg_id))
    return state
