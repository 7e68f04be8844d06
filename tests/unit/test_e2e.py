"""Sealed direct messages: known-answer bytes, and every tampered part refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.e2e import (
    WRAP_BYTES,
    Blob,
    Header,
    Refusal,
    Unverifiable,
    from_field,
    open_blob,
    read_header,
    seal,
    to_field,
)
from common.e2e_replay import SeenIds
from tests.unit.e2e_fixtures import ALICE, BOB, CAROL, counter_random, header

KNOWN_BLOB = bytes.fromhex(
    "010047010575736572310575736572320e646d3a75736572313a7573657232026d310000019aac75e980a4ff"
    "aacfa215c5f89e74e58d901d00092c07eed278e0117096a09177555b08b7bcff4517665b90284d4d38ca0000"
    "0015f08fe87f874970a4f0a3b22991c8247ae8a25d9ed18d4cb861fe1f2f0a01592e055fe577136f3d2a9be2"
    "857cbeefdc47f79b98bf7e15051ef9e2f85233a264297503a509733ef4627d71805a3f61d4378a14cefc4ff4"
    "e8b349e960ea2176ac228e3f8a5f51312b574a2dd711e45de6bd44bcf8e98e6d0bfd7c02648a8fa6e16068c4"
    "4ed87d1c13ea75bb3fdd1b74d7adb84ff62e7e205fec40da91aed43c1c859e2efba249e7a7c60588d671f42f"
    "1848b905eec8a22724c9aba07b8dbfc8aee272c68a29a9845a91f6278590af39630793a4c3c0ff29acf94497"
    "d9c9f6358316202a235cc3d957d8921d5f79e239bc7c1c47d2cb0f"
)


def sealed(text: str = "hello", **fields: object) -> bytes:
    return seal(text, header(**fields), ALICE, BOB.public)  # type: ignore[arg-type]


def test_known_answer_bytes_with_fixed_randomness() -> None:
    blob = seal("hello", header(), ALICE, BOB.public, counter_random(b"msg"))
    assert blob == KNOWN_BLOB
    assert len(blob) == 335  # 5 bytes of text: 330 bytes of envelope around it


def test_recipient_and_sender_both_open_it() -> None:
    assert open_blob(KNOWN_BLOB, "user2", BOB, ALICE.public).text == "hello"
    opened = open_blob(KNOWN_BLOB, "user1", ALICE, ALICE.public)  # the sender's own history
    assert opened.text == "hello" and opened.header == header()


def test_fresh_randomness_gives_a_different_blob_each_time() -> None:
    assert sealed() != sealed()


def refusal_of(blob: bytes, me: str = "user2") -> Refusal:
    mine = {"user1": ALICE, "user2": BOB, "user3": CAROL}[me]
    with pytest.raises(Unverifiable) as caught:
        open_blob(blob, me, mine, ALICE.public)
    return caught.value.refusal


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def parts(blob: bytes) -> Blob:
    return Blob.from_bytes(blob)


def rebuild(blob: bytes, **changes: bytes) -> bytes:
    old = parts(blob)
    fields = {name: getattr(old, name) for name in Blob.__slots__}
    fields.update(changes)
    return Blob(**fields).to_bytes()


@pytest.mark.parametrize("part", ["header", "nonce", "ciphertext", "wrap_for_recipient",
                                  "wrap_for_sender", "signature"])
def test_every_tampered_part_is_refused(part: str) -> None:
    blob = sealed()
    value: bytes = getattr(parts(blob), part)
    for at in (0, len(value) // 2, len(value) - 1):
        tampered = rebuild(blob, **{part: flip(value, at)})
        assert refusal_of(tampered) in (Refusal.BAD_SIGNATURE, Refusal.MALFORMED,
                                        Refusal.UNKNOWN_SENDER_KEY)


def test_every_tampered_byte_is_refused() -> None:
    blob = sealed("hi")
    for at in range(len(blob)):
        with pytest.raises(Unverifiable):
            open_blob(flip(blob, at), "user2", BOB, ALICE.public)


def test_a_message_to_someone_else_is_not_shown_to_a_third_person() -> None:
    to_carol = seal("for carol", header(recipient="user3", recipient_key=CAROL.public), ALICE,
                    CAROL.public)
    assert refusal_of(to_carol, "user2") is Refusal.NOT_FOR_YOU  # relayed to bob by the server


def test_a_forwarded_message_keeps_its_signed_recipient() -> None:
    """Bob cannot hand Alice's words to Carol as if written to her: the recipient is signed,
    and re-addressing the header breaks the signature."""
    blob = sealed("I owe you 100")
    forged = Header.from_bytes(parts(blob).header)
    forged = Header(forged.sender, "user3", "dm:user1:user3", forged.client_msg_id,
                    forged.sent_ms, forged.sender_key_id, CAROL.public.key_id)
    assert refusal_of(rebuild(blob, header=forged.to_bytes()), "user3") is Refusal.BAD_SIGNATURE


def test_a_blob_signed_by_another_key_is_refused() -> None:
    mallory = seal("hello", header(sender_key=CAROL.public), CAROL, BOB.public)
    assert refusal_of(mallory) is Refusal.UNKNOWN_SENDER_KEY  # the pinned key is alice's
    with pytest.raises(Unverifiable) as caught:  # even claiming the pinned key id
        open_blob(rebuild(mallory, header=header().to_bytes()), "user2", BOB, ALICE.public)
    assert caught.value.refusal is Refusal.BAD_SIGNATURE


def test_a_blob_sealed_for_a_substituted_recipient_key_does_not_open_for_the_real_one() -> None:
    """A server that handed the sender Carol's key as 'user2's key': Bob cannot open it and
    says why (the key id in the header is not his)."""
    blob = seal("secret", header(recipient_key=CAROL.public), ALICE, CAROL.public)
    assert refusal_of(blob) is Refusal.NOT_YOUR_KEY


def test_a_replayed_message_id_is_refused_and_a_reload_is_not() -> None:
    seen = SeenIds()
    opened = open_blob(KNOWN_BLOB, "user2", BOB, ALICE.public)
    seen.check(opened, 41)
    seen.check(opened, 41)  # the same history page again
    with pytest.raises(Unverifiable) as caught:
        seen.check(opened, 97)  # stored again by the server as a new message
    assert caught.value.refusal is Refusal.REPLAYED


def test_seal_refuses_a_header_that_does_not_match_the_keys() -> None:
    with pytest.raises(ValueError):
        seal("x", header(recipient_key=CAROL.public), ALICE, BOB.public)
    with pytest.raises(ValueError):
        seal("x", header(sender_key=CAROL.public), ALICE, BOB.public)
    with pytest.raises(ValueError):
        seal("", header(), ALICE, BOB.public)


def test_the_field_form_round_trips_and_the_server_reads_the_header() -> None:
    field = to_field(KNOWN_BLOB)
    assert "=" not in field and "|" not in field and from_field(field) == KNOWN_BLOB
    assert read_header(KNOWN_BLOB) == header()
    assert len(parts(KNOWN_BLOB).wrap_for_recipient) == WRAP_BYTES


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_blob_decoder_takes_any_bytes_without_crashing(data: bytes) -> None:
    try:
        Header.from_bytes(Blob.from_bytes(data).header)
    except ValueError:
        pass
    with pytest.raises(Unverifiable):
        open_blob(data, "user2", BOB, ALICE.public)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_the_header_decoder_takes_any_bytes_without_crashing(data: bytes) -> None:
    try:
        decoded = Header.from_bytes(data)
    except ValueError:
        return
    assert decoded.to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_the_field_decoder_takes_any_text_without_crashing(field: str) -> None:
    try:
        blob = from_field(field)
    except ValueError:
        return
    assert to_field(blob) == field
