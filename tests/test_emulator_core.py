"""Pure parts of the emulator, tested without sockets or clocks: routing, forwarder, config."""

from __future__ import annotations

import random

import pytest

from stressgen.emulator import routing
from stressgen.emulator.config import EmulatorConfig
from stressgen.emulator.forwarder import Forwarder, in_window, window_end
from stressgen.errors import ConfigError

ALERTS = routing.Target("kubescape.io", "v1", "runtimealerts")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/apis/v1/kubescape.io/v1/runtimealerts", ALERTS),
        ("POST", "/APIS/V1/Kubescape.io/V1/RuntimeAlerts", ALERTS),
        (
            "POST",
            "/apis/v1/kubescape.io/v1/networkstreams",
            ("kubescape.io", "v1", "networkstreams"),
        ),
        ("POST", "/apis/v1/kubescape.io/v1/nodeprofiles", ("kubescape.io", "v1", "nodeprofiles")),
        (
            "POST",
            "/apis/v1/kubescape.io/v1/registrystatuses",
            ("kubescape.io", "v1", "registrystatuses"),
        ),
        (
            "POST",
            "/apis/v1/kubescape.io/v1/aisandboxheartbeats",
            ("kubescape.io", "v1", "aisandboxheartbeats"),
        ),
        ("POST", "/apis/v1/kubescape.io/v1/runtimealerts/", 400),
        ("POST", "/apis/v1/kubescape.io", 400),
        ("POST", "/apis/v1/kubescape.io/v1", 400),
        ("POST", "/apis/v2/kubescape.io/v1/runtimealerts", 400),
        ("POST", "/api/v1/kubescape.io/v1/runtimealerts", 400),
        ("POST", "/apis/v1/kubescape.io//runtimealerts", 400),
        ("POST", "/", 400),
        ("GET", "/apis/v1/kubescape.io/v1/runtimealerts", 405),
        ("PUT", "/apis/v1/kubescape.io/v1/runtimealerts", 405),
        ("DELETE", "/apis/v1/kubescape.io/v1/runtimealerts", 405),
        ("POST", "/apis/v1/kubescape.io/v1/pods", 404),
        ("POST", "/apis/v1/kubescape.io/v2/runtimealerts", 404),
        ("POST", "/apis/v1/spdx.softwarecomposition.kubescape.io/v1beta1/x", 404),
    ],
)
def test_route(method: str, path: str, expected: object) -> None:
    result = routing.route(method, path)
    if isinstance(expected, tuple):
        expected = routing.Target(*expected)
    assert result == expected


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({"kind": "RuntimeAlerts", "apiVersion": "kubescape.io/v1"}, 202),
        ({"kind": "runtimealerts", "apiVersion": "KUBESCAPE.IO/V1"}, 202),
        ({"apiVersion": "kubescape.io/v1"}, 500),
        ({"kind": "", "apiVersion": "kubescape.io/v1"}, 500),
        ({"kind": 7, "apiVersion": "kubescape.io/v1"}, 500),
        ([1, 2], 500),
        ("text", 500),
        (None, 500),
        ({"kind": "NodeProfiles", "apiVersion": "kubescape.io/v1"}, 400),
        ({"kind": "RuntimeAlerts", "apiVersion": "kubescape.io/v2"}, 400),
        ({"kind": "RuntimeAlerts", "apiVersion": "other.io/v1"}, 400),
        ({"kind": "RuntimeAlerts", "apiVersion": "v1"}, 400),
        ({"kind": "RuntimeAlerts"}, 400),
    ],
)
def test_check_document(document: object, status: int) -> None:
    assert routing.check_document(ALERTS, document) == status


@pytest.mark.parametrize(
    ("t", "every", "length", "end"),
    [
        (0.5, 10, 1, 0.5),  # before the first window
        (10.0, 10, 1, 11.0),  # window start
        (10.5, 10, 1, 11.0),
        (11.0, 10, 1, 11.0),  # window end is outside
        (25.2, 10, 1, 25.2),
        (30.9, 10, 1, 31.0),
        (5.0, 0, 0, 5.0),  # no stalls configured
    ],
)
def test_window_end(t: float, every: float, length: float, end: float) -> None:
    assert window_end(t, every, length) == pytest.approx(end)
    assert in_window(t, every, length) == (end != t)


def test_forwarder_serialises_fifo() -> None:
    fwd = Forwarder(latency=0.015)
    # Ten requests at once finish 15 ms apart: capacity is 1/latency.
    done = [fwd.admit(1.0) for _ in range(10)]
    assert done == pytest.approx([1.0 + 0.015 * (i + 1) for i in range(10)])
    # A request after the queue drained starts at its own arrival.
    assert fwd.admit(5.0) == pytest.approx(5.015)


def test_forwarder_zero_latency_answers_at_arrival() -> None:
    fwd = Forwarder(latency=0.0)
    assert [fwd.admit(t) for t in (1.0, 1.0, 2.0)] == [1.0, 1.0, 2.0]


def test_forwarder_waits_out_a_stall() -> None:
    fwd = Forwarder(latency=0.1, stall_every=10, stall_for=2)
    assert fwd.admit(9.85) == pytest.approx(9.95)
    # The second starts when the writer is free (9.95), just before the stall.
    assert fwd.admit(9.9) == pytest.approx(10.05)
    # The third would start at 10.05, inside the stall, so it waits until 12.
    assert fwd.admit(9.9) == pytest.approx(12.1)


def test_forwarder_jitter_is_bounded_and_seeded() -> None:
    a = Forwarder(latency=0.01, jitter=0.005, rng=random.Random(7))
    b = Forwarder(latency=0.01, jitter=0.005, rng=random.Random(7))
    times_a = [a.admit(float(i)) - i for i in range(200)]
    times_b = [b.admit(float(i)) - i for i in range(200)]
    assert times_a == times_b
    assert all(0.005 - 1e-12 <= d <= 0.015 + 1e-12 for d in times_a)
    assert len(set(times_a)) > 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 70000}, "--port: 70000 is not a port number"),
        ({"latency_s": -1}, "--latency: -1"),
        ({"error_rate": 1.5}, "--error-rate: 1.5 is not a fraction"),
        ({"drop_rate": -0.1}, "--drop-rate: -0.1"),
        ({"error_status": 202}, "--error-status: 202 is not one of 400"),
        ({"stall_every_s": 10}, "--stall-every/--stall-for"),
        ({"stall_every_s": 1, "stall_for_s": 2}, "--stall-for: '2s' is not shorter"),
        ({"refuse_for_s": 1}, "--refuse-every/--refuse-for"),
        ({"read_timeout_s": 0}, "--read-timeout: 0"),
        ({"max_body_bytes": 0}, "--max-body: 0"),
    ],
)
def test_config_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        EmulatorConfig(**kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
