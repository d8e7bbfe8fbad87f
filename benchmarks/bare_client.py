"""The floor under stressgen's fast transport: a bare uvloop Protocol client.

Each of ``connections`` keep-alive connections writes one pre-encoded POST (the same
~3.3 KB node-agent body every time), lets httptools parse the answer, and writes the
next. No schedule, no fresh bodies, no histograms, no counters beyond one integer: what
is left is the kernel's loopback TCP, uvloop's callbacks and the parser, so its CPU per
request is the least any Python client on uvloop can spend.

    python -m benchmarks.bare_client PORT [--seconds 5] [--connections 50]

Prints one line: ``requests_per_s cpu_us_per_request requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import cast

import httptools
import uvloop

from stressgen.payloads import RUNTIME_ALERTS_PATH, AlertTemplate, PayloadFactory


class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, counter: list[int]) -> None:
        self.request = request
        self.counter = counter
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.counter[0] += 1
        assert self.transport is not None
        self.transport.write(self.request)


async def _measure(port: int, seconds: float, connections: int) -> tuple[float, float, int]:
    body = PayloadFactory(AlertTemplate()).render()
    request = (
        f"POST {RUNTIME_ALERTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    counter = [0]
    loop = asyncio.get_running_loop()
    for _ in range(connections):
        await loop.create_connection(lambda: _Client(request, counter), "127.0.0.1", port)
    await asyncio.sleep(1.0)  # warm-up
    count0, t0, cpu0 = counter[0], time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    requests = counter[0] - count0
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return requests / elapsed, cpu / max(requests, 1) * 1e6, requests


def main() -> None:
    """Measure and print one line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    rate, cpu_us, requests = uvloop.run(_measure(args.port, args.seconds, args.connections))
    print(f"{rate:.1f} {cpu_us:.3f} {requests}")


if __name__ == "__main__":
    main()
