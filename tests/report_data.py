"""Synthetic reports for the pure tests of thresholds, merging and plotting: the same
shape as :func:`stressgen.engine.report.build_report` gives, with chosen numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stressgen.engine.histogram import LatencyHistogram
from stressgen.engine.metrics import ProfileCounters
from stressgen.engine.report import verdict


def histogram(values_ms: Sequence[float]) -> LatencyHistogram:
    hist = LatencyHistogram()
    for ms in values_ms:
        hist.record(round(ms * 1000))
    return hist


def profile(
    name: str,
    *,
    sent: int,
    accepted: int,
    latencies_ms: Sequence[float] = (),
    sent_latencies_ms: Sequence[float] = (),
    late: int = 0,
    unsent: int = 0,
    expected: int | None = None,
) -> dict[str, Any]:
    counters = ProfileCounters(
        requests_sent=sent,
        requests_accepted=accepted,
        requests_failed=sent - accepted,
        alerts_sent=sent,
        alerts_accepted=accepted,
        late_sends=late,
        unsent=unsent,
    )
    if sent > accepted:
        counters.failures = {"http_500": sent - accepted}
        counters.statuses = {202: accepted, 500: sent - accepted}
    hists = {
        "from_due": histogram(latencies_ms),
        "from_sent": histogram(sent_latencies_ms or latencies_ms),
        "lateness": histogram([]),
    }
    return {
        "name": name,
        "alerts_per_request": 1,
        "expected_alerts": sent + unsent if expected is None else expected,
        "counters": counters.to_dict(),
        "problems": [],
        "latency_ms": {k: h.percentiles() for k, h in hists.items()},
        "histograms": {k: h.to_dict() for k, h in hists.items()},
    }


def report(
    profiles: Sequence[dict[str, Any]],
    *,
    window_s: float = 10.0,
    span_s: float | None = None,
    interrupted: bool = False,
    thresholds: Sequence[dict[str, Any]] = (),
    series: dict[str, Any] | None = None,
) -> dict[str, Any]:
    span = window_s if span_s is None else span_s
    sent = sum(p["counters"]["alerts_sent"] for p in profiles)
    accepted = sum(p["counters"]["alerts_accepted"] for p in profiles)
    expected = sum(p["expected_alerts"] for p in profiles)
    out: dict[str, Any] = {
        "stressgen_version": "test",
        "url": "http://127.0.0.1:1/apis/v1/kubescape.io/v1/runtimealerts",
        "target": "given URL",
        "started_at": "2024-01-01T00:00:00+00:00",
        "configured_duration_s": window_s,
        "duration_s": span,
        "send_window_s": window_s,
        "send_span_s": span,
        "interrupted": interrupted,
        "totals": {
            "alerts_sent": sent,
            "alerts_accepted": accepted,
            "alerts_failed": sent - accepted,
            "alerts_in_flight_at_stop": 0,
            "requests_unsent": sum(p["counters"]["unsent"] for p in profiles),
            "expected_alerts": expected,
            "target_rate_per_s": expected / window_s,
            "average_rate_per_s": sent / span,
            "accepted_rate_per_s": accepted / span,
            "success_rate": accepted / sent if sent else 0.0,
            "accepted_of_expected": accepted / expected if expected else 0.0,
        },
        "profiles": list(profiles),
        "thresholds": list(thresholds),
    }
    if series is not None:
        out["series"] = series
    out["verdict"] = verdict(out)
    return out
