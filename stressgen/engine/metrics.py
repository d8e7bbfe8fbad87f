"""Request counters, kept where the data is born and merged by the parent.

Plain data with ``merge``/``to_dict``/``from_dict``: a worker process publishes snapshots,
the supervisor merges them, and reports of several runs merge the same way (the latency
histograms beside them: :mod:`stressgen.engine.histogram`). :func:`classify_exception`
turns transport errors into stable failure-reason names.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import aiohttp

from stressgen.engine.histogram import MetricsDecodeError

MAX_SAMPLES_PER_REASON = 3
MAX_SAMPLE_CHARS = 300


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
