"""The cluster side's pure cores, as tables: when and where to forward, kubectl's
answers about pods, the flags' errors and the report's notes. No processes, no sockets
(except the busy-port probe). The helm side: ``test_cluster_helm``."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from stressgen.cluster.config import ClusterConfig, ForwardConfig, KubeAccess
from stressgen.cluster.doctor import synchronizer_pods
from stressgen.cluster.portforward import port_forward_argv
from stressgen.cluster.report import annotate, forward_lines, local_target_lines
from stressgen.cluster.target import (
    forward_decision,
    forward_port,
    is_loopback,
    local_url,
    pick_local_port,
)
from stressgen.errors import ConfigError


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
        # the forward carries the synchronizer's plain HTTP, whatever the URL said
        (
            "https://sync.example.com/apis/v1/kubescape.io",
            8089,
            "http://127.0.0.1:8089/apis/v1/kubescape.io",
        ),
    ],
)
def test_local_url(url: str, port: int, expected: str) -> None:
    assert local_url(url, port) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8089/apis/v1/kubescape.io", 8089),
        ("http://localhost:9999", 9999),
        ("https://sync.example.com/apis/v1/kubescape.io", 7000),  # not 443
        ("http://sync.example.com", 7000),  # not 80
        ("https://sync.example.com:8443", 8443),
    ],
)
def test_forward_port_defaults_to_the_remote_port(url: str, expected: int) -> None:
    assert forward_port(url, 7000) == expected


def test_busy_local_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = pick_local_port(port)
    assert other != port
    assert pick_local_port(other) == other


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


@pytest.mark.parametrize(
    ("url", "noted"),
    [
        ("http://localhost:8089/apis/v1/kubescape.io/v1/runtimealerts", True),
        ("http://127.0.0.1:40000/x", True),
        ("http://synchronizer.kubescape:8089/x", False),
        ("https://10.0.0.5:8089/x", False),
    ],
)
def test_a_direct_local_target_may_be_a_forward(url: str, noted: bool) -> None:
    lines = local_target_lines(url)
    assert bool(lines) is noted
    if noted:
        [line] = lines
        assert "may cap this rate" in line and "port-forward bottleneck" in line
