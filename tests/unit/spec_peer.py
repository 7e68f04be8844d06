"""A second implementation of the wire contract, written from PROTOCOL.md alone.

It uses pycryptodome directly and nothing from ``common``, so a mistake made the same way on
both sides of ``common`` (a transcript off by a byte, keys swapped, a nonce built wrongly) shows
up as a failure to talk to this peer instead of passing silently.
"""

from __future__ import annotations

import hashlib
import struct

from Crypto.Cipher import AES, PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes
from Crypto.Signature import pss
from Crypto.Signature.pss import MGF1

CONTEXT = b"chat-envelope v1 server signature\x00"


def _mgf(seed: bytes, length: int) -> bytes:
    return MGF1(seed, length, SHA256)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def unframe(data: bytes) -> tuple[bytes, bytes]:
    (length,) = struct.unpack(">I", data[:4])
    return data[4 : 4 + length], data[4 + length :]


class SpecClient:
    """The client side of §3.2-§3.4, step by step as the contract reads."""

    def __init__(self, server_public: RSA.RsaKey) -> None:
        self.server_public = server_public
        self.client_random = get_random_bytes(32)
        self.x_private = DH.import_x25519_private_key(get_random_bytes(32))
        self.client_share = self.x_private.public_key().export_key(format="raw")
        self.envelope_secret = get_random_bytes(32)
        envelope = PKCS1_OAEP.new(server_public, hashAlgo=SHA256, mgfunc=_mgf).encrypt(
            self.envelope_secret
        )
        self.client_hello = (
            bytes([0x01, 1])
            + self.client_random
            + self.client_share
            + struct.pack(">H", len(envelope))
            + envelope
        )
        self.send_seq = 0
        self.recv_seq = 0

    def hello_frame(self) -> bytes:
        return frame(self.client_hello)

    def finish(self, server_hello: bytes) -> None:
        assert server_hello[0] == 0x02 and server_hello[1] == 1
        server_random, server_share = server_hello[2:34], server_hello[34:66]
        (sig_len,) = struct.unpack(">H", server_hello[66:68])
        signature = server_hello[68 : 68 + sig_len]
        digest = hashlib.sha256(self.client_hello + server_hello[:66]).digest()
        pss.new(self.server_public, mask_func=_mgf, salt_bytes=32).verify(
            SHA256.new(CONTEXT + digest), signature
        )  # raises ValueError if the server is not who we pinned
        peer = DH.import_x25519_public_key(server_share)
        shared = DH.key_agreement(static_priv=self.x_private, static_pub=peer, kdf=lambda z: z)
        th = hashlib.sha256(self.client_hello + server_hello).digest()
        okm = HKDF(
            self.envelope_secret + shared,
            88,
            self.client_random + server_random,
            SHA256,
            context=b"chat-envelope v1 keys" + th,
        )
        self.c2s_key, self.c2s_iv = okm[0:32], okm[32:44]
        self.s2c_key, self.s2c_iv = okm[44:76], okm[76:88]

    @staticmethod
    def _nonce(iv: bytes, seq: int) -> bytes:
        return bytes(a ^ b for a, b in zip(iv, bytes(4) + seq.to_bytes(8, "big"), strict=True))

    def seal(self, plaintext: bytes) -> bytes:
        header = struct.pack(">I", len(plaintext) + 16)
        cipher = AES.new(self.c2s_key, AES.MODE_GCM, nonce=self._nonce(self.c2s_iv, self.send_seq))
        cipher.update(header)
        ciphertext, tag = cipher.encrypt_and_digest(plaintext)
        self.send_seq += 1
        return header + ciphertext + tag

    def open(self, body: bytes) -> bytes:
        header = struct.pack(">I", len(body))
        cipher = AES.new(self.s2c_key, AES.MODE_GCM, nonce=self._nonce(self.s2c_iv, self.recv_seq))
        cipher.update(header)
        plaintext = cipher.decrypt_and_verify(body[:-16], body[-16:])
        self.recv_seq += 1
        return plaintext


class SpecServer:
    """The server side of §3.2, to check that ``common``'s ClientHello is what the contract says."""

    def __init__(self, private_key: RSA.RsaKey) -> None:
        self.key = private_key

    def respond(self, client_hello: bytes) -> tuple[bytes, bytes, bytes]:
        """Returns (server_hello, c2s_key, c2s_iv)."""
        assert client_hello[0] == 0x01 and client_hello[1] == 1
        client_random, client_share = client_hello[2:34], client_hello[34:66]
        (env_len,) = struct.unpack(">H", client_hello[66:68])
        envelope = client_hello[68 : 68 + env_len]
        assert len(client_hello) == 68 + env_len
        secret = PKCS1_OAEP.new(self.key, hashAlgo=SHA256, mgfunc=_mgf).decrypt(envelope)
        x_private = DH.import_x25519_private_key(get_random_bytes(32))
        share = x_private.public_key().export_key(format="raw")
        shared = DH.key_agreement(
            static_priv=x_private,
            static_pub=DH.import_x25519_public_key(client_share),
            kdf=lambda z: z,
        )
        server_random = get_random_bytes(32)
        prefix = bytes([0x02, 1]) + server_random + share
        digest = hashlib.sha256(client_hello + prefix).digest()
        signature = pss.new(self.key, mask_func=_mgf, salt_bytes=32).sign(
            SHA256.new(CONTEXT + digest)
        )
        server_hello = prefix + struct.pack(">H", len(signature)) + signature
        th = hashlib.sha256(client_hello + server_hello).digest()
        okm = HKDF(
            secret + shared, 88, client_random + server_random, SHA256,
            context=b"chat-envelope v1 keys" + th,
        )
        return server_hello, okm[0:32], okm[32:44]
