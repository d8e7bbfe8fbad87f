"""``stressgen doctor``: the seed's "Troubleshooting" section, turned into checks.

In order: kubectl and helm present; the cluster reachable; the kubescape namespace there
and the synchronizer pod running; the endpoint answering ``/healthz`` (through a
port-forward when needed); one real test alert answered 202. Each check prints a
PASS/FAIL/SKIP line and, when it fails, the fix. A check whose prerequisite failed is
skipped rather than failed a second time: the cluster checks need kubectl, each the one
before; the endpoint, when it takes a port-forward, needs all but the pod check (a forward
to a pod that is not ready fails with kubectl's own reason, which is worth showing); the
alert needs the endpoint.
"""

from __future__ import annotations

import dataclasses
import http.client
import io
import json
import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit

from stressgen.cluster import commands
from stressgen.cluster.commands import Command, ToolError
from stressgen.cluster.config import ForwardConfig
from stressgen.cluster.portforward import forwarded
from stressgen.cluster.target import (
    DEFAULT_CLUSTER_URL,
    forward_decision,
    host_port,
    probe_healthz,
)
from stressgen.errors import StressgenError
from stressgen.payloads import AlertTemplate, PayloadFactory, alerts_url

ALERT_TIMEOUT_S = 30.0
_ALERT_FIXES = {
    400: "the URL's path is not the synchronizer's: give http://<host>:8089/apis/v1/kubescape.io",
    404: "the resource is not served there: is this a (recent) synchronizer?",
    405: "the method was refused: is this the synchronizer, not a proxy in front of it?",
    500: "the synchronizer could not read the alert: see its log",
}


@dataclasses.dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        """``PASS  name: detail`` and, for a failure, the fix below it."""
        first, *rest = self.detail.splitlines() or [""]
        out = [f"{self.status}  {self.name}: {first}", *(f"      {r}" for r in rest)]
        if self.fix and self.status == "FAIL":
            out.append(f"      fix: {self.fix}")
        return out


def synchronizer_pods(document: Mapping[str, Any], service: str) -> tuple[bool, str]:
    """From ``kubectl get pods -o json``: whether a pod of ``service`` (named
    ``<service>-...``, as ``kubectl get pods | grep synchronizer`` finds it) is Running
    with every container ready, and the pods' states in words."""
    states = []
    for pod in document.get("items") or []:
        name = str((pod.get("metadata") or {}).get("name", ""))
        if not name.startswith(f"{service}-"):
            continue
        status = pod.get("status") or {}
        containers = status.get("containerStatuses") or []
        ready = bool(containers) and all(c.get("ready") for c in containers)
        waiting = [
            c["state"]["waiting"].get("reason", "waiting")
            for c in containers
            if (c.get("state") or {}).get("waiting")
        ]
        phase = status.get("phase", "Unknown")
        if phase == "Running" and ready:
            return True, f"{name} Running and ready"
        states.append(f"{name} {phase}{' (' + ', '.join(waiting) + ')' if waiting else ''}")
    if not states:
        return False, f"no {service} pod"
    return False, "; ".join(states)


def _skip(name: str, why: str) -> Check:
    return Check(name, "SKIP", why)


def _run(argv: list[str]) -> tuple[bool, str]:
    try:
        result = commands.run(Command(tuple(argv), timeout_s=30.0))
    except ToolError as exc:
        return False, str(exc)
    return True, result.stdout.strip()


def check_tool(name: str, version_argv: list[str], need: str) -> Check:
    """A tool on PATH that answers its version command."""
    try:
        path = commands.find_tool(version_argv[0])
    except ToolError:
        return Check(name, "FAIL", "not found on PATH", f"install it ({need})")
    ok, said = _run(version_argv)
    version = said.splitlines()[0] if ok and said else ""
    if not ok:
        return Check(name, "FAIL", said, f"reinstall it ({need})")
    return Check(name, "PASS", f"{path}" + (f" ({version})" if version else ""))


