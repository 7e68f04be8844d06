"""``python -m client [--host H] [--port P] [--user NAME] [--server-key PATH]``: one window.

Only this module reads configuration (``config.Settings.from_env()``: ``CHAT_HOST``,
``CHAT_PORT``, ``CHAT_KEY_DIR``); everything below it gets values passed in. The client's own
limits, read here from the environment (or ``config.Settings`` once it carries them):

==========================  =======  =========================================================
``CHAT_CONNECT_DEADLINE``   10       seconds for TCP connect + handshake, in all
``CHAT_KEY_FETCH_DEADLINE`` 10       seconds for fetching a server's key (first use), in all
``CHAT_PING_AFTER_SEND``    3        seconds a sent message may go unanswered before a ping
``CHAT_IDLE_PING_INTERVAL`` 15       seconds of silence from the server before a ping
``CHAT_PING_REPLY_TIMEOUT`` 5        seconds without a reply to a ping: "not responding"
``CHAT_SILENCE_RECONNECT``  20       seconds without a reply to a ping: drop and reconnect
==========================  =======  =========================================================

The first two are overall deadlines, not per-read timeouts, so a server that trickles a byte at
a time cannot keep the window waiting. The ping settings are ``client.liveness.LivenessTimes``:
a server that is stopped but keeps its socket open is shown as such within seconds.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tkinter as tk
from pathlib import Path

from client.app import App
from client.liveness import LivenessTimes
from client.prefs import PrefsFile
from client.session import CONNECT_DEADLINE, KEY_FETCH_DEADLINE, Session, start_key_fetch
from client.trust import KnownServers, config_dir
from client.ui.window import TkView
from common.crypto import load_public_key

REPO = Path(__file__).resolve().parent.parent


def _defaults() -> tuple[str, int, Path]:
    """Host, port and key directory from ``config`` (or the same variables read directly)."""
    try:
        import config  # the project's Settings; absent only in a partial checkout
    except ImportError:
        host = os.environ.get("CHAT_HOST", "127.0.0.1")
        port = int(os.environ.get("CHAT_PORT", "8090"))
        return host, port, Path(os.environ.get("CHAT_KEY_DIR", REPO / "keys"))
    settings = config.Settings.from_env()
    return settings.host, int(settings.port), Path(settings.key_dir)


def deadline_setting(name: str, default: float, settings: object = None) -> float:
    """A client deadline in seconds: ``config.Settings`` if it has it, else ``CHAT_<NAME>``."""
    value: object = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(f"CHAT_{name.upper()}", default)
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"CHAT_{name.upper()}={value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ValueError(f"CHAT_{name.upper()} must be greater than 0")
    return seconds


def _settings() -> object:
    try:
        import config
    except ImportError:
        return None
    return config.Settings.from_env()


def _deadlines() -> tuple[float, float]:
    settings = _settings()
    return (deadline_setting("connect_deadline", CONNECT_DEADLINE, settings),
            deadline_setting("key_fetch_deadline", KEY_FETCH_DEADLINE, settings))


def liveness_times(settings: object = None) -> LivenessTimes:
    """The ping bounds (``CHAT_PING_AFTER_SEND`` and the rest of the table above)."""
    default = LivenessTimes()
    return LivenessTimes(
        ack_grace=deadline_setting("ping_after_send", default.ack_grace, settings),
        idle_interval=deadline_setting("idle_ping_interval", default.idle_interval, settings),
        reply_timeout=deadline_setting("ping_reply_timeout", default.reply_timeout, settings),
        give_up=deadline_setting("silence_reconnect", default.give_up, settings),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    try:
        host, port, key_dir = _defaults()
    except ValueError as exc:  # a bad CHAT_* variable: say which, as argparse would
        raise SystemExit(f"python -m client: error: {exc}") from None
    parser = argparse.ArgumentParser(prog="python -m client", description="Encrypted chat client")
    parser.add_argument("--host", default=host,
                        help=f"server address, or several nodes of one cluster as a,b,c "
                             f"(same key; the client fails over between them; default {host})")
    parser.add_argument("--port", type=int, default=port, help=f"server port (default {port})")
    parser.add_argument("--user", default="", help="username to prefill in the login form")
    parser.add_argument("--server-key", type=Path, default=None,
                        help="the server's public key (PEM) to pin instead of known_servers")
    parser.add_argument("--log-level", default=os.environ.get("CHAT_LOG_LEVEL", "WARNING"))
    args = parser.parse_args(argv)
    args.key_dir = key_dir
    try:
        args.connect_deadline, args.key_fetch_deadline = _deadlines()
        args.liveness = liveness_times(_settings())
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    explicit = None
    if args.server_key is not None:
        try:
            explicit = load_public_key(args.server_key.read_bytes())
        except (OSError, ValueError, IndexError, TypeError) as exc:
            sys.stderr.write(f"cannot use --server-key {args.server_key}: {exc}\n")
            return 2
    try:
        root = tk.Tk(className="chat-envelope")
    except tk.TclError as exc:
        sys.stderr.write(f"cannot open a window ({exc}); is DISPLAY set?\n")
        return 1
    view = TkView(root, PrefsFile(config_dir()))
    nodes = ",".join(f"{host.strip()}:{args.port}" for host in args.host.split(","))
    app = App(
        view, KnownServers(config_dir()), address=nodes,
        username=args.user, explicit_key=explicit,
        project_key=args.key_dir / "server_public.pem",
        session_factory=functools.partial(Session, connect_timeout=args.connect_deadline),
        key_fetcher=functools.partial(start_key_fetch, deadline=args.key_fetch_deadline),
        liveness=args.liveness, alerts=view.alerts,
    )
    view.attach(app)
    app.start()
    root.mainloop()
    app.wait_closed(2.0)  # the logout reaches the server before the process ends
    return 0


if __name__ == "__main__":
    sys.exit(main())
