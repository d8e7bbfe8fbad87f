"""The Go types nested inside a runtime alert, as strict msgspec Structs.

Mirrors of armoapi-go's process tree, profile metadata, identifiers and the zero structs
node-agent always serialises; :mod:`stressgen.payloads.schema` assembles them into the
request. Attribute names are the JSON names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

Uint32 = Annotated[int, msgspec.Meta(ge=0, le=4294967295)]
# msgspec bounds stop at int64: (2**63, 2**64) is rejected here though Go takes it.
Uint64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]  # Go's int is 64-bit
Time = Annotated[datetime, msgspec.Meta(tz=True)]

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero ``time.Time``, serialised as ``"0001-01-01T00:00:00Z"``."""

# armoapi-go's CommPID.UnmarshalText: "<comm>\u241f<pid>", exactly one separator, pid a
# base-10 uint32 (strconv.ParseUint(s, 10, 32)); any other key fails the whole decode.
# [0-9], not \d: Python's \d also matches non-ASCII digits, which Go refuses.
_UINT32_DIGITS = (
    r"0*(?:[0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}"
    r"|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}"
    r"|42949672[0-8][0-9]|429496729[0-5])"
)
CommPIDKey = Annotated[str, msgspec.Meta(pattern=f"^[^\u241f]*\u241f{_UINT32_DIGITS}\\Z")]


class GoStruct(msgspec.Struct, kw_only=True, gc=False):
    """Base of the mirrored Go types.

    ``gc=False``: decoded values hold no reference cycles, so the GC need not track them.
    """


class ProcessEntity(GoStruct):
    """``identifiers.process``."""

    name: str = ""
    commandLine: str = ""


class Identifiers(GoStruct):
    """What the alert is about (armoapi-go ``common.Identifiers``)."""

    process: ProcessEntity | None = None
    file: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    cloudAPI: dict[str, Any] | None = None


class ProfileMetadata(GoStruct):
    """State of the application profile the rule compared against."""

    status: str = ""
    completion: str = ""
    name: str = ""
    failOnProfile: bool = False
    type: Int = 0
    profileDependency: Int = 0
    errorMessage: str = ""


class Process(GoStruct):
    """One process of a tree; children sit in ``childrenMap`` keyed ``<comm>\u241f<pid>``."""

    pid: Uint32 = 0
    cmdline: str = ""
    comm: str = ""
    ppid: Uint32 = 0
    pcomm: str = ""
    hardlink: str = ""
    uid: Uint32 | None = None
    gid: Uint32 | None = None
    userName: str = ""
    groupName: str = ""
    startTime: Time = ZERO_TIME
    upperLayer: bool | None = None
    cwd: str = ""
    path: str = ""
    children: list[Process] | None = None
    childrenMap: dict[CommPIDKey, Process | None] | None = None


class ProcessTree(GoStruct):
    """A process tree with its own id and the container it belongs to."""

    processTree: Process = msgspec.field(default_factory=Process)
    uniqueID: Uint32 = 0
    containerID: str = ""


class FileTimestamps(GoStruct):
    """``malwareFile.timestamps``."""

    creationTime: Time = ZERO_TIME
    modificationTime: Time = ZERO_TIME
    accessTime: Time = ZERO_TIME


class MalwareFile(GoStruct):
    """``malwareFile``: a zero struct on rule alerts."""

    path: str = ""
    size: Int = 0
    hashes: dict[str, str] = msgspec.field(default_factory=dict)
    timestamps: FileTimestamps = msgspec.field(default_factory=FileTimestamps)
    ownership: dict[str, Any] = msgspec.field(default_factory=dict)
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


class MalwareSignature(GoStruct):
    """``signature``: a zero struct on rule alerts (its lists serialise as ``null``)."""

    id: Int = 0
    sha256: str = ""
    sha1: str = ""
    md5: str = ""
    name: str = ""
    description: str = ""
    families: list[str] | None = None
    aliases: list[str] | None = None
    sources: list[str] | None = None


class GroupVersionKind(GoStruct, rename="pascal"):
    """``kind``: Kubernetes' schema.GroupVersionKind (no JSON tags, so capitalised)."""

    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(GoStruct, rename="pascal"):
    """``resource``: Kubernetes' schema.GroupVersionResource."""

    group: str = ""
    version: str = ""
    resource: str = ""
