"""Pass/fail thresholds on a run's report: ``p99<500ms``, ``success>=99.9%``, ``rate>=99%``.

Pure functions over plain data: :func:`parse_threshold` turns what the user typed into a
:class:`Threshold` (or a one-line :class:`~stressgen.errors.ConfigError`), and
:func:`evaluate_thresholds` measures each one on a report dict, so a run's report and a
merged report are judged the same way.

Metrics (latency from the due time unless a source prefix says otherwise):

=============================  ==============================================================
``p50`` ``p90`` ``p99.9`` ...  a latency percentile (any ``pN``, 0 < N <= 100), all profiles
``max`` ``mean`` ``min``       the largest, mean, smallest latency
``sent.p99``, ``sent.max``...  the same, measured from when the request was actually sent
``lateness.p99``...            how late sends left after their due time
``success``                    alerts accepted / alerts sent, in %
``accepted``                   alerts accepted / alerts the schedule asked for, in %
``rate``                       achieved send rate: in % of the scheduled rate, or in ``/s``
``failures`` (``errors``)      failed alerts: a count, or in % of alerts sent
``late``                       late sends: a count, or in % of requests sent
``unsent``                     requests never sent: a count, or in % of those due
=============================  ==============================================================

Latency limits need a unit (``500ms``, ``1.5s``, ``250us``); ratios take ``99.9%`` or a
fraction (``0.999``); ``rate`` takes ``99%`` or a rate (``50/s``, ``3000/min``).
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stressgen.engine.histogram import LatencyHistogram
from stressgen.errors import ConfigError
from stressgen.units import parse_duration, parse_rate_per_second

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
LATENCY_SOURCES = {"due": "from_due", "sent": "from_sent", "lateness": "lateness"}
RATIOS = ("success", "accepted")
COUNTS = ("failures", "late", "unsent")
ALIASES = {"errors": "failures"}

FORM = "a threshold like p99<500ms, success>=99.9% or rate>=99% (metric, < <= > >= or ==, value)"
KNOWN = (
    "a threshold on a known metric: p50, p90, p99, p99.9 (any pN), max, mean, min "
    "(sent.p99, lateness.p99: from send time, send lateness), success, accepted, rate, "
    "failures, late, unsent"
)
_EXPRESSION = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.]*)\s*(<=|>=|==|<|>)\s*(.*?)\s*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_STAT = re.compile(r"p(\d+(?:\.\d+)?)|max|mean|min")


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One parsed threshold. ``limit`` is in ``unit``: ``ms`` for latencies, ``%`` for
    ratios, ``/s`` for an absolute rate, ``""`` for a count."""

    expression: str
    metric: str
    """Canonical name: ``p99``, ``sent.p99.9``, ``success``, ``rate``, ``failures``..."""
    op: str
    limit: float
    unit: str

    def __str__(self) -> str:
        return self.expression


def parse_threshold(text: object, field: str) -> Threshold:
    """Parse ``p99<500ms`` and the like; errors name ``field`` (``--threshold``)."""
    if isinstance(text, Threshold):
        return text
    if not isinstance(text, str):
        raise ConfigError(field, text, FORM)
    match = _EXPRESSION.fullmatch(text)
    if match is None or not match.group(3) or match.group(3)[0] in "<>=!":
        raise ConfigError(field, text, FORM)
    name, op, value = match.groups()
    expression = f"{name}{op}{value}"
    name = ALIASES.get(name.lower(), name.lower())
    source, stat = _split_latency(name)
    if _STAT.fullmatch(stat) and source in LATENCY_SOURCES:
        metric = _latency_metric(source, stat, text, field)
        limit = _duration_ms(value, text, field)
        return Threshold(expression, metric, op, limit, "ms")
    if name in RATIOS:
        return Threshold(expression, name, op, _ratio(value, text, field, 100.0), "%")
    if name == "rate":
        if value.endswith("%"):
            return Threshold(expression, name, op, _ratio(value, text, field, None), "%")
        try:
            per_s = parse_rate_per_second(value, field) if "/" in value else None
        except ConfigError:
            per_s = None
        if per_s is None:
            raise ConfigError(field, text, "a rate threshold like rate>=99% or rate>=50/s")
        return Threshold(expression, name, op, per_s, "/s")
    if name in COUNTS:
        if value.endswith("%"):
            return Threshold(expression, name, op, _ratio(value, text, field, 100.0), "%")
        if not value.isdigit():
            expected = f"a {name} threshold with a whole count or a percentage, like {name}<=10"
            raise ConfigError(field, text, expected)
        return Threshold(expression, name, op, float(value), "")
    raise ConfigError(field, text, KNOWN)


def _split_latency(metric: str) -> tuple[str, str]:
    """``sent.p99.9`` -> (``sent``, ``p99.9``); ``p99.9`` -> (``due``, ``p99.9``)."""
    head, _, rest = metric.partition(".")
    return (head, rest) if head in LATENCY_SOURCES else ("due", metric)


def _latency_metric(source: str, stat: str, text: str, field: str) -> str:
    if stat.startswith("p"):
        point = float(stat[1:])
        if not 0 < point <= 100:
            raise ConfigError(field, text, "a percentile between p0 and p100, like p99.9")
        stat = f"p{point:g}"
    return stat if source == "due" else f"{source}.{stat}"


def _duration_ms(value: str, text: str, field: str) -> float:
    expected = "a latency threshold with a unit, like p99<500ms or max<2s"
    if not value or not any(c.isalpha() for c in value):
        raise ConfigError(field, text, expected)
    try:
        return parse_duration(value, field) * 1000.0
    except ConfigError:
        raise ConfigError(field, text, expected) from None


