"""The emulator over real loopback connections: every row of the contract's status table,
the serialised forwarder, each fault, strict validation, counters, reset and timeouts."""

from __future__ import annotations

import concurrent.futures
import http.client
import socket
import time

import orjson
import pytest

from stressgen.emulator import EmulatorThread, fetch_stats, reset_stats
from stressgen.payloads import AlertTemplate, PayloadFactory
from tests.helpers import ALERTS_PATH, host_port, post, raw_exchange, running_emulator


def valid_body(**template: object) -> bytes:
    return PayloadFactory(AlertTemplate(**template)).render()  # type: ignore[arg-type]


def mutated(path: tuple[str | int, ...], value: object) -> bytes:
    """A valid body with one field replaced (``path`` into the JSON document)."""
    document = orjson.loads(valid_body())
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return orjson.dumps(document)


def without(key: str) -> bytes:
    document = orjson.loads(valid_body())
    del document[key]
    return orjson.dumps(document)


OTHER = "/apis/v1/kubescape.io/v1/networkstreams"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", ALERTS_PATH, "valid", 202),
        ("POST", ALERTS_PATH + "/", "valid", 400),
        ("POST", "/apis/v1/kubescape.io", "valid", 400),
        ("POST", "/apis/v1/kubescape.io/v1/runtimealerts/extra", "valid", 400),
        ("GET", ALERTS_PATH, "", 405),
        ("PUT", ALERTS_PATH, "valid", 405),
        ("POST", "/apis/v1/kubescape.io/v1/pods", "valid", 404),
        ("POST", ALERTS_PATH, "not json", 500),
        ("POST", ALERTS_PATH, "[]", 500),
        ("POST", ALERTS_PATH, "no kind", 500),
        ("POST", ALERTS_PATH, "wrong kind", 400),
        ("POST", ALERTS_PATH, "wrong apiVersion", 400),
        ("POST", OTHER, '{"kind":"NetworkStreams","apiVersion":"kubescape.io/v1"}', 202),
        ("POST", OTHER, '{"kind":"RuntimeAlerts","apiVersion":"kubescape.io/v1"}', 400),
        ("GET", "/healthz", "", 200),
        ("GET", "/readyz", "", 200),
    ],
)
def test_contract_status_table(
    emulator: EmulatorThread, method: str, path: str, body: str, status: int
) -> None:
    payloads = {
        "valid": valid_body(),
        "not json": b"\x00garbage{",
        "no kind": without("kind"),
        "wrong kind": mutated(("kind",), "NodeProfiles"),
        "wrong apiVersion": mutated(("apiVersion",), "kubescape.io/v2"),
    }
    data = payloads.get(body, body.encode())
    assert post(emulator.url, path, data, method=method) == status
    if path not in ("/healthz", "/readyz"):
        stats = emulator.stats()
        assert stats["requests"] == 1
        assert stats["answers"] == {str(status): 1}
        assert stats["accepted"] == (1 if status == 202 else 0)


def test_accepted_answer_is_empty_with_date(emulator: EmulatorThread) -> None:
    conn = http.client.HTTPConnection(*host_port(emulator.url), timeout=5)
    conn.request("POST", ALERTS_PATH, body=valid_body())
    response = conn.getresponse()
    assert response.status == 202
    assert response.read() == b""
    assert response.getheader("Content-Length") == "0"
    assert response.getheader("Date")
    # Keep-alive: the same connection serves a second request.
    conn.request("POST", ALERTS_PATH, body=valid_body())
    assert conn.getresponse().status == 202
    conn.close()
    # One connection for both alerts, one for the stats request itself.
    assert emulator.stats()["connections_opened"] == 2


