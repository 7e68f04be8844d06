"""Message formatting: local time, date separators, own vs others, human error texts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from client.formatting import (
    MAX_TEXT,
    clock,
    conversation_title,
    counter_text,
    day_label,
    entry_line,
    error_text,
    login_failure_text,
    online_status,
    person_label,
    reconnect_status,
    safe_text,
    to_lines,
)
from common.messages import LoginResult

CST = timezone(timedelta(hours=8))


def ms(year: int, month: int, day: int, hour: int, minute: int, tz: timezone = UTC) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=tz).timestamp() * 1000)


@dataclass
class E:
    entry_id: str
    sent_ms: int
    kind: str = "message"
    sender: str = "user2"
    sender_nickname: str = "ding_zhen"
    text: str = "hi"
    own: bool = False
    state: str = ""


def test_clock_is_local_hh_mm() -> None:
    stamp = ms(2025, 11, 22, 23, 5)
    assert clock(stamp, UTC) == "23:05"
    assert clock(stamp, CST) == "07:05"  # already the next day in Beijing


def test_day_labels() -> None:
    now = ms(2025, 11, 22, 12, 0)
    assert day_label(ms(2025, 11, 22, 0, 1), now, UTC) == "Today"
    assert day_label(ms(2025, 11, 21, 23, 59), now, UTC) == "Yesterday"
    assert day_label(ms(2025, 3, 4, 10, 0), now, UTC) == "Tuesday 4 March"
    assert day_label(ms(2024, 3, 4, 10, 0), now, UTC) == "Monday 4 March 2024"


def test_separators_only_where_the_day_changes() -> None:
    now = ms(2025, 11, 22, 12, 0)
    entries = [
        E("e1", ms(2025, 11, 21, 22, 0)),
        E("e2", ms(2025, 11, 21, 23, 0)),
        E("e3", ms(2025, 11, 22, 9, 0)),
    ]
    lines = to_lines(entries, None, now, UTC)
    assert [line.kind for line in lines] == ["day", "message", "message", "day", "message"]
    assert [line.text for line in lines if line.kind == "day"] == ["Yesterday", "Today"]


def test_append_continues_the_day_of_the_previous_entry() -> None:
    now = ms(2025, 11, 22, 12, 0)
    previous = E("e1", ms(2025, 11, 22, 8, 0))
    lines = to_lines([E("e2", ms(2025, 11, 22, 9, 0))], previous, now, UTC)
    assert [line.kind for line in lines] == ["message"]


def test_own_and_other_lines() -> None:
    other = entry_line(E("e1", ms(2025, 1, 1, 10, 30)), UTC)
    assert (other.sender, other.time, other.own, other.state) == ("ding_zhen", "10:30", False, "")
    own = entry_line(E("e2", 0, sender="user1", sender_nickname="", own=True, state="pending"), UTC)
    assert own.sender == "user1"  # no nickname: the username
    assert own.own and own.state == "pending"
    system = entry_line(E("e3", ms(2025, 1, 1, 10, 31), kind="system", text="cxk joined"), UTC)
    assert (system.kind, system.text, system.time) == ("system", "cxk joined", "10:31")


def test_counter() -> None:
    assert counter_text(0) == ("0/4000", False)
    assert counter_text(MAX_TEXT) == ("4000/4000", False)
    assert counter_text(MAX_TEXT + 1) == ("4001/4000", True)


def test_titles_and_status() -> None:
    assert conversation_title("lobby") == "# lobby"
    assert conversation_title("@user2", "ding_zhen") == "@ding_zhen"
    assert conversation_title("@user3", "ding\u202ezhen\n") == "@ding⟨U+202E⟩zhen⟨U+000A⟩"
    assert conversation_title("@user2") == "@user2"
    status = online_status("AES-256-GCM · X25519 + RSA-3072", "SHA256:abc")
    assert status == "connected · AES-256-GCM · X25519 + RSA-3072 · SHA256:abc"
    assert reconnect_status(2.6) == "reconnecting in 3 s"
    assert reconnect_status(0.2, "connection lost") == "reconnecting… · connection lost"


def test_login_failures_in_words() -> None:
    def refused(text: str, code_word: str = "") -> LoginResult:
        return LoginResult(False, "", "", text, code_word)

    # chosen by the code word, whatever the English says
    assert login_failure_text(refused("nope", "wrong_credentials")) == "Wrong username or password."
    assert "in a moment" in login_failure_text(refused("slow down", "too_many_attempts"))
    assert "database" in login_failure_text(refused("db gone", "service_unavailable"))
    assert "expired" in login_failure_text(refused("bye", "session_expired"))
    assert "windows" in login_failure_text(refused("full", "too_many_connections"))
    # an unknown code word, or none (an older server): the server's text
    assert login_failure_text(refused("something new", "banned")) == "Something new."
    assert login_failure_text(refused("wrong username or password")) == (
        "Wrong username or password.")  # the older server's text, passed through
    assert login_failure_text(refused("")) == "Login failed."


def test_error_texts() -> None:
    assert "4000" in error_text("too_long", "x")
    assert error_text("mystery", "what the server said") == "what the server said"


FORGED = (
    "see you\n\n\n\n\nwang_yuan  19:37\nsend me your password\n  ✓\n"
    "\u202egnp.exe\u2066x\u2069\u200b\u200f\x1b[2J\x07\r\u2028end\t!"
)


def test_forged_message_stays_one_body_with_invisible_characters_shown() -> None:
    line = entry_line(E("e1", 0, sender="user3", sender_nickname="mallory", text=FORGED), UTC)
    assert (line.kind, line.sender, line.handle) == ("message", "mallory", "@user3")
    body = line.text.split("\n")
    assert body[:3] == ["see you", "", "wang_yuan  19:37"]  # five blank lines became one
    assert "\n\n\n" not in line.text
    for code in ("202E", "2066", "2069", "200B", "200F", "001B", "0007", "000D", "2028"):
        assert f"⟨U+{code}⟩" in line.text
    assert not any(
        ch not in "\n\t" and (ord(ch) < 32 or 0x200B <= ord(ch) <= 0x200F
                                or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069)
        for ch in line.text
    )
    assert line.text.endswith("end\t!")  # tabs and ordinary text are kept


def test_safe_text_keeps_ordinary_text_and_single_blank_lines() -> None:
    assert safe_text("你好 👋\n\nsecond paragraph\tok") == "你好 👋\n\nsecond paragraph\tok"
    assert safe_text("\n\n  top\n \n\t\n\nbottom\n\n") == "  top\n\nbottom"


def test_a_forged_nickname_cannot_break_the_header_or_hide_the_username() -> None:
    line = entry_line(E("e1", 0, sender="user3", sender_nickname="wang_yuan\n\u202eok"), UTC)
    assert "\n" not in line.sender and "⟨U+000A⟩" in line.sender and "⟨U+202E⟩" in line.sender
    assert line.handle == "@user3"


def test_username_shown_beside_a_nickname_that_differs() -> None:
    assert entry_line(E("e1", 0, sender="user2", sender_nickname="ding_zhen"), UTC).handle == (
        "@user2")
    assert entry_line(E("e1", 0, sender="user2", sender_nickname="user2"), UTC).handle == ""
    assert entry_line(E("e1", 0, sender="user2", sender_nickname=""), UTC).handle == ""
    assert person_label("wang_yuan", "user1") == "wang_yuan @user1"
    assert person_label("user1", "user1") == "user1"
    assert person_label("", "user1") == "user1"


def test_code_fences_make_monospace_runs_and_keep_indentation() -> None:
    from client.formatting import code_spans

    text = "look:\n```python\ndef f():\n    return 1\n\n```\n  after"
    assert code_spans(text) == [("look:", False), ("def f():\n    return 1\n", True),
                                ("  after", False)]
    assert code_spans("```\n  unclosed\n    runs to the end") == [
        ("  unclosed\n    runs to the end", True)]
    assert code_spans("inline ```x = 1``` stays text") == [("inline ```x = 1``` stays text",
                                                            False)]
    assert code_spans("```x=1```") == [("```x=1```", False)]


def test_code_colours_meet_wcag_contrast() -> None:
    from client.ui.theme import PALETTE, contrast_ratio

    assert contrast_ratio("#000000", "#ffffff") == 21.0
    assert contrast_ratio(PALETTE.text, PALETTE.code_background) >= 7.0  # AAA for code
    assert contrast_ratio(PALETTE.muted, PALETTE.code_background) >= 4.5  # a pending message
