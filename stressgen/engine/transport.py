"""How a request reaches the target. One interface, so a leaner transport can sit beside
the aiohttp one; the worker only ever calls :meth:`Transport.post`."""

from __future__ import annotations

from typing import Protocol

import aiohttp


class Transport(Protocol):
    """Sends one POST body to the run's URL and returns the HTTP status."""

    async def post(self, body: bytes) -> int:
        """POST ``body``; return the status, or raise the transport's error (timeouts too)."""

    async def close(self) -> None:
        """Close pooled connections."""


class AiohttpTransport:
    """aiohttp with one pooled session: keep-alive, at most ``max_connections`` sockets.

    Built inside the worker process (never inherited). No retries: a failed POST is
    reported to the caller, which counts it once.
    """

    def __init__(
        self,
        url: str,
        *,
        max_connections: int,
        timeout_s: float,
        verify_tls: bool = True,
    ) -> None:
        self.url = url
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            limit_per_host=max_connections,
            keepalive_timeout=60.0,
            ssl=verify_tls,
            enable_cleanup_closed=False,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            # node-agent sets no Content-Type; the synchronizer does not check it.
            skip_auto_headers=("Content-Type", "User-Agent"),
            headers={"User-Agent": "stressgen"},
            auto_decompress=False,
        )

    async def post(self, body: bytes) -> int:
        """POST one body; the answer's body is read (and dropped) so the socket is reused."""
        async with self.session.post(self.url, data=body) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        """Close the session and its connections."""
        await self.session.close()
