"""Pure protocol core of the chat: bytes in, events out.

Nothing in this package opens a socket, starts a thread, touches Tk or SQL, or configures
logging. Every layer (frames, messages, crypto, handshake, records, connection) can be tested
with no network at all.
"""