def test_strict_validation_counts_but_still_accepts(emulator: EmulatorThread) -> None:
    assert post(emulator.url, ALERTS_PATH, valid_body()) == 202
    bad = mutated(("spec", "alerts", 0, "severity"), "1")
    assert post(emulator.url, ALERTS_PATH, bad) == 202
    stats = emulator.stats()
    assert stats["alerts_valid"] == 1
    assert stats["alerts_invalid"] == 1
    assert stats["alerts_accepted"] == 2
    assert any("severity" in s for s in stats["invalid_samples"])


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("spec", "alerts", 0, "infectedPID"), -1, "infectedPID"),
        (("spec", "alerts", 0, "infectedPID"), 2**32, "infectedPID"),
        (("spec", "alerts", 0, "timestamp"), "yesterday", "timestamp"),
        (("spec", "alerts", 0, "ruleID"), "", "ruleID"),
        (("spec", "alerts", 0, "podName"), "", "podName"),
    ],
)
def test_invalid_alerts_rejected_on_request(
    path: tuple[str | int, ...], value: object, field: str
) -> None:
    with running_emulator(reject_invalid=True) as emu:
        assert post(emu.url, ALERTS_PATH, mutated(path, value)) == 400
        assert post(emu.url, ALERTS_PATH, valid_body()) == 202
        stats = emu.stats()
    assert stats["alerts_invalid"] == 1
    assert stats["alerts_valid"] == 1
    assert field in stats["invalid_samples"][0]


def test_counters_and_reset(emulator: EmulatorThread) -> None:
    bodies = [valid_body(rule_id="R0003"), valid_body(rule_id="R0001"), valid_body()]
    for body in bodies:
        assert post(emulator.url, ALERTS_PATH, body) == 202
    assert post(emulator.url, ALERTS_PATH, bodies[0]) == 202  # a duplicate uniqueID
    stats = emulator.stats()
    assert stats["requests"] == 4
    assert stats["alerts_accepted"] == 4
    assert stats["distinct_unique_ids"] == 3
    assert stats["duplicate_unique_ids"] == 1
    assert stats["alerts_by_rule"] == {"R0001": 1, "R0003": 3}
    assert stats["bytes_received"] == sum(map(len, bodies)) + len(bodies[0])
    assert stats["by_resource"] == {"runtimealerts": 4}
    before = reset_stats(emulator.url)["before"]
    assert before["requests"] == 4
    after = fetch_stats(emulator.url)
    assert after["requests"] == 0
    assert after["distinct_unique_ids"] == 0
    assert after["answers"] == {}


def test_bulk_request_counts_every_alert(emulator: EmulatorThread) -> None:
    assert post(emulator.url, ALERTS_PATH, valid_body(alerts_per_request=7)) == 202
    stats = emulator.stats()
    assert stats["alerts_accepted"] == 7
    assert stats["alerts_valid"] == 7
    assert stats["distinct_unique_ids"] == 7


def test_forwarder_is_serialised() -> None:
    """N concurrent requests at latency L take about N·L in all, and queue up."""
    n, latency = 12, 0.05
    with running_emulator(latency_s=latency) as emu:
        body = valid_body()
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            finished = list(
                pool.map(
                    lambda _: (post(emu.url, ALERTS_PATH, body), time.perf_counter()), range(n)
                )
            )
        elapsed = time.perf_counter() - start
        stats = emu.stats()
    assert [status for status, _ in finished] == [202] * n
    assert n * latency * 0.9 <= elapsed <= n * latency + 0.5
    # Answers come out one latency apart, not all at once.
    ends = sorted(t for _, t in finished)
    assert ends[-1] - ends[0] >= (n - 1) * latency * 0.8
    assert stats["peak_waiting"] >= n // 2
    assert stats["waiting"] == 0


def test_error_rate_answers_chosen_status() -> None:
    with running_emulator(error_rate=1.0, error_status=503) as emu:
        statuses = [post(emu.url, ALERTS_PATH, valid_body()) for _ in range(5)]
        stats = emu.stats()
    assert statuses == [503] * 5
    assert stats["injected_errors"] == 5
    assert stats["accepted"] == 0


def test_error_rate_fraction_is_drawn_per_request() -> None:
    with running_emulator(error_rate=0.3, seed=1) as emu:
        statuses = [post(emu.url, ALERTS_PATH, valid_body()) for _ in range(200)]
        stats = emu.stats()
    errors = statuses.count(500)
    assert 30 <= errors <= 90
    assert stats["injected_errors"] == errors
    assert stats["accepted"] == statuses.count(202)


def test_drop_rate_closes_without_answer() -> None:
    with running_emulator(drop_rate=1.0) as emu:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            post(emu.url, ALERTS_PATH, valid_body())
        assert emu.stats()["dropped_requests"] == 1


