"""How fast and how punctual is stressgen's engine? Measured against nginx, beside wrk.

nginx (``return 202``, the ~3.3 KB body read and discarded, one worker process) runs
pinned to core 0; the client runs pinned to core 1, with 50 connections by default.

1. **wrk** (``-t1``) POSTs one static, real node-agent body as fast as it can: requests/s
   and the client's CPU microseconds per request.
2. **stressgen at its ceiling**: one profile in one process (``--workers 1``) with a
   target far above what it can do (100,000/s). An open-loop schedule it cannot keep only
   grows a backlog that would be sent after the run's end, so the report's
   ``alerts_sent / send_window_s`` would show the target, not the speed. Instead the
   progress lines (every second) are read live: requests/s is the count sent between the
   1 s line and the ``1 + seconds`` line over that time, and CPU per request is the CPU
   the whole process tree (supervisor and worker) used in between, so start-up costs
   (imports, spawning: about 1.5 CPU s) stay out. Then SIGTERM stops the run, and its
   report must show no failed request. Every body stressgen sends is freshly rendered
   (unique ids); wrk's is the same each time.
3. **stressgen's rate accuracy** at a few targets (100/s, 1,000/s and 5,000/s by default,
   one worker, 10 s each): the run goes to its end. Achieved is the report's average rate:
   alerts sent over the real send span (from the start to the last send, which comes
   after the window when sends lag). With it: the p99 lateness of a send after its due
   time, and late sends (more than 5 ms late).

Each measurement is repeated ``--runs`` times, interleaved; medians (min..max) are
printed, then a Markdown summary to paste into ``benchmarks/RESULTS.md``.

    python -m benchmarks.engine_nginx [--runs 3] [--seconds 10] [--connections 50]
        [--ceiling-target 100000] [--rates 100,1000,5000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import options
from benchmarks._tools import (
    CLIENT_CPU,
    SERVER_CPU,
    ensure_debian_packages,
    pinned,
    process_tree_cpu_seconds,
    spread,
)
from benchmarks.clients import Throughput, wrk_lua, wrk_run
from benchmarks.markdown import cpu_model, spread_of
from benchmarks.nginx import nginx, nginx_version
from benchmarks.stressgen_runs import PROGRESS, STOP_GRACE_S, WARMUP_S, check_no_failures
from stressgen.payloads import RUNTIME_ALERTS_PATH


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """One rate-accuracy run of stressgen against its target."""

    target: float
    sent_per_window: float
    achieved: float
    lateness_p99_ms: float
    late_sends: int
    sent: int

    @property
    def error_pct(self) -> float:
        """Achieved rate's deviation from the target, in percent."""
        return (self.achieved - self.target) / self.target * 100


# -- stressgen -----------------------------------------------------------------------------


def stressgen_argv(
    url: str, rate: float, seconds: float, connections: int, report: Path
) -> list[str]:
    """``stressgen run`` with one profile, one worker, in one process, on the client core."""
    argv = [sys.executable, "-m", "stressgen", "run", "--url", url, "--rate", f"{rate:g}/s"]
    argv += ["--workers", "1", "--processes", "1", "--max-connections", str(connections)]
    argv += ["--duration", f"{seconds:g}s", "--report-json", str(report)]
    # nginx answers /healthz with 202, not 200: never mistake it for a missing port-forward.
    argv += ["--port-forward", "never"]
    return pinned(CLIENT_CPU, argv)


