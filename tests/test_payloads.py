"""Rendering node-agent bodies: valid, fresh, unique, the right size; templates and URLs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stressgen.errors import ConfigError
from stressgen.payloads import (
    RUNTIME_ALERTS_PATH,
    AlertTemplate,
    PayloadFactory,
    alerts_url,
    validate_runtime_alerts,
)

SEP = "\u241f"
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")

TEMPLATES: dict[str, AlertTemplate] = {
    "default": AlertTemplate(),
    "bulk 5": AlertTemplate(alerts_per_request=5),
    "bulk 50": AlertTemplate(alerts_per_request=50, pods=7),
    "statefulset": AlertTemplate(
        workload_kind="StatefulSet", workload_name="db", pods=2, pod_labels=(("tier", "data"),)
    ),
    "bare pod": AlertTemplate(workload_kind="Pod", workload_name="debug", pods=1),
    "critical daemonset": AlertTemplate(
        workload_kind="DaemonSet", severity=10, host_network=True, rule_id="R1005"
    ),
    "text needing escapes": AlertTemplate(
        alert_name='Odd "name" \\ with é, 100% and \u241f',
        process_cmdline="python3 -c \"print('%s' % 1)\"",
        image="registry.local:5000/team/app@sha256:abc",
        pod_name_prefix="custom-prefix",
    ),
}


def _doc(body: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(body)
    return doc


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=TEMPLATES.keys())
def test_every_body_is_valid_for_the_backend(template: AlertTemplate) -> None:
    factory = PayloadFactory(template, worker=3)
    for _ in range(2 * template.pods):
        body = factory.render()
        request, reason = validate_runtime_alerts(body)
        assert reason is None
        assert request is not None
        assert request.kind == "RuntimeAlerts"
        assert request.apiVersion == "kubescape.io/v1"
        alerts = request.spec.alerts
        assert len(alerts) == template.alerts_per_request
        assert request.metadata.name == alerts[0].podName
        assert request.metadata.namespace == template.namespace
        assert {a.podName for a in alerts} == {alerts[0].podName}
        assert {a.containerID for a in alerts} == {request.spec.processTree.containerID}
        for alert in alerts:
            assert alert.alertName == template.alert_name
            assert alert.ruleID == template.rule_id
            assert alert.severity == template.severity
            assert (alert.alertType, alert.alertSourcePlatform, alert.hostName) == (0, 1, "")
            assert alert.hostNetwork is template.host_network
            expected = f"Unexpected system call detected: sched_yield with PID {alert.infectedPID}"
            assert alert.message == alert.ruleDescription == expected
            assert alert.arguments is not None
            assert alert.arguments["syscall"] == "sched_yield"


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=TEMPLATES.keys())
def test_process_tree_is_consistent(template: AlertTemplate) -> None:
    doc = _doc(PayloadFactory(template).render())
    root = doc["spec"]["processTree"]["processTree"]
    assert root["pcomm"] == "containerd-shim"
    offenders: dict[int, dict[str, Any]] = {}

    def walk(node: dict[str, Any]) -> None:
        for key, child in node.get("childrenMap", {}).items():
            assert key == f"{child['comm']}{SEP}{child['pid']}"
            assert (child["ppid"], child["pcomm"]) == (node["pid"], node["comm"])
            if "childrenMap" in child:
                walk(child)
            else:
                offenders[child["pid"]] = child

    walk(root)
    pids = [alert["infectedPID"] for alert in doc["spec"]["alerts"]]
    assert sorted(offenders) == sorted(pids)
    assert len(set(pids)) == len(pids)
    assert all(0 < pid <= 4194304 for pid in pids)
    assert {o["comm"] for o in offenders.values()} == {template.process_comm}


def test_single_alert_body_is_about_3_3_kb() -> None:
    factory = PayloadFactory(AlertTemplate())
    sizes = {len(factory.render()) for _ in range(20)}
    assert all(2800 <= size <= 3800 for size in sizes), sizes


def test_body_is_compact_json() -> None:
    body = PayloadFactory(AlertTemplate()).render()
    assert body == orjson.dumps(orjson.loads(body))


def test_unique_ids_never_repeat_within_or_across_factories() -> None:
    renders = 100_000
    first = PayloadFactory(AlertTemplate())
    second = PayloadFactory(AlertTemplate())
    pattern = re.compile(rb'"uniqueID":"([^"]+)"')
    ids: set[bytes] = set()
    for factory in (first, second):
        for _ in range(renders):
            ids.update(pattern.findall(factory.render()))
    assert len(ids) == 2 * renders
    assert all(HEX32.match(uid.decode()) for uid in list(ids)[:1000])


def test_bulk_unique_ids_and_seeded_workers() -> None:
    template = AlertTemplate(alerts_per_request=50)
    ids: set[str] = set()
    for worker in range(4):
        factory = PayloadFactory(template, seed=1, worker=worker)
        for _ in range(200):
            ids.update(alert["uniqueID"] for alert in _doc(factory.render())["spec"]["alerts"])
    assert len(ids) == 4 * 200 * 50


def test_same_seed_and_worker_render_the_same_bodies() -> None:
    def clock() -> int:
        return 1_700_000_000_000_000_000

    a = PayloadFactory(AlertTemplate(), seed=42, worker=1, clock_ns=clock)
    b = PayloadFactory(AlertTemplate(), seed=42, worker=1, clock_ns=clock)
    c = PayloadFactory(AlertTemplate(), seed=42, worker=2, clock_ns=clock)
    bodies_a = [a.render() for _ in range(5)]
    assert bodies_a == [b.render() for _ in range(5)]
    assert bodies_a != [c.render() for _ in range(5)]


def test_timestamps_are_fresh_rfc3339_with_nanoseconds() -> None:
    factory = PayloadFactory(AlertTemplate(alerts_per_request=3))
    before = datetime.now(UTC)
    doc = _doc(factory.render())
    after = datetime.now(UTC)
    for alert in doc["spec"]["alerts"]:
        stamp = alert["timestamp"]
        assert RFC3339_NANO.match(stamp), stamp
        when = datetime.fromisoformat(stamp[:26] + "+00:00")
        assert before.replace(microsecond=0) <= when <= after


@pytest.mark.parametrize(
    ("clock_ns", "stamp"),
    [
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789Z"),
        (1_700_000_000_000_000_001, "2023-11-14T22:13:20.000000001Z"),
        # Nanoseconds ending in zero are moved 1 ns on: Go would trim the zeros.
        (1_700_000_001_000_000_000, "2023-11-14T22:13:21.000000001Z"),
        (1_700_000_000_123_456_780, "2023-11-14T22:13:20.123456781Z"),
        (0, "1970-01-01T00:00:00.000000001Z"),
    ],
)
def test_timestamp_formatting(clock_ns: int, stamp: str) -> None:
    factory = PayloadFactory(AlertTemplate(), clock_ns=lambda: clock_ns)
    assert _doc(factory.render())["spec"]["alerts"][0]["timestamp"] == stamp


@pytest.mark.parametrize("clock_ns", [1_700_000_000_123_456_789, 1_700_000_000_5 * 10**8, 10**9])
def test_timestamp_is_what_go_marshals(clock_ns: int) -> None:
    """Byte for byte Go's RFC3339Nano (trailing zeros trimmed) of the instant reported,
    which is the clock's reading or 1 ns after it."""
    from stressgen.payloads.skeleton import rfc3339_nano

    factory = PayloadFactory(AlertTemplate(), clock_ns=lambda: clock_ns)
    stamp = _doc(factory.render())["spec"]["alerts"][0]["timestamp"]
    assert stamp in (rfc3339_nano(clock_ns), rfc3339_nano(clock_ns + 1))
    assert not stamp.endswith("0Z")


