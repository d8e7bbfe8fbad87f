"""Markdown for benchmarks/RESULTS.md: figures as ``median (min..max)``, the machine and the
tools, and the throughput benchmark's summary (its tables, one per measurement)."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import platform
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from benchmarks._tools import CLIENT_CPU, SERVER_CPU, command_output, spread
from benchmarks.clients import CLIENTS
from benchmarks.nginx import nginx_version
from benchmarks.stressgen_runs import MEMORY_START_S, WARMUP_S, MemoryRun, RssSample

if TYPE_CHECKING:  # the session prints memory rows as it goes: no import at run time
    from benchmarks.session import Results


def spread_of(values: Sequence[float], fmt: str) -> str:
    """``median (min..max)`` with a format of one's choosing (``spread`` for other figures)."""
    return (
        f"{format(statistics.median(values), fmt)} "
        f"({format(min(values), fmt)}..{format(max(values), fmt)})"
    )


def cpu_model() -> str:
    """The processor's name, as /proc/cpuinfo gives it."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def tool_versions(clients: Sequence[str]) -> str:
    """``nginx 1.22.1, wrk 4.1.0, ...`` for the tools measured."""
    versions = [f"nginx {nginx_version()}"]
    if "wrk" in clients:
        versions.append(" ".join(command_output(["wrk", "-v"]).split()[:2]))
    if "hey" in clients:
        versions.append("hey " + command_output(["dpkg-query", "-W", "-f", "${Version}", "hey"]))
    if "locust" in clients:
        versions.append(f"Locust {importlib.metadata.version('locust')}")
    if "autocannon" in clients:
        versions.append(", ".join(command_output(["autocannon", "--version"]).splitlines()))
    return ", ".join(v for v in versions if v.strip())


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def memory_rows(memory: MemoryRun) -> list[str]:
    """Markdown table rows: supervisor and workers at start, at the end, growth, peak."""
    first, last = min(memory.samples), max(memory.samples)
    start, end = memory.samples[first], memory.samples[last]
    workers = len(end.workers)
    picks: list[tuple[str, Callable[[RssSample], int]]] = [
        ("supervisor", lambda s: s.supervisor),
        (f"{workers} worker process(es) together", lambda s: sum(s.workers)),
        ("largest worker", lambda s: max(s.workers)),
    ]
    rows = []
    for label, pick in picks:
        peak = max(pick(s) for s in memory.samples.values())
        growth = pick(end) - pick(start)
        rows.append(
            f"| {label} | {_mib(pick(start))} | {_mib(pick(end))} "
            f"| {'+' if growth >= 0 else '-'}{_mib(abs(growth))} | {_mib(peak)} |"
        )
    return rows


def throughput_summary(
    args: argparse.Namespace,
    results: Results,
    command: str,
    unavailable: dict[str, str],
) -> str:
    """The throughput benchmark's Markdown block for benchmarks/RESULTS.md."""
    date = datetime.date.today().isoformat()
    lines = [
        f"## Throughput, rate accuracy, scaling, memory (issue 4): `{command}`",
        "",
        f"{date}: nginx (`return 202`, 1 worker) on core {SERVER_CPU}, every client on core "
        f"{CLIENT_CPU} (scaling: both cores), {args.connections} connections, "
        f"{args.seconds} s per measurement, median (min..max) of {args.runs} run(s); "
        f"{cpu_model()}, Python {platform.python_version()}; "
        f"{tool_versions(list(results.ceilings))}.",
    ]
    lines += _ceiling_lines(args, results)
    lines += _rate_lines(args, results)
    lines += _scaling_lines(args, results)
    if results.memory is not None:
        memory = results.memory
        lines += [
            "",
            f"Memory: `stressgen run` at {memory.rate:,.0f}/s for {memory.seconds:,} s "
            f"(default transport and process count, pinned to core {CLIENT_CPU}), "
            f"achieved {memory.achieved:,.0f}/s, {memory.failed:,} alerts failed; VmRSS read "
            "every second, one run.",
            "",
            f"| process | at {MEMORY_START_S} s | at the end | growth | peak |",
            "|---|---:|---:|---:|---:|",
            *memory_rows(memory),
        ]
    if unavailable:
        lines += ["", "Not measured: " + "; ".join(f"{k}: {v}" for k, v in unavailable.items())]
    if results.notes:
        lines += ["", "Failed measurements:", *(f"- {note}" for note in results.notes)]
    return "\n".join(lines)


