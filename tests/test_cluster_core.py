"""The cluster side's pure cores, as tables: when to forward, redaction, the helm plan,
reading kubectl's answers. No processes, no sockets (except the busy-port probe)."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest
import yaml

from stressgen.cluster.commands import Command, is_secret_key, redact
from stressgen.cluster.config import ClusterConfig, ForwardConfig, KubeAccess, parse_set
from stressgen.cluster.doctor import synchronizer_pods
from stressgen.cluster.helm import (
    credentials_from_env,
    down_plan,
    helm_install,
    nest,
    profile_state,
    up_plan,
    workload_manifest,
)
from stressgen.cluster.portforward import port_forward_argv
from stressgen.cluster.report import annotate, forward_lines
from stressgen.cluster.target import forward_decision, is_loopback, local_url, pick_local_port
from stressgen.errors import ConfigError

CREDS = {"account": "acct-1234", "accessKey": "AK-sekrit-99", "server": "api.example.io"}


@pytest.mark.parametrize(
    ("mode", "url", "expected"),
    [
        ("auto", None, "emulator"),
        ("auto", "http://localhost:8089/apis/v1/kubescape.io", "probe"),
        ("auto", "http://127.0.0.1:8089", "probe"),
        ("auto", "http://127.0.0.2:8089", "probe"),
        ("auto", "http://[::1]:8089", "probe"),
        ("auto", "http://LOCALHOST:8089", "probe"),
        ("auto", "http://synchronizer.kubescape:8089", "direct"),
        ("auto", "http://10.0.0.5:8089", "direct"),
        ("auto", "http://localhost.example.com:8089", "direct"),
        ("always", None, "forward"),
        ("always", "http://localhost:8089", "forward"),
        ("always", "http://synchronizer.kubescape:8089", "forward"),
        ("never", None, "emulator"),
        ("never", "http://localhost:8089", "direct"),
    ],
)
def test_forward_decision(mode: str, url: str | None, expected: str) -> None:
    assert forward_decision(mode, url) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("a.localhost", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("url", "port", "expected"),
    [
        (
            "http://localhost:8089/apis/v1/kubescape.io",
            8089,
            "http://127.0.0.1:8089/apis/v1/kubescape.io",
        ),
        (
            "http://localhost:8089/apis/v1/kubescape.io",
            40000,
            "http://127.0.0.1:40000/apis/v1/kubescape.io",
        ),
        ("http://synchronizer.kubescape:8089", 8089, "http://127.0.0.1:8089"),
        ("http://localhost/x?y=1", 9000, "http://127.0.0.1:9000/x?y=1"),
    ],
)
def test_local_url(url: str, port: int, expected: str) -> None:
    assert local_url(url, port) == expected


def test_busy_local_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = pick_local_port(port)
    assert other != port
    assert pick_local_port(other) == other


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("key=abc123 and abc123", ["abc123"], "key=*** and ***"),
        ("nothing here", ["abc123"], "nothing here"),
        ("empty secret ignored", [""], "empty secret ignored"),
        ("b64: " + base64.b64encode(b"abc123").decode(), ["abc123"], "b64: ***"),
        ("quoted: a%2Fb%3Dc", ["a/b=c"], "quoted: ***"),
        ("long abcdef beats abc", ["abc", "abcdef"], "long *** beats ***"),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("accessKey", True),
        ("account", True),
        ("secretKey", True),
        ("clientID", True),
        ("imagePullSecret.password", True),
        ("a.b.token", True),
        ("clusterName", False),
        ("nodeAgent.config.learningPeriod", False),
        ("capabilities.runtimeDetection", False),
    ],
)
def test_secret_looking_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {}),
        (
            {"CUSTOMER": "c", "CLIENT_ID": "i", "SECRET_KEY": "s"},
            {"account": "c", "clientID": "i", "secretKey": "s"},
        ),
        ({"CUSTOMER": "seed", "STRESSGEN_ACCOUNT": "mine"}, {"account": "mine"}),
        ({"STRESSGEN_ACCOUNT": " ", "CUSTOMER": "seed"}, {"account": "seed"}),
        (
            {"STRESSGEN_ACCESS_KEY": "k", "STRESSGEN_SERVER": "api.x"},
            {"accessKey": "k", "server": "api.x"},
        ),
    ],
)
def test_credentials_from_env(env: dict[str, str], expected: dict[str, str]) -> None:
    assert credentials_from_env(env) == expected


def test_nest() -> None:
    assert nest({"a.b": 1, "a.c.d": 2, "e": 3}) == {"a": {"b": 1, "c": {"d": 2}}, "e": 3}


def test_helm_install_keeps_secrets_off_the_command_line() -> None:
    cfg = ClusterConfig(
        kube=KubeAccess(context="ctx", kubeconfig="/k"),
        chart_version="1.2.3",
        values_files=("mine.yaml",),
        sets=(("nodeAgent.config.learningPeriod", "2m"), ("imagePullSecret.password", "pw-77")),
    )
    command = helm_install(cfg, CREDS)
    argv = list(command.argv)
    assert argv[:5] == ["helm", "upgrade", "--install", "kubescape", "kubescape/kubescape-operator"]
    # stdin values first, then the user's file, then the user's --set: later ones win
    assert argv.index("-") < argv.index("mine.yaml") < argv.index("--set")
    assert argv[argv.index("--version") + 1] == "1.2.3"
    assert argv[-4:] == ["--kube-context", "ctx", "--kubeconfig", "/k"]
    assert not any(s in " ".join(argv) for s in ("acct-1234", "AK-sekrit-99"))
    values = yaml.safe_load(command.stdin or b"")
    assert values["account"] == "acct-1234" and values["accessKey"] == "AK-sekrit-99"
    assert values["server"] == "api.example.io" and values["clusterName"] == "stress-test-cluster"
    assert values["capabilities"]["runtimeDetection"] == "enable"
    assert values["capabilities"]["vulnerabilityScan"] == "disable"
    assert values["alertCRD"] == {"installDefault": True, "scopeClustered": True}
    assert values["nodeAgent"]["config"]["learningPeriod"] == "50s"
    shown = (command.shown_stdin or "") + command.display()
    assert "acct-1234" not in shown and "AK-sekrit-99" not in shown and "pw-77" not in shown
    assert "imagePullSecret.password=***" in command.display()


def test_install_needs_an_account() -> None:
    with pytest.raises(ConfigError, match="STRESSGEN_ACCOUNT"):
        helm_install(ClusterConfig(), {"accessKey": "k"})


def test_up_and_down_plans() -> None:
    cfg = ClusterConfig(kube=KubeAccess(context="c"))
    up = [s.display() for s in up_plan(cfg, CREDS)]
    assert up[0].startswith("helm repo add kubescape https://kubescape.github.io/helm-charts/")
    assert up[1].startswith("helm repo update kubescape")
    assert up[2].startswith("helm upgrade --install kubescape")
    assert up[3].startswith("kubectl --context c rollout status deployment/synchronizer")
    assert up[4] == "kubectl --context c apply -f -"
    assert "deployment/stress-test-workload" in up[5]
    assert up[6].startswith("kubectl --context c get applicationprofiles.spdx")
    down = [s.display() for s in down_plan(cfg)]
    assert down[0].startswith("kubectl --context c delete namespace stress-test-namespace")
    assert down[1].startswith("helm uninstall kubescape --namespace kubescape")
    uninstall = down_plan(cfg)[1]
    assert isinstance(uninstall, Command) and uninstall.tolerate == "not found"


def test_workload_manifest() -> None:
    docs = list(yaml.safe_load_all(workload_manifest(ClusterConfig(workload_name="w"))))
    assert [d["kind"] for d in docs] == ["Namespace", "Deployment"]
    assert docs[1]["metadata"] == {
        "name": "w",
        "namespace": "stress-test-namespace",
        "labels": {"app": "w", "app.kubernetes.io/managed-by": "stressgen"},
    }


def _profile(name: str, status: str, completion: str) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"kubescape.io/workload-name": name},
            "annotations": {"kubescape.io/status": status, "kubescape.io/completion": completion},
        }
    }


@pytest.mark.parametrize(
    ("items", "done", "words"),
    [
        ([], False, "no application profile yet"),
        ([_profile("other", "completed", "complete")], False, "no application profile yet"),
        ([_profile("w", "ready", "partial")], False, "learning (status ready, completion partial)"),
        ([_profile("w", "completed", "partial")], False, "learning"),
        ([_profile("w", "completed", "complete")], True, "complete"),
        (
            [
                {
                    "metadata": {
                        "annotations": {
                            "kubescape.io/wlid": "wlid://cluster-c/namespace-n/deployment-w",
                            "kubescape.io/status": "completed",
                            "kubescape.io/completion": "complete",
                        }
                    }
                }
            ],
            True,
            "complete",
        ),
    ],
)
def test_profile_state(items: list[dict[str, Any]], done: bool, words: str) -> None:
    result = profile_state({"items": items}, "w")
    assert result[0] is done and words in result[1]


def _pod(name: str, phase: str, ready: bool, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name},
        "status": {"phase": phase, "containerStatuses": [{"ready": ready, "state": state}]},
    }


@pytest.mark.parametrize(
    ("pods", "ok", "words"),
    [
        ([], False, "no synchronizer pod"),
        ([_pod("node-agent-x", "Running", True)], False, "no synchronizer pod"),
        ([_pod("synchronizer-abc", "Running", True)], True, "synchronizer-abc Running and ready"),
        (
            [_pod("synchronizer-abc", "Running", False, "CrashLoopBackOff")],
            False,
            "synchronizer-abc Running (CrashLoopBackOff)",
        ),
        (
            [_pod("synchronizer-a", "Pending", False), _pod("synchronizer-b", "Running", True)],
            True,
            "synchronizer-b",
        ),
    ],
)
def test_synchronizer_pods(pods: list[dict[str, Any]], ok: bool, words: str) -> None:
    result = synchronizer_pods({"items": pods}, "synchronizer")
    assert result[0] is ok and words in result[1]


def test_port_forward_command() -> None:
    cfg = ForwardConfig(kube=KubeAccess(context="prod", kubeconfig="/kc"))
    assert port_forward_argv(cfg, 40000) == [
        "kubectl",
        "--context",
        "prod",
        "--kubeconfig",
        "/kc",
        "port-forward",
        "--namespace",
        "kubescape",
        "svc/synchronizer",
        "40000:8089",
        "--address",
        "127.0.0.1",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sometimes"}, "--port-forward: 'sometimes' is not one of auto, always, never"),
        ({"namespace": "Kube_Scape"}, "--kubescape-namespace: 'Kube_Scape' is not a Kubernetes"),
        ({"remote_port": 70000}, "--synchronizer-port: 70000 is not a port number"),
        ({"ready_timeout_s": 0}, "--port-forward-timeout: 0 is not a positive duration"),
    ],
)
def test_forward_config_errors_name_the_flag(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ForwardConfig(**kwargs)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workload_namespace": "kube-system"}, "--workload-namespace: 'kube-system' is not a"),
        ({"workload_namespace": "kubescape"}, "--workload-namespace: 'kubescape' is not a"),
        ({"pods_timeout_s": -1.0}, "--pods-timeout: -1.0 is not"),
        ({"release": "Bad_Name"}, "--release: 'Bad_Name' is not a Kubernetes name"),
        ({"cluster_name": " "}, "--cluster-name: ' ' is not a non-empty string"),
    ],
)
def test_cluster_config_errors_name_the_flag(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ClusterConfig(**kwargs)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b=1", ("a.b", "1")),
        ("k=", ("k", "")),
        ("k=a=b", ("k", "a=b")),
        ("x[0]=y", ("x[0]", "y")),
    ],
)
def test_parse_set(text: str, expected: tuple[str, str]) -> None:
    assert parse_set(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=v", "a b=c"])
def test_parse_set_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--set"):
        parse_set(text)


def test_report_lines_sit_next_to_the_rate() -> None:
    forward = {
        "route": "127.0.0.1:8089 -> svc/synchronizer:8089 in kubescape",
        "outages": [{"duration_s": 1.5}, {"duration_s": 0.5}],
        "restarts": 3,
        "down_s": 2.0,
        "failed_alerts_while_down": 40,
    }
    text = annotate("A\nAverage rate: 5.0 alerts/second\nB", forward_lines(forward, 42))
    rows = text.splitlines()
    assert rows[1].startswith("Average rate:")
    assert "port-forward" in rows[2] and "bottleneck" in rows[2]
    assert rows[3] == (
        "  Port-forward: lost 2 times, 3 kubectl restart(s), down 2.0s in total; "
        "40 of the 42 failed alerts failed while it was down."
    )
    assert rows[4] == "B"
    quiet = forward_lines({**forward, "outages": []}, 0)
    assert quiet[1] == "  Port-forward: up for the whole run."
