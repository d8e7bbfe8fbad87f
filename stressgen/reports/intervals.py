"""Per-interval data of a run, collected in the parent: the report's time series and the
interval histograms of ``--hlog``.

The supervisor hands an :class:`IntervalRecorder` every histogram delta it merges and, each
time every running worker process has published once more (about once a second: their
publish interval), each profile's cumulative live counters. Closing an interval on that
round rather than on a clock keeps one delta per process in each interval; a clock in step
with the publish interval would catch two in one and none in the next. The series gets a
row every round (or every few, for long runs); the histogram log gets an interval per
``hlog_interval_s`` (the progress interval unless ``--hlog-interval`` says otherwise),
closed at the first round at or after each multiple of it inside the run, the last one
at the end: a run of ``D`` seconds has ``ceil(D / interval)`` of them, none shorter than a
round. Pure bookkeeping: no I/O, no clock. Interval histograms are plain hdrh ones with
the engine's bounds: this runs every second in the parent, where only p99 and max are
needed (a full ``LatencyHistogram.percentiles`` walks every bucket in Python for the mean).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from hdrh.histogram import HdrHistogram

from stressgen.config import RunConfig
from stressgen.engine.histogram import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    add_encoded,
    clear_histogram,
)
from stressgen.engine.worker import WorkerSpec

SERIES_COLUMNS = (
    "elapsed_s",
    "alerts_sent",
    "alerts_accepted",
    "alerts_failed",
    "late_sends",
    "p99_ms",
    "max_ms",
)
"""One row per interval and profile: the interval's end (seconds from the start), what
happened in it (counts, not running totals), and its latency from due time (null when no
answer came in it)."""
MAX_ROWS = 600
"""Longer runs get intervals of several rounds, so a report holds about this many rows."""
PUBLISH_INTERVAL_S: float = WorkerSpec.publish_interval_s
"""How often a worker process publishes its histogram deltas (one round)."""


US_PER_MS = 1000.0


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


@dataclasses.dataclass(frozen=True)
class Interval:
    """One closed interval: its span and each profile's encoded ``from_due`` histogram."""

    start_s: float
    end_s: float
    histograms: dict[str, str]


class IntervalRecorder:
    """Accumulates histogram deltas per profile and closes a series row every
    ``rounds_per_row`` rounds; see the module docstring. ``keep_histograms`` also keeps,
    for a histogram log, one :class:`Interval` per ``hlog_interval_s`` of a run lasting
    ``duration_s``."""

    def __init__(
        self,
        alerts_per_request: Mapping[str, int],
        *,
        rounds_per_row: int = 1,
        keep_histograms: bool = False,
        hlog_interval_s: float = PUBLISH_INTERVAL_S,
        duration_s: float = math.inf,
    ) -> None:
        self.alerts_per_request = dict(alerts_per_request)
        self.rounds_per_row = rounds_per_row
        self.keep_histograms = keep_histograms
        self.hlog_interval_s = hlog_interval_s
        self.duration_s = duration_s
        self.rows: dict[str, list[list[Any]]] = {name: [] for name in alerts_per_request}
        self.intervals: list[Interval] = []
        self._pending = {name: _histogram() for name in alerts_per_request}
        self._log_pending = {name: _histogram() for name in alerts_per_request}
        self._log_last_s = 0.0
        self._log_boundary = 1
        """The next interval closes at the first round at or after this many intervals."""
        self._last: dict[str, tuple[int, int, int, int]] = dict.fromkeys(
            alerts_per_request, (0, 0, 0, 0)
        )
        self._last_s = 0.0
        self._rounds = 0

    @classmethod
    def for_config(cls, config: RunConfig, *, keep_histograms: bool) -> IntervalRecorder:
        """A recorder for a run: about one row a second, at most ~:data:`MAX_ROWS` rows;
        log intervals of ``hlog_interval_s``, by default the progress interval."""
        rounds = max(1, math.ceil(config.duration_s / PUBLISH_INTERVAL_S / MAX_ROWS))
        apr = {p.name: p.alerts_per_request for p in config.profiles}
        return cls(
            apr,
            rounds_per_row=rounds,
            keep_histograms=keep_histograms,
            hlog_interval_s=config.hlog_interval_s or config.progress_interval_s,
            duration_s=config.duration_s,
        )

    # the supervisor's hooks ---------------------------------------------------------------
    def histograms(self, profile: str, blobs: Mapping[str, Mapping[str, Any]]) -> None:
        """A worker's histogram delta (encoded, by histogram name)."""
        blob = blobs.get("from_due")
        if blob and profile in self._pending:
            add_encoded(self._pending[profile], blob["hdr"])
            if self.keep_histograms:
                add_encoded(self._log_pending[profile], blob["hdr"])

    def sample(self, elapsed_s: float, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Every running worker published once more; ``counts``: cumulative, by profile."""
        self._rounds += 1
        if self._rounds % self.rounds_per_row == 0:
            self._close(elapsed_s, counts)
        boundary = self._log_boundary * self.hlog_interval_s
        # Multiples at or past the end are left to finish(): the last interval is whole.
        inside = boundary < self.duration_s * (1 - 1e-9)
        if self.keep_histograms and inside and elapsed_s >= boundary:
            self._close_log(elapsed_s)
            self._log_boundary = math.floor(elapsed_s / self.hlog_interval_s) + 1

    def finish(self, elapsed_s: float, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Close the last interval with the run's final (exact) counters."""
        moved = any(self._cumulative(name, counts) != self._last[name] for name in self._last)
        pending = any(h.get_total_count() for h in self._pending.values())
        if moved or pending or not any(self.rows.values()):
            self._close(max(elapsed_s, self._last_s), counts)
        if self.keep_histograms:
            self._close_log(max(elapsed_s, self._log_last_s))

    # -------------------------------------------------------------------------------------
    def _cumulative(
        self, name: str, counts: Mapping[str, Mapping[str, int]]
    ) -> tuple[int, int, int, int]:
        c = counts.get(name)
        if c is None:
            return self._last[name]
        failed = c["requests_failed"] * self.alerts_per_request[name]
        return c["alerts_sent"], c["alerts_accepted"], failed, c["late_sends"]

    def _close(self, elapsed_s: float, counts: Mapping[str, Mapping[str, int]]) -> None:
        for name, hist in self._pending.items():
            now = self._cumulative(name, counts)
            delta = [max(0, a - b) for a, b in zip(now, self._last[name], strict=True)]
            self._last[name] = now
            p99: float | None = None
            top: float | None = None
            if hist.get_total_count():
                p99 = hist.get_value_at_percentile(99.0) / US_PER_MS
                top = hist.get_max_value() / US_PER_MS
            self.rows[name].append([round(elapsed_s, 3), *delta, p99, top])
            clear_histogram(hist)
        self._last_s = elapsed_s

    def _close_log(self, elapsed_s: float) -> None:
        encoded = {name: h.encode().decode("ascii") for name, h in self._log_pending.items()}
        self.intervals.append(Interval(self._log_last_s, elapsed_s, encoded))
        for hist in self._log_pending.values():
            clear_histogram(hist)
        self._log_last_s = elapsed_s

    def series(self) -> dict[str, Any]:
        """The report's ``series``: ``{interval_s, columns, profiles: {name: rows}}``."""
        return {
            "interval_s": self.rounds_per_row * PUBLISH_INTERVAL_S,
            "columns": list(SERIES_COLUMNS),
            "profiles": {name: [list(r) for r in rows] for name, rows in self.rows.items()},
        }