def test_percent_signs_in_static_text_survive() -> None:
    """The body is a %-format string: a literal % in a template value must come out as is."""
    template = AlertTemplate(alert_name="100% CPU %s %d")
    doc = _doc(PayloadFactory(template).render())
    assert doc["spec"]["alerts"][0]["alertName"] == "100% CPU %s %d"


def test_timestamp_follows_the_clock_across_seconds() -> None:
    now = [1_700_000_000_999_999_999]
    factory = PayloadFactory(AlertTemplate(), clock_ns=lambda: now[0])
    first = _doc(factory.render())["spec"]["alerts"][0]["timestamp"]
    now[0] += 2
    second = _doc(factory.render())["spec"]["alerts"][0]["timestamp"]
    assert (first, second) == ("2023-11-14T22:13:20.999999999Z", "2023-11-14T22:13:21.000000001Z")


def test_alerts_spread_over_the_workload_pods() -> None:
    template = AlertTemplate(pods=4)
    factory = PayloadFactory(template)
    seen = {_doc(factory.render())["spec"]["alerts"][0]["podName"] for _ in range(12)}
    assert seen == set(factory.pod_names)
    assert len(seen) == 4
    assert all(re.fullmatch(r"stressgen-target-[a-z0-9]{10}-[a-z0-9]{5}", n) for n in seen)
    # Pod identities come from the template, so every worker names the same pods.
    assert PayloadFactory(template, seed=9, worker=5).pod_names == factory.pod_names


