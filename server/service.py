"""The chat's rules: login, relay, direct messages, history, presence. No sockets, no SQL.

The listener turns bytes into messages and calls ``on_message`` from the connection's reader
thread; the service answers through ``session.send`` (the connection's own outbox) and reaches
everyone else only through the hub. Storage is the injected ``Store`` and ``GroupCommitter``.

Rules worth knowing when reading the code:

- The sender of anything is the account logged in on the connection, never a field of the
  message (DESIGN §8 S6).
- Login and resume are decided by ``server.accounts`` (Argon2id, back-off, tokens); the
  service only answers ``1001`` and puts the session on the roster.
- A message is committed before its ``1007`` ack and before anyone sees it; a resend with the
  same ``client_msg_id`` gets the first ack and is not relayed again.
- Direct messages are handled in one place (``_direct`` / ``_direct_line``) so that end-to-end
  encryption (DESIGN §9) can replace that part alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from common.errors import RemoteProtocolError
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    ClientMessage,
    DirectDelivery,
    DirectRequest,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    PingRequest,
    Pong,
    ResumeRequest,
    encode_message,
    escape_field,
)
from server.accounts import Accounts, Identity
from server.commit import GroupCommitter, Result
from server.hub import Hub, Outbox
from server.limits import KeyedBuckets, RequestLimiter
from server.options import ServerOptions
from server.outbox import after_flush
from server.passwords import PasswordHasherPool
from server.session import ClientSession
from server.store import NewMessage, Store, StoredMessage, StoreUnavailable

log = logging.getLogger(__name__)

LOBBY = "lobby"
TOO_MANY_CONNECTIONS = "too many connections for this account"
GCM_TAG = 16


def dm_conversation(a: str, b: str) -> str:
    """The stored key of the direct conversation between ``a`` and ``b`` (order-free)."""
    low, high = sorted((a, b))
    return f"dm:{low}:{high}"


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
        self._store, self._hub = store, hub
        self._committer, self._options = committer, options
        self._wall = wall_clock
        self._accounts = Accounts(store, hasher, options, wall_clock=wall_clock, clock=clock)
        keys = options.rate_limit_keys
        self._message_rate = KeyedBuckets(options.msg_rate, options.msg_burst, keys, clock)
        self._known_users: OrderedDict[str, None] = OrderedDict()  # cache of existing accounts
        self._known_lock = threading.Lock()
        self._account_conns: dict[str, int] = {}  # logged-in connections per account
        self._account_lock = threading.Lock()
        self._history_rows = KeyedBuckets(
            options.history_rows_rate, options.history_rows_burst, keys, clock
        )
        self._requests = RequestLimiter(options.request_rate, options.request_burst, clock)
        # room for a delivery's other fields (ids, names, time) inside one record
        self._max_text_bytes = options.max_frame - GCM_TAG - 512
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
        if handler not in (self._chat, self._direct):
            self._settle(session)  # its answer comes after the acks of earlier sends
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
        self._settle(session)  # queue the acks of what is in flight before the connection closes
        session.closed = True
        self._requests.forget(session)
        if session.username is not None:
            self._release_account_slot(session.username)
            self._hub.detach(session.username, session.outbox)
            log.info("%s (%s) disconnected: %s", session.peer, session.username, reason)
        else:
            log.info("%s disconnected before login: %s", session.peer, reason)

    def close(self) -> None:
        """Server shutdown (after the connections): deliver pending presence, stop the hub."""
        self._hub.close()

    def _count_bad(self, session: ClientSession, what: str) -> bool:
        session.bad_messages += 1
        log.info("bad message %d from %s: %s", session.bad_messages, session.peer, what)
        if session.bad_messages >= self._options.max_bad_messages:
            log.warning("closing %s after %d bad messages", session.peer, session.bad_messages)
            return False
        return True

    # --- login and resume (the checks live in server.accounts) --------------------------------

    def _login(self, session: ClientSession, request: LoginRequest) -> bool:
        outcome = self._accounts.login(
            session.address, session.peer, request.username, request.password
        )
        return self._admit(session, outcome, "password")

    def _resume(self, session: ClientSession, request: ResumeRequest) -> bool:
        outcome = self._accounts.resume(
            session.address, session.peer, request.username, request.resume_token
        )
        return self._admit(session, outcome, "resume token")

    def _admit(self, session: ClientSession, outcome: Identity | str, how: str) -> bool:
        """Answer ``1001``; on success join the roster (roster to it, ``join`` to the others)."""
        if isinstance(outcome, str):
            session.send(LoginResult(False, "", "", outcome))
            return True
        if not self._claim_account_slot(outcome.username):
            log.warning("%s: too many connections for %s", session.peer, outcome.username)
            session.send(LoginResult(False, "", "", TOO_MANY_CONNECTIONS))
            return True
        session.username, session.nickname = outcome.username, outcome.nickname
        self._remember_user(outcome.username)
        session.send(LoginResult(True, outcome.nickname, outcome.username, outcome.resume_token))
        self._hub.attach(outcome.username, outcome.nickname, session.outbox)
        log.info("%s logged in as %s (%s)", session.peer, outcome.username, how)
        return True

    # --- room chat -------------------------------------------------------------------------

    def _chat(self, session: ClientSession, request: ChatRequest) -> bool:
        if request.room != LOBBY:
            session.error("bad_request", "the only room is lobby")
            return True
        if not self._acceptable(session, request.client_msg_id, request.text):
            return self._count_request(session)
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
            return self._count_request(session)
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
        elif len(text) > opts.max_text or len(escape_field(text).encode()) > self._max_text_bytes:
            # the second test only matters if max_text is set so high that a delivery of the
            # text would no longer fit one record
            session.error("too_long", f"message is longer than {opts.max_text} characters")
        elif not self._message_rate.take(session.username or ""):
            log.info("messages from %s (%s) rate limited", session.username, session.peer)
            session.error("rate_limited", "slow down")
        else:
            return True
        return False

    def _commit_then_relay(self, session: ClientSession, message: NewMessage) -> None:
        """Queue for the group commit and return; ``_committed`` acks and relays (in order)."""
        if not session.commits.wait_for_room(self._options.commit_timeout):
            self._too_slow(session)
        delivered: Future[None] = Future()  # done once the ack and relays are on the outboxes
        session.commits.add(delivered)
        self._committer.submit(message).add_done_callback(
            lambda done: self._committed(session, done, delivered)
        )

    def _settle(self, session: ClientSession) -> None:
        if not session.commits.settle(self._options.commit_timeout):
            self._too_slow(session)

    def _too_slow(self, session: ClientSession) -> None:
        """The database is slow: say so; the commits stay queued and, if they succeed, their
        ``1007`` and relay follow late (never a stored message that nobody saw)."""
        count = session.commits.forget()
        log.warning("%d commit(s) for %s are slow; answering unavailable", count, session.peer)
        session.error("unavailable", "messages were not stored in time; they will be resent")

    def _committed(
        self, session: ClientSession, future: Future[Result], delivered: Future[None]
    ) -> None:
        """On the group-commit thread, in commit order: ack, then relay; or ``unavailable``."""
        try:
            stored, is_new = future.result()
            self._after_commit(session, stored, is_new)
        except StoreUnavailable:
            session.error("unavailable", "the message was not stored; it will be resent")
        except Exception:  # the committer turns errors into StoreUnavailable; be safe anyway
            log.exception("commit callback for %s failed", session.peer)
            session.error("unavailable", "the message was not stored; it will be resent")
        finally:
            after_flush(lambda: delivered.set_result(None))

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
        if not self._history_rows.take(session.username, limit):
            session.error("rate_limited", "too much history at once; slow down")
            return self._count_request(session)
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
        verdict = self._requests.check(session)
        if verdict == "ok":
            session.send(Pong(request.nonce))
            return True
        return self._refuse_request(session, verdict)

    def _logout(self, session: ClientSession, request: LogoutRequest) -> bool:
        log.info("%s (%s) logged out", session.peer, session.username)
        return False

    # --- connections per account -----------------------------------------------------------

    def _claim_account_slot(self, username: str) -> bool:
        """Count one more connection of ``username``; False past ``max_conns_per_account``.

        Each connection may hold megabytes of queued replies and two threads; without this
        bound one password multiplied by many sockets is a memory attack.
        """
        with self._account_lock:
            count = self._account_conns.get(username, 0)
            if count >= self._options.max_conns_per_account:
                return False
            self._account_conns[username] = count + 1
            return True

    def _release_account_slot(self, username: str) -> None:
        with self._account_lock:
            left = self._account_conns.get(username, 1) - 1
            if left > 0:
                self._account_conns[username] = left
            else:
                self._account_conns.pop(username, None)

    # --- cheap requests per connection -----------------------------------------------------

    def _count_request(self, session: ClientSession) -> bool:
        """A refused send or history page still cost a decode and a reply: count it against
        the connection's request bucket (False: close the connection)."""
        if self._requests.check(session) == "cut":
            return self._refuse_request(session, "cut")
        return True

    def _refuse_request(self, session: ClientSession, verdict: str) -> bool:
        """Past the bucket: ``rate_limited``; past ``request_burst`` refusals in a row: close."""
        if verdict == "cut":
            log.warning("closing %s: requests go on while rate limited", session.peer)
            return False
        session.error("rate_limited", "too many requests; slow down")
        return True
