"""Pure protocol core of the chat: bytes in, events out.

Nothing in this package opens a socket, starts a thread, touches Tk or SQL, or configures
logging. Every layer (framing, messages, crypto, handshake, record, connection) can be tested
with no network at all. The envelope uses pycryptodome and the records pyca ``cryptography``'s
AESGCM, their primitives called only through ``crypto``; ``errors`` has the two error types, ours
(``LocalProtocolError``) and the peer's (``RemoteProtocolError``).
"""
