"""``stressgen cluster up|down`` as a user runs it: real subprocesses (the profile wait's
timeout: in this process) with stand-in ``kubectl`` and ``helm`` first on PATH
(tests/standins: there is no cluster, no helm here). The stand-ins record every call and
answer as each test's scenario says."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stressgen.cluster import lifecycle
from stressgen.cluster.commands import ToolError
from stressgen.cluster.config import ClusterConfig, KubeAccess
from stressgen.cluster.helm import up_plan
from tests.standins import Standins, install
from tests.standins.cli import stressgen

SECRETS = {
    "STRESSGEN_ACCOUNT": "11111111-aaaa-4bbb-8ccc-000000001111",
    "STRESSGEN_ACCESS_KEY": "ak-secret-2222",
    "SECRET_KEY": "sk-secret-3333",
    "CLIENT_ID": "cid-secret-4444",
}
SET_SECRET = "pw-secret-5555"
NO_CREDENTIALS = dict.fromkeys(("STRESSGEN_ACCOUNT", "CUSTOMER", "STRESSGEN_ACCESS_KEY"), "")
"""Blanks over whatever the machine's environment holds (empty counts as not set)."""


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[Standins]:
    """Stand-in kubectl/helm; afterwards, no kubectl port-forward may be alive."""
    tools = install(tmp_path)
    yield tools
    assert tools.alive() == [], "a kubectl port-forward was left running"


