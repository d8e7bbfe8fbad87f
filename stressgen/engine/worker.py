"""One process's share of a profile: an open-loop sender on the running event loop.

Sends are due on the pacer's schedule whether or not earlier answers came back. When the
connection cap is reached a due send waits for a free slot; it goes out late, and how late
is recorded. Every send is counted exactly once: accepted, failed with a reason, still in
flight when a stop cut it off, or unsent (due, but a stop came first or the sender fell
too far behind).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import heapq
from collections.abc import Callable

from stressgen.config import ProfileConfig
from stressgen.engine.histogram import LatencyHistogram
from stressgen.engine.metrics import ProfileCounters, classify_exception
from stressgen.engine.pacer import Schedule
from stressgen.engine.transport import Transport
from stressgen.payloads import AlertTemplate, PayloadFactory

LATE_SLACK_S = 0.005
"""A send leaving more than this after its due time counts as late (timer granularity
and loop scheduling make a millisecond or so normal)."""
MIN_SLEEP_S = 0.001
IDLE_SLICE_S = 0.05
"""Longest sleep between checks of the stop flag while waiting for the next due send."""
MIN_BACKLOG = 1000
BACKLOG_PER_CONNECTION = 10
"""Due sends waiting for a free connection are bounded (memory must not grow without
bound when the target or the sender cannot keep up); past the bound, scheduling waits."""
MIN_OVERRUN_S = 5.0
OVERRUN_SHARE = 0.1
"""A sender this far past the end of its schedule (max of the two) stops scheduling and
counts the rest as unsent, rather than running on indefinitely."""


def give_up_s(duration_s: float) -> float:
    """When a sender still behind its schedule of ``duration_s`` stops scheduling: its last
    requests are answered or time out within one timeout after this."""
    return duration_s + max(MIN_OVERRUN_S, OVERRUN_SHARE * duration_s)


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """Everything one worker process needs, as plain picklable data."""

    profile: ProfileConfig
    template: AlertTemplate
    url: str
    duration_s: float
    shard: int
    shards: int
    """This process sends every worker's sends number ``shard``, ``shard + shards``, ...:
    a profile spread over ``shards`` processes keeps exactly its one schedule."""
    row: int
    """This process's row on the live board."""
    seed: int | None = None
    transport: str = "fast"
    """``fast`` or ``aiohttp`` (``auto`` is resolved before the spec is made)."""
    proxy: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    publish_interval_s: float = 1.0
    drain_s: float = 5.0
    """After a first Ctrl-C: how long in-flight requests may take to finish."""


@dataclasses.dataclass
class Histograms:
    """The three latency measures of a profile, in microseconds. The first two time
    answers (any HTTP status); a failure without one is counted by reason, not timed."""

    from_due: LatencyHistogram = dataclasses.field(default_factory=LatencyHistogram)
    """Answer time minus due time: what a user waiting on schedule experiences (CO-safe)."""
    from_sent: LatencyHistogram = dataclasses.field(default_factory=LatencyHistogram)
    """Answer time minus actual send time: the server's (and network's) service time."""
    lateness: LatencyHistogram = dataclasses.field(default_factory=LatencyHistogram)
    """Send time minus due time."""

    def items(self) -> tuple[tuple[str, LatencyHistogram], ...]:
        """(name, histogram) pairs in a stable order."""
        return (
            ("from_due", self.from_due),
            ("from_sent", self.from_sent),
            ("lateness", self.lateness),
        )


