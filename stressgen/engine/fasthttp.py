"""A lean keep-alive HTTP/1.1 client for one URL: uvloop Protocols and httptools.

aiohttp spends most of a request building objects a load generator does not need. Here
the request head is encoded once per transport; per request only the Content-Length and
the body change, and the answer is parsed by httptools (llhttp, as uvicorn uses), its body
counted and dropped. The hot path has no task, future or timer per request: a request is
written from the caller's callback and its result is handed to the sink from
``data_received``; a sweep a few times per timeout aborts requests that took too long.
No retries: a request that fails is reported once, with an exception whose
``stressgen_reason`` names the failure as :func:`~stressgen.engine.metrics.classify_exception`
names aiohttp's errors.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httptools

if TYPE_CHECKING:
    from stressgen.engine.transport import ResultSink

_monotonic = time.monotonic


class TransportError(Exception):
    """A failure specific to this transport; ``stressgen_reason`` is its failure reason."""

    stressgen_reason = "other"


class ServerDisconnected(TransportError, ConnectionError):
    """The server closed the connection before a complete answer arrived."""

    stressgen_reason = "server_disconnected"


class BadResponse(TransportError):
    """The answer was not valid HTTP/1.1."""

    stressgen_reason = "bad_response"


class RequestTimeout(TransportError, TimeoutError):
    """No complete answer within the timeout."""

    stressgen_reason = "timeout"


class _Connection(asyncio.Protocol):
    """One pooled connection: at most one request in flight (no pipelining)."""

    def __init__(self, pool: FastTransport) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.tag: Any = None
        self.busy = False
        self.started = 0.0
        self.status = 0
        self.alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.transport = None
        if self.busy:
            # A reset is the peer going away mid-answer; a clean close is a disconnect.
            error = exc if isinstance(exc, ConnectionResetError) else ServerDisconnected()
            self._finish(None, error)
        self.pool._lost(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            raise  # our own bug in a callback: never hide it as a bad response
        except httptools.HttpParserError as exc:
            self.alive = False  # never hand the next request to a broken connection
            if self.busy:
                self._finish(None, BadResponse(str(exc)))
            self.abort()

    def eof_received(self) -> bool | None:
        return False  # close our side too; connection_lost reports an unanswered request

    def on_message_complete(self) -> None:
        if not self.busy:
            return
        tag = self.tag
        self.busy = False
        self.tag = None
        pool = self.pool
        # Read here rather than in an on_headers_complete callback: one call less.
        self.status = status = self.parser.get_status_code()
        if self.parser.should_keep_alive():
            # The hot path: pool the connection first, so a send the sink makes from its
            # callback goes out on it at once.
            pool._answered(self, tag, status)
        else:
            self.alive = False
            pool._done(self, tag, status, None)

    def request(self, length: bytes, body: bytes, tag: Any, asked: float) -> None:
        """Write one whole request (head, length line, body); its result goes to the sink.
        ``asked``: when it was handed to the transport, which its timeout counts from."""
        self.busy = True
        self.tag = tag
        self.started = asked
        cast(asyncio.Transport, self.transport).writelines((self.pool._head, length, body))

    def _finish(self, status: int | None, error: BaseException | None) -> None:
        tag = self.tag
        self.busy = False
        self.tag = None
        self.pool._done(self, tag, status, error)

    def abort(self) -> None:
        """Drop the connection now."""
        self.alive = False
        if self.transport is not None:
            self.transport.abort()


class FastTransport:
    """Sends bodies to one URL over keep-alive connections; results go to a
    :class:`ResultSink`. Implements :class:`stressgen.engine.transport.Transport`."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "stressgen",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if secure else 80)
        self.ssl = (ssl_context or ssl.create_default_context()) if secure else None
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\n"
            "Content-Length: "
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._open_conns: set[_Connection] = set()
        """Every connection made and not yet lost: the sweep checks the busy ones."""
        self._waiting: collections.deque[tuple[bytes, bytes, Any, float]] = collections.deque()
        """Requests waiting for a connection being opened, oldest first, with the time each
        was asked for: one timeout covers the wait and the answer, as aiohttp's total."""
        self._opening = 0
        self._sink: ResultSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def bind(self, sink: ResultSink) -> None:
        """Set where results go (call on the running loop before sending)."""
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._sweep()

    def send(self, body: bytes, tag: Any) -> None:
        """Send one POST now (or as soon as a connection is open); never raises."""
        length = b"%d\r\n\r\n" % len(body)
        idle = self._idle
        while idle:
            conn = idle.pop()  # the most recently used: least likely to have timed out
            if conn.alive:
                conn.request(length, body, tag, _monotonic())
                return
        self._waiting.append((length, body, tag, _monotonic()))
        self._open_for_waiting()

    def _open_for_waiting(self) -> None:
        """Open connections until every waiting request has one on the way."""
        while self._opening < len(self._waiting) and not self._closed:
            self._opening += 1
            task = cast(asyncio.AbstractEventLoop, self._loop).create_task(self._open())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open(self) -> None:
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        try:
            async with asyncio.timeout(self.timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self._opening -= 1
            if self._waiting and not self._closed:
                tag = self._waiting.popleft()[2]
                error = RequestTimeout() if isinstance(exc, TimeoutError) else exc
                cast("ResultSink", self._sink).on_failure(tag, error)
            return
        self._opening -= 1
        if conn.alive:  # it may have been lost already: then _lost has run
            self._open_conns.add(conn)
        self._release(conn)

    def _release(self, conn: _Connection) -> None:
        """A connection is free: give it the next waiting request or pool it."""
        if self._closed:
            conn.abort()
        elif self._waiting and conn.alive:
            conn.request(*self._waiting.popleft())
        elif conn.alive:
            self._idle.append(conn)
        else:
            conn.abort()
            self._open_for_waiting()  # a request it was opened for must not be stranded

    def _answered(self, conn: _Connection, tag: Any, status: int) -> None:
        """A keep-alive answer: the connection is free before the sink hears of it."""
        if self._closed:
            conn.abort()
            return
        if self._waiting:
            conn.request(*self._waiting.popleft())
        else:
            self._idle.append(conn)
        cast("ResultSink", self._sink).on_answer(tag, status)

    def _done(self, conn: _Connection, tag: Any, status: int | None, error: Any) -> None:
        if not self._closed:
            sink = cast("ResultSink", self._sink)
            if error is None:
                sink.on_answer(tag, cast(int, status))
            else:
                sink.on_failure(tag, error)
        if conn.alive:
            self._release(conn)
        else:
            conn.abort()  # the server asked to close, or the connection is broken

    def _lost(self, conn: _Connection) -> None:
        self._open_conns.discard(conn)
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    def _sweep(self) -> None:
        """Fail requests asked for longer ago than the timeout, written or still waiting
        for a connection (a few checks per timeout period)."""
        now = time.monotonic()
        expired = [c for c in self._open_conns if c.busy and now - c.started > self.timeout_s]
        for conn in expired:
            conn.alive = False  # never reused: its answer may still arrive
            conn._finish(None, RequestTimeout())
            conn.abort()
        waiting = self._waiting
        while waiting and now - waiting[0][3] > self.timeout_s and not self._closed:
            cast("ResultSink", self._sink).on_failure(waiting.popleft()[2], RequestTimeout())
        if not self._closed:
            period = min(0.25, self.timeout_s / 8)
            self._sweeper = cast(asyncio.AbstractEventLoop, self._loop).call_later(
                period, self._sweep
            )

    async def close(self) -> None:
        """Abort every connection; no result is reported after this."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        for conn in [*self._idle, *self._open_conns]:
            conn.abort()
        self._idle.clear()
        self._open_conns.clear()
        self._waiting.clear()
        await asyncio.sleep(0)


def tls_context(*, ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """Verification on by default; ``ca_file`` adds a CA bundle; ``insecure`` turns it off."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
