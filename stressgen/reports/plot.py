"""``stressgen plot``: one PNG of one or more reports, overlaid.

Four panels: latency (from due time) by percentile on HdrHistogram's log percentile axis
(50%, 90%, 99%, 99.9%... evenly spaced), the p99 of each interval, the send and accepted
rates, and the failures per second over time. The curves come from pure functions
(:func:`percentile_curve`, :func:`time_series`); matplotlib, an optional dependency
(``pip install 'stressgen[plot]'``), is imported only to draw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

from stressgen.errors import ConfigError, StartupError
from stressgen.thresholds import merged_histogram

US_PER_MS = 1000.0
TICKS_PER_HALF_DISTANCE = 5
PERCENTILE_TICKS = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999)


def percentile_curve(report: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """(x, ms): x is 1/(1-percentile) (100% left out), for all profiles' latency from due."""
    encoded = merged_histogram(report, "from_due").encode()
    hist = HdrHistogram.decode(encoded)
    xs: list[float] = []
    values: list[float] = []
    if not hist.get_total_count():
        return xs, values
    for item in hist.get_percentile_iterator(TICKS_PER_HALF_DISTANCE):
        level = item.percentile_level_iterated_to
        if level >= 100.0:
            break
        xs.append(100.0 / (100.0 - level))
        values.append(item.value_iterated_to / US_PER_MS)
    return xs, values


def time_series(report: Mapping[str, Any]) -> dict[str, list[float]]:
    """All profiles' series rows added up: ``t`` (interval end, s), ``sent_per_s``,
    ``accepted_per_s``, ``failed_per_s`` and ``p99_ms`` (the worst profile's; NaN when
    no answer came in the interval). Empty lists for a report without a series."""
    series = report.get("series") or {}
    rows_by_profile = list((series.get("profiles") or {}).values())
    out: dict[str, list[float]] = {
        k: [] for k in ("t", "sent_per_s", "accepted_per_s", "failed_per_s", "p99_ms")
    }
    previous = 0.0
    for i in range(max((len(rows) for rows in rows_by_profile), default=0)):
        rows = [r[i] for r in rows_by_profile if i < len(r)]
        t = max(r[0] for r in rows)
        span = t - previous
        previous = t
        if span <= 0:
            continue
        p99s = [r[5] for r in rows if r[5] is not None]
        out["t"].append(t)
        out["sent_per_s"].append(sum(r[1] for r in rows) / span)
        out["accepted_per_s"].append(sum(r[2] for r in rows) / span)
        out["failed_per_s"].append(sum(r[3] for r in rows) / span)
        out["p99_ms"].append(max(p99s) if p99s else math.nan)
    return out


def _percent_label(x: float) -> str:
    level = 100.0 - 100.0 / x
    return f"{level:g}%"


def plot_reports(reports: Sequence[tuple[str, Mapping[str, Any]]], path: str) -> None:
    """Draw the reports (label, report) into a PNG at ``path``."""
    try:  # an optional dependency: imported only when a plot is asked for
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise StartupError(
            "plotting needs matplotlib: pip install 'stressgen[plot]' (or matplotlib)"
        ) from None
    figure = Figure(figsize=(13, 9), layout="constrained")
    FigureCanvasAgg(figure)
    (dist, p99), (rate, fail) = figure.subplots(2, 2)
    steps = {"drawstyle": "steps-pre"}  # a row holds the interval that ends at its time
    widest = 10.0
    for index, (label, report) in enumerate(reports):
        color = f"C{index}"
        xs, values = percentile_curve(report)
        if xs:
            widest = max(widest, xs[-1])
            top = report_max_ms(report)
            dist.plot(xs, values, color=color, label=f"{label} (max {top:,.3g}ms)")
        series = time_series(report)
        # Steps from the start: each row's value holds over the interval that ends at t.
        t = [0.0, *series["t"]] if series["t"] else []
        sent, accepted, failed = (
            series[k][:1] + series[k] for k in ("sent_per_s", "accepted_per_s", "failed_per_s")
        )
        p99.plot(series["t"], series["p99_ms"], color=color, marker=".", label=label)
        rate.plot(t, sent, color=color, label=f"{label} sent", **steps)
        rate.plot(
            t,
            accepted,
            color=color,
            ls="--",
            label=f"{label} accepted",
            **steps,
        )
        fail.plot(t, failed, color=color, label=label, **steps)
    dist.set_xscale("log")
    ticks = [100.0 / (100.0 - p) for p in PERCENTILE_TICKS]
    ticks = [x for x in ticks if x <= widest * 10.0]  # one decade past the data
    dist.set_xticks(ticks, [_percent_label(x) for x in ticks])
    dist.set_xlim(1.0, ticks[-1])
    dist.set_title("Latency by percentile (from due time)")
    dist.set_xlabel("percentile")
    dist.set_ylabel("latency (ms)")
    p99.set_title("p99 latency per interval (worst profile)")
    p99.set_ylabel("latency (ms)")
    rate.set_title("Rate (alerts/s): sent, accepted (dashed)")
    rate.set_ylabel("alerts/s")
    fail.set_title("Failures (alerts/s)")
    fail.set_ylabel("alerts/s")
    for axes in (p99, rate, fail):
        axes.set_xlabel("time (s)")
        axes.set_ylim(bottom=0)
    for axes in (dist, p99, rate, fail):
        axes.grid(True, which="major", alpha=0.3)
        if axes.has_data():
            axes.legend(fontsize="small")
    try:
        figure.savefig(path, dpi=100)
    except OSError as exc:
        raise ConfigError("--output", path, f"a writable file ({exc.strerror or exc})") from None


def report_max_ms(report: Mapping[str, Any]) -> float:
    """The largest latency from due time over all profiles, in ms."""
    return float(merged_histogram(report, "from_due").percentiles(())["max"])
