"""``stressgen doctor`` as a user runs it: a real subprocess with stand-in ``kubectl`` and
``helm`` first on PATH (tests/standins: there is no cluster, no helm here). The stand-ins
answer as each test's scenario says; their ``port-forward`` relays to a real emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stressgen.emulator import EmulatorThread
from tests.helpers import host_port, running_emulator
from tests.standins import Standins, install
from tests.standins.cli import stressgen
from tests.test_cluster_run import cluster_url


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[Standins]:
    """Stand-in kubectl/helm; afterwards, no kubectl port-forward may be alive."""
    tools = install(tmp_path)
    yield tools
    assert tools.alive() == [], "a kubectl port-forward was left running"


def healthy(emu: EmulatorThread, **changes: Any) -> dict[str, Any]:
    """A scenario where every kubectl answer is what a healthy cluster gives."""
    pod = {
        "metadata": {"name": "synchronizer-5d9c7b-x2x"},
        "status": {"phase": "Running", "containerStatuses": [{"ready": True, "state": {}}]},
    }
    host, port = host_port(emu.url)
    scenario: dict[str, Any] = {
        "responses": [
            {"match": ["version"], "stdout": "Client Version: v1.31.0-standin\n"},
            {"match": ["config", "current-context"], "stdout": "standin-context\n"},
            {"match": ["get", "--raw", "/readyz"], "stdout": "ok"},
            {"match": ["get", "namespace", "kubescape"], "stdout": "namespace/kubescape\n"},
            {"match": ["get", "pods"], "stdout": json.dumps({"items": [pod]})},
        ],
        "port_forward": {"target": f"{host}:{port}"},
    }
    scenario.update(changes)
    return scenario


def check_lines(out: str) -> list[str]:
    return [
        line[:4] + " " + line[6:].split(":")[0]
        for line in out.splitlines()
        if line[:4] in ("PASS", "FAIL", "SKIP")
    ]


def test_doctor_all_pass(standins: Standins) -> None:
    """A healthy cluster, as the kubectl/helm stand-ins describe it; the endpoint is
    reached through the stand-in port-forward and the test alert reaches the emulator."""
    with running_emulator() as emu:
        standins.scenario(**healthy(emu))
        result = stressgen(standins, "doctor", "--url", cluster_url())
        accepted = emu.stats()["alerts_accepted"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert check_lines(result.stdout) == [
        "PASS kubectl",
        "PASS helm",
        "PASS cluster reachable",
        "PASS namespace kubescape",
        "PASS synchronizer pod",
        "PASS endpoint",
        "PASS test alert",
    ]
    assert "context standin-context" in result.stdout
    assert "answered 200 through kubectl port-forward" in result.stdout
    assert "All 7 checks passed." in result.stdout
    assert accepted == 1


def test_doctor_without_kubectl(tmp_path: Path) -> None:
    """No kubectl at all (PATH holds only a stand-in helm): it fails with the fix, the
    checks that need it are skipped (the endpoint too: a local URL with nothing listening
    takes a port-forward, which takes kubectl), and the exit code says so."""
    tools = install(tmp_path, tools=("helm",))
    result = stressgen(tools, "doctor", "--url", cluster_url(), system=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert check_lines(result.stdout) == [
        "FAIL kubectl",
        "PASS helm",
        "SKIP cluster reachable",
        "SKIP namespace kubescape",
        "SKIP synchronizer pod",
        "SKIP endpoint",
        "SKIP test alert",
    ]
    assert "needs a port-forward, which needs kubectl" in result.stdout
    assert "fix: install it (https://kubernetes.io/docs/tasks/tools/)" in result.stdout
    assert "kubectl: not found on PATH" in result.stdout
    assert "2 of 7 checks passed" not in result.stdout
    assert "1 of 7 checks passed, 1 failed, 5 skipped" in result.stdout


def test_doctor_crashlooping_synchronizer(standins: Standins) -> None:
    """The synchronizer pod crash-loops and kubectl (stand-in) cannot forward to it: both
    checks fail with kubectl's words and a fix; the alert is skipped."""
    pod = {
        "metadata": {"name": "synchronizer-5d9c7b-x2x"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ],
        },
    }
    with running_emulator() as emu:
        scenario = healthy(emu)
    scenario["responses"][-1] = {"match": ["get", "pods"], "stdout": json.dumps({"items": [pod]})}
    scenario["port_forward"] = {
        "fail": ["error: unable to forward port because pod is not running. Current status=Pending"]
    }
    standins.scenario(**scenario)
    result = stressgen(standins, "doctor", "--url", cluster_url())
    assert result.returncode == 3
    assert check_lines(result.stdout)[-3:] == [
        "FAIL synchronizer pod",
        "FAIL endpoint",
        "SKIP test alert",
    ]
    assert "synchronizer-5d9c7b-x2x Running (CrashLoopBackOff)" in result.stdout
    assert "fix: kubectl describe pods -n kubescape" in result.stdout
    assert "unable to forward port because pod is not running" in result.stdout


def test_doctor_alert_not_accepted(standins: Standins) -> None:
    """Everything answers, but the synchronizer (the emulator, told to fail every alert)
    answers 500: the last check fails with the status and the fix."""
    with running_emulator(error_rate=1.0, error_status=500) as emu:
        standins.scenario(**healthy(emu))
        result = stressgen(standins, "doctor", "--url", cluster_url())
    assert result.returncode == 3
    assert check_lines(result.stdout)[-1] == "FAIL test alert"
    assert "answered 500, not 202" in result.stdout
    assert "fix: the synchronizer could not read the alert" in result.stdout
