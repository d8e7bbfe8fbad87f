"""Helpers shared by the benchmark scripts: installing reference tools, pinning, medians."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
from collections.abc import Sequence


def ensure_debian_packages(commands: dict[str, str]) -> None:
    """Install the Debian packages that provide missing commands (``{"wrk": "wrk"}``)."""
    missing = [pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None]
    if not missing:
        return
    print(f"installing {', '.join(missing)} from Debian's packages", flush=True)
    apt = ["apt-get", "-y", "-q", "install", *missing]
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "-q", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, *apt], check=True, stdout=subprocess.DEVNULL)


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


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and all its living descendants."""
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
    total = 0.0
    for member in tree:
        try:
            total += process_cpu_seconds(member)
        except OSError:
            continue
    return total


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for servers that cannot be given port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
