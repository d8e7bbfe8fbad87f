"""HdrHistogram's own file formats, readable by its tools in every language.

- ``--hlog``: the interval log (format 1.3): header comments, the legend, then one line per
  interval with the all-profiles histogram (untagged: what HdrHistogram's
  ``HistogramLogProcessor`` reads by default) followed by one line per profile,
  ``Tag=<profile>``. Values are microseconds (use ``-outputValueUnitRatio 1000`` for ms);
  the ``Interval_Max`` column is in milliseconds.
- ``--hgrm``: the percentile distribution as ``outputPercentileDistribution`` prints it,
  values in milliseconds, of all profiles' latency from due time.

hdrh's ``HistogramLogWriter`` cannot write the start-time header and truncates the max
column to whole units, so the lines are formatted here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from hdrh.histogram import HdrHistogram

from stressgen import __version__
from stressgen.engine.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, add_encoded
from stressgen.errors import ConfigError
from stressgen.reports.intervals import Interval
from stressgen.thresholds import merged_histogram

LOG_FORMAT_VERSION = "1.3"
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
US_PER_MS = 1000.0
PERCENTILE_TICKS_PER_HALF_DISTANCE = 5


def _histogram(blobs: Iterable[str]) -> HdrHistogram:
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for blob in blobs:
        add_encoded(hist, blob)
    return hist


def tag(profile: str) -> str:
    """A profile name as a log tag (no commas or white space, which end a tag)."""
    return re.sub(r"[,\s]", "_", profile)


def _line(label: str | None, interval: Interval, hist: HdrHistogram) -> str:
    prefix = f"Tag={label}," if label is not None else ""
    length = interval.end_s - interval.start_s
    top = hist.get_max_value() / US_PER_MS
    blob = hist.encode().decode("ascii")
    return f"{prefix}{interval.start_s:.3f},{length:.3f},{top:.3f},{blob}"


def format_hlog(intervals: Sequence[Interval], *, started_at: float) -> str:
    """The interval log text; timestamps are seconds from ``started_at`` (the BaseTime)."""
    when = datetime.datetime.fromtimestamp(started_at, datetime.UTC).isoformat()
    lines = [
        f"#[Logged with stressgen {__version__}: latency from due time]",
        "#[Values in microseconds; Interval_Max in milliseconds]",
        f"#[Histogram log format version {LOG_FORMAT_VERSION}]",
        f"#[StartTime: {started_at:.3f} (seconds since epoch), {when}]",
        f"#[BaseTime: {started_at:.3f} (seconds since epoch)]",
        LEGEND,
    ]
    for interval in intervals:
        lines.append(_line(None, interval, _histogram(interval.histograms.values())))
        for name, blob in interval.histograms.items():
            lines.append(_line(tag(name), interval, _histogram([blob])))
    return "\n".join(lines) + "\n"


def format_hgrm(encoded: str, *, unit_ratio: float = US_PER_MS) -> str:
    """A percentile distribution in ``outputPercentileDistribution``'s layout; values are
    divided by ``unit_ratio`` (microseconds to milliseconds by default)."""
    hist = _histogram([encoded])
    digits = SIGNIFICANT_DIGITS
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    if hist.get_total_count():
        for item in hist.get_percentile_iterator(PERCENTILE_TICKS_PER_HALF_DISTANCE):
            value = item.value_iterated_to / unit_ratio
            level = item.percentile_level_iterated_to / 100.0
            count = item.total_count_to_this_value
            line = f"{value:12.{digits}f} {level:2.12f} {count:10d}"
            if item.percentile_level_iterated_to != 100.0:
                line += f" {1.0 / (1.0 - level):14.2f}"
            lines.append(line)
    mean = hist.get_mean_value() / unit_ratio
    stddev = hist.get_stddev() / unit_ratio
    top = hist.get_max_value() / unit_ratio
    lines += [
        f"#[Mean    = {mean:12.{digits}f}, StdDeviation   = {stddev:12.{digits}f}]",
        f"#[Max     = {top:12.{digits}f}, Total count    = {hist.get_total_count():12d}]",
        f"#[Buckets = {hist.bucket_count:12d}, SubBuckets     = {hist.sub_bucket_count:12d}]",
    ]
    return "\n".join(lines) + "\n"


def _write(path: str, text: str, flag: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(flag, path, f"a writable file ({exc.strerror or exc})") from None


def write_histogram_files(
    report: Mapping[str, Any],
    intervals: Sequence[Interval],
    *,
    started_at: float,
    hlog: str | None,
    hgrm: str | None,
    out: TextIO,
) -> None:
    """Write ``--hlog`` and ``--hgrm`` (either may be None) and say so on ``out``."""
    if hlog:
        _write(hlog, format_hlog(intervals, started_at=started_at), "--hlog")
        print(f"Histogram log written to {hlog}", file=out, flush=True)
    if hgrm:
        encoded = merged_histogram(report, "from_due").encode()
        _write(hgrm, format_hgrm(encoded), "--hgrm")
        print(f"Percentile distribution written to {hgrm}", file=out, flush=True)
