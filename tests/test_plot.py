"""``stressgen plot``: the curves as pure functions over report data, and the real command
drawing two real runs' reports (an emulator in its own process, a light and a heavy run)."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.errors import ExitCode
from stressgen.reports.plot import percentile_curve, time_series
from stressgen.runner import run
from tests import report_data

STRESSGEN = [sys.executable, "-m", "stressgen"]


def test_percentile_curve() -> None:
    latencies = [1.0] * 900 + [10.0] * 99 + [100.0]
    profile = report_data.profile("a", sent=1000, accepted=1000, latencies_ms=latencies)
    xs, values = percentile_curve(report_data.report([profile]))
    assert xs[0] == 1.0  # 0%
    assert xs == sorted(xs) and values == sorted(values)
    assert values[0] == pytest.approx(1.0, rel=1e-3)
    # 1/(1-p): 10 at 90%, 100 at 99%; the 100% point has no place on this axis.
    assert max(xs) < math.inf
    at_99 = [v for x, v in zip(xs, values, strict=True) if 100 <= x < 1000]
    assert at_99 and all(v == pytest.approx(10.0, rel=1e-3) for v in at_99)
    empty = report_data.report([report_data.profile("a", sent=0, accepted=0)])
    assert percentile_curve(empty) == ([], [])


def test_time_series_adds_profiles_up() -> None:
    columns = ["elapsed_s", "alerts_sent", "alerts_accepted", "alerts_failed", "late_sends",
               "p99_ms", "max_ms"]  # fmt: skip
    series = {
        "interval_s": 1.0,
        "columns": columns,
        "profiles": {
            "a": [[1.0, 10, 8, 2, 0, 3.0, 4.0], [2.0, 10, 10, 0, 0, None, None]],
            "b": [[1.0, 5, 5, 0, 0, 7.0, 8.0], [2.5, 6, 6, 0, 0, None, None]],
        },
    }
    report = report_data.report([report_data.profile("a", sent=1, accepted=1)], series=series)
    out = time_series(report)
    assert out["t"] == [1.0, 2.5]
    assert out["sent_per_s"] == [15.0, 16 / 1.5]
    assert out["accepted_per_s"] == [13.0, 16 / 1.5]
    assert out["failed_per_s"] == [2.0, 0.0]
    assert out["p99_ms"][0] == 7.0 and math.isnan(out["p99_ms"][1])
    assert time_series(report_data.report([])) == {
        k: [] for k in ("t", "sent_per_s", "accepted_per_s", "failed_per_s", "p99_ms")
    }


def test_plot_two_real_runs(tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    paths = []
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=0.002)) as emu:
        for name, rate in (("light", 10.0), ("heavy", 60.0)):
            path = tmp_path / f"{name}.json"
            config = RunConfig(
                url=emu.url,
                duration_s=2.0,
                profiles=(ProfileConfig(name="p", rate_per_s=rate),),
                progress_interval_s=3600,
                report_json=str(path),
            )
            assert run(config, out=io.StringIO()).exit_code == ExitCode.OK
            paths.append(str(path))
    report = orjson.loads(Path(paths[1]).read_bytes())
    assert report["series"]["profiles"]["p"]  # the time series the plot draws
    out = tmp_path / "out.png"
    result = subprocess.run(
        [*STRESSGEN, "plot", *paths, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"Plot written to {out}"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(str(out))
    assert pixels.shape[:2] == (900, 1300)
    assert pixels.std() > 0.05  # drawn on, not blank


def test_plot_bad_report_gives_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = subprocess.run(
        [*STRESSGEN, "plot", str(bad), "-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.strip().splitlines() == [
        f"stressgen: error: report: '{bad}' is not a stressgen report "
        "(the JSON that 'stressgen run --report-json' writes)"
    ]