class ProfileSender:
    """Sends one process's share of a profile on schedule; see the module docstring."""

    def __init__(
        self,
        spec: WorkerSpec,
        transport: Transport,
        clock: Callable[[], float],
    ) -> None:
        self.spec = spec
        self.transport = transport
        self.clock = clock
        """Seconds since the run's start (shared by every process)."""
        self.counters = ProfileCounters()
        self.histograms = Histograms()
        self.in_flight = 0
        self.cap = spec.profile.max_connections
        self.backlog_cap = max(MIN_BACKLOG, BACKLOG_PER_CONNECTION * self.cap)
        self.give_up_at = give_up_s(spec.duration_s)
        self.alerts = spec.template.alerts_per_request
        workers = range(spec.profile.worker_count)
        self.schedules = {k: Schedule.for_worker(spec.profile, spec.duration_s, k) for k in workers}
        base_seed = spec.seed
        self.factories = {
            k: PayloadFactory(
                spec.template,
                seed=None
                if base_seed is None
                else (base_seed * 1_000_003 + k) * 1_009 + spec.shard,
                worker=k,
            )
            for k in workers
        }
        self.pending: collections.deque[tuple[float, int]] = collections.deque()
        self.stopping = False
        self.stopped_at: float | None = None
        """When :meth:`stop` was called (the clock's seconds): sends due by then were asked for."""
        self.cancelled = False
        # Bound once: these run for every request.
        self._record_lateness = self.histograms.lateness.record
        self._record_due = self.histograms.from_due.record
        self._record_sent = self.histograms.from_sent.record
        self._idle = asyncio.Event()
        self._idle.set()

    # scheduling ------------------------------------------------------------------
    async def run(self) -> None:
        """Send everything the schedule asks for, then wait for the answers."""
        self.transport.bind(self)
        heap = []
        step = self.spec.shards
        for k, schedule in self.schedules.items():
            first = schedule.due(self.spec.shard)
            if first is not None:
                heap.append((first, k, self.spec.shard))
        heapq.heapify(heap)
        clock = self.clock
        give_up_at = self.give_up_at
        while heap and not self.stopping:
            due, k, n = heap[0]
            now = clock()
            wait = due - now
            if wait > 0:
                # Never below the loop's 1 ms timer resolution: a shorter sleep would spin.
                await asyncio.sleep(min(max(wait, MIN_SLEEP_S), IDLE_SLICE_S))
                continue
            if now > give_up_at:
                break  # so far behind that the rest would come after the run
            if len(self.pending) >= self.backlog_cap:
                await asyncio.sleep(MIN_SLEEP_S)  # the backlog is bounded: wait for room
                continue
            following = self.schedules[k].due(n + step)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following, k, n + step))
            if self.in_flight < self.cap:
                self._start(due, k)
            else:
                self.pending.append((due, k))
        # Sends already due that will never go out are counted, never dropped silently:
        # due by the stop, not by now (the loop may have slept past it).
        now = clock() if self.stopped_at is None else self.stopped_at
        self.counters.unsent += sum(
            shard_count(self.schedules[k].count_due(now), n, step) for _, k, n in heap
        )
        if self.in_flight:
            await self._idle.wait()

    def stop(self) -> None:
        """Stop scheduling; sends not yet out are counted unsent; in-flight ones go on."""
        if self.stopped_at is None:
            self.stopped_at = self.clock()
        self.stopping = True
        self.counters.unsent += len(self.pending)
        self.pending.clear()

    def cancel(self) -> None:
        """Stop now: requests still in flight are cut off and counted as such."""
        self.stop()
        self.cancelled = True
        self.counters.in_flight_at_stop += self.in_flight
        self.in_flight = 0
        self._idle.set()

    # one request -----------------------------------------------------------------
    def _start(self, due: float, k: int) -> None:
        counters = self.counters
        self.in_flight += 1
        if self.in_flight == 1:
            self._idle.clear()
        body = self.factories[k].render()
        sent = self.clock()
        counters.last_send_s = sent
        late = sent - due
        if late > LATE_SLACK_S:
            counters.note_late(late * 1e3)
        self._record_lateness(int(late * 1e6) if late > 0 else 0)
        counters.note_sent(self.alerts)
        self.transport.send(body, (due, sent))

    def on_answer(self, tag: tuple[float, float], status: int) -> None:
        """The transport's report of an answer (see :class:`ResultSink`)."""
        if self.cancelled:
            return
        self.counters.note_response(status, self.alerts)
        due, sent = tag
        done = self.clock()
        self._record_due(int((done - due) * 1e6))
        self._record_sent(int((done - sent) * 1e6))
        self._finished(done)

    def on_failure(self, tag: tuple[float, float], error: BaseException) -> None:
        """The transport's report of a failure: counted once under its reason. Its time is
        not a latency: a refused connection would make a down target look fast."""
        if self.cancelled:
            return
        self.counters.note_failure(classify_exception(error), _describe(error))
        self._finished(self.clock())

    def _finished(self, done: float) -> None:
        self.in_flight -= 1
        pending = self.pending
        if pending:
            if done > self.give_up_at:
                self.counters.unsent += len(pending)  # too late to be worth sending
                pending.clear()
            elif not self.stopping:
                self._start(*pending.popleft())
        if self.in_flight == 0:
            self._idle.set()


def shard_count(limit: int, first: int, step: int) -> int:
    """How many of ``first, first + step, ...`` are below ``limit``."""
    return max(0, -(-(limit - first) // step))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
