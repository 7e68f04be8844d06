"""What a load run is asked to do (``LoadSpec``) and what one worker measured (``WorkerResult``).

Kept apart from the worker loop so the parent process, the runner and the tests can build and
merge them without the socket code.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadSpec:
    """One load run. ``rate`` 0 means closed loop with ``window`` messages in flight."""

    port: int
    mode: str = "ours"  # "ours" (the chat server) or "plain" (bench.plain_relay)
    clients: int = 20
    duration: float = 5.0
    rate: float = 0.0  # messages per second per sending client; 0 = closed loop
    window: int = 1
    size: int = 64  # characters of chat text
    procs: int = 1
    senders: int | None = None  # only the first N clients send (None: all of them)
    silent: int = 0  # extra clients that log in and then never read
    users: tuple[str, ...] = ()
    password: str = ""
    server_key_pem: bytes = b""
    run_tag: str = "r"
    connect_concurrency: int = 32
    setup_timeout: float = 120.0
    settle: float = 0.3
    drain: float = 15.0  # at most; a run ends as soon as acks are in and the line is quiet
    extend_until_cut: float = 0.0  # with silent clients: keep sending until one is cut off
    quiet: float = 0.5
    host: str = "127.0.0.1"
    room: str = "lobby"  # where the senders talk; another room must already hold every user

    def __post_init__(self) -> None:
        if self.host != "127.0.0.1":
            raise ValueError("the bench only ever connects to 127.0.0.1")


@dataclass
class WorkerResult:
    """What one worker measured; merged by ``bench.runner``."""

    ready: int = 0
    failed: int = 0
    handshake_ns: array[int] = field(default_factory=lambda: array("q"))
    login_ns: array[int] = field(default_factory=lambda: array("q"))
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    ack_ns: array[int] = field(default_factory=lambda: array("q"))
    sent: int = 0
    acked: dict[int, array[int]] = field(default_factory=dict)  # sender index -> acked seqs
    deliveries: int = 0
    in_window: int = 0
    acked_in_window: int = 0
    duplicates: int = 0
    self_echo: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    alive: list[int] = field(default_factory=list)  # receivers connected to the end
    key_count: dict[int, int] = field(default_factory=dict)  # message key -> alive receivers
    key_max: dict[int, int] = field(default_factory=dict)  # message key -> slowest delivery
    leaves: dict[str, int] = field(default_factory=dict)  # username -> ns after start
    silent_cut: int = 0
    cpu_s: float = 0.0
    setup_s: float = 0.0  # first connect to the last login (or the setup deadline)
    run_cpu_s: float = 0.0  # this worker's CPU during the send window
