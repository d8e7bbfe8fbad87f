"""What ``stressgen compare`` reads of a report: a :class:`Summary` of one run.

:func:`summarize` reads a report (``stressgen run`` or ``stressgen ceiling``, as written
by ``--report-json``) into a :class:`Summary`, :func:`load_summary` does the same from a
file; summaries of several rounds :meth:`~Summary.combine`. Pure apart from the file read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from stressgen.ceiling_step import is_warmup
from stressgen.engine.histogram import LatencyHistogram, MetricsDecodeError
from stressgen.errors import ConfigError

MEASURES = (("from_due", "latency from due"), ("from_sent", "latency from sent"))
"""The histograms a summary holds, with the names their rows go by."""


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a comparison needs of one run (or of several rounds combined)."""

    target_rate: float
    alerts_sent: int
    alerts_accepted: int
    requests_sent: int
    span_s: float
    """Seconds over which the alerts were sent: the achieved rate is ``sent / span``."""
    failures: Mapping[str, int]
    """Failed requests by reason."""
    histograms: Mapping[str, LatencyHistogram]
    """``from_due`` and ``from_sent``; not mutated once built."""
    ceiling: float | None = None
    kind: str = "run"
    ceiling_status: str | None = None
    """A ceiling report's ``status``: ``found``, ``no-failure`` (the ceiling is at least
    ``ceiling``), ``no-pass`` (below ``first_failure``, the lowest rate tried) or
    ``interrupted`` (the search stopped part-way)."""
    first_failure: float | None = None
    """A ceiling report's lowest failing rate."""

    @property
    def achieved_rate(self) -> float:
        """Alerts sent per second over the real send span."""
        return self.alerts_sent / self.span_s if self.span_s > 0 else 0.0

    @property
    def success_rate(self) -> float:
        """Accepted / sent alerts."""
        return self.alerts_accepted / self.alerts_sent if self.alerts_sent else 0.0

    def failure_share(self, reason: str) -> float:
        """Requests failed for ``reason`` / requests sent."""
        return self.failures.get(reason, 0) / self.requests_sent if self.requests_sent else 0.0

    def combine(self, other: Summary) -> Summary:
        """Both together, as if they were one run (counts and spans add, histograms merge)."""
        failures = dict(self.failures)
        for reason, n in other.failures.items():
            failures[reason] = failures.get(reason, 0) + n
        histograms = {}
        for name, hist in self.histograms.items():
            merged = LatencyHistogram()
            merged.merge(hist)
            merged.merge(other.histograms[name])
            histograms[name] = merged
        return Summary(
            target_rate=self.target_rate,
            alerts_sent=self.alerts_sent + other.alerts_sent,
            alerts_accepted=self.alerts_accepted + other.alerts_accepted,
            requests_sent=self.requests_sent + other.requests_sent,
            span_s=self.span_s + other.span_s,
            failures=failures,
            histograms=histograms,
            ceiling=self.ceiling,
            kind=self.kind,
            ceiling_status=self.ceiling_status,
            first_failure=self.first_failure,
        )


def _from_profiles(
    profiles: Sequence[Mapping[str, Any]], *, target_rate: float, span_s: float
) -> Summary:
    failures: dict[str, int] = {}
    histograms = {name: LatencyHistogram() for name, _ in MEASURES}
    for profile in profiles:
        for reason, n in profile["counters"]["failures"].items():
            failures[reason] = failures.get(reason, 0) + n
        for name, hist in histograms.items():
            hist.merge(LatencyHistogram.from_dict(profile["histograms"][name]))
    return Summary(
        target_rate=target_rate,
        alerts_sent=sum(p["counters"]["alerts_sent"] for p in profiles),
        alerts_accepted=sum(p["counters"]["alerts_accepted"] for p in profiles),
        requests_sent=sum(p["counters"]["requests_sent"] for p in profiles),
        span_s=span_s,
        failures=failures,
        histograms=histograms,
    )


def summarize(report: Mapping[str, Any], label: str = "report") -> Summary:
    """A run report, or a ceiling report (its numbers are those of the step at the
    ceiling, its hold only); ConfigError naming ``label`` when it is neither."""
    try:
        if report.get("kind") == "ceiling":
            return _summarize_ceiling(report)
        return _from_profiles(
            report["profiles"],
            target_rate=float(report["totals"]["target_rate_per_s"]),
            span_s=float(report["send_span_s"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError, MetricsDecodeError):
        raise ConfigError(
            label,
            "(contents)",
            "a report written by 'stressgen run --report-json' or 'stressgen ceiling "
            "--report-json'",
        ) from None


def _summarize_ceiling(report: Mapping[str, Any]) -> Summary:
    ceiling = report["ceiling_alerts_per_s"]
    first_failure = report.get("first_failure_alerts_per_s")
    bounds: dict[str, Any] = {
        "ceiling": None if ceiling is None else float(ceiling),
        "kind": "ceiling",
        "ceiling_status": str(report["status"]),
        "first_failure": None if first_failure is None else float(first_failure),
    }
    at = [s for s in report["steps"] if s["passed"] and s["target_alerts_per_s"] == ceiling]
    if not at:  # no passing step: the numbers of the lowest failing one
        at = sorted(report["steps"], key=lambda s: s["target_alerts_per_s"])[:1]
    if not at:
        empty = {name: LatencyHistogram() for name, _ in MEASURES}
        return Summary(0.0, 0, 0, 0, 0.0, {}, empty, **bounds)
    step = at[-1]
    warmup = float(report["warmup_s"])
    holds = [p for p in step["report"]["profiles"] if not is_warmup(p["name"])]
    last_send = max((p["counters"]["last_send_s"] for p in holds), default=0.0)
    span = max(warmup + float(step["hold_s"]), last_send) - warmup
    summary = _from_profiles(holds, target_rate=step["target_alerts_per_s"], span_s=span)
    return dataclasses.replace(summary, **bounds)


def load_summary(path: str, label: str) -> Summary:
    """Read and summarize a report file; ConfigError naming ``label`` on any trouble."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(label, path, f"a readable report file ({exc.strerror})") from None
    except orjson.JSONDecodeError:
        raise ConfigError(label, path, "a JSON report file") from None
    if not isinstance(data, dict):
        raise ConfigError(label, path, "a JSON report (an object)")
    return summarize(data, label)
