"""Message codec (PROTOCOL.md §4): every message round-trips; every malformation is non-fatal."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import LocalProtocolError, RemoteProtocolError
from common.messages import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    Ack,
    ChatDelivery,
    ChatRequest,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    Message,
    ResumeRequest,
    RosterUpdate,
    decode_batch,
    decode_message,
    encode_batch,
    encode_message,
    escape_field,
    unescape_field,
)
from common.protocol import LoginRefusal

SLOW_OK = [HealthCheck.too_slow]  # a loaded CI machine must not turn slowness into failure

ALL = {**CLIENT_MESSAGES, **SERVER_MESSAGES}
MAX_WIRE_INT = 10**19 - 1  # the decoder takes 1..19 ASCII digits

# Chat text of every kind: the four escaped characters, CJK, emoji and anything else but
# surrogates (which UTF-8 cannot carry and st.text() never draws).
specials = st.sampled_from(["|", "\n", "\r", "%", "%25", "%7C", "中文", "😀", "\r\n", "||"])
text = st.text() | st.lists(specials | st.text(max_size=3)).map("".join)
ints = st.integers(min_value=0, max_value=MAX_WIRE_INT)


def strategy_for(kind: str) -> st.SearchStrategy[object]:
    return {"str": text, "int": ints, "bool": st.booleans(), "int | None": st.none() | ints}[kind]


def message_strategy(cls: type) -> st.SearchStrategy[Message]:
    if cls is RosterUpdate:
        return st.builds(RosterUpdate, st.lists(st.tuples(text, text), max_size=6).map(tuple))
    if cls is LoginResult:  # a success carries no code word, a refusal no names
        return st.builds(LoginResult, st.just(True), text, text, text) | st.builds(
            LoginResult, st.just(False), st.just(""), st.just(""), text, text
        )
    fields = {f.name: strategy_for(str(f.type)) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


def table_of(cls: type) -> dict[str, type[Message]]:
    return CLIENT_MESSAGES if cls.CODE in CLIENT_MESSAGES else SERVER_MESSAGES  # type: ignore


def other_table(cls: type) -> dict[str, type[Message]]:
    return SERVER_MESSAGES if cls.CODE in CLIENT_MESSAGES else CLIENT_MESSAGES  # type: ignore


def sample(cls: type) -> Message:
    if cls is RosterUpdate:
        return RosterUpdate((("user1", "wang_yuan"),))
    if cls is LoginResult:
        return LoginResult(True, "x", "x", "x")
    values = {"str": "x", "int": 7, "bool": True, "int | None": None}
    return cls(*(values[str(f.type)] for f in dataclasses.fields(cls)))  # type: ignore


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_OK)
@pytest.mark.parametrize("cls", list(ALL.values()), ids=lambda c: f"{c.CODE}-{c.__name__}")
@given(data=st.data())
def test_every_message_round_trips(cls: type, data: st.DataObject) -> None:
    message = data.draw(message_strategy(cls))
    line = encode_message(message).encode("utf-8")
    assert line.startswith(cls.CODE.encode())
    assert b"\n" not in line and b"\r" not in line
    if cls is LoginResult:
        assert line.count(b"|") == 4  # the code word rides in the refusal's empty nickname
    elif cls is not RosterUpdate:
        assert line.count(b"|") == len(dataclasses.fields(cls))  # separators only, never text
    assert decode_message(line, table_of(cls)) == message


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
@given(
    st.sampled_from([CLIENT_MESSAGES, SERVER_MESSAGES]).flatmap(
        lambda table: st.lists(
            st.one_of([message_strategy(cls) for cls in table.values()]), min_size=1, max_size=8
        )
    )
)
def test_batches_round_trip(messages: list[Message]) -> None:
    plaintext = encode_batch(messages)
    assert plaintext.count(b"\n") == len(messages) - 1  # joined, no trailing newline
    assert decode_batch(plaintext, table_of(type(messages[0]))) == messages


def test_an_empty_batch_is_refused_locally() -> None:
    with pytest.raises(LocalProtocolError):
        encode_batch([])


@pytest.mark.parametrize(
    "message",
    [Ack("x", MAX_WIRE_INT + 1, 0), HistoryRequest("lobby", 2**64, 50)],
    ids=["int-10^19", "optional-int-2^64"],
)
def test_encoder_refuses_numbers_the_decoder_rejects(message: Message) -> None:
    """Like ``encode_frame``, the encoder must refuse what the peer's decoder would reject.

    The decoder takes at most 19 digits; today the encoder sends any non-negative int, so a
    20-digit id would go out and come back as a ``bad_request`` from the peer.
    """
    line = None
    try:
        line = encode_message(message).encode()
    except LocalProtocolError:
        return
    with pytest.raises(RemoteProtocolError):
        decode_message(line, table_of(type(message)))  # shows the asymmetry
    pytest.fail(f"encoder sent {line!r}, which the decoder rejects")


def test_the_largest_wire_number_round_trips() -> None:
    message = Ack("x", MAX_WIRE_INT, MAX_WIRE_INT)
    assert decode_message(encode_message(message).encode(), SERVER_MESSAGES) == message


@pytest.mark.parametrize(
    "message",
    [Ack("x", -1, 0), Ack("x", True, 0), Ack("x", "5", 0), ChatRequest("lobby", "id", 5),
     HistoryRequest("lobby", -3, 5), LoginRequest(b"user", "p")],  # type: ignore[arg-type]
)
def test_encoder_refuses_wrongly_typed_fields(message: Message) -> None:
    with pytest.raises(LocalProtocolError):
        encode_message(message)


def test_wire_shapes_of_the_contract_table() -> None:
    assert encode_message(LoginRequest("user1", "111111")) == "0001|user1|111111"
    assert encode_message(HistoryRequest("@user2", None, 50)) == "0004|@user2||50"
    assert encode_message(LogoutRequest()) == "0005"
    ok = LoginResult(True, "wang_yuan", "user1", "tok")
    assert encode_message(ok) == "1001|1|wang_yuan|user1|tok"
    assert encode_message(HistoryEnd("lobby", 12, False)) == "1004|lobby|12|0"
    assert encode_message(RosterUpdate((("a", "A"), ("b", "B")))) == "1006|a|A|b|B"
    assert encode_message(RosterUpdate(())) == "1006"
    assert encode_message(ChatRequest("lobby", "id", "a|b\nc%")) == "0002|lobby|id|a%7Cb%0Ac%25"


def test_code_spaces_follow_the_contract() -> None:
    rooms_client = {f"{i:04d}" for i in range(9, 22)}  # PROTOCOL.md §6
    e2e_client, e2e_server = {"0040", "0041", "0042", "0043"}, {"1040", "1041", "1043"}  # §7
    signin_client, signin_server = {"0030", "0031", "0032", "0033"}, {"1030", "1031"}  # §8
    account_client = {f"{i:04d}" for i in range(34, 40)}  # §9
    account_server = {f"{i:04d}" for i in range(1032, 1038)} | {"1039"}
    assert set(CLIENT_MESSAGES) == {"0001", "0002", "0003", "0004", "0005", "0006", "0008",
                                    *rooms_client, *e2e_client, *signin_client, *account_client}
    assert set(SERVER_MESSAGES) == ({f"10{i:02d}" for i in range(1, 20)} | e2e_server
                                    | signin_server | account_server)
    counts = {"0001": 2, "0002": 3, "0003": 3, "0004": 3, "0005": 0, "0006": 1, "0008": 2,
              "1001": 4, "1002": 6, "1003": 6, "1004": 3, "1005": 3, "1007": 3, "1008": 1,
              "1009": 2,
              "0009": 3, "0010": 1, "0011": 1, "0012": 2, "0013": 2, "0014": 2, "0015": 2,
              "0016": 3, "0017": 2, "0018": 1, "0019": 2, "0020": 2, "0021": 0,
              "1010": 5, "1011": 3, "1012": 3, "1013": 5, "1014": 4, "1015": 5, "1016": 3,
              "1017": 7, "1018": 3, "1019": 2,
              "0040": 2, "0041": 0, "0042": 2, "0043": 3, "1040": 3, "1041": 3,
              "1043": 6,
              "0030": 1, "0031": 2, "0032": 8, "0033": 2, "1030": 4, "1031": 3,
              "0034": 3, "0035": 1, "0036": 0, "0037": 0, "0038": 2, "0039": 0,
              "1032": 2, "1033": 5, "1034": 5, "1035": 1, "1036": 3, "1037": 3,
              "1039": 2}  # fmt: skip
    for code, cls in ALL.items():
        assert code == cls.CODE
        if code != "1006":  # fields on the wire (LoginResult's code word shares a place)
            assert encode_message(sample(cls)).count("|") == counts[code], code


# --- field escaping ---------------------------------------------------------------------------


@settings(deadline=None, suppress_health_check=SLOW_OK)
@given(text)
def test_escaping_round_trips_and_hides_separators(value: str) -> None:
    escaped = escape_field(value)
    assert not {"|", "\n", "\r"} & set(escaped)
    assert unescape_field(escaped.encode("utf-8")) == value
    if not {"|", "\n", "\r", "%"} & set(value):
        assert escaped == value  # nothing else is touched


def test_the_four_escapes() -> None:
    assert escape_field("%|\n\r") == "%25%7C%0A%0D"
    assert escape_field("%7C") == "%257C"  # an escape in the text is itself escaped


@settings(deadline=None, suppress_health_check=SLOW_OK)
@given(st.text(), st.lists(st.booleans(), min_size=1))
def test_decoder_accepts_any_percent_escape(value: str, upper: list[bool]) -> None:
    raw = value.encode("utf-8")
    escaped = "".join(
        (f"%{b:02X}" if upper[i % len(upper)] else f"%{b:02x}") for i, b in enumerate(raw)
    )
    assert unescape_field(escaped.encode("ascii")) == value


def test_decoder_accepts_any_percent_escape_examples() -> None:
    assert unescape_field(b"%41") == "A"
    assert unescape_field(b"%41%62%e4%b8%ad%F0%9F%98%80") == "Ab中😀"
    assert unescape_field(b"100%25") == "100%"
    assert unescape_field(b"%2541") == "%41"  # one pass only: never decoded twice
    expected = ChatRequest("lobby", "id", "|\n")
    assert decode_message(b"0002|lobby|id|%7c%0a", CLIENT_MESSAGES) == expected


# --- malformed input: peer errors that keep the connection ----------------------------------

BAD_CLIENT_LINES = {
    "unknown code 0099": (b"0099|x", "unknown"),
    "unknown code 9999": (b"9999", "unknown"),
    "unknown code 0007": (b"0007|x", "unknown"),
    "unknown code 0000": (b"0000", "unknown"),
    "non-digit code": (b"abcd|x", "four digits"),
    "half-digit code": (b"00a1|x|y", "four digits"),
    "short code": (b"001|x", "four digits"),
    "long code": (b"00011|a|b", "four digits"),
    "fullwidth digits": ("０００１|a|b".encode(), "four digits"),
    "empty line": (b"", "four digits"),
    "too few fields": (b"0001|only-one", "fields"),
    "too many fields": (b"0001|a|b|c", "fields"),
    "logout with a field": (b"0005|x", "fields"),
    "chat missing text": (b"0002|lobby|id", "fields"),
    "lone percent": (b"0001|%|x", "escape"),
    "non-hex escape": (b"0001|%G1|x", "escape"),
    "short escape": (b"0001|%4|x", "escape"),
    "percent at end": (b"0001|u|p%", "escape"),
    "raw invalid UTF-8": (b"0001|\xff|x", "UTF-8"),
    "escaped invalid UTF-8": (b"0001|%FF|x", "UTF-8"),
    "escaped overlong UTF-8": (b"0001|%C0%AF|x", "UTF-8"),
    "truncated UTF-8": (b"0006|%E4%B8", "UTF-8"),
    "negative number": (b"0004|lobby|-1|5", "number"),
    "letters for number": (b"0004|lobby|x|5", "number"),
    "plus sign": (b"0004|lobby|+1|5", "number"),
    "spaced number": (b"0004|lobby| 1|5", "number"),
    "empty limit": (b"0004|lobby||", "number"),
    "20 digits": (b"0004|lobby|10000000000000000000|5", "number"),
    "arabic-indic digits": ("0004|lobby|١٢|5".encode(), "number"),
}
BAD_SERVER_LINES = {
    "bool 2": (b"1001|2|n|u|t", "flag"),
    "bool word": (b"1001|true|n|u|t", "flag"),
    "bool empty": (b"1004|lobby|5|", "flag"),
    "odd roster": (b"1006|odd", "pairs"),
    "roster with trailing bar": (b"1006|a|b|", "pairs"),
    "ack too short": (b"1007|id|1", "fields"),
    "empty int": (b"1007|id||5", "number"),
    "negative ms": (b"1007|id|1|-5", "number"),
}


@pytest.mark.parametrize(
    ("line", "table", "reason"),
    [
        *[(line, CLIENT_MESSAGES, reason) for line, reason in BAD_CLIENT_LINES.values()],
        *[(line, SERVER_MESSAGES, reason) for line, reason in BAD_SERVER_LINES.values()],
    ],
    ids=[*BAD_CLIENT_LINES, *BAD_SERVER_LINES],
)
def test_malformed_messages_are_non_fatal_peer_errors(
    line: bytes, table: dict[str, type[Message]], reason: str
) -> None:
    with pytest.raises(RemoteProtocolError, match=re.compile(reason, re.I)) as info:
        decode_message(line, table)
    assert info.value.fatal is False
    assert info.value.error_code == "bad_request"


@pytest.mark.parametrize("plaintext", [b"", b"\n", b"0005\n", b"\n0005", b"0005\n\n0005"])
def test_empty_message_in_a_batch_is_a_non_fatal_peer_error(plaintext: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="empty") as info:
        decode_batch(plaintext, CLIENT_MESSAGES)
    assert info.value.fatal is False


@pytest.mark.parametrize("cls", list(ALL.values()), ids=lambda c: c.CODE)
def test_each_side_accepts_only_the_other_sides_codes(cls: type) -> None:
    line = encode_message(sample(cls)).encode()
    assert decode_message(line, table_of(cls)) == sample(cls)
    with pytest.raises(RemoteProtocolError, match="unknown") as info:
        decode_message(line, other_table(cls))
    assert info.value.fatal is False


def test_short_failure_form_of_login_result() -> None:
    # PROTOCOL.md: "Decoders here also accept the short form 1001|0|reason".
    assert decode_message(b"1001|0|nope", SERVER_MESSAGES) == LoginResult(False, "", "", "nope")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"0001|user1|111111", LoginRequest("user1", "111111")),
        (b"0002|lobby|4f1c|hello%7Cworld", ChatRequest("lobby", "4f1c", "hello|world")),
        (b"0004|lobby||50", HistoryRequest("lobby", None, 50)),
        (b"0004|@user2|120|50", HistoryRequest("@user2", 120, 50)),
        (b"0005", LogoutRequest()),
        (b"1001|0|||wrong username or password",
         LoginResult(False, "", "", "wrong username or password")),
        (b"1001|0|wrong_credentials||wrong username or password",
         LoginResult(False, "", "", "wrong username or password", "wrong_credentials")),
        (b"1001|0|too_many_attempts||too many attempts, try again later",
         LoginResult.refused(LoginRefusal.TOO_MANY_ATTEMPTS)),
        (b"1001|0|too_many_attempts|42|too many attempts, try again later",
         LoginResult.refused(LoginRefusal.TOO_MANY_ATTEMPTS, 42)),
        (b"1001|1|wang_yuan|user1|q0Zp", LoginResult(True, "wang_yuan", "user1", "q0Zp")),
        (b"1002|41|lobby|user1|wang_yuan|1763830000000|hello",
         ChatDelivery(41, "lobby", "user1", "wang_yuan", 1763830000000, "hello")),
        (b"1004|lobby|12|1", HistoryEnd("lobby", 12, True)),
        (b"1006|user1|wang_yuan|user2|ding_zhen",
         RosterUpdate((("user1", "wang_yuan"), ("user2", "ding_zhen")))),
        (b"1007|4f1c|41|1763830000000", Ack("4f1c", 41, 1763830000000)),
    ],
)
def test_protocol_md_examples_decode(line: bytes, expected: Message) -> None:
    assert decode_message(line, table_of(type(expected))) == expected


def test_the_wait_rides_in_the_username_place_and_old_readers_keep_the_reason() -> None:
    line = encode_message(LoginResult.refused(LoginRefusal.TOO_MANY_ATTEMPTS, 42)).encode()
    assert line == b"1001|0|too_many_attempts|42|too many attempts, try again later"
    assert line.split(b"|")[-1] == b"too many attempts, try again later"  # an older reader
    odd = decode_message(b"1001|0|too_many_attempts|soon|x", table_of(LoginResult))
    assert isinstance(odd, LoginResult) and odd.retry_after is None  # not a number: no wait


# --- secrets never reach a log line through repr ----------------------------------------------


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (LoginRequest("user1", "hunter2-pw"), "hunter2-pw"),
        (ResumeRequest("user1", "tok-3f9a1c"), "tok-3f9a1c"),
        (LoginResult(True, "wang_yuan", "user1", "tok-3f9a1c"), "tok-3f9a1c"),
    ],
)
def test_secrets_are_hidden_from_repr(message: Message, secret: str) -> None:
    for shown in (repr(message), str(message), f"{message}", repr([message])):
        assert secret not in shown
        assert "user1" in shown  # still useful in a log
    escaped_secret = escape_field(secret)
    assert escaped_secret in encode_message(message)  # hidden from logs, not from the wire


# --- arbitrary input never escapes as anything but a peer error ------------------------------

fragments = st.sampled_from([b"", b"0", b"1", b"42", b"%41", b"%", b"%e4%b8%ad", b"\xff", b"|"])
fuzz_lines = st.binary(max_size=120) | st.builds(
    lambda code, fields: b"|".join([code.encode(), *fields]),
    st.sampled_from([*sorted(ALL), "0007", "10010"]),
    st.lists(st.binary(max_size=10) | fragments, max_size=8),
)


@settings(max_examples=400, deadline=None, suppress_health_check=SLOW_OK)
@given(fuzz_lines)
def test_arbitrary_bytes_give_a_message_or_a_peer_error(data: bytes) -> None:
    for table in (CLIENT_MESSAGES, SERVER_MESSAGES):
        try:
            message = decode_message(data, table)
        except RemoteProtocolError as exc:
            assert exc.fatal is False
            continue
        assert type(message) in table.values()
        again = encode_message(message).encode("utf-8")  # what we accept we can say back
        assert decode_message(again, table) == message


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(st.lists(fuzz_lines, min_size=1, max_size=4).map(b"\n".join))
def test_arbitrary_batches_give_messages_or_a_peer_error(plaintext: bytes) -> None:
    try:
        messages = decode_batch(plaintext, CLIENT_MESSAGES)
    except RemoteProtocolError as exc:
        assert exc.fatal is False
    else:
        assert len(messages) == plaintext.count(b"\n") + 1
