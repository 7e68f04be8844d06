"""``python -m server list-accounts | disable | reset-password | ...`` on real MariaDB: what the
commands change, print and log (never the one-time code), and that a running server closes the
windows of an account the command line disabled."""

from __future__ import annotations

import argparse
import logging

import pytest

from common import messages_account as acct
from common.messages import RosterUpdate
from server import admin_cli
from server.account_admin import reset_code_hash
from tests.integration.conftest_server import DEMO_PASSWORD, LiveServer

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    admin_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def run(live: LiveServer, *argv: str) -> int:
    args = parse(*argv)
    return admin_cli.run(args.command, args, live.store, 3600.0)


def test_commands_change_print_and_log(
    make_server, demo_password_hash: str, capsys, caplog  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.INFO)
    live = make_server(signout_poll_interval=0.2)
    live.store.add_user("clivictim", "CLI Victim", demo_password_hash)
    window = live.client()
    assert window.login("clivictim", DEMO_PASSWORD).ok
    window.recv_until(lambda m: isinstance(m, RosterUpdate))

    assert run(live, "make-admin", "clivictim") == 0
    assert run(live, "list-accounts") == 0
    assert "clivictim\tCLI Victim\tadmin" in capsys.readouterr().out
    assert run(live, "remove-admin", "clivictim") == 0

    assert run(live, "disable", "clivictim") == 0
    assert window.recv_until(lambda m: isinstance(m, acct.SignedOut)).reason == "disabled"
    assert window.closed_by_server(5.0)
    assert live.client().login("clivictim", DEMO_PASSWORD).code_word == "account_disabled"
    assert run(live, "enable", "clivictim") == 0

    assert run(live, "reset-password", "clivictim") == 0
    printed = capsys.readouterr().out
    code = printed.split("once): ")[1].split()[0]
    assert live.store.take_reset_code("clivictim", reset_code_hash(code), 0)
    assert code not in caplog.text
    assert "command line (" in caplog.text and "reset clivictim" in caplog.text

    assert run(live, "delete", "nosuchaccount") == 1
    assert "no such user" in capsys.readouterr().err
    assert run(live, "delete", "clivictim") == 0
    assert live.store.account("clivictim") is None