def check_context(cfg: ForwardConfig) -> Check:
    """The cluster of the context answers the API server's /readyz."""
    kube = cfg.kube
    context = kube.context
    if context is None:
        ok, said = _run(kube.kubectl_argv("config", "current-context"))
        if not ok or not said:
            return Check(
                "cluster reachable",
                "FAIL",
                said or "no current context",
                "kubectl config use-context <name>, or --kube-context/--kubeconfig",
            )
        context = said
    ok, said = _run(kube.kubectl_argv("get", "--raw", "/readyz", "--request-timeout=10s"))
    if not ok:
        return Check(
            "cluster reachable",
            "FAIL",
            f"context {context}: {said}",
            "check the context (kubectl config get-contexts), VPN and credentials",
        )
    return Check("cluster reachable", "PASS", f"context {context}")


def _kubectl(cfg: ForwardConfig, *args: str) -> str:
    """A kubectl command line to show in a fix, with the run's context and kubeconfig."""
    return shlex.join(cfg.kube.kubectl_argv(*args))


def logs_command(cfg: ForwardConfig) -> str:
    """How to read the synchronizer's log (its Deployment has the Service's name)."""
    return _kubectl(cfg, "logs", "-n", cfg.namespace, f"deploy/{cfg.service}")


def up_command(cfg: ForwardConfig) -> str:
    """``stressgen cluster up`` for the cluster and namespace the doctor looked at."""
    argv = ["stressgen", "cluster", "up", *cfg.kube.flags()]
    if cfg.namespace != "kubescape":
        argv += ["--kubescape-namespace", cfg.namespace]
    return shlex.join(argv)


def check_namespace(cfg: ForwardConfig) -> Check:
    """The kubescape namespace exists."""
    ok, said = _run(cfg.kube.kubectl_argv("get", "namespace", cfg.namespace, "-o", "name"))
    name = f"namespace {cfg.namespace}"
    if not ok:
        return Check(name, "FAIL", said, f"install Kubescape: {up_command(cfg)}")
    return Check(name, "PASS", "exists")


def check_synchronizer(cfg: ForwardConfig) -> Check:
    """A synchronizer pod is running and ready."""
    ok, said = _run(cfg.kube.kubectl_argv("get", "pods", "-n", cfg.namespace, "-o", "json"))
    name = f"{cfg.service} pod"
    fix = (
        f"{_kubectl(cfg, 'describe', 'pods', '-n', cfg.namespace)} | grep -A20 {cfg.service}; "
        f"{logs_command(cfg)}. The chart runs a synchronizer only with an account and "
        f"server set ({up_command(cfg)})"
    )
    if not ok:
        return Check(name, "FAIL", said, fix)
    try:
        running, state = synchronizer_pods(json.loads(said or "{}"), cfg.service)
    except (ValueError, AttributeError, KeyError, TypeError):
        return Check(name, "FAIL", "kubectl's answer could not be read", fix)
    return Check(name, "PASS" if running else "FAIL", state, fix)


