"""Running the emulator: in the foreground (``stressgen emulate``), or in the background
in its own process or thread for tests, benchmarks and ``stressgen run`` with no target."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import ssl
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import Any, TextIO

import orjson
import uvloop

from stressgen.emulator.config import EmulatorConfig
from stressgen.emulator.server import EmulatorServer
from stressgen.emulator.stats import format_summary
from stressgen.errors import StartupError


async def serve(
    config: EmulatorConfig,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None] | None = None,
    run_for_s: float | None = None,
) -> dict[str, Any]:
    """Serve until ``stop`` is set (or ``run_for_s`` passes); return the final counters."""
    server = EmulatorServer(config)
    await server.start()
    if on_ready is not None:
        on_ready(server.url)
    try:
        if run_for_s is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), run_for_s)
    finally:
        await server.shutdown()
    return server.stats.to_dict()


def run_emulator(
    config: EmulatorConfig,
    *,
    on_ready: Callable[[str], None] | None = None,
    run_for_s: float | None = None,
    out: TextIO | None = None,
    stop_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> dict[str, Any]:
    """Serve in the foreground until one of ``stop_signals``; print and return the counters."""
    out = out or sys.stdout

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in stop_signals:
            loop.add_signal_handler(sig, stop.set)
        return await serve(config, stop, on_ready=on_ready, run_for_s=run_for_s)

    stats = uvloop.run(main())
    if not config.quiet:
        print(format_summary(stats), file=out, flush=True)
    return stats


def _own_tls(url: str) -> ssl.SSLContext | None:
    """Our own emulator's https (a test certificate): no verification for its stats."""
    return ssl._create_unverified_context() if url.startswith("https:") else None


def fetch_stats(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET /stats`` of an emulator at ``url``."""
    with urllib.request.urlopen(url + "/stats", timeout=timeout, context=_own_tls(url)) as response:
        result: dict[str, Any] = orjson.loads(response.read())
    return result


def reset_stats(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``POST /reset``; returns the counters as they were just before."""
    request = urllib.request.Request(url + "/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout, context=_own_tls(url)) as response:
        result: dict[str, Any] = orjson.loads(response.read())
    return result


def _child(config: EmulatorConfig, pipe: multiprocessing.connection.Connection) -> None:
    """Entry point of the emulator's own process (spawned: builds everything itself).

    Its parent decides when it stops (SIGTERM): a Ctrl-C at the terminal, which reaches the
    whole process group, must not take the target away from a run that is still reporting.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stats = run_emulator(
            config,
            on_ready=lambda url: pipe.send(("ready", url)),
            stop_signals=(signal.SIGTERM,),
        )
    except StartupError as exc:
        pipe.send(("error", str(exc)))
        return
    pipe.send(("stats", stats))


class EmulatorProcess:
    """The emulator in a child process, so it has a core of its own.

    ``with EmulatorProcess(EmulatorConfig(port=0)) as emu: emu.url, emu.stats()``.
    """

    def __init__(self, config: EmulatorConfig, start_timeout_s: float = 20.0) -> None:
        self.config = config
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child_pipe = ctx.Pipe()
        self.process = ctx.Process(target=_child, args=(config, child_pipe), daemon=True)
        # Ignored from the start (kept across exec): a terminal Ctrl-C must not kill it
        # during its start-up imports; its parent stops it with SIGTERM.
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.process.start()
            finally:
                signal.signal(signal.SIGINT, previous)
        else:  # only the main thread may change signal handlers
            self.process.start()
        child_pipe.close()
        self.final_stats: dict[str, Any] | None = None
        if not self._pipe.poll(start_timeout_s):
            self._kill()
            raise StartupError(f"emulator did not start within {start_timeout_s:g}s")
        try:
            kind, value = self._pipe.recv()
        except EOFError:
            self._kill()
            raise StartupError("emulator process exited during start") from None
        if kind != "ready":
            self.process.join(5)
            raise StartupError(str(value))
        self.url: str = value

    def stats(self) -> dict[str, Any]:
        """The live counters (over HTTP, as any client would see them)."""
        return fetch_stats(self.url)

    def reset(self) -> dict[str, Any]:
        """Clear the counters; returns them as they were."""
        return reset_stats(self.url)

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any] | None:
        """SIGTERM the child, wait for it, return its final counters."""
        if self.process.is_alive():
            self.process.terminate()
            if self._pipe.poll(timeout_s):
                try:
                    kind, value = self._pipe.recv()
                    if kind == "stats":
                        self.final_stats = value
                except EOFError:
                    pass
        self._kill()
        return self.final_stats

    def _kill(self) -> None:
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorThread:
    """The emulator on its own event loop in a background thread of this process."""

    def __init__(self, config: EmulatorConfig, start_timeout_s: float = 10.0) -> None:
        self.config = config
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.final_stats: dict[str, Any] | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._run, name="stressgen-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout_s):
            raise StartupError(f"emulator did not start within {start_timeout_s:g}s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(url: str) -> None:
                self.url = url
                self._ready.set()

            self.final_stats = await serve(self.config, self._stop, on_ready=ready)

        try:
            uvloop.run(main())
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            self._ready.set()

    def stats(self) -> dict[str, Any]:
        """The live counters over HTTP."""
        return fetch_stats(self.url)

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any] | None:
        """Stop serving and return the final counters."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        return self.final_stats

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