def _ratio(value: str, text: str, field: str, top: float | None) -> float:
    """A percentage (``99.9%``) or, when ``top`` allows, a fraction (``0.999``), in %."""
    expected = "a percentage like 99.9%" + (" or a fraction like 0.999" if top else "")
    number = value[:-1].strip() if value.endswith("%") else value
    if not _NUMBER.fullmatch(number):
        raise ConfigError(field, text, expected)
    if value.endswith("%"):
        if top is not None and float(number) > top:
            raise ConfigError(field, text, expected + " (at most 100%)")
        return float(number)
    if top is None or float(number) > 1:
        raise ConfigError(field, text, expected)
    return float(number) * 100.0


def parse_thresholds(values: object, field: str) -> tuple[Threshold, ...]:
    """A list of thresholds, as the config file's ``thresholds:`` key gives them;
    errors name the item (``thresholds[1]``)."""
    if not isinstance(values, list | tuple):
        raise ConfigError(field, values, "a list of thresholds like ['p99<500ms', 'success>=99%']")
    return tuple(parse_threshold(v, f"{field}[{i}]") for i, v in enumerate(values))


# -- evaluation -------------------------------------------------------------------------------


def evaluate_thresholds(
    thresholds: Sequence[Threshold], report: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Measure each threshold on a report: ``[{expression, metric, op, limit, unit,
    measured, ok}]``. A metric with no data (no answers, nothing sent) fails."""
    histograms: dict[str, LatencyHistogram] = {}
    results = []
    for threshold in thresholds:
        measured = measure(threshold, report, histograms)
        ok = measured is not None and OPERATORS[threshold.op](measured, threshold.limit)
        results.append(
            {
                "expression": threshold.expression,
                "metric": threshold.metric,
                "op": threshold.op,
                "limit": threshold.limit,
                "unit": threshold.unit,
                "measured": measured,
                "ok": ok,
            }
        )
    return results


def measure(
    threshold: Threshold,
    report: Mapping[str, Any],
    cache: dict[str, LatencyHistogram] | None = None,
) -> float | None:
    """The value of ``threshold``'s metric in ``report``, in the threshold's unit."""
    if threshold.unit == "ms":
        source, stat = _split_latency(threshold.metric)
        name = LATENCY_SOURCES[source]
        cache = {} if cache is None else cache
        if name not in cache:
            cache[name] = merged_histogram(report, name)
        hist = cache[name]
        if not hist.count:
            return None
        points = (float(stat[1:]),) if stat.startswith("p") else ()
        return float(hist.percentiles(points)[stat])
    t = report["totals"]
    counters = [p["counters"] for p in report["profiles"]]
    percent = threshold.unit == "%"
    if threshold.metric == "success":
        return _percent(t["alerts_accepted"], t["alerts_sent"])
    if threshold.metric == "accepted":
        return _percent(t["alerts_accepted"], t["expected_alerts"])
    if threshold.metric == "rate":
        span, window = report["send_span_s"], report["send_window_s"]
        achieved = t["alerts_sent"] / span if span > 0 else None
        if not percent or achieved is None:
            return achieved
        scheduled = t["expected_alerts"] / window if window > 0 else 0.0
        return _percent(achieved, scheduled)
    if threshold.metric == "failures":
        failed = t["alerts_failed"]
        return _percent(failed, t["alerts_sent"]) if percent else float(failed)
    if threshold.metric == "late":
        late = sum(c["late_sends"] for c in counters)
        sent = sum(c["requests_sent"] for c in counters)
        return _percent(late, sent) if percent else float(late)
    unsent = sum(c["unsent"] for c in counters)
    due = unsent + sum(c["requests_sent"] for c in counters)
    return _percent(unsent, due) if percent else float(unsent)


def _percent(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def merged_histogram(report: Mapping[str, Any], name: str) -> LatencyHistogram:
    """One latency histogram (``from_due``, ``from_sent``, ``lateness``) of all profiles."""
    hist = LatencyHistogram()
    for profile in report["profiles"]:
        blob = profile.get("histograms", {}).get(name)
        if blob:
            hist.merge_encoded(blob["hdr"], blob.get("clamped", 0))
    return hist


# -- text -------------------------------------------------------------------------------------


def show(value: float | None, unit: str) -> str:
    """A measured value or limit as people write it: ``2.41ms``, ``99.95%``, ``48.9/s``."""
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{value:.3g}ms" if value < 100 else f"{value:,.0f}ms"
    if unit == "%":
        return f"{value:.3f}".rstrip("0").rstrip(".") + "%"
    if unit == "/s":
        return f"{value:,.1f}/s"
    return f"{value:,.0f}"


def format_thresholds(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's threshold block: one line per threshold, pass or FAIL, measured value."""
    passed = sum(1 for r in results if r["ok"])
    width = max(len(r["expression"]) for r in results)
    lines = [f"Thresholds: {passed} of {len(results)} passed"]
    for r in results:
        mark = "pass" if r["ok"] else "FAIL"
        lines.append(
            f"  {mark}  {r['expression']:<{width}}  measured {show(r['measured'], r['unit'])}"
        )
    return lines


def failure_reasons(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """``threshold p99<500ms failed (measured 612ms)`` for each failed threshold."""
    return [
        f"threshold {r['expression']} failed (measured {show(r['measured'], r['unit'])})"
        for r in results
        if not r["ok"]
    ]
