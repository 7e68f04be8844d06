"""Direct messages sealed end to end: out through ``0043``, in from ``1043``, keys pinned.

``SealedDirect`` sits between the conversation (``client.traffic.ChatTraffic``) and the
session. The conversation still composes a direct message as a ``DirectRequest`` kept in its
outbox (so drafts, the stash file, resends and acks work as for any message), but it sends
through ``SealedDirect.link``, which never lets a ``DirectRequest`` reach the wire: the text is
sealed for the recipient's pinned key and sent as ``0043``. Until that is possible the message
waits in the outbox with a state that says why:

- ``pending``: this window's keys are not open yet, or the recipient's keys are being fetched;
- ``waiting``: the recipient has no keys (never logged in with end-to-end support). Nothing
  is sent in clear instead; the message goes when their keys are announced (``1041``);
- ``held``: a contact the person had verified has a new key; sending waits until the person
  accepts it in the verify dialog.

Before its first message to a contact a session fetches their key (``0042``) and compares it
with the pin (``common.e2e_pins``): a change adds a warning line (and holds a verified one).
Incoming ``1043`` are opened on a worker thread (``client.e2e_opener``) against the sender's
pinned key, checked for replays (``SeenIds``) and passed on as a ``DirectDelivery`` or an
``UnverifiedDelivery`` (a line saying why, never the text); what follows waits, so order holds.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace

from client import e2e_view as view
from client.e2e_keys import OwnKeyring
from client.e2e_link import SealedLink
from client.e2e_opener import BlobOpener
from client.e2e_state import E2eState, E2eStateFile
from client.e2e_view import CLEAR_LABEL, SafetyView, SecurityNote, UnverifiedDelivery
from client.model import ChatModel, EntryState
from client.traffic import ChatTraffic, Link, Timers
from common.e2e import (
    Header,
    Opened,
    Unverifiable,
    dm_conversation,
    from_field,
    open_blob,
    read_header,
    seal,
    to_field,
)
from common.e2e_pins import PinVerdict
from common.identity import IdentityError, PublicIdentity
from common.messages import (
    Ack,
    ClientMessage,
    DirectDelivery,
    DirectRequest,
    ErrorReply,
    ServerMessage,
)
from common.messages_e2e import (
    KeyLookupRequest,
    OwnKeys,
    PublicKeys,
    SealedDirectDelivery,
    SealedDirectRequest,
)
from common.safety import safety_number

logger = logging.getLogger(__name__)

SAVE_MS = 1000
RETRY_LOOKUP_MS = 2000


class SealedDirect:
    """The end-to-end side of one logged-in account (Tk thread only, no widgets)."""

    def __init__(
        self, model: ChatModel, link: Link, timers: Timers, now_ms: Callable[[], int],
        state_file: E2eStateFile | None = None, random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.model, self._link, self._timers, self._now_ms = model, link, timers, now_ms
        self.keyring = OwnKeyring(model.username, self._send, timers, self._keys_ready, random)
        self._file = state_file
        self.state: E2eState = state_file.load() if state_file is not None else E2eState()
        self.link = SealedLink(link, self.send_direct)
        self.deliver: Callable[[ServerMessage], None] = lambda _m: None  # the conversation's
        self.on_safety: Callable[[SafetyView], None] = lambda _v: None  # the verify dialog
        self._random = random
        self._current: dict[str, PublicIdentity | None] = {}  # fetched this session
        self._asked: set[str] = set()  # lookups in flight
        self._waiting: dict[str, DirectRequest] = {}  # client_msg_id -> not sealed yet
        self._blobs: dict[str, str] = {}  # client_msg_id -> sealed once, resent the same
        self._inbox: deque[ServerMessage] = deque()  # held behind a key or a blob opening
        self._opener = BlobOpener(timers, self._opened_later)
        self.repaint: Callable[[], None] = lambda: None  # the conversation's, at once
        self._told: set[str] = set()  # "no keys yet" said once per contact and session
        self._safety_wanted: str | None = None  # the dialog waits for these keys
        self._save_timer: object | None = None
        self._retry_timer: object | None = None

    def start(self, master_key: bytes | None) -> None:
        self.keyring.start(master_key)  # after the first login: open or make the keys

    def resumed(self) -> None:
        """Logged in again: what was fetched may be stale, lookups in flight are lost."""
        self._current.clear()
        self._asked.clear()
        self.keyring.ask()
        self._drain_inbox()

    def save(self) -> None:
        if self._save_timer is not None:
            self._timers.after_cancel(self._save_timer)
        self._save_timer = None
        if self._file is not None:
            try:
                self._file.save(self.state)
            except OSError:
                logger.exception("cannot save the pinned keys to %s", self._file.path)

    def close(self) -> None:
        """The account logged out or the window closed: save, and stop opening blobs."""
        self.save()
        self._opener.close()

    def _changed(self) -> None:
        if self._save_timer is None:
            self._save_timer = self._timers.after(SAVE_MS, self.save)

    def _send(self, message: ClientMessage) -> None:
        if self._link.online:
            self._link.send(message)

    def _keys_ready(self) -> None:
        self._retry_waiting(None)
        self._drain_inbox()

    # --- sending -----------------------------------------------------------------------------

    def send_direct(self, request: DirectRequest) -> None:
        """Seal ``request`` and send it as ``0043``, or keep it waiting (its state says why)."""
        cid = request.client_msg_id
        if cid not in self.model.outbox:
            self._waiting.pop(cid, None)  # acked or given up meanwhile
            return
        blob = self._blobs.get(cid) or self._seal(request)
        if blob is None:
            self._waiting[cid] = request
            return
        self._waiting.pop(cid, None)
        self._set_state(cid, "pending", only_from=("held", "waiting"))  # "retrying" stays
        self._send(SealedDirectRequest(request.to_username, cid, blob))

    def _seal(self, request: DirectRequest) -> str | None:
        me, peer = self.keyring.identity, request.to_username
        if me is None:
            return None
        if peer not in self._current:
            self._lookup(peer)
            return None
        key = self._current[peer]
        if key is None:
            self._set_state(request.client_msg_id, "waiting")
            if peer not in self._told:
                self._told.add(peer)
                self.model.system("@" + peer, view.NO_KEYS_TEXT.format(peer=peer), self._now_ms())
            return None
        if not self.state.pins.may_send(peer) or self.state.pins.pinned(peer) != key:
            self._set_state(request.client_msg_id, "held")
            return None
        name = self.model.username
        header = Header(name, peer, dm_conversation(name, peer), request.client_msg_id,
                        self._now_ms(), me.public.key_id, key.key_id)
        blob = to_field(seal(request.text, header, me, key, self._random))
        self._blobs[request.client_msg_id] = blob
        return blob

    def _set_state(self, cid: str, state: EntryState, only_from: tuple[str, ...] = ()) -> None:
        for entry in self.model.outbox.entries():
            if (entry.client_msg_id == cid and entry.state != state and entry.msg_id is None
                    and (not only_from or entry.state in only_from)):
                entry.state = state
                entry.version += 1

    def _retry_waiting(self, peer: str | None) -> None:
        for request in list(self._waiting.values()):
            if peer is None or request.to_username == peer:
                self.send_direct(request)

    def _lookup(self, peer: str) -> None:
        if peer not in self._asked and self._link.online:
            self._asked.add(peer)
            self._send(KeyLookupRequest(peer, ""))

    # --- receiving ---------------------------------------------------------------------------

    def received(self, message: ServerMessage) -> bool:
        """Take what is ours (keys, sealed messages, whatever waits behind one); False: the
        conversation handles ``message`` as before."""
        if isinstance(message, OwnKeys):
            self.keyring.own_keys(message)
        elif isinstance(message, PublicKeys):
            self._public_keys(message)
        elif isinstance(message, ErrorReply):
            if self._asked and self._retry_timer is None:  # a lookup may have failed
                self._retry_timer = self._timers.after(RETRY_LOOKUP_MS, self._ask_again)
            return False
        elif self._inbox or isinstance(message, SealedDirectDelivery):
            self._inbox.append(message)  # in order: behind keys being fetched, blobs opening
            self._drain_inbox()
        elif isinstance(message, DirectDelivery):
            self.deliver(self._labelled(message))
        else:
            if isinstance(message, Ack):
                self._blobs.pop(message.client_msg_id, None)
            return False
        return True

    @staticmethod
    def _labelled(message: ServerMessage) -> ServerMessage:
        """A clear direct message (``1003``, from an older client, or made up by the server)
        is shown with a label: it has no signature, so anyone who runs the server could
        have written it."""
        if isinstance(message, DirectDelivery) and not isinstance(message, UnverifiedDelivery):
            return replace(message, text=CLEAR_LABEL + message.text)
        return message

    def _ask_again(self) -> None:
        self._retry_timer = None
        asked, self._asked = self._asked, set()
        for peer in asked:
            self._lookup(peer)

    def attach(self, traffic: ChatTraffic, on_safety: Callable[[SafetyView], None]) -> None:
        """Pass opened messages to ``traffic``, safety numbers to the verify dialog."""
        self.deliver, self.on_safety = traffic.received, on_safety
        self.repaint = lambda: traffic.refresh(now=True)

    def _opened_later(self) -> None:
        """Blobs finished opening between two pumps: pass them on and paint them now, so the
        window (unread count, title) agrees with what the notification says."""
        self._drain_inbox()
        self.repaint()

    def _drain_inbox(self) -> None:
        """Pass on what is ready from the front of the inbox; start opening what can be."""
        for message in self._inbox:
            if (isinstance(message, SealedDirectDelivery) and not self._opener.started(message)
                    and self._can_open(message)):
                self._opener.start(message, self._prepare(message))
        while self._inbox:
            message = self._inbox[0]
            if isinstance(message, SealedDirectDelivery):
                done = self._opener.take(message) if self._opener.started(message) else None
                if done is None:
                    return
                self._inbox.popleft()
                self._opened(message, done)
            else:
                self._inbox.popleft()
                if isinstance(message, Ack):
                    self._blobs.pop(message.client_msg_id, None)
                self.deliver(self._labelled(message))

    def _can_open(self, message: SealedDirectDelivery) -> bool:
        """True when ``message`` can be judged now; else the key it needs is being fetched."""
        if not self.keyring.ready:
            return bool(self.keyring.failure)
        try:
            header = read_header(from_field(message.blob))
        except ValueError:
            return True  # judged at once: malformed
        sender = header.sender
        if sender == self.model.username or sender in self._current:
            return True
        pinned = self.state.pins.pinned(sender)
        if pinned is not None and pinned.key_id == header.sender_key_id:
            return True
        self._lookup(sender)
        return not self._link.online  # offline: no answer will come; judge with what we have

    def _prepare(self, message: SealedDirectDelivery) -> Callable[[], Opened]:
        """The opening of ``message`` as a job for the worker, with the keys known now."""
        me, name, failure = self.keyring.identity, self.model.username, self.keyring.failure
        try:
            sender_key = self.state.pins.pinned(read_header(from_field(message.blob)).sender)
        except ValueError:
            sender_key = None  # the job says why

        def job() -> Opened:
            if me is None:
                raise ValueError(failure or "your keys are not open")
            blob = from_field(message.blob)
            header = read_header(blob)
            if header.sender != message.sender or header.recipient != message.recipient:
                raise ValueError("the server names other people than the sealed message")
            key = me.public if header.sender == name else sender_key
            if key is None:
                raise ValueError("the sender's keys are unknown")
            return open_blob(blob, name, me, key)

        return job

    def _opened(self, message: SealedDirectDelivery, done: Future[Opened]) -> None:
        """Pass on an opened message, or a line saying why it could not be verified."""
        try:
            opened = done.result()
            self.state.seen.check(opened, message.msg_id)
        except (Unverifiable, ValueError) as exc:
            logger.warning("direct message %d could not be verified: %s", message.msg_id, exc)
            self.deliver(UnverifiedDelivery(
                message.msg_id, message.sender, message.sender_nickname, message.recipient,
                message.sent_ms,
                view.UNVERIFIED_TEXT.format(sender=message.sender_nickname or message.sender,
                                       why=str(exc))))
            return
        self._changed()
        self.deliver(DirectDelivery(message.msg_id, message.sender, message.sender_nickname,
                                    message.recipient, message.sent_ms, opened.text))

    # --- keys of others ----------------------------------------------------------------------

    def _public_keys(self, message: PublicKeys) -> None:
        peer = message.username
        if peer == self.model.username:
            self.keyring.announced(message.bundle)
            return
        asked = peer in self._asked
        self._asked.discard(peer)
        if not asked and peer not in self._current and self.state.pins.pinned(peer) is None:
            return  # someone we have nothing to do with published keys
        key: PublicIdentity | None = None
        if message.bundle:
            try:
                key = PublicIdentity.from_bytes(from_field(message.bundle))
            except (IdentityError, ValueError):
                logger.warning("the server sent an unusable key set for %s", peer)
        if key is not None:
            self._pin(peer, key)
        self._current[peer] = key
        self._retry_waiting(peer)
        self._drain_inbox()
        if self._safety_wanted == peer:
            self._safety_wanted = None
            self.request_safety(peer)

    def _pin(self, peer: str, key: PublicIdentity) -> None:
        pins, key_conv, now = self.state.pins, "@" + peer, self._now_ms()
        verdict = pins.see(peer, key)
        if verdict is PinVerdict.CHANGED:
            logger.warning("the keys of %s changed (not verified): warned, new key pinned", peer)
            pins.accept_change(peer, key)
            self.model.system(key_conv, view.CHANGED_TEXT.format(peer=peer), now)
        elif verdict is PinVerdict.CHANGED_VERIFIED and self.state.changed.get(peer) != key:
            logger.warning("the keys of verified contact %s changed: sending held", peer)
            self.state.changed[peer] = key
            self.model.system(key_conv, view.CHANGED_VERIFIED_TEXT.format(peer=peer), now)
        if verdict is not PinVerdict.SAME:
            self.save()

    # --- verification ------------------------------------------------------------------------

    def request_safety(self, peer: str) -> None:
        """Show the verify dialog for ``peer`` (after fetching their keys if need be)."""
        me, pinned = self.keyring.identity, self.state.pins.pinned(peer)
        if me is None or pinned is None:
            self._safety_wanted = peer
            self._lookup(peer)
            return
        name = self.model.username
        changed = self.state.changed.get(peer)
        self.on_safety(SafetyView(
            peer, safety_number(name, me.public, peer, pinned), self.state.pins.is_verified(peer),
            safety_number(name, me.public, peer, changed) if changed is not None else ""))

    def mark_verified(self, peer: str) -> None:
        if self.state.pins.pinned(peer) is not None and self.state.pins.may_send(peer):
            self.state.pins.mark_verified(peer)
            self.model.system("@" + peer, f"You marked {peer} as verified.", self._now_ms())
            self.save()

    def accept_key_change(self, peer: str) -> None:
        """The person checked a verified contact's new key: pin it (unverified) and send."""
        key = self.state.changed.pop(peer, None)
        if key is None:
            return
        self.state.pins.accept_change(peer, key)
        self._current[peer] = key
        self.model.system("@" + peer, f"You accepted {peer}'s new keys; compare the safety "
                          "number again to mark them verified.", self._now_ms())
        self.save()
        self._retry_waiting(peer)

    def note(self, conversation: str) -> SecurityNote:
        """The header's lock marker for ``conversation``."""
        peer = conversation.removeprefix("@")
        return view.security_note(conversation, peer in self.state.changed,
                             self.state.pins.is_verified(peer))
