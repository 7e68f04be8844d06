"""The chat server: sockets and threads (``listener``, ``outbox``), policy (``service``,
``accounts``, ``names``, ``limits``), storage (``store``, ``store_logins``), fan-out (``hub``),
all wired once by ``serve.build``; docs/ARCHITECTURE.md lists every module."""
