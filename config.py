"""Settings of the chat, read once from ``CHAT_*`` environment variables.

Only ``__main__`` modules and tests read this module; every library module gets plain values
passed in, so it can be tested without an environment. Each field is one variable; the server's
own fields (and defaults) are those of ``server.options.ServerOptions``, which ``Settings``
extends. The table in README.md lists the variables.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.options import ServerOptions

REPO = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings(ServerOptions):
    """Every tunable of the server and client, with defaults that work on one machine.

    The server's own settings and their defaults are the fields of ``ServerOptions``, inherited
    here (so each is a ``CHAT_<FIELD>`` variable too); this class adds only what the processes
    need around them: where the key and the database are, and the logging level.
    """

    key_dir: Path = REPO / "keys"
    run_dir: Path = REPO / ".run"
    # database
    db_host: str = ""  # empty: use the private MariaDB's socket
    db_port: int = 3306
    db_socket: Path = REPO / ".run" / "mariadb" / "mysqld.sock"
    db_name: str = "chat"
    db_user: str = "chat_server"
    db_password: str = field(default="", repr=False)
    db_password_file: Path = REPO / ".run" / "db_password"
    db_admin_user: str = "root"
    db_admin_password: str = field(default="", repr=False)
    db_pool_size: int = 8
    db_timeout: float = 5.0
    # the desktop client: overall deadlines, so a server trickling bytes cannot stall it
    connect_deadline: float = 10.0  # TCP connect + key check + handshake
    key_fetch_deadline: float = 10.0  # fetching a new server's key to show its fingerprint
    ping_after_send: float = 3.0  # a sent message unanswered this long: ping
    idle_ping_interval: float = 15.0  # nothing from the server this long: ping
    ping_reply_timeout: float = 5.0  # a ping unanswered this long: "not responding"
    silence_reconnect: float = 20.0  # a ping unanswered this long: drop and reconnect
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by ``CHAT_<FIELD>`` variables; a bad value names its variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            name = "CHAT_" + f.name.upper()
            if name not in env:
                continue
            raw = env[name]
            default = getattr(cls, f.name)
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                elif isinstance(default, Path):
                    values[f.name] = Path(raw).expanduser()
                else:
                    values[f.name] = raw
            except ValueError:
                kind = type(default).__name__
                raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
        run_dir = values.get("run_dir")
        if isinstance(run_dir, Path):
            # One CHAT_RUN_DIR moves everything that lives under it, as scripts/db.sh does.
            values.setdefault("db_socket", run_dir / "mariadb" / "mysqld.sock")
            values.setdefault("db_password_file", run_dir / "db_password")
        settings = cls(**values)  # type: ignore[arg-type]
        settings._check()
        return settings

    def _check(self) -> None:
        if not 0 <= self.port <= 65_535:
            raise ValueError(f"CHAT_PORT={self.port} is outside 0..65535")
        for name in ("max_frame", "max_text", "outbox_limit", "db_pool_size", "argon2_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"CHAT_{name.upper()} must be at least 1")
        for name in (
            "handshake_timeout", "idle_timeout", "db_timeout", "msg_rate", "login_rate",
            "handshake_rate", "msg_burst", "login_burst", "handshake_burst",
            "max_conns_per_addr", "history_limit", "resume_token_ttl",
            "login_failure_half_life", "login_hashes_per_address", "max_tokens_per_account",
            "token_sweep_interval", "connect_deadline", "key_fetch_deadline",
            "ping_after_send", "idle_ping_interval", "ping_reply_timeout", "silence_reconnect",
            "max_messages_per_record", "account_login_rate", "account_login_burst",
            "handshake_workers", "max_conns_per_network", "handshake_network_rate",
            "handshake_network_burst", "max_pending_connections", "first_byte_timeout",
            "max_conns_per_account", "outbox_total_bytes", "write_stall_timeout",
            "history_rows_rate", "history_rows_burst", "request_rate", "request_burst",
            "kdf_time_cost", "kdf_parallelism", "auth_hash_time_cost", "prelogin_rate",
            "prelogin_burst", "max_invite_uses", "max_invite_ttl",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"CHAT_{name.upper()} must be greater than 0")
        for f in dataclasses.fields(self):  # no count, time or size can be negative
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"CHAT_{f.name.upper()} cannot be negative")
        if self.kdf_memory_kib < 8 * self.kdf_parallelism or self.auth_hash_memory_kib < 8:
            raise ValueError("Argon2id needs at least 8 KiB of memory per lane")
        if self.max_frame > 65_536:
            raise ValueError("CHAT_MAX_FRAME cannot exceed the protocol's 65536")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"CHAT_LOG_LEVEL={self.log_level!r} is not a logging level")

    def server_options(self) -> ServerOptions:
        """The ``ServerOptions`` part alone: what ``server.serve.build`` takes."""
        return ServerOptions(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(ServerOptions)}
        )

    def database_password(self) -> str:
        """The server account's password: the variable, else the 0600 file init-db wrote."""
        if self.db_password:
            return self.db_password
        try:
            return self.db_password_file.read_text().strip()
        except FileNotFoundError:
            raise RuntimeError(
                f"no database password: set CHAT_DB_PASSWORD or run `make db` "
                f"(expected {self.db_password_file})"
            ) from None
