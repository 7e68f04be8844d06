"""End-to-end direct messages and the key directory, on the server's side.

The server keeps public keys and sealed blobs only: it never has a key that opens a direct
message. What it can check it does (PROTOCOL.md §7): a blob parses, its clear header names the
logged-in account as sender and the ``0043``'s recipient as recipient, its client message id
is the request's, the recipient is an account, the size is within ``CHAT_MAX_SEALED_BYTES``
and the sender's message rate allows it. Everything else (signatures, key ids, who may open
it) is checked by the clients, which is the point.

Sealed messages are stored in the messages table (``sealed = 1``), acked and relayed on the
same path as clear direct messages (the service's group commit, ``server.direct``), and come
back in ``@name`` history pages as ``1043``.

A key set published again by its account is a password change (the backup is replaced); a
new set (after an administrator reset the password, the old master key is gone) becomes
current and is announced to everyone online as an unasked ``1041``. Clients notice a change
either way: every blob names its keys by id, and they compare fetched keys with their pins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.e2e import dm_conversation, from_field, read_header, to_field
from common.identity import BACKUP_BYTES, BACKUP_VERSION, IdentityError, PublicIdentity
from common.messages_e2e import (
    KeyLookupRequest,
    OwnKeys,
    OwnKeysRequest,
    PublicKeys,
    PublishKeysRequest,
    SealedDirectRequest,
)
from server.admission import Admission
from server.connection_state import ConnectionState
from server.direct import DirectMessages, line_of
from server.hub import Hub
from server.limits_redis import Buckets
from server.names import is_username
from server.options import ServerOptions
from server.ports import KeyStore
from server.store import NewMessage, StoreUnavailable
from server.store_keys import KeySet

log = logging.getLogger(__name__)

KeyRequest = PublishKeysRequest | OwnKeysRequest | KeyLookupRequest


class EndToEnd:
    """The ``0040``-``0043`` requests; thread-safe (state lives in the store and the buckets)."""

    def __init__(
        self,
        store: KeyStore,
        hub: Hub,
        direct: DirectMessages,
        admission: Admission,
        message_rate: Buckets,
        options: ServerOptions,
        now_ms: Callable[[], int],
    ) -> None:
        self._store, self._hub, self._direct = store, hub, direct
        self._admission, self._message_rate = admission, message_rate
        self._max_sealed = options.max_sealed_bytes
        self._now_ms = now_ms

    # --- sending -----------------------------------------------------------------------------

    def send(self, conn: ConnectionState, request: SealedDirectRequest,
             queue_send: Callable[[ConnectionState, NewMessage], None]) -> bool:
        """Queue ``request`` for the service's group commit (acked and relayed by
        ``on_committed`` as a direct message), or refuse it; False: close the connection."""
        message = self._sealed_message(conn, request)
        if message is None:
            return self._admission.count_request(conn)
        queue_send(conn, message)
        return True

    def _sealed_message(self, conn: ConnectionState, request: SealedDirectRequest
                        ) -> NewMessage | None:
        """The row to store for ``request``, or None after answering the refusal."""
        sender = conn.username or ""
        refusal = self._refusal(sender, request)
        if refusal is not None:
            conn.error(*refusal)
            return None
        if not self._message_rate.take(sender):
            log.info("sealed messages from %s (%s) rate limited", sender, conn.peer)
            conn.error("rate_limited", "slow down")
            return None
        try:
            exists = self._direct.user_exists(request.to_username)
        except StoreUnavailable:
            conn.error("unavailable", "the database is unavailable; try again")
            return None
        if not exists:
            conn.error("no_such_user", "no such user")
            return None
        return NewMessage(
            dm_conversation(sender, request.to_username), sender, request.to_username,
            request.client_msg_id, request.blob, self._now_ms(), sealed=True,
        )

    def _refusal(self, sender: str, request: SealedDirectRequest) -> tuple[str, str] | None:
        """What is wrong with the parts of ``request`` the server can see, if anything."""
        if not 0 < len(request.client_msg_id) <= 64:
            return "bad_request", "client_msg_id must be 1..64 long"
        if len(request.blob) > (self._max_sealed * 4 + 2) // 3:
            return "too_long", f"sealed message is longer than {self._max_sealed} bytes"
        try:
            header = read_header(from_field(request.blob))
        except ValueError as exc:
            return "bad_request", f"not a sealed message: {exc}"
        if header.sender != sender:
            log.warning("sealed message from %s names sender %r", sender, header.sender)
            return "forbidden", "the sealed message names another sender"
        if header.recipient != request.to_username:
            return "bad_request", "the sealed message names another recipient"
        if header.client_msg_id != request.client_msg_id:
            return "bad_request", "the sealed message has another client_msg_id"
        return None

    # --- the key directory -------------------------------------------------------------------

    def on_key_request(self, conn: ConnectionState, request: KeyRequest) -> bool:
        """Answer a key request; False means close the connection (too many refusals)."""
        verdict = self._admission.check_request(conn)
        if verdict != "ok":
            return self._admission.refuse_request(conn, verdict)
        try:
            match request:
                case PublishKeysRequest():
                    self._publish(conn, request)
                case OwnKeysRequest():
                    conn.send(self._own_keys(conn.username or ""))
                case KeyLookupRequest():
                    self._lookup(conn, request)
        except StoreUnavailable:
            conn.error("unavailable", "the key directory is unavailable; try again")
        return True

    def _publish(self, conn: ConnectionState, request: PublishKeysRequest) -> None:
        username = conn.username or ""
        try:
            public = PublicIdentity.from_bytes(from_field(request.bundle))
            backup = from_field(request.backup)
        except (ValueError, IdentityError) as exc:
            conn.error("bad_request", f"not a key set: {exc}")
            return
        if len(backup) != BACKUP_BYTES or backup[0] != BACKUP_VERSION:
            conn.error("bad_request", f"a key backup is {BACKUP_BYTES} bytes of version 1")
            return
        keys = KeySet(username, public.key_id, public.to_bytes(), backup, self._now_ms())
        if self._store.publish_keys(keys):
            log.info("%s published key set %s", username, public.key_id.hex())
            announcement = line_of(PublicKeys(username, request.bundle, keys.created_ms))
            self._hub.announce(announcement)  # on every node of a cluster
        conn.send(self._own_keys(username))

    def _own_keys(self, username: str) -> OwnKeys:
        current = self._store.key_set(username, None)
        if current is None:
            return OwnKeys("", "", None)
        return OwnKeys(to_field(current.bundle), to_field(current.backup), current.created_ms)

    def _lookup(self, conn: ConnectionState, request: KeyLookupRequest) -> None:
        key_id: bytes | None = None
        if request.key_id:
            try:
                key_id = from_field(request.key_id)
            except ValueError:
                key_id = b""  # matches no set
        found = None
        if is_username(request.username):
            found = self._store.key_set(request.username, key_id)
        if found is None:
            conn.send(PublicKeys(request.username, "", None))
        else:
            conn.send(PublicKeys(found.username, to_field(found.bundle), found.created_ms))
