"""``stressgen run`` as a user runs it: real subprocesses, real signals, exit codes, and the
one-line errors for bad flags and configs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stressgen.emulator import EmulatorConfig, EmulatorProcess

STRESSGEN = [sys.executable, "-m", "stressgen"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESSGEN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def group_alive(pgid: int, wait_s: float = 5.0) -> bool:
    """Whether any process of the group is still there after ``wait_s`` (multiprocessing's
    resource tracker leaves a moment after its parent)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def start(*args: str) -> subprocess.Popen[str]:
    """A stressgen run in its own session, as a terminal would start it."""
    return subprocess.Popen(
        [*STRESSGEN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 30) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if re.search(pattern, line):
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no line matching {pattern!r}")


def test_main_command_runs_against_builtin_emulator() -> None:
    result = run_cli("run", "--duration", "2s", "--progress-interval", "1s")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "No target given: started the built-in synchronizer emulator" in out
    assert re.search(r"Progress: 1s elapsed, 1s remaining \| Alerts: \d+ sent, 0 failed", out)
    assert "BACKEND STRESS TEST RESULTS" in out
    assert "Result: PASSED" in out
    sent = int(re.search(r"Alerts sent: (\d+)", out).group(1))  # type: ignore[union-attr]
    emulator = int(re.search(r"Emulator counted: (\d+) alerts accepted", out).group(1))  # type: ignore[union-attr]
    assert sent == emulator == 34  # ceil(500/min x 2 workers x 2 s)


def test_profiles_lists_presets() -> None:
    result = run_cli("profiles")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"default", "sustained", "burst"} <= set(names)
    assert re.search(r"sustained\s+50\.0 alerts/s", result.stdout)


@pytest.mark.parametrize(
    ("signals", "code"),
    [([signal.SIGINT], 130), ([signal.SIGTERM], 130)],
)
def test_signal_gives_report_and_leaves_no_process(
    signals: list[int], code: int, tmp_path: Path
) -> None:
    """The report counts what the schedule asked for up to the stop: every alert due by
    then was sent or is counted as never sent (a few due in the moment it takes the
    signal to reach the worker may add to those), none of those due after it."""
    report = tmp_path / "r.json"
    proc = start(
        "run", "--duration", "60s", "--rate", "20/s", "--progress-interval", "1s",
        "--report-json", str(report),
    )  # fmt: skip
    wait_for_line(proc, r"^Progress: ")
    workers = children_of(proc.pid)
    assert len(workers) >= 2  # the emulator and at least one worker process
    for sig in signals:
        # A terminal's Ctrl-C reaches the whole process group; SIGTERM usually one process.
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "BACKEND STRESS TEST RESULTS" in out
    assert "Result: INTERRUPTED" in out
    assert "Traceback" not in err
    assert not group_alive(proc.pid), "a process of the run was left behind"
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    totals = json.loads(report.read_text())["totals"]
    asked = totals["alerts_sent"] + totals["requests_unsent"]
    assert 20 <= totals["expected_alerts"] <= asked <= totals["expected_alerts"] + 2, totals
    assert totals["expected_alerts"] < 200  # due by the stop, not by the end of the drain


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    """SIGKILL to the supervisor alone (an OOM kill, say): its workers notice within a
    publish interval, stop sending and exit; the target sees no more alerts."""
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True)) as emu:
        proc = start(
            "run", "--url", emu.url, "--duration", "60s", "--rate", "50/s",
            "--progress-interval", "1s",
        )  # fmt: skip
        wait_for_line(proc, r"^Progress: ")
        workers = children_of(proc.pid)
        assert workers
        proc.kill()
        proc.wait(10)
        time.sleep(2.5)  # a publish interval and then some
        before = emu.stats()["accepted"]
        time.sleep(1.0)
        assert emu.stats()["accepted"] == before, "a worker went on sending"
        assert before > 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_second_ctrl_c_stops_at_once() -> None:
    """Requests hang at a 30 s-latency emulator: the first Ctrl-C waits to drain, the
    second cuts them off and the report counts them as in flight."""
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, latency_s=30.0)) as emu:
        proc = start(
            "run", "--url", emu.url, "--duration", "60s", "--rate", "10/s", "--workers", "1",
            "--progress-interval", "1s",
        )  # fmt: skip
        wait_for_line(proc, r"^Progress: ")
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
    assert proc.returncode == 130, err
    in_flight = re.search(r"Cut off by the stop: (\d+) alerts in flight", out)
    assert in_flight and int(in_flight.group(1)) > 0, out
    assert not group_alive(proc.pid)


