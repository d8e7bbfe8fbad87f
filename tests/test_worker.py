"""The open-loop sender on its own, against a real emulator on loopback: the backlog of due
sends stays bounded and a sender that falls too far behind gives up, counting the rest."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from stressgen.config import ProfileConfig
from stressgen.engine import worker
from stressgen.engine.transport import make_transport
from stressgen.engine.worker import ProfileSender, WorkerSpec
from stressgen.payloads import RUNTIME_ALERTS_PATH, AlertTemplate
from tests.helpers import running_emulator


def run_sender(
    url: str, rate: float, seconds: float, kind: str = "fast", **profile: object
) -> tuple[ProfileSender, int]:
    """Run one sender to the end; return it and the largest backlog seen."""
    spec = WorkerSpec(
        profile=ProfileConfig(name="p", rate_per_s=rate, **profile),  # type: ignore[arg-type]
        template=AlertTemplate(),
        url=url + RUNTIME_ALERTS_PATH,
        duration_s=seconds,
        shard=0,
        shards=1,
        row=0,
    )

    async def main() -> tuple[ProfileSender, int]:
        transport = make_transport(
            kind, spec.url, max_connections=spec.profile.max_connections, timeout_s=30
        )
        start = time.perf_counter()
        sender = ProfileSender(spec, transport, clock=lambda: time.perf_counter() - start)
        task = asyncio.get_running_loop().create_task(sender.run())
        peak = 0
        while not task.done():
            peak = max(peak, len(sender.pending))
            await asyncio.sleep(0.01)
        await task
        await transport.close()
        return sender, peak

    return uvloop.run(main())


@pytest.mark.parametrize("kind", ["fast", "aiohttp"])
def test_backlog_is_bounded_and_the_rest_counted(monkeypatch: object, kind: str) -> None:
    """5,000 sends due in 1 s through one connection to a 20/s target: the backlog never
    passes its bound, and what could not go out in time is counted as never sent."""
    monkeypatch.setattr(worker, "MIN_OVERRUN_S", 1.0)  # type: ignore[attr-defined]
    with running_emulator(latency_s=0.05) as emu:
        started = time.monotonic()
        sender, peak = run_sender(emu.url, 5000.0, 1.0, kind, max_connections=1)
        took = time.monotonic() - started
        stats = emu.stats()
    c = sender.counters
    assert peak <= sender.backlog_cap == worker.MIN_BACKLOG
    assert c.requests_sent + c.unsent == 5000
    assert 0 < c.requests_sent < 100
    assert c.requests_accepted == stats["accepted"] == c.requests_sent
    assert took < 5


@pytest.mark.parametrize("kind", ["fast", "aiohttp"])
def test_on_time_sender_leaves_nothing_unsent(kind: str) -> None:
    with running_emulator() as emu:
        sender, peak = run_sender(emu.url, 200.0, 1.0, kind)
    c = sender.counters
    assert c.requests_sent == 200 == c.requests_accepted
    assert c.unsent == 0
    assert peak == 0
    assert 0.9 < c.last_send_s < 1.05
