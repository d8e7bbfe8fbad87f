"""The receiving side of the alert contract: decode a request body the way the backend does.

The cloud backend decodes runtime-alert bodies with Go's typed JSON decoder into the
armoapi-go types, then validates required fields. These msgspec Structs mirror those Go
types: same JSON names (used as attribute names too), strict types (``"1"`` is not an
int, ``1.0`` is not an int, negative or > 2**32-1 is not a uint32), RFC 3339 times with a
zone, zero-value defaults for missing fields and unknown fields ignored. JSON ``null`` is
accepted where Go has a nil-able type (pointer, slice, map) and rejected elsewhere.

Known gaps, none of which node-agent output touches: Go matches keys case-insensitively
(this decoder does not), and msgspec's RFC 3339 parser also takes a space or lower-case
``t``/``z``, offsets without a colon and over 9 fractional digits, which Go refuses.

One msgspec decode plus a short loop over the alerts: cheap enough for an emulator that
must check more than 10,000 bodies per second on one core.
"""

from __future__ import annotations

from typing import Any

import msgspec

from stressgen.payloads.gotypes import (
    ZERO_TIME,
    GoStruct,
    GroupVersionKind,
    GroupVersionResource,
    Identifiers,
    Int,
    MalwareFile,
    MalwareSignature,
    Process,
    ProcessEntity,
    ProcessTree,
    ProfileMetadata,
    Time,
    Uint32,
    Uint64,
)

__all__ = [
    "ZERO_TIME",
    "GroupVersionKind",
    "GroupVersionResource",
    "Identifiers",
    "InvalidAlerts",
    "MalwareFile",
    "MalwareSignature",
    "ObjectMeta",
    "Process",
    "ProcessEntity",
    "ProcessTree",
    "ProfileMetadata",
    "RuntimeAlert",
    "RuntimeAlertsRequest",
    "RuntimeAlertsSpec",
    "check_required",
    "decode_runtime_alerts",
    "validate_runtime_alerts",
]


class RuntimeAlert(GoStruct):
    """One alert: armoapi-go's RuntimeAlert with its embedded structs flattened."""

    alertName: str = ""
    arguments: dict[str, Any] | None = None
    infectedPID: Uint32 = 0
    processTreeUniqueID: Uint32 = 0
    fixSuggestions: str = ""
    md5Hash: str = ""
    sha1Hash: str = ""
    sha256Hash: str = ""
    severity: Int = 0
    size: str = ""
    timestamp: Time = ZERO_TIME
    nanoseconds: Uint64 = 0
    trace: dict[str, Any] = msgspec.field(default_factory=dict)
    uniqueID: str = ""
    profileMetadata: ProfileMetadata | None = None
    identifiers: Identifiers | None = None
    ruleDescription: str = ""
    malwareFile: MalwareFile = msgspec.field(default_factory=MalwareFile)
    processTree: ProcessTree = msgspec.field(default_factory=ProcessTree)
    signature: MalwareSignature = msgspec.field(default_factory=MalwareSignature)
    kind: GroupVersionKind = msgspec.field(default_factory=GroupVersionKind)
    resource: GroupVersionResource = msgspec.field(default_factory=GroupVersionResource)
    clusterName: str = ""
    clusterUID: str = ""
    containerName: str = ""
    hostNetwork: bool | None = None
    image: str = ""
    imageDigest: str = ""
    namespace: str = ""
    nodeName: str = ""
    containerID: str = ""
    podName: str = ""
    podNamespace: str = ""
    podUID: str = ""
    podLabels: dict[str, str] | None = None
    workloadName: str = ""
    workloadNamespace: str = ""
    workloadKind: str = ""
    workloadUID: str = ""
    cdrevent: dict[str, Any] = msgspec.field(default_factory=dict)
    request: dict[str, Any] = msgspec.field(default_factory=dict)
    response: dict[str, Any] = msgspec.field(default_factory=dict)
    sourcePodInfo: dict[str, Any] = msgspec.field(default_factory=dict)
    networkscan: dict[str, Any] = msgspec.field(default_factory=dict)
    alertType: Int = 0
    alertSourcePlatform: Int = 0
    ruleID: str = ""
    isTriggerAlert: bool = False
    hostName: str = ""
    message: str = ""
    agentVersion: str = ""


