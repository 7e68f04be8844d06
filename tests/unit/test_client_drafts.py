"""Nothing typed is lost: unsent messages and drafts survive closing the window, each
conversation has its own draft, and text is sent exactly as typed.

Controller tests with the fakes of ``client_fakes``; the client's config directory is a
temporary ``XDG_CONFIG_HOME`` (never the real one).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.stash import STASH_SUBDIR, Stash, StashedMessage, StashFile, stash_name
from client.traffic import DRAFT_SAVE_MS
from client.trust import config_dir
from common.messages import Ack, ChatRequest, DirectRequest, HistoryRequest, LoginResult
from tests.unit.client_fakes import Harness


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's config directory under a temporary XDG_CONFIG_HOME."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    directory = config_dir()
    assert directory.is_relative_to(tmp_path)
    return directory


def window(tmp_path: Path, key: RSA.RsaKey, config: Path) -> Harness:
    """A fresh window (a new process, as far as the controller can tell) on ``config``."""
    return Harness(tmp_path, key, config=config)


def stash_path(config: Path, username: str = "user1") -> Path:
    return config / STASH_SUBDIR / stash_name("127.0.0.1", 8090, username)


def stashed(config: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads(stash_path(config).read_text(encoding="utf-8"))
    return document


# --- 3. exactly what was typed ---------------------------------------------------------------


def test_text_is_sent_exactly_as_typed_but_trailing_newlines(h: Harness) -> None:
    session = h.online()
    code = "```\ndef f(x):\n    return x  \n```"
    assert h.app.send_text("    indented\n  and more  ")
    assert h.app.send_text(code + "\n\n")
    assert [r.text for r in session.of(ChatRequest)] == ["    indented\n  and more  ", code]
    for blank in ("", " ", "\n\n", " \t \n  "):
        assert not h.app.send_text(blank)
    assert len(session.of(ChatRequest)) == 2


# --- 2. one draft per conversation -----------------------------------------------------------


def test_each_conversation_keeps_its_own_draft(h: Harness) -> None:
    session = h.online()
    assert h.view.draft == ("lobby", "")
    h.app.set_draft("lobby", "for everyone")
    h.app.open_direct("user2")
    assert h.view.draft == ("@user2", "")  # the room's draft is not in the private box
    h.app.set_draft("@user2", "just for you")
    assert h.app.send_text("just for you")
    assert h.app.model is not None
    (sent,) = h.app.model.outbox.requests()  # sealed on its way out (test_client_e2e)
    assert sent == DirectRequest("user2", sent.client_msg_id, "just for you")
    h.app.set_draft("@user2", "second thought")
    h.app.select_conversation("lobby")
    assert h.view.draft == ("lobby", "for everyone")
    h.app.select_conversation("@user2")
    assert h.view.draft == ("@user2", "second thought")
    assert session.of(ChatRequest) == []  # nothing typed for one went to the other


def test_sending_clears_only_that_conversations_draft(h: Harness) -> None:
    h.online()
    h.app.set_draft("@user2", "later")
    h.app.set_draft("lobby", "now")
    assert h.app.send_text("now")
    model = h.app.model
    assert model is not None and model.drafts() == {"@user2": "later"}


# --- 1. the outbox on disk -------------------------------------------------------------------


def test_unsent_messages_are_on_disk_0600_until_acked(tmp_path: Path, key: RSA.RsaKey,
                                                      config: Path) -> None:
    w = window(tmp_path, key, config)
    session = w.online()
    w.app.send_text("first")
    w.app.open_direct("user2")
    w.app.send_text("  private\n    indented")
    path = stash_path(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert w.app.model is not None
    first, private = w.app.model.outbox.requests()
    assert stashed(config)["messages"] == [
        {"conversation": "lobby", "client_msg_id": first.client_msg_id, "text": "first",
         "typed_ms": w.app.now_ms()},
        {"conversation": "@user2", "client_msg_id": private.client_msg_id,
         "text": "  private\n    indented", "typed_ms": w.app.now_ms()},
    ]
    session.deliver(Ack(first.client_msg_id, 10, w.app.now_ms()))
    w.pump()
    assert [m["text"] for m in stashed(config)["messages"]] == ["  private\n    indented"]
    session.deliver(Ack(private.client_msg_id, 11, w.app.now_ms()))
    w.pump()
    assert not path.exists()  # nothing left: no file
    assert not list(path.parent.glob(".*"))  # no temporary file left behind


def test_kept_messages_are_resent_with_their_ids_at_the_next_login(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    w = window(tmp_path, key, config)
    session = w.online()
    session.drop()  # offline: the message waits in the outbox
    w.pump()
    w.app.send_text("typed while offline")
    w.app.open_direct("user2")
    w.app.send_text("to you")
    assert w.app.unsent_count() == 2
    w.app.quit("keep")
    assert w.view.screen == "closed"

    again = window(tmp_path, key, config)
    session = again.online()
    assert again.app.model is not None
    sends = [*session.of(ChatRequest), *again.app.model.outbox.requests()[1:]]
    assert [m.text for m in sends] == ["typed while offline", "to you"]
    kept = stashed(config)["messages"]
    assert isinstance(kept, list)
    assert [m.client_msg_id for m in sends] == [m["client_msg_id"] for m in kept]
    first_history = next(i for i, m in enumerate(session.sent) if isinstance(m, HistoryRequest))
    assert session.sent.index(sends[0]) < first_history  # acks come before history pages
    # (the direct message waits for the keys: sealed and sent once they are open)
    assert again.view.messages() == [("wang_yuan", "typed while offline", "pending")]
    assert any("sent again" in ln.text for ln in again.view.lines if ln.kind == "system")
    for number, request in enumerate(sends, 20):
        session.deliver(Ack(request.client_msg_id, number, again.app.now_ms()))
    again.pump()
    assert again.view.messages() == [("wang_yuan", "typed while offline", "sent")]
    assert again.app.unsent_count() == 0 and not stash_path(config).exists()


def test_discarding_at_close_sends_nothing_next_time_but_keeps_drafts(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    w = window(tmp_path, key, config)
    session = w.online()
    session.drop()
    w.pump()
    w.app.send_text("never mind")
    w.app.set_draft("lobby", "half a thought")
    w.app.quit("discard")
    assert stashed(config)["messages"] == []

    again = window(tmp_path, key, config)
    session = again.online()
    assert session.of(ChatRequest) == [] and again.app.unsent_count() == 0
    assert again.view.draft == ("lobby", "half a thought")


def test_drafts_are_saved_after_a_pause_and_restored(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    w = window(tmp_path, key, config)
    w.online()
    w.app.set_draft("lobby", "  indented draft\n")
    w.app.set_draft("@user2", "private draft")
    assert not stash_path(config).exists()  # not on every keystroke
    w.advance(DRAFT_SAVE_MS / 1000 + 0.2)
    assert stashed(config)["drafts"] == {"lobby": "  indented draft\n",
                                         "@user2": "private draft"}
    # the window is killed: no quit(); the last save is what the next one sees
    again = window(tmp_path, key, config)
    again.online()
    assert again.view.draft == ("lobby", "  indented draft\n")
    again.app.select_conversation("@user2")
    assert again.view.draft == ("@user2", "private draft")


def test_waiting_closes_the_window_once_everything_is_sent(h: Harness) -> None:
    session = h.online()
    h.app.send_text("one")
    h.app.send_text("two")
    h.app.quit_when_sent()
    assert "closing once 2" in h.view.status[0]
    one, two = session.of(ChatRequest)
    session.deliver(Ack(one.client_msg_id, 1, h.app.now_ms()))
    h.pump()
    assert h.view.screen == "chat"  # one still unsent: the window stays
    session.deliver(Ack(two.client_msg_id, 2, h.app.now_ms()))
    h.pump()
    assert h.view.screen == "closed"


def test_logout_gives_up_the_messages_it_warned_about_but_not_drafts(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    w = window(tmp_path, key, config)
    session = w.online()
    session.drop()
    w.pump()
    w.app.send_text("lost on purpose")
    w.app.set_draft("lobby", "still here")
    w.app.logout()
    assert stashed(config) == {"version": 1, "messages": [], "drafts": {"lobby": "still here"}}


def test_each_account_and_server_has_its_own_file(tmp_path: Path, key: RSA.RsaKey,
                                                  config: Path) -> None:
    w = window(tmp_path, key, config)
    session = w.online()
    w.app.send_text("from user1")
    other = StashFile(config, "127.0.0.1", 8090, "user2")
    elsewhere = StashFile(config, "chat.example", 8090, "user1")
    assert other.load().messages == [] and elsewhere.load().messages == []
    assert stash_path(config).exists()
    assert len({stash_path(config), other.path, elsewhere.path}) == 3
    assert session.of(ChatRequest)[0].text == "from user1"


def test_stash_names_are_safe_and_distinct() -> None:
    names = {
        stash_name("::1", 8090, "user1"),
        stash_name("127.0.0.1", 8090, "../../etc/passwd"),
        stash_name("127.0.0.1", 8090, "a/b"),
        stash_name("127.0.0.1", 8090, "a_b"),
        stash_name("127.0.0.1", 8091, "a_b"),
    }
    assert len(names) == 5
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.endswith(".json") and len(name) < 120


def test_a_damaged_file_is_set_aside_and_the_login_goes_on(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    path = stash_path(config)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    w = window(tmp_path, key, config)
    session = w.online()
    assert w.view.screen == "chat" and session.of(ChatRequest) == []
    assert path.with_suffix(".bad").read_text(encoding="utf-8") == "{not json"


def test_the_stash_round_trips_and_rejects_unknown_conversations(config: Path) -> None:
    store = StashFile(config, "127.0.0.1", 8090, "user1")
    kept = Stash([StashedMessage("@user2", "c" * 32, " x\n  y", 5)], {"lobby": "draft"})
    store.save(kept)
    assert store.load() == kept
    assert kept.messages[0].request() == DirectRequest("user2", "c" * 32, " x\n  y")
    document = json.loads(store.path.read_text(encoding="utf-8"))
    document["messages"][0]["conversation"] = "#secret"
    store.path.write_text(json.dumps(document), encoding="utf-8")
    assert store.load() == Stash()


def test_messages_of_an_earlier_session_are_not_restored_twice(
    tmp_path: Path, key: RSA.RsaKey, config: Path
) -> None:
    """A resume after a reconnect must not read the file again (it would duplicate)."""
    w = window(tmp_path, key, config)
    session = w.online()
    w.app.send_text("once")
    session.drop()
    w.advance(5)
    resumed = w.session
    assert resumed is not session
    resumed.handshake()
    w.pump()
    resumed.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    w.pump()
    assert [m.text for m in resumed.of(ChatRequest)] == ["once"]
    assert w.view.messages() == [("wang_yuan", "once", "pending")]