def stressgen_ceiling(
    url: str, tmp: Path, target: float, seconds: int, connections: int
) -> Throughput:
    """stressgen far above what it can send; see the module docstring for what is counted."""
    report_path = tmp / "ceiling.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(url, target, seconds + WARMUP_S + 2, connections, report_path)
    argv += ["--progress-interval", "1s"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(seconds + WARMUP_S + STOP_GRACE_S, process.kill)
    watchdog.start()
    output: list[str] = []
    marks: dict[int, tuple[float, float, int]] = {}  # elapsed s -> (time, CPU s, sent)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = PROGRESS.search(line)
            if match is None or int(match.group(1)) not in (WARMUP_S, WARMUP_S + seconds):
                continue
            now, cpu = time.monotonic(), process_tree_cpu_seconds(process.pid)
            marks[int(match.group(1))] = (now, cpu, int(match.group(2)))
            if len(marks) == 2:
                process.send_signal(signal.SIGTERM)
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if len(marks) != 2 or not report_path.exists():
        raise SystemExit("stressgen run did not go as planned:\n" + "".join(output))
    report = json.loads(report_path.read_text())
    check_no_failures(report, output)
    (t0, cpu0, sent0), (t1, cpu1, sent1) = marks[WARMUP_S], marks[WARMUP_S + seconds]
    requests = sent1 - sent0
    return Throughput(requests / (t1 - t0), (cpu1 - cpu0) / max(requests, 1) * 1e6, requests)


def stressgen_accuracy(
    url: str, tmp: Path, target: float, seconds: int, connections: int
) -> Accuracy:
    """stressgen at ``target``/s to the end of its schedule; the report says how it went."""
    report_path = tmp / "accuracy.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(url, target, seconds, connections, report_path)
    argv += ["--progress-interval", "1h"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + STOP_GRACE_S + 60, check=False
    )
    if done.returncode != 0 or not report_path.exists():
        raise SystemExit(
            f"stressgen run exited with code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    report = json.loads(report_path.read_text())
    check_no_failures(report, [done.stdout])
    profile = report["profiles"][0]
    sent = report["totals"]["alerts_sent"]
    window = report["send_window_s"]
    return Accuracy(
        target=target,
        sent_per_window=sent / window,
        achieved=report["totals"]["average_rate_per_s"],  # sent over the real send span
        lateness_p99_ms=profile["latency_ms"]["lateness"]["p99"],
        late_sends=profile["counters"]["late_sends"],
        sent=sent,
    )


# -- the whole session ---------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    """Every run's numbers, by measurement."""

    wrk: list[Throughput] = dataclasses.field(default_factory=list)
    ceiling: list[Throughput] = dataclasses.field(default_factory=list)
    accuracy: dict[float, list[Accuracy]] = dataclasses.field(default_factory=dict)


def measure(args: argparse.Namespace, rates: Sequence[float]) -> Results:
    """All runs, interleaved so that a noisy moment hits every measurement alike."""
    results = Results(accuracy={rate: [] for rate in rates})
    with tempfile.TemporaryDirectory(prefix="engine-nginx-") as tmp_name:
        tmp = Path(tmp_name)
        script = wrk_lua(tmp)
        with nginx(tmp) as base:
            url = base + RUNTIME_ALERTS_PATH
            print(f"nginx on core {SERVER_CPU} at {base}; clients on core {CLIENT_CPU}", flush=True)
            for run in range(1, args.runs + 1):
                wrk = wrk_run(url, script, args.seconds, args.connections)
                results.wrk.append(wrk)
                print(
                    f"run {run}: wrk {wrk.rate:,.0f} req/s, {wrk.cpu_us:.1f} us CPU/req", flush=True
                )
                ceiling = stressgen_ceiling(
                    base, tmp, args.ceiling_target, args.seconds, args.connections
                )
                results.ceiling.append(ceiling)
                print(
                    f"run {run}: stressgen {ceiling.rate:,.0f} req/s, "
                    f"{ceiling.cpu_us:.1f} us CPU/req",
                    flush=True,
                )
                for rate in rates:
                    acc = stressgen_accuracy(base, tmp, rate, args.seconds, args.connections)
                    results.accuracy[rate].append(acc)
                    print(
                        f"run {run}: target {rate:,.0f}/s: achieved {acc.achieved:,.1f}/s "
                        f"({acc.error_pct:+.2f}%), sent/window {acc.sent_per_window:,.1f}/s, "
                        f"lateness p99 {acc.lateness_p99_ms:.2f} ms, "
                        f"{acc.late_sends} of {acc.sent} late",
                        flush=True,
                    )
    return results


def summary(args: argparse.Namespace, results: Results, command: str) -> str:
    """The Markdown block for benchmarks/RESULTS.md."""
    wrk_rate = [m.rate for m in results.wrk]
    sg_rate = [m.rate for m in results.ceiling]
    wrk_cpu = [m.cpu_us for m in results.wrk]
    sg_cpu = [m.cpu_us for m in results.ceiling]
    ratio = statistics.median(sg_rate) / statistics.median(wrk_rate)
    cpu_ratio = statistics.median(sg_cpu) / statistics.median(wrk_cpu)
    cpu_model_name = cpu_model()
    date = datetime.date.today().isoformat()
    lines = [
        "## stressgen's engine against nginx, beside wrk",
        "",
        f"`{command}` on {date}: nginx {nginx_version()} (`return 202`, 1 worker) on core "
        f"{SERVER_CPU}, the client on core {CLIENT_CPU}, {args.connections} connections, "
        f"{args.seconds} s per measurement, median (min..max) of {args.runs} run(s); "
        f"{cpu_model_name}, Python {platform.python_version()}.",
        "",
        "| client | requests/s | client CPU µs/request |",
        "|---|---:|---:|",
        f"| wrk -t1, one static body | {spread(wrk_rate)} | {spread_of(wrk_cpu, '.1f')} |",
        f"| stressgen, 1 process, target {args.ceiling_target:,.0f}/s | {spread(sg_rate)} "
        f"| {spread_of(sg_cpu, '.1f')} |",
        f"| stressgen / wrk | {ratio:.1%} | {cpu_ratio:.1f}x |",
        "",
        "| target/s | achieved/s | rate error | lateness p99 | late sends (>5 ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rate, runs in results.accuracy.items():
        lines.append(
            f"| {rate:,.0f} | {spread_of([a.achieved for a in runs], ',.1f')} "
            f"| {spread_of([a.error_pct for a in runs], '+.2f')}% "
            f"| {spread_of([a.lateness_p99_ms for a in runs], ',.2f')} ms "
            f"| {spread([a.late_sends for a in runs])} of {runs[0].sent:,} |"
        )
    lines += [
        "",
        "Achieved = the report's average rate: alerts sent over the real send span (to the "
        "last send, which comes after the window when sends lag; a sender more than "
        "max(5 s, 10%) behind gives up and counts the rest as never sent). The stressgen ceiling "
        f"counts from the {WARMUP_S} s progress line to {WARMUP_S + args.seconds} s, CPU of "
        "the supervisor and worker together, start-up excluded.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--ceiling-target", type=float, default=100_000.0)
    parser.add_argument("--rates", type=options.rates, default=[100.0, 1000.0, 5000.0])
    args = parser.parse_args()
    command = shlex.join(["python", "-m", "benchmarks.engine_nginx", *sys.argv[1:]])
    ensure_debian_packages({"nginx": "nginx", "wrk": "wrk"})
    results = measure(args, args.rates)
    print()
    print(summary(args, results, command))


if __name__ == "__main__":
    main()