def leaked(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Secrets that appear anywhere stressgen printed."""
    printed = result.stdout + result.stderr
    return [s for s in [*SECRETS.values(), SET_SECRET] if s in printed]


def argvs(tools: Standins) -> list[str]:
    return [f"{c['tool']} {' '.join(c['argv'])}" for c in tools.calls()]


def test_up_dry_run_prints_the_exact_commands_with_secrets_masked(
    standins: Standins, tmp_path: Path
) -> None:
    """--dry-run runs nothing (the stand-ins record no call) and prints every command,
    with what helm would read on stdin; no secret appears, whatever its source."""
    values = tmp_path / "mine.yaml"
    values.write_text("logger:\n  level: debug\n")
    result = stressgen(
        standins,
        "cluster",
        "up",
        "--dry-run",
        "--kube-context",
        "ctx",
        "-f",
        str(values),
        "--set",
        f"imagePullSecret.password={SET_SECRET}",
        "--set",
        "nodeAgent.config.learningPeriod=2m",
        env=SECRETS,
    )
    assert result.returncode == 0, result.stderr
    assert standins.calls() == []
    out = result.stdout
    assert leaked(result) == []
    assert (
        "$ helm repo add kubescape https://kubescape.github.io/helm-charts/ --force-update "
        "--kube-context ctx\n"
    ) in out
    assert (
        "$ helm upgrade --install kubescape kubescape/kubescape-operator --namespace kubescape "
        f"--create-namespace --values - --values {values} "
        "--set 'imagePullSecret.password=***' --set nodeAgent.config.learningPeriod=2m "
        "--wait --timeout 360s --kube-context ctx\n"
    ) in out
    for line in (
        "account: '***'",
        "accessKey: '***'",
        "server: api.armosec.io",
        "runtimeDetection: enable",
        "installDefault: true",
        "learningPeriod: 50s",
        "clusterName: stress-test-cluster",
    ):
        assert line in out, line
    # the seed's API credentials are not chart values: not given to helm at all
    assert "secretKey" not in out and "clientID" not in out
    assert result.stderr == ""  # account and access key set: nothing to warn about
    assert "$ kubectl --context ctx rollout status deployment/synchronizer" in out
    assert "$ kubectl --context ctx apply -f -\n" in out and "kind: Deployment" in out
    assert "until the application profile of stress-test-workload is complete" in out


def test_up_runs_the_plan_and_waits_for_the_profile(standins: Standins) -> None:
    """helm and kubectl (stand-ins) are called in the seed's order; helm gets the
    credentials on stdin (never in its arguments); the profile is polled until complete."""
    learning = {
        "items": [
            {
                "metadata": {
                    "labels": {"kubescape.io/workload-name": "stress-test-workload"},
                    "annotations": {
                        "kubescape.io/status": "learning",
                        "kubescape.io/completion": "partial",
                    },
                }
            }
        ]
    }
    done = json.loads(json.dumps(learning))
    done["items"][0]["metadata"]["annotations"] = {
        "kubescape.io/status": "completed",  # the seed's test; completion may stay partial
        "kubescape.io/completion": "partial",
    }
    standins.scenario(
        responses=[
            {
                "match": ["get", "applicationprofiles.spdx.softwarecomposition.kubescape.io"],
                "sequence": [{"stdout": json.dumps(learning)}, {"stdout": json.dumps(done)}],
            },
        ]
    )
    result = stressgen(standins, "cluster", "up", "--poll-interval", "0.1s", env=SECRETS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert leaked(result) == []
    calls = argvs(standins)
    expected = [
        "helm repo add kubescape https://kubescape.github.io/helm-charts/ --force-update",
        "helm repo update kubescape",
        "helm upgrade --install kubescape kubescape/kubescape-operator",
        "kubectl rollout status deployment/synchronizer",
        "kubectl apply -f -",
        "kubectl rollout status deployment/stress-test-workload",
        "kubectl get applicationprofiles.spdx.softwarecomposition.kubescape.io",
        "kubectl get applicationprofiles.spdx.softwarecomposition.kubescape.io",
    ]
    assert len(calls) == len(expected)
    assert all(c.startswith(e) for c, e in zip(calls, expected, strict=True)), calls
    install_call = standins.calls("helm")[2]
    assert all(s not in " ".join(install_call["argv"]) for s in SECRETS.values())
    assert "accessKey: ak-secret-2222" in install_call["stdin"]
    assert "sk-secret-3333" not in install_call["stdin"]
    assert "name: stress-test-workload" in standins.calls("kubectl")[1]["stdin"]
    assert "Application profile of stress-test-workload: learning" in result.stdout
    assert (
        "Application profile of stress-test-workload: completed (completion: partial)"
    ) in result.stdout


def test_helm_error_that_echoes_secrets_is_redacted(standins: Standins) -> None:
    """helm (stand-in) fails and echoes its values, secrets included, in its error: the
    user sees helm's words with the secrets masked, exit code 3, and nothing runs after."""
    standins.scenario(
        responses=[
            {
                "tool": "helm",
                "match": ["upgrade"],
                "rc": 1,
                "echo_stdin": True,
                "stderr": "Error: INSTALLATION FAILED: context deadline exceeded\n",
            },
        ]
    )
    result = stressgen(
        standins, "cluster", "up", "--set", f"imagePullSecret.password={SET_SECRET}", env=SECRETS
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert leaked(result) == []
    assert "Error: INSTALLATION FAILED: context deadline exceeded" in result.stderr
    assert "failed (exit code 1)" in result.stderr
    assert "***" in result.stderr
    assert len(standins.calls()) == 3


def test_down_removes_workload_then_release(standins: Standins) -> None:
    """kubectl/helm stand-ins; an uninstall of a release that is not there is not an error."""
    standins.scenario(
        responses=[
            {
                "tool": "helm",
                "match": ["uninstall"],
                "rc": 1,
                "stderr": "Error: uninstall: Release not loaded: kubescape: release: not found\n",
            },
        ]
    )
    result = stressgen(standins, "cluster", "down", "--kubeconfig", "/tmp/kc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert argvs(standins) == [
        "kubectl --kubeconfig /tmp/kc delete namespace stress-test-namespace --ignore-not-found "
        "--wait=true --timeout=300s",
        "helm uninstall kubescape --namespace kubescape --wait --timeout 300s --kubeconfig /tmp/kc",
    ]


def test_a_secret_after_a_comma_in_set_is_masked(standins: Standins) -> None:
    """helm (not run: --dry-run) would read ``clusterName=x,accessKey=...`` as two values;
    the second one's secret-looking key masks its value too."""
    result = stressgen(
        standins,
        "cluster",
        "up",
        "--dry-run",
        "--set",
        "clusterName=x,accessKey=LEAKME1",
        env=SECRETS,
    )
    assert result.returncode == 0, result.stderr
    assert "LEAKME1" not in result.stdout + result.stderr
    assert "--set 'clusterName=x,accessKey=***'" in result.stdout
    assert result.stderr == ""  # the access key is given (by --set): no warning


def test_dry_run_without_an_account_shows_a_placeholder(standins: Standins) -> None:
    """No credentials at all: --dry-run still prints the plan (nothing runs: the stand-ins
    record no call), with a placeholder for the account and one warning line for each of
    the account and the access key."""
    result = stressgen(standins, "cluster", "up", "--dry-run", env=NO_CREDENTIALS)
    assert result.returncode == 0, result.stderr
    assert "account: <STRESSGEN_ACCOUNT>" in result.stdout
    assert "accessKey" not in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("stressgen: warning: ") for w in warnings)
    assert "STRESSGEN_ACCOUNT is not set: shown as <STRESSGEN_ACCOUNT>" in warnings[0]
    assert "STRESSGEN_ACCESS_KEY is not set: installing without an access key" in warnings[1]
    assert standins.calls() == []


def test_install_without_an_access_key_warns_once(standins: Standins) -> None:
    """An account and the seed's API credentials but no access key: helm (stand-in) is run
    with no access key -- there is none to give, CLIENT_ID/SECRET_KEY are not one -- and one
    warning line says so, naming the variables, showing no value."""
    standins.scenario(
        responses=[
            {
                "match": ["get", "applicationprofiles.spdx.softwarecomposition.kubescape.io"],
                "stdout": json.dumps(
                    {
                        "items": [
                            {
                                "metadata": {
                                    "labels": {
                                        "kubescape.io/workload-name": "stress-test-workload"
                                    },
                                    "annotations": {"kubescape.io/status": "completed"},
                                }
                            }
                        ]
                    }
                ),
            },
        ]
    )
    env = {**SECRETS, "STRESSGEN_ACCESS_KEY": "", "CUSTOMER": ""}
    result = stressgen(standins, "cluster", "up", "--poll-interval", "0.1s", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert leaked(result) == []
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith("stressgen: warning: STRESSGEN_ACCESS_KEY is not set")
    assert "CLIENT_ID and SECRET_KEY are the seed's API credentials" in warning
    stdin = standins.calls("helm")[2]["stdin"]
    assert "accessKey" not in stdin and "sk-secret-3333" not in stdin
    assert "account: 11111111-aaaa-4bbb-8ccc-000000001111" in stdin
    assert "completed (completion: ?)" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["up"], NO_CREDENTIALS, "STRESSGEN_ACCOUNT: '' is not set"),
        (["up", "--set", "novalue"], SECRETS, "--set: 'novalue' is not KEY=VALUE"),
        (
            ["up", "--set", f"imagePullSecret password={SET_SECRET}"],
            SECRETS,
            "--set: 'imagePullSecret password=***' is not KEY=VALUE",
        ),
        (
            ["up", "--dry-run", "--set", f"a=1,b c={SET_SECRET}"],
            SECRETS,
            "--set: 'b c=***' is not KEY=VALUE",
        ),
    ],
)
def test_usage_errors_are_one_line(
    standins: Standins, args: list[str], env: dict[str, str], message: str
) -> None:
    """Nothing runs (the stand-ins record no call) and one line names the problem (the
    other values' checks are table-tested in test_cluster_core)."""
    result = stressgen(standins, "cluster", *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"stressgen: error: {message}")
    assert leaked(result) == []
    assert standins.calls() == []


