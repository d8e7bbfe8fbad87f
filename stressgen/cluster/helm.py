"""The plans of ``stressgen cluster up`` and ``down``: pure functions from settings to the
exact commands, which :mod:`stressgen.cluster.lifecycle` runs (or only prints).

Credentials travel to helm on standard input (``--values -``), never on the command line
where any local user could read them in the process list; every listing masks them.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from stressgen.cluster.commands import REDACTED, Command, is_secret_key
from stressgen.cluster.config import SYNCHRONIZER, ClusterConfig, parse_set
from stressgen.errors import ConfigError

DEFAULT_SERVER = "api.armosec.io"
SEED_VALUES: Mapping[str, object] = {
    "capabilities.configurationScan": "disable",
    "capabilities.continuousScan": "disable",
    "capabilities.nodeScan": "disable",
    "capabilities.vulnerabilityScan": "disable",
    "capabilities.nodeSbomGeneration": "disable",
    "capabilities.httpDetection": "disable",
    "capabilities.admissionController": "disable",
    "grypeOfflineDB.enabled": False,
    "capabilities.relevancy": "enable",
    "capabilities.runtimeObservability": "enable",
    "capabilities.runtimeDetection": "enable",
    "capabilities.malwareDetection": "enable",
    "capabilities.nodeProfileService": "enable",
    "capabilities.networkEventsStreaming": "enable",
    "capabilities.manageWorkloads": "enable",
    "alertCRD.installDefault": True,
    "alertCRD.scopeClustered": True,
    "nodeAgent.config.maxLearningPeriod": "60s",
    "nodeAgent.config.learningPeriod": "50s",
    "nodeAgent.config.updatePeriod": "30s",
    "nodeAgent.config.nodeProfileInterval": "1m",
    "nodeAgent.config.networkStreamingInterval": "5s",
    "nodeAgent.config.profilesCacheRefreshRate": "5s",
}
"""The seed's chart values: runtime detection on, scans off, short learning periods. Its
``logger.level=debug`` is left out: debug logging slows the components under load."""

CREDENTIAL_ENV: Mapping[str, tuple[str, ...]] = {
    "account": ("STRESSGEN_ACCOUNT", "CUSTOMER"),
    "accessKey": ("STRESSGEN_ACCESS_KEY",),
    "server": ("STRESSGEN_SERVER",),
}
"""Chart value -> environment variables that may hold it, first set wins. The chart's
cloud secret holds only these three. ``CUSTOMER`` is the seed's name; the chart needs the
account's GUID there, not a customer name."""
API_CREDENTIAL_ENV = ("CLIENT_ID", "SECRET_KEY")
"""The seed's backend API credentials: it logs in with them to fetch the access key.
They are not chart values and stressgen makes no API call, so they are not used (not as
an access key either: the synchronizer would fail to authenticate with it)."""
ACCOUNT_PLACEHOLDER = "<STRESSGEN_ACCOUNT>"
"""What ``--dry-run`` shows for an account that is not set."""
_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\Z")
PROFILE_RESOURCE = "applicationprofiles.spdx.softwarecomposition.kubescape.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "stressgen"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def credentials_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The chart's credential values found in ``env`` (empty variables are not set)."""
    found = {}
    for value, names in CREDENTIAL_ENV.items():
        for name in names:
            if env.get(name, "").strip():
                found[value] = env[name].strip()
                break
    return found


def api_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """The seed's API credentials found in ``env``: unused, but masked wherever seen."""
    return tuple(env[n].strip() for n in API_CREDENTIAL_ENV if env.get(n, "").strip())


def set_values(cfg: ClusterConfig) -> list[tuple[str, str]]:
    """Every ``(key, value)`` the user's ``--set`` arguments set, in order."""
    return [pair for text in cfg.sets for pair in parse_set(text)]


def given(cfg: ClusterConfig, creds: Mapping[str, str], value: str) -> bool:
    """Whether chart value ``value`` (``account``...) is set, by the environment or --set."""
    return value in creds or any(key == value for key, _ in set_values(cfg))


