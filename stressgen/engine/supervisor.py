"""The supervisor: one spawned process per profile (or per share of one), merged results.

It starts the worker processes, starts them all at one wall-clock instant, merges the
histogram deltas they send, reads the live board for progress, and turns signals into
flags: the first Ctrl-C / SIGTERM asks every worker to stop and drain, the second to stop
now; whatever happens, no worker outlives :meth:`Supervisor.run`.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from stressgen.engine import board
from stressgen.engine.histogram import LatencyHistogram
from stressgen.engine.metrics import ProfileCounters
from stressgen.engine.pacer import Schedule
from stressgen.engine.process import worker_main
from stressgen.engine.worker import Histograms, WorkerSpec, shard_count
from stressgen.errors import StartupError

START_DELAY_S = 0.2
"""Between the start message and the first send: every worker gets it in time."""
READY_TIMEOUT_S = 60.0
KILL_GRACE_S = 3.0


@dataclasses.dataclass
class ProfileResult:
    """What one profile did, merged over its processes."""

    name: str
    counters: ProfileCounters = dataclasses.field(default_factory=ProfileCounters)
    histograms: Histograms = dataclasses.field(default_factory=Histograms)
    problems: list[str] = dataclasses.field(default_factory=list)
    """Processes that died, by name and exit code."""


@dataclasses.dataclass
class RunResult:
    """The outcome of :meth:`Supervisor.run`."""

    profiles: list[ProfileResult]
    started_at: float
    """Wall-clock time of the first scheduled send."""
    elapsed_s: float
    interrupted: bool
    stopped_s: float | None = None
    """Seconds from the start to the first Ctrl-C / SIGTERM acted on (None: not stopped):
    sends due after it were never asked for."""


@dataclasses.dataclass(frozen=True)
class Progress:
    """A live snapshot, handed to the progress callback."""

    elapsed_s: float
    totals: dict[str, int]
    interval_s: float
    interval_alerts: int
    interval_p99_ms: float | None


class IntervalRecorder(Protocol):
    """An optional observer of a run's intervals (the report's series, ``--hlog``)."""

    def histograms(self, profile: str, blobs: dict[str, dict[str, Any]]) -> None:
        """Every histogram delta of a worker of ``profile``, as it is merged."""

    def sample(self, elapsed_s: float, counts: dict[str, dict[str, int]]) -> None:
        """Each profile's live counters, each time every running worker has published
        its histograms once more (a round: about once per publish interval)."""


@dataclasses.dataclass
class _Worker:
    spec: WorkerSpec
    process: Any
    pipe: Connection | None
    final: bool = False
    exited: bool = False


class Supervisor:
    """Runs worker processes for the given specs; see the module docstring."""

    def __init__(
        self,
        specs: list[WorkerSpec],
        *,
        progress_interval_s: float,
        on_progress: Callable[[Progress], None] | None = None,
        hard_deadline_s: float,
        recorder: IntervalRecorder | None = None,
    ) -> None:
        self.specs = specs
        self.progress_interval_s = progress_interval_s
        self.on_progress = on_progress
        self.hard_deadline_s = hard_deadline_s
        names = list(dict.fromkeys(spec.profile.name for spec in specs))
        self.results = {name: ProfileResult(name) for name in names}
        self._signals = 0
        self._acted_on = 0
        self._live: Any = None
        self._interval = LatencyHistogram()
        self.recorder = recorder
        self._round: set[int] = set()
        self._stopped_at: float | None = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals += 1

    def run(self) -> RunResult:
        """Start every worker, wait for all of them, return the merged results."""
        ctx = multiprocessing.get_context("spawn")
        live = board.create_board(ctx, len(self.specs))
        workers: list[_Worker] = []
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        started_at = time.time()
        try:
            for spec in self.specs:
                parent_end, child_end = ctx.Pipe()
                process = ctx.Process(
                    target=worker_main,
                    args=(spec, child_end, live),
                    name=f"stressgen-{spec.profile.name}-{spec.row}",
                    daemon=True,
                )
                _start_ignoring_sigint(process, self._on_signal)
                child_end.close()
                workers.append(_Worker(spec, process, parent_end))
            self._await_ready(workers)
            started_at = time.time() + START_DELAY_S
            for worker in workers:
                assert worker.pipe is not None
                worker.pipe.send(("start", started_at))
            self._collect(workers, live, started_at)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _reap(workers)
        for worker in workers:
            if not worker.final:
                self._salvage(worker, live)
        return RunResult(
            profiles=list(self.results.values()),
            started_at=started_at,
            elapsed_s=max(0.0, time.time() - started_at),
            interrupted=self._signals > 0,
            stopped_s=None if self._stopped_at is None else max(0.0, self._stopped_at - started_at),
        )

    # phases ------------------------------------------------------------------------
    def _await_ready(self, workers: list[_Worker]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for worker in workers:
            assert worker.pipe is not None
            while not worker.pipe.poll(0.1):
                if self._signals:
                    raise KeyboardInterrupt
                if not worker.process.is_alive():
                    raise StartupError(
                        f"profile {worker.spec.profile.name!r}: worker process exited during "
                        f"start (exit code {worker.process.exitcode})"
                    )
                if time.monotonic() > deadline:
                    raise StartupError(
                        f"profile {worker.spec.profile.name!r}: worker process not ready "
                        f"after {READY_TIMEOUT_S:g}s"
                    )
            worker.pipe.recv()

    def failed_alerts(self) -> int:
        """Alerts failed so far, read from the live board (0 before the workers start).

        Safe to call from another thread (a port-forward watcher charging an outage with
        the failures counted during it)."""
        live = self._live
        if live is None:
            return 0
        return sum(
            board.read(live, [s.row])["requests_failed"] * s.template.alerts_per_request
            for s in self.specs
        )

    def _collect(self, workers: list[_Worker], live: Any, started_at: float) -> None:
        self._live = live
        next_progress = started_at + self.progress_interval_s
        last_progress, last_sent = started_at, 0
        hard_deadline = started_at + self.hard_deadline_s
        kill_at: float | None = None
        while not all(w.exited and w.pipe is None for w in workers):
            now = time.time()
            waitables: list[Any] = [w.pipe for w in workers if w.pipe is not None]
            waitables += [w.process.sentinel for w in workers if not w.exited]
            timeout = max(0.0, min(next_progress - now, 0.25))
            for ready in multiprocessing.connection.wait(waitables, timeout):
                self._handle(workers, ready)
            self._act_on_signals(workers)
            if self.recorder is not None and self._round_complete(workers):
                self.recorder.sample(time.time() - started_at, _profile_counts(workers, live))
            if self._signals >= 2 and kill_at is None:
                kill_at = time.time() + KILL_GRACE_S
            now = time.time()
            if now >= hard_deadline or (kill_at is not None and now >= kill_at):
                for worker in workers:
                    if worker.process.is_alive():
                        worker.process.kill()
                hard_deadline = kill_at = float("inf")
            if now >= next_progress and self.on_progress is not None:
                totals = board.read(live, list(range(len(workers))))
                totals["alerts_failed"] = sum(
                    board.read(live, [w.spec.row])["requests_failed"]
                    * w.spec.template.alerts_per_request
                    for w in workers
                )
                p99 = self._interval.percentiles((99.0,))["p99"] if self._interval.count else None
                self.on_progress(
                    Progress(
                        elapsed_s=now - started_at,
                        totals=totals,
                        interval_s=now - last_progress,
                        interval_alerts=totals["alerts_sent"] - last_sent,
                        interval_p99_ms=p99,
                    )
                )
                self._interval.reset()
                last_progress, last_sent = now, totals["alerts_sent"]
                next_progress += self.progress_interval_s
                while next_progress <= now:
                    next_progress += self.progress_interval_s

    def _handle(self, workers: list[_Worker], ready: Any) -> None:
        for worker in workers:
            if ready is worker.pipe:
                try:
                    message = worker.pipe.recv()
                except (EOFError, OSError):
                    worker.pipe.close()
                    worker.pipe = None
                    return
                self._message(worker, message)
                return
            if not worker.exited and ready == worker.process.sentinel:
                worker.exited = True
                return

    def _message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        result = self.results[worker.spec.profile.name]
        kind = message[0]
        if kind == "hist":
            self._round.add(worker.spec.row)
            self._merge_histograms(result, message[1])
        elif kind == "final":
            _, counters, hists = message
            result.counters.merge(ProfileCounters.from_dict(counters))
            self._merge_histograms(result, hists)
            worker.final = True

    def _merge_histograms(self, result: ProfileResult, blobs: dict[str, dict[str, Any]]) -> None:
        if self.recorder is not None:
            self.recorder.histograms(result.name, blobs)
        for name, hist in result.histograms.items():
            blob = blobs.get(name)
            if blob:
                hist.merge_encoded(blob["hdr"], blob["clamped"])
                if name == "from_due":
                    self._interval.merge_encoded(blob["hdr"], blob["clamped"])

    def _round_complete(self, workers: list[_Worker]) -> bool:
        running = {w.spec.row for w in workers if w.pipe is not None and not w.final}
        if not self._round or not running <= self._round:
            return False
        self._round.clear()
        return True

    def _act_on_signals(self, workers: list[_Worker]) -> None:
        while self._acted_on < min(self._signals, 2):
            self._acted_on += 1
            if self._stopped_at is None:
                self._stopped_at = time.time()
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.terminate()

    def _salvage(self, worker: _Worker, live: Any) -> None:
        """A worker that sent no final report: keep its last published counters."""
        result = self.results[worker.spec.profile.name]
        spec = worker.spec
        values = board.read(live, [spec.row])
        counters = board.counters_from_row(values)
        planned = sum(
            shard_count(
                Schedule.for_worker(spec.profile, spec.duration_s, k).total, spec.shard, spec.shards
            )
            for k in range(spec.profile.worker_count)
        )
        counters.unsent = max(0, planned - counters.requests_sent)
        result.counters.merge(counters)
        code = worker.process.exitcode
        result.problems.append(
            f"worker process {worker.process.name} (pid {worker.process.pid}) died "
            f"with exit code {code}; its counts are those last published"
        )


def _profile_counts(workers: list[_Worker], live: Any) -> dict[str, dict[str, int]]:
    """Each profile's live board counters, summed over its processes."""
    rows: dict[str, list[int]] = {}
    for worker in workers:
        rows.setdefault(worker.spec.profile.name, []).append(worker.spec.row)
    return {name: board.read(live, profile_rows) for name, profile_rows in rows.items()}


def _start_ignoring_sigint(process: Any, handler: Any) -> None:
    """Start a child with SIGINT ignored from its first instruction.

    An ignored signal stays ignored across exec, and Python then installs no
    KeyboardInterrupt handler: a Ctrl-C at the terminal, which reaches the whole process
    group, cannot kill a worker half-way through its start-up imports; the supervisor alone
    decides when workers stop. (A Ctrl-C during these few milliseconds is not counted.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, handler)


def _reap(workers: list[_Worker]) -> None:
    """Make sure no worker process is left: terminate, then kill, then join."""
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()
    deadline = time.monotonic() + KILL_GRACE_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(5)
        if worker.pipe is not None:
            worker.pipe.close()
            worker.pipe = None
