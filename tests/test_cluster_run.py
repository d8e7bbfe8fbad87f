"""``stressgen run`` through an automatic port-forward, as a user runs it: real
subprocesses, real signals. kubectl is a stand-in (tests/standins: there is no cluster
here) that listens on the local port and relays TCP to a real emulator, so alerts cross a
real second hop; the tests count them on both sides and check that no kubectl outlives the
run, however it ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stressgen.emulator import EmulatorThread
from tests.helpers import host_port, running_emulator
from tests.standins import Standins, install
from tests.test_cli_run import wait_for_line

STRESSGEN = [sys.executable, "-m", "stressgen"]


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[Standins]:
    """Stand-in kubectl/helm; afterwards, no run may be left and no kubectl alive."""
    tools = install(tmp_path)
    yield tools
    for proc in tools.started:
        if proc.poll() is None:  # a test that failed half-way: end its run, then judge
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 5
    while tools.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tools.alive() == [], "a kubectl port-forward was left running"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with running_emulator() as emulator:
        yield emulator


def cluster_url() -> str:
    """The seed's localhost URL, on a port free here (so the run must forward)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://localhost:{port}/apis/v1/kubescape.io"


def start(tools: Standins, *args: str) -> subprocess.Popen[str]:
    """A run against the 'cluster' in its own session, as a terminal would start it."""
    proc = subprocess.Popen(
        [*STRESSGEN, "run", "--url", cluster_url(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=tools.env(),
        start_new_session=True,
    )
    tools.started.append(proc)
    return proc


def relay_to(emu: EmulatorThread) -> str:
    host, port = host_port(emu.url)
    return f"{host}:{port}"


def test_kubectl_dying_mid_run_is_restarted_and_the_gap_counted(
    standins: Standins, emu: EmulatorThread, tmp_path: Path
) -> None:
    """The first kubectl (stand-in) dies 1 s after it started; the second takes 0.3 s to
    come up. The run goes on through the restarted forward; every failed alert is charged
    to the outage; what the emulator accepted is what the report says was accepted."""
    standins.scenario(
        port_forward={"target": relay_to(emu), "die_after_s": {"1": 1.0}, "delay_s": 0.3}
    )
    report_path = tmp_path / "report.json"
    proc = start(
        standins,
        "--duration",
        "4s",
        "--rate",
        "20/s",
        "--workers",
        "2",
        "--progress-interval",
        "1s",
        "--report-json",
        str(report_path),
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 4), out + err  # 4 if the gap cost over 10% of the alerts
    report = json.loads(report_path.read_text())
    forward = report["port_forward"]
    assert forward["restarts"] == 1
    [outage] = forward["outages"]
    assert outage["duration_s"] >= 0.3
    totals = report["totals"]
    assert totals["alerts_failed"] > 0
    assert forward["failed_alerts_while_down"] == outage["failed_alerts"] == totals["alerts_failed"]
    assert emu.stats()["alerts_accepted"] == totals["alerts_accepted"]
    assert "Port-forward lost (kubectl exited with code 1: error: lost connection to pod)" in out
    assert "the seed's port-forward bottleneck" in out
    assert "Port-forward: lost once, 1 kubectl restart(s)" in out
    lines = out.splitlines()
    rate = next(i for i, line in enumerate(lines) if line.startswith("Average rate:"))
    assert "Through a port-forward (127.0.0.1:" in lines[rate + 1]
    assert len(standins.forward_pids()) == 2


def test_kubectl_failing_at_start_means_no_run(standins: Standins) -> None:
    """kubectl (stand-in) cannot forward: exit code 3, kubectl's own words and what to
    check on stderr, nothing sent."""
    standins.scenario(
        port_forward={"fail": ["error: unable to forward port because pod is not running"]}
    )
    proc = start(standins, "--duration", "5s")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, out + err
    assert "error: unable to forward port because pod is not running" in err
    assert "kubectl get pods -n kubescape | grep synchronizer" in err
    assert "Sending to" not in out and "Traceback" not in err


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_signal_mid_run_stops_kubectl(standins: Standins, emu: EmulatorThread, how: str) -> None:
    """Ctrl-C (to the whole group, as a terminal sends it) or SIGTERM mid-run: the report
    still says the forward was in use, exit 130, and kubectl (stand-in) is gone. It runs in
    a session of its own, so the Ctrl-C itself does not reach it: stressgen stops it."""
    standins.scenario(port_forward={"target": relay_to(emu)})
    proc = start(standins, "--duration", "60s", "--rate", "20/s", "--progress-interval", "1s")
    wait_for_line(proc, r"^Progress: ")
    [pid] = standins.alive()
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Result: INTERRUPTED" in out and "Port-forward: up for the whole run." in out
    assert standins.alive([pid]) == []


def test_sigterm_while_waiting_for_the_forward(standins: Standins) -> None:
    """SIGTERM while kubectl (stand-in, 20 s to come up) is not ready yet: stressgen stops
    waiting, stops kubectl and exits 130 at once."""
    standins.scenario(port_forward={"target": "127.0.0.1:9", "delay_s": 20})
    proc = start(standins, "--duration", "5s")
    wait_for_line(proc, r"^Starting the port-forward")
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert time.monotonic() - started < 5
    assert len(standins.forward_pids()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kubectl_dies_with_a_killed_stressgen(standins: Standins, emu: EmulatorThread) -> None:
    """Even SIGKILL, which no cleanup code sees, leaves no kubectl (stand-in) behind: it
    was started to die with its parent."""
    standins.scenario(port_forward={"target": relay_to(emu)})
    proc = start(standins, "--duration", "60s", "--rate", "5/s", "--progress-interval", "1s")
    wait_for_line(proc, r"^Progress: ")
    assert len(standins.alive()) == 1
    # stressgen and its workers (its process group); kubectl has a session of its own
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
