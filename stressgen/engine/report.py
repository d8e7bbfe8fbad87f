"""The final report: pure functions from a run's results to a JSON-able dict and to text.

The text keeps the seed script's results block (so existing readers still find their
lines) and adds what it lacked: answers by status, failures by reason with samples,
latency percentiles measured both from the due time and from the send time, late sends,
and an honest verdict: a run that was accepted nowhere near its expected count fails.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stressgen import __version__
from stressgen.config import RunConfig
from stressgen.engine.pacer import profile_schedules
from stressgen.engine.supervisor import ProfileResult, RunResult
from stressgen.errors import ExitCode
from stressgen.thresholds import evaluate_thresholds, failure_reasons, format_thresholds

MIN_ACCEPTED_FRACTION = 0.9
"""Below this share of the expected alerts accepted, a run is reported as failed."""
RULE = "=" * 80
THIN = "-" * 80
REFUSED_HINT = (
    "Connection refused: is the synchronizer running and the port-forward up? "
    "Check 'kubectl get pods -n kubescape | grep synchronizer' and "
    "'kubectl port-forward -n kubescape svc/synchronizer 8089:8089', and the URL."
)


def redact_url(url: str) -> str:
    """The URL without any password or token in its user part or query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _expected_alerts(config: RunConfig, window_s: float) -> tuple[dict[str, int], float]:
    """Alerts each profile's schedule asked for within ``window_s``; and the target rate."""
    expected: dict[str, int] = {}
    for profile in config.profiles:
        sends = sum(
            s.count_due(window_s + 1e-9) for s in profile_schedules(profile, config.duration_s)
        )
        expected[profile.name] = sends * profile.alerts_per_request
    return expected, sum(p.total_rate_per_s * p.alerts_per_request for p in config.profiles)


def _profile_dict(result: ProfileResult, expected: int, alerts_per_request: int) -> dict[str, Any]:
    counters = result.counters
    return {
        "name": result.name,
        "alerts_per_request": alerts_per_request,
        "expected_alerts": expected,
        "counters": counters.to_dict(),
        "problems": list(result.problems),
        "latency_ms": {name: h.percentiles() for name, h in result.histograms.items()},
        "histograms": {name: h.to_dict() for name, h in result.histograms.items()},
    }


