"""The throughput benchmark's session: one nginx, every measurement run against it
``--runs`` times, interleaved, then the memory run; a measurement that fails is noted and
the session goes on."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from benchmarks._tools import CLIENT_CPU, SERVER_CPU, bounded
from benchmarks.clients import (
    CLIENTS,
    OVERRUN_S,
    Throughput,
    autocannon_run,
    hey_run,
    locust_run,
    wrk_lua,
    wrk_run,
)
from benchmarks.markdown import memory_rows
from benchmarks.nginx import nginx
from benchmarks.stressgen_runs import (
    MemoryRun,
    RateRun,
    stressgen_ceiling,
    stressgen_memory,
    stressgen_rate,
)
from stressgen.payloads import RUNTIME_ALERTS_PATH, AlertTemplate, PayloadFactory

T = TypeVar("T")


@dataclasses.dataclass
class Results:
    """Every run's numbers, by measurement, and what went wrong on the way."""

    ceilings: dict[str, list[Throughput]]
    rates: dict[float, list[RateRun]]
    scaling: dict[int, list[Throughput]]
    held: dict[int, list[RateRun]] = dataclasses.field(default_factory=dict)
    """Scaling at a set rate: ``--held-rate`` per process, by process count."""
    memory: MemoryRun | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


def attempt(notes: list[str], label: str, measurement: Callable[[], T]) -> T | None:
    """One measurement; a failure is printed and noted, and the session goes on."""
    try:
        return measurement()
    except (Exception, SystemExit) as exc:  # nginx, wrk_run, check_no_failures: SystemExit
        text = str(exc).strip() or type(exc).__name__
        print(f"{label}: FAILED: {text}", flush=True)
        notes.append(f"{label} failed: {text.splitlines()[0]}")
        return None


@dataclasses.dataclass(frozen=True)
class Session:
    """One nginx and what every measurement against it needs."""

    args: argparse.Namespace
    base: str
    tmp: Path
    body: Path
    wrk_script: Path

    @property
    def url(self) -> str:
        """Where the alerts go."""
        return self.base + RUNTIME_ALERTS_PATH

    def ceiling(self, client: str) -> Throughput:
        """One client flat out, on the client core."""
        seconds, connections = self.args.seconds, self.args.connections
        if client in ("fast", "aiohttp"):
            return self.stressgen(client, 1, CLIENT_CPU)
        if client == "wrk":
            with bounded(seconds + OVERRUN_S, "wrk"):
                return wrk_run(self.url, self.wrk_script, seconds, connections)
        if client == "hey":
            return hey_run(self.url, self.body, seconds, connections)
        if client == "locust":
            return locust_run(self.base, self.tmp, self.body, seconds, connections)
        return autocannon_run(self.url, self.body, seconds, connections)

    def stressgen(self, transport: str, processes: int, cpu: int | None) -> Throughput:
        """stressgen flat out; the connections are shared out over its processes."""
        return stressgen_ceiling(
            self.base,
            self.tmp,
            transport=transport,
            processes=processes,
            cpu=cpu,
            target=self.args.ceiling_target,
            seconds=self.args.seconds,
            connections=max(1, self.args.connections // processes),
        )

    def rate(self, target: float) -> RateRun:
        """stressgen at one target rate."""
        return stressgen_rate(self.base, self.tmp, target, self.args.seconds, self.args.connections)

    def held(self, processes: int) -> RateRun:
        """stressgen at ``--held-rate`` per process, unpinned, the connections shared out."""
        return stressgen_rate(
            self.base,
            self.tmp,
            processes * self.args.held_rate,
            self.args.seconds,
            self.args.connections,
            processes=processes,
            cpu=None,
        )

    def memory(self) -> MemoryRun:
        """The long run whose memory is read."""
        args = self.args
        return stressgen_memory(
            self.base, self.tmp, args.memory_rate, args.memory_minutes, args.connections
        )


def measure(args: argparse.Namespace, clients: Sequence[str], skip: set[str]) -> Results:
    """All runs, interleaved so that a noisy moment hits every measurement alike."""
    results = Results(
        ceilings={client: [] for client in clients},
        rates={} if "accuracy" in skip else {rate: [] for rate in args.rates},
        scaling={} if "scaling" in skip else {1: [], 2: []},
        held={} if "scaling" in skip else {1: [], 2: []},
    )
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp_name:
        tmp = Path(tmp_name)
        body = tmp / "body.json"
        body.write_bytes(PayloadFactory(AlertTemplate()).render())
        with nginx(tmp) as base:
            print(f"nginx on core {SERVER_CPU} at {base}; clients on core {CLIENT_CPU}", flush=True)
            session = Session(args, base, tmp, body, wrk_lua(tmp))
            for run in range(1, args.runs + 1):
                _one_run(session, run, results)
            if "memory" not in skip and args.memory_minutes > 0:
                print(
                    f"memory: {args.memory_rate:,.0f}/s for {args.memory_minutes:g} min", flush=True
                )
                results.memory = attempt(results.notes, "memory", session.memory)
                if results.memory is not None:
                    for line in memory_rows(results.memory):
                        print(f"memory: {line}", flush=True)
    return results


def _one_run(session: Session, run: int, results: Results) -> None:
    for client, ceiling_runs in results.ceilings.items():
        got = attempt(results.notes, f"run {run}: {client}", partial(session.ceiling, client))
        if got is not None:
            ceiling_runs.append(got)
            print(
                f"run {run}: {CLIENTS[client]}: {got.rate:,.0f} req/s, {got.cpu_us:.1f} us CPU/req",
                flush=True,
            )
    for rate, rate_runs in results.rates.items():
        acc = attempt(results.notes, f"run {run}: {rate:,.0f}/s", partial(session.rate, rate))
        if acc is not None:
            rate_runs.append(acc)
            print(
                f"run {run}: target {rate:,.0f}/s: achieved {acc.achieved:,.1f}/s "
                f"({acc.error_pct:+.2f}%), {acc.failed} failed, {acc.unsent} never sent, "
                f"lateness p99 {acc.lateness_p99_ms:,.2f} ms, {acc.late_sends} of {acc.sent} late",
                flush=True,
            )
    for processes, scaling_runs in results.scaling.items():
        got = attempt(
            results.notes,
            f"run {run}: {processes} process(es)",
            partial(session.stressgen, "fast", processes, None),
        )
        if got is not None:
            scaling_runs.append(got)
            print(
                f"run {run}: stressgen fast, --processes {processes}, both cores: "
                f"{got.rate:,.0f} req/s, {got.cpu_us:.1f} us CPU/req",
                flush=True,
            )
    for processes, held_runs in results.held.items():
        label = f"run {run}: {processes} process(es) at {session.args.held_rate:,.0f}/s each"
        acc = attempt(results.notes, label, partial(session.held, processes))
        if acc is not None:
            held_runs.append(acc)
            print(
                f"{label}: achieved {acc.achieved:,.1f}/s ({acc.error_pct:+.2f}%), "
                f"{acc.failed} failed, lateness p99 {acc.lateness_p99_ms:,.2f} ms",
                flush=True,
            )
