"""End-to-end direct messages through the real client windows, server process and MariaDB.

A second window of the recipient, with a config directory of its own (another computer),
reads the history: its keys come from the backup sealed under the master key. The database
is searched, every column of every row, for the texts sent: none is there. A key the
server's operator substitutes in the key directory is caught by the sender's client: a
warning in the conversation, and for a verified contact the message is held, not sealed for
the operator's key. The safety-number dialog shows the same 60 digits on both sides.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pymysql

from client.e2e_dm import SealedDirect
from client.ui.verify_dialog import VerifyDialog
from common.identity import Identity
from tests.integration.gui.harness import ClientWindow


def token() -> str:
    return uuid.uuid4().hex[:10]


def e2e(window: ClientWindow) -> SealedDirect:
    assert window.app.e2e is not None
    return window.app.e2e


def keys_open(window: ClientWindow) -> None:
    window.wait(lambda: e2e(window).keyring.ready, f"{window.app.username}'s keys to open")


def every_value(db_params: Any) -> list[bytes]:
    values: list[bytes] = []
    with pymysql.connect(**db_params.connect_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT * FROM `{table}`")
            for row in cur.fetchall():
                values += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    return values


def substitute_key(db_params: Any, username: str, identity: Identity) -> None:
    """The operator rewrites an account's current entry in the key directory."""
    with pymysql.connect(**db_params.connect_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("UPDATE identity_keys SET key_id = %s, bundle = %s WHERE username = %s",
                    (identity.public.key_id, identity.public.to_bytes(), username))
        conn.commit()


def dialog_of(window: ClientWindow) -> VerifyDialog:
    window.wait(lambda: any(isinstance(d, VerifyDialog) and d.winfo_exists()
                            for d in window.view.dialogs), "the verify dialog")
    return next(d for d in reversed(window.view.dialogs)
                if isinstance(d, VerifyDialog) and d.winfo_exists())


def converse(windows: Any) -> tuple[ClientWindow, ClientWindow, str]:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    keys_open(alice)
    keys_open(bob)
    alice.wait(lambda: alice.view.security is not None and "in transit" in str(
        alice.view.security.label.cget("text")), "the room's marker: not end-to-end")
    alice.wait(lambda: "user2" in alice.people(), "user2 online")
    alice.open_direct("user2")
    text = f"sealed for bob only {token()}"
    alice.send(text)
    alice.wait(lambda: f"✓\n{text}" in alice.transcript(), "the ack of the sealed message")
    return alice, bob, text


def test_a_second_window_reads_the_history_and_the_database_has_no_text(
    windows: Any, db_params: Any, tmp_path: Path
) -> None:
    alice, bob, text = converse(windows)
    bob.wait(lambda: "@user1" in bob.conversations(), "the direct conversation")
    bob.select("@user1")
    bob.wait(lambda: text in bob.transcript(), "the opened message")
    reply = f"and back {token()}"
    bob.send(reply)
    alice.wait(lambda: reply in alice.transcript(), "the reply")
    assert alice.view.security is not None
    assert "end-to-end" in str(alice.view.security.label.cget("text"))

    laptop = windows("user2", config=tmp_path / "another-computer")
    laptop.log_in_and_wait()
    keys_open(laptop)
    assert e2e(laptop).keyring.identity == e2e(bob).keyring.identity  # from the backup
    laptop.app.select_conversation("@user1")
    laptop.wait(lambda: text in laptop.transcript() and reply in laptop.transcript(),
                "the history, opened in the second window")
    assert "could not be verified" not in laptop.transcript()

    values = every_value(db_params)
    assert values
    for sent in (text, reply):
        assert not any(sent.encode() in value for value in values)
        assert not any(sent.split()[-1].encode() in value for value in values)


def test_the_safety_number_matches_on_both_sides_and_verified_is_kept(windows: Any) -> None:
    alice, bob, text = converse(windows)
    alice.view.window.event_generate("<Control-i>")
    dialog = dialog_of(alice)
    number = str(dialog.number.cget("text"))
    groups = number.split()
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    bob.wait(lambda: text in bob.transcript() or "@user1" in bob.conversations(), "the message")
    bob.select("@user1")
    bob.app.open_verify()
    assert str(dialog_of(bob).number.cget("text")).split() == groups  # the same digits
    assert dialog.verified_button is not None
    dialog.verified_button.invoke()
    alice.wait(lambda: "verified" in str(alice.view.security.label.cget("text"))  # type: ignore[union-attr]
               and "not" not in str(alice.view.security.label.cget("text")),  # type: ignore[union-attr]
               "the lock marker to say verified")
    assert e2e(alice).state.pins.is_verified("user2")


def test_a_key_substituted_by_the_server_is_caught_and_holds_a_verified_contact(
    windows: Any, db_params: Any, tmp_path: Path
) -> None:
    alice, _bob, _text = converse(windows)
    alice.app.mark_verified("user2")
    alice.close()

    operator = Identity.generate()
    substitute_key(db_params, "user2", operator)
    again = windows("user1")  # the same computer: the pins are on disk
    # the form's own submit (typing into it races with the other windows' toasts for focus)
    again.app.login(again.app.address, "user1", "111111")
    again.wait(lambda: again.app.phase == "online" or again.login_error, "the login")
    assert again.app.phase == "online", again.login_error
    keys_open(again)
    again.app.select_conversation("@user2")
    held = f"not for the operator {token()}"
    again.wait(lambda: again.view.chat is not None and again.app.model is not None
               and again.app.model.active == "@user2", "the direct conversation")
    again.send(held)
    again.wait(lambda: "since you verified them" in again.transcript(), "the key-change warning")
    again.wait(lambda: "held: check their new key" in again.transcript(), "the held message")
    assert again.app.unsent_count() == 1
    assert "key changed" in str(again.view.security.label.cget("text"))  # type: ignore[union-attr]
    again.app.open_verify()
    dialog = dialog_of(again)
    assert dialog.accept_button is not None and dialog.safety.new_number
    dialog.close()
    assert not any(held.encode() in value for value in every_value(db_params))
    again.app.quit("keep")  # the held message stays in the outbox file for the next login
