"""The aiohttp transport: general and proxy-capable, about 0.3 ms of CPU per request."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp

from stressgen.engine.transport import ResultSink


class AiohttpTransport:
    """One pooled aiohttp session: keep-alive, at most ``max_connections`` sockets.

    Built inside the worker process (never inherited). No retries: a failed POST is
    reported once to the sink.
    """

    def __init__(
        self,
        url: str,
        *,
        max_connections: int,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
    ) -> None:
        self.url = url
        self.proxy = proxy
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._sink: ResultSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self, sink: ResultSink) -> None:
        """Create the session on the running loop; results go to ``sink``."""
        self._sink = sink
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=self.max_connections,
            keepalive_timeout=60.0,
            ssl=self.ssl_context if self.ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            # node-agent sets no Content-Type; the synchronizer does not check it.
            skip_auto_headers=("Content-Type", "User-Agent"),
            headers={"User-Agent": "stressgen"},
            auto_decompress=False,
        )

    def send(self, body: bytes, tag: Any) -> None:
        """Start one POST in its own task; its result goes to the sink."""
        task = asyncio.get_running_loop().create_task(self._post(body, tag))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, body: bytes, tag: Any) -> None:
        assert self._session is not None and self._sink is not None
        try:
            async with self._session.post(self.url, data=body, proxy=self.proxy) as response:
                await response.read()  # drained so the connection is reused
                status = response.status
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._sink.on_failure(tag, exc)
        else:
            self._sink.on_answer(tag, status)

    async def close(self) -> None:
        """Cancel requests still running (no result is reported for them) and close."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
