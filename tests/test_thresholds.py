"""Thresholds: the parser and the evaluator as tables over plain data, the verdict's
precedence, the config file key, and ``stressgen run --threshold`` as a user runs it
(a real subprocess against the built-in emulator; a closed port for a failed run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stressgen.config import with_overrides
from stressgen.config_file import from_mapping
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.report import exit_code, verdict
from stressgen.errors import ConfigError, ExitCode
from stressgen.thresholds import evaluate_thresholds, parse_threshold, parse_thresholds
from tests import report_data

STRESSGEN = [sys.executable, "-m", "stressgen"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESSGEN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "unit"),
    [
        ("p99<500ms", "p99", "<", 500.0, "ms"),
        (" p99.9 <= 1.5s ", "p99.9", "<=", 1500.0, "ms"),
        ("P99<250us", "p99", "<", 0.25, "ms"),
        ("due.p90<1m", "p90", "<", 60_000.0, "ms"),
        ("sent.p99.99<20ms", "sent.p99.99", "<", 20.0, "ms"),
        ("p100<1s", "p100", "<", 1000.0, "ms"),
        ("p99.90<1s", "p99.9", "<", 1000.0, "ms"),
        ("lateness.max<=5ms", "lateness.max", "<=", 5.0, "ms"),
        ("mean>1ms", "mean", ">", 1.0, "ms"),
        ("success>=99.9%", "success", ">=", 99.9, "%"),
        ("success>=0.999", "success", ">=", 99.9, "%"),
        ("accepted>95%", "accepted", ">", 95.0, "%"),
        ("rate>=99%", "rate", ">=", 99.0, "%"),
        ("rate>=50/s", "rate", ">=", 50.0, "/s"),
        ("rate>=3000/min", "rate", ">=", 50.0, "/s"),
        ("failures<=10", "failures", "<=", 10.0, ""),
        ("errors<1%", "failures", "<", 1.0, "%"),
        ("late==0", "late", "==", 0.0, ""),
        ("unsent<0.5%", "unsent", "<", 0.5, "%"),
    ],
)  # fmt: skip
def test_parse(text: str, metric: str, op: str, limit: float, unit: str) -> None:
    threshold = parse_threshold(text, "--threshold")
    assert (threshold.metric, threshold.op, threshold.unit) == (metric, op, unit)
    assert threshold.limit == pytest.approx(limit)
    assert threshold.expression == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p99<<5", "'p99<<5' is not a threshold like p99<500ms, success>=99.9% or rate>=99%"),
        ("p99", "is not a threshold like p99<500ms"),
        ("p99=5ms", "is not a threshold like p99<500ms"),
        ("p99=<5ms", "is not a threshold like p99<500ms"),
        ("p99<", "is not a threshold like p99<500ms"),
        ("<5ms", "is not a threshold like p99<500ms"),
        ("p99<500", "'p99<500' is not a latency threshold with a unit, like p99<500ms"),
        ("p99<fast", "is not a latency threshold with a unit"),
        ("p101<1s", "is not a percentile between p0 and p100"),
        ("foo<5", "'foo<5' is not a threshold on a known metric: p50, p90, p99"),
        ("bogus.p99<5ms", "is not a threshold on a known metric"),
        ("success>=101%", "is not a percentage like 99.9% or a fraction like 0.999 (at most 100%)"),
        ("success>=99", "is not a percentage like 99.9% or a fraction like 0.999"),
        ("rate>=0.99", "is not a rate threshold like rate>=99% or rate>=50/s"),
        ("rate>=fast/s", "is not a rate threshold like rate>=99% or rate>=50/s"),
        ("failures<1.5", "is not a failures threshold with a whole count or a percentage"),
        (5, "5 is not a threshold like p99<500ms"),
    ],
)  # fmt: skip
def test_parse_errors_name_the_flag_value_and_form(text: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_threshold(text, "--threshold")
    assert str(caught.value).startswith("--threshold: ")
    assert message in str(caught.value)


def sample_report(**overrides: Any) -> dict[str, Any]:
    """1000 sent, 990 accepted, 10 never sent, 3 late; 980 answers in 1 ms, 19 in 50 ms,
    one in 400 ms (from due); 0.5 ms each from sent; 10 s window and span."""
    latencies = [1.0] * 980 + [50.0] * 19 + [400.0]
    profile = report_data.profile(
        "a",
        sent=1000,
        accepted=990,
        latencies_ms=latencies,
        sent_latencies_ms=[0.5] * 1000,
        late=3,
        unsent=10,
    )
    return report_data.report([profile], **overrides)


@pytest.mark.parametrize(
    ("text", "measured", "ok"),
    [
        ("p50<2ms", 1.0, True),
        ("p99<51ms", 50.0, True),
        ("p99<40ms", 50.0, False),
        ("p99.9<60ms", 50.0, True),
        ("max<300ms", 400.0, False),
        ("max<0.5s", 400.0, True),
        ("sent.p99<1ms", 0.5, True),
        ("lateness.max<1ms", None, False),  # no data: fails
        ("success>=99%", 99.0, True),
        ("success>=99.9%", 99.0, False),
        ("accepted>=99%", 100 * 990 / 1010, False),
        ("rate>=99%", 100 * 100 / 101, True),
        ("rate>=100/s", 100.0, True),
        ("rate>101/s", 100.0, False),
        ("failures<=10", 10.0, True),
        ("failures<1%", 1.0, False),
        ("errors==10", 10.0, True),
        ("late<5", 3.0, True),
        ("late<0.1%", 0.3, False),
        ("unsent==0", 10.0, False),
        ("unsent<1%", 100 * 10 / 1010, True),
    ],
)  # fmt: skip
def test_evaluate(text: str, measured: float | None, ok: bool) -> None:
    [result] = evaluate_thresholds([parse_threshold(text, "t")], sample_report())
    assert result["ok"] is ok
    if measured is None:
        assert result["measured"] is None
    else:
        assert result["measured"] == pytest.approx(measured, rel=2e-3)  # HDR: 3 digits


def test_latency_is_measured_over_all_profiles() -> None:
    fast = report_data.profile("fast", sent=100, accepted=100, latencies_ms=[1.0] * 100)
    slow = report_data.profile("slow", sent=100, accepted=100, latencies_ms=[100.0] * 100)
    report = report_data.report([fast, slow])
    results = evaluate_thresholds(
        [parse_threshold(t, "t") for t in ("p50<2ms", "p99<2ms", "max>=100ms")], report
    )
    assert [r["ok"] for r in results] == [True, False, True]


@pytest.mark.parametrize(
    ("overrides", "thresholds", "status", "code"),
    [
        ({}, ["p99<1s"], "PASSED", ExitCode.OK),
        ({}, ["p99<1s", "p99<1ms"], "THRESHOLDS_FAILED", ExitCode.THRESHOLDS_FAILED),
        ({"window_s": 10.0, "interrupted": True}, ["p99<1ms"], "INTERRUPTED", ExitCode.INTERRUPTED),
        ({"interrupted": True}, ["p99<1s"], "INTERRUPTED", ExitCode.INTERRUPTED),
    ],
)  # fmt: skip
def test_verdict_precedence(
    overrides: dict[str, Any], thresholds: list[str], status: str, code: ExitCode
) -> None:
    report = sample_report(**overrides)
    report["thresholds"] = evaluate_thresholds(
        [parse_threshold(t, "t") for t in thresholds], report
    )
    report["verdict"] = verdict(report)
    assert report["verdict"]["status"] == status
    assert exit_code(report) == code
    if "p99<1ms" in thresholds:
        assert "threshold p99<1ms failed (measured 50ms)" in report["verdict"]["reasons"]


def test_a_failed_run_outranks_failed_thresholds() -> None:
    profile = report_data.profile("a", sent=100, accepted=50, latencies_ms=[1.0] * 100)
    report = report_data.report([profile])
    report["thresholds"] = evaluate_thresholds([parse_threshold("success>=99%", "t")], report)
    report["verdict"] = verdict(report)
    assert report["verdict"]["status"] == "FAILED"
    assert exit_code(report) == ExitCode.RUN_FAILED
    assert report["verdict"]["reasons"][-1] == "threshold success>=99% failed (measured 50%)"


PROFILES = [{"name": "a", "rate_per_minute": 60}]


def test_config_file_key_and_flags() -> None:
    config = from_mapping({"alert_profiles": PROFILES, "thresholds": ["p99<1s", "success>=99%"]})
    assert [t.metric for t in config.thresholds] == ["p99", "success"]
    # Flags replace the file's list, as every flag overrides the file.
    flagged = with_overrides(config, thresholds=["max<2s"])
    assert [t.expression for t in flagged.thresholds] == ["max<2s"]
    assert with_overrides(config, thresholds=()).thresholds == config.thresholds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["p99<1s", "p99<<5"], "thresholds[1]: 'p99<<5' is not a threshold like"),
        ("p99<1s", "thresholds: 'p99<1s' is not a list of thresholds"),
        ([5], "thresholds[0]: 5 is not a threshold like"),
    ],
)
def test_config_file_errors(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_mapping({"alert_profiles": PROFILES, "thresholds": value})
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_thresholds(value, "thresholds")


def test_run_with_thresholds_prints_each_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    result = run_cli(
        "run", "--duration", "2s", "--rate", "20/s", "--workers", "1",
        "--threshold", "p99<10s", "--threshold", "p50<1us", "--threshold", "success>=99%",
        "--report-json", str(path),
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == ExitCode.THRESHOLDS_FAILED, out + result.stderr
    assert "Thresholds: 2 of 3 passed" in out
    assert re.search(r"pass  p99<10s\s+measured [\d.]+ms", out), out
    assert re.search(r"FAIL  p50<1us\s+measured [\d.]+ms", out), out
    assert re.search(r"pass  success>=99%\s+measured 100%", out), out
    assert "Result: THRESHOLDS_FAILED: threshold p50<1us failed (measured " in out
    report = orjson.loads(path.read_bytes())
    assert [(t["expression"], t["ok"]) for t in report["thresholds"]] == [
        ("p99<10s", True),
        ("p50<1us", False),
        ("success>=99%", True),
    ]
    assert report["verdict"]["status"] == "THRESHOLDS_FAILED"


def test_failed_run_keeps_exit_4_with_thresholds() -> None:
    """Every answer is a 500: the run failed (4), which outranks its failed threshold."""
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, error_rate=1.0)) as emu:
        result = run_cli(
            "run", "--url", emu.url, "--duration", "1s", "--rate", "10/s", "--workers", "1",
            "--threshold", "success>=99%", "--threshold", "p99<10s",
        )  # fmt: skip
    assert result.returncode == ExitCode.RUN_FAILED, result.stdout + result.stderr
    assert "FAIL  success>=99%  measured 0%" in result.stdout
    assert "pass  p99<10s       measured" in result.stdout  # failed answers have latency too
    assert (
        "Result: FAILED: the target accepted no alerts; "
        "threshold success>=99% failed (measured 0%)" in result.stdout
    )


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--threshold", "p99<<5"], None,
         "--threshold: 'p99<<5' is not a threshold like p99<500ms"),
        (["--threshold", "p99<1s", "--threshold", "lag<5"], None,
         "--threshold: 'lag<5' is not a threshold on a known metric"),
        ([], "alert_profiles: [{name: a, rate_per_minute: 5}]\nthresholds: ['p99<500']\n",
         "thresholds[0]: 'p99<500' is not a latency threshold with a unit"),
    ],
)  # fmt: skip
def test_bad_threshold_gives_one_line_and_sends_nothing(
    tmp_path: Path, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        path = tmp_path / "bad.yaml"
        path.write_text(config)
        args = ["--config", str(path), *args]
    result = run_cli("run", *args)
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert result.stdout == ""
