"""One HTTP/1.1 connection to the emulator: parsing with httptools, answers in order.

Like Go's ``net/http`` server, a connection handles one request at a time: a pipelined
request waits until the previous one is answered. Timeouts follow the real server: a
request must arrive whole within the read timeout, an answer that would go out later than
the write timeout after its request was read closes the connection instead, and a
connection idle longer than the idle timeout is closed. A periodic sweep in the server
enforces the read and idle timeouts, so the hot path sets no timer per request.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import TYPE_CHECKING, Protocol, cast

import httptools

if TYPE_CHECKING:
    from stressgen.emulator.stats import EmulatorStats

BAD_REQUEST_CLOSE = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\n400 Bad Request"
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
MAX_QUEUED = 64
"""Pipelined requests kept per connection before reading pauses."""


@dataclasses.dataclass(slots=True)
class Request:
    """A request read whole from the wire."""

    method: str
    path: str
    body: bytes
    keep_alive: bool
    read_at: float


class Handler(Protocol):
    """What a connection needs from the server (implemented by ``EmulatorServer``)."""

    stats: EmulatorStats
    max_body_bytes: int

    def handle(self, conn: Connection, request: Request) -> None:
        """Start answering ``request``; the handler calls ``conn.respond`` or ``conn.abort``."""

    def forget(self, conn: Connection) -> None:
        """The connection is gone."""


class Connection(asyncio.Protocol):
    """Parses requests, hands them to the handler one at a time, writes the answers."""

    def __init__(self, handler: Handler, loop: asyncio.AbstractEventLoop) -> None:
        self.handler = handler
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: collections.deque[Request] = collections.deque()
        self.busy = False
        self.closing = False
        self.reading_since: float | None = None
        self.last_active = loop.time()
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._paused_by_writer = False
        self._paused_by_queue = False
        self._expect_continue = False
        self.close_when_done = False

    # asyncio.Protocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it.
        self.transport = cast(asyncio.Transport, transport)
        self.handler.stats.connections_opened += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.transport = None
        self.handler.forget(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            raise  # a bug of ours in a callback: never hide it as a malformed request
        except httptools.HttpParserUpgrade:
            self._malformed()
        except httptools.HttpParserError:
            if self._too_large:
                return
            self._malformed()

    def eof_received(self) -> bool | None:
        # Half-close from the client: finish answering what was read, then close.
        if not self.busy and not self.queue:
            return False
        self.close_when_done = True
        return True

    def pause_writing(self) -> None:
        self._paused_by_writer = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused_by_writer = False
        if self.transport is not None and not self._paused_by_queue:
            self.transport.resume_reading()

    # httptools callbacks ----------------------------------------------------
    def on_message_begin(self) -> None:
        self.reading_since = self.loop.time()
        self._url = b""
        self._body = []
        self._size = 0
        self._too_large = False
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True

    def on_headers_complete(self) -> None:
        # curl and some clients ask before sending a body; Go answers 100 Continue.
        if self._expect_continue and self.transport is not None:
            self.transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._size += len(body)
        if self._size > self.handler.max_body_bytes:
            self._too_large = True
            self.handler.stats.too_large += 1
            self.close_with(
                b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n"
            )
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._too_large or self.closing:
            return
        self.reading_since = None
        method = self.parser.get_method().decode("ascii", "replace")
        url = self._url
        if url[:1] != b"/" or b"?" in url or b"#" in url:  # absolute-form or a query string
            url = httptools.parse_url(url).path or b""
        path = url.decode("utf-8", "replace")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = Request(method, path, body, self.parser.should_keep_alive(), self.loop.time())
        self.queue.append(request)
        if len(self.queue) >= MAX_QUEUED and self.transport is not None:
            self._paused_by_queue = True
            self.transport.pause_reading()
        if not self.busy:
            self._next()

    # answering ---------------------------------------------------------------
    def _next(self) -> None:
        if not self.queue or self.closing:
            return
        if self._paused_by_queue and self.transport is not None:
            self._paused_by_queue = False
            if not self._paused_by_writer:
                self.transport.resume_reading()
        self.busy = True
        self.handler.handle(self, self.queue.popleft())

    def respond(self, request: Request, head: bytes, body: bytes = b"") -> None:
        """Write an answer to ``request`` and go on with the next queued one."""
        self.busy = False
        transport = self.transport
        if transport is None or self.closing:
            return
        self.last_active = self.loop.time()
        if request.keep_alive:
            transport.write(head + body if body else head)
            if self.queue:
                self._next()
            elif self.close_when_done:
                self.close()
        else:
            self.close_with(head + body)

    def abort(self) -> None:
        """Drop the connection with no answer (a crash, a write timeout, a refusal)."""
        self.busy = False
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def close_with(self, data: bytes) -> None:
        """Write ``data`` and close the connection once it is flushed."""
        self.closing = True
        if self.transport is not None:
            self.transport.write(data)
            self.transport.close()

    def close(self) -> None:
        """Close once pending writes are flushed."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def idle(self) -> bool:
        """No request being read, waited on, or queued."""
        return not self.busy and not self.queue and self.reading_since is None

    def _malformed(self) -> None:
        self.handler.stats.malformed_requests += 1
        self.close_with(BAD_REQUEST_CLOSE)
