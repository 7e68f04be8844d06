"""The Account dialog in real Tk windows under Xvfb, against the real server and MariaDB.

A module of its own: it renames user2, and each module gets a fresh database.
"""

from __future__ import annotations

from tkinter import ttk
from typing import Any


def test_nickname_change_shows_in_another_window(windows: Any) -> None:
    alice, bob = windows("user1"), windows("user2")
    alice.log_in_and_wait()
    bob.log_in_and_wait()
    alice.wait(lambda: "user2" in alice.people(), "user2 in user1's people list")
    assert bob.view.chat is not None
    header = bob.view.chat.title.master
    buttons = [w for w in header.winfo_children()
               if isinstance(w, ttk.Button) and str(w.cget("text")) == "Account…"]
    assert buttons, "the Account… button in the chat header"
    buttons[0].invoke()
    panel = bob.view.account
    bob.wait(lambda: panel.dialog is not None and panel.nickname.get() == "ding_zhen",
             "the Account dialog with the current nickname")
    bob.wait(lambda: panel.sessions.get_children(), "this window's session listed")
    (session,) = panel.sessions.get_children()
    assert panel.sessions.set(session, "c3") == "this window"
    bob.type_and_enter(panel.nickname, "Ding Zhen 2")
    bob.wait(lambda: "Ding Zhen 2" in str(panel.notice.cget("text")), "the change confirmed")

    def shown_in_alice() -> str:
        assert alice.view.chat is not None
        return str(alice.view.chat.people.item("user2", "text"))

    alice.wait(lambda: "Ding Zhen 2" in shown_in_alice(), "the new nickname in user1's window")
    assert shown_in_alice().strip() == "Ding Zhen 2 @user2"


def test_taken_nickname_and_wrong_password_are_said_in_words(windows: Any) -> None:
    bob = windows("user2")
    bob.log_in_and_wait()
    bob.app.open_account()
    panel = bob.view.account
    bob.wait(lambda: panel.dialog is not None, "the Account dialog")
    bob.type_and_enter(panel.nickname, "WANG_YUAN")
    bob.wait(lambda: "looks the same" in str(panel.notice.cget("text")), "name taken")
    assert str(panel.notice.cget("style")) == "Error.TLabel"
    for entry, text in ((panel.current, "not-it"), (panel.new, "violet river lantern 2049")):
        entry.insert(0, text)
    bob.type_and_enter(panel.again, "violet river lantern 2049")
    bob.wait(lambda: str(panel.notice.cget("text")) == "The current password is wrong.",
             "the wrong password said")
    assert panel.current.get() == "" and panel.new.get() == ""  # never left on screen


def test_admin_panel_acts_on_the_selected_account(top: Any) -> None:
    from client.account_actions import AccountState
    from client.ui.account_dialog import AccountPanel
    from common import messages_account as acct
    from tests.integration.gui.harness import pump_until
    from tests.integration.gui.ui_fakes import RecordingController

    controller = RecordingController()
    panel = AccountPanel(top, lambda: controller)
    state = AccountState("user1", "wang_yuan", admin=True, sessions=[
        acct.SessionEntry("9f2c41aa07be1d3e", "127.0.0.1", 1763830000000, 1763830450000, True)])
    panel.show_account(state)
    assert controller.named("admin_action") == [("list", "")]  # the panel lists at once
    state.accounts = [acct.AccountEntry("user3", "cxk", False, False, True)]
    panel.show_account(state)
    panel.admin_buttons["disable"].invoke()  # nothing chosen: the controller says so in words
    assert controller.named("admin_action")[-1] == ("disable", "")
    panel.accounts.selection_set("user3")
    top.update()
    panel.admin_buttons["disable"].invoke()
    assert controller.named("admin_action")[-1] == ("disable", "user3")
    panel.sign_out_button.invoke()
    assert controller.named("sign_out_others") == [None]
    for entry, text in ((panel.current, "old-one"), (panel.new, "new-one1")):
        entry.insert(0, text)
    panel.again.insert(0, "new-one1")
    panel.password_button.invoke()
    assert controller.named("change_password") == [None]
    assert panel.current.get() == panel.new.get() == panel.again.get() == ""
    assert panel.dialog is not None
    panel.dialog.event_generate("<Escape>")
    pump_until(top, lambda: panel.dialog is None, 5, "Esc to close the dialog")


def test_one_time_code_sets_a_new_password_from_the_login_form(
    windows: Any, db_params: Any
) -> None:
    import time

    from server.account_admin import AccountAdmin
    from server.passwords import PasswordHasherPool
    from server.store import Store

    store = Store(db_params)
    try:  # what `python -m server reset-password user3` does
        outcome = AccountAdmin(store, PasswordHasherPool(1), 3600.0,
                               lambda: int(time.time() * 1000)).apply("test", "reset", "user3")
    finally:
        store.close()
    code = outcome.detail
    carol = windows("user3")
    assert carol.view.login is not None
    (button,) = [w for w in carol.view.login.card.winfo_children()
                 if isinstance(w, ttk.Button) and str(w.cget("text")) == "Have a one-time code?"]
    button.invoke()
    panel = carol.view.account
    carol.wait(lambda: panel.code_dialog is not None, "the one-time code dialog")
    assert panel.code_fields["username"].get() == "user3"
    panel.code_fields["code"].insert(0, code)
    panel.code_fields["new"].insert(0, "violet river lantern 2049")
    carol.type_and_enter(panel.code_fields["again"], "violet river lantern 2049")
    carol.wait(lambda: "new password is set" in str(panel.code_note.cget("text")),
               "the new password confirmed")
    carol.log_in_and_wait("violet river lantern 2049")
