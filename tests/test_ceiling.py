"""``stressgen ceiling`` against real emulators in their own processes: the ceiling found is
within 10% of the emulator's capacity (1/latency) at 15 ms and at 2 ms, every step is in
the report, and two ceiling reports compare. Holds are short (1.5 s after a 0.5 s warm-up);
the p99 bound is 100 ms to match: a rate x above capacity queues about x · 2 s of delay
by the step's end, so a 5% overload already fails a step."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stressgen.ceiling import CeilingConfig, find_ceiling
from stressgen.ceiling_search import Criteria, SearchPlan
from stressgen.cli import main
from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig
from stressgen.errors import ExitCode

STRESSGEN = [sys.executable, "-m", "stressgen"]
SHORT_STEPS = ("--warmup", "0.5s", "--hold", "1.5s", "--max-p99", "100ms", "--precision", "5%")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESSGEN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def at_15ms(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The whole command, as a user runs it: ~66/s of capacity."""
    path = tmp_path_factory.mktemp("ceiling") / "at15ms.json"
    done = run_cli(
        "ceiling",
        "--latency",
        "15ms",
        "--start-rate",
        "40/s",
        *SHORT_STEPS,
        "--report-json",
        str(path),
    )
    return done, path


@pytest.fixture(scope="module")
def at_2ms(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str, Path]:
    """Through the Python API, with a confirmation hold: ~500/s of capacity."""
    path = tmp_path_factory.mktemp("ceiling") / "at2ms.json"
    config = CeilingConfig(
        run=RunConfig(
            url=None,
            duration_s=1,
            profiles=(ProfileConfig(name="p", rate_per_s=1, worker_count=2),),
        ),
        plan=SearchPlan(start_rate=300, precision=0.05),
        criteria=Criteria(max_p99_ms=100),
        warmup_s=0.5,
        hold_s=1.5,
        confirm_s=1.5,
        report_json=str(path),
    )
    out = io.StringIO()
    outcome = find_ceiling(
        config, out=out, emulator=EmulatorConfig(port=0, quiet=True, latency_s=0.002)
    )
    return outcome, out.getvalue(), path


def test_ceiling_at_15ms_is_within_10_percent_of_66(
    at_15ms: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, path = at_15ms
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    report = orjson.loads(path.read_bytes())
    assert report["kind"] == "ceiling"
    assert report["status"] == "found"
    ceiling = report["ceiling_alerts_per_s"]
    assert 66.7 * 0.9 <= ceiling <= 66.7 * 1.1, done.stdout
    # One line per step as it finished, then the ceiling.
    step_lines = [line for line in done.stdout.splitlines() if line.startswith("step ")]
    assert len(step_lines) == len(report["steps"]) >= 4
    assert f"Ceiling: {ceiling:,.1f} alerts/s" in done.stdout
    phases = [s["phase"] for s in report["steps"]]
    assert phases[0] == "ramp" and "bisect" in phases
    # Every step kept, with its verdict, its reasons and its run report.
    failed = [s for s in report["steps"] if not s["passed"]]
    assert failed and all(s["reasons"] for s in failed)
    assert any("p99 from due" in r for s in failed for r in s["reasons"])
    for step in report["steps"]:
        assert step["hold_profiles"] == ["unexpected_syscall"]
        assert {p["name"] for p in step["report"]["profiles"]} == {
            "unexpected_syscall",
            "unexpected_syscall.warmup",
        }
        on_time = step["achieved_alerts_per_s"] >= 0.99 * step["target_alerts_per_s"]
        meets = step["p99_ms"] <= 100 and step["success_rate"] >= 0.999 and on_time
        assert step["passed"] == meets
    assert report["first_failure_alerts_per_s"] > ceiling


def test_ceiling_at_2ms_is_within_10_percent_of_500(at_2ms: tuple[Any, str, Path]) -> None:
    outcome, text, path = at_2ms
    assert outcome.exit_code == ExitCode.OK, text
    report = outcome.report
    assert report["status"] == "found"
    assert 450 <= report["ceiling_alerts_per_s"] <= 550, text
    assert report["emulator_latency_s"] == 0.002
    # The confirmation hold ran at the ceiling, and held.
    assert report["confirmation"]["target_alerts_per_s"] == report["ceiling_alerts_per_s"]
    assert report["confirmation"]["phase"] == "confirm"
    assert report["confirmed"] is True
    assert "Confirmation: " in text and " held for 1.5s" in text
    assert orjson.loads(path.read_bytes())["steps"] == orjson.loads(orjson.dumps(report["steps"]))


def test_ceiling_reports_compare(
    at_15ms: tuple[subprocess.CompletedProcess[str], Path], at_2ms: tuple[Any, str, Path]
) -> None:
    """A candidate with a ceiling far below the base's regresses (exit 1); the other way
    round it improved (exit 0). Only the ceiling is judged."""
    slow, fast = str(at_15ms[1]), str(at_2ms[2])
    worse = run_cli("compare", fast, slow)
    assert worse.returncode == ExitCode.THRESHOLDS_FAILED, worse.stdout + worse.stderr
    assert "Verdict: REGRESSED (1 beyond tolerance: ceiling)" in worse.stdout
    ceiling_line = next(line for line in worse.stdout.splitlines() if line.startswith("ceiling"))
    assert ceiling_line.endswith("REGRESSED")
    better = run_cli("compare", slow, fast)
    assert better.returncode == ExitCode.OK, better.stdout + better.stderr
    assert "improved" in better.stdout
    assert "at ceiling: latency from due p99" in better.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hold", "0"), "--hold: 0.0 is not a duration above zero"),
        (("--start-rate", "fast"), "--start-rate: 'fast' is not a positive rate"),
        (("--factor", "1"), "--factor: 1.0 is not a number above 1"),
        (("--precision", "200%"), "--precision: '200%' is not a fraction"),
        (("--max-p99", "soon"), "--max-p99: 'soon' is not a duration"),
        (("--profile", "nope"), "--profile: 'nope' is not one of"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (the command line parses before anything starts)."""
    with pytest.raises(SystemExit) as info:
        main(["ceiling", *args])
    assert info.value.code == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
