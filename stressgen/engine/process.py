"""The worker process: builds its own loop, session and histograms, then sends.

Talks to the supervisor over one pipe: ``("ready",)`` once built, then waits for
``("start", wall_time)``; every publish interval it writes its counters to the live board
and sends ``("hist", blobs)`` with the histogram deltas since the last one; at the end
``("final", counters, blobs)``. SIGINT is ignored (the supervisor decides); the
first SIGTERM stops scheduling and lets in-flight requests finish within the drain time,
a second one cuts them off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

import uvloop

from stressgen.engine import board
from stressgen.engine.transport import make_transport
from stressgen.engine.worker import ProfileSender, WorkerSpec

BOARD_INTERVAL_S = 0.1
"""How often the live board row is refreshed (histogram deltas go every publish interval)."""


def worker_main(spec: WorkerSpec, pipe: Connection, live: Any) -> None:
    """Process entry point (spawned)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    uvloop.run(_run(spec, pipe, live))


async def _run(spec: WorkerSpec, pipe: Connection, live: Any) -> None:
    loop = asyncio.get_running_loop()
    parent = os.getppid()
    transport = make_transport(
        spec.transport,
        spec.url,
        max_connections=spec.profile.max_connections,
        timeout_s=spec.profile.timeout_s,
        proxy=spec.proxy,
        ca_file=spec.ca_file,
        insecure=spec.insecure,
    )
    wall_start = 0.0
    pipe.send(("ready",))
    # Block (nothing else runs yet) until the supervisor says when the run starts.
    message = await loop.run_in_executor(None, pipe.recv)
    if message[0] != "start":
        await transport.close()
        return
    wall_start = message[1]
    # Measure with perf_counter: uvloop's loop.time() only has millisecond resolution.
    perf_start = time.perf_counter() + (wall_start - time.time())
    sender = ProfileSender(spec, transport, clock=lambda: time.perf_counter() - perf_start)

    signals = 0

    def on_term() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            sender.stop()
            loop.call_later(spec.drain_s, sender.cancel)
        else:
            sender.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_term)

    def publish() -> None:
        board.publish(live, spec.row, sender.counters, sender.in_flight, len(sender.pending))

    async def publisher() -> None:
        ticks_per_publish = max(1, round(spec.publish_interval_s / BOARD_INTERVAL_S))
        tick = 0
        while True:
            await asyncio.sleep(BOARD_INTERVAL_S)
            publish()
            tick += 1
            if tick % ticks_per_publish == 0:
                # The supervisor gone (killed, crashed): stop at once, never load the
                # target with nobody counting. Checked before the pipe, which then fails.
                if os.getppid() != parent:
                    sender.cancel()
                    return
                try:
                    pipe.send(("hist", _deltas(sender)))
                except OSError:
                    sender.cancel()
                    return

    wait = perf_start - time.perf_counter()
    if wait > 0:
        await asyncio.sleep(wait)
    task = loop.create_task(publisher())
    try:
        await sender.run()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        publish()
        with contextlib.suppress(OSError):  # no supervisor left to read it
            pipe.send(("final", sender.counters.to_dict(), _deltas(sender)))
        await transport.close()


def _deltas(sender: ProfileSender) -> dict[str, dict[str, Any]]:
    """Histograms recorded since the last call, encoded (each is reset after encoding)."""
    out = {}
    for name, hist in sender.histograms.items():
        if hist.count:
            out[name] = hist.to_dict()
            hist.reset()
    return out
