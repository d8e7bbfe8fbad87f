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
from stressgen.engine.metrics import LatencyHistogram, ProfileCounters, classify_exception
from stressgen.engine.pacer import Schedule
from stressgen.engine.transport import Transport
from stressgen.payloads import AlertTemplate, PayloadFactory

LATE_SLACK_S = 0.005
"""A send leaving more than this after its due time counts as late (timer granularity
and loop scheduling make a millisecond or so normal)."""
MIN_SLEEP_S = 0.001
IDLE_SLICE_S = 0.05
MIN_BACKLOG = 1000
BACKLOG_PER_CONNECTION = 10
"""Due sends waiting for a free connection are bounded (memory must not grow without
bound when the target or the sender cannot keep up); past the bound, scheduling waits."""
MIN_OVERRUN_S = 5.0
OVERRUN_SHARE = 0.1
"""A sender this far past the end of its schedule (max of the two) stops scheduling and
counts the rest as unsent, rather than running on indefinitely."""
"""Longest sleep between checks of the stop flag while waiting for the next due send."""


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """Everything one worker process needs, as plain picklable data."""

    profile: ProfileConfig
    template: AlertTemplate
    url: str
    duration_s: float
    workers: tuple[int, ...]
    """Which of the profile's workers (0-based) this process runs."""
    row: int
    """This process's row on the live board."""
    seed: int | None = None
    publish_interval_s: float = 1.0
    drain_s: float = 5.0
    """After a first Ctrl-C: how long in-flight requests may take to finish."""


@dataclasses.dataclass
class Histograms:
    """The three latency measures of a profile, in microseconds."""

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
        self.give_up_at = spec.duration_s + max(MIN_OVERRUN_S, OVERRUN_SHARE * spec.duration_s)
        self.alerts = spec.template.alerts_per_request
        self.schedules = {
            k: Schedule.for_worker(spec.profile, spec.duration_s, k) for k in spec.workers
        }
        base_seed = spec.seed
        self.factories = {
            k: PayloadFactory(
                spec.template,
                seed=None if base_seed is None else base_seed * 1_000_003 + k,
                worker=k,
            )
            for k in spec.workers
        }
        self.pending: collections.deque[tuple[float, int]] = collections.deque()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    # scheduling ------------------------------------------------------------------
    async def run(self) -> None:
        """Send everything the schedule asks for, then wait for the answers."""
        heap = []
        for k, schedule in self.schedules.items():
            first = schedule.due(0)
            if first is not None:
                heap.append((first, k, 0))
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
            following = self.schedules[k].due(n + 1)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following, k, n + 1))
            if self.in_flight < self.cap:
                self._start(due, k)
            else:
                self.pending.append((due, k))
        # Sends already due that will never go out are counted, never dropped silently.
        now = clock()
        self.counters.unsent += sum(
            max(0, self.schedules[k].count_due(now) - n) for _, k, n in heap
        )
        await self._idle.wait()

    def stop(self) -> None:
        """Stop scheduling; sends not yet out are counted unsent; in-flight ones go on."""
        self.stopping = True
        self.counters.unsent += len(self.pending)
        self.pending.clear()

    def cancel(self) -> None:
        """Stop now: in-flight requests are cut off and counted as such."""
        self.stop()
        for task in list(self.tasks):
            task.cancel()

    def _start(self, due: float, k: int) -> None:
        self.in_flight += 1
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._send(due, k))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # one request -----------------------------------------------------------------
    async def _send(self, due: float, k: int) -> None:
        counters = self.counters
        hist = self.histograms
        body = self.factories[k].render()
        sent = self.clock()
        counters.last_send_s = sent
        late = sent - due
        if late > 0:
            hist.lateness.record(int(late * 1e6))
            if late > LATE_SLACK_S:
                counters.note_late(late * 1e3)
        else:
            hist.lateness.record(0)
        counters.note_sent(self.alerts)
        try:
            status = await self.transport.post(body)
        except asyncio.CancelledError:
            counters.in_flight_at_stop += 1
            self._finished()
            return
        except Exception as exc:
            counters.note_failure(classify_exception(exc), _describe(exc))
        else:
            counters.note_response(status, self.alerts)
        done = self.clock()
        hist.from_due.record(int((done - due) * 1e6))
        hist.from_sent.record(int((done - sent) * 1e6))
        self._finished()

    def _finished(self) -> None:
        self.in_flight -= 1
        if self.pending and self.clock() > self.give_up_at:
            self.counters.unsent += len(self.pending)  # too late to be worth sending
            self.pending.clear()
        if self.pending and not self.stopping:
            due, k = self.pending.popleft()
            self._start(due, k)
        elif self.in_flight == 0:
            self._idle.set()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