def _ceiling_lines(args: argparse.Namespace, results: Results) -> list[str]:
    measured = {k: v for k, v in results.ceilings.items() if v}
    if not measured:
        return []
    wrk = measured.get("wrk")
    lines = [
        "",
        "Maximum requests/s, each client flat out; stressgen with a target of "
        f"{args.ceiling_target:,.0f}/s, fresh bodies, counted from its {WARMUP_S} s to its "
        f"{WARMUP_S + args.seconds} s progress line, CPU of its whole process tree in between; "
        "Locust from all users spawned (`--reset-stats`) on, its CPU from then on; wrk, hey "
        "and autocannon whole runs, CPU from rusage. Ratios are of the medians.",
        "",
        "| client | requests/s | / wrk | client CPU µs/request | / wrk |",
        "|---|---:|---:|---:|---:|",
    ]
    for client, runs in measured.items():
        rate = [m.rate for m in runs]
        cpu = [m.cpu_us for m in runs]
        rate_ratio = cpu_ratio = "n/a"
        if wrk:
            rate_ratio = f"{statistics.median(rate) / statistics.median(m.rate for m in wrk):.1%}"
            cpu_ratio = f"{statistics.median(cpu) / statistics.median(m.cpu_us for m in wrk):.1f}x"
        lines.append(
            f"| {CLIENTS[client]} | {spread(rate)} | {rate_ratio} "
            f"| {spread_of(cpu, '.1f')} | {cpu_ratio} |"
        )
    return lines


def _rate_lines(args: argparse.Namespace, results: Results) -> list[str]:
    if not results.rates:
        return []
    lines = [
        "",
        "Rate accuracy: `stressgen run` (default transport), 1 process, 1 worker, "
        f"{args.seconds} s to the end of its schedule.",
        "",
        "| target/s | achieved/s | rate error | failed | never sent | lateness p99 "
        "| late sends (>5 ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rate, runs in results.rates.items():
        if not runs:
            lines.append(f"| {rate:,.0f} | failed, see notes | | | | | |")
            continue
        lines.append(
            f"| {rate:,.0f} | {spread_of([r.achieved for r in runs], ',.1f')} "
            f"| {spread_of([r.error_pct for r in runs], '+.2f')}% "
            f"| {spread_of([r.failed_pct for r in runs], '.2f')}% "
            f"| {spread([r.unsent for r in runs])} "
            f"| {spread_of([r.lateness_p99_ms for r in runs], ',.2f')} ms "
            f"| {spread([r.late_sends for r in runs])} of "
            f"{statistics.median([r.sent for r in runs]):,.0f} |"
        )
    return lines


def _scaling_lines(args: argparse.Namespace, results: Results) -> list[str]:
    if not results.scaling:
        return []
    lines = [
        "",
        f"Scaling: stressgen `--transport fast` flat out, {args.connections} connections in "
        "all, unpinned (both cores); nginx stays 1 worker on core "
        f"{SERVER_CPU}, so it competes with whichever stressgen process runs there.",
        "",
        "| --processes | requests/s | client CPU µs/request |",
        "|---:|---:|---:|",
    ]
    for processes, runs in results.scaling.items():
        if runs:
            lines.append(
                f"| {processes} | {spread([m.rate for m in runs])} "
                f"| {spread_of([m.cpu_us for m in runs], '.1f')} |"
            )
    one, two = results.scaling.get(1), results.scaling.get(2)
    if one and two:
        ratio = statistics.median(m.rate for m in two) / statistics.median(m.rate for m in one)
        verdict = "met" if ratio >= 1.7 else "not met"
        lines.append(f"| 2 / 1 | {ratio:.2f}x (target ≥ 1.7x: {verdict}) | |")
    return lines + _held_lines(args, results)


def _held_lines(args: argparse.Namespace, results: Results) -> list[str]:
    if not results.held:
        return []
    lines = [
        "",
        f"Scaling at a set rate: {args.held_rate:,.0f}/s per process, `--processes` 1 and 2, "
        f"unpinned, {args.connections} connections in all, {args.seconds} s to the end of "
        "the schedule.",
        "",
        "| --processes | target/s | achieved/s | rate error | lateness p99 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for processes, runs in results.held.items():
        if runs:
            lines.append(
                f"| {processes} | {processes * args.held_rate:,.0f} "
                f"| {spread_of([r.achieved for r in runs], ',.1f')} "
                f"| {spread_of([r.error_pct for r in runs], '+.2f')}% "
                f"| {spread_of([r.lateness_p99_ms for r in runs], ',.2f')} ms |"
            )
    one, two = results.held.get(1), results.held.get(2)
    if one and two:
        ratio = statistics.median(r.achieved for r in two) / statistics.median(
            r.achieved for r in one
        )
        lines.append(f"| 2 / 1 | | {ratio:.2f}x | | |")
    return lines