@pytest.mark.parametrize(
    ("base", "url"),
    [
        (
            "http://localhost:8089/apis/v1/kubescape.io",
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}",
        ),
        (
            "http://localhost:8089/apis/v1/kubescape.io/",
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}",
        ),
        (
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}",
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}",
        ),
        (
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}/",
            f"http://localhost:8089{RUNTIME_ALERTS_PATH}",
        ),
        (
            "https://synchronizer.kubescape.svc.cluster.local:8089/apis/v1/kubescape.io",
            f"https://synchronizer.kubescape.svc.cluster.local:8089{RUNTIME_ALERTS_PATH}",
        ),
        (
            "  http://127.0.0.1:9000/apis/v1/kubescape.io ",
            f"http://127.0.0.1:9000{RUNTIME_ALERTS_PATH}",
        ),
        ("http://127.0.0.1:8089", f"http://127.0.0.1:8089{RUNTIME_ALERTS_PATH}"),
        ("http://127.0.0.1:8089/", f"http://127.0.0.1:8089{RUNTIME_ALERTS_PATH}"),
    ],
)
def test_alerts_url(base: str, url: str) -> None:
    assert alerts_url(base) == url


@pytest.mark.parametrize("base", ["", "localhost:8089", "ftp://host/apis", "http://", "http:///"])
def test_alerts_url_rejects_non_http(base: str) -> None:
    with pytest.raises(ConfigError) as caught:
        alerts_url(base, field="--url")
    assert caught.value.field == "--url"
    assert "http://" in str(caught.value)


BAD_TEMPLATES: list[tuple[dict[str, Any], str, str]] = [
    ({"alerts_per_request": 0}, "alerts_per_request", "from 1 to 50"),
    ({"alerts_per_request": 51}, "alerts_per_request", "from 1 to 50"),
    ({"alerts_per_request": 2.0}, "alerts_per_request", "from 1 to 50"),
    ({"severity": "1"}, "severity", "integer from 0 to 10"),
    ({"severity": True}, "severity", "integer from 0 to 10"),
    ({"severity": 11}, "severity", "integer from 0 to 10"),
    ({"pods": 0}, "pods", "from 1 to 100"),
    ({"pods": 101}, "pods", "from 1 to 100"),
    ({"rule_id": ""}, "rule_id", "non-empty"),
    ({"alert_name": None}, "alert_name", "a string"),
    ({"syscall": "sched yield"}, "syscall", "system call"),
    ({"namespace": "Kube_System"}, "namespace", "namespace"),
    ({"workload_name": "-bad"}, "workload_name", "object name"),
    ({"workload_kind": "Deploy"}, "workload_kind", "Deployment"),
    ({"container_name": "a" * 64}, "container_name", "container name"),
    ({"process_comm": "a-very-long-process-name"}, "process_comm", "1-15 characters"),
    ({"process_comm": f"sh{SEP}1"}, "process_comm", "process name"),
    ({"process_path": "bin/python3"}, "process_path", "absolute path"),
    ({"host_network": "no"}, "host_network", "true or false"),
    ({"pod_labels": {"a": "b"}}, "pod_labels", "label pairs"),
    ({"pod_labels": (("bad key!", "x"),)}, "pod_labels", "label key"),
]


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"), BAD_TEMPLATES, ids=[f"{c[1]}={c[0]}" for c in BAD_TEMPLATES]
)
def test_template_validation_names_the_field(
    kwargs: dict[str, Any], field: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        AlertTemplate(**kwargs)
    assert caught.value.field == field
    assert expected in caught.value.expected
    assert str(caught.value).startswith(f"{field}: ")
