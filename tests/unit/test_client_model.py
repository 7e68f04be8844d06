"""The chat model: ordering, dedupe, pending until acked, unread counts, roster."""

from __future__ import annotations

from client.model import ChatModel
from common.messages import Ack, ChatDelivery, ChatRequest, DirectDelivery, DirectRequest


def chat(msg_id: int, sender: str = "user2", text: str = "hi", ms: int = 1000) -> ChatDelivery:
    return ChatDelivery(msg_id, "lobby", sender, sender + "_nick", ms, text)


def texts(model: ChatModel, key: str = "lobby") -> list[str]:
    return [e.text for e in model.conversation(key).ordered()]


def test_history_pages_sort_and_dedupe() -> None:
    model = ChatModel("user1")
    conv = model.conversation("lobby")
    conv.history_inflight = True
    for msg_id in (8, 9, 10):
        assert model.receive(chat(msg_id, text=f"m{msg_id}")) is not None
    model.history_end("lobby", 8, True, 3, "first")
    conv.history_inflight = True
    for msg_id in (5, 6, 7, 8):  # an overlapping older page
        model.receive(chat(msg_id, text=f"m{msg_id}"))
    model.history_end("lobby", 5, False, 3, "older")
    assert texts(model) == ["m5", "m6", "m7", "m8", "m9", "m10"]
    assert conv.oldest_msg_id == 5 and conv.more is False
    assert conv.unread == 0  # history is not unread


def test_pending_until_ack_then_in_server_order() -> None:
    model = ChatModel("user1", "wang_yuan")
    model.receive(chat(1, text="before"))
    request = model.compose("lobby", "mine", 2000)
    assert isinstance(request, ChatRequest) and request.room == "lobby"
    entry = model.conversation("lobby").ordered()[-1]
    assert (entry.text, entry.state, entry.own, entry.msg_id) == ("mine", "pending", True, None)
    assert request.client_msg_id in model.outbox
    model.receive(chat(2, text="theirs, stored first"))
    acked = model.ack(Ack(request.client_msg_id, 3, 2500))
    assert acked is entry and entry.state == "sent" and entry.sent_ms == 2500
    assert len(model.outbox) == 0
    assert texts(model) == ["before", "theirs, stored first", "mine"]
    assert model.ack(Ack(request.client_msg_id, 3, 2500)) is None  # a resend's second ack


def test_own_echo_is_not_shown_twice() -> None:
    model = ChatModel("user1")
    request = model.compose("lobby", "hello", 1000)
    assert model.receive(chat(4, sender="user1", text="hello")) is None  # echo before the ack
    assert model.ack(Ack(request.client_msg_id, 4, 1000)) is not None
    assert model.receive(chat(4, sender="user1", text="hello")) is None
    assert texts(model) == ["hello"]


def test_local_lines_move_below_a_late_first_page() -> None:
    model = ChatModel("user1")
    conv = model.conversation("lobby")
    conv.history_inflight = True
    model.system("lobby", "cxk joined", 5000)
    model.receive(chat(1, text="old"))
    model.history_end("lobby", 1, False, 1, "first")
    assert texts(model) == ["old", "cxk joined"]


def test_unread_counts_and_direct_conversations() -> None:
    model = ChatModel("user1")
    model.receive(DirectDelivery(5, "user2", "ding_zhen", "user1", 1000, "psst"))
    model.receive(DirectDelivery(6, "user2", "ding_zhen", "user1", 1001, "again"))
    conv = model.conversation("@user2")
    assert conv.unread == 2 and conv.nickname == "ding_zhen"
    model.receive(chat(7))
    assert model.conversation("lobby").unread == 0  # the shown conversation
    model.select("@user2")
    assert conv.unread == 0
    model.receive(chat(8))
    assert model.conversation("lobby").unread == 1
    own = model.receive(DirectDelivery(9, "user1", "wang_yuan", "user2", 1002, "other window"))
    assert own is not None and own.conversation == "@user2" and own.own
    request = model.compose("@user2", "reply", 1003)
    assert isinstance(request, DirectRequest) and request.to_username == "user2"


def test_roster_and_presence() -> None:
    model = ChatModel("user1")
    model.set_roster((("user1", "wang_yuan"), ("user2", "ding_zhen")))
    line = model.presence("join", "user3", "cxk", 1000)
    assert line is not None and line.text == "cxk joined" and line.kind == "system"
    assert model.roster["user3"] == "cxk"
    left = model.presence("leave", "user2", "ding_zhen", 1001)
    assert left is line and left.text == "cxk joined · ding_zhen left"  # one line per run
    assert "user2" not in model.roster
    assert model.presence("join", "user1", "wang_yuan", 1002) is None  # oneself: no line
    assert model.presence("wave", "user3", "cxk", 1003) is None


def lobby_texts(model: ChatModel) -> list[str]:
    return [e.text for e in model.conversation("lobby").ordered()]


def test_presence_runs_fold_into_one_line() -> None:
    model = ChatModel("user1")
    model.presence("join", "user3", "cxk", 1000)
    model.presence("join", "user4", "amy", 1001)
    model.presence("leave", "user3", "cxk", 1002)
    model.presence("join", "user5", "bo", 1003)
    assert lobby_texts(model) == ["cxk joined and left · amy, bo joined"]
    model.receive(ChatDelivery(7, "lobby", "user4", "amy", 1004, "hi"))
    model.presence("leave", "user4", "amy", 1005)  # after a message: a new line
    assert lobby_texts(model) == ["cxk joined and left · amy, bo joined", "hi", "amy left"]


def test_a_reconnect_shows_no_presence_line() -> None:
    model = ChatModel("user1")
    model.receive(ChatDelivery(7, "lobby", "user2", "ding_zhen", 1000, "hi"))
    assert model.presence("leave", "user2", "ding_zhen", 1001) is not None
    assert lobby_texts(model) == ["hi", "ding_zhen left"]
    assert model.presence("join", "user2", "ding_zhen", 1002) is None  # back: line withdrawn
    assert lobby_texts(model) == ["hi"] and model.roster == {"user2": "ding_zhen"}
    model.presence("join", "user3", "cxk", 1003)
    model.presence("leave", "user3", "cxk", 1004)
    model.presence("join", "user3", "cxk", 1005)  # joined, dropped, came back: joined
    assert lobby_texts(model) == ["hi", "cxk joined"]
    # one's own reconnect (or another window of the account) is never a line
    assert model.presence("leave", "user1", "wang_yuan", 1006) is None
    assert model.presence("join", "user1", "wang_yuan", 1007) is None
    assert lobby_texts(model) == ["hi", "cxk joined"]
