"""How requests reach the target. Two transports behind one interface: the fast one (our
lean HTTP/1.1 client) and aiohttp (general, proxy-capable). Results come back through a
sink rather than an awaited call, so the fast transport needs no task per request."""

from __future__ import annotations

from typing import Any, Protocol


class ResultSink(Protocol):
    """Where a transport reports each request's outcome, exactly once."""

    def on_answer(self, tag: Any, status: int) -> None:
        """The request ``tag`` was answered with ``status``."""

    def on_failure(self, tag: Any, error: BaseException) -> None:
        """The request ``tag`` failed (refused, reset, timed out...)."""


class Transport(Protocol):
    """Sends POST bodies to the run's URL."""

    def bind(self, sink: ResultSink) -> None:
        """Attach the sink; called on the running loop before the first send."""

    def send(self, body: bytes, tag: Any) -> None:
        """Send one request now; never raises: its outcome goes to the sink."""

    async def close(self) -> None:
        """Drop connections; no outcome is reported after this."""


def make_transport(
    kind: str,
    url: str,
    *,
    max_connections: int,
    timeout_s: float,
    proxy: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
) -> Transport:
    """The transport a worker process uses (built inside that process, never inherited)."""
    from stressgen.engine.aiohttp_transport import AiohttpTransport  # noqa: PLC0415
    from stressgen.engine.fasthttp import FastTransport, tls_context  # noqa: PLC0415

    context = tls_context(ca_file=ca_file, insecure=insecure) if url.startswith("https") else None
    if kind == "aiohttp":
        return AiohttpTransport(
            url,
            max_connections=max_connections,
            timeout_s=timeout_s,
            ssl_context=context,
            proxy=proxy,
        )
    return FastTransport(
        url, max_connections=max_connections, timeout_s=timeout_s, ssl_context=context
    )
