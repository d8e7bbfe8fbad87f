"""``stressgen run`` as the throughput benchmark measures it: flat out (requests/s and CPU
between two progress lines), at a target rate to the end of its schedule (how punctual),
and for minutes at a time (the resident memory of its processes); with what the engine
benchmark shares: reading progress lines and checking a report for failures."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._tools import (
    CLIENT_CPU,
    SteadyWindow,
    ToolUnavailable,
    cmdline,
    kill_tree,
    pinned,
    process_tree,
    rss_kib,
)
from benchmarks.clients import Throughput

WARMUP_S = 1
"""The ceiling is measured from this progress line on (connections open, caches warm)."""
STOP_GRACE_S = 60.0
"""How much longer than planned a stressgen run may take before it is killed."""
MEMORY_START_S = 2
"""The memory run's first reading: connections open, the schedule running."""
PROGRESS = re.compile(r"Progress: (\d+)s elapsed.*?Alerts: (\d+) sent")


@dataclasses.dataclass(frozen=True)
class RateRun:
    """One rate-accuracy run of stressgen against its target."""

    target: float
    achieved: float
    sent: int
    failed: int
    unsent: int
    lateness_p99_ms: float
    late_sends: int

    @property
    def error_pct(self) -> float:
        """Achieved rate's deviation from the target, in percent."""
        return (self.achieved - self.target) / self.target * 100

    @property
    def failed_pct(self) -> float:
        """Failed alerts as a share of those sent, in percent."""
        return self.failed / max(self.sent, 1) * 100


@dataclasses.dataclass(frozen=True)
class RssSample:
    """Resident memory of a stressgen run's processes at one moment, in KiB."""

    supervisor: int
    workers: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class MemoryRun:
    """The memory run: readings by elapsed second, and the rate it sustained."""

    rate: float
    seconds: int
    samples: dict[int, RssSample]
    achieved: float
    """Alerts/s sent between the first and the last reading."""
    failed: int
    """Alerts the report counts as failed."""


def check_no_failures(report: dict[str, Any], output: Sequence[str]) -> None:
    """SystemExit unless a run's JSON report shows every alert accepted (or cut at stop)."""
    totals = report["totals"]
    cut = totals["alerts_in_flight_at_stop"]
    lost = totals["alerts_accepted"] + cut < totals["alerts_sent"]
    if totals["alerts_failed"] or lost or report["profiles"][0]["problems"]:
        raise SystemExit("stressgen saw failures against nginx:\n" + "".join(output))


def stressgen_argv(
    base: str,
    report: Path,
    *,
    rate: float,
    seconds: float,
    connections: int,
    transport: str = "auto",
    processes: int | None = 1,
    cpu: int | None = CLIENT_CPU,
    progress: str = "1s",
) -> list[str]:
    """``stressgen run`` with one profile and one worker; ``processes=None``: its default."""
    argv = [sys.executable, "-m", "stressgen", "run", "--url", base, "--rate", f"{rate:g}/s"]
    argv += ["--workers", "1", "--max-connections", str(connections), "--transport", transport]
    argv += ["--duration", f"{seconds:g}s", "--progress-interval", progress]
    # nginx answers /healthz with 202, not 200: never mistake it for a missing port-forward.
    argv += ["--port-forward", "never", "--report-json", str(report)]
    if processes is not None:
        argv += ["--processes", str(processes)]
    return argv if cpu is None else pinned(cpu, argv)


