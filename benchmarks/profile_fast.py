"""Where does stressgen's fast transport spend its CPU? A py-spy profile beside the floor.

nginx (as in ``benchmarks.throughput``) runs pinned to core 0. On core 1, in turn:

1. ``benchmarks.bare_client``: a bare uvloop Protocol writing one pre-encoded request per
   answer, parsed by httptools: the kernel + uvloop + parser cost, the least any Python
   client on uvloop spends per request;
2. ``wrk`` with the same body, for scale;
3. ``stressgen run --transport fast`` flat out (one profile, one worker, one process),
   sampled by ``py-spy record --subprocesses --nonblocking`` while it runs. Its CPU per
   request (whole process tree) is split by the leaf frame of each sample of the worker
   process into what the request path does: socket writes, the event loop (epoll, reads,
   callbacks: uvloop and the kernel), HTTP parsing, payload rendering, histograms,
   counters, scheduling... The supervisor (progress, merging) is shown apart.

py-spy is installed from PyPI when missing; nginx and wrk from Debian.

    python -m benchmarks.profile_fast [--seconds 8] [--connections 50] [--rate 400000]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._tools import (
    CLIENT_CPU,
    SteadyWindow,
    ensure_debian_packages,
    pinned,
)
from benchmarks.clients import wrk_lua, wrk_run
from benchmarks.nginx import nginx
from benchmarks.stressgen_runs import stressgen_argv, watch_stressgen
from stressgen.payloads import RUNTIME_ALERTS_PATH

WARMUP_S = 2
BUCKETS = (
    # (name, substrings of the leaf frame: the first bucket that matches takes the sample)
    ("socket write (kernel TCP loopback)", ("_Connection.request",)),
    ("HTTP answer parsing (httptools callbacks)", ("data_received", "on_message_complete")),
    ("payload rendering (fresh ids, timestamps)", ("payloads/factory.py",)),
    ("latency histograms (3 records per request)", ("LatencyHistogram",)),
    ("counters", ("ProfileCounters",)),
    ("sender: schedule, backlog, per-answer bookkeeping", ("engine/worker.py",)),
    ("connection pool", ("engine/fasthttp.py",)),
    ("clock reads", ("engine/process.py",)),
    ("event loop: epoll, socket reads, dispatch (uvloop, kernel)", ("runners.py", "uvloop")),
)


def _bucket(leaf: str) -> str:
    for name, needles in BUCKETS:
        if any(needle in leaf for needle in needles):
            return name
    return "other"


def split_samples(raw: str) -> tuple[collections.Counter[str], int, int]:
    """py-spy raw output -> (worker samples by bucket, worker samples, supervisor samples)."""
    buckets: collections.Counter[str] = collections.Counter()
    worker = supervisor = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        if "spawn_main" in stack:
            worker += int(count)
            buckets[_bucket(stack.rsplit(";", 1)[-1])] += int(count)
        else:
            supervisor += int(count)
    return buckets, worker, supervisor


def bare(port: int, seconds: int, connections: int) -> tuple[float, float]:
    """requests/s and CPU µs per request of ``benchmarks.bare_client``."""
    argv = [sys.executable, "-m", "benchmarks.bare_client", str(port)]
    argv += ["--seconds", str(seconds), "--connections", str(connections)]
    done = subprocess.run(pinned(CLIENT_CPU, argv), capture_output=True, text=True, check=True)
    rate, cpu_us, _ = done.stdout.split()
    return float(rate), float(cpu_us)


def profiled_stressgen(base: str, tmp: Path, args: argparse.Namespace) -> tuple[float, float, str]:
    """stressgen fast flat out under py-spy: requests/s, CPU µs/request, py-spy raw output."""
    planned = args.seconds + WARMUP_S + 3
    argv = stressgen_argv(
        base,
        tmp / "report.json",
        rate=args.rate,
        seconds=planned,
        connections=args.connections,
        transport="fast",
    )
    out = tmp / "pyspy.txt"
    window: SteadyWindow | None = None
    spy: subprocess.Popen[bytes] | None = None

    def on_progress(pid: int, elapsed: int, sent: int) -> bool:
        nonlocal window, spy
        window = window or SteadyWindow(pid, WARMUP_S, WARMUP_S + args.seconds)
        if spy is None and elapsed >= WARMUP_S:
            spy_argv = ["py-spy", "record", "--pid", str(pid), "--subprocesses"]
            spy_argv += ["--nonblocking", "-r", "250", "-d", str(args.seconds)]
            spy = subprocess.Popen(
                [*spy_argv, "-f", "raw", "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return window.report(elapsed, sent)

    watch_stressgen(argv, planned + 120, on_progress)
    if spy is not None:
        spy.wait(60)
    if window is None or not out.exists():
        raise SystemExit("the profiled stressgen run did not go as planned")
    burst = window.burst()
    return burst.rate, burst.cpu_us, out.read_text()


def main() -> int:
    """Measure, profile and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=float, default=400_000.0, help="far above the ceiling")
    args = parser.parse_args()
    ensure_debian_packages({"nginx": "nginx", "wrk": "wrk", "taskset": "util-linux"})
    if shutil.which("py-spy") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    with tempfile.TemporaryDirectory(prefix="stressgen-prof-") as name, nginx(Path(name)) as url:
        tmp = Path(name)
        port = int(url.rsplit(":", 1)[1])
        floor_rate, floor_us = bare(port, args.seconds, args.connections)
        wrk = wrk_run(url + RUNTIME_ALERTS_PATH, wrk_lua(tmp), args.seconds, args.connections)
        rate, cpu_us, raw = profiled_stressgen(url, tmp, args)
    buckets, worker, supervisor = split_samples(raw)
    total = worker + supervisor
    print(f"wrk:                 {wrk.rate:10,.0f} req/s  {wrk.cpu_us:6.2f} µs CPU/request")
    print(f"bare uvloop client:  {floor_rate:10,.0f} req/s  {floor_us:6.2f} µs CPU/request")
    print(f"stressgen fast:      {rate:10,.0f} req/s  {cpu_us:6.2f} µs CPU/request")
    print(f"  ratio to wrk {rate / wrk.rate:.2f}x; to the bare client {rate / floor_rate:.2f}x")
    print(f"\nWhere stressgen's {cpu_us:.2f} µs/request go ({total} py-spy samples):")
    print("| part | share | µs/request |\n|---|---:|---:|")
    for name, count in buckets.most_common():
        print(f"| {name} | {count / total:.1%} | {count / total * cpu_us:.2f} |")
    share = supervisor / max(total, 1)
    print(f"| supervisor process (progress, merging) | {share:.1%} | {share * cpu_us:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
