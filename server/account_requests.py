"""One's own account over the wire: secret and nickname changes, sessions, administration.

The service hands every request of ``0034``-``0039`` here (``handle``), and calls the hooks
around login: ``refusal`` (a disabled account is refused after its secret was right),
``session_before_resume`` and ``started`` (a session id and login time travel down the chain
of resume tokens) and ``ended`` (last seen). Fan-out (a new nickname, closing another window)
goes only through the hub, so it works on every process of a cluster.

``verify_old_secret`` is the ONE place that decides whether a ``0034`` proves the account: a
one-time reset code, or else the authentication key of the key login (PROTOCOL.md §8) for an
account that has one, or the password for an account made before key login (legacy
``0001``). ``new_secret_hash`` is its counterpart for what is stored. It is throttled exactly
as logins are:
each attempt is first reserved per (username, address) in the database, with the same
doubling delay, so ``0034`` is no faster a password oracle than ``0001``.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Callable, Iterable

from common import messages_account as wire
from common.messages import encode_message
from common.protocol import LoginRefusal
from server.account_admin import SIGN_OUT_TEXT, AccountAdmin, reset_code_hash
from server.accounts import Accounts, Identity, decode_token, delay_policy, hash_token
from server.admission import Admission
from server.connection_state import ConnectionState
from server.hub import Hub
from server.names import is_username, nickname_problem
from server.options import ServerOptions
from server.ports import PasswordHasher
from server.ports_accounts import AccountChangeStore
from server.signin import decode_key
from server.store import StoreUnavailable, UserRecord
from server.store_accounts import NicknameTaken
from server.store_accounts import SessionRow as SessionRow  # re-exported for the service

log = logging.getLogger(__name__)

MIN_SECRET = 6  # characters, as add-user asks of a password
_STRIPPED = frozenset({"Cc", "Cf"})  # controls and format characters (every bidi override)


def clean_nickname(nickname: str) -> str:
    """A requested nickname without control and format characters or outer white space."""
    kept = "".join(ch for ch in nickname if unicodedata.category(ch) not in _STRIPPED)
    return kept.strip()


def line(message: wire.AccountEvent) -> bytes:
    return encode_message(message).encode()


class AccountRequests:
    """Handles ``0034``-``0039`` and the login hooks; thread-safe (no state of its own)."""

    def __init__(
        self,
        store: AccountChangeStore,
        hasher: PasswordHasher,
        hub: Hub,
        accounts: Accounts,
        admission: Admission,
        options: ServerOptions,
        now_ms: Callable[[], int],
    ) -> None:
        self._store, self._hasher, self._hub = store, hasher, hub
        self._accounts, self._admission, self._options = accounts, admission, options
        self._now_ms = now_ms
        self._policy = delay_policy(options)
        self.admin = AccountAdmin(store, hasher, options.reset_code_ttl, now_ms)

    # --- hooks around login ---------------------------------------------------------------

    def refusal(self, username: str) -> LoginRefusal | None:
        """Why an account whose secret or token was right may not log in now, or None."""
        try:
            row = self._store.account(username)
        except StoreUnavailable:
            return LoginRefusal.SERVICE_UNAVAILABLE
        if row is None or row.disabled:
            return LoginRefusal.ACCOUNT_DISABLED if row else LoginRefusal.WRONG_CREDENTIALS
        return None

    def screen(self, conn: ConnectionState, outcome: Identity | str) -> Identity | str:
        """A login or resume that succeeded, or the refusal of a disabled (or deleted) account,
        whose fresh token is revoked before anyone sees it."""
        if isinstance(outcome, str):
            return outcome
        refusal = self.refusal(outcome.username)
        if refusal is None:
            return outcome
        self._accounts.logout(outcome.token_hash)
        log.warning("%s: %s refused (%s)", conn.peer, outcome.username, refusal.code_word)
        return refusal

    def session_before_resume(self, token: str) -> SessionRow | None:
        """The session a resume token carries, read before the resume spends the token."""
        raw = decode_token(token)
        try:
            return None if raw is None else self._store.session_of(hash_token(raw))
        except StoreUnavailable:
            return None

    def started(self, conn: ConnectionState, previous: SessionRow | None) -> None:
        """Label the token just given to ``conn``: its predecessor's session, or a new one."""
        now = self._now_ms()
        session_id = previous.session_id if previous and previous.session_id else ""
        login_ms = previous.login_ms if previous and previous.login_ms else now
        try:
            self._store.label_session(
                conn.token_hash, session_id or secrets.token_hex(8), conn.address, login_ms, now
            )
        except StoreUnavailable:
            log.warning("session of %s not labelled: database unavailable", conn.peer)

    def ended(self, conn: ConnectionState) -> None:
        if conn.token_hash:
            try:
                self._store.touch_session(conn.token_hash, self._now_ms())
            except StoreUnavailable:
                pass

    # --- requests ---------------------------------------------------------------------------

    def handle(self, conn: ConnectionState, message: wire.AccountRequest) -> bool:
        """Answer one request; False closes the connection (too many refused requests)."""
        verdict = self._admission.check_request(conn)
        if verdict != "ok":
            return self._admission.refuse_request(conn, verdict)
        try:
            self._dispatch(conn, message)
        except StoreUnavailable:
            conn.error("unavailable", "the database is unavailable; try again")
        return True

    def _dispatch(self, conn: ConnectionState, message: wire.AccountRequest) -> None:
        match message:
            case wire.ChangeSecretRequest():
                self._change_secret(conn, message)
            case wire.ChangeNicknameRequest():
                self._change_nickname(conn, message.nickname)
            case wire.SessionsRequest():
                self._list_sessions(conn)
            case wire.SignOutOthersRequest():
                self._sign_out_others(conn)
            case wire.AdminRequest():
                self._admin(conn, message)
            case wire.AccountInfoRequest():
                assert conn.username is not None
                row = self._store.account(conn.username)
                conn.send(wire.AccountInfo(
                    conn.username, row.nickname if row else "", bool(row and row.is_admin)
                ))

    # --- 0034 -------------------------------------------------------------------------------

    def verify_old_secret(self, conn: ConnectionState, username: str, secret: str) -> str | None:
        """None when ``secret`` proves ``username`` (password or one-time code), else the
        ``1009`` code word; the same statements and work whether or not the account exists."""
        if not self._accounts.take_attempt(conn.address):  # the address's login bucket
            return "rate_limited"
        if not self._store.reserve_login_attempt(
            username, conn.address, self._now_ms(), self._policy
        ):
            return "rate_limited"
        if self._store.take_reset_code(username, reset_code_hash(secret), self._now_ms()):
            ok = True
        else:
            user = self._store.get_user(username)
            key = decode_key(secret)
            if user is not None and user.kdf is not None:  # a key account: its key only
                ok = key is not None and self._accounts.credentials.check_key(user, key)
            else:
                ok = self._hasher.verify(user.password_hash if user else None, secret)
                ok = ok and user is not None
        if not ok:
            return "wrong_credentials"
        self._store.clear_login_attempts(username, conn.address)
        self._accounts.refund_attempt(conn.address)  # as a successful login: costs nothing
        return None

    def _change_secret(self, conn: ConnectionState, request: wire.ChangeSecretRequest) -> None:
        username, new = request.username, request.new_secret
        if conn.logged_in and username != conn.username:
            conn.error("forbidden", "you can change only your own password")
            return
        if not is_username(username) or len(request.old_secret) > self._options.max_password:
            conn.error("wrong_credentials", "the current password is wrong")
            return
        if not MIN_SECRET <= len(new) <= self._options.max_password:
            conn.error("bad_request", f"a password has {MIN_SECRET} to "
                       f"{self._options.max_password} characters")
            return
        if decode_key(new) is None and not self._options.legacy_password_login:
            conn.error("bad_request", "the new secret must be an authentication key (§8)")
            return
        if not conn.logged_in and not self._admission.may_log_in(username, conn.address):
            conn.error("rate_limited", "too many attempts, try again later")
            return
        problem = self.verify_old_secret(conn, username, request.old_secret)
        if problem == "rate_limited":
            log.warning("password change for %s from %s refused: delay runs", username, conn.peer)
            conn.error("rate_limited", "too many attempts, try again later")
            return
        if problem is not None:
            log.warning("password change for %s from %s: wrong current secret",
                        username, conn.peer)
            conn.error("wrong_credentials", "the current password is wrong")
            return
        user = self._store.get_user(username)
        if user is None:  # deleted meanwhile
            conn.error("wrong_credentials", "the current password is wrong")
            return
        if not self._store_new_secret(user, new):
            conn.error("bad_request", "the new secret must be an authentication key (§8)")
            return
        self._store.clear_reset_code(username)
        token = self._renew_own_token(conn, user)
        ended = self._store.revoke_sessions(username, keep=conn.token_hash if token else b"")
        self._sign_out(username, "password_changed", conn if conn.logged_in else None)
        log.info("password of %s changed from %s; %d other session(s) ended",
                 username, conn.peer, ended)
        conn.send(wire.AccountDone("password", username, token))

    def _store_new_secret(self, user: UserRecord, new: str) -> bool:
        """A key account keeps its KDF parameters and gets the new key's hash (its client
        derived the key with the parameters ``1030`` gives); an account made before key login
        becomes a key account when it sends a key (derived with the stand-in parameters
        ``1030`` announced), or keeps a password hash when it sends a password."""
        credentials = self._accounts.credentials
        key = decode_key(new)
        if key is not None:
            kdf = credentials.announced(user.username, user)
            self._store.set_account_key(user.username, credentials.key_hash(key), kdf)
        elif user.kdf is None:
            self._store.set_password_hash(user.username, self._hasher.hash(new))
        else:
            return False
        return True

    def _renew_own_token(self, conn: ConnectionState, user: UserRecord) -> str:
        """A fresh resume token, same session, for the connection that changed the secret."""
        if not conn.logged_in:
            return ""
        previous = self._store.session_of(conn.token_hash) if conn.token_hash else None
        identity: Identity = self._accounts.reissue(user)
        self._accounts.logout(conn.token_hash)
        conn.token_hash = identity.token_hash
        self.started(conn, previous)
        return identity.resume_token

    # --- 0035 -------------------------------------------------------------------------------

    def _change_nickname(self, conn: ConnectionState, requested: str) -> None:
        assert conn.username is not None
        nickname = clean_nickname(requested)
        problem = nickname_problem(nickname)
        if problem:
            conn.error("bad_request", problem)
            return
        try:
            self._store.set_nickname(conn.username, nickname)
        except NicknameTaken:
            conn.error("name_taken", "another account has this nickname, or one like it")
            return
        conn.nickname = nickname
        log.info("%s is now called %r", conn.username, nickname)
        self._hub.rename(conn.username, nickname, line(wire.NicknameChanged(conn.username,
                                                                            nickname)))
        conn.send(wire.AccountDone("nickname", conn.username, nickname))

    # --- 0036, 0037 -------------------------------------------------------------------------

    def _list_sessions(self, conn: ConnectionState) -> None:
        assert conn.username is not None
        for row in self._store.sessions(conn.username, self._now_ms()):
            conn.send(wire.SessionEntry(
                row.session_id or "-", row.address or "-", row.login_ms, row.seen_ms,
                row.token_hash == conn.token_hash,
            ))
        conn.send(wire.AccountListEnd("sessions"))

    def _sign_out_others(self, conn: ConnectionState) -> None:
        assert conn.username is not None
        ended = self._store.revoke_sessions(conn.username, keep=conn.token_hash)
        self._sign_out(conn.username, "signed_out", conn)
        log.info("%s (%s) signed out everywhere else: %d session(s)", conn.username, conn.peer,
                 ended)
        conn.send(wire.AccountDone("sign_out_others", conn.username, str(ended)))

    def _sign_out(self, username: str, reason: str, keep: ConnectionState | None) -> None:
        signed_out = line(wire.SignedOut(reason, SIGN_OUT_TEXT[reason]))
        self._hub.sign_out(username, signed_out, keep.outbox if keep else None)

    # --- 0038 -------------------------------------------------------------------------------

    def _admin(self, conn: ConnectionState, request: wire.AdminRequest) -> None:
        assert conn.username is not None
        me = self._store.account(conn.username)
        if me is None or not me.is_admin:
            log.warning("%s (%s) asked for %s of %s: not an administrator",
                        conn.username, conn.peer, request.action, request.username)
            conn.error("forbidden", "only administrators may do this")
            return
        if request.action not in wire.ADMIN_ACTIONS:
            conn.error("bad_request", "unknown action")
            return
        outcome = self.admin.apply(conn.username, request.action, request.username)
        if outcome.error is not None:
            conn.error(*outcome.error)
            return
        if request.action == "list":
            online = set(self._online(r.username for r in outcome.rows))
            for row in outcome.rows:
                conn.send(wire.AccountEntry(row.username, row.nickname, row.is_admin,
                                            row.disabled, row.username in online))
            conn.send(wire.AccountListEnd("accounts"))
            return
        if outcome.sign_out:
            self._sign_out(request.username, outcome.sign_out, None)
        conn.send(wire.AccountDone(request.action, request.username, outcome.detail))

    def _online(self, usernames: Iterable[str]) -> set[str]:
        """Accounts with a window on this process (a cluster's other nodes are not asked)."""
        return {name for name in usernames if self._hub.connections_of((name,))}
