"""The chat's rules: login, relay, direct messages, history, presence. No sockets, no SQL.

The listener turns bytes into messages and calls ``on_message`` from the connection's reader
thread; the service answers through ``session.send`` (the connection's own outbox) and reaches
everyone else only through the hub. Storage is the injected ``Store`` and ``GroupCommitter``.

Rules worth knowing when reading the code:

- The sender of anything is the account logged in on the connection, never a field of the
  message (DESIGN §8 S6).
- Every login failure reads ``wrong username or password``; unknown users get the same Argon2id
  work (dummy verify) and, in memory, the same back-off as real accounts, so neither the text
  nor the timing nor the lock tells whether an account exists.
- A message is committed before its ``1007`` ack and before anyone sees it; a resend with the
  same ``client_msg_id`` gets the first ack and is not relayed again.
- Direct messages are handled in one place (``_direct`` / ``_direct_line``) so that end-to-end
  encryption (DESIGN §9) can replace that part alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from common.errors import RemoteProtocolError
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    ClientMessage,
    DirectDelivery,
    DirectRequest,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    PingRequest,
    Pong,
    ResumeRequest,
    ServerMessage,
    encode_message,
)
from server.commit import GroupCommitter, Result
from server.hub import Hub, Outbox
from server.limits import KeyedBuckets
from server.options import ServerOptions
from server.passwords import PasswordHasherPool
from server.store import NewMessage, Store, StoredMessage, StoreUnavailable, UserRecord

log = logging.getLogger(__name__)

LOBBY = "lobby"
WRONG_CREDENTIALS = "wrong username or password"
TOO_MANY_ATTEMPTS = "too many attempts, try again later"
SERVICE_UNAVAILABLE = "service unavailable"
RESUME_FAILED = "session expired, log in again"
TOKEN_BYTES = 32


def dm_conversation(a: str, b: str) -> str:
    """The stored key of the direct conversation between ``a`` and ``b`` (order-free)."""
    low, high = sorted((a, b))
    return f"dm:{low}:{high}"


def hash_token(token: bytes) -> bytes:
    """What the database keeps of a resume token: its SHA-256, never the token."""
    return hashlib.sha256(token).digest()


def decode_token(text: str) -> bytes | None:
    """The 32 bytes of a urlsafe-base64 token (padding optional), or None if it is not one."""
    if not 40 <= len(text) <= 48:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == TOKEN_BYTES else None


@dataclass(eq=False)
class ClientSession:
    """What the service knows about one connection; created and owned by the listener."""

    address: str  # the peer's IP: the key of per-address limits
    peer: str  # "ip:port", for log lines
    outbox: Outbox  # this connection's queue (the hub holds the same object)
    username: str | None = None
    nickname: str | None = None
    bad_messages: int = 0
    closed: bool = field(default=False, repr=False)

    @property
    def logged_in(self) -> bool:
        return self.username is not None

    def send(self, message: ServerMessage | bytes) -> None:
        """Queue a reply on this connection (encoded here unless it already is)."""
        line = message if isinstance(message, bytes) else encode_message(message).encode()
        self.outbox.put(line)

    def error(self, code_word: str, text: str) -> None:
        """Queue a ``1009``."""
        self.send(ErrorReply(code_word, text))


class _FailureMemo:
    """Failure counts and locks of unknown usernames, in memory, bounded.

    Real accounts keep theirs in the database; keeping the same book for names that do not
    exist makes the back-off answer look the same for both, so it does not reveal accounts.
    """

    def __init__(self, max_keys: int) -> None:
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._max = max(1, max_keys)
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[int, int]:
        with self._lock:
            return self._items.get(name, (0, 0))

    def put(self, name: str, count: int, locked_until_ms: int) -> None:
        with self._lock:
            self._items[name] = (count, locked_until_ms)
            self._items.move_to_end(name)
            while len(self._items) > self._max:
                self._items.popitem(last=False)


class ChatService:
    """Policy for every client message; thread-safe, one instance per server."""

    def __init__(
        self,
        store: Store,
        hasher: PasswordHasherPool,
        hub: Hub,
        committer: GroupCommitter,
        options: ServerOptions,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._hasher, self._hub = store, hasher, hub
        self._committer, self._options = committer, options
        self._wall = wall_clock
        keys = options.rate_limit_keys
        self._login_failures = KeyedBuckets(
            options.login_failure_rate, options.login_failure_burst, keys, clock
        )
        self._message_rate = KeyedBuckets(options.msg_rate, options.msg_burst, keys, clock)
        self._unknown_failures = _FailureMemo(keys)
        self._known_users: OrderedDict[str, None] = OrderedDict()  # cache of existing accounts
        self._known_lock = threading.Lock()
        self._handlers: dict[type, Callable[[ClientSession, ClientMessage], bool]] = {
            ChatRequest: self._chat,  # type: ignore[dict-item]
            DirectRequest: self._direct,  # type: ignore[dict-item]
            HistoryRequest: self._history,  # type: ignore[dict-item]
            PingRequest: self._ping,  # type: ignore[dict-item]
            LogoutRequest: self._logout,  # type: ignore[dict-item]
        }

    def now_ms(self) -> int:
        return int(self._wall() * 1000)

    # --- entry points (called by the listener's reader thread) -----------------------------

    def on_message(self, session: ClientSession, message: ClientMessage) -> bool:
        """Handle one message; False means close the connection (after flushing replies)."""
        if isinstance(message, LoginRequest | ResumeRequest):
            if session.logged_in:
                session.error("bad_request", "already logged in")
                return True
            if isinstance(message, LoginRequest):
                return self._login(session, message)
            return self._resume(session, message)
        if not session.logged_in:
            session.error("not_logged_in", "log in first")
            return self._count_bad(session, "message before login")
        handler = self._handlers.get(type(message))
        if handler is None:  # a client code this server does not serve
            session.error("bad_request", "not supported")
            return self._count_bad(session, "unsupported message")
        return handler(session, message)

    def on_bad_message(self, session: ClientSession, error: RemoteProtocolError) -> bool:
        """A malformed message in an authentic record: answer ``1009``; False after too many."""
        session.error(error.error_code, f"malformed message: {error}")
        return self._count_bad(session, str(error))

    def on_disconnect(self, session: ClientSession, reason: str) -> None:
        """The connection is gone: leave the roster (presence ``leave`` on the last window)."""
        if session.closed:
            return
        session.closed = True
        if session.username is not None:
            self._hub.detach(session.username, session.outbox)
            log.info("%s (%s) disconnected: %s", session.peer, session.username, reason)
        else:
            log.info("%s disconnected before login: %s", session.peer, reason)

    def _count_bad(self, session: ClientSession, what: str) -> bool:
        session.bad_messages += 1
        log.info("bad message %d from %s: %s", session.bad_messages, session.peer, what)
        if session.bad_messages >= self._options.max_bad_messages:
            log.warning("closing %s after %d bad messages", session.peer, session.bad_messages)
            return False
        return True

    # --- login and resume ------------------------------------------------------------------

    def _login(self, session: ClientSession, request: LoginRequest) -> bool:
        opts = self._options
        if not self._login_failures.allows(session.address):
            log.warning("login from %s throttled: too many failures here", session.peer)
            session.send(LoginResult(False, "", "", TOO_MANY_ATTEMPTS))
            return True
        name, password = request.username, request.password
        plausible = 0 < len(name) <= opts.max_username and len(password) <= opts.max_password
        try:
            user = self._store.get_user(name) if plausible else None
        except StoreUnavailable as exc:
            log.warning("login from %s: database unavailable (%s)", session.peer, exc)
            session.send(LoginResult(False, "", "", SERVICE_UNAVAILABLE))
            return True
        now = self.now_ms()
        failures, locked_until = (
            (user.failed_logins, user.locked_until_ms) if user else self._unknown_failures.get(name)
        )
        if locked_until > now:
            log.warning("login for %s from %s refused: account back-off", _who(user), session.peer)
            session.send(LoginResult(False, "", "", TOO_MANY_ATTEMPTS))
            return True
        stored_hash = user.password_hash if user else None
        ok = self._hasher.verify(stored_hash, password[: opts.max_password])
        if not ok or user is None:  # verify() is never True for an unknown user
            self._login_failed(session, name, user, failures, now)
            return True
        try:
            if user.failed_logins or user.locked_until_ms:
                self._store.reset_login_failures(user.username)
            self._maybe_rehash(user, password)
            return self._establish(session, user.username, user.nickname, "password")
        except StoreUnavailable as exc:
            log.warning("login from %s: database unavailable (%s)", session.peer, exc)
            session.send(LoginResult(False, "", "", SERVICE_UNAVAILABLE))
            return True

    def _login_failed(
        self, session: ClientSession, name: str, user: UserRecord | None, failures: int, now: int
    ) -> None:
        opts = self._options
        self._login_failures.charge(session.address)
        lock_until = 0
        if failures + 1 >= opts.account_backoff_after:
            lock_until = now + int(opts.account_backoff_seconds * 1000)
        if user is None:
            self._unknown_failures.put(name, failures + 1, lock_until)
        else:
            try:
                self._store.record_login_failure(user.username, lock_until)
            except StoreUnavailable as exc:
                log.warning("could not record a login failure: %s", exc)
        log.warning(
            "login failed for %s from %s%s",
            _who(user),
            session.peer,
            "; account back-off starts" if lock_until else "",
        )
        session.send(LoginResult(False, "", "", WRONG_CREDENTIALS))

    def _maybe_rehash(self, user: UserRecord, password: str) -> None:
        """Upgrade a hash made with weaker parameters, now that we know the password."""
        if self._hasher.needs_rehash(user.password_hash):
            self._store.set_password_hash(user.username, self._hasher.hash(password))
            log.info("password hash of %s upgraded", user.username)

    def _resume(self, session: ClientSession, request: ResumeRequest) -> bool:
        if not self._login_failures.allows(session.address):
            log.warning("resume from %s throttled", session.peer)
            session.send(LoginResult(False, "", "", TOO_MANY_ATTEMPTS))
            return True
        raw = decode_token(request.resume_token)
        try:
            owner = (
                self._store.consume_resume_token(hash_token(raw), self.now_ms()) if raw else None
            )
            user = self._store.get_user(owner) if owner == request.username else None
            if user is None:
                self._login_failures.charge(session.address)
                log.warning("resume failed from %s: unknown, used or expired token", session.peer)
                session.send(LoginResult(False, "", "", RESUME_FAILED))
                return True
            return self._establish(session, user.username, user.nickname, "resume token")
        except StoreUnavailable as exc:
            log.warning("resume from %s: database unavailable (%s)", session.peer, exc)
            session.send(LoginResult(False, "", "", SERVICE_UNAVAILABLE))
            return True

    def _establish(self, session: ClientSession, username: str, nickname: str, how: str) -> bool:
        """Issue a fresh single-use resume token, answer ``1001``, join the roster."""
        token = secrets.token_bytes(TOKEN_BYTES)
        expires = self.now_ms() + int(self._options.resume_token_ttl * 1000)
        self._store.save_resume_token(hash_token(token), username, expires)
        text = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
        session.username, session.nickname = username, nickname
        self._remember_user(username)
        session.send(LoginResult(True, nickname, username, text))
        self._hub.attach(username, nickname, session.outbox)
        log.info("%s logged in as %s (%s)", session.peer, username, how)
        return True

    # --- room chat -------------------------------------------------------------------------

    def _chat(self, session: ClientSession, request: ChatRequest) -> bool:
        if request.room != LOBBY:
            session.error("bad_request", "the only room is lobby")
            return True
        if not self._acceptable(session, request.client_msg_id, request.text):
            return True
        assert session.username is not None
        message = NewMessage(
            LOBBY, session.username, None, request.client_msg_id, request.text, self.now_ms()
        )
        self._commit_then_relay(session, message)
        return True

    def _room_line(self, stored: StoredMessage) -> bytes:
        return encode_message(
            ChatDelivery(
                stored.msg_id,
                stored.conversation,
                stored.sender,
                stored.sender_nickname,
                stored.created_ms,
                stored.text,
            )
        ).encode()

    # --- direct messages (all of it here, so E2E can replace it: DESIGN §9) -------------------

    def _direct(self, session: ClientSession, request: DirectRequest) -> bool:
        recipient = request.to_username
        if not self._acceptable(session, request.client_msg_id, request.text):
            return True
        try:
            exists = self._user_exists(recipient)
        except StoreUnavailable:
            session.error("unavailable", "the database is unavailable; try again")
            return True
        if not exists:
            session.error("no_such_user", "no such user")
            return True
        assert session.username is not None
        message = NewMessage(
            dm_conversation(session.username, recipient),
            session.username,
            recipient,
            request.client_msg_id,
            request.text,
            self.now_ms(),
        )
        self._commit_then_relay(session, message)
        return True

    def _direct_line(self, stored: StoredMessage) -> bytes:
        return encode_message(
            DirectDelivery(
                stored.msg_id,
                stored.sender,
                stored.sender_nickname,
                stored.recipient or "",
                stored.created_ms,
                stored.text,
            )
        ).encode()

    def _relay_direct(self, stored: StoredMessage, line: bytes, origin: Outbox | None) -> None:
        """To the recipient's windows and the sender's other windows."""
        self._hub.deliver({stored.recipient or stored.sender, stored.sender}, line, exclude=origin)

    def _direct_history_key(self, username: str, conversation: str) -> str | None:
        peer = conversation[1:]
        if not 0 < len(peer) <= self._options.max_username:
            return None
        return dm_conversation(username, peer)

    def _user_exists(self, username: str) -> bool:
        if not 0 < len(username) <= self._options.max_username:
            return False
        with self._known_lock:
            if username in self._known_users:
                return True
        exists = self._store.user_exists(username)
        if exists:
            self._remember_user(username)
        return exists

    def _remember_user(self, username: str) -> None:
        with self._known_lock:
            self._known_users[username] = None
            if len(self._known_users) > self._options.rate_limit_keys:
                self._known_users.popitem(last=False)

    # --- shared by room and direct ---------------------------------------------------------

    def _acceptable(self, session: ClientSession, client_msg_id: str, text: str) -> bool:
        """Checks every send passes before it costs a database write."""
        opts = self._options
        if not 0 < len(client_msg_id) <= opts.max_client_msg_id:
            session.error("bad_request", f"client_msg_id must be 1..{opts.max_client_msg_id} long")
        elif not text:
            session.error("bad_request", "empty message")
        elif len(text) > opts.max_text:
            session.error("too_long", f"message is longer than {opts.max_text} characters")
        elif not self._message_rate.take(session.username or ""):
            log.info("messages from %s (%s) rate limited", session.username, session.peer)
            session.error("rate_limited", "slow down")
        else:
            return True
        return False

    def _commit_then_relay(self, session: ClientSession, message: NewMessage) -> None:
        """Commit, then ack, then relay; an outage answers ``unavailable`` and relays nothing."""
        future = self._committer.submit(message)
        try:
            stored, is_new = future.result(timeout=self._options.commit_timeout)
        except StoreUnavailable:
            session.error("unavailable", "the message was not stored; it will be resent")
            return
        except TimeoutError:
            # The commit may still succeed: then ack and relay late rather than store a message
            # nobody saw (a resend would only get the ack, never the relay).
            log.warning("commit for %s is slow; answering unavailable", session.peer)
            session.error("unavailable", "the message was not stored in time; it will be resent")
            future.add_done_callback(lambda done: self._late(session, done))
            return
        self._after_commit(session, stored, is_new)

    def _late(self, session: ClientSession, future: Future[Result]) -> None:
        if future.exception() is None and not session.closed:
            stored, is_new = future.result()
            self._after_commit(session, stored, is_new)

    def _after_commit(self, session: ClientSession, stored: StoredMessage, is_new: bool) -> None:
        session.send(Ack(stored.client_msg_id, stored.msg_id, stored.created_ms))
        if not is_new:
            log.info("resend of message %d from %s acked again", stored.msg_id, stored.sender)
            return
        if stored.recipient is None:
            self._hub.broadcast(self._room_line(stored))
        else:
            self._relay_direct(stored, self._direct_line(stored), session.outbox)

    # --- history, ping, logout -------------------------------------------------------------

    def _history(self, session: ClientSession, request: HistoryRequest) -> bool:
        assert session.username is not None
        conversation = request.conversation
        if conversation == LOBBY:
            key: str | None = LOBBY
        elif conversation.startswith("@"):
            key = self._direct_history_key(session.username, conversation)
        else:
            key = None
        if key is None:
            session.error("bad_request", "conversation is lobby or @username")
            return True
        limit = min(max(request.limit, 1), self._options.history_limit)
        try:
            rows, more = self._store.history(key, request.before_msg_id, limit)
        except StoreUnavailable:
            session.error("unavailable", "history is unavailable; try again")
            return True
        for row in rows:
            session.send(self._direct_line(row) if row.recipient else self._room_line(row))
        oldest = rows[0].msg_id if rows else None
        session.send(HistoryEnd(conversation, oldest, more))
        return True

    def _ping(self, session: ClientSession, request: PingRequest) -> bool:
        session.send(Pong(request.nonce))
        return True

    def _logout(self, session: ClientSession, request: LogoutRequest) -> bool:
        log.info("%s (%s) logged out", session.peer, session.username)
        return False


def _who(user: UserRecord | None) -> str:
    """A name for log lines: the account, or a placeholder (never what was typed).

    A person who types their password into the username field must not find it in the log.
    """
    return user.username if user is not None else "<unknown user>"
