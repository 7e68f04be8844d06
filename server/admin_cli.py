"""``python -m server list-accounts | disable | enable | reset-password | delete | make-admin |
remove-admin``: account administration on the server machine.

The same rules as an administrator's ``0038`` (``server.account_admin``). This process holds no
connections, so a sign-out it decides (disable, delete, reset) is written to
``account_signouts``; every running server process reads that table every
``CHAT_SIGNOUT_POLL_INTERVAL`` seconds and closes the account's windows. Who did it is logged as
``command line (<system user>)``; a reset's one-time code is printed, never logged.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable

from server.account_admin import AccountAdmin
from server.passwords import PasswordHasherPool
from server.store import Store

COMMANDS = {
    "list-accounts": ("list", "list every account (admin, disabled)"),
    "disable": ("disable", "refuse the account's logins and close its windows"),
    "enable": ("enable", "let a disabled account log in again"),
    "reset-password": ("reset", "print a one-time code to set a new password with"),
    "delete": ("delete", "delete the account (its messages stay)"),
    "make-admin": ("make_admin", "make the account an administrator"),
    "remove-admin": ("remove_admin", "make the account an ordinary one"),
}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, (action, text) in COMMANDS.items():
        parser = sub.add_parser(name, help=text)
        if action != "list":
            parser.add_argument("username")


def run(command: str, args: argparse.Namespace, store: Store, reset_code_ttl: float) -> int:
    """Do one command; prints what happened (this is the command line's own output)."""
    action = COMMANDS[command][0]
    by = f"command line ({_system_user()})"
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)  # noqa: E731
    admin = AccountAdmin(store, PasswordHasherPool(1), reset_code_ttl, now_ms)
    username = getattr(args, "username", "")
    outcome = admin.apply(by, action, username)
    if outcome.error is not None:
        print(f"{command}: {outcome.error[1]}", file=sys.stderr)
        return 1
    if action == "list":
        for row in outcome.rows:
            flags = ",".join(f for f, on in (("admin", row.is_admin),
                                             ("disabled", row.disabled)) if on)
            print(f"{row.username}\t{row.nickname}\t{flags or '-'}")
        return 0
    if outcome.sign_out:
        store.record_signout(username, outcome.sign_out, now_ms())
    if action == "reset":
        hours = reset_code_ttl / 3600
        print(f"one-time code for {username} (valid {hours:g} h, once): {outcome.detail}")
        print("the person sets a new password with it from the client's login form "
              "(Have a one-time code?)")
    else:
        print(f"{command} {username}: done")
    return 0


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
