"""Create an account with an invitation code in the real window, against the real server.

The server is ``python -m server serve`` with its default settings (key login, no open
registration); the code is made as ``python -m server invite`` makes it.
"""

from __future__ import annotations

import time
from typing import Any

from server.invitations import code_hash, new_code
from server.store import Store

STRONG = "violet tractor quietly 1987"


def _invitation(db_params: Any) -> str:
    code = new_code()
    hashed = code_hash(code)
    assert hashed is not None
    store = Store(db_params)
    try:
        now = int(time.time() * 1000)
        store.add_invitation(hashed, 1, now + 3_600_000, None, now)
    finally:
        store.close()
    return code


def _fill(window: Any, values: dict[str, str]) -> None:
    login = window.view.login
    for name, text in values.items():
        entry = login.entries[name]
        entry.delete(0, "end")
        entry.insert(0, text)
    window.root.update()


def test_register_with_a_code_and_land_in_the_chat(windows, db_params, xdg) -> None:
    window = windows("newbie")
    login = window.view.login
    assert not login.entries["code"].winfo_ismapped()  # the login form first
    login.switch.invoke()
    window.root.update()
    assert login.registering and login.entries["code"].winfo_ismapped()
    _fill(window, {"code": _invitation(db_params).lower(), "username": "newbie",
                   "nickname": "New Bie", "password": "password1", "again": "password1"})
    login.entries["password"].focus_force()
    window.root.update()
    login.entries["password"].event_generate("<KeyRelease>", keysym="1")  # key events: the focus
    window.root.update()
    assert "weak" in str(login.strength.cget("text"))
    window.type_and_enter(login.entries["again"], "password1")
    assert "too easy" in window.login_error  # judged here; nothing was sent
    _fill(window, {"password": STRONG})
    window.type_and_enter(login.entries["again"], STRONG)
    window.wait(lambda: window.app.phase == "online" and window.view.chat is not None,
                "the new account to be online")
    assert "New Bie" in window.top.title()
    assert window.app.master_key is not None and len(window.app.master_key) == 32


def test_a_used_code_is_refused_on_the_form(windows, db_params, xdg) -> None:
    code = _invitation(db_params)
    first = windows("first-user")
    first.view.login.switch.invoke()
    _fill(first, {"code": code, "username": "first-user", "nickname": "First User",
                  "password": STRONG})
    first.type_and_enter(first.view.login.entries["again"], STRONG)
    first.wait(lambda: first.app.phase == "online", "the first registration")
    second = windows("second-user")
    second.view.login.switch.invoke()
    _fill(second, {"code": code, "username": "second-user", "nickname": "Second User",
                   "password": STRONG})
    second.type_and_enter(second.view.login.entries["again"], STRONG)
    second.wait(lambda: "invitation code" in second.login_error, "the refusal")
    assert second.app.phase == "login"
