"""Settings of the cluster side: how kubectl and helm reach the cluster, the port-forward
to the synchronizer, and what ``stressgen cluster up`` installs.

Frozen dataclasses checked on construction; errors name the command-line flag, the value
and what is expected, as :class:`~stressgen.config.RunConfig`'s do for its file keys.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from stressgen.cluster.commands import REDACTED
from stressgen.errors import ConfigError

FORWARD_MODES = ("auto", "always", "never")
SYNCHRONIZER = "synchronizer"
"""Name of the synchronizer's Service and Deployment in the kubescape-operator chart."""
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_HELM_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]\\]+\Z")


def _label(value: object, flag: str) -> str:
    if isinstance(value, str) and _DNS_LABEL.match(value):
        return value
    raise ConfigError(flag, value, "a Kubernetes name (lower-case letters, digits and '-')")


def _positive(value: object, flag: str) -> float:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    ):
        return float(value)
    raise ConfigError(flag, value, "a positive duration like 30s")


def _optional_text(value: object, flag: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ConfigError(flag, value, "a non-empty string")


def split_set(text: str) -> list[str]:
    """``text`` cut where helm cuts a ``--set`` argument: at each comma that is neither
    escaped (``\\,``) nor inside a ``{a,b}`` list value."""
    parts, start, at = [], 0, 0
    in_value = in_list = False
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == "=" and not in_value:
            in_value, in_list = True, text.startswith("{", at + 1)
        elif char == "}" and in_list:
            in_list = False
        elif char == "," and not in_list:
            parts.append(text[start:at])
            start, in_value = at + 1, False
        at += 1
    parts.append(text[start:])
    return parts


def _masked_part(part: str) -> str:
    key, sep, value = part.partition("=")
    return f"{key}={REDACTED}" if sep and value else part


def parse_set(text: str, flag: str = "--set") -> tuple[tuple[str, str], ...]:
    """Every ``KEY=VALUE`` of one helm ``--set`` argument (``a=1,b=2`` sets two values),
    values as written (escapes kept). A bad part is named with its value masked: it may
    be a secret."""
    parts = split_set(text)
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # helm accepts a trailing comma
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not _HELM_KEY.match(key):
            hint = "; helm cuts --set at commas: write one in a value as \\," if parts[1:] else ""
            raise ConfigError(
                flag,
                _masked_part(part),
                f"KEY=VALUE, like nodeAgent.config.learningPeriod=2m{hint}",
            )
        pairs.append((key, value))
    return tuple(pairs)


@dataclass(frozen=True)
class KubeAccess:
    """Which cluster kubectl and helm talk to (None: their own defaults), and the tools."""

    context: str | None = None
    kubeconfig: str | None = None
    kubectl: str = "kubectl"
    helm: str = "helm"

    def __post_init__(self) -> None:
        _optional_text(self.context, "--kube-context")
        _optional_text(self.kubeconfig, "--kubeconfig")

    def kubectl_argv(self, *args: str) -> list[str]:
        """A kubectl command line with the context and kubeconfig flags first."""
        argv = [self.kubectl]
        if self.context:
            argv += ["--context", self.context]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        return [*argv, *args]

    def flags(self) -> list[str]:
        """stressgen's own flags for this access (for a command line shown to the user)."""
        argv = []
        if self.context:
            argv += ["--kube-context", self.context]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        return argv

    def helm_argv(self, *args: str) -> list[str]:
        """A helm command line with helm's names for the same two flags."""
        argv = [self.helm, *args]
        if self.context:
            argv += ["--kube-context", self.context]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        return argv


@dataclass(frozen=True, kw_only=True)
class ForwardConfig:
    """``kubectl port-forward -n <namespace> svc/<service> <local>:<remote_port>``, and when.

    ``mode``: ``auto`` forwards when the target URL names this machine and nothing there
    serves HTTP yet (the seed's rule, minus clobbering a forward already running);
    ``always`` forwards whatever the URL (no URL: the cluster at localhost:8089); ``never``
    sends straight to the URL.
    """

    mode: str = "auto"
    namespace: str = "kubescape"
    service: str = SYNCHRONIZER
    remote_port: int = 8089
    ready_timeout_s: float = 30.0
    kube: KubeAccess = dataclasses.field(default_factory=KubeAccess)

    def __post_init__(self) -> None:
        if self.mode not in FORWARD_MODES:
            raise ConfigError("--port-forward", self.mode, f"one of {', '.join(FORWARD_MODES)}")
        _label(self.namespace, "--kubescape-namespace")
        _label(self.service, "--synchronizer-service")
        port = self.remote_port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError("--synchronizer-port", port, "a port number from 1 to 65535")
        object.__setattr__(
            self, "ready_timeout_s", _positive(self.ready_timeout_s, "--port-forward-timeout")
        )


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """What ``stressgen cluster up`` installs and ``down`` removes.

    The kubescape-operator chart as release ``release`` in ``namespace``, with the seed's
    values (see :mod:`stressgen.cluster.helm`), then ``values_files`` and ``sets`` on top;
    and a one-pod test workload in ``workload_namespace``, which ``up`` creates and
    ``down`` deletes whole (so it may not be a namespace of the system or of Kubescape).
    """

    kube: KubeAccess = dataclasses.field(default_factory=KubeAccess)
    namespace: str = "kubescape"
    release: str = "kubescape"
    repo_name: str = "kubescape"
    repo_url: str = "https://kubescape.github.io/helm-charts/"
    chart: str = "kubescape/kubescape-operator"
    chart_version: str | None = None
    cluster_name: str = "stress-test-cluster"
    server: str | None = None
    values_files: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    """helm ``--set`` arguments as given (each may set several values: ``a=1,b=2``)."""
    workload_namespace: str = "stress-test-namespace"
    workload_name: str = "stress-test-workload"
    workload_image: str = "nginx:1.27-alpine"
    pods_timeout_s: float = 360.0
    profile_timeout_s: float = 600.0
    poll_interval_s: float = 5.0

    def __post_init__(self) -> None:
        _label(self.namespace, "--kubescape-namespace")
        _label(self.release, "--release")
        _label(self.workload_name, "--workload-name")
        _label(self.workload_namespace, "--workload-namespace")
        if self.workload_namespace in RESERVED_NAMESPACES | {self.namespace}:
            raise ConfigError(
                "--workload-namespace",
                self.workload_namespace,
                "a namespace of its own ('cluster down' deletes it)",
            )
        for text in self.sets:
            parse_set(text)
        _optional_text(self.chart_version, "--chart-version")
        _optional_text(self.server, "--server")
        if not isinstance(self.cluster_name, str) or not self.cluster_name.strip():
            raise ConfigError("--cluster-name", self.cluster_name, "a non-empty string")
        for flag in ("pods_timeout_s", "profile_timeout_s", "poll_interval_s"):
            name = "--" + flag.removesuffix("_s").replace("_", "-")
            object.__setattr__(self, flag, _positive(getattr(self, flag), name))
