"""The server's settings as one frozen value: the single list of them, with their defaults.

``config.Settings`` extends this class, so every field here is also the ``CHAT_<FIELD>``
environment variable of the same name (README's table); ``python -m server serve`` passes
``settings.server_options()`` to ``server.serve.build``. Everything else takes it as an argument,
so tests can shrink a timeout or a back-off without touching the environment (library modules
never import ``config``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from common.framing import MAX_FRAME
from common.protocol import GCM_TAG, MAX_MESSAGES_PER_RECORD, MAX_TEXT
from common.record import SEQ_LIMIT

CPUS = os.cpu_count() or 1


@dataclass(frozen=True)
class ServerOptions:
    """Every knob of the listener, the service and the parts they drive, with its default."""

    host: str = "127.0.0.1"
    port: int = 8090
    # connections
    max_frame: int = MAX_FRAME
    record_limit: int = SEQ_LIMIT  # records per direction before the connection is replaced
    handshake_timeout: float = 10.0  # from accept to a successful login
    idle_timeout: float = 300.0  # after login; clients ping well within it
    outbox_limit: int = 2_000  # lines queued for a non-reader (bytes: outbox.MAX_QUEUED_BYTES)
    presence_interval: float = 0.1  # presence lines wait this long to go out as one batch
    max_conns_per_addr: int = 200
    max_connections: int = 10_000
    max_bad_messages: int = 5  # malformed messages tolerated on one connection
    max_messages_per_record: int = MAX_MESSAGES_PER_RECORD  # more in one record closes it
    listen_backlog: int = 1_024
    send_buffer: int = 0  # SO_SNDBUF of each client socket in bytes; 0 keeps the OS default
    thread_stack_size: int = 512 * 1024  # 1,000 clients = 2,000 threads; keep RSS small
    writer_flush_timeout: float = 5.0  # how long a closing connection may spend flushing
    # server resources (SECURITY.md "Server resources")
    handshake_workers: int = CPUS  # RSA private-key operations at once
    handshake_queue: int = 16 * CPUS  # hellos waiting (tens of ms of RSA); one more is closed
    max_conns_per_network: int = 400  # per /24 (IPv4) or /64 (IPv6)
    handshake_network_rate: float = 100.0  # handshakes per second per network
    handshake_network_burst: int = 400
    max_pending_connections: int = 512  # not yet logged in, all addresses together
    first_byte_timeout: float = 5.0  # a connection that sends nothing is closed
    fd_reserve: int = 64  # descriptors kept for the database pool, logs, the listener
    max_conns_per_account: int = 8
    outbox_total_bytes: int = 256 * 1024 * 1024  # queued replies, all connections together
    write_stall_timeout: float = 30.0  # a client that takes no bytes for this long is cut
    history_rows_rate: float = 200.0  # history rows per second per account
    history_rows_burst: int = 2_000
    request_rate: float = 10.0  # pings and refused sends per second per connection
    request_burst: int = 100  # also: refusals in a row before the connection is cut
    account_login_rate: float = 1.0  # logins + resumes per second per (account, network)
    account_login_burst: int = 10
    # rate limits (token buckets: rate per second, burst)
    handshake_rate: float = 50.0  # per address
    handshake_burst: int = 200
    login_rate: float = 5.0  # FAILED logins per address; success costs nothing
    login_burst: int = 30
    msg_rate: float = 20.0  # per user, room + direct together
    msg_burst: int = 60
    rate_limit_keys: int = 100_000  # addresses/users tracked before idle ones are evicted
    # accounts
    account_backoff_after: int = 5  # free failed logins per (name, address) before delays
    account_backoff_seconds: float = 1.0  # the first delay; doubles with each further failure
    login_backoff_cap: float = 900.0  # the longest delay
    login_failure_half_life: float = 3_600.0  # failures of a (name, address) halve this often
    login_hashes_per_address: int = 4  # logins of one address being checked at once
    resume_token_ttl: float = 86_400.0
    argon2_workers: int = 2  # Argon2id hashes at once (each takes 19 MiB while it runs)
    max_tokens_per_account: int = 10  # live resume tokens; the oldest go first
    token_sweep_interval: float = 300.0  # how often expired tokens are deleted
    # key login and registration (PROTOCOL.md §8): the client's Argon2id, announced by 1030
    kdf_memory_kib: int = 65_536  # RFC 9106's second choice: 64 MiB, 3 passes, 4 lanes
    kdf_time_cost: int = 3
    kdf_parallelism: int = 4
    auth_hash_memory_kib: int = 8_192  # the server's Argon2id over the (random) key
    auth_hash_time_cost: int = 1
    legacy_password_login: bool = True  # 0001 with a password; off: the server never sees one
    open_registration: bool = False  # 0032 without an invitation code
    prelogin_rate: float = 5.0  # 0030 parameter requests per second per address
    prelogin_burst: int = 30
    max_invite_uses: int = 100  # the most uses one invitation code may have
    max_invite_ttl: float = 30 * 86_400.0  # the longest an invitation code may stay valid
    reset_code_ttl: float = 86_400.0  # an administrator's one-time reset code works this long
    signout_poll_interval: float = 2.0  # how often sign-outs of the command line are read
    # messages
    max_text: int = MAX_TEXT  # characters; the client's counter uses the same constant
    max_client_msg_id: int = 64
    max_sealed_bytes: int = 20_480  # an end-to-end blob: a 4,000-character text and its envelope
    max_username: int = 32
    max_password: int = 1_024
    history_limit: int = 200
    commit_timeout: float = 10.0  # a send waits this long for its group commit
    commit_batch: int = 256
    # rooms (PROTOCOL.md §6)
    max_rooms_per_account: int = 500  # rooms besides the lobby
    max_room_members: int = 5_000
    max_topic: int = 200  # characters, after control and bidi characters are removed
    directory_page: int = 100  # entries of one public-room or people page
    # cluster (README "Running a cluster"): empty redis_url = one process, in-process hub
    redis_url: str = field(default="", repr=False)  # may hold the Redis password
    presence_ttl: float = 10.0  # a dead process's accounts leave within this many seconds
    catchup_interval: float = 5.0  # a process re-reads recent messages from MariaDB this often
    reuse_port: bool = False  # SO_REUSEPORT: several processes on one port (make run NODES=N)

    @property
    def max_line(self) -> int:
        """The longest encoded line that fits one record (a frame less the AES-GCM tag)."""
        return self.max_frame - GCM_TAG