def test_stall_holds_answers_until_it_ends() -> None:
    with running_emulator(stall_every_s=1.0, stall_for_s=0.6) as emu:
        time.sleep(max(0.0, 1.1 - 0.05))  # t0 + ~1.05 s: inside the first stall
        start = time.perf_counter()
        assert post(emu.url, ALERTS_PATH, valid_body()) == 202
        waited = time.perf_counter() - start
    assert 0.3 <= waited <= 0.8


def test_refusal_window_refuses_then_recovers() -> None:
    with running_emulator(refuse_every_s=1.0, refuse_for_s=0.6) as emu:
        host, port = host_port(emu.url)
        keep = socket.create_connection((host, port))
        time.sleep(1.2)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=2).close()
        # The connection that was open when it went down was closed.
        keep.settimeout(2)
        try:
            leftover = keep.recv(10)
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""
        keep.close()
        time.sleep(0.6)
        assert post(emu.url, ALERTS_PATH, valid_body()) == 202
        assert emu.stats()["refusal_windows"] == 1


def test_malformed_request_gets_400_and_others_still_served(emulator: EmulatorThread) -> None:
    answer = raw_exchange(emulator.url, b"\x16\x03\x01 garbage garbage\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert post(emulator.url, ALERTS_PATH, valid_body()) == 202
    assert emulator.stats()["malformed_requests"] == 1


def test_huge_body_gets_413() -> None:
    with running_emulator(max_body_bytes=10_000) as emu:
        head = f"POST {ALERTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n"
        answer = raw_exchange(emu.url, head.encode() + b"x" * 50_000)
        assert answer.startswith(b"HTTP/1.1 413")
        assert post(emu.url, ALERTS_PATH, valid_body()) == 202
        assert emu.stats()["too_large"] == 1


def test_half_sent_body_hits_read_timeout() -> None:
    with running_emulator(read_timeout_s=0.4) as emu:
        head = f"POST {ALERTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        start = time.perf_counter()
        answer = raw_exchange(emu.url, head.encode() + b"{" * 100, timeout=5)
        assert answer == b""
        assert time.perf_counter() - start < 2.5
        assert post(emu.url, ALERTS_PATH, valid_body()) == 202
        assert emu.stats()["read_timeouts"] == 1


def test_idle_connection_is_closed() -> None:
    with running_emulator(idle_timeout_s=0.3) as emu:
        sock = socket.create_connection(host_port(emu.url), timeout=5)
        start = time.perf_counter()
        assert sock.recv(10) == b""
        assert time.perf_counter() - start < 2
        sock.close()
        assert emu.stats()["idle_closed"] == 1


def test_late_answer_past_write_timeout_closes_connection() -> None:
    """Like Go's WriteTimeout: a 202 that would leave too late becomes a closed connection,
    while the alert still reaches the backend."""
    with running_emulator(latency_s=0.25, write_timeout_s=0.6) as emu:
        body = valid_body()
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(post, emu.url, ALERTS_PATH, body) for _ in range(3)]
            outcomes: list[int | str] = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except (http.client.RemoteDisconnected, ConnectionResetError):
                    outcomes.append("closed")
        time.sleep(0.1)
        stats = emu.stats()
    assert sorted(map(str, outcomes)) == ["202", "202", "closed"]
    assert stats["write_timeouts"] == 1
    assert stats["alerts_forwarded"] == 3
    assert stats["alerts_accepted"] == 2


def test_pipelined_requests_answered_in_order(emulator: EmulatorThread) -> None:
    body = valid_body()
    one = f"POST {ALERTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    bad = "GET /apis/v1/kubescape.io/v1/runtimealerts HTTP/1.1\r\nHost: x\r\n\r\n"
    last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = one.encode() + body + bad.encode() + one.encode() + body + last.encode()
    answer = raw_exchange(emulator.url, data)
    statuses = [line.split()[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1")]
    assert statuses == [b"202", b"405", b"202", b"200"]


def test_chunked_body_is_accepted(emulator: EmulatorThread) -> None:
    body = valid_body()
    half = len(body) // 2
    chunks = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
    )
    head = f"POST {ALERTS_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    data = head.encode() + b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    assert raw_exchange(emulator.url, data).startswith(b"HTTP/1.1 202 Accepted")
    assert emulator.stats()["alerts_valid"] == 1