def credential_warnings(
    cfg: ClusterConfig, creds: Mapping[str, str], env: Mapping[str, str]
) -> list[str]:
    """One line per credential problem that does not stop an install (no value shown)."""
    warnings = []
    account = creds.get("account", "")
    if account and account != ACCOUNT_PLACEHOLDER and not _GUID.match(account):
        source = next(n for n in CREDENTIAL_ENV["account"] if env.get(n, "").strip())
        warnings.append(
            f"{source} does not look like an account GUID (xxxxxxxx-xxxx-...): the chart's "
            "account must be the account's GUID, not a customer name"
        )
    if not given(cfg, creds, "accessKey"):
        seed = [n for n in API_CREDENTIAL_ENV if env.get(n, "").strip()]
        why = (
            f" ({' and '.join(seed)} are the seed's API credentials, not an access key: unused)"
            if seed
            else ""
        )
        warnings.append(
            "STRESSGEN_ACCESS_KEY is not set: installing without an access key, so the "
            f"synchronizer may be refused by the backend{why}"
        )
    return warnings


def nest(dotted: Mapping[str, object]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (helm's --set paths)."""
    tree: dict[str, Any] = {}
    for path, value in dotted.items():
        *parents, leaf = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def install_values(cfg: ClusterConfig, creds: Mapping[str, str]) -> dict[str, Any]:
    """The values document given on helm's stdin: the seed's values, the cluster name,
    the server and the credentials."""
    if not given(cfg, creds, "account"):
        raise ConfigError(
            "STRESSGEN_ACCOUNT",
            "",
            "set: export STRESSGEN_ACCOUNT=<account GUID> (or the seed's CUSTOMER, holding "
            "the GUID); without it the chart runs no synchronizer",
        )
    values = {**SEED_VALUES, "clusterName": cfg.cluster_name}
    values.update(creds)
    values["server"] = cfg.server or creds.get("server") or DEFAULT_SERVER
    return nest(values)


def _dump(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False)


def value_forms(value: str) -> list[str]:
    """A ``--set`` value as written and as helm reads it (escapes undone; a ``{a,b}``
    list and each of its items), so that every form a tool may echo is masked."""
    forms = [value, _ESCAPE.sub(r"\1", value)]
    if value.startswith("{") and value.endswith("}"):
        item, chars = "", iter(value[1:-1])
        for char in chars:
            if char == "\\":
                item += next(chars, "")
            elif char == ",":
                forms.append(item)
                item = ""
            else:
                item += char
        forms.append(item)
    return forms


def secrets_of(
    cfg: ClusterConfig, creds: Mapping[str, str], also: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Every secret value an ``up`` involves: credentials, every secret-looking value the
    ``--set`` arguments set (``a=1,accessKey=x`` included), and ``also``."""
    found = [v for k, v in creds.items() if k != "server" and v != ACCOUNT_PLACEHOLDER]
    for key, value in set_values(cfg):
        if is_secret_key(key):
            found += value_forms(value)
    found += also
    return tuple(dict.fromkeys(v for v in found if v))


def _masked(creds: Mapping[str, str]) -> dict[str, str]:
    return {
        k: (v if k == "server" or v == ACCOUNT_PLACEHOLDER else REDACTED) for k, v in creds.items()
    }


def helm_install(
    cfg: ClusterConfig, creds: Mapping[str, str], also_secret: tuple[str, ...] = ()
) -> Command:
    """``helm upgrade --install`` of the chart: the values on stdin first, then the user's
    ``-f`` files, then the user's ``--set`` values (each overriding what came before).
    ``also_secret``: more values to mask in anything shown of it."""
    values = install_values(cfg, creds)
    shown = install_values(cfg, _masked(creds))
    args = ["upgrade", "--install", cfg.release, cfg.chart, "--namespace", cfg.namespace]
    args += ["--create-namespace"]
    if cfg.chart_version:
        args += ["--version", cfg.chart_version]
    args += ["--values", "-"]
    for path in cfg.values_files:
        args += ["--values", path]
    for text in cfg.sets:
        args += ["--set", text]
    args += ["--wait", "--timeout", f"{cfg.pods_timeout_s:.0f}s"]
    return Command(
        tuple(cfg.kube.helm_argv(*args)),
        stdin=_dump(values).encode(),
        shown_stdin=_dump(shown),
        secrets=secrets_of(cfg, creds, also_secret),
        timeout_s=cfg.pods_timeout_s + 120.0,
    )


def workload_manifest(cfg: ClusterConfig) -> str:
    """The test workload: its namespace and a one-replica Deployment (YAML, two documents)."""
    labels = {"app": cfg.workload_name}
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": cfg.workload_namespace, "labels": dict(MANAGED_BY)},
    }
    container = {"name": "app", "image": cfg.workload_image, "ports": [{"containerPort": 80}]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": cfg.workload_name,
            "namespace": cfg.workload_namespace,
            "labels": {**labels, **MANAGED_BY},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [container]},
            },
        },
    }
    return yaml.safe_dump_all([namespace, deployment], sort_keys=False)


@dataclasses.dataclass(frozen=True)
class ProfileWait:
    """Poll ``command`` (kubectl get applicationprofiles) until the workload's profile is
    complete, every ``interval_s``, for at most ``timeout_s``; ``pods`` is the command
    that lists Kubescape's pods, for the message when it gives up."""

    command: Command
    workload: str
    timeout_s: float
    interval_s: float
    pods: str = "kubectl get pods -n kubescape"

    def display(self) -> str:
        """The command, and how it is repeated."""
        return (
            f"{self.command.display()}   # every {self.interval_s:g}s until the application "
            f"profile of {self.workload} is complete, at most {self.timeout_s:g}s"
        )


Step = Command | ProfileWait


def up_plan(
    cfg: ClusterConfig, creds: Mapping[str, str], also_secret: tuple[str, ...] = ()
) -> list[Step]:
    """Every step of ``cluster up``, in order (``also_secret``: see :func:`helm_install`)."""
    kube = cfg.kube
    wait = f"--timeout={cfg.pods_timeout_s:.0f}s"
    wns = cfg.workload_namespace
    manifest = workload_manifest(cfg)
    return [
        Command(
            tuple(kube.helm_argv("repo", "add", cfg.repo_name, cfg.repo_url, "--force-update"))
        ),
        Command(tuple(kube.helm_argv("repo", "update", cfg.repo_name)), timeout_s=180.0),
        helm_install(cfg, creds, also_secret),
        Command(
            tuple(
                kube.kubectl_argv(
                    "rollout",
                    "status",
                    f"deployment/{SYNCHRONIZER}",
                    "--namespace",
                    cfg.namespace,
                    wait,
                )
            ),
            timeout_s=cfg.pods_timeout_s + 30.0,
        ),
        Command(
            tuple(kube.kubectl_argv("apply", "-f", "-")),
            stdin=manifest.encode(),
            shown_stdin=manifest,
        ),
        Command(
            tuple(
                kube.kubectl_argv(
                    "rollout", "status", f"deployment/{cfg.workload_name}", "--namespace", wns, wait
                )
            ),
            timeout_s=cfg.pods_timeout_s + 30.0,
        ),
        ProfileWait(
            Command(
                tuple(
                    kube.kubectl_argv(
                        "get", PROFILE_RESOURCE, "--namespace", wns, "--output", "json"
                    )
                )
            ),
            cfg.workload_name,
            cfg.profile_timeout_s,
            cfg.poll_interval_s,
            shlex.join(kube.kubectl_argv("get", "pods", "-n", cfg.namespace)),
        ),
    ]


def down_plan(cfg: ClusterConfig) -> list[Step]:
    """Every step of ``cluster down``: the workload's namespace, then the release."""
    kube = cfg.kube
    return [
        Command(
            tuple(
                kube.kubectl_argv(
                    "delete",
                    "namespace",
                    cfg.workload_namespace,
                    "--ignore-not-found",
                    "--wait=true",
                    "--timeout=300s",
                )
            ),
            timeout_s=330.0,
        ),
        Command(
            tuple(
                kube.helm_argv(
                    "uninstall",
                    cfg.release,
                    "--namespace",
                    cfg.namespace,
                    "--wait",
                    "--timeout",
                    "300s",
                )
            ),
            timeout_s=330.0,
            tolerate="not found",
        ),
    ]


def profile_state(document: Mapping[str, Any], workload: str) -> tuple[bool, str]:
    """Whether ``kubectl get applicationprofiles -o json`` shows the workload's profile
    done -- annotation ``kubescape.io/status: completed``, the seed's test (its
    ``kubescape.io/completion`` may still be ``partial``: a profile learnt from a container
    that started before node-agent) -- and what it shows in words."""
    mine = []
    for item in document.get("items") or []:
        meta = item.get("metadata") or {}
        labels = meta.get("labels") or {}
        notes = meta.get("annotations") or {}
        wlid = str(notes.get("kubescape.io/wlid", ""))
        if labels.get("kubescape.io/workload-name") == workload or wlid.endswith(
            f"/deployment-{workload}"
        ):
            mine.append(notes)
    if not mine:
        return False, "no application profile yet"
    for notes in mine:
        status = notes.get("kubescape.io/status", "?")
        completion = notes.get("kubescape.io/completion", "?")
        if status == "completed":
            return True, f"completed (completion: {completion})"
    return False, f"learning (status {status}, completion {completion})"
