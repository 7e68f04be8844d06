"""This account's end-to-end identity on this client: find it, open it, or make it.

After login the client asks for its key set (``0041``). The master key is the one the key login
derived from the password (``client.keylogin``; PROTOCOL.md §8), held in memory only. Then:

- ``1040`` empty: the account has no keys yet. A new identity is made here and published
  (``0040``) with its private keys sealed under the master key, so the account's other
  windows, now or later, open the same keys;
- ``1040`` with a set: its backup is opened with the master key, and must hold exactly the
  published public keys (``common.identity.open_backup``);
- a backup that does not open with this password's master key was sealed under a password
  the account no longer has (an administrator's reset): the old private keys are gone, so a
  new set is made and published, which the server announces to everyone (``1041``).

An unasked ``1041`` naming this account with another set (another window made a new one)
makes the client fetch and open the current set again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from client.traffic import Timers
from common.e2e import from_field, to_field
from common.identity import Identity, IdentityError, PublicIdentity, open_backup, seal_backup
from common.messages import ClientMessage
from common.messages_e2e import OwnKeys, OwnKeysRequest, PublishKeysRequest

logger = logging.getLogger(__name__)



class OwnKeyring:
    """The account's identity keys once they are open (``identity``), and how they got there."""

    def __init__(
        self,
        username: str,
        send: Callable[[ClientMessage], None],
        timers: Timers,
        on_ready: Callable[[], None],
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.username = username
        self.identity: Identity | None = None
        self.failure = ""  # why there are no keys (shown on messages that cannot be read)
        self._send, self._timers, self._on_ready = send, timers, on_ready
        self._random = random
        self._master: bytes | None = None
        self._answer: OwnKeys | None = None
        self._fresh: Identity | None = None  # a set this window published, not yet confirmed

    @property
    def ready(self) -> bool:
        return self.identity is not None

    def start(self, master_key: bytes | None) -> None:
        """Ask for the key set; ``master_key`` (from the key login) opens or seals it."""
        if master_key is None:
            logger.error("no master key: this window cannot open the account's keys")
            self.failure = "this window has no key to open your keys; log in again"
            return
        self._master = master_key
        self.ask()

    def rewrap(self, new_master_key: bytes) -> PublishKeysRequest | None:
        """After a password change: the same keys sealed under the new master key (``0040``
        with the same bundle replaces the backup and announces nothing), None if no keys."""
        if self.identity is None:
            return None
        self._master = new_master_key
        backup = seal_backup(self.identity, self.username, new_master_key, self._random)
        return PublishKeysRequest(to_field(self.identity.public.to_bytes()), to_field(backup))

    def ask(self) -> None:
        """``0041`` (again after a reconnect, while the keys are not open yet)."""
        if self.identity is None:
            self._send(OwnKeysRequest())

    def own_keys(self, answer: OwnKeys) -> None:
        """``1040``: the account's current set (after ``0040`` or ``0041``)."""
        fresh = self._fresh
        if fresh is not None and answer.bundle == to_field(fresh.public.to_bytes()):
            self.identity, self._fresh = fresh, None  # the set this window just published
            logger.info("published a new end-to-end key set (key id %s)",
                        fresh.public.key_id.hex())
            self._on_ready()
            return
        self._answer = answer
        self._settle()

    def announced(self, bundle: str) -> None:
        """An unasked ``1041`` for this account: another window published another set."""
        if self.identity is not None and bundle != to_field(self.identity.public.to_bytes()):
            logger.info("this account has a new key set: fetching it")
            self.identity, self._answer = None, None
            self.ask()

    def _settle(self) -> None:
        answer, master = self._answer, self._master
        if answer is None or master is None or self.identity is not None:
            return
        self._answer = None
        if not answer.bundle:
            self._publish_new(master, "the account has no end-to-end keys yet")
            return
        try:
            published = PublicIdentity.from_bytes(from_field(answer.bundle))
            self.identity = open_backup(from_field(answer.backup), self.username, master,
                                        published)
        except (IdentityError, ValueError) as exc:
            self._publish_new(master, f"the key backup does not open ({exc})")
            return
        logger.info("end-to-end keys open (key id %s)", published.key_id.hex())
        self._on_ready()

    def _publish_new(self, master: bytes, why: str) -> None:
        """Make and publish a new key set; it is used once the server confirms it (``1040``)."""
        identity = Identity.generate(self._random)
        logger.info("making a new end-to-end key set: %s", why)
        backup = seal_backup(identity, self.username, master, self._random)
        self._fresh = identity
        self._send(PublishKeysRequest(to_field(identity.public.to_bytes()), to_field(backup)))
