"""HDR latency histograms with one set of bounds everywhere, cheap to record into on the
hot path, mergeable from their standard encoded form.

A worker records into a :class:`LatencyHistogram` and publishes encoded deltas; the
supervisor and reports merge them. Counters live in :mod:`stressgen.engine.metrics`.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from ctypes import addressof, memset, sizeof
from itertools import accumulate
from operator import mul
from typing import Any

from hdrh.codec import HdrCookieException, HdrLengthException
from hdrh.histogram import HdrHistogram
from pyhdrh import add_array

from stressgen.errors import StressgenError

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: longer than any timeout anyone sets
SIGNIFICANT_DIGITS = 3
DEFAULT_PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class MetricsDecodeError(StressgenError, ValueError):
    """A histogram blob or a counters mapping could not be read (corrupt or foreign)."""


def clear_histogram(hist: HdrHistogram) -> None:
    """Zero ``hist`` in place, as it was when new.

    hdrh's ``reset`` loops over the 23,552 counts in Python; making a new histogram instead
    leaves the old one to the cycle collector (it and its encoder point at each other),
    which may free it minutes later: at one reset a second that piled up ~190 KB a second
    (a worker's RSS grew ~20 MB in 10 minutes)."""
    memset(addressof(hist.counts), 0, sizeof(hist.counts))
    hist.total_count = 0
    hist.min_value = sys.maxsize
    hist.max_value = 0


def add_encoded(hist: HdrHistogram, blob: str | bytes) -> None:
    """hdrh's ``decode_and_add``, with the decoded histogram freed at once rather than by
    the cycle collector (see :func:`clear_histogram`)."""
    other = HdrHistogram.decode(blob, hist.b64_wrap)
    try:
        hist.add(other)
    finally:
        other.encoder = None  # the cycle broken: its counts go when it does


class LatencyHistogram:
    """Latencies in microseconds, with one set of bounds everywhere (1 µs .. 1 h, 3 digits).

    hdrh drops out-of-range values silently; here they are recorded at the nearest bound
    (below 0: 0; above the top: the top, 3600 s rounded up to its bucket edge, ~4295 s) and
    counted in ``clamped``. ``clamped`` is not part of the standard encoded form, so it
    travels next to it in :meth:`to_dict`.
    """

    __slots__ = (
        "_base",
        "_clamped_index",
        "_hist",
        "_mask",
        "_pending",
        "_pending_n",
        "_shift",
        "_top",
        "clamped",
    )

    def __init__(self) -> None:
        self._hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        hist = self._hist
        last = hist.get_value_from_index(hist.counts_len - 1)
        self._top = int(hist.get_highest_equivalent_value(last))
        # record() is the hot path (three calls per request): it computes hdrh's bucket
        # index itself (the same arithmetic as HdrHistogram._counts_index_for) and counts
        # into a plain array; _flush() moves the counts into the histogram before any read.
        self._mask = hist.sub_bucket_mask
        self._shift = hist.unit_magnitude + hist.sub_bucket_half_count_magnitude + 1
        self._base = hist.sub_bucket_half_count_magnitude
        self._pending = array("q", bytes(8 * hist.counts_len))
        self._pending_n = 0
        self._clamped_index = hist.counts_len - 1
        self.clamped = 0

    def record(self, us: int) -> None:
        """Record one latency in whole microseconds (about 0.3 µs)."""
        if 0 <= us <= self._top:
            bucket = (us | self._mask).bit_length() - self._shift
            index = ((bucket + 1) << self._base) + (us >> bucket) - (1 << self._base)
        else:
            self.clamped += 1
            index = self._clamped_index if us > 0 else 0
        self._pending[index] += 1
        self._pending_n += 1

    def _flush(self) -> HdrHistogram:
        """The histogram with every recorded value in it."""
        if self._pending_n:
            # In C: a Python loop over the 23,552 counts took ~5 ms, a stall the sender
            # felt once a second. The result is the same as record_value(value_of(i), n)
            # for every non-zero count n at index i.
            hist, pending = self._hist, self._pending
            raw = pending.tobytes()
            lowest = (len(raw) - len(raw.lstrip(b"\0"))) // 8
            highest = (len(raw.rstrip(b"\0")) - 1) // 8
            add_array(addressof(hist.counts), pending.buffer_info()[0], hist.counts_len, 8)
            hist.total_count += self._pending_n
            hist.min_value = min(hist.min_value, hist.get_value_from_index(lowest))
            hist.max_value = max(hist.max_value, hist.get_value_from_index(highest))
            memset(pending.buffer_info()[0], 0, len(pending) * pending.itemsize)
            self._pending_n = 0
        return self._hist

    @property
    def count(self) -> int:
        """How many values were recorded (clamped ones included)."""
        return int(self._hist.get_total_count()) + self._pending_n

    @property
    def memory_bytes(self) -> int:
        """Size of the counts arrays (the bulk of the memory): 2 x 23,552 x 8 bytes."""
        return int(2 * self._hist.counts_len * self._hist.word_size)

    def reset(self) -> None:
        """Forget every value, in place (see :func:`clear_histogram`)."""
        clear_histogram(self._hist)
        memset(self._pending.buffer_info()[0], 0, len(self._pending) * self._pending.itemsize)
        self._pending_n = 0
        self.clamped = 0

    def encode(self) -> str:
        """The standard compressed base64 form (V2), readable by every HdrHistogram port."""
        return str(self._flush().encode().decode("ascii"))

    def merge_encoded(self, blob: str | bytes, clamped: int = 0) -> None:
        """Add the values of an :meth:`encode`\\ d histogram (and its ``clamped`` count)."""
        try:
            add_encoded(self._flush(), blob)
        except (
            HdrCookieException,
            HdrLengthException,
            IndexError,
            TypeError,
            ValueError,
            zlib.error,
        ) as exc:
            raise MetricsDecodeError(f"not a mergeable latency histogram: {exc!r}") from exc
        self.clamped += clamped

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value of ``other`` (same bounds, so this is an array addition)."""
        self._flush().add(other._flush())
        self.clamped += other.clamped

    def percentiles(self, points: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, float]:
        """Milliseconds at ``p50``, ``p90``, ``p99``, ``p99.9`` and ``min``/``mean``/``max``,
        plus ``count``; all zero when empty. HDR reports the upper edge of each value's bucket
        (within 0.1% at 3 digits)."""
        hist = self._flush()
        total = int(hist.get_total_count())
        out: dict[str, float] = {f"p{p:g}": 0.0 for p in points}
        out.update(min=0.0, mean=0.0, max=0.0, count=total)
        if not total:
            return out
        # hdrh's percentile and mean walk all 23,552 buckets in Python (~50 ms: a stall
        # felt at every progress line). The same answers with the loops in C; tests check
        # them against hdrh's own, value for value.
        counts = memoryview(hist.counts).cast("B").cast("Q")
        cumulative = list(accumulate(counts))
        for p in points:
            if p > 100.0:
                continue  # hdrh gives no value there
            index = bisect_left(cumulative, hist.get_target_count_at_percentile(p))
            value = hist.get_value_from_index(min(index, len(cumulative) - 1))
            edge = hist.get_highest_equivalent_value if p else hist.get_lowest_equivalent_value
            out[f"p{p:g}"] = edge(value) / 1000.0
        out["min"] = hist.get_min_value() / 1000.0
        out["mean"] = _weighted_sum(hist, counts) / total / 1000.0
        out["max"] = hist.get_max_value() / 1000.0
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: the encoded histogram and the clamped count."""
        return {"hdr": self.encode(), "clamped": self.clamped}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyHistogram:
        """Rebuild from :meth:`to_dict`."""
        hist = cls()
        hdr, clamped = data.get("hdr"), data.get("clamped", 0)
        if not isinstance(hdr, str) or not isinstance(clamped, int) or clamped < 0:
            raise MetricsDecodeError(f"not a latency histogram mapping: {dict(data)!r:.200}")
        hist.merge_encoded(hdr, clamped)
        return hist


def _weighted_sum(hist: HdrHistogram, counts: Sequence[int]) -> int:
    """Sum of count x bucket midpoint over every bucket: hdrh's mean numerator.

    hdrh counts value ``i``'s bucket at ``lowest + size // 2``. Within bucket ``b`` the
    lowest value is ``sub << shift`` and the size ``1 << shift``, so a bucket's share is
    ``(sum(n * sub) << shift) + sum(n) * (size >> 1)``: two sums in C per bucket.
    """
    half, unit = hist.sub_bucket_half_count, hist.unit_magnitude
    total = 0
    for bucket in range(hist.bucket_count):
        if bucket == 0:
            first, subs = 0, range(hist.sub_bucket_count)
        else:
            first, subs = (bucket + 1) * half, range(half, 2 * half)
        part = counts[first : first + len(subs)]
        shift = bucket + unit
        total += (sum(map(mul, part, subs)) << shift) + sum(part) * ((1 << shift) >> 1)
    return total
