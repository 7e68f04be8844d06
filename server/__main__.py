"""``python -m server``: serve, keygen, init-db, add-user, invite, and account administration
(``server.admin_cli``).

The only server module that reads ``config``; it turns settings into plain values for the rest:
``settings.server_options()``, ``server_params`` and ``admin_params`` (``DbParams``), and the key's
path, which ``serve`` hands to ``server.serve.run``.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
import time
from pathlib import Path

from config import Settings
from server import admin_cli, keyfile, provision, serve
from server.credentials import new_key_account
from server.invitations import code_hash, new_code, parse_duration
from server.passwords import PasswordHasherPool
from server.store import DbParams, Store
from server.store_signup import Registered

log = logging.getLogger("server")

DEMO_USERS = (("user1", "wang_yuan"), ("user2", "ding_zhen"), ("user3", "cxk"))
DEMO_PASSWORD = "111111"
DEMO_ADMIN = "user1"  # the demo's administrator


def server_params(settings: Settings) -> DbParams:
    """The server's own least-privilege database account."""
    return DbParams(
        database=settings.db_name,
        user=settings.db_user,
        password=settings.database_password(),
        host=settings.db_host,
        port=settings.db_port,
        unix_socket=str(settings.db_socket),
        pool_size=settings.db_pool_size,
        timeout=settings.db_timeout,
    )


def admin_params(settings: Settings) -> DbParams:
    """Administrator access (set-up only)."""
    return DbParams(
        database="",
        user=settings.db_admin_user,
        password=settings.db_admin_password,
        host=settings.db_host,
        port=settings.db_port,
        unix_socket=str(settings.db_socket),
        pool_size=1,
        timeout=settings.db_timeout,
    )


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def cmd_keygen(settings: Settings, args: argparse.Namespace) -> int:
    try:
        fp = keyfile.generate_keypair(settings.key_dir, force=args.force)
    except FileExistsError as exc:
        print(f"keygen: {exc}", file=sys.stderr)
        return 1
    print(f"server key written to {settings.key_dir}\nfingerprint {fp}")
    return 0


def cmd_init_db(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.db_password and not settings.db_password_file.exists():
        _write_secret(settings.db_password_file, secrets.token_urlsafe(24))
        log.info("generated the server's database password in %s", settings.db_password_file)
    admin = admin_params(settings)
    provision.apply_schema(admin, settings.db_name)
    provision.ensure_server_account(
        admin,
        settings.db_name,
        settings.db_user,
        settings.database_password(),
        remote=not provision.is_local_host(settings.db_host),
    )
    if args.demo:
        _demo_accounts(settings)
    print(f"database {settings.db_name} ready" + (" with demo accounts" if args.demo else ""))
    return 0


def _demo_accounts(settings: Settings) -> None:
    """user1..user3 as key accounts; demo rows made before key login become key rows too
    (their password is known here), so the chat's client can log them in at once."""
    options = settings.server_options()
    store = Store(server_params(settings))
    try:
        for username, nickname in DEMO_USERS:
            user = store.get_user(username)
            account = new_key_account(username, nickname, DEMO_PASSWORD, options)
            if user is None:
                store.register_user(account, None, int(time.time() * 1000))
                log.info("demo account %s (%s) created", username, nickname)
            elif user.kdf is None and PasswordHasherPool(1).verify(user.password_hash,
                                                                  DEMO_PASSWORD):
                store.set_account_key(username, account.key_hash, account.kdf)
                log.info("demo account %s now logs in with a key", username)
        store.set_flag(DEMO_ADMIN, "is_admin", True)
    finally:
        store.close()


def cmd_add_user(settings: Settings, args: argparse.Namespace) -> int:
    problem = provision.new_account_problem(args.username, args.nickname or args.username)
    if problem:
        print(f"add-user: {problem}", file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            print("add-user: passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 6:
        print("add-user: the password needs at least 6 characters", file=sys.stderr)
        return 2
    nickname = args.nickname or args.username
    account = new_key_account(args.username, nickname, password, settings.server_options())
    store = Store(server_params(settings))
    try:
        outcome = store.register_user(account, None, int(time.time() * 1000))
    finally:
        store.close()
    if outcome is not Registered.OK:
        print(f"add-user: {outcome.value.replace('_', ' ')}", file=sys.stderr)
        return 1
    print(f"user {args.username} created")
    return 0


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new invitation code (PROTOCOL.md §8); only its hash is stored."""
    try:
        ttl = parse_duration(args.expires)
    except ValueError as exc:
        print(f"invite: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.uses <= settings.max_invite_uses or ttl > settings.max_invite_ttl:
        print(f"invite: uses 1..{settings.max_invite_uses}, at most "
              f"{int(settings.max_invite_ttl)} s (CHAT_MAX_INVITE_USES/_TTL)", file=sys.stderr)
        return 2
    code = new_code()
    hashed = code_hash(code)
    assert hashed is not None
    now = int(time.time() * 1000)
    store = Store(server_params(settings))
    try:
        store.add_invitation(hashed, args.uses, now + ttl * 1000, None, now)
    finally:
        store.close()
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now / 1000 + ttl))
    print(f"{code}\n(valid for {args.uses} registration(s) until {expires})")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    key_path = Path(settings.key_dir) / keyfile.PRIVATE_NAME
    return serve.run(settings.server_options(), server_params(settings), key_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description="The chat server.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server (CHAT_HOST/CHAT_PORT)")
    keygen = sub.add_parser("keygen", help="make the server's RSA-3072 key pair")
    keygen.add_argument("--force", action="store_true", help="replace an existing key pair")
    init = sub.add_parser("init-db", help="schema + least-privilege account (idempotent)")
    init.add_argument("--demo", action="store_true", help="also create user1/user2/user3")
    add = sub.add_parser("add-user", help="create an account; password from a prompt or stdin")
    add.add_argument("username")
    add.add_argument("--nickname", default="")
    invite = sub.add_parser("invite", help="print a new invitation code for registration")
    invite.add_argument("--uses", type=int, default=1, help="registrations it allows (1)")
    invite.add_argument("--expires", default="7d", help="valid for: 90s, 30m, 12h, 7d (7d)")
    admin_cli.add_parsers(sub)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    commands = {
        "serve": cmd_serve,
        "keygen": cmd_keygen,
        "init-db": cmd_init_db,
        "add-user": cmd_add_user,
        "invite": cmd_invite,
    }
    if args.command in admin_cli.COMMANDS:
        store = Store(server_params(settings))
        try:
            return admin_cli.run(args.command, args, store, settings.reset_code_ttl)
        finally:
            store.close()
    return commands[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