def build_report(
    config: RunConfig,
    result: RunResult,
    *,
    url: str,
    emulator_stats: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything about a run as JSON-ready data (histograms in HdrHistogram's encoding)."""
    # An interrupted run asked for the sends due before the stop, not those of the drain.
    stopped = config.duration_s if result.stopped_s is None else result.stopped_s
    window = min(result.elapsed_s, config.duration_s, stopped)
    expected, target_rate = _expected_alerts(config, window)
    # Sends that lag go out after the window: the rate achieved is over the real span.
    span = max([window, *(r.counters.last_send_s for r in result.profiles)])
    by_name = {p.name: p for p in config.profiles}
    profiles = [
        _profile_dict(r, expected[r.name], by_name[r.name].alerts_per_request)
        for r in result.profiles
    ]
    sent = sum(r.counters.alerts_sent for r in result.profiles)
    accepted = sum(r.counters.alerts_accepted for r in result.profiles)
    failed = sum(
        r.counters.requests_failed * by_name[r.name].alerts_per_request for r in result.profiles
    )
    in_flight = sum(
        r.counters.in_flight_at_stop * by_name[r.name].alerts_per_request for r in result.profiles
    )
    total_expected = sum(expected.values())
    report: dict[str, Any] = {
        "stressgen_version": __version__,
        "url": redact_url(url),
        "target": "built-in emulator" if config.url is None else "given URL",
        "started_at": datetime.datetime.fromtimestamp(result.started_at, datetime.UTC).isoformat(),
        "configured_duration_s": config.duration_s,
        "duration_s": round(result.elapsed_s, 3),
        "send_window_s": round(window, 3),
        "send_span_s": round(span, 3),
        "interrupted": result.interrupted,
        "totals": {
            "alerts_sent": sent,
            "alerts_accepted": accepted,
            "alerts_failed": failed,
            "alerts_in_flight_at_stop": in_flight,
            "requests_unsent": sum(r.counters.unsent for r in result.profiles),
            "expected_alerts": total_expected,
            "target_rate_per_s": target_rate,
            "average_rate_per_s": sent / span if span > 0 else 0.0,
            "accepted_rate_per_s": accepted / span if span > 0 else 0.0,
            "success_rate": accepted / sent if sent else 0.0,
            "accepted_of_expected": accepted / total_expected if total_expected else 0.0,
        },
        "profiles": profiles,
    }
    if emulator_stats is not None:
        report["emulator"] = emulator_stats
    report["thresholds"] = evaluate_thresholds(config.thresholds, report)
    report["verdict"] = verdict(report)
    return report


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """``{"ok": bool, "status": PASSED|THRESHOLDS_FAILED|FAILED|INTERRUPTED, "reasons"}``."""
    totals = report["totals"]
    reasons = []
    if totals["alerts_sent"] == 0:
        reasons.append("no alert was sent")
    elif totals["alerts_accepted"] == 0:
        reasons.append("the target accepted no alerts")
    elif not report["interrupted"] and totals["accepted_of_expected"] < MIN_ACCEPTED_FRACTION:
        reasons.append(
            f"only {totals['accepted_of_expected']:.1%} of the expected alerts were accepted "
            f"(below {MIN_ACCEPTED_FRACTION:.0%})"
        )
    for profile in report["profiles"]:
        reasons.extend(f"profile {profile['name']}: {p}" for p in profile["problems"])
    # Precedence: interrupted (130) over failed (4) over thresholds failed (1).
    failed_thresholds = failure_reasons(report.get("thresholds", []))
    reasons.extend(failed_thresholds)
    if report["interrupted"]:
        return {"ok": False, "status": "INTERRUPTED", "reasons": ["stopped by a signal", *reasons]}
    if len(reasons) > len(failed_thresholds):
        return {"ok": False, "status": "FAILED", "reasons": reasons}
    if reasons:
        return {"ok": False, "status": "THRESHOLDS_FAILED", "reasons": reasons}
    return {"ok": True, "status": "PASSED", "reasons": []}


EXIT_CODES = {
    "PASSED": ExitCode.OK,
    "THRESHOLDS_FAILED": ExitCode.THRESHOLDS_FAILED,
    "INTERRUPTED": ExitCode.INTERRUPTED,
}


def exit_code(report: dict[str, Any]) -> ExitCode:
    """The exit code a report's verdict calls for (a failed run: 4)."""
    return EXIT_CODES.get(report["verdict"]["status"], ExitCode.RUN_FAILED)


def _latency_line(label: str, latency: dict[str, float]) -> str:
    if not latency["count"]:
        return f"  {label}: no answers"
    keys = ("p50", "p90", "p99", "p99.9", "max")
    return f"  {label}: " + "  ".join(f"{k} {_ms(latency[k])}" for k in keys)


def _ms(value: float) -> str:
    return f"{value:.3g}ms" if value < 100 else f"{value:,.0f}ms"


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    c = profile["counters"]
    apr = profile["alerts_per_request"]
    unit = "requests" if apr == 1 else f"requests of {apr} alerts"
    lines = [
        f"Profile {profile['name']}: {c['requests_sent']} {unit} sent, "
        f"{c['requests_accepted']} accepted, {c['requests_failed']} failed, "
        f"{c['in_flight_at_stop']} in flight at stop, {c['unsent']} never sent",
    ]
    statuses = ", ".join(f"{k} x{v}" for k, v in c["statuses"].items()) or "none"
    lines.append(f"  answers: {statuses}")
    for reason, count in c["failures"].items():
        samples = c["failure_samples"].get(reason, [])
        example = f' (e.g. "{samples[0]}")' if samples else ""
        lines.append(f"  failed {reason}: {count}{example}")
    latency = profile["latency_ms"]
    lines.append(_latency_line("latency from due ", latency["from_due"]))
    lines.append(_latency_line("latency from sent", latency["from_sent"]))
    lateness = latency["lateness"]
    lines.append(
        f"  late sends: {c['late_sends']} (p99 {_ms(lateness['p99'])} late, "
        f"max {_ms(max(lateness['max'], c['max_lateness_ms']))})"
    )
    lines.extend(f"  PROBLEM: {p}" for p in profile["problems"])
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The human-readable report (the seed's block first, then the details)."""
    t = report["totals"]
    lines = [
        RULE,
        "BACKEND STRESS TEST RESULTS",
        RULE,
        f"Target: {report['url']} ({report['target']})",
        f"Duration: {report['duration_s']:.1f} seconds (sending for {report['send_span_s']:.1f})",
        f"Alerts sent: {t['alerts_sent']}",
        f"Alerts failed: {t['alerts_failed']}",
        f"Success rate: {t['success_rate']:.1%}",
        f"Average rate: {t['average_rate_per_s']:.1f} alerts/second "
        f"(target {t['target_rate_per_s']:.1f}, accepted {t['accepted_rate_per_s']:.1f})",
        f"Expected alerts: {t['expected_alerts']}",
        f"Actual alerts: {t['alerts_accepted']} ({t['accepted_of_expected']:.1%} of expected)",
    ]
    if t["alerts_in_flight_at_stop"] or t["requests_unsent"]:
        lines.append(
            f"Cut off by the stop: {t['alerts_in_flight_at_stop']} alerts in flight, "
            f"{t['requests_unsent']} requests never sent"
        )
    lines.append(THIN)
    for profile in report["profiles"]:
        lines.extend(_profile_lines(profile))
    emulator = report.get("emulator")
    if emulator is not None:
        lines.append(THIN)
        lines.append(
            f"Emulator counted: {emulator['alerts_accepted']} alerts accepted, "
            f"{emulator['alerts_invalid']} invalid, "
            f"{emulator['distinct_unique_ids']} distinct uniqueIDs"
        )
    failures = {r for p in report["profiles"] for r in p["counters"]["failures"]}
    if "connection_refused" in failures:
        lines.append(REFUSED_HINT)
    if report.get("thresholds"):
        lines.append(THIN)
        lines.extend(format_thresholds(report["thresholds"]))
    v = report["verdict"]
    lines.append(THIN)
    lines.append(
        f"Result: {v['status']}" + (": " + "; ".join(v["reasons"]) if v["reasons"] else "")
    )
    lines.append(RULE)
    return "\n".join(lines)


def format_progress(
    elapsed_s: float,
    duration_s: float,
    alerts_sent: int,
    alerts_failed: int,
    interval_s: float,
    interval_alerts: int,
    p99_ms: float | None,
) -> str:
    """The seed's progress line, plus the last interval's rate and p99 (from due time)."""
    total_rate = alerts_sent / elapsed_s if elapsed_s > 0 else 0.0
    recent = interval_alerts / interval_s if interval_s > 0 else 0.0
    line = (
        f"Progress: {elapsed_s:.0f}s elapsed, {max(0.0, duration_s - elapsed_s):.0f}s remaining"
        f" | Alerts: {alerts_sent} sent, {alerts_failed} failed"
        f" | Rate: {total_rate:.1f}/s (last {interval_s:.0f}s: {recent:.1f}/s)"
    )
    if p99_ms is not None:
        line += f" | p99 {_ms(p99_ms)}"
    return line
