"""The chat server: sockets and threads (listener), policy (service), storage (store)."""
