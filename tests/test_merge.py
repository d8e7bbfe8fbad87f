"""``stressgen merge``: two real runs against one emulator in its own process, merged by the
real command, add up to exactly what both runs (and the emulator) counted; thresholds and
the verdict are judged again on the merged data; bad inputs give one line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.histogram import LatencyHistogram
from stressgen.errors import ExitCode
from stressgen.reports.merge import merge_reports
from stressgen.runner import run
from stressgen.thresholds import parse_threshold
from tests import report_data

STRESSGEN = [sys.executable, "-m", "stressgen"]
SUMMED = ("requests_sent", "requests_accepted", "requests_failed", "alerts_sent",
          "alerts_accepted", "in_flight_at_stop", "late_sends", "unsent")  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESSGEN, *args], capture_output=True, text=True, timeout=60, check=False
    )


def write(path: Path, report: dict[str, Any]) -> str:
    path.write_bytes(orjson.dumps(report))
    return str(path)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def hist_count(profile: dict[str, Any], name: str) -> int:
    return LatencyHistogram.from_dict(profile["histograms"][name]).count


def test_merge_of_two_real_runs_adds_up(tmp_path: Path) -> None:
    a_path, b_path, merged_path = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "all.json"
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=0.002)) as emu:
        for path, profiles in (
            (a_path, (ProfileConfig(name="p", rate_per_s=20.0),)),
            (b_path, (ProfileConfig(name="p", rate_per_s=10.0, worker_count=2),
                      ProfileConfig(name="q", rate_per_s=10.0, rule_id="R0001"))),
        ):  # fmt: skip
            config = RunConfig(
                url=emu.url,
                duration_s=1.5,
                profiles=profiles,
                progress_interval_s=3600,
                report_json=str(path),
                thresholds=(parse_threshold("p99<10s", "thresholds"),),
            )
            outcome = run(config, out=io.StringIO())
            assert outcome.exit_code == ExitCode.OK
        stats = emu.stats()
    result = run_cli("merge", str(a_path), str(b_path), "-o", str(merged_path))
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert f"Merged report written to {merged_path}" in result.stdout
    assert "Result: PASSED" in result.stdout

    a, b, merged = load(a_path), load(b_path), load(merged_path)
    for key in ("alerts_sent", "alerts_accepted", "alerts_failed", "expected_alerts"):
        assert merged["totals"][key] == a["totals"][key] + b["totals"][key], key
    assert merged["totals"]["alerts_sent"] == 30 + 45
    assert merged["totals"]["alerts_accepted"] == stats["alerts_accepted"]  # the other side
    assert merged["totals"]["target_rate_per_s"] == pytest.approx(20.0 + 30.0)
    assert merged["totals"]["success_rate"] == 1.0

    by_name = {p["name"]: p for p in merged["profiles"]}
    assert list(by_name) == ["p", "q"]
    a_p, b_p, b_q = a["profiles"][0], b["profiles"][0], b["profiles"][1]
    for key in SUMMED:
        assert by_name["p"]["counters"][key] == a_p["counters"][key] + b_p["counters"][key], key
    assert by_name["p"]["counters"]["statuses"] == {"202": 30 + 30}
    assert by_name["q"]["counters"] == b_q["counters"]
    for name in ("from_due", "from_sent", "lateness"):
        assert hist_count(by_name["p"], name) == hist_count(a_p, name) + hist_count(b_p, name)
    assert by_name["p"]["latency_ms"]["from_due"]["count"] == 60
    assert by_name["p"]["latency_ms"]["from_due"]["max"] == max(
        a_p["latency_ms"]["from_due"]["max"], b_p["latency_ms"]["from_due"]["max"]
    )
    assert by_name["p"]["expected_alerts"] == 60

    rows = merged["series"]["profiles"]
    assert sum(r[1] for r in rows["p"]) == 60
    assert sum(r[2] for r in rows["q"]) == 15
    assert [t["expression"] for t in merged["thresholds"]] == ["p99<10s"]
    assert merged["verdict"]["status"] == "PASSED"
    assert [m["source"] for m in merged["merged_from"]] == ["a.json", "b.json"]


def two_reports() -> tuple[dict[str, Any], dict[str, Any]]:
    """Each alone passes p99<50ms; together half the answers took 100 ms."""
    threshold = [{"expression": "p99<50ms", "ok": True}]
    fast = report_data.profile("p", sent=100, accepted=100, latencies_ms=[1.0] * 100)
    slow = report_data.profile("p", sent=100, accepted=100, latencies_ms=[100.0] * 100)
    return (
        report_data.report([fast], thresholds=threshold),
        report_data.report([slow], thresholds=threshold, span_s=12.0),
    )


def test_thresholds_are_judged_again_on_the_merged_data(tmp_path: Path) -> None:
    a, b = two_reports()
    merged = merge_reports([a, b], ["a", "b"])
    [result] = merged["thresholds"]
    assert result["expression"] == "p99<50ms"
    assert result["measured"] == pytest.approx(100.0, rel=1e-3)
    assert merged["verdict"]["status"] == "THRESHOLDS_FAILED"
    assert merged["send_span_s"] == 12.0
    assert merged["totals"]["average_rate_per_s"] == pytest.approx(200 / 12.0)

    files = [write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)]
    result_cli = run_cli("merge", *files)
    assert result_cli.returncode == ExitCode.THRESHOLDS_FAILED, result_cli.stderr
    assert "FAIL  p99<50ms  measured 100ms" in result_cli.stdout
    # --threshold replaces the inputs' thresholds.
    again = run_cli("merge", *files, "--threshold", "p50<200ms")
    assert again.returncode == ExitCode.OK, again.stdout + again.stderr
    assert "pass  p50<200ms  measured" in again.stdout


def test_series_rows_add_by_position() -> None:
    columns = ["elapsed_s", "alerts_sent", "alerts_accepted", "alerts_failed", "late_sends",
               "p99_ms", "max_ms"]  # fmt: skip
    a, b = two_reports()
    a_p = [[1.0, 5, 5, 0, 0, 2.0, 3.0], [2.0, 5, 4, 1, 0, None, None]]
    b_p, b_q = [[1.01, 7, 7, 0, 1, 9.0, 9.5]], [[1.0, 1, 1, 0, 0, 1.0, 1.0]]
    a["series"] = {"interval_s": 1.0, "columns": columns, "profiles": {"p": a_p}}
    b["series"] = {"interval_s": 1.0, "columns": columns, "profiles": {"p": b_p, "q": b_q}}
    series = merge_reports([a, b], ["a", "b"])["series"]
    assert series["profiles"] == {
        "p": [[1.01, 12, 12, 0, 1, 9.0, 9.5], [2.0, 5, 4, 1, 0, None, None]],
        "q": [[1.0, 1, 1, 0, 0, 1.0, 1.0]],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "report: '{path}' is not a readable file"),
        (b"not json", "report: '{path}' is not a stressgen report (the JSON that"),
        (b'{"totals": 5}', "report: '{path}' is not a stressgen report"),
        (b'{"totals": {}, "profiles": [{"name": "p", "histograms": {"from_due": '
         b'{"hdr": "HISTFAAAAgarbage", "clamped": 0}}}]}',
         "bad.json: \"profiles['p']\" is not a stressgen report"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("merge", str(path), "-o", str(tmp_path / "out.json"))
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message.format(path=path) in lines[0]
    assert not (tmp_path / "out.json").exists()
