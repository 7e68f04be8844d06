"""Subprocesses under test: start, wait for the port, read /proc, profile with py-spy, stop.

Every server the bench measures (the chat server, the plaintext relay, the TLS echo) runs as
its own process so its memory, threads and CPU come from /proc exactly the same way, and so
the load generator never shares a GIL with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    """Poll until 127.0.0.1:``port`` accepts a connection (False on timeout or if proc died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@dataclass(frozen=True)
class ProcSample:
    """One reading of /proc/<pid>: resident memory, threads and CPU seconds so far."""

    rss_mb: float
    threads: int
    cpu_s: float
    at: float  # time.monotonic() of the reading

    @classmethod
    def read(cls, pid: int) -> ProcSample:
        """Read /proc/<pid>/status and /proc/<pid>/stat."""
        rss_kb, threads = 0, 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
        return cls(rss_kb / 1024, threads, (utime + stime) / CLK_TCK, time.monotonic())

    def cpu_since(self, earlier: ProcSample) -> float:
        """Fraction of one core used between two readings."""
        wall = self.at - earlier.at
        return (self.cpu_s - earlier.cpu_s) / wall if wall > 0 else 0.0


@dataclass(frozen=True)
class MachineSample:
    """Busy and total CPU ticks of the whole machine (all cores), from /proc/stat."""

    busy: int
    total: int

    @classmethod
    def read(cls) -> MachineSample:
        """The aggregate ``cpu`` line: busy is everything but idle and iowait."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return cls(sum(fields) - idle, sum(fields))

    def busy_since(self, earlier: MachineSample) -> float:
        """Fraction of all cores' time that was busy between two readings."""
        total = self.total - earlier.total
        return (self.busy - earlier.busy) / total if total > 0 else 0.0


def quiesce(pid: int, below: float = 0.1, limit: float = 60.0, window: float = 0.5) -> float:
    """Wait until ``pid`` uses less than ``below`` of a core over ``window``; seconds waited.

    A server still working off the last run's backlog (a thousand disconnects, a fan-out
    queue) would otherwise be measured as part of the next run.
    """
    t0 = time.monotonic()
    previous = ProcSample.read(pid)
    while time.monotonic() - t0 < limit:
        time.sleep(window)
        now = ProcSample.read(pid)
        if now.cpu_since(previous) < below:
            break
        previous = now
    return time.monotonic() - t0


class ServerProcess:
    """A server subprocess listening on 127.0.0.1:``port``; stopped by PID only."""

    def __init__(
        self, argv: list[str], port: int, env: dict[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.argv, self.port = argv, port
        self.env = {**os.environ, **(env or {})}
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start and wait until the port accepts connections; raises with the log tail if not."""
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=out)
        if not wait_port(self.port, timeout, self.proc):
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"{' '.join(self.argv[:4])} did not listen on {self.port}:\n{tail}")
        return self

    @property
    def pid(self) -> int:
        """The server's PID."""
        assert self.proc is not None
        return self.proc.pid

    def sample(self) -> ProcSample:
        """Read its /proc entry now."""
        return ProcSample.read(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The end of its log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; only this PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def py_spy_path() -> str | None:
    """py-spy next to this interpreter (the venv) or on PATH; None when not installed."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profile:
    """A py-spy sampling profile of a running PID, summarised by function."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 100) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        exe = py_spy_path()
        if exe is None:
            return
        argv = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                "--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking",
                "--gil"]  # only the thread holding the GIL: where Python CPU time goes
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait for py-spy to finish writing; False when it was unavailable or failed."""
        if self.proc is None:
            return False
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return False
        return self.out.exists()

    def top(self, count: int = 12) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """(self time, inclusive time) shares of the busiest functions, in percent of samples."""
        return summarise_collapsed(self.out.read_text(errors="replace"), count)


def summarise_collapsed(text: str, count: int = 12) -> tuple[
    list[tuple[str, float]], list[tuple[str, float]]
]:
    """Top functions from py-spy's collapsed stacks (``f1;f2;f3 N`` per line)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples = int(n)
        total += samples
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return [], []

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(count)]

    return share(own), share(inclusive)


def was_cut_off(sock: socket.socket | None, seconds: float = 10.0) -> int:
    """1 if the server closed a never-reading socket (EOF or reset after what it buffered).

    The socket's receive buffer is widened first: megabytes may still sit in the server's
    send queue, and a 4 KiB window would take longer to drain than the bench waits.
    """
    if sock is None:
        return 0
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.settimeout(1.0)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not sock.recv(1 << 20):
                return 1
    except ConnectionResetError:
        return 1
    except OSError:
        return 0
    return 0


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to the hard limit; returns the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
