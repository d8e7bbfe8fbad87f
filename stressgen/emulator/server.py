"""The emulator's server: listens, routes each request, runs the forwarder and the faults."""

from __future__ import annotations

import asyncio
import errno
import random
import socket
import ssl
from email.utils import formatdate
from http import HTTPStatus

import orjson

from stressgen.emulator import routing
from stressgen.emulator.config import EmulatorConfig
from stressgen.emulator.forwarder import Forwarder
from stressgen.emulator.protocol import Connection, Request
from stressgen.emulator.stats import EmulatorStats
from stressgen.errors import StartupError
from stressgen.payloads.schema import RuntimeAlertsRequest, validate_runtime_alerts

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
ROUTE_CACHE_SIZE = 1024
"""Distinct (method, path) pairs whose routing decision is remembered."""


class EmulatorServer:
    """A synchronizer look-alike on one event loop. Create it, ``await start()``, then
    ``await shutdown()``; counters are in :attr:`stats`."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.stats = EmulatorStats(sample_count=config.sample_count)
        self.max_body_bytes = config.max_body_bytes
        self.rng = random.Random(config.seed)
        self.forwarder = Forwarder(
            latency=config.latency_s,
            jitter=config.jitter_s,
            stall_every=config.stall_every_s,
            stall_for=config.stall_for_s,
            rng=self.rng,
        )
        self.port = config.port
        self.connections: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.Server] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._heads: dict[tuple[int, bool], bytes] = {}
        self._routes: dict[tuple[str, str], routing.Target | int] = {}
        self._kinds: dict[tuple[str, str], int] = {}  # runtime alerts' (apiVersion, kind)
        self._date = b""
        self._t0 = 0.0
        # No latency and no stalls: every message is written the moment it arrives.
        self._instant = config.latency_s == 0 and config.jitter_s == 0 and config.stall_every_s == 0

    @property
    def url(self) -> str:
        """Base URL of the emulator (``http://127.0.0.1:PORT``)."""
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server runs on (set by :meth:`start`)."""
        assert self._loop is not None, "EmulatorServer.start() has not been called"
        return self._loop

    # lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Bind and start serving; raises :class:`StartupError` if the port is unusable."""
        self._loop = asyncio.get_running_loop()
        self._t0 = self.loop.time()
        await self._listen()
        self._tick_date()
        self._sweep()
        if self.config.refuse_every_s > 0:
            self._schedule_refusal(1)

    async def _listen(self) -> None:
        try:
            server = await self.loop.create_server(
                self._new_connection,
                self.config.host,
                self.port,
                reuse_address=True,
                backlog=1024,
                ssl=self._tls(),
            )
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise StartupError(
                f"--port: {self.config.host}:{self.port} cannot be listened on ({reason})"
            ) from exc
        sock = server.sockets[0]
        self.port = sock.getsockname()[1]
        for s in server.sockets:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._servers.append(server)

    def _tls(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"--tls-cert: cannot load {self.config.tls_cert}: {exc}") from exc
        return context

    def _new_connection(self) -> Connection:
        conn = Connection(self, self.loop)
        self.connections.add(conn)
        return conn

    def forget(self, conn: Connection) -> None:
        """Called by a connection when it is lost."""
        self.connections.discard(conn)

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop listening, let waiting requests finish within ``grace_s``, close the rest."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._stop_listening()
        for conn in list(self.connections):
            if conn.idle():
                conn.close()
        deadline = self.loop.time() + grace_s
        while self.stats.waiting > 0 and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()
        await asyncio.sleep(0)

    def _stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    # periodic work ---------------------------------------------------------------
    def _tick_date(self) -> None:
        self._date = formatdate(usegmt=True).encode("ascii")
        self._heads.clear()
        self._timers["date"] = self.loop.call_later(1.0, self._tick_date)

    def _sweep(self) -> None:
        """Enforce the read and idle timeouts (checked a few times per timeout)."""
        cfg = self.config
        now = self.loop.time()
        for conn in list(self.connections):
            if conn.reading_since is not None and now - conn.reading_since > cfg.read_timeout_s:
                self.stats.read_timeouts += 1
                conn.abort()
            elif conn.idle() and now - conn.last_active > cfg.idle_timeout_s:
                self.stats.idle_closed += 1
                conn.close()
        period = min(1.0, cfg.read_timeout_s / 4, cfg.idle_timeout_s / 4)
        self._timers["sweep"] = self.loop.call_later(period, self._sweep)

    def _schedule_refusal(self, k: int) -> None:
        when = self._t0 + k * self.config.refuse_every_s
        self._timers["refuse"] = self.loop.call_at(when, self._go_down, k)

    def _go_down(self, k: int) -> None:
        self.stats.refusal_windows += 1
        self._stop_listening()
        for conn in list(self.connections):
            conn.abort()
        self._timers["refuse"] = self.loop.call_later(self.config.refuse_for_s, self._come_back, k)

    def _come_back(self, k: int) -> None:
        async def relisten() -> None:
            await self._listen()
            self._schedule_refusal(k + 1)

        self.loop.create_task(relisten())

    # answering -------------------------------------------------------------------
    def _head(self, status: int, keep_alive: bool) -> bytes:
        head = self._heads.get((status, keep_alive))
        if head is None:
            phrase = HTTPStatus(status).phrase
            close = b"" if keep_alive else b"Connection: close\r\n"
            head = (
                f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
                + b"Date: "
                + self._date
                + b"\r\nContent-Length: 0\r\n"
                + close
                + b"\r\n"
            )
            self._heads[(status, keep_alive)] = head
        return head

    def _answer(self, conn: Connection, request: Request, status: int) -> None:
        self.stats.answers[status] += 1
        conn.respond(request, self._head(status, request.keep_alive))

    def _answer_json(self, conn: Connection, request: Request, document: object) -> None:
        body = orjson.dumps(document)
        close = b"" if request.keep_alive else b"Connection: close\r\n"
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: "
            + self._date
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + close
            + b"\r\n"
        )
        conn.respond(request, head, body)

    def handle(self, conn: Connection, request: Request) -> None:
        """Decide the answer to one request, as the synchronizer would."""
        path = request.path
        if path in HEALTH_PATHS:
            conn.respond(request, self._head(200, request.keep_alive))
            return
        if path == "/stats" and request.method == "GET":
            self._answer_json(conn, request, self.stats.to_dict())
            return
        if path == "/reset" and request.method == "POST":
            before = self.stats.to_dict()
            self.stats.reset()
            self.forwarder.reset()
            self._answer_json(conn, request, {"reset": True, "before": before})
            return
        stats = self.stats
        stats.requests += 1
        key = (request.method, path)
        target = self._routes.get(key)
        if target is None:
            target = routing.route(request.method, path)
            if len(self._routes) < ROUTE_CACHE_SIZE:
                self._routes[key] = target
        if isinstance(target, int):
            self._answer(conn, request, target)
            return
        stats.by_resource[target.resource] += 1
        stats.bytes_received += len(request.body)
        if target.resource == "runtimealerts":
            self._runtime_alerts(conn, request, target)
        else:
            status = routing.check_document(target, _loads(request.body))
            if status != routing.ACCEPTED:
                self._answer(conn, request, status)
            else:
                self._forward(conn, request, 0, self._inject(conn, request))

    def _runtime_alerts(self, conn: Connection, request: Request, target: routing.Target) -> None:
        stats = self.stats
        decoded, reason = validate_runtime_alerts(request.body)
        if decoded is not None:
            kinds = (decoded.apiVersion, decoded.kind)
            status = self._kinds.get(kinds, 0)
            if not status:
                status = routing.check_kind(target, *kinds)
                if len(self._kinds) < ROUTE_CACHE_SIZE:
                    self._kinds[kinds] = status
            alerts = len(decoded.spec.alerts)
        else:
            document = _loads(request.body)
            status = routing.check_document(target, document)
            alerts = _alert_count(document)
        if status != routing.ACCEPTED:
            self._answer(conn, request, status)
            return
        if reason is None and decoded is not None:
            _count_valid(stats, decoded)
        else:
            stats.note_invalid(reason or "invalid", alerts)
            if self.config.reject_invalid:
                self._answer(conn, request, routing.BAD_REQUEST)
                return
        self._forward(conn, request, alerts, self._inject(conn, request))

    def _inject(self, conn: Connection, request: Request) -> bool:
        """Apply the drop and error faults; True when the request may go on."""
        cfg = self.config
        if cfg.drop_rate and self.rng.random() < cfg.drop_rate:
            self.stats.dropped_requests += 1
            conn.abort()
            return False
        if cfg.error_rate and self.rng.random() < cfg.error_rate:
            self.stats.injected_errors += 1
            self._answer(conn, request, cfg.error_status)
            return False
        return True

    def _forward(self, conn: Connection, request: Request, alerts: int, go_on: bool) -> None:
        if not go_on:
            return
        stats = self.stats
        stats.waiting += 1
        stats.peak_waiting = max(stats.peak_waiting, stats.waiting)
        if self._instant:
            self._forwarded(conn, request, alerts)
            return
        now = self.loop.time()
        done = self.forwarder.admit(now - self._t0) + self._t0
        if done <= now:
            self._forwarded(conn, request, alerts)
        else:
            self.loop.call_at(done, self._forwarded, conn, request, alerts)

    def _forwarded(self, conn: Connection, request: Request, alerts: int) -> None:
        stats = self.stats
        stats.waiting -= 1
        stats.alerts_forwarded += alerts
        if conn.transport is None or conn.closing:
            return
        if not self._instant and self.loop.time() - request.read_at > self.config.write_timeout_s:
            # Go's write deadline has passed: the write fails and the connection closes.
            stats.write_timeouts += 1
            conn.abort()
            return
        stats.accepted += 1
        stats.alerts_accepted += alerts
        self._answer(conn, request, routing.ACCEPTED)


def _loads(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _alert_count(document: object) -> int:
    if isinstance(document, dict):
        spec = document.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("alerts"), list):
            return len(spec["alerts"])
    return 0


def _count_valid(stats: EmulatorStats, decoded: RuntimeAlertsRequest) -> None:
    alerts = decoded.spec.alerts
    stats.alerts_valid += len(alerts)
    for alert in alerts:
        stats.note_unique_id(alert.uniqueID)
        stats.alerts_by_rule[alert.ruleID] += 1
