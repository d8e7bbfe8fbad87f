"""The shape of a request body, built once per pod with placeholder tokens.

:func:`build_body` returns the document node-agent would serialise, with a token where
each per-alert value goes. Tokens are plain text (a random nonce and a slot name), so they
survive JSON serialisation unescaped and can be found in the bytes afterwards: a token
that is a whole JSON string is a number slot (``"<nonce>:#pid0:"``, quotes included),
any other occurrence is text inside a string (``<nonce>:uid0:``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from stressgen.payloads.identity import PodIdentity, WorkloadIdentity
from stressgen.payloads.template import AlertTemplate

KIND = "RuntimeAlerts"
API_VERSION = "kubescape.io/v1"
RULE_ALERT = 0  # alertType
K8S_AGENT = 1  # alertSourcePlatform
ZERO_TIME = "0001-01-01T00:00:00Z"
SEP = "\u241f"  # childrenMap keys are "<comm>\u241f<pid>"
EXECUTABLE_SIZE = "6.6 MB"


class Tokens:
    """Makes and finds the placeholder tokens of one factory."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self.pattern = re.compile(
            rb'"' + nonce.encode() + rb":#(\w+):\"|" + nonce.encode() + rb":(\w+):"
        )

    def text(self, slot: str) -> str:
        """Token for a value inside a JSON string (hex, digits, RFC 3339 text)."""
        return f"{self.nonce}:{slot}:"

    def number(self, slot: str) -> str:
        """Token for a whole JSON number; the quotes around it go too."""
        return f"{self.nonce}:#{slot}:"


def rfc3339_nano(ns: int) -> str:
    """Format Unix nanoseconds the way Go marshals a UTC time (RFC 3339, zeros trimmed)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{frac:09d}".rstrip("0").rstrip(".") + "Z"


def _process(
    pid: int | str,
    ppid: int,
    comm: str,
    pcomm: str,
    cmdline: str,
    path: str,
    start: str,
    children: dict[str, Any] | None,
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "pid": pid,
        "cmdline": cmdline,
        "comm": comm,
        "ppid": ppid,
        "pcomm": pcomm,
        "hardlink": path,
        "uid": 0,
        "gid": 0,
        "startTime": start,
        "upperLayer": False,
        "cwd": "/app",
        "path": path,
    }
    if children:
        node["childrenMap"] = children
    return node


def build_tree(
    template: AlertTemplate, pod: PodIdentity, alerts: int, tok: Tokens, now_ns: int
) -> dict[str, Any]:
    """One container's tree: tini -> sh -> one offending process per alert."""
    t = template
    offenders = {
        f"{t.process_comm}{SEP}{tok.text(f'pid{j}')}": _process(
            tok.number(f"pid{j}"),
            pod.shell_pid,
            t.process_comm,
            "sh",
            t.process_cmdline,
            t.process_path,
            rfc3339_nano(now_ns - 2_000_000_000 - 7_919_113 * j),
            None,
        )
        for j in range(alerts)
    }
    long_ago = now_ns - 3_600_000_000_000
    shell = _process(
        pod.shell_pid,
        pod.root_pid,
        "sh",
        "tini",
        f"/bin/sh -c {t.process_cmdline}",
        "/bin/sh",
        rfc3339_nano(long_ago + 48_151_623),
        offenders,
    )
    root = _process(
        pod.root_pid,
        pod.shim_pid,
        "tini",
        "containerd-shim",
        f"/usr/bin/tini -- /bin/sh -c {t.process_cmdline}",
        "/usr/bin/tini",
        rfc3339_nano(long_ago),
        {f"sh{SEP}{pod.shell_pid}": shell},
    )
    return {"processTree": root, "uniqueID": tok.number("tree"), "containerID": pod.container_id}


def build_alert(
    template: AlertTemplate, ident: WorkloadIdentity, pod: PodIdentity, j: int, tok: Tokens
) -> dict[str, Any]:
    """One RuntimeAlert in node-agent's field order, Go zero structs included."""
    t = template
    message = f"Unexpected system call detected: {t.syscall} with PID {tok.text(f'pid{j}')}"
    zero_times = {"creationTime": ZERO_TIME, "modificationTime": ZERO_TIME, "accessTime": ZERO_TIME}
    return {
        "alertName": t.alert_name,
        "arguments": {"apChecksum": ident.ap_checksum, "message": message, "syscall": t.syscall},
        "infectedPID": tok.number(f"pid{j}"),
        "md5Hash": ident.md5,
        "sha1Hash": ident.sha1,
        "sha256Hash": ident.sha256,
        "severity": t.severity,
        "size": EXECUTABLE_SIZE,
        "timestamp": tok.text(f"ts{j}"),
        "trace": {},
        "uniqueID": tok.text(f"uid{j}"),
        "profileMetadata": {
            "status": "completed",
            "completion": "complete",
            "name": ident.profile_name,
            "failOnProfile": True,
            "type": 0,
        },
        "identifiers": {"process": {"name": t.process_comm}},
        "ruleDescription": message,
        "malwareFile": {"hashes": {}, "timestamps": zero_times, "ownership": {}, "attributes": {}},
        "processTree": {"processTree": {"startTime": ZERO_TIME}},
        "signature": {
            "id": 0,
            "sha256": "",
            "sha1": "",
            "md5": "",
            "name": "",
            "description": "",
            "families": None,
            "aliases": None,
            "sources": None,
        },
        "kind": {"Group": "", "Version": "", "Kind": ""},
        "resource": {"Group": "", "Version": "", "Resource": ""},
        "clusterName": t.cluster_name,
        "clusterUID": ident.cluster_uid,
        "containerName": t.container_name,
        "hostNetwork": t.host_network,
        "image": t.image,
        "imageDigest": ident.image_digest,
        "namespace": t.namespace,
        "nodeName": t.node_name,
        "containerID": pod.container_id,
        "podName": pod.name,
        "podNamespace": t.namespace,
        "podUID": pod.uid,
        "podLabels": ident.labels,
        "workloadName": t.workload_name,
        "workloadNamespace": t.namespace,
        "workloadKind": t.workload_kind,
        "workloadUID": ident.workload_uid,
        "cdrevent": {"cloudMetadata": {}, "eventData": {}},
        "request": {},
        "response": {},
        "sourcePodInfo": {"clusterName": t.cluster_name},
        "networkscan": {},
        "alertType": RULE_ALERT,
        "alertSourcePlatform": K8S_AGENT,
        "ruleID": t.rule_id,
        "hostName": "",
        "message": message,
        "agentVersion": t.agent_version,
    }


def build_body(
    template: AlertTemplate, ident: WorkloadIdentity, pod: PodIdentity, tok: Tokens, now_ns: int
) -> dict[str, Any]:
    """The whole request: ``alerts_per_request`` alerts of one pod and their merged tree."""
    n = template.alerts_per_request
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {"name": pod.name, "namespace": template.namespace},
        "spec": {
            "alerts": [build_alert(template, ident, pod, j, tok) for j in range(n)],
            "processTree": build_tree(template, pod, n, tok, now_ns),
            "cloudMetadata": {},
        },
    }
