"""Helpers shared by the benchmark scripts: installing reference tools, pinning, medians,
process trees (CPU, memory, clean-up) and the steady window of a client going flat out."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

INSTALL_TIMEOUT_S = 900.0
"""How long one package-manager call may take (a slow mirror, not a hung one)."""
SERVER_CPU = 0
"""The core nginx (or the emulator) is pinned to."""
CLIENT_CPU = 1
"""The core every client is pinned to, unless a measurement says otherwise."""


class ToolUnavailable(Exception):
    """A reference tool could not be installed or run here; the message says why."""


def ensure_debian_packages(commands: dict[str, str], timeout_s: float = INSTALL_TIMEOUT_S) -> None:
    """Install the Debian packages that provide missing commands (``{"wrk": "wrk"}``)."""
    missing = [pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None]
    if not missing:
        return
    print(f"installing {', '.join(missing)} from Debian's packages", flush=True)
    apt = ["apt-get", "-y", "-q", "install", *missing]
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(
        [*sudo, "apt-get", "-q", "update"], check=True, stdout=subprocess.DEVNULL, timeout=timeout_s
    )
    subprocess.run([*sudo, *apt], check=True, stdout=subprocess.DEVNULL, timeout=timeout_s)


def ensure_optional_debian_package(command: str, package: str) -> None:
    """Like :func:`ensure_debian_packages` for one command, failing as ToolUnavailable."""
    try:
        ensure_debian_packages({command: package})
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolUnavailable(f"apt-get install {package} failed: {exc}") from None
    if shutil.which(command) is None:
        raise ToolUnavailable(f"Debian's {package} package installed no {command!r} command")


def ensure_python_module(module: str, package: str) -> None:
    """``pip install package`` into this interpreter when ``import module`` would fail."""
    if importlib.util.find_spec(module) is not None:
        return
    print(f"installing {package} from PyPI into {sys.executable}", flush=True)
    argv = [sys.executable, "-m", "pip", "install", "-q", package]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolUnavailable(f"pip install {package} failed: {exc}") from None
    importlib.invalidate_caches()
    if done.returncode != 0 or importlib.util.find_spec(module) is None:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolUnavailable(f"pip install {package} exited with {done.returncode}: {said}")


def ensure_npm_command(command: str, package: str) -> None:
    """``npm install -g package`` when ``command`` is missing (npm itself from Debian)."""
    if shutil.which(command) is not None:
        return
    if shutil.which("npm") is None:
        ensure_optional_debian_package("npm", "npm")
    print(f"installing {package} from npm", flush=True)
    try:
        done = subprocess.run(
            ["npm", "install", "-g", package],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolUnavailable(f"npm install -g {package} failed: {exc}") from None
    if done.returncode != 0 or shutil.which(command) is None:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolUnavailable(f"npm install -g {package} exited with {done.returncode}: {said}")


def command_output(argv: Sequence[str], timeout_s: float = 30.0) -> str:
    """stdout and stderr of a short command (a version query), '' when it cannot run."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """``argv`` run on one core with taskset (when there is one to pin to)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu), *argv]
    return list(argv)


def pin_self_or_child(pid: int, cpu: int) -> None:
    """Pin a running process to one core (the other core stays free for the load tool)."""
    if (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})


def spread(values: Sequence[float]) -> str:
    """``median (min..max)`` of a few runs."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}..{max(values):,.0f})"


# -- process trees -------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def process_tree(pid: int) -> set[int]:
    """A process and all its living descendants (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    parents[int(entry.name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):  # gone meanwhile
                continue
    tree, grew = {pid}, True
    while grew:
        children = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return tree


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and all its living descendants."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += process_cpu_seconds(member)
        except OSError:
            continue
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS), 0 when it is gone or has none."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cmdline(pid: int) -> str:
    """A process's command line, '' when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            return raw.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant it has (children first found, then killed)."""
    for member in sorted(process_tree(pid), reverse=True):
        with contextlib.suppress(OSError):
            os.kill(member, signal.SIGKILL)


def adopt_orphans() -> None:
    """Make this process the child subreaper: descendants whose parent dies (a worker
    whose supervisor was killed) become its children, so :func:`kill_descendants` finds them."""
    pr_set_child_subreaper = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def kill_descendants() -> list[str]:
    """Kill whatever this process's children left running; their command lines."""
    me = os.getpid()
    left = [pid for pid in process_tree(me) - {me} if _alive(pid)]
    names = [f"{pid} {cmdline(pid)[:120]}" for pid in left]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # reap them (adopted orphans included)
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.05)
        except ChildProcessError:
            break
    return names


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def bounded(seconds: float, what: str) -> Iterator[None]:
    """Kill the child processes started within the block if it outlasts ``seconds`` (for
    code that runs a subprocess without a timeout of its own); then raise ToolUnavailable."""
    me = os.getpid()
    before = process_tree(me)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        for pid in process_tree(me) - before:
            kill_tree(pid)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception:
        if expired.is_set():
            raise ToolUnavailable(f"{what} took longer than {seconds:g}s and was killed") from None
        raise
    finally:
        timer.cancel()


# -- a client flat out ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Burst:
    """What a client did flat out: requests completed over some seconds, with its CPU."""

    requests: int
    seconds: float
    cpu_s: float

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU microseconds per request."""
        return self.cpu_s / max(self.requests, 1) * 1e6


class SteadyWindow:
    """Requests/s and CPU per request of a process tree between two of its own reports.

    A client going flat out reports its running count now and then (stressgen's progress
    lines, Locust's stats history), numbered from its start. The window opens at the first
    report numbered ``first`` or later and closes at the first numbered ``last`` or later;
    at each end the time and the CPU of the whole tree are read, so start-up (imports,
    spawning, connecting) stays out of both figures.
    """

    def __init__(self, pid: int, first: int, last: int) -> None:
        self.pid = pid
        self.first = first
        self.last = last
        self._open: tuple[float, float, int] | None = None
        self._close: tuple[float, float, int] | None = None

    def report(self, number: int, count: int) -> bool:
        """Take report ``number`` with the client's count then; True once the window is shut."""
        if self._close is not None or number < self.first:
            return self._close is not None
        mark = (time.monotonic(), process_tree_cpu_seconds(self.pid), count)
        if self._open is None:
            self._open = mark
        elif number >= self.last:
            self._close = mark
        return self._close is not None

    def burst(self) -> Burst:
        """What the client did within the window (ToolUnavailable if it never shut)."""
        if self._open is None or self._close is None:
            raise ToolUnavailable("the client stopped reporting before the window was complete")
        (t0, cpu0, count0), (t1, cpu1, count1) = self._open, self._close
        return Burst(count1 - count0, t1 - t0, cpu1 - cpu0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for servers that cannot be given port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
