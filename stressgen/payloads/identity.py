"""The static identities behind a template's alerts: pods, uids, container ids, hashes.

Everything here is derived deterministically from the template, so every worker process
describes the same cluster, workload and pods; only the per-alert values differ.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from stressgen.payloads.template import AlertTemplate

_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet


@dataclass(frozen=True)
class PodIdentity:
    """One pod of the workload and the pids of its long-lived processes."""

    name: str
    uid: str
    container_id: str
    shim_pid: int
    root_pid: int
    shell_pid: int


@dataclass(frozen=True)
class WorkloadIdentity:
    """Identities shared by every alert of a template."""

    cluster_uid: str
    workload_uid: str
    image_digest: str
    profile_name: str
    ap_checksum: str
    labels: dict[str, str]
    md5: str
    sha1: str
    sha256: str
    pods: tuple[PodIdentity, ...]


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def _uid(*parts: str) -> str:
    return str(uuid.UUID(bytes=_digest(*parts)[:16], version=4))


def _k8s_suffix(length: int, *parts: str) -> str:
    number = int.from_bytes(_digest(*parts), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_K8S_ALPHABET))
        chars.append(_K8S_ALPHABET[index])
    return "".join(chars)


def _pid(low: int, high: int, *parts: str) -> int:
    return low + int.from_bytes(_digest(*parts)[:4], "big") % (high - low)


def derive_identity(template: AlertTemplate) -> WorkloadIdentity:
    """Return the cluster, workload and pod identities ``template`` stands for."""
    t = template
    key = (t.cluster_name, t.namespace, t.workload_kind, t.workload_name)
    template_hash = _k8s_suffix(10, *key, "pod-template-hash")
    if t.workload_kind == "Deployment":
        default_prefix = f"{t.workload_name}-{template_hash}"
        profile = f"replicaset-{t.workload_name}-{template_hash}"
    else:
        default_prefix = t.workload_name
        profile = f"{t.workload_kind.lower()}-{t.workload_name}"
    prefix = t.pod_name_prefix or default_prefix
    pods = []
    for index in range(t.pods):
        if t.workload_kind == "StatefulSet" or (t.workload_kind == "Pod" and index):
            name = f"{prefix}-{index}"
        elif t.workload_kind == "Pod" and not t.pod_name_prefix:
            name = prefix
        else:
            name = f"{prefix}-{_k8s_suffix(5, *key, prefix, str(index))}"
        pod_uid = _uid(*key, name)
        pods.append(
            PodIdentity(
                name=name,
                uid=pod_uid,
                container_id=_digest(pod_uid, t.container_name).hex(),
                shim_pid=_pid(1000, 20000, pod_uid, "shim"),
                root_pid=_pid(20000, 40000, pod_uid, "root"),
                shell_pid=_pid(40000, 60000, pod_uid, "shell"),
            )
        )
    labels = {"app": t.workload_name}
    if t.workload_kind == "Deployment":
        labels["pod-template-hash"] = template_hash
    labels.update(t.pod_labels)
    exe = (t.image, t.process_path)
    return WorkloadIdentity(
        cluster_uid=_uid(t.cluster_name),
        workload_uid=_uid(*key),
        image_digest="sha256:" + _digest(t.image).hex(),
        profile_name=profile,
        ap_checksum=_digest(*key, "application-profile").hex()[:16],
        labels=labels,
        md5=hashlib.md5(_digest(*exe)).hexdigest(),
        sha1=hashlib.sha1(_digest(*exe)).hexdigest(),
        sha256=_digest(*exe, "sha256").hex(),
        pods=tuple(pods),
    )
