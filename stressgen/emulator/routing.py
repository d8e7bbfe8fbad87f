"""How the synchronizer's HTTP endpoint decides its answer: pure functions, no I/O.

The order of checks and the status codes follow the contract
(``shared/docs/synchronizer-contract.md``, "How the synchronizer answers").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from stressgen.emulator.config import SERVED_RESOURCES

ACCEPTED = 202
BAD_REQUEST = 400
NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405
SERVER_ERROR = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A request path that names a served group/version/resource."""

    group: str
    version: str
    resource: str


def route(method: str, path: str) -> Target | int:
    """Return the resource a request addresses, or the status that rejects it.

    The path must be exactly ``/apis/v1/<group>/<version>/<resource>`` (compared
    lower-cased; a trailing slash fails), the method POST, and the resource served.
    """
    parts = path.lower().split("/")
    if len(parts) != 6 or parts[0] != "" or parts[1] != "apis" or parts[2] != "v1":
        return BAD_REQUEST
    if any(not p for p in parts[3:]):
        return BAD_REQUEST
    if method != "POST":
        return METHOD_NOT_ALLOWED
    group, version, resource = parts[3], parts[4], parts[5]
    if resource not in SERVED_RESOURCES.get(group, {}).get(version, frozenset()):
        return NOT_FOUND
    return Target(group, version, resource)


def check_kind(target: Target, api_version: object, kind: object) -> int:
    """Status for a body whose ``apiVersion``/``kind`` were read: 202 if they match the URL.

    A missing or empty ``kind`` is a server error (500), as in the real endpoint; a kind or
    apiVersion that names another resource is a bad request (400).
    """
    if not isinstance(kind, str) or not kind:
        return SERVER_ERROR
    if not isinstance(api_version, str):
        return BAD_REQUEST
    gv = api_version.lower().split("/")
    if len(gv) != 2 or gv[0] != target.group or gv[1] != target.version:
        return BAD_REQUEST
    if kind.lower() != target.resource:
        return BAD_REQUEST
    return ACCEPTED


def check_document(target: Target, document: object) -> int:
    """Status for a generically decoded body (anything ``json.loads`` returns)."""
    if not isinstance(document, Mapping):
        return SERVER_ERROR
    return check_kind(target, document.get("apiVersion"), document.get("kind"))
