"""Helpers shared by the benchmark scripts: installing reference tools, pinning, medians."""

from __future__ import annotations

import os
import shutil
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