class ObjectMeta(GoStruct):
    """``metadata``: which pod the request is about."""

    name: str = ""
    namespace: str = ""


class RuntimeAlertsSpec(GoStruct):
    """``spec``: the alerts, one process tree and the node's cloud metadata.

    ``alerts`` must be a list: a ``null`` list (which Go would read as no alerts) is
    rejected, since a request carrying no alerts is never what a load test means to send.
    """

    alerts: list[RuntimeAlert] = msgspec.field(default_factory=list)
    processTree: ProcessTree = msgspec.field(default_factory=ProcessTree)
    cloudMetadata: dict[str, Any] = msgspec.field(default_factory=dict)


class RuntimeAlertsRequest(GoStruct):
    """A whole request body as node-agent sends it."""

    kind: str = ""
    apiVersion: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: RuntimeAlertsSpec = msgspec.field(default_factory=RuntimeAlertsSpec)


class InvalidAlerts(Exception):
    """A body the backend could not decode; ``reason`` is one line naming the JSON path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


_DECODER = msgspec.json.Decoder(RuntimeAlertsRequest)
_AT = " - at `"
K8S_PLATFORM = 1
"""``alertSourcePlatform`` of a Kubernetes agent: the platform with extra required fields."""


def _reason(exc: msgspec.MsgspecError) -> str:
    """Turn ``Expected `int`, got `str` - at `$.x``` into ``$.x: Expected `int`, got `str```."""
    text = str(exc)
    message, sep, where = text.partition(_AT)
    if not sep:
        return f"$: {text}"
    key, in_, path = where.rstrip("`").rpartition("` in `")
    if "matching regex" in message:  # only childrenMap keys carry a pattern
        message = "Expected `<comm>\u241f<pid>` with a uint32 pid"
    return f"{path} key: {message}" if in_ and key == "key" else f"{path}: {message}"


def decode_runtime_alerts(body: bytes) -> RuntimeAlertsRequest:
    """Decode ``body`` strictly, as Go's typed decoder would; raise :class:`InvalidAlerts`."""
    try:
        return _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidAlerts(_reason(exc)) from None


# armoapi-go's RuntimeAlert.Validate lists workloadName too, though the contract omits it.
_K8S_REQUIRED = (
    "workloadNamespace",
    "workloadKind",
    "workloadName",
    "podNamespace",
    "podName",
    "containerName",
)


def check_required(request: RuntimeAlertsRequest) -> str | None:
    """Apply the backend's required-field rules; return a one-line reason or ``None``.

    ``ruleID`` is always required; a Kubernetes alert (``alertSourcePlatform`` 1) also needs
    its workload, pod and container names unless ``containerID`` is ``"host"``.
    """
    for index, alert in enumerate(request.spec.alerts):
        if not alert.ruleID:
            return f"$.spec.alerts[{index}].ruleID: is required but empty or missing"
        if alert.alertSourcePlatform != K8S_PLATFORM or alert.containerID == "host":
            continue
        if (
            alert.workloadNamespace
            and alert.workloadKind
            and alert.workloadName
            and alert.podNamespace
            and alert.podName
            and alert.containerName
        ):
            continue
        for name in _K8S_REQUIRED:
            if not getattr(alert, name):
                return (
                    f"$.spec.alerts[{index}].{name}: is required when alertSourcePlatform"
                    " is 1 but empty or missing"
                )
    return None


def validate_runtime_alerts(
    body: bytes,
) -> tuple[RuntimeAlertsRequest | None, str | None]:
    """Decode and check ``body``: ``(request, None)`` if valid, else ``(request|None, reason)``."""
    try:
        request = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, _reason(exc)
    return request, check_required(request)
