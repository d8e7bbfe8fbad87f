"""The strict decoder and the backend's required-field rules, on real rendered bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stressgen.payloads import (
    AlertTemplate,
    InvalidAlerts,
    PayloadFactory,
    check_required,
    decode_runtime_alerts,
    validate_runtime_alerts,
)
from stressgen.payloads.schema import ZERO_TIME

Doc = dict[str, Any]


def _body() -> Doc:
    doc: Doc = orjson.loads(PayloadFactory(AlertTemplate(), seed=7).render())
    return doc


def _alert(doc: Doc) -> Doc:
    alert: Doc = doc["spec"]["alerts"][0]
    return alert


def _offender(doc: Doc) -> Doc:
    root = doc["spec"]["processTree"]["processTree"]
    shell = next(iter(root["childrenMap"].values()))
    offender: Doc = next(iter(shell["childrenMap"].values()))
    return offender


def _set(field: str, value: object) -> Callable[[Doc], None]:
    return lambda doc: _alert(doc).__setitem__(field, value)


def _drop(field: str) -> Callable[[Doc], None]:
    return lambda doc: _alert(doc).pop(field)


def _bad_children_key(doc: Doc) -> None:
    root = doc["spec"]["processTree"]["processTree"]
    shell = next(iter(root["childrenMap"].values()))
    children = shell["childrenMap"]
    children["python3-123"] = children.pop(next(iter(children)))


# (id, change to a valid body, JSON path the reason must name, words it must contain)
UNDECODABLE: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("severity as string", _set("severity", "1"), "$.spec.alerts[0].severity", "`int`"),
    ("severity as float", _set("severity", 1.0), "$.spec.alerts[0].severity", "`float`"),
    ("negative infectedPID", _set("infectedPID", -1), "$.spec.alerts[0].infectedPID", ">= 0"),
    (
        "infectedPID over uint32",
        _set("infectedPID", 2**32),
        "$.spec.alerts[0].infectedPID",
        "<= 4294967295",
    ),
    (
        "tree pid over uint32",
        lambda doc: _offender(doc).__setitem__("pid", 2**32),
        "$.spec.processTree.processTree.childrenMap[...].childrenMap[...].pid",
        "<= 4294967295",
    ),
    (
        "timestamp not RFC 3339",
        _set("timestamp", "yesterday"),
        "$.spec.alerts[0].timestamp",
        "RFC3339",
    ),
    (
        "timestamp without zone",
        _set("timestamp", "2024-05-09T07:35:25.123456789"),
        "$.spec.alerts[0].timestamp",
        "timezone",
    ),
    ("timestamp as number", _set("timestamp", 1715240125), "$.spec.alerts[0].timestamp", "`int`"),
    (
        "hostNetwork as string",
        _set("hostNetwork", "false"),
        "$.spec.alerts[0].hostNetwork",
        "`str`",
    ),
    (
        "podLabels value not string",
        _set("podLabels", {"app": 1}),
        "$.spec.alerts[0].podLabels[...]",
        "`str`",
    ),
    ("ruleID as number", _set("ruleID", 3), "$.spec.alerts[0].ruleID", "`str`"),
    (
        "alerts not a list",
        lambda doc: doc["spec"].__setitem__("alerts", {}),
        "$.spec.alerts",
        "array",
    ),
    (
        "childrenMap key without separator",
        _bad_children_key,
        "$.spec.processTree.processTree.childrenMap[...].childrenMap key",
        "uint32 pid",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [case[1:] for case in UNDECODABLE],
    ids=[case[0] for case in UNDECODABLE],
)
def test_undecodable_bodies_are_named(change: Callable[[Doc], None], path: str, words: str) -> None:
    doc = _body()
    change(doc)
    body = orjson.dumps(doc)
    with pytest.raises(InvalidAlerts) as caught:
        decode_runtime_alerts(body)
    assert caught.value.reason.startswith(path + ":") or caught.value.reason.startswith(path + " ")
    assert words in caught.value.reason
    request, reason = validate_runtime_alerts(body)
    assert request is None
    assert reason == caught.value.reason


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[]", "$: Expected `object`, got `array`"),
        (b'"RuntimeAlerts"', "$: Expected `object`, got `str`"),
        (b"\xff\x00garbage", "$: JSON is malformed"),
        (b"", "$: Input data was truncated"),
        (b'{"kind": "RuntimeAlerts"} trailing', "$: JSON is malformed"),
    ],
    ids=["array", "string", "garbage", "empty", "trailing bytes"],
)
def test_bodies_that_are_not_json_objects(body: bytes, words: str) -> None:
    request, reason = validate_runtime_alerts(body)
    assert request is None
    assert reason is not None
    assert reason.startswith(words)


# (id, change, field the reason names; None when the body is valid)
REQUIRED: list[tuple[str, Callable[[Doc], None], str | None]] = [
    ("untouched", lambda doc: None, None),
    ("missing ruleID", _drop("ruleID"), "ruleID"),
    ("empty ruleID", _set("ruleID", ""), "ruleID"),
    ("empty podName", _set("podName", ""), "podName"),
    ("missing podNamespace", _drop("podNamespace"), "podNamespace"),
    ("empty workloadKind", _set("workloadKind", ""), "workloadKind"),
    ("empty workloadName", _set("workloadName", ""), "workloadName"),
    ("empty workloadNamespace", _set("workloadNamespace", ""), "workloadNamespace"),
    ("empty containerName", _set("containerName", ""), "containerName"),
    (
        "containerID host is exempt",
        lambda doc: _alert(doc).update(containerID="host", podName="", containerName=""),
        None,
    ),
    (
        "host platform is exempt",
        lambda doc: _alert(doc).update(alertSourcePlatform=2, podName=""),
        None,
    ),
    (
        "host containerID still needs ruleID",
        lambda doc: _alert(doc).update(containerID="host", ruleID=""),
        "ruleID",
    ),
    ("unknown fields are ignored", _set("somethingNew", {"x": [1, 2]}), None),
]


@pytest.mark.parametrize(
    ("change", "field"), [case[1:] for case in REQUIRED], ids=[case[0] for case in REQUIRED]
)
def test_required_fields(change: Callable[[Doc], None], field: str | None) -> None:
    doc = _body()
    change(doc)
    body = orjson.dumps(doc)
    request = decode_runtime_alerts(body)
    reason = check_required(request)
    assert validate_runtime_alerts(body) == (request, reason)
    if field is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason.startswith(f"$.spec.alerts[0].{field}: is required")


def test_required_fields_name_the_alert_index() -> None:
    doc: Doc = orjson.loads(PayloadFactory(AlertTemplate(alerts_per_request=3)).render())
    doc["spec"]["alerts"][2]["podName"] = ""
    _, reason = validate_runtime_alerts(orjson.dumps(doc))
    assert reason is not None
    assert reason.startswith("$.spec.alerts[2].podName:")


def test_missing_fields_get_go_zero_values() -> None:
    request = decode_runtime_alerts(b'{"kind": "RuntimeAlerts", "spec": {"alerts": [{}]}}')
    alert = request.spec.alerts[0]
    assert request.apiVersion == ""
    assert request.metadata.name == ""
    assert (alert.severity, alert.infectedPID, alert.ruleID) == (0, 0, "")
    assert alert.timestamp == ZERO_TIME
    assert alert.hostNetwork is None
    assert request.spec.processTree.processTree.startTime == ZERO_TIME
    # An alert with no platform only needs a ruleID.
    assert check_required(request) == "$.spec.alerts[0].ruleID: is required but empty or missing"


def test_decoded_values_keep_their_types() -> None:
    factory = PayloadFactory(AlertTemplate(), clock_ns=lambda: 1_700_000_000_123_456_789)
    request = decode_runtime_alerts(factory.render())
    alert = request.spec.alerts[0]
    assert alert.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123457, tzinfo=UTC)
    assert isinstance(alert.infectedPID, int)
    assert alert.signature.families is None
    assert alert.kind.kind == ""
    assert alert.profileMetadata is not None
    assert alert.profileMetadata.failOnProfile is True
    assert alert.identifiers is not None
    assert alert.identifiers.process is not None
    assert alert.identifiers.process.name == "python3"


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("sh\u241f1", True),
        ("sh\u241f4294967295", True),
        ("sh\u241f007", True),
        ("\u241f12", True),
        ("my proc\u241f999999999", True),
        ("sh\u241f4294967296", False),
        ("sh\u241f99999999999", False),
        ("sh\u241f", False),
        ("sh\u241f+1", False),
        ("sh\u241f-1", False),
        ("sh\u241f\u0663", False),
        ("sh\u241f1\n", False),
        ("a\u241fb\u241f1", False),
        ("sh-1", False),
    ],
)
def test_children_map_keys_follow_comm_pid(key: str, valid: bool) -> None:
    tree = {"processTree": {"pid": 1, "childrenMap": {key: {"pid": 1}}}}
    body = orjson.dumps({"kind": "RuntimeAlerts", "spec": {"processTree": tree}})
    _, reason = validate_runtime_alerts(body)
    if valid:
        assert reason is None
    else:
        assert reason == (
            "$.spec.processTree.processTree.childrenMap key: "
            "Expected `<comm>\u241f<pid>` with a uint32 pid"
        )
