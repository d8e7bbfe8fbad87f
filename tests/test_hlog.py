"""``--hlog`` and ``--hgrm``: HdrHistogram's own formats, read back with hdrh's own
``HistogramLogReader``; the interval recorder that feeds them, as a table with no clock;
and a real run against an emulator in its own process."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS
from stressgen.errors import ExitCode
from stressgen.reports.hlog import format_hgrm, format_hlog
from stressgen.reports.intervals import Interval, IntervalRecorder
from stressgen.runner import run
from tests.report_data import histogram

LINE = re.compile(r"(?:Tag=([^,]*),)?([\d.]+),([\d.]+),([\d.]+),(\S+)")


def read_log(path: Path) -> dict[str | None, list[HdrHistogram]]:
    """Every interval histogram of a log, by tag (None: untagged), via hdrh's reader."""
    reader = HistogramLogReader(str(path), HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))
    by_tag: dict[str | None, list[HdrHistogram]] = {}
    try:
        while (hist := reader.get_next_interval_histogram()) is not None:
            by_tag.setdefault(hist.get_tag(), []).append(hist)
    finally:
        reader.close()
    return by_tag


def interval_lines(path: Path) -> list[tuple[str | None, float, float, float, str]]:
    """(tag, start, length, Interval_Max, blob) of each interval line, as text."""
    out = []
    for line in path.read_text().splitlines():
        match = LINE.fullmatch(line)
        if match:
            tag, start, length, top, blob = match.groups()
            out.append((tag, float(start), float(length), float(top), blob))
    return out


def test_log_of_known_intervals_reads_back(tmp_path: Path) -> None:
    def blobs(a_b: list[float], c: list[float]) -> dict[str, str]:
        return {"a b": histogram(a_b).encode(), "c": histogram(c).encode()}

    intervals = [
        Interval(0.0, 1.0, blobs([1.0, 2.0, 3.0], [7.5])),
        Interval(1.0, 2.5, blobs([], [250.0, 4.0])),
    ]
    path = tmp_path / "known.hlog"
    path.write_text(format_hlog(intervals, started_at=1_700_000_000.25))
    text = path.read_text()
    assert "#[StartTime: 1700000000.250 (seconds since epoch), 2023-11-14T22:13:20.25" in text
    assert "#[BaseTime: 1700000000.250 (seconds since epoch)]" in text
    assert '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"' in (
        text
    )
    by_tag = read_log(path)
    assert [h.get_total_count() for h in by_tag[None]] == [4, 2]
    assert [h.get_total_count() for h in by_tag["a_b"]] == [3, 0]
    assert [h.get_total_count() for h in by_tag["c"]] == [1, 2]
    # Absolute times from StartTime/BaseTime, as other HdrHistogram readers compute them.
    assert [h.get_start_time_stamp() for h in by_tag["c"]] == [1_700_000_000_250, 1_700_000_001_250]
    # Interval_Max in ms, the top of the largest value's bucket (within 0.1%).
    maxima = {(tag, start): top for tag, start, _, top, _ in interval_lines(path)}
    expected = {
        (None, 0.0): 7.5, ("a_b", 0.0): 3.0, ("c", 0.0): 7.5,
        (None, 1.0): 250.0, ("a_b", 1.0): 0.0, ("c", 1.0): 250.0,
    }  # fmt: skip
    assert maxima == {key: pytest.approx(ms, rel=1e-3) for key, ms in expected.items()}


def test_hgrm_layout() -> None:
    text = format_hgrm(histogram([1.0] * 90 + [10.0] * 9 + [100.0]).encode())
    lines = text.splitlines()
    assert lines[0] == "       Value     Percentile TotalCount 1/(1-Percentile)"
    assert lines[1] == ""
    rows = [line.split() for line in lines[2:] if not line.startswith("#")]
    assert rows[0] == ["1.000", "0.000000000000", "90", "1.00"]
    assert rows[-1][1:] == ["1.000000000000", "100"]  # the last line has no 1/(1-p)
    values = [float(r[0]) for r in rows]
    assert values == sorted(values)
    assert float(rows[-1][0]) == pytest.approx(100.0, rel=1e-3)
    assert re.search(r"#\[Max     =\s+100\.\d+, Total count    =\s+100\]", text)
    assert "#[Buckets =           22, SubBuckets     =         2048]" in text


def counts(sent: int, accepted: int, failed: int, late: int = 0) -> dict[str, int]:
    return {
        "alerts_sent": sent,
        "alerts_accepted": accepted,
        "requests_failed": failed,
        "late_sends": late,
    }


