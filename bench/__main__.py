"""``python -m bench``: the benchmark CLI (``make bench`` runs ``all``, ``make bench-quick`` ``quick``).

Every figure line is printed with the command that produced it, e.g.
``[python -m bench quick] ours handshake ...``. All traffic goes to 127.0.0.1; every run is
bounded in time and stops by itself; every process started here is stopped here, by PID.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench import e2e, login, rooms, scale, scaleout, scenarios
from bench.procs import ServerProcess, free_port, python_module, raise_nofile_limit
from bench.scenarios import Bench

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench")

PARTS: dict[str, Callable[[Bench], None]] = {
    "micro": scenarios.scenario_micro,
    "handshake": scenarios.scenario_handshake,
    "lobby": scenarios.scenario_lobby,
    "thousand": scale.scenario_thousand,
    "blast": scale.scenario_blast,
    "big_room": rooms.scenario_big_room,
    "many_rooms": rooms.scenario_many_rooms,
    "scaleout": scaleout.scenario_scaleout,
    "e2e": e2e.scenario_e2e,  # end-to-end sealing: client-side only, run on its own
    "login": login.scenario_login,  # key login step by step (PROTOCOL.md §8), run on its own
}
NEEDS_CHAT = {"handshake", "lobby", "thousand", "blast", "big_room", "many_rooms", "scaleout",
              "login"}
QUICK = ("micro", "handshake", "lobby", "big_room", "many_rooms")  # rooms: 50 clients
ROOMS = ("big_room", "many_rooms")
ALL = ("micro", "handshake", "lobby", "thousand", "blast", "big_room", "many_rooms", "scaleout")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("all", help="everything (~8 min); writes BENCHMARKS.md and docs/bench/*.png")
    sub.add_parser("quick", help="a ~1 min subset: micro, handshake vs TLS, 3 and 20 clients, "
                   "a 50-member room")
    sub.add_parser("rooms", help="a 1,000-member room and an account in 200 rooms, each "
                   "against the lobby")
    for name in PARTS:
        sub.add_parser(name, help=f"only scenario {name}")
    load = sub.add_parser("load", help="one custom load run")
    load.add_argument("--target", choices=("ours", "plain"), default="ours")
    load.add_argument("--clients", type=int, default=20)
    load.add_argument("--rate", type=float, default=0.0,
                      help="msgs/s per client; 0 = closed loop")
    load.add_argument("--window", type=int, default=4, help="messages in flight (closed loop)")
    load.add_argument("--duration", type=float, default=5.0)
    load.add_argument("--size", type=int, default=64, help="chat text characters")
    load.add_argument("--procs", type=int, default=2, help="load-generator processes")
    load.add_argument("--silent", type=int, default=0, help="extra clients that never read")
    for sp in sub.choices.values():
        sp.add_argument("--keep-db", action="store_true",
                        help="leave the bench MariaDB running afterwards")
        sp.add_argument("--no-profile", action="store_true", help="skip py-spy in the blast")
    return p


def _start_baselines(bench: Bench, stack: ExitStack, tmp: Path) -> None:
    port = free_port()
    bench.relay = stack.enter_context(ServerProcess(
        python_module("bench.plain_relay", "--port", str(port), "--max-seconds", "900"),
        port, log=tmp / "relay.log"))
    try:
        from bench.tls_echo import make_cert

        cert, key = make_cert(tmp)
    except (RuntimeError, OSError) as exc:
        bench.say(f"TLS baseline skipped: {exc}")
        return
    port = free_port()
    bench.tls = stack.enter_context(ServerProcess(
        python_module("bench.tls_echo", "--cert", str(cert), "--key", str(key),
                      "--port", str(port), "--max-seconds", "900"),
        port, log=tmp / "tls.log"))
    bench.tls_cafile = cert


def run(command: str, parts: tuple[str, ...], args: argparse.Namespace) -> int:
    """Run ``parts`` with whatever targets they need; write the report for ``all``."""
    label = f"python -m bench {command}"
    lines: list[str] = []

    def out(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    work = REPO / ".run" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(command=label, quick=command == "quick", out=out, work_dir=work)
    t0 = time.monotonic()
    nofile = raise_nofile_limit()
    from bench.report import machine

    info = machine()
    bench.say(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, "
              f"pycryptodome {info['pycryptodome']}; open-file limit {nofile}")
    if "micro" in parts:  # first, on a quiet machine: no server is running yet
        scenarios.scenario_micro(bench)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-") as tmpdir:
        tmp = Path(tmpdir)
        if set(parts) & NEEDS_CHAT:
            _start_baselines(bench, stack, tmp)
            try:
                from bench.stack import start_chat

                bench.chat = start_chat(stack, REPO, tmp, keep_db=args.keep_db,
                                        users=1001 if {"thousand", "big_room", "scaleout"} & set(parts)
                                        and command != "quick" else 100,
                                        say=bench.say)
            except Exception as exc:  # the baselines still run; the report says why
                log.debug("chat stack failed", exc_info=True)
                bench.say(f"chat server not measured: {type(exc).__name__}: {exc}")
        for part in parts:
            if part == "micro":
                continue
            if part == "blast":
                scale.scenario_blast(bench, profile=not args.no_profile)
            else:
                PARTS[part](bench)
    seconds = time.monotonic() - t0
    bench.say(f"done in {seconds:.0f} s")
    (work / f"results-{command}.json").write_text(json.dumps(bench.results, indent=1,
                                                             default=str))
    if command == "all":
        _write_report(bench, info, lines, seconds)
    return 0


def _write_report(bench: Bench, info: dict[str, str], lines: list[str], seconds: float) -> None:
    from bench import markdown, report
    from bench.notes import explain

    written = report.plots(bench.results, REPO)
    if not written:
        bench.say("plots skipped: matplotlib is not installed in this environment")
    bench.results["notes"] = explain(bench.results)
    (REPO / "BENCHMARKS.md").write_text(
        markdown.render(bench.results, info, lines, written, seconds))
    bench.say("wrote BENCHMARKS.md" + "".join(f", {p}" for p in written))


def run_load_command(args: argparse.Namespace) -> int:
    """``python -m bench load``: one custom run against ours or the plaintext relay."""
    label = "python -m bench load " + " ".join(sys.argv[2:])
    bench = Bench(command=label.strip(), quick=False, out=lambda s: print(s, flush=True),
                  work_dir=REPO / ".run" / "bench")
    raise_nofile_limit()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.target == "plain":
            port = free_port()
            bench.relay = stack.enter_context(ServerProcess(
                python_module("bench.plain_relay", "--port", str(port), "--max-seconds", "900"),
                port, log=tmp / "relay.log"))
        else:
            from bench.stack import start_chat

            bench.chat = start_chat(stack, REPO, tmp, keep_db=args.keep_db,
                                    users=args.clients + args.silent, say=bench.say)
        spec = bench.spec(args.target, clients=args.clients, rate=args.rate, window=args.window,
                          duration=args.duration, size=args.size, procs=args.procs,
                          silent=args.silent, setup_timeout=240.0)
        r = scenarios.measured(bench, spec)
        bench.say(scenarios.load_line(args.target, r))
        bench.say(f"ack {r.ack.line()}; reach-all {r.reach_all.line()}; handshake "
                  f"{r.handshake.line()}; login {r.login.line()}")
        bench.say(f"{scenarios.cpu_line(r)}; server RSS {r.extra['server_rss_mb']:.0f} MB; "
                  f"generator CPU {r.generator_cpu_s:.1f} s; cut-off silent {r.silent_cut}")
    return 0 if r.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "load":
        return run_load_command(args)
    parts: tuple[str, ...] = {"all": ALL, "quick": QUICK, "rooms": ROOMS}.get(args.command, (args.command,))
    return run(args.command, parts, args)


if __name__ == "__main__":
    raise SystemExit(main())
