"""Any screen: the real widgets under Xvfb at Tk scaling 1x and 2x, read back by geometry.

Nothing is clipped (every widget gets at least the size it asks for), nothing overlaps (the
input hint and the counter, the roster's rows), the text column stays readable in a wide
window, the newest message stays in view on resize, and the chat window's size and place
survive a logout and a restart (in a preferences file under a temporary XDG_CONFIG_HOME).
"""

from __future__ import annotations

import itertools
import stat
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.formatting import Line
from client.prefs import PREFS_FILE, PrefsFile
from client.renderer import ConversationItem, Person
from client.ui.dialogs import TrustDialog
from client.ui.messages import MAX_COLUMN_CHARS
from client.ui.theme import BASE_SCALING, char_width, linespace, setup_fonts
from client.ui.window import CHAT_MIN, TkView
from tests.integration.gui.ui_fakes import RecordingController

FINGERPRINT = "SHA256:" + "Qm9vdHN0cmFwIGZpbmdlcnByaW50IGZvciB0ZXN0cw0"
STATUS = f"connected · AES-256-GCM · X25519 + RSA-3072 · {FINGERPRINT}"
LONG_ERROR = ("The server could not prove its identity with the key this client has pinned for "
              "127.0.0.1:8090. Nothing was sent. If its administrator generated new keys, "
              "remove the old entry from known_servers.")


@pytest.fixture(params=[1.0, 2.0], ids=["1x", "2x"])
def scale(request: pytest.FixtureRequest, tk_root: tk.Tk) -> Iterator[float]:
    """Tk scaling of a 96 DPI screen times the factor; fonts re-measured, restored after."""
    before = float(tk_root.tk.call("tk", "scaling"))
    factor = float(request.param)
    tk_root.tk.call("tk", "scaling", BASE_SCALING * factor)
    setup_fonts(tk_root)
    yield factor
    tk_root.tk.call("tk", "scaling", before)
    setup_fonts(tk_root)


@pytest.fixture
def make_view(tk_root: tk.Tk) -> Iterator[object]:
    made: list[TkView] = []

    def make(prefs: PrefsFile | None = None, unsent: int = 0) -> TkView:
        view = TkView(tk.Toplevel(tk_root), prefs)
        view.attach(RecordingController(unsent))
        made.append(view)
        return view

    yield make
    for view in made:
        view.close()
    tk_root.update()


def settle(widget: tk.Misc) -> None:
    """Let geometry changes and the wrap lengths they cause take effect (a few rounds)."""
    for _ in range(4):
        widget.update_idletasks()
        widget.update()


def unclipped(widget: tk.Misc) -> list[str]:
    """Every mapped widget under ``widget`` that got less than it asked for, or sticks out."""
    problems = []
    top = widget.winfo_toplevel()
    right, bottom = top.winfo_rootx() + top.winfo_width(), top.winfo_rooty() + top.winfo_height()
    for child in widget.winfo_children():
        if not child.winfo_ismapped() or isinstance(child, tk.Toplevel):
            continue
        if isinstance(child, tk.ttk.Label | tk.ttk.Button | tk.ttk.Entry | tk.Canvas):
            if child.winfo_width() < child.winfo_reqwidth():
                problems.append(f"{child} width {child.winfo_width()} < {child.winfo_reqwidth()}")
            if child.winfo_height() < child.winfo_reqheight():
                problems.append(
                    f"{child} height {child.winfo_height()} < {child.winfo_reqheight()}")
        if (child.winfo_rootx() + child.winfo_width() > right
                or child.winfo_rooty() + child.winfo_height() > bottom):
            problems.append(f"{child} sticks out of the window")
        problems += unclipped(child)
    return problems


def box(widget: tk.Misc) -> tuple[int, int, int, int]:
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return x, y, x + widget.winfo_width(), y + widget.winfo_height()


def intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def open_chat(view: TkView) -> None:
    view.show_chat("wang_yuan (user1) — Chat")
    chat = view.chat
    assert chat is not None
    chat.set_status(STATUS, "ok")
    chat.set_conversations([ConversationItem("lobby", "# lobby", 0),
                            ConversationItem("@user2", "@ding_zhen", 3)], "lobby")
    chat.set_people([Person("user1", "wang_yuan", me=True), Person("user2", "ding_zhen"),
                     Person("user3", "周杰伦")])


def test_login_card_and_error_fit(make_view: object, scale: float) -> None:
    view = make_view()  # type: ignore[operator]
    view.show_login("127.0.0.1:8090", "user1", "")
    view.show_login_error(LONG_ERROR)
    settle(view.window)
    assert view.login is not None and view.login.error.winfo_ismapped()
    assert unclipped(view.window) == []
    assert str(view.login.error.cget("text")) == LONG_ERROR


