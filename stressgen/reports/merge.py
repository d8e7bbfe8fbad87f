"""Merging reports of several runs or machines into one: a pure function over report dicts.

The reports are taken as parts of one test run at the same time (several machines against
one target): per profile, by name, counters are summed and histograms added; totals are
recomputed from the sums (rates over the longest send span); the time series are added
row by row (a row's p99 and max: the largest of the inputs'); thresholds are evaluated
again on the merged data, and the verdict recomputed.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from stressgen import __version__
from stressgen.engine.histogram import LatencyHistogram, MetricsDecodeError
from stressgen.engine.metrics import ProfileCounters
from stressgen.engine.report import verdict
from stressgen.errors import ConfigError
from stressgen.thresholds import Threshold, evaluate_thresholds, parse_threshold

REPORT_FORM = "a stressgen report (the JSON that 'stressgen run --report-json' writes)"
_TOTALS = ("alerts_sent", "alerts_accepted", "alerts_failed", "alerts_in_flight_at_stop")
_SUMMED_TOTALS = (*_TOTALS, "requests_unsent", "expected_alerts", "target_rate_per_s")


def load_report(path: str) -> dict[str, Any]:
    """Read a report JSON file; one-line :class:`ConfigError` when it is not one."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError("report", path, f"a readable file ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError:
        raise ConfigError("report", path, REPORT_FORM + ": not JSON") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("totals"), dict)
        and isinstance(data.get("profiles"), list)
        and all(isinstance(p, dict) and "name" in p for p in data["profiles"])
    ):
        raise ConfigError("report", path, REPORT_FORM)
    return data


def _same(values: Sequence[Any], several: str) -> Any:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else several


def _merge_profile(parts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    counters = ProfileCounters()
    histograms: dict[str, LatencyHistogram] = {}
    problems: list[str] = []
    for source, profile in parts:
        try:
            counters.merge(ProfileCounters.from_dict(profile.get("counters", {})))
            for name, blob in profile.get("histograms", {}).items():
                hist = histograms.setdefault(name, LatencyHistogram())
                hist.merge(LatencyHistogram.from_dict(blob))
        except MetricsDecodeError as exc:
            field = f"profiles[{profile['name']!r}]"
            raise ConfigError(source, field, f"{REPORT_FORM} ({exc})") from None
        problems.extend(f"{source}: {p}" for p in profile.get("problems", []))
    first = parts[0][1]
    return {
        "name": first["name"],
        "alerts_per_request": first.get("alerts_per_request", 1),
        "expected_alerts": sum(p.get("expected_alerts", 0) for _, p in parts),
        "counters": counters.to_dict(),
        "problems": problems,
        "latency_ms": {name: h.percentiles() for name, h in histograms.items()},
        "histograms": {name: h.to_dict() for name, h in histograms.items()},
    }


def _totals(reports: Sequence[Mapping[str, Any]], span: float) -> dict[str, Any]:
    totals: dict[str, Any] = {
        key: sum(r["totals"].get(key, 0) for r in reports) for key in _SUMMED_TOTALS
    }
    sent, accepted = totals["alerts_sent"], totals["alerts_accepted"]
    expected = totals["expected_alerts"]
    totals["average_rate_per_s"] = sent / span if span > 0 else 0.0
    totals["accepted_rate_per_s"] = accepted / span if span > 0 else 0.0
    totals["success_rate"] = accepted / sent if sent else 0.0
    totals["accepted_of_expected"] = accepted / expected if expected else 0.0
    return totals


def _merge_rows(a: list[list[Any]], b: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Add series rows by position: counts summed; elapsed, p99 and max: the largest."""
    out = [list(row) for row in a]
    for i, row in enumerate(b):
        if i >= len(out):
            out.append(list(row))
            continue
        mine = out[i]
        mine[0] = max(mine[0], row[0])
        for j in range(1, 5):
            mine[j] += row[j]
        for j in (5, 6):
            present = [v for v in (mine[j], row[j]) if v is not None]
            mine[j] = max(present) if present else None
    return out


def _merge_series(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    series = [r["series"] for r in reports if isinstance(r.get("series"), dict)]
    if not series:
        return None
    profiles: dict[str, list[list[Any]]] = {}
    for s in series:
        for name, rows in s.get("profiles", {}).items():
            profiles[name] = _merge_rows(profiles.get(name, []), rows)
    return {
        "interval_s": max(s.get("interval_s", 1.0) for s in series),
        "columns": series[0].get("columns", []),
        "profiles": profiles,
    }


def _started_at(reports: Sequence[Mapping[str, Any]]) -> str:
    times = []
    for r in reports:
        try:
            times.append(datetime.datetime.fromisoformat(r["started_at"]))
        except (KeyError, TypeError, ValueError):
            continue
    return min(times).isoformat() if times else ""


def merge_reports(
    reports: Sequence[Mapping[str, Any]],
    sources: Sequence[str],
    thresholds: Sequence[Threshold] | None = None,
) -> dict[str, Any]:
    """One report from several (``sources`` name them: file names). ``thresholds``: those
    to judge the merged report by; None: those of the inputs (each expression once)."""
    by_name: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for source, report in zip(sources, reports, strict=True):
        for profile in report["profiles"]:
            by_name.setdefault(profile["name"], []).append((source, profile))
    span = max(float(r.get("send_span_s", 0.0)) for r in reports)
    merged: dict[str, Any] = {
        "stressgen_version": __version__,
        "url": _same([r.get("url") for r in reports], "several"),
        "target": _same([r.get("target") for r in reports], "several"),
        "started_at": _started_at(reports),
        "configured_duration_s": max(r.get("configured_duration_s", 0.0) for r in reports),
        "duration_s": max(r.get("duration_s", 0.0) for r in reports),
        "send_window_s": max(r.get("send_window_s", 0.0) for r in reports),
        "send_span_s": span,
        "interrupted": any(r.get("interrupted", False) for r in reports),
        "totals": _totals(reports, span),
        "profiles": [_merge_profile(parts) for parts in by_name.values()],
        "merged_from": [
            {
                "source": source,
                "started_at": r.get("started_at"),
                "url": r.get("url"),
                "status": r.get("verdict", {}).get("status"),
            }
            for source, r in zip(sources, reports, strict=True)
        ],
    }
    series = _merge_series(reports)
    if series is not None:
        merged["series"] = series
    if thresholds is None:
        expressions = dict.fromkeys(
            t["expression"] for r in reports for t in r.get("thresholds", [])
        )
        thresholds = [parse_threshold(e, "thresholds") for e in expressions]
    merged["thresholds"] = evaluate_thresholds(thresholds, merged)
    merged["verdict"] = verdict(merged)
    return merged