def watch_stressgen(
    argv: list[str], timeout_s: float, on_progress: Callable[[int, int, int], bool]
) -> tuple[int, list[str]]:
    """Run stressgen, calling ``on_progress(pid, elapsed_s, alerts_sent)`` at each progress
    line; SIGTERM once it returns True. Exit code and output; the tree is killed on timeout."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        kill_tree(process.pid)

    watchdog = threading.Timer(timeout_s, expire)
    watchdog.start()
    output: list[str] = []
    stopping = False
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = PROGRESS.search(line)
            if match and not stopping and on_progress(process.pid, int(match[1]), int(match[2])):
                process.send_signal(signal.SIGTERM)
                stopping = True
        process.wait(STOP_GRACE_S)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            kill_tree(process.pid)
            process.wait()
    if timed_out.is_set():
        raise ToolUnavailable(
            f"stressgen ran past {timeout_s:g}s and was killed:\n" + _tail(output)
        )
    return process.returncode, output


def stressgen_ceiling(
    base: str,
    tmp: Path,
    *,
    transport: str,
    processes: int,
    cpu: int | None,
    target: float,
    seconds: int,
    connections: int,
) -> Throughput:
    """stressgen far above what it can send, counted between two progress lines."""
    report_path = tmp / "ceiling.json"
    report_path.unlink(missing_ok=True)
    planned = seconds + WARMUP_S + 2
    argv = stressgen_argv(
        base,
        report_path,
        rate=target,
        seconds=planned,
        connections=connections,
        transport=transport,
        processes=processes,
        cpu=cpu,
    )
    window: SteadyWindow | None = None

    def on_progress(pid: int, elapsed: int, sent: int) -> bool:
        nonlocal window
        window = window or SteadyWindow(pid, WARMUP_S, WARMUP_S + seconds)
        return window.report(elapsed, sent)

    _, output = watch_stressgen(argv, planned + STOP_GRACE_S + 60, on_progress)
    if window is None or not report_path.exists():
        raise ToolUnavailable("stressgen run did not go as planned:\n" + _tail(output))
    check_no_failures(json.loads(report_path.read_text()), output)
    return Throughput.of(window.burst())


def stressgen_rate(
    base: str,
    tmp: Path,
    target: float,
    seconds: int,
    connections: int,
    *,
    processes: int = 1,
    cpu: int | None = CLIENT_CPU,
) -> RateRun:
    """stressgen at ``target``/s to the end of its schedule; the report says how it went."""
    report_path = tmp / "accuracy.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(
        base,
        report_path,
        rate=target,
        seconds=seconds,
        connections=connections,
        processes=processes,
        cpu=cpu,
        progress="1h",
    )
    # a sender that lags may run on for max(5 s, 10%) after the window, then drain
    timeout = seconds * 1.1 + 5 + STOP_GRACE_S + 60
    code, output = watch_stressgen(argv, timeout, lambda *_: False)
    if code not in (0, 4) or not report_path.exists():  # 4: the run's verdict is "failed"
        raise ToolUnavailable(f"stressgen run exited with code {code}:\n" + _tail(output))
    report = json.loads(report_path.read_text())
    totals, profile = report["totals"], report["profiles"][0]
    return RateRun(
        target=target,
        achieved=totals["average_rate_per_s"],  # sent over the real send span
        sent=totals["alerts_sent"],
        failed=totals["alerts_failed"],
        unsent=totals["requests_unsent"],
        lateness_p99_ms=profile["latency_ms"]["lateness"]["p99"],
        late_sends=profile["counters"]["late_sends"],
    )


def stressgen_memory(
    base: str, tmp: Path, rate: float, minutes: float, connections: int
) -> MemoryRun:
    """stressgen at ``rate``/s for ``minutes``, its processes' RSS read at each progress line."""
    seconds = max(MEMORY_START_S + 2, round(minutes * 60))
    report_path = tmp / "memory.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(
        base, report_path, rate=rate, seconds=seconds, connections=connections, processes=None
    )
    samples: dict[int, RssSample] = {}
    sent: dict[int, tuple[float, int]] = {}

    def on_progress(pid: int, elapsed: int, alerts: int) -> bool:
        samples[elapsed] = rss_of(pid)
        sent[elapsed] = (time.monotonic(), alerts)
        return elapsed >= seconds

    _, output = watch_stressgen(argv, seconds + STOP_GRACE_S + 120, on_progress)
    readings = {k: v for k, v in samples.items() if k >= MEMORY_START_S and v.workers}
    if len(readings) < 2 or not report_path.exists():
        raise ToolUnavailable(
            f"the memory run gave {len(readings)} reading(s) of its workers:\n" + _tail(output)
        )
    first, last = min(readings), max(readings)
    (t0, sent0), (t1, sent1) = sent[first], sent[last]
    failed = json.loads(report_path.read_text())["totals"]["alerts_failed"]
    return MemoryRun(rate, seconds, readings, (sent1 - sent0) / max(t1 - t0, 1e-9), failed)


def rss_of(supervisor: int) -> RssSample:
    """RSS of a stressgen supervisor and its spawned workers (not multiprocessing's
    resource tracker, which only waits)."""
    workers = tuple(
        rss_kib(pid)
        for pid in sorted(process_tree(supervisor) - {supervisor})
        if "spawn_main" in cmdline(pid)
    )
    return RssSample(rss_kib(supervisor), workers)


def _tail(output: Sequence[str], lines: int = 40) -> str:
    return "".join(output[-lines:])
