"""The chat's rules: login, relay, direct messages, history, presence. No sockets, no SQL.

The listener turns bytes into messages and calls ``on_message`` from the connection's reader
thread; the service answers on that connection's outbox (``ConnectionState.send``) and finds
everyone else through the hub. Storage is the injected ``ChatStore`` and ``Committer``
(``server.ports``).

The path of a chat message, straight down:

1. ``on_message`` (reader thread) checks it (``_acceptable``) and queues it for the group
   commit (``_queue_send``); the reader goes on with the next message.
2. The committer stores a batch in one transaction and calls ``on_committed`` once with the
   whole batch (commit thread). For each send, in queue order, it adds the ``1007`` ack (or an
   ``unavailable`` error) for the sender and, if the message is new, its delivery for every
   recipient connection; then it puts each connection's lines on its outbox as ONE item, so a
   group commit reaches each recipient as one record.
3. A request whose answer must come after the acks of earlier sends (history, ping, logout,
   an unsupported code, the end of the connection) first waits until ``on_committed`` has
   answered them (``_wait_for_earlier_sends``).

Rules worth knowing when reading the code:

- The sender of anything is the account logged in on the connection, never a field of the
  message (SECURITY.md).
- Login and resume are decided by ``server.accounts`` (Argon2id, back-off, tokens); the
  service only answers ``1001`` and puts the connection on the roster.
- A message is committed before its ``1007`` ack and before anyone sees it; a resend with the
  same ``client_msg_id`` gets the first ack and is not relayed again.
- Direct messages are handled in one place (``_direct`` here, the rest in ``server.direct``)
  so that end-to-end encryption can replace that part alone.
- What an account or a connection may cost (connections, logins, history rows, cheap
  requests) is counted by ``server.admission``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from common import messages_account as account
from common import messages_e2e as e2e
from common import messages_login as signin
from common.errors import RemoteProtocolError
from common.messages import (
    Ack,
    ChatRequest,
    ClientMessage,
    DirectRequest,
    ErrorReply,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    PingRequest,
    Pong,
    ResumeRequest,
    escape_field,
)
from common.messages_rooms import ROOM_REQUESTS
from common.protocol import LOBBY, LoginRefusal
from server.account_requests import AccountRequests, SessionRow
from server.accounts import TOO_MANY_ATTEMPTS, Accounts, Identity, LockedOut
from server.admission import Admission
from server.commit import Committed
from server.connection_state import ConnectionState
from server.conversations import RoomRequests
from server.direct import DirectMessages, dm_conversation, line_of
from server.e2e import EndToEnd
from server.history import HistoryPages
from server.hub import EVERYONE, Audience, Hub, LineSink, Publication
from server.limits import SharedCounts
from server.limits_redis import buckets
from server.options import ServerOptions
from server.ports import ChatStore, Committer, PasswordHasher
from server.rooms import room_line
from server.signin import SignIn
from server.store import NewMessage, StoredMessage, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingSend:
    """A send queued for the group commit: who sent it, and the pipeline's mark that is set
    once its ack (and relays) are on the outboxes."""

    sender: ConnectionState
    answered: Future[None]


NOT_STORED = line_of(ErrorReply("unavailable", "the message was not stored; it will be resent"))

TOO_MANY_CONNECTIONS = LoginRefusal.TOO_MANY_CONNECTIONS


class ChatService:
    """Policy for every client message; thread-safe, one instance per server."""

    def __init__(
        self,
        store: ChatStore,
        hasher: PasswordHasher,
        hub: Hub,
        committer: Committer[PendingSend],
        options: ServerOptions,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        shared_counts: SharedCounts | None = None,  # a cluster's connections per account
        key_hasher: PasswordHasher | None = None, salt_secret: bytes = b"",  # server.credentials
    ) -> None:
        self._store, self._hub = store, hub
        self._committer, self._options = committer, options
        self._wall = wall_clock
        self._accounts = Accounts(store, hasher, options, wall_clock=wall_clock, clock=clock,
                                  key_hasher=key_hasher, salt_secret=salt_secret)
        keys = options.rate_limit_keys
        self._message_rate = buckets(
            options.redis_url, "msg", options.msg_rate, options.msg_burst, keys, clock
        )
        self._direct_messages = DirectMessages(store, hub, keys)
        self._admission = Admission(options, clock, shared_counts)
        self._signin = SignIn(self._accounts, self._admission, store, self._admit, options,
                              self.now_ms)
        self._rooms = RoomRequests(store, hub, options, self.now_ms, self._admission)
        self._history = HistoryPages(store, options, self._admission, self._direct_messages,
                                     self._rooms)
        self._e2e = EndToEnd(store, hub, self._direct_messages, self._admission,
                             self._message_rate, options, self.now_ms)
        self.account = AccountRequests(store, hasher, hub, self._accounts, self._admission,
                                       options, self.now_ms)
        # room for a delivery's other fields (ids, names, time) inside one record
        self._max_text_bytes = options.max_line - 512

    def now_ms(self) -> int:
        return int(self._wall() * 1000)

    @property
    def accounts(self) -> Accounts:
        """Logins and tokens; the wiring runs ``TokenSweeper(service.accounts, ...)``."""
        return self._accounts

    # --- entry points (called by the listener's reader thread) -----------------------------

    def on_message(self, conn: ConnectionState, message: ClientMessage) -> bool:
        """Handle one message; False means close the connection (after flushing replies).

        Sends are pipelined: they are queued for the group commit and answered by
        ``on_committed``. Every other request of a logged-in client is answered only after the
        acks of its earlier sends (PROTOCOL.md §5), so it first waits for them.
        """
        match message:
            case LoginRequest() | ResumeRequest() if conn.logged_in:
                conn.error("bad_request", "already logged in")
                return True
            case LoginRequest():
                return self._login(conn, message)
            case ResumeRequest():
                return self._resume(conn, message)
            case signin.KdfParamsRequest() | signin.KeyLoginRequest() | signin.RegisterRequest():
                return self._signin.before_login(conn, message)  # server.signin
            case _ if isinstance(message, account.ACCOUNT_REQUESTS) and (  # a password change
                    conn.logged_in or isinstance(message, account.ChangeSecretRequest)):  # too
                self._wait_for_earlier_sends(conn)
                return self.account.handle(conn, message)
            case _ if not conn.logged_in:
                conn.error("not_logged_in", "log in first")
                return self._count_bad(conn, "message before login")
            case ChatRequest():  # does not wait: answered by on_committed
                return self._chat(conn, message)
            case DirectRequest():  # does not wait: answered by on_committed
                return self._direct(conn, message)
            case e2e.SealedDirectRequest():  # does not wait: answered by on_committed
                return self._e2e.send(conn, message, self._queue_send)
            case e2e.PublishKeysRequest() | e2e.OwnKeysRequest() | e2e.KeyLookupRequest():
                self._wait_for_earlier_sends(conn)
                return self._e2e.on_key_request(conn, message)
            case HistoryRequest():
                self._wait_for_earlier_sends(conn)
                return self._history.answer(conn, message)
            case PingRequest():
                self._wait_for_earlier_sends(conn)
                return self._ping(conn, message)
            case _ if isinstance(message, ROOM_REQUESTS):  # server.conversations
                self._wait_for_earlier_sends(conn)
                return self._rooms.handle(conn, message)
            case signin.InviteRequest():
                self._wait_for_earlier_sends(conn)
                return self._signin.invite(conn, message)
            case LogoutRequest():
                self._wait_for_earlier_sends(conn)
                self._accounts.logout(conn.token_hash)  # the token given to this connection
                log.info("%s (%s) logged out", conn.peer, conn.username)
                return False
            case _:  # a client code this server does not serve
                self._wait_for_earlier_sends(conn)
                conn.error("bad_request", "not supported")
                return self._count_bad(conn, "unsupported message")

    def on_bad_message(self, conn: ConnectionState, error: RemoteProtocolError) -> bool:
        """A malformed message in an authentic record: answer ``1009``; False after too many."""
        conn.error(error.error_code, f"malformed message: {error}")
        return self._count_bad(conn, str(error))

    def on_disconnect(self, conn: ConnectionState, reason: str) -> None:
        """The connection is gone: leave the roster (presence ``leave`` on the last window)."""
        if conn.closed:
            return
        self._wait_for_earlier_sends(conn)  # their acks go out before the connection closes
        conn.closed = True
        self._admission.forget(conn)
        self._rooms.forget(conn.outbox)
        if conn.username is not None:
            self.account.ended(conn)
            self._admission.release_account_slot(conn.username)
            self._hub.detach(conn.username, conn.outbox)
            log.info("%s (%s) disconnected: %s", conn.peer, conn.username, reason)
        else:
            log.info("%s disconnected before login: %s", conn.peer, reason)

    def close(self) -> None:
        """Server shutdown (after the connections): deliver pending presence, stop the hub."""
        self._hub.close()

    def _count_bad(self, conn: ConnectionState, what: str) -> bool:
        conn.bad_messages += 1
        log.info("bad message %d from %s: %s", conn.bad_messages, conn.peer, what)
        if conn.bad_messages >= self._options.max_bad_messages:
            log.warning("closing %s after %d bad messages", conn.peer, conn.bad_messages)
            return False
        return True

    # --- login and resume (the checks live in server.accounts) --------------------------------

    def _login(self, conn: ConnectionState, request: LoginRequest) -> bool:
        if not self._admission.may_log_in(request.username, conn.address):
            return self._admit(conn, TOO_MANY_ATTEMPTS, "password")
        outcome = self._accounts.login(
            conn.address, conn.peer, request.username, request.password
        )
        return self._admit(conn, outcome, "password")

    def _resume(self, conn: ConnectionState, request: ResumeRequest) -> bool:
        if not self._admission.may_log_in(request.username, conn.address):
            return self._admit(conn, TOO_MANY_ATTEMPTS, "resume token")
        previous = self.account.session_before_resume(request.resume_token)
        outcome = self._accounts.resume(
            conn.address, conn.peer, request.username, request.resume_token
        )
        return self._admit(conn, outcome, "resume token", previous)

    def _admit(self, conn: ConnectionState, outcome: Identity | str, how: str,
               previous: SessionRow | None = None) -> bool:
        """Answer ``1001``; on success join the roster (roster to it, ``join`` to the others)."""
        outcome = self.account.screen(conn, outcome)  # a disabled account is refused here
        if isinstance(outcome, str):
            wait = outcome.seconds if isinstance(outcome, LockedOut) else None
            conn.send(LoginResult.refused(LoginRefusal(outcome), wait))
            return True
        if not self._admission.claim_account_slot(outcome.username):
            log.warning("%s: too many connections for %s", conn.peer, outcome.username)
            self._accounts.logout(outcome.token_hash)  # never sent: it must not crowd the cap
            conn.send(LoginResult.refused(TOO_MANY_CONNECTIONS))
            return True
        conn.username, conn.nickname = outcome.username, outcome.nickname
        conn.token_hash = outcome.token_hash
        self.account.started(conn, previous)
        self._direct_messages.remember_user(outcome.username)
        conn.send(LoginResult(True, outcome.nickname, outcome.username, outcome.resume_token))
        self._hub.attach(outcome.username, outcome.nickname, conn.outbox)
        log.info("%s logged in as %s (%s)", conn.peer, outcome.username, how)
        return True

    # --- room chat -------------------------------------------------------------------------

    def _chat(self, conn: ConnectionState, request: ChatRequest) -> bool:
        if not self._acceptable(conn, request.client_msg_id, request.text):
            return self._admission.count_request(conn)
        assert conn.username is not None
        key = LOBBY if request.room == LOBBY else self._rooms.send_key(conn, request.room)
        if key is None:  # refused (forbidden or unavailable), nothing stored
            return self._admission.count_request(conn)
        message = NewMessage(
            key, conn.username, None, request.client_msg_id, request.text, self.now_ms()
        )
        self._queue_send(conn, message)
        return True

    # --- direct messages (all of it here, so end-to-end encryption can replace it) ----------

    def _direct(self, conn: ConnectionState, request: DirectRequest) -> bool:
        recipient = request.to_username
        if not self._acceptable(conn, request.client_msg_id, request.text):
            return self._admission.count_request(conn)
        try:
            exists = self._direct_messages.user_exists(recipient)
        except StoreUnavailable:
            conn.error("unavailable", "the database is unavailable; try again")
            return True
        if not exists:
            conn.error("no_such_user", "no such user")
            return True
        assert conn.username is not None
        message = NewMessage(
            dm_conversation(conn.username, recipient),
            conn.username,
            recipient,
            request.client_msg_id,
            request.text,
            self.now_ms(),
        )
        self._queue_send(conn, message)
        return True

    # --- shared by room and direct ---------------------------------------------------------

    def _acceptable(self, conn: ConnectionState, client_msg_id: str, text: str) -> bool:
        """Checks every send passes before it costs a database write."""
        opts = self._options
        if not 0 < len(client_msg_id) <= opts.max_client_msg_id:
            conn.error("bad_request", f"client_msg_id must be 1..{opts.max_client_msg_id} long")
        elif not text:
            conn.error("bad_request", "empty message")
        elif len(text) > opts.max_text or len(escape_field(text).encode()) > self._max_text_bytes:
            # the second test only matters if max_text is set so high that a delivery of the
            # text would no longer fit one record
            conn.error("too_long", f"message is longer than {opts.max_text} characters")
        elif not self._message_rate.take(conn.username or ""):
            log.info("messages from %s (%s) rate limited", conn.username, conn.peer)
            conn.error("rate_limited", "slow down")
        else:
            return True
        return False

    def _queue_send(self, conn: ConnectionState, message: NewMessage) -> None:
        """Queue for the group commit and return; ``on_committed`` acks and relays it."""
        if not conn.commits.wait_for_room(self._options.commit_timeout):
            self._too_slow(conn)
        answered: Future[None] = Future()
        conn.commits.add(answered)
        if not self._committer.submit(message, PendingSend(conn, answered)):
            conn.outbox.put(NOT_STORED)  # the server is shutting down
            answered.set_result(None)

    def _wait_for_earlier_sends(self, conn: ConnectionState) -> None:
        """Block the reader until every earlier send of ``conn`` is answered (or time is up)."""
        if not conn.commits.settle(self._options.commit_timeout):
            self._too_slow(conn)

    def _too_slow(self, conn: ConnectionState) -> None:
        """The database is slow: say so; the commits stay queued and, if they succeed, their
        ``1007`` and relay follow late (never a stored message that nobody saw)."""
        count = conn.commits.forget()
        log.warning("%d commit(s) for %s are slow; answering unavailable", count, conn.peer)
        conn.error("unavailable", "messages were not stored in time; they will be resent")

    def delivery(self, stored: StoredMessage) -> tuple[bytes, Audience]:
        """A stored message's line and who gets it, for the committing process and for one
        catching up from the database (``RedisHub``): lobby, a room's members, or the pair."""
        if stored.conversation == LOBBY:
            return room_line(stored, LOBBY), EVERYONE
        if stored.recipient is None:
            return self._rooms.rooms.delivery(stored)
        return self._direct_messages.line(stored), frozenset({stored.recipient, stored.sender})

    def on_committed(self, batch: Sequence[Committed[PendingSend]]) -> None:
        """One group commit's answers (on the commit thread, once per batch, in commit order).

        For each send in order: its ack (or ``unavailable`` if the batch was not stored) for
        the sender, then, unless it is a resend, its delivery for every recipient connection.
        The lines are gathered per connection and each outbox is written ONCE, so a group
        commit's acks and relays reach every recipient as one record, in send order.
        """
        lines: defaultdict[LineSink, list[bytes]] = defaultdict(list)
        published: list[Publication] = []
        try:
            for item in batch:
                outbox, stored = item.origin.sender.outbox, item.stored
                if stored is None:
                    lines[outbox].append(NOT_STORED)
                    continue
                ack = Ack(stored.client_msg_id, stored.msg_id, stored.created_ms)
                lines[outbox].append(line_of(ack))
                if not item.is_new:
                    log.info("resend of message %d from %s acked again", stored.msg_id,
                             stored.sender)
                    continue
                line, audience = self.delivery(stored)
                if not line:
                    continue  # a room deleted since: nobody to tell
                exclude = outbox if stored.recipient is not None else None  # it has the ack
                targets = self._hub.local(audience, exclude)
                room = stored.recipient is None and audience is not EVERYONE
                if room:
                    targets = self._rooms.rooms.opted_in(targets)
                for recipient in targets:
                    lines[recipient].append(line)
                published.append(Publication(stored.msg_id, line, audience, room))
            for recipient, queued in lines.items():
                recipient.put_lines(tuple(queued))
            if published:  # the other processes of a cluster deliver to their connections
                self._hub.publish(published)
        finally:  # whatever happened, the senders' readers must not wait for these any longer
            for item in batch:
                item.origin.answered.set_result(None)

    # --- ping, logout ------------------------------------------------------------------

    def _ping(self, conn: ConnectionState, request: PingRequest) -> bool:
        verdict = self._admission.check_request(conn)
        if verdict == "ok":
            conn.send(Pong(request.nonce))
            return True
        return self._admission.refuse_request(conn, verdict)