def test_chat_at_its_minimum_size_clips_nothing(make_view: object, scale: float) -> None:
    view = make_view()  # type: ignore[operator]
    open_chat(view)
    width, height = (round(CHAT_MIN[0] * scale * 1.0), round(CHAT_MIN[1] * scale))
    view.window.geometry(f"{width}x{height}")
    settle(view.window)
    chat = view.chat
    assert chat is not None
    assert (view.window.winfo_width(), view.window.winfo_height()) == (width, height)
    assert not intersect(box(chat.hint), box(chat.counter)), "the hint runs into the counter"
    for label in (chat.hint, chat.counter, chat.status):
        assert label.winfo_width() >= label.winfo_reqwidth(), f"{label} is cut"
        assert label.winfo_height() >= label.winfo_reqheight(), f"{label} is cut"
    assert str(chat.status.cget("text")).endswith(FINGERPRINT)
    status_bottom = chat.status.winfo_rooty() + chat.status.winfo_height()
    assert status_bottom <= view.window.winfo_rooty() + view.window.winfo_height()
    for tree in (chat.conversations, chat.people):
        rows = list(tree.get_children())
        boxes = [tuple(int(v) for v in tree.bbox(row)) for row in rows]
        assert all(len(b) == 4 for b in boxes), "every row is visible"
        for upper, lower in itertools.pairwise(boxes):
            assert upper[1] + upper[3] <= lower[1], "rows overlap"
        assert all(b[3] >= linespace(tree) for b in boxes)


def test_a_wide_window_keeps_a_readable_column(make_view: object) -> None:
    view = make_view()  # type: ignore[operator]
    open_chat(view)
    view.window.geometry("1600x800")
    settle(view.window)
    chat = view.chat
    assert chat is not None
    long_text = " ".join(["readable"] * 80)
    chat.render([Line("e1", "message", "10:00", "amy", long_text, handle="@user4")], None)
    settle(view.window)
    t = chat.messages.text
    column = t.winfo_width() - 2 * int(t.cget("padx"))
    assert column <= char_width(t) * (MAX_COLUMN_CHARS + 5)
    first, last = t.bbox("2.0"), t.bbox("2.end - 1c")
    assert first is not None and last is not None and last[1] > first[1], "the body wraps"


def test_the_newest_message_stays_in_view_on_resize(make_view: object) -> None:
    view = make_view()  # type: ignore[operator]
    open_chat(view)
    view.window.geometry("1200x800")
    settle(view.window)
    chat = view.chat
    assert chat is not None
    lines = [Line(f"e{i}", "message", f"10:{i % 60:02d}", f"p{i % 3}", f"message {i}")
             for i in range(120)]
    chat.render(lines, None)
    settle(view.window)
    assert chat.messages.text.yview()[1] >= 0.999
    view.window.geometry("760x520")
    settle(view.window)
    assert chat.messages.text.yview()[1] >= 0.999
    assert chat.messages.text.bbox("end-2c") is not None, "the newest line is on screen"


def test_window_size_and_place_survive_logout_and_restart(make_view: object, xdg: Path) -> None:
    view = make_view(PrefsFile(xdg))  # type: ignore[operator]
    open_chat(view)
    view.window.geometry("1010x655+33+21")
    settle(view.window)
    view.show_login("127.0.0.1:8090", "user1", "")  # the logout
    settle(view.window)
    assert stat.S_IMODE((xdg / PREFS_FILE).stat().st_mode) == 0o600
    view.show_chat("again")
    settle(view.window)
    assert str(view.window.wm_geometry()) == "1010x655+33+21"
    view.close()
    restarted = make_view(PrefsFile(xdg))  # type: ignore[operator]
    open_chat(restarted)
    settle(restarted.window)
    assert str(restarted.window.wm_geometry()) == "1010x655+33+21"


def test_the_trust_dialog_shows_the_whole_fingerprint(make_view: object, scale: float) -> None:
    view = make_view()  # type: ignore[operator]
    view.show_login("127.0.0.1:8090", "user1", "")
    dialog = TrustDialog(view.window, "127.0.0.1:8090", FINGERPRINT, lambda _ok: None)
    settle(dialog)
    assert unclipped(dialog) == []
    shown = tkfont.nametofont("ChatBody", root=dialog).measure(FINGERPRINT)
    assert dialog.field.winfo_width() > shown
    dialog.destroy()


def test_the_people_list_fits_its_longest_name(make_view: object, scale: float) -> None:
    view = make_view()  # type: ignore[operator]
    open_chat(view)
    settle(view.window)
    chat = view.chat
    assert chat is not None
    chat.set_people([Person("user1", "wang_yuan", me=True), Person("user9", "a_rather_long_name")])
    settle(view.window)
    font = tkfont.nametofont("ChatBody", root=chat)
    for label in ("  wang_yuan @user1  (you)", "  a_rather_long_name @user9"):
        assert chat.people.winfo_width() > font.measure(label), f"{label!r} is cut"
