"""PROTOCOL.md §7 read by an independent implementation: the known-answer blob is parsed by
offsets and opened with pycryptodome alone (its own GCM), nothing from ``common.e2e``."""

from __future__ import annotations

import hashlib
import struct

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.Signature import eddsa

from tests.unit.e2e_fixtures import ALICE, BOB
from tests.unit.test_e2e import KNOWN_BLOB


def gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    cipher.update(aad)
    return cipher.decrypt_and_verify(sealed[:-16], sealed[-16:])


def test_an_independent_reader_opens_the_known_blob_from_the_spec() -> None:
    blob = KNOWN_BLOB
    assert blob[0] == 1
    (header_len,) = struct.unpack(">H", blob[1:3])
    header = blob[3 : 3 + header_len]
    at = 3 + header_len
    nonce = blob[at : at + 12]
    (ct_len,) = struct.unpack(">I", blob[at + 12 : at + 16])
    ciphertext = blob[at + 16 : at + 16 + ct_len]
    at += 16 + ct_len
    wrap_r, signature = blob[at : at + 80], blob[at + 160 :]
    assert len(signature) == 64

    # the header: version, four length-prefixed strings, sent_ms, two key ids
    assert header[0] == 1
    strings, pos = [], 1
    for _ in range(4):
        strings.append(header[pos + 1 : pos + 1 + header[pos]].decode())
        pos += 1 + header[pos]
    assert strings == ["user1", "user2", "dm:user1:user2", "m1"]
    sender_bundle = ALICE.public.to_bytes()
    sender_key_id = hashlib.sha256(b"chat-e2e v1 key id\x00" + sender_bundle[1:]).digest()[:16]
    assert header[pos + 8 : pos + 24] == sender_key_id

    signer = eddsa.import_public_key(sender_bundle[1:33])
    eddsa.new(signer, "rfc8032").verify(b"chat-e2e v1 message signature\x00" + blob[:-64],
                                        signature)

    receive_public = BOB.public.to_bytes()[33:65]
    shared = DH.key_agreement(
        static_priv=DH.import_x25519_private_key(BOB.receive_seed),
        eph_pub=DH.import_x25519_public_key(wrap_r[:32]), kdf=lambda z: z)
    kek = HKDF(shared, 32, wrap_r[:32] + receive_public, SHA256,
               context=b"chat-e2e v1 wrap\x00R")
    assert isinstance(kek, bytes)
    message_key = gcm_open(kek, bytes(12), wrap_r[32:], header)
    assert gcm_open(message_key, nonce, ciphertext, header) == b"hello"