def test_recorder_rows_are_interval_deltas() -> None:
    recorder = IntervalRecorder({"a": 5, "b": 1}, keep_histograms=True)
    recorder.histograms("a", {"from_due": histogram([2.0, 4.0]).to_dict()})
    recorder.histograms("a", {"from_sent": histogram([1.0]).to_dict()})  # not from_due: ignored
    recorder.sample(1.0, {"a": counts(50, 40, 2, 1), "b": counts(10, 10, 0)})
    recorder.histograms("b", {"from_due": histogram([9.0]).to_dict()})
    recorder.sample(2.0, {"a": counts(100, 90, 2, 1), "b": counts(20, 20, 0)})
    recorder.finish(2.4, {"a": counts(110, 100, 2, 1), "b": counts(20, 20, 0)})
    series = recorder.series()
    assert series["columns"][:5] == [
        "elapsed_s", "alerts_sent", "alerts_accepted", "alerts_failed", "late_sends"
    ]  # fmt: skip
    a, b = series["profiles"]["a"], series["profiles"]["b"]
    assert [r[:5] for r in a] == [[1.0, 50, 40, 10, 1], [2.0, 50, 50, 0, 0], [2.4, 10, 10, 0, 0]]
    assert a[0][5:] == [pytest.approx(4.0, rel=1e-3), pytest.approx(4.0, rel=1e-3)]
    assert a[1][5:] == [None, None]  # no answer in that interval
    assert [r[:5] for r in b] == [[1.0, 10, 10, 0, 0], [2.0, 10, 10, 0, 0], [2.4, 0, 0, 0, 0]]
    assert b[1][6] == pytest.approx(9.0, rel=1e-3)
    spans = [(i.start_s, i.end_s) for i in recorder.intervals]
    assert spans == [(0.0, 1.0), (1.0, 2.0), (2.0, 2.4)]


def test_recorder_groups_rounds_and_skips_an_empty_tail() -> None:
    recorder = IntervalRecorder({"a": 1}, rounds_per_row=3)
    for second in range(1, 7):
        recorder.sample(float(second), {"a": counts(10 * second, 10 * second, 0)})
    recorder.finish(6.0, {"a": counts(60, 60, 0)})
    assert recorder.series()["interval_s"] == 3.0
    assert [r[:3] for r in recorder.series()["profiles"]["a"]] == [[3.0, 30, 30], [6.0, 30, 30]]


def test_log_intervals_follow_the_hlog_interval() -> None:
    """Log intervals close at the first round at or after each multiple of the interval,
    a late round moves the next boundary on, and the last one is closed by finish(): a
    5 s run at 2 s intervals has ceil(5 / 2) = 3. The series keeps its row per round."""
    recorder = IntervalRecorder({"a": 1}, keep_histograms=True, hlog_interval_s=2.0, duration_s=5.0)
    for at in (0.9, 2.1, 2.9, 4.6, 5.0):
        recorder.histograms("a", {"from_due": histogram([at]).to_dict()})
        recorder.sample(at, {"a": counts(1, 1, 0)})
    recorder.finish(5.1, {"a": counts(5, 5, 0)})
    spans = [(i.start_s, i.end_s) for i in recorder.intervals]
    assert spans == [(0.0, 2.1), (2.1, 4.6), (4.6, 5.1)]
    totals = [HdrHistogram.decode(i.histograms["a"]).get_total_count() for i in recorder.intervals]
    assert totals == [2, 2, 1]
    assert len(recorder.series()["profiles"]["a"]) == 6


def test_run_writes_logs_that_hdrh_reads_back(tmp_path: Path) -> None:
    """A 2.5 s run at 40/s into an emulator that takes 5 ms: the log's intervals add up
    to every answer, and each interval's max column is that interval's real max."""
    hlog, hgrm, report_json = tmp_path / "run.hlog", tmp_path / "run.hgrm", tmp_path / "r.json"
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=0.005)) as emu:
        config = RunConfig(
            url=emu.url,
            duration_s=2.5,
            profiles=(
                ProfileConfig(name="first", rate_per_s=30.0),
                ProfileConfig(name="second", rate_per_s=10.0, rule_id="R0001"),
            ),
            progress_interval_s=3600,
            hlog=str(hlog),
            hlog_interval_s=1.0,
            hgrm=str(hgrm),
            report_json=str(report_json),
        )
        out = io.StringIO()
        outcome = run(config, out=out)
    assert outcome.exit_code == ExitCode.OK, out.getvalue()
    assert f"Histogram log written to {hlog}" in out.getvalue()
    report: dict[str, Any] = orjson.loads(report_json.read_bytes())
    answered = {p["name"]: p["latency_ms"]["from_due"]["count"] for p in report["profiles"]}
    assert answered == {"first": 75, "second": 25}

    by_tag = read_log(hlog)
    assert sum(h.get_total_count() for h in by_tag[None]) == 100
    assert {tag: sum(h.get_total_count() for h in hs) for tag, hs in by_tag.items() if tag} == (
        answered
    )
    assert len(by_tag[None]) == 3  # ceil(2.5 s / 1 s), not one per progress line

    lines = interval_lines(hlog)
    for tag, _, _, top, blob in lines:
        decoded = HdrHistogram.decode(blob)
        assert top == pytest.approx(decoded.get_max_value() / 1000.0, abs=1e-3), tag
        if decoded.get_total_count():
            assert top >= 5.0  # the emulator's latency: never 0.000
    for name in answered:
        tagged = max(top for tag, _, _, top, _ in lines if tag == name)
        assert tagged == pytest.approx(report["profiles"][0 if name == "first" else 1]
                                       ["latency_ms"]["from_due"]["max"], abs=1e-3)  # fmt: skip
    starts = [start for tag, start, _, _, _ in lines if tag is None]
    assert starts == sorted(starts) and starts[0] == 0.0

    table = hgrm.read_text()
    assert re.search(r"Total count    =\s+100\]", table)
    top = max(p["latency_ms"]["from_due"]["max"] for p in report["profiles"])
    assert f"#[Max     = {top:12.3f}," in table

    rows = report["series"]["profiles"]
    assert sum(r[1] for r in rows["first"]) == 75
    assert sum(r[2] for r in rows["second"]) == 25
