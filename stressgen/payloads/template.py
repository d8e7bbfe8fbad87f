"""What an alert profile says about the alerts it sends: one frozen, validated dataclass."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from stressgen.errors import ConfigError

MAX_ALERTS_PER_REQUEST = 50
"""node-agent's bulking sends at most 50 alerts of one container per request."""

MAX_PODS = 100
"""Each pod keeps its own pre-rendered body, so the set stays small."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
SEVERITIES = "an integer from 0 to 10 (0 none, 1 low, 5 medium, 8 high, 10 critical)"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?\Z")
_SYSCALL = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")
_LABEL_KEY = re.compile(r"([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_TASK_COMM_LEN = 15  # the kernel keeps 15 characters of a process name
_COMM_PID_SEP = "\u241f"  # separates comm and pid in childrenMap keys; must not be in a comm


@dataclass(frozen=True)
class AlertTemplate:
    """Everything an alert profile fixes about its alerts; the factory varies the rest.

    Per alert the factory makes a fresh uniqueID, timestamp and offending pid, and spreads
    alerts over ``pods`` pods of the workload. Defaults reproduce the seed's profile:
    R0003 "Unexpected system call", severity 1, syscall ``sched_yield``.
    """

    alert_name: str = "Unexpected system call"
    rule_id: str = "R0003"
    severity: int = 1
    syscall: str = "sched_yield"
    alerts_per_request: int = 1
    cluster_name: str = "stressgen"
    namespace: str = "stressgen"
    """The pod's (and workload's) namespace."""
    workload_name: str = "stressgen-target"
    workload_kind: str = "Deployment"
    pod_name_prefix: str = ""
    """Pods are ``<prefix>-<suffix>``; empty means what Kubernetes would name them."""
    pods: int = 3
    """How many pods of the workload the alerts are spread over."""
    container_name: str = "app"
    image: str = "docker.io/library/python:3.12-slim"
    node_name: str = "stressgen-node-1"
    agent_version: str = "v0.2.300"
    process_comm: str = "python3"
    process_cmdline: str = "python3 /app/worker.py"
    process_path: str = "/usr/local/bin/python3.12"
    pod_labels: tuple[tuple[str, str], ...] = ()
    """Extra pod labels as (key, value) pairs; ``app`` (and the pod-template hash) are set."""
    host_network: bool = False

    def __post_init__(self) -> None:
        _check_int(self, "severity", 0, 10, SEVERITIES)
        _check_int(
            self,
            "alerts_per_request",
            1,
            MAX_ALERTS_PER_REQUEST,
            f"an integer from 1 to {MAX_ALERTS_PER_REQUEST} (node-agent's bulk limit)",
        )
        _check_int(self, "pods", 1, MAX_PODS, f"an integer from 1 to {MAX_PODS}")
        for f in fields(self):
            if f.type == "str":
                value = getattr(self, f.name)
                if not isinstance(value, str):
                    raise ConfigError(f.name, value, "a string")
                if not value and f.name != "pod_name_prefix":
                    raise ConfigError(f.name, value, "a non-empty string")
        _check_pattern(self, "syscall", _SYSCALL, "a system call name like sched_yield")
        _check_pattern(self, "namespace", _DNS_LABEL, "a Kubernetes namespace name (RFC 1123)")
        _check_pattern(self, "container_name", _DNS_LABEL, "a container name (RFC 1123)")
        _check_pattern(self, "workload_name", _DNS_SUBDOMAIN, "a Kubernetes object name")
        if self.pod_name_prefix:
            _check_pattern(self, "pod_name_prefix", _DNS_SUBDOMAIN, "a Kubernetes name prefix")
        if self.workload_kind not in WORKLOAD_KINDS:
            raise ConfigError(
                "workload_kind", self.workload_kind, "one of " + ", ".join(WORKLOAD_KINDS)
            )
        comm = self.process_comm
        if len(comm) > _TASK_COMM_LEN or _COMM_PID_SEP in comm or "/" in comm:
            raise ConfigError(
                "process_comm", comm, "a process name of 1-15 characters without '/' (like python3)"
            )
        if not self.process_path.startswith("/"):
            raise ConfigError("process_path", self.process_path, "an absolute path")
        if not isinstance(self.host_network, bool):
            raise ConfigError("host_network", self.host_network, "true or false")
        _check_labels(self.pod_labels)


def _check_int(template: AlertTemplate, name: str, low: int, high: int, expected: str) -> None:
    value = getattr(template, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, value, expected)


def _check_pattern(template: AlertTemplate, name: str, pattern: re.Pattern[str], what: str) -> None:
    value = getattr(template, name)
    if not pattern.match(value):
        raise ConfigError(name, value, what)


def _check_labels(labels: object) -> None:
    expected = "a list of (key, value) label pairs of strings"
    if not isinstance(labels, tuple):
        raise ConfigError("pod_labels", labels, expected)
    for pair in labels:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ConfigError("pod_labels", labels, expected)
        key, value = pair
        if not isinstance(key, str) or not _LABEL_KEY.match(key):
            raise ConfigError("pod_labels", key, "a Kubernetes label key like app or team.io/owner")
        if not isinstance(value, str) or len(value) > 63:
            raise ConfigError(f"pod_labels[{key}]", value, "a label value of at most 63 characters")
