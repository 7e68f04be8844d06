"""End-to-end sealed direct messages: the digital envelope from one person to another.

A direct message travels as one *blob* that the server stores and relays but cannot read
(PROTOCOL.md §7 gives it byte by byte):

- a **header** in clear (sender, recipient, conversation, client message id, time, both key
  ids), so the server can check what it must (the sender is the logged-in account) and the
  recipient knows which keys to use;
- the **text** sealed with AES-256-GCM under a fresh 32-byte message key, the header as
  associated data;
- the message key **wrapped** twice, for the recipient's and for the sender's own X25519
  receive key (ephemeral X25519, HKDF-SHA256, AES-256-GCM: an ECIES envelope), so both
  ends, on every device, can read the conversation's history;
- the sender's **Ed25519 signature** over everything before it. Signing the recipient's name
  is what stops a recipient from forwarding the message to a third person as if it had been
  written to them.

``open_blob`` refuses (``Unverifiable`` with the reason) anything that fails one check; a
client shows such a message as "could not be verified", never as text. All randomness comes
through ``random`` so tests can pin the bytes (known-answer tests).
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey.ECC import EccKey
from Crypto.Signature import eddsa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.identity import KEY_ID_BYTES, Identity, PublicIdentity

BLOB_VERSION = 1
HEADER_VERSION = 1
MESSAGE_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAP_BYTES = 32 + MESSAGE_KEY_BYTES + TAG_BYTES  # ephemeral public key | sealed message key
SIGNATURE_BYTES = 64
MAX_NAME_BYTES = 255
MAX_TEXT_BYTES = 65_536
WRAP_NONCE = bytes(NONCE_BYTES)  # each wrap key is used once (fresh ephemeral key), so zero is safe
WRAP_LABEL = b"chat-e2e v1 wrap\x00"
SIGN_LABEL = b"chat-e2e v1 message signature\x00"
FOR_RECIPIENT, FOR_SENDER = b"R", b"S"

Random = Callable[[int], bytes]


class Refusal(enum.Enum):
    """Why a blob could not be verified (shown to the person beside "could not be verified")."""

    MALFORMED = "the message is malformed"
    UNKNOWN_SENDER_KEY = "the message was signed with a key other than the sender's known key"
    BAD_SIGNATURE = "the signature does not match the sender's key"
    NOT_FOR_YOU = "the message is addressed to someone else"
    WRONG_CONVERSATION = "the message belongs to another conversation"
    NOT_YOUR_KEY = "the message was sealed for a key other than yours"
    DOES_NOT_OPEN = "the message does not open"
    REPLAYED = "the message is a replay of an earlier one"


class Unverifiable(Exception):
    """A blob refused by ``open_blob``; ``refusal`` says which check failed."""

    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(refusal.value + (f" ({detail})" if detail else ""))
        self.refusal = refusal


def dm_conversation(a: str, b: str) -> str:
    """The direct conversation of ``a`` and ``b``: ``dm:<lower>:<higher>`` (the server's name)."""
    low, high = sorted((a, b))
    return f"dm:{low}:{high}"


@dataclass(frozen=True, slots=True)
class Header:
    """The blob's clear part; every field is signed and is the content's associated data."""

    sender: str
    recipient: str
    conversation: str
    client_msg_id: str
    sent_ms: int
    sender_key_id: bytes
    recipient_key_id: bytes

    def to_bytes(self) -> bytes:
        """``0x01 | (len u8 | utf8) x4 | sent_ms u64 | sender_key_id[16] | recipient_key_id[16]``"""
        out = bytearray([HEADER_VERSION])
        for text in (self.sender, self.recipient, self.conversation, self.client_msg_id):
            raw = text.encode("utf-8")
            if not 0 < len(raw) <= MAX_NAME_BYTES:
                raise ValueError("header strings are 1..255 bytes of UTF-8")
            out += bytes([len(raw)]) + raw
        if not 0 <= self.sent_ms < 2**64:
            raise ValueError("sent_ms is an unsigned 64-bit number")
        if len(self.sender_key_id) != KEY_ID_BYTES or len(self.recipient_key_id) != KEY_ID_BYTES:
            raise ValueError("key ids are 16 bytes")
        out += struct.pack(">Q", self.sent_ms) + self.sender_key_id + self.recipient_key_id
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        if not data or data[0] != HEADER_VERSION:
            raise ValueError("unknown header version")
        at, texts = 1, []
        for _ in range(4):
            if at >= len(data):
                raise ValueError("header ends early")
            size = data[at]
            raw = data[at + 1 : at + 1 + size]
            if size == 0 or len(raw) != size:
                raise ValueError("header string empty or cut short")
            texts.append(raw.decode("utf-8"))  # UnicodeDecodeError is a ValueError
            at += 1 + size
        rest = data[at:]
        if len(rest) != 8 + 2 * KEY_ID_BYTES:
            raise ValueError("header has the wrong length")
        (sent_ms,) = struct.unpack(">Q", rest[:8])
        sender, recipient, conversation, client_msg_id = texts
        return cls(sender, recipient, conversation, client_msg_id, sent_ms, rest[8:24],
                   rest[24:40])


@dataclass(frozen=True, slots=True)
class Blob:
    """The parts of a sealed message, as they travel (``to_bytes``/``from_bytes``)."""

    header: bytes
    nonce: bytes
    ciphertext: bytes  # the UTF-8 text sealed, tag included
    wrap_for_recipient: bytes
    wrap_for_sender: bytes
    signature: bytes

    def signed_part(self) -> bytes:
        """Everything the signature covers: the blob up to the signature."""
        return (
            bytes([BLOB_VERSION])
            + struct.pack(">H", len(self.header)) + self.header
            + self.nonce
            + struct.pack(">I", len(self.ciphertext)) + self.ciphertext
            + self.wrap_for_recipient + self.wrap_for_sender
        )

    def to_bytes(self) -> bytes:
        return self.signed_part() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> Blob:
        """Parse without verifying; ``ValueError`` on any length or version that is off."""
        if len(data) < 3 or data[0] != BLOB_VERSION:
            raise ValueError("unknown blob version")
        (header_len,) = struct.unpack(">H", data[1:3])
        at = 3 + header_len
        header, nonce = data[3:at], data[at : at + NONCE_BYTES]
        at += NONCE_BYTES
        if len(header) != header_len or len(nonce) != NONCE_BYTES or len(data) < at + 4:
            raise ValueError("blob ends early")
        (ct_len,) = struct.unpack(">I", data[at : at + 4])
        at += 4
        if not TAG_BYTES <= ct_len <= MAX_TEXT_BYTES + TAG_BYTES:
            raise ValueError("ciphertext length out of range")
        expected = at + ct_len + 2 * WRAP_BYTES + SIGNATURE_BYTES
        if len(data) != expected:
            raise ValueError("blob has the wrong length")
        ciphertext = data[at : at + ct_len]
        at += ct_len
        wraps = data[at : at + 2 * WRAP_BYTES]
        return cls(header, nonce, ciphertext, wraps[:WRAP_BYTES], wraps[WRAP_BYTES:],
                   data[at + 2 * WRAP_BYTES :])


def to_field(blob: bytes) -> str:
    """How a blob travels in one text-protocol field: base64url without padding."""
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def from_field(field: str) -> bytes:
    """The blob in a field (``ValueError`` unless it is canonical unpadded base64url)."""
    if "=" in field or len(field) % 4 == 1:
        raise ValueError("a blob field is unpadded base64url")
    try:
        raw = field.encode("ascii")
        blob = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("a blob field is unpadded base64url") from None
    if to_field(blob) != field:  # one spelling per blob (no stray bits, no other alphabet)
        raise ValueError("a blob field is canonical unpadded base64url")
    return blob


def read_header(blob: bytes) -> Header:
    """The clear header of a blob, unverified: what the server checks routing with."""
    return Header.from_bytes(Blob.from_bytes(blob).header)


def _wrap_key(shared: bytes, ephemeral: bytes, receiver: bytes, role: bytes) -> bytes:
    salt = ephemeral + receiver
    key = HKDF(shared, MESSAGE_KEY_BYTES, salt, SHA256, context=WRAP_LABEL + role)
    assert isinstance(key, bytes)
    return key


def _identity_bytes(shared: bytes) -> bytes:
    return shared


def _wrap(message_key: bytes, receiver: bytes, role: bytes, header: bytes, seed: bytes) -> bytes:
    ephemeral = DH.import_x25519_private_key(seed)
    ephemeral_public = ephemeral.public_key().export_key(format="raw")
    shared = DH.key_agreement(
        eph_priv=ephemeral, static_pub=DH.import_x25519_public_key(receiver), kdf=_identity_bytes
    )
    kek = _wrap_key(shared, ephemeral_public, receiver, role)
    return ephemeral_public + AESGCM(kek).encrypt(WRAP_NONCE, message_key, header)


def _unwrap(wrap: bytes, receiving: EccKey, receiver: bytes, role: bytes, header: bytes) -> bytes:
    ephemeral_public = wrap[:32]
    try:
        shared = DH.key_agreement(
            static_priv=receiving, eph_pub=DH.import_x25519_public_key(ephemeral_public),
            kdf=_identity_bytes,
        )
        kek = _wrap_key(shared, ephemeral_public, receiver, role)
        return AESGCM(kek).decrypt(WRAP_NONCE, wrap[32:], header)
    except (ValueError, InvalidTag):
        raise Unverifiable(Refusal.DOES_NOT_OPEN, "the message key") from None


def seal(
    text: str,
    header: Header,
    sender: Identity,
    recipient: PublicIdentity,
    random: Random = os.urandom,
) -> bytes:
    """The blob of ``text``; ``header`` names ``sender`` and ``recipient`` and their key ids.

    ``random`` gives, in this order: the message key (32), the content nonce (12), the
    ephemeral seed of the recipient's wrap (32), that of the sender's wrap (32).
    """
    if header.sender_key_id != sender.public.key_id:
        raise ValueError("the header's sender key id is not the sender's key")
    if header.recipient_key_id != recipient.key_id:
        raise ValueError("the header's recipient key id is not the recipient's key")
    if header.conversation != dm_conversation(header.sender, header.recipient):
        raise ValueError("the header's conversation is not the sender's and recipient's")
    plain = text.encode("utf-8")
    if not plain or len(plain) > MAX_TEXT_BYTES:
        raise ValueError("text must be 1..65536 bytes of UTF-8")
    head = header.to_bytes()
    message_key, nonce = random(MESSAGE_KEY_BYTES), random(NONCE_BYTES)
    ciphertext = AESGCM(message_key).encrypt(nonce, plain, head)
    to_recipient = _wrap(message_key, recipient.receive_public, FOR_RECIPIENT, head, random(32))
    to_sender = _wrap(message_key, sender.public.receive_public, FOR_SENDER, head, random(32))
    unsigned = Blob(head, nonce, ciphertext, to_recipient, to_sender, b"")
    signer = eddsa.new(sender.signing_key(), "rfc8032")
    signature = signer.sign(SIGN_LABEL + unsigned.signed_part())
    return Blob(head, nonce, ciphertext, to_recipient, to_sender, signature).to_bytes()


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified direct message."""

    header: Header
    text: str


def open_blob(blob: bytes, me: str, mine: Identity, sender_key: PublicIdentity) -> Opened:
    """Verify and open ``blob`` as account ``me`` (its recipient, or its sender reading history).

    ``sender_key`` is the key the client has pinned for the header's sender (``mine.public``
    when ``me`` sent it). Checks, in order: format, sender key id, signature, addressee,
    conversation, own key id, key unwrap, content. Replays are the caller's ``SeenIds``.
    """
    try:
        parts = Blob.from_bytes(blob)
        header = Header.from_bytes(parts.header)
    except ValueError as exc:
        raise Unverifiable(Refusal.MALFORMED, str(exc)) from None
    if header.sender_key_id != sender_key.key_id:
        raise Unverifiable(Refusal.UNKNOWN_SENDER_KEY)
    verifier = eddsa.new(eddsa.import_public_key(sender_key.sign_public), "rfc8032")
    try:
        verifier.verify(SIGN_LABEL + parts.signed_part(), parts.signature)
    except ValueError:
        raise Unverifiable(Refusal.BAD_SIGNATURE) from None
    if me == header.recipient:
        wrap, my_key_id, role = parts.wrap_for_recipient, header.recipient_key_id, FOR_RECIPIENT
    elif me == header.sender:
        wrap, my_key_id, role = parts.wrap_for_sender, header.sender_key_id, FOR_SENDER
    else:
        raise Unverifiable(Refusal.NOT_FOR_YOU)
    if header.conversation != dm_conversation(header.sender, header.recipient):
        raise Unverifiable(Refusal.WRONG_CONVERSATION)
    if my_key_id != mine.public.key_id:
        raise Unverifiable(Refusal.NOT_YOUR_KEY)
    message_key = _unwrap(wrap, mine.receiving_key(), mine.public.receive_public, role,
                          parts.header)
    try:
        plain = AESGCM(message_key).decrypt(parts.nonce, parts.ciphertext, parts.header)
        return Opened(header, plain.decode("utf-8"))
    except (InvalidTag, UnicodeDecodeError):
        raise Unverifiable(Refusal.DOES_NOT_OPEN, "the text") from None
