"""Latency histograms, counters and failure reasons; the reasons from real loopback failures."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from hdrh.histogram import HdrHistogram

from stressgen.engine.histogram import LatencyHistogram, MetricsDecodeError
from stressgen.engine.metrics import (
    MAX_SAMPLES_PER_REASON,
    ProfileCounters,
    classify_exception,
    http_reason,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def latencies(seed: int, n: int) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(9, 1.2)) for _ in range(n)]  # ~8 ms median, long tail


def filled(values: list[int]) -> LatencyHistogram:
    hist = LatencyHistogram()
    for v in values:
        hist.record(v)
    return hist


def test_merging_equals_recording_everything_in_one() -> None:
    a_values, b_values = latencies(1, 5000), latencies(2, 3000)
    everything = filled(a_values + b_values)
    merged = filled(a_values)
    merged.merge(filled(b_values))
    assert merged.percentiles() == everything.percentiles()
    via_blob = filled(a_values)
    via_blob.merge_encoded(filled(b_values).encode())
    assert via_blob.percentiles() == everything.percentiles()
    assert via_blob.encode() == everything.encode()
    assert everything.count == 8000


def test_encode_roundtrip_keeps_count_and_percentiles() -> None:
    hist = filled(latencies(3, 2000))
    hist.record(10**13)  # clamped
    blob = hist.encode()
    assert isinstance(blob, str) and blob.startswith("HISTF")
    again = LatencyHistogram.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert again.count == hist.count == 2001
    assert again.clamped == hist.clamped == 1
    assert again.percentiles() == hist.percentiles()


def test_percentiles_in_milliseconds() -> None:
    hist = filled([ms * 1000 for ms in range(1, 1001)])  # 1 ms .. 1000 ms, uniform
    p = hist.percentiles()
    assert set(p) == {"p50", "p90", "p99", "p99.9", "min", "mean", "max", "count"}
    assert p["count"] == 1000
    for key, expected in [("p50", 500), ("p90", 900), ("p99", 990), ("p99.9", 999), ("max", 1000)]:
        assert p[key] == pytest.approx(expected, rel=1e-3)  # 3 significant digits
    assert p["mean"] == pytest.approx(500.5, rel=1e-3)
    assert p["min"] == pytest.approx(1.0, rel=1e-3)
    assert LatencyHistogram().percentiles() == dict.fromkeys(p, 0.0)
    assert hist.percentiles((75.0,))["p75"] == pytest.approx(750, rel=1e-3)


def test_out_of_range_values_are_clamped_and_counted() -> None:
    hist = LatencyHistogram()
    hist.record(10**13)  # ~116 days
    hist.record(-5)
    hist.record(3_600_000_000)  # exactly the nominal top: in range
    hist.record(0)  # 0 µs is representable
    assert (hist.count, hist.clamped) == (4, 2)
    p = hist.percentiles()
    assert p["max"] >= 3_600_000.0  # the clamped value sits at the top, not lost
    assert p["min"] == 0.0
    other = LatencyHistogram()
    other.record(-1)
    hist.merge(other)
    assert hist.clamped == 3


def test_memory_per_histogram_is_sane() -> None:
    hist = LatencyHistogram()
    assert hist.memory_bytes <= 512 * 1024  # 2 x 23,552 counters x 8 bytes = 368 KiB
    assert len(hist.encode()) < 200  # an empty one travels in ~50 bytes


def test_reset_and_merge_leave_nothing_for_the_cycle_collector() -> None:
    """A worker resets its histograms after each publish and the supervisor merges each
    delta, every second of a run: a histogram left behind as a reference cycle is freed
    only when the cycle collector gets to it, minutes later (RSS grew ~20 MB in 10 min)."""

    def live() -> int:
        return sum(isinstance(o, HdrHistogram) for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        hist, total = LatencyHistogram(), LatencyHistogram()
        before = live()
        for _ in range(20):
            hist.record(7)
            blob = hist.to_dict()
            hist.reset()
            total.merge_encoded(blob["hdr"], blob["clamped"])
        assert live() == before
    finally:
        gc.enable()
    assert total.count == 20


def test_reset_and_corrupt_blobs() -> None:
    hist = filled([1, 2, 3, -1])
    hist.reset()
    assert (hist.count, hist.clamped) == (0, 0)
    assert hist.encode() == LatencyHistogram().encode()  # as new, min and max included
    hist.record(7)
    assert hist.count == 1
    assert hist.percentiles()["min"] == hist.percentiles()["max"] == pytest.approx(0.007)
    for bad in ["garbage!", "SGVsbG8gd29ybGQ=", ""]:
        with pytest.raises(MetricsDecodeError):
            hist.merge_encoded(bad)
    with pytest.raises(MetricsDecodeError):
        LatencyHistogram.from_dict({"hdr": 3})
    assert hist.count == 1


def test_counters_note_merge_and_roundtrip() -> None:
    a = ProfileCounters()
    for _ in range(3):
        a.note_sent(alerts=10)
    assert a.note_response(200, alerts=10) is True
    assert a.note_response(503, alerts=10, message="busy") is False
    a.note_failure("timeout", "TimeoutError()")
    a.note_late(12.5)
    b = ProfileCounters(requests_sent=2, alerts_sent=20, in_flight_at_stop=1)
    b.note_response(202, alerts=10)
    b.note_late(40.0)
    for i in range(MAX_SAMPLES_PER_REASON + 2):
        b.note_failure("timeout", f"TimeoutError #{i}")
    b.note_failure("timeout", "TimeoutError()")  # a sample a already has
    a.merge(b)
    assert (a.requests_sent, a.requests_accepted, a.requests_failed) == (
        5,
        2,
        2 + MAX_SAMPLES_PER_REASON + 3,
    )
    assert (a.alerts_sent, a.alerts_accepted, a.in_flight_at_stop) == (50, 20, 1)
    assert (a.late_sends, a.max_lateness_ms) == (2, 40.0)
    assert a.statuses == {200: 1, 503: 1, 202: 1}
    assert a.failures == {"http_503": 1, "timeout": MAX_SAMPLES_PER_REASON + 4}
    assert len(a.failure_samples["timeout"]) == MAX_SAMPLES_PER_REASON
    assert a.failure_samples["http_503"] == ["busy"]
    data = json.loads(json.dumps(a.to_dict()))
    assert data["statuses"] == {"200": 1, "202": 1, "503": 1}
    assert ProfileCounters.from_dict(data) == a
    assert ProfileCounters.from_dict({}) == ProfileCounters()
    bad_ones: list[dict[str, Any]] = [
        {"requests_sent": "3"},
        {"statuses": {"x": 1}},
        {"failures": [1]},
        {"retries": -1},
    ]
    for bad in bad_ones:
        with pytest.raises(MetricsDecodeError):
            ProfileCounters.from_dict(bad)


def test_http_reason() -> None:
    assert [http_reason(s) for s in (500, 429, 400)] == ["http_500", "http_429", "http_400"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def post(url: str, timeout: float = 5.0) -> BaseException:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, data=b"{}") as response,
        ):
            await response.read()
    except Exception as exc:
        return exc
    raise AssertionError(f"{url} answered {response.status}")


async def failure_from(
    handler: Handler, scheme: str = "http", timeout: float = 5.0
) -> BaseException:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await post(f"{scheme}://127.0.0.1:{port}/v1/runtimealerts", timeout)


async def close_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    writer.transport.abort()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up and closes


async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


def test_real_connection_refused() -> None:
    exc = asyncio.run(post(f"http://127.0.0.1:{free_port()}/"))
    assert classify_exception(exc) == "connection_refused"


def test_real_server_disconnected() -> None:
    exc = asyncio.run(failure_from(close_after_request))
    assert isinstance(exc, aiohttp.ServerDisconnectedError)
    assert classify_exception(exc) == "server_disconnected"


def test_real_connection_reset() -> None:
    exc = asyncio.run(failure_from(reset_after_request))
    assert classify_exception(exc) in {"connection_reset", "server_disconnected"}, repr(exc)
    if isinstance(exc, OSError):
        assert classify_exception(exc) == "connection_reset"


def test_real_timeout() -> None:
    exc = asyncio.run(failure_from(never_answer, timeout=0.2))
    assert classify_exception(exc) == "timeout"


def test_real_ssl_error() -> None:
    exc = asyncio.run(failure_from(plain_http, scheme="https"))
    assert classify_exception(exc) == "ssl"


def test_real_dns_failure() -> None:
    exc = asyncio.run(post("http://stressgen-test.invalid/", timeout=10.0))
    if isinstance(exc, TimeoutError):
        pytest.skip("no resolver answered within 10 s")
    assert classify_exception(exc) == "dns"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "timeout"),
        (aiohttp.ServerTimeoutError("read"), "timeout"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection_refused"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "connection_reset"),
        (BrokenPipeError(errno.EPIPE, "pipe"), "connection_reset"),
        (OSError(errno.EMFILE, "Too many open files"), "too_many_open_files"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "address_unavailable"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns"),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "other:ClientPayloadError",
        ),
        (ValueError("x"), "other:ValueError"),
    ],
)
def test_reasons_of_constructed_errors(exc: BaseException, reason: str) -> None:
    """Errors that cannot be provoked reliably on loopback (file-descriptor or port exhaustion)."""
    assert classify_exception(exc) == reason


def test_fast_record_matches_hdrh_exactly() -> None:
    """record() computes hdrh's bucket index itself; the result must be the same histogram
    as hdrh's own record_value, across every magnitude from 1 µs to the top."""
    import random

    from hdrh.histogram import HdrHistogram

    from stressgen.engine.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS

    rng = random.Random(5)
    values = [int(10 ** rng.uniform(0, 9.5)) for _ in range(20_000)] + [0, 1, 2047, 2048, 4095]
    ours = LatencyHistogram()
    reference = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        ours.record(value)
        reference.record_value(value)
    assert ours.count == reference.get_total_count() == len(values)
    for p in (0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0):
        assert ours.percentiles((p,))[f"p{p:g}"] == reference.get_value_at_percentile(p) / 1000.0
    again = LatencyHistogram()
    again.merge_encoded(reference.encode())
    assert again.encode() == ours.encode()