def test_killed_worker_process_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "two.yaml"
    config.write_text(
        "duration: 6s\n"
        "alert_profiles:\n"
        "  - {name: first, rate_per_minute: 1200, worker_count: 1}\n"
        "  - {name: second, rate_per_minute: 1200, worker_count: 1, rule_id: R0001}\n"
    )
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True)) as emu:
        proc = start("run", "--config", str(config), "--url", emu.url, "--progress-interval", "1s")
        wait_for_line(proc, r"^Progress: ")
        workers = [pid for pid in children_of(proc.pid) if b"resource_tracker" not in
                   Path(f"/proc/{pid}/cmdline").read_bytes()]  # fmt: skip
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        stats = emu.stats()
    assert proc.returncode == 4, out + err
    assert re.search(r"PROBLEM: worker process stressgen-(first|second)-\d .* died", out), out
    assert "Result: FAILED" in out
    # The surviving profile's alerts all arrived and are reported.
    accepted = [int(n) for n in re.findall(r"Profile \w+: \d+ requests sent, (\d+) accepted", out)]
    assert max(accepted) == 120
    assert stats["alerts_accepted"] >= sum(accepted)


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--rate", "fast"], None, "--rate: 'fast' is not a positive rate"),
        (["--rate", "-5"], None, "--rate: '-5' is not a positive rate"),
        (["--duration", "0s"], None, "--duration: '0s' is not"),
        (["--duration", "soon"], None, "--duration: 'soon' is not a duration"),
        (["--workers", "0"], None, "--workers: 0 is not"),
        (["--alerts-per-request", "51"], None, "--alerts-per-request: 51 is not"),
        (["--url", "ftp://host"], None, "--url: 'ftp://host' is not"),
        (["--profile", "nope"], None, "--profile: 'nope' is not one of"),
        (["--bogus"], None, "No such option '--bogus'"),
        ([], "alert_profiles:\n  - {name: a, rate_per_minute: -5}\n",
         "alert_profiles[0].rate_per_minute: -5 is not"),
        ([], "alert_profiles:\n  - {name: a, rate_per_min: 5}\n",
         "alert_profiles[0]: 'rate_per_min' is not a known key (did you mean rate_per_minute?)"),
        ([], "alert_profiles:\n  - {name: a, rate_per_minute: 5, severity: '1'}\n",
         "alert_profiles[0].severity: '1' is not"),
        ([], "alert_profiles:\n  - {name: a, rate_per_minute: 5, syscall: 'no such'}\n",
         "alert_profiles[0].syscall: 'no such' is not"),
        ([], "duration_minutes: 1\nduration: 5s\nalert_profiles: [{name: a, rate_per_minute: 5}]\n",
         "duration"),
        ([], "synchronizer_url: 5\nalert_profiles: [{name: a, rate_per_minute: 5}]\n",
         "synchronizer_url: 5 is not"),
        ([], "alert_profiles: [\n", "bad.yaml:2:1: '' is not valid YAML"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_line_and_sends_nothing(
    tmp_path: Path, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        path = tmp_path / "bad.yaml"
        path.write_text(config)
        args = ["--config", str(path), *args]
    result = run_cli("run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nothing started, nothing sent


def test_missing_config_file() -> None:
    result = run_cli("run", "--config", "/nonexistent/stress.yaml")
    assert result.returncode == 2
    assert "/nonexistent/stress.yaml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
