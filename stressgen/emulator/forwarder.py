"""The synchronizer's bottleneck as arithmetic: one serialised writer to the backend.

The real synchronizer answers 202 only after the previous message was written to the
backend, one at a time. Rather than a queue of waiting tasks, the emulator keeps the time
the writer is next free: a request arriving at ``now`` is written from
``max(now, next_free)`` (pushed past any backend stall) for ``latency ± jitter``. That is
O(1) per request, FIFO by construction, and testable without a clock.
"""

from __future__ import annotations

import dataclasses
import random


def window_end(t: float, every: float, length: float) -> float:
    """If ``t`` falls in a periodic window ``[k·every, k·every + length)``, k ≥ 1, its end; else t.

    Times are seconds since the emulator started. ``every == 0`` means no windows.
    """
    if every <= 0 or t < every:
        return t
    k = int(t // every)
    start = k * every
    if t < start + length:
        return start + length
    return t


def in_window(t: float, every: float, length: float) -> bool:
    """Whether time ``t`` lies inside one of the periodic windows of :func:`window_end`."""
    return window_end(t, every, length) != t


@dataclasses.dataclass
class Forwarder:
    """Decides when each message finishes its turn at the serialised backend writer."""

    latency: float
    jitter: float = 0.0
    stall_every: float = 0.0
    stall_for: float = 0.0
    rng: random.Random = dataclasses.field(default_factory=random.Random)
    next_free: float = 0.0

    def admit(self, now: float) -> float:
        """Queue one message arriving at ``now``; return when its write completes."""
        start = self.next_free if self.next_free > now else now
        start = window_end(start, self.stall_every, self.stall_for)
        duration = self.latency
        if self.jitter:
            duration = max(0.0, duration + self.rng.uniform(-self.jitter, self.jitter))
        done = start + duration
        self.next_free = done
        return done

    def reset(self) -> None:
        """Forget the queue (used by ``POST /reset``; requests already admitted keep their time)."""
        self.next_free = 0.0