def send_test_alert(url: str, timeout_s: float = ALERT_TIMEOUT_S) -> tuple[int | None, str]:
    """POST one node-agent alert to ``url``; its status (None: no answer) and a note."""
    body = PayloadFactory(
        AlertTemplate(cluster_name="stress-test-cluster", namespace="stress-test-namespace")
    ).render()
    parts = urlsplit(url)
    host, port = host_port(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(host, port, timeout=timeout_s)
    started = time.monotonic()
    try:
        conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return None, f"no answer: {exc or type(exc).__name__}"
    finally:
        conn.close()
    return response.status, f"{(time.monotonic() - started) * 1000:.1f}ms"


def needs_forward(url: str, cfg: ForwardConfig) -> bool:
    """Whether reaching ``url`` takes a port-forward (as ``run`` decides: a local URL in
    auto mode is probed)."""
    decision = forward_decision(cfg.mode, url)
    if decision == "probe":
        return probe_healthz(*host_port(url)) != 200
    return decision == "forward"


def _endpoint_and_alert(url: str, cfg: ForwardConfig) -> list[Check]:
    quiet = io.StringIO()
    try:
        with forwarded(url, cfg, quiet) as (target, forward):
            assert target is not None
            host, port = host_port(target)
            via = f"through kubectl port-forward ({forward.route})" if forward else "directly"
            status = probe_healthz(host, port, timeout_s=5.0)
            if status != 200:
                return [
                    Check(
                        "endpoint",
                        "FAIL",
                        f"{host}:{port}/healthz: {status or 'no answer'}",
                        "check the URL (--url), or let stressgen port-forward (--port-forward)",
                    ),
                    _skip("test alert", "needs the endpoint"),
                ]
            checks = [Check("endpoint", "PASS", f"{host}:{port}/healthz answered 200 {via}")]
            checks.append(_alert_check(alerts_url(target), cfg))
            return checks
    except StressgenError as exc:
        return [
            Check("endpoint", "FAIL", str(exc), "fix the first failed check above"),
            _skip("test alert", "needs the endpoint"),
        ]


def _alert_check(url: str, cfg: ForwardConfig) -> Check:
    status, note = send_test_alert(url)
    if status == 202:
        return Check("test alert", "PASS", f"answered 202 Accepted in {note}")
    logs = logs_command(cfg)
    if status is None:
        fix = (
            f"the synchronizer answers only once it forwarded the alert to the backend: "
            f"check its backend connection ({logs})"
        )
        return Check("test alert", "FAIL", note, fix)
    fix = _ALERT_FIXES.get(status, "see the synchronizer's log")
    return Check("test alert", "FAIL", f"answered {status}, not 202", f"{fix} ({logs})")


def run_doctor(url: str | None, cfg: ForwardConfig, *, out: TextIO) -> bool:
    """Run every check in order, print each, return whether all passed."""
    checks: list[Check] = []

    def report(check: Check) -> Check:
        checks.append(check)
        for line in check.lines():
            print(line, file=out, flush=True)
        return check

    kubectl = report(
        check_tool(
            "kubectl",
            cfg.kube.kubectl_argv("version", "--client"),
            "https://kubernetes.io/docs/tasks/tools/",
        )
    )
    report(
        check_tool(
            "helm",
            [cfg.kube.helm, "version", "--short"],
            "https://helm.sh/docs/intro/install/, for 'stressgen cluster up'",
        )
    )
    # (name, check, whether a port-forward needs it to pass): a pod that is not ready is
    # still worth one forward, as kubectl then says why it cannot reach it.
    steps: list[tuple[str, Callable[[ForwardConfig], Check], bool]] = [
        ("cluster reachable", check_context, True),
        (f"namespace {cfg.namespace}", check_namespace, True),
        (f"{cfg.service} pod", check_synchronizer, False),
    ]
    blocked = forward_blocked = "" if kubectl.status == "PASS" else "kubectl"
    for name, step, forward_needs_it in steps:
        if blocked:
            report(_skip(name, f"needs {blocked}"))
            continue
        result = report(step(cfg))
        if result.status != "PASS":
            blocked = name
            if forward_needs_it:
                forward_blocked = name
    target = url or DEFAULT_CLUSTER_URL
    forward = needs_forward(target, cfg)
    if forward and forward_blocked:
        report(_skip("endpoint", f"needs a port-forward, which needs {forward_blocked}"))
        report(_skip("test alert", "needs the endpoint"))
    else:  # decided: the endpoint check neither probes nor decides again
        direct_or_forward = dataclasses.replace(cfg, mode="always" if forward else "never")
        for last in _endpoint_and_alert(target, direct_or_forward):
            report(last)
    passed = sum(c.status == "PASS" for c in checks)
    if passed == len(checks):
        print(f"All {passed} checks passed.", file=out, flush=True)
        return True
    failed = sum(c.status == "FAIL" for c in checks)
    skipped = len(checks) - passed - failed
    print(
        f"{passed} of {len(checks)} checks passed, {failed} failed, {skipped} skipped: "
        "fix the first failure first.",
        file=out,
        flush=True,
    )
    return False