def test_up_without_helm_says_where_to_get_it(tmp_path: Path) -> None:
    """Only a stand-in kubectl on PATH (no helm at all): exit 3 before anything runs."""
    tools = install(tmp_path, tools=("kubectl",))
    result = stressgen(tools, "cluster", "up", system=False, env=SECRETS)
    assert result.returncode == 3
    assert "helm not found on PATH (install it: https://helm.sh/docs/intro/install/)" in (
        result.stderr
    )
    assert tools.calls() == []


def test_profile_wait_gives_up_at_its_timeout(
    standins: Standins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubectl (stand-in, run from this process) first fails, then shows a profile that
    never completes: the wait retries, says what it sees, and stops at its timeout."""
    monkeypatch.setenv("PATH", standins.path())
    monkeypatch.setenv("STANDIN_DIR", str(standins.root))
    learning = {
        "items": [
            {
                "metadata": {
                    "labels": {"kubescape.io/workload-name": "stress-test-workload"},
                    "annotations": {
                        "kubescape.io/status": "learning",
                        "kubescape.io/completion": "partial",
                    },
                }
            }
        ]
    }
    standins.scenario(
        responses=[
            {
                "match": ["get", "applicationprofiles.spdx.softwarecomposition.kubescape.io"],
                "sequence": [
                    {
                        "rc": 1,
                        "stderr": "error: the server is currently unable to handle the request\n",
                    },
                    {"stdout": json.dumps(learning)},
                ],
            },
        ]
    )
    # Each stand-in kubectl call is a Python start-up (~0.1-0.3 s on a busy machine).
    cfg = ClusterConfig(
        kube=KubeAccess(context="prod"),
        namespace="ks",
        workload_namespace="stress-ns",
        profile_timeout_s=2.0,
        poll_interval_s=0.1,
    )
    wait = up_plan(cfg, {"account": "a"})[-1:]
    out = io.StringIO()
    with pytest.raises(ToolError, match=r"was not complete within 2s \(learning") as info:
        lifecycle.execute(wait, dry_run=False, out=out)
    # what to check names the cluster and namespace in use, not the defaults
    assert "node-agent pods running (kubectl --context prod get pods -n ks)" in str(info.value)
    said = out.getvalue()
    assert "kubectl failed: error: the server is currently unable to handle the request" in said
    assert "Application profile of stress-test-workload: learning" in said
    assert len(standins.calls("kubectl")) >= 3
