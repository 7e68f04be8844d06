"""This account's end-to-end identity on this client: find it, open it, or make it.

After login the client asks for its key set (``0041``). The master key is derived from the
password meanwhile on a worker thread (Argon2id is slow on purpose; the Tk thread only polls
for the result). Then:

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
import threading
from collections.abc import Callable

from client.master_key import master_key_for
from client.traffic import Timers
from common.e2e import from_field, to_field
from common.identity import Identity, IdentityError, PublicIdentity, open_backup, seal_backup
from common.messages import ClientMessage
from common.messages_e2e import OwnKeys, OwnKeysRequest, PublishKeysRequest

logger = logging.getLogger(__name__)

POLL_MS = 30
MasterKeySource = Callable[[str, str], bytes]
"""``(username, password) -> master key``: ``client.master_key.master_key_for`` by default."""


class OwnKeyring:
    """The account's identity keys once they are open (``identity``), and how they got there."""

    def __init__(
        self,
        username: str,
        send: Callable[[ClientMessage], None],
        timers: Timers,
        on_ready: Callable[[], None],
        derive: MasterKeySource | None = None,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.username = username
        self.identity: Identity | None = None
        self.failure = ""  # why there are no keys (shown on messages that cannot be read)
        self._send, self._timers, self._on_ready = send, timers, on_ready
        self._derive, self._random = derive, random
        self._master: bytes | None = None
        self._derived: list[bytes | BaseException] = []  # filled by the worker thread
        self._answer: OwnKeys | None = None
        self._fresh: Identity | None = None  # a set this window published, not yet confirmed

    @property
    def ready(self) -> bool:
        return self.identity is not None

    def start(self, password: str = "", master_key: bytes | None = None) -> None:
        """Derive the master key off the Tk thread (or take ``master_key``, derived by the
        login already), and ask for the key set meanwhile."""
        if master_key is not None:
            self._derived.append(master_key)
        else:
            threading.Thread(target=self._work, args=(password,), daemon=True,
                             name="master-key").start()
        self._timers.after(POLL_MS, self._poll)
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

    def _work(self, password: str) -> None:
        try:
            derive = self._derive or master_key_for  # looked up now: tests may swap it
            self._derived.append(derive(self.username, password))
        except Exception as exc:  # reported on the Tk thread
            self._derived.append(exc)

    def _poll(self) -> None:
        if not self._derived:
            self._timers.after(POLL_MS, self._poll)
            return
        result = self._derived[0]
        if isinstance(result, BaseException):
            logger.error("cannot derive the master key: %s", result)
            self.failure = "this window could not derive the key that opens your keys"
            return
        self._master = result
        self._settle()

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