def test_flushes_between_records_keep_min_max_and_total() -> None:
    """Counts move into hdrh in C at each read; several reads between records must give
    the histogram hdrh's record_value gives (min and max carried across flushes)."""
    from hdrh.histogram import HdrHistogram

    from stressgen.engine.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS

    ours = LatencyHistogram()
    reference = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for batch in ([500, 700], [300_000, 2], [40, 90_000_000], [], [HIGHEST_US]):
        for value in batch:
            ours.record(value)
            reference.record_value(value)
        assert ours.count == reference.get_total_count()
        assert ours.encode() == reference.encode().decode()
    summary = ours.percentiles((0.0, 100.0))
    assert summary["min"] == summary["p0"] == reference.get_min_value() / 1000.0
    assert summary["max"] == summary["p100"] == reference.get_max_value() / 1000.0


@pytest.mark.parametrize(
    "values",
    [
        [1],
        [0, 0, 5],
        [999, 1000, 1001, 2048, 2049],
        [7] * 50 + [3_000_000] * 3,
        "random",
    ],
)
def test_percentiles_and_mean_equal_hdrhs_own(values: list[int] | str) -> None:
    """The C-speed percentile walk answers exactly what hdrh's Python walk answers."""
    import random

    from hdrh.histogram import HdrHistogram

    from stressgen.engine.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS

    if isinstance(values, str):
        rng = random.Random(4)
        values = [int(rng.lognormvariate(8, 2)) for _ in range(20_000)]
    ours = LatencyHistogram()
    reference = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values:
        ours.record(value)
        reference.record_value(value)
    points = (0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.999, 100.0)
    got = ours.percentiles(points)
    expected = reference.get_percentile_to_value_dict(list(points))
    for p in points:
        assert got[f"p{p:g}"] == expected[p] / 1000.0, p
    assert got["mean"] == reference.get_mean_value() / 1000.0
    assert got["min"] == reference.get_min_value() / 1000.0
    assert got["max"] == reference.get_max_value() / 1000.0
    assert got["count"] == len(values)
    assert ours.percentiles((101.0,))["p101"] == 0.0
