"""``stressgen compare``: the pure rows and verdicts as tables, then real runs against two
emulators in their own processes, one deliberately slower (a longer forwarder latency)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stressgen.cli import main
from stressgen.compare import (
    Comparison,
    Row,
    Tolerances,
    compare,
    format_comparison,
    judge,
)
from stressgen.compare_summary import Summary, summarize
from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.histogram import LatencyHistogram
from stressgen.errors import ConfigError, ExitCode
from stressgen.runner import run


def hist(*ms: float) -> LatencyHistogram:
    h = LatencyHistogram()
    for value in ms:
        h.record(int(value * 1000))
    return h


def summary(
    *,
    sent: int = 1000,
    accepted: int | None = None,
    span_s: float = 10.0,
    failures: dict[str, int] | None = None,
    latency_ms: float = 10.0,
    ceiling: float | None = None,
    kind: str = "run",
    status: str | None = None,
    first_failure: float | None = None,
) -> Summary:
    latencies = [latency_ms] * 100
    return Summary(
        target_rate=100.0,
        alerts_sent=sent,
        alerts_accepted=sent if accepted is None else accepted,
        requests_sent=sent,
        span_s=span_s,
        failures=failures or {},
        histograms={"from_due": hist(*latencies), "from_sent": hist(*latencies)},
        ceiling=ceiling,
        kind=kind,
        ceiling_status=status,
        first_failure=first_failure,
    )


def verdicts(comparison: Comparison) -> dict[str, str]:
    return {row.name: row.verdict for row in comparison.rows}


@pytest.mark.parametrize(
    ("base", "candidate", "higher", "allowed", "verdict"),
    [
        (100, 100, True, 2, "ok"),
        (100, 98, True, 2, "ok"),
        (100, 97.9, True, 2, "REGRESSED"),
        (100, 102.1, True, 2, "improved"),
        (10, 11, False, 1, "ok"),
        (10, 11.1, False, 1, "REGRESSED"),
        (10, 8.9, False, 1, "improved"),
        (0, 0, False, 0, "ok"),
    ],
)
def test_judge(base: float, candidate: float, higher: bool, allowed: float, verdict: str) -> None:
    assert judge(base, candidate, higher_is_better=higher, allowed=allowed) == verdict


def test_identical_runs_are_ok_everywhere() -> None:
    comparison = compare(summary(), summary(), Tolerances())
    assert {row.verdict for row in comparison.rows} == {"ok"}
    assert comparison.exit_code == ExitCode.OK
    names = [row.name for row in comparison.rows]
    assert names[:2] == ["achieved rate", "success rate"]
    assert "latency from due p99.9" in names and "latency from sent p50" in names
    assert "ceiling" not in names  # only when a report has one


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        # 2% fewer alerts per second is still within tolerance; 3% is not
        (summary(span_s=10.2), {"achieved rate": "ok"}),
        (summary(span_s=10.31), {"achieved rate": "REGRESSED"}),
        # 0.1 percentage point of success may go; 0.2 may not; a new reason is a row
        (
            summary(accepted=999, failures={"http_503": 1}),
            {"success rate": "ok", "failed http_503": "ok"},
        ),
        (
            summary(accepted=998, failures={"timeout": 2}),
            {"success rate": "REGRESSED", "failed timeout": "REGRESSED"},
        ),
        # latency: +10% or +1 ms, whichever is more
        (summary(latency_ms=10.9), {"latency from due p50": "ok"}),
        (summary(latency_ms=12.0), {"latency from due p50": "REGRESSED"}),
        (summary(latency_ms=5.0), {"latency from due p99": "improved"}),
    ],
)
def test_rows_against_default_tolerances(candidate: Summary, expected: dict[str, str]) -> None:
    found = verdicts(compare(summary(), candidate, Tolerances()))
    assert {name: found[name] for name in expected} == expected


def test_latency_slack_keeps_sub_millisecond_noise_quiet() -> None:
    base, candidate = summary(latency_ms=0.3), summary(latency_ms=0.9)  # +200%, +0.6 ms
    assert verdicts(compare(base, candidate, Tolerances()))["latency from due p50"] == "ok"
    strict = Tolerances(latency_slack_ms=0.1)
    assert verdicts(compare(base, candidate, strict))["latency from due p50"] == "REGRESSED"


def test_ceiling_rows_judge_only_the_ceiling() -> None:
    base = summary(ceiling=500.0, kind="ceiling")
    lower = summary(ceiling=470.0, kind="ceiling", latency_ms=100.0)  # -6%
    found = verdicts(compare(base, lower, Tolerances()))
    assert found["ceiling"] == "REGRESSED"
    assert found["at ceiling: latency from due p99"] == "info"
    assert verdicts(compare(base, summary(ceiling=480.0, kind="ceiling"), Tolerances())) == {
        **{name: "info" for name in found if name != "ceiling"},
        "ceiling": "ok",
    }
    none = summary(ceiling=None, kind="ceiling")
    assert verdicts(compare(base, none, Tolerances()))["ceiling"] == "REGRESSED"
    assert verdicts(compare(none, base, Tolerances()))["ceiling"] == "improved"


def ceiling_report(status: str, ceiling: float | None, first_failure: float | None) -> Summary:
    return summary(ceiling=ceiling, kind="ceiling", status=status, first_failure=first_failure)


FOUND_500 = ("found", 500.0, 520.0)


@pytest.mark.parametrize(
    ("base", "candidate", "verdict", "note"),
    [
        (FOUND_500, ("found", 470.0, 480.0), "REGRESSED", None),
        (FOUND_500, ("found", 490.0, 500.0), "ok", None),
        # every step passed: the ceiling is at least that rate, with no upper bound
        (FOUND_500, ("no-failure", 400.0, None), "info", "the candidate's ceiling is at least"),
        (FOUND_500, ("no-failure", 600.0, None), "improved", "every step passed"),
        (("no-failure", 500.0, None), ("found", 400.0, 410.0), "REGRESSED", "at least"),
        (("no-failure", 500.0, None), ("no-failure", 500.0, None), "info", "do not show"),
        # nothing passed: the ceiling is below the lowest rate tried
        (FOUND_500, ("no-pass", None, 100.0), "REGRESSED", "every step failed, down to 100.0/s"),
        (("no-pass", None, 100.0), FOUND_500, "improved", "the base found no ceiling"),
        (("no-pass", None, 100.0), ("no-pass", None, 50.0), "info", "do not show"),
        # a partial search is never judged, whichever way it points
        (FOUND_500, ("interrupted", 100.0, None), "info", "search was interrupted"),
        (("interrupted", None, None), FOUND_500, "info", "highest pass so far: none"),
    ],
)
def test_ceiling_verdicts_follow_what_the_bounds_prove(
    base: tuple[str, float | None, float | None],
    candidate: tuple[str, float | None, float | None],
    verdict: str,
    note: str | None,
) -> None:
    comparison = compare(ceiling_report(*base), ceiling_report(*candidate), Tolerances())
    assert verdicts(comparison)["ceiling"] == verdict
    if note is not None:
        assert any(note in line for line in comparison.notes), comparison.notes


def test_a_ceiling_report_against_a_run_report_is_shown_not_judged() -> None:
    comparison = compare(
        ceiling_report(*FOUND_500), summary(accepted=500, latency_ms=99.0), Tolerances()
    )
    assert set(verdicts(comparison).values()) == {"info"}
    assert any("comparing a ceiling report with a run report" in n for n in comparison.notes)


def test_combine_adds_counts_and_merges_histograms() -> None:
    a = summary(sent=100, span_s=1.0, failures={"timeout": 1}, latency_ms=10)
    b = summary(sent=300, accepted=290, span_s=2.0, failures={"timeout": 2, "http_500": 8})
    both = a.combine(b)
    assert both.alerts_sent == 400
    assert both.alerts_accepted == 390
    assert both.achieved_rate == pytest.approx(400 / 3)
    assert both.failures == {"timeout": 3, "http_500": 8}
    assert both.histograms["from_due"].count == 200
    assert a.histograms["from_due"].count == 100  # the parts are left as they were


def test_table_text() -> None:
    comparison = compare(summary(), summary(latency_ms=20.0), Tolerances())
    text = format_comparison(comparison, "a.json", "b.json")
    lines = text.splitlines()
    assert lines[0] == "base:      a.json"
    assert lines[1] == "candidate: b.json"
    header = lines[2].split()
    assert header == ["base", "candidate", "delta", "relative", "verdict"]
    p50 = next(line for line in lines if line.startswith("latency from due p50"))
    assert re.search(r"10(\.0)?ms\s+20(\.0)?ms\s+\+10(\.0)?ms\s+\+100\.\d%\s+REGRESSED$", p50), p50
    assert lines[-1].startswith("Verdict: REGRESSED (8 beyond tolerance: latency from due p50")


def test_tolerance_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        Tolerances(latency_slack_ms=-1)
    assert info.value.field == "--latency-slack"


def test_a_foreign_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"hello": 1}')
    with pytest.raises(ConfigError):
        summarize({"hello": 1}, "base report")
    with pytest.raises(SystemExit) as info:
        main(["compare", str(foreign), str(foreign)])
    assert info.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("stressgen: error: base report: ") and "stressgen run" in err
    with pytest.raises(SystemExit) as info:
        main(["compare", str(tmp_path / "missing.json"), str(foreign)])
    assert info.value.code == ExitCode.USAGE
    assert "is not a readable report file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["compare", "--url", "http://localhost:1"])
    assert info.value.code == ExitCode.USAGE
    assert "--url: " in capsys.readouterr().err


# -- real runs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_emulators() -> Iterator[tuple[str, str]]:
    """A quick one (2 ms per forwarded message) and a slow one (20 ms)."""
    with (
        EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=0.002)) as quick,
        EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=0.020)) as slow,
    ):
        yield quick.url, slow.url


@pytest.fixture(scope="module")
def report_files(
    tmp_path_factory: pytest.TempPathFactory, two_emulators: tuple[str, str]
) -> tuple[str, str]:
    """The same 20/s run against each emulator, reports written as ``run`` writes them."""
    folder = tmp_path_factory.mktemp("compare")
    paths = []
    for name, url in zip(("quick", "slow"), two_emulators, strict=True):
        path = folder / f"{name}.json"
        config = RunConfig(
            url=url,
            duration_s=1.5,
            profiles=(ProfileConfig(name="p", rate_per_s=10.0, worker_count=2),),
            report_json=str(path),
        )
        assert run(config, out=io.StringIO()).exit_code == ExitCode.OK
        paths.append(str(path))
    return paths[0], paths[1]


def run_compare(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(["compare", *args])
    assert isinstance(info.value.code, int)
    return info.value.code, out.getvalue()


def test_files_slower_candidate_regresses(report_files: tuple[str, str], tmp_path: Path) -> None:
    quick, slow = report_files
    rows_path = tmp_path / "rows.json"
    code, text = run_compare(quick, slow, "--report-json", str(rows_path))
    assert code == ExitCode.THRESHOLDS_FAILED, text
    rows = {r["name"]: r for r in orjson.loads(rows_path.read_bytes())["rows"]}
    # Same schedule, same answers: rate and success hold; every latency row is ~18 ms worse.
    assert rows["achieved rate"]["verdict"] == "ok"
    assert rows["success rate"]["verdict"] == "ok"
    for measure in ("from due", "from sent"):
        row = rows[f"latency {measure} p50"]
        assert row["verdict"] == "REGRESSED", text
        assert 15 < row["delta"] < 30, text
    assert "Verdict: REGRESSED" in text


def test_files_quicker_candidate_improves_and_a_report_equals_itself(
    report_files: tuple[str, str],
) -> None:
    quick, slow = report_files
    code, text = run_compare(slow, quick)
    assert code == ExitCode.OK, text
    assert re.search(r"latency from due p50 .* improved$", text, re.MULTILINE), text
    code, text = run_compare(quick, quick)
    assert code == ExitCode.OK, text
    assert "REGRESSED" not in text and "improved" not in text
    assert text.rstrip().endswith("Verdict: OK (nothing beyond tolerance)")


def test_two_urls_in_alternating_rounds(two_emulators: tuple[str, str], tmp_path: Path) -> None:
    """The same profile against both: the slower synchronizer as the candidate regresses."""
    quick, slow = two_emulators
    rows_path = tmp_path / "rows.json"
    code, text = run_compare(
        *("--url", quick, "--url", slow, "default", "--duration", "1s", "--rate", "10/s"),
        *("--rounds", "2", "--report-json", str(rows_path)),
    )
    assert code == ExitCode.THRESHOLDS_FAILED, text
    order = re.findall(r"^round (\d)/2 (base|candidate) ", text, re.MULTILINE)
    assert order == [("1", "base"), ("1", "candidate"), ("2", "candidate"), ("2", "base")]
    assert "Profile default: 2 round(s) of 1s against each URL" in text
    [result] = orjson.loads(rows_path.read_bytes())
    assert result["profile"] == "default"
    rows = {r["name"]: r for r in result["rows"]}
    assert rows["latency from due p50"]["verdict"] == "REGRESSED"
    assert rows["achieved rate"]["verdict"] == "ok"
    assert rows["success rate"]["base"] == rows["success rate"]["candidate"] == 1.0


def test_table_row_is_json_ready() -> None:
    row = Row("ceiling", "/s", 50.0, 60.0, "improved")
    assert row.to_dict() == {
        "name": "ceiling",
        "unit": "/s",
        "base": 50.0,
        "candidate": 60.0,
        "delta": 10.0,
        "relative": pytest.approx(0.2),
        "verdict": "improved",
    }
