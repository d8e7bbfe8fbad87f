"""Counters and HDR latency histograms, kept where the data is born and merged by the parent.

Everything here is plain data with ``merge``/``to_dict``/``from_dict``: a worker process
publishes snapshots, the supervisor merges them, and reports of several runs merge the same
way. :func:`classify_exception` turns transport errors into stable failure-reason names.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from ctypes import addressof, memset, sizeof
from dataclasses import dataclass, field
from itertools import accumulate
from operator import mul
from types import MappingProxyType
from typing import Any

import aiohttp
from hdrh.codec import HdrCookieException, HdrLengthException
from hdrh.histogram import HdrHistogram
from pyhdrh import add_array

from stressgen.errors import StressgenError

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: longer than any timeout anyone sets
SIGNIFICANT_DIGITS = 3
DEFAULT_PERCENTILES = (50.0, 90.0, 99.0, 99.9)
MAX_SAMPLES_PER_REASON = 3
MAX_SAMPLE_CHARS = 300


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


def _add_counts(into: dict[Any, int], other: Mapping[Any, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


@dataclass(slots=True)
class ProfileCounters:
    """Request outcomes of one profile (one worker's, or merged). Mutable: the hot path.

    Invariant: ``requests_sent == requests_accepted + requests_failed + in_flight_at_stop``.
    A request is accepted on a 2xx answer; any other status or an exception is a failure,
    counted under a stable reason (``http_503``, ``timeout``...), with a few sample messages.
    """

    requests_sent: int = 0
    requests_accepted: int = 0
    requests_failed: int = 0
    in_flight_at_stop: int = 0
    alerts_sent: int = 0
    alerts_accepted: int = 0
    late_sends: int = 0
    max_lateness_ms: float = 0.0
    last_send_s: float = 0.0
    """When the last request went out, seconds from the run's start: with the sent count it
    gives the rate actually achieved, which falls below target when sends lag."""
    unsent: int = 0
    """Sends the schedule asked for that never went out (a stop, or the sender fell too
    far behind); not part of ``requests_sent``."""
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    failure_samples: dict[str, list[str]] = field(default_factory=dict)

    def note_sent(self, alerts: int) -> None:
        """A request carrying ``alerts`` alerts went out."""
        self.requests_sent += 1
        self.alerts_sent += alerts

    def note_late(self, lateness_ms: float) -> None:
        """A send went out ``lateness_ms`` after its due time (beyond the engine's slack)."""
        self.late_sends += 1
        self.max_lateness_ms = max(self.max_lateness_ms, lateness_ms)

    def note_response(self, status: int, alerts: int, message: str = "") -> bool:
        """Count an HTTP answer; return whether it was accepted (2xx)."""
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.requests_accepted += 1
            self.alerts_accepted += alerts
            return True
        self.note_failure(http_reason(status), message or f"HTTP {status}")
        return False

    def note_failure(self, reason: str, message: str = "") -> None:
        """Count a failed request under ``reason``; keep ``message`` if it is a new sample."""
        self.requests_failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1
        self._sample(reason, message)

    def _sample(self, reason: str, message: str) -> None:
        samples = self.failure_samples.setdefault(reason, [])
        message = message[:MAX_SAMPLE_CHARS]
        if message and len(samples) < MAX_SAMPLES_PER_REASON and message not in samples:
            samples.append(message)

    def merge(self, other: ProfileCounters) -> None:
        """Add ``other``'s counts into this one (samples stay capped per reason)."""
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_lateness_ms = max(self.max_lateness_ms, other.max_lateness_ms)
        self.last_send_s = max(self.last_send_s, other.last_send_s)
        _add_counts(self.statuses, other.statuses)
        _add_counts(self.failures, other.failures)
        for reason, messages in other.failure_samples.items():
            for message in messages:
                self._sample(reason, message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (status codes become string keys)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _SUMMED}
        out["max_lateness_ms"] = self.max_lateness_ms
        out["last_send_s"] = self.last_send_s
        out["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        out["failures"] = dict(sorted(self.failures.items()))
        out["failure_samples"] = {k: list(v) for k, v in sorted(self.failure_samples.items())}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileCounters:
        """Rebuild from :meth:`to_dict`; missing keys count as zero."""
        try:
            sums: dict[str, Any] = {name: _count(data.get(name, 0)) for name in _SUMMED}
            counters = cls(**sums)
            counters.max_lateness_ms = float(data.get("max_lateness_ms", 0.0))
            counters.last_send_s = float(data.get("last_send_s", 0.0))
            counters.statuses = {int(k): _count(v) for k, v in data.get("statuses", {}).items()}
            counters.failures = {str(k): _count(v) for k, v in data.get("failures", {}).items()}
            samples = data.get("failure_samples", {}).items()
            counters.failure_samples = {str(k): [str(m) for m in v] for k, v in samples}
        except (AttributeError, TypeError, ValueError) as exc:
            raise MetricsDecodeError(f"not a counters mapping: {exc}") from exc
        return counters


_SUMMED = (
    "requests_sent",
    "requests_accepted",
    "requests_failed",
    "in_flight_at_stop",
    "alerts_sent",
    "alerts_accepted",
    "late_sends",
    "retries",
    "unsent",
)


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{value!r} is not a count")


_ERRNO_REASONS: Mapping[int, str] = MappingProxyType(
    {
        errno.ECONNREFUSED: "connection_refused",
        errno.ECONNRESET: "connection_reset",
        errno.ECONNABORTED: "connection_reset",
        errno.EPIPE: "connection_reset",
        errno.ETIMEDOUT: "timeout",
        errno.EMFILE: "too_many_open_files",
        errno.ENFILE: "too_many_open_files",
        errno.EADDRNOTAVAIL: "address_unavailable",  # ephemeral ports exhausted
        errno.EHOSTUNREACH: "unreachable",
        errno.ENETUNREACH: "unreachable",
    }
)


def classify_exception(exc: BaseException) -> str:
    """A stable reason name for a failed request: ``timeout``, ``connection_refused``,
    ``connection_reset``, ``server_disconnected``, ``dns``, ``ssl``, ``too_many_open_files``,
    ``address_unavailable``, ``unreachable``, else ``other:<ExceptionClassName>``."""
    own = getattr(exc, "stressgen_reason", None)  # the fast transport's errors name it
    if isinstance(own, str):
        return own
    if isinstance(exc, TimeoutError):  # asyncio's and aiohttp's timeouts included
        return "timeout"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server_disconnected"
    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):  # before errno: SSL reuses it
        return "ssl"
    if isinstance(exc, socket.gaierror | aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error is not exc:
        inner = classify_exception(exc.os_error)
        if not inner.startswith("other:"):
            return inner
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in _ERRNO_REASONS:
        return _ERRNO_REASONS[exc.errno]
    return f"other:{type(exc).__name__}"


def http_reason(status: int) -> str:
    """The failure reason for a non-2xx answer: ``http_500``, ``http_429``..."""
    return f"http_{status}"
