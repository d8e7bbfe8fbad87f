"""``kubectl port-forward`` to the synchronizer, kept up for as long as a run needs it.

:func:`forwarded` is what ``stressgen run`` and ``stressgen doctor`` use: it decides (see
:func:`~stressgen.cluster.target.forward_decision`), starts a :class:`PortForward` when
needed and always stops it. A :class:`PortForward` starts kubectl, waits until the local
port answers the synchronizer's ``/healthz`` (never a fixed sleep), then watches it from a
thread: when kubectl exits it is restarted, and the outage is recorded with the alerts that
failed during it. kubectl runs in a session of its own, so a Ctrl-C at the terminal does
not take the forward away while the run drains; it is stopped explicitly on every way out,
and (on Linux) dies with stressgen if stressgen is killed outright.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit

from stressgen.cluster.commands import Background, excerpt, find_tool
from stressgen.cluster.config import ForwardConfig
from stressgen.cluster.target import (
    DEFAULT_CLUSTER_URL,
    forward_decision,
    forward_port,
    host_port,
    local_url,
    pick_local_port,
    probe_healthz,
)
from stressgen.errors import StartupError

WATCH_INTERVAL_S = 0.1
RESTART_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
SETTLE_S = 0.3
"""After a forward is back, how long until an outage's failure count is read: workers
publish their counters every 0.1 s, so failures of the outage's last moments show late."""
_PROBE_PAUSE_S = 0.05


def port_forward_argv(cfg: ForwardConfig, local_port: int) -> list[str]:
    """The kubectl command line of a forward from 127.0.0.1:``local_port``."""
    return cfg.kube.kubectl_argv(
        "port-forward",
        "--namespace",
        cfg.namespace,
        f"svc/{cfg.service}",
        f"{local_port}:{cfg.remote_port}",
        "--address",
        "127.0.0.1",
    )


def what_to_check(cfg: ForwardConfig) -> str:
    """The seed's troubleshooting steps for a forward that would not come up."""
    kubectl = " ".join(cfg.kube.kubectl_argv())
    return "\n".join(
        [
            "Check:",
            f"  {kubectl} get pods -n {cfg.namespace} | grep {cfg.service}   (is it running?)",
            f"  {kubectl} get svc -n {cfg.namespace} {cfg.service}   (port {cfg.remote_port}?)",
            f"  {kubectl} config current-context   (the right cluster?)",
            "  stressgen doctor   (runs every check in turn)",
        ]
    )


def exit_reason(kubectl: Background) -> str:
    """``kubectl exited with code 1: <its last stderr line>`` (credentials masked)."""
    said = kubectl.last_line()
    return f"kubectl exited with code {kubectl.exit_code()}" + (f": {said}" if said else "")


@dataclasses.dataclass(frozen=True)
class Outage:
    """A time the forward was down: from the last check that saw kubectl alive to the
    moment the local port answered ``/healthz`` again; and the alerts that failed in that
    window (read from the live counters, so give or take the last 0.1 s: see SETTLE_S)."""

    started_at: float
    ended_at: float
    failed_alerts: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the report."""

        def iso(t: float) -> str:
            return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat()

        return {
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration_s": round(self.ended_at - self.started_at, 3),
            "failed_alerts": self.failed_alerts,
            "reason": self.reason,
        }


class PortForward:
    """A supervised ``kubectl port-forward``; see the module docstring.

    ``failed_alerts`` returns the run's failed alerts so far (the live counters); the
    watcher reads it at each outage's start and end. Use :meth:`start` and :meth:`stop`,
    or :func:`forwarded`.
    """

    def __init__(self, cfg: ForwardConfig, local_port: int, *, out: TextIO) -> None:
        self.cfg = cfg
        self.local_port = local_port
        self.out = out
        self.argv = port_forward_argv(cfg, local_port)
        self.failed_alerts: Callable[[], int] = lambda: 0
        self.outages: list[Outage] = []
        self.restarts = 0
        self._kubectl: Background | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._signalled = False

    @property
    def route(self) -> str:
        """``127.0.0.1:8089 -> svc/synchronizer:8089 in kubescape``."""
        c = self.cfg
        return f"127.0.0.1:{self.local_port} -> svc/{c.service}:{c.remote_port} in {c.namespace}"

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _spawn(self) -> Background:
        find_tool(self.argv[0], f"it is needed to port-forward to svc/{self.cfg.service}")
        try:
            return Background(self.argv)
        except OSError as exc:
            raise StartupError(f"{shlex.join(self.argv)} could not be started: {exc}") from None

    def _await_ready(self, kubectl: Background) -> str | None:
        """None once the local port answers ``/healthz`` 200; else what went wrong."""
        deadline = time.monotonic() + self.cfg.ready_timeout_s
        last = "nothing answered"
        while True:
            if self._signalled:
                raise KeyboardInterrupt
            if self._stop.is_set():
                return "stopped"
            code = kubectl.exit_code()
            if code is not None:
                return f"kubectl exited with code {code}"
            status = probe_healthz("127.0.0.1", self.local_port)
            if status == 200:
                return None
            if status is not None:
                last = f"/healthz answered {status}"
            if time.monotonic() > deadline:
                return (
                    f"127.0.0.1:{self.local_port} did not answer /healthz with 200 within "
                    f"{self.cfg.ready_timeout_s:g}s ({last})"
                )
            self._stop.wait(_PROBE_PAUSE_S)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True

    def start(self) -> None:
        """Start kubectl and wait until the forward answers; raise :class:`StartupError`
        with kubectl's own words and what to check if it exits or never gets ready."""
        self._say(f"Starting the port-forward: {shlex.join(self.argv)}")
        started = time.monotonic()
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, self._on_signal) if main else None
        try:
            self._kubectl = self._spawn()
            problem = self._await_ready(self._kubectl)
        finally:
            if main:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if self._signalled:
            raise KeyboardInterrupt
        if problem is not None:
            words = excerpt(self._kubectl.output())
            raise StartupError(
                f"port-forward {self.route} failed: {problem}"
                + (f"; kubectl said:\n{words}" if words else "")
                + "\n"
                + what_to_check(self.cfg)
            )
        self._say(f"Port-forward ready: {self.route} (after {time.monotonic() - started:.1f}s)")
        self._watcher = threading.Thread(target=self._watch, name="port-forward", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        alive_at, failed_at = time.time(), self.failed_alerts()
        while not self._stop.wait(WATCH_INTERVAL_S):
            kubectl = self._kubectl
            assert kubectl is not None
            code = kubectl.exit_code()
            if code is None:
                alive_at, failed_at = time.time(), self.failed_alerts()
                continue
            reason = exit_reason(kubectl)
            self._say(f"Port-forward lost ({reason}); restarting it")
            back = self._restart()
            ended = time.time()
            if back:
                self._stop.wait(SETTLE_S)
            outage = Outage(alive_at, ended, self.failed_alerts() - failed_at, reason)
            self.outages.append(outage)
            if back:
                self._say(
                    f"Port-forward back after {ended - alive_at:.1f}s "
                    f"({outage.failed_alerts} alerts failed while it was down)"
                )
            alive_at, failed_at = time.time(), self.failed_alerts()

    def _restart(self) -> bool:
        """Start kubectl again until it is ready (backing off) or the forward is stopped."""
        for attempt in itertools.count():
            if self._stop.is_set():
                return False
            assert self._kubectl is not None
            self._kubectl.stop()
            self.restarts += 1
            try:
                self._kubectl = self._spawn()
            except StartupError as exc:
                problem: str | None = str(exc)
            else:
                problem = self._await_ready(self._kubectl)
                if problem not in (None, "stopped") and self._kubectl.exit_code() is not None:
                    problem = exit_reason(self._kubectl)
            if problem is None:
                return True
            if problem != "stopped":
                delay = RESTART_DELAYS_S[min(attempt, len(RESTART_DELAYS_S) - 1)]
                self._say(f"Port-forward restart failed ({problem}); retrying in {delay:g}s")
                self._stop.wait(delay)
        return False

    def stop(self) -> None:
        """Stop watching and stop kubectl; safe to call more than once."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(15.0)
        if self._kubectl is not None:
            self._kubectl.stop()

    def summary(self) -> dict[str, Any]:
        """What the report says about the forward."""
        outages = list(self.outages)
        return {
            "command": shlex.join(self.argv),
            "route": self.route,
            "local_port": self.local_port,
            "restarts": self.restarts,
            "outages": [o.to_dict() for o in outages],
            "down_s": round(sum(o.ended_at - o.started_at for o in outages), 3),
            "failed_alerts_while_down": sum(o.failed_alerts for o in outages),
        }


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


@contextlib.contextmanager
def forwarded(
    url: str | None, cfg: ForwardConfig, out: TextIO
) -> Iterator[tuple[str | None, PortForward | None]]:
    """The URL to send to (None: use the built-in emulator) and the forward behind it, if
    any; the forward is stopped however the block ends."""
    decision = forward_decision(cfg.mode, url)
    if decision == "emulator":
        yield None, None
        return
    target = url or DEFAULT_CLUSTER_URL
    if decision == "probe":
        host, port = host_port(target)
        status = probe_healthz(host, port)
        decision = "direct" if status == 200 else "forward"
        if status == 200:
            _say(
                out,
                f"{host}:{port}/healthz answers 200: sending to it directly "
                "(no port-forward started)",
            )
        elif status is not None:
            _say(
                out,
                f"{host}:{port}/healthz answers {status}, not 200: not a synchronizer, "
                "so port-forwarding (--port-forward never sends to it as it is)",
            )
    if decision == "direct":
        yield target, None
        return
    wanted = forward_port(target, cfg.remote_port)
    local = pick_local_port(wanted)
    if local != wanted:
        _say(out, f"Local port {wanted} is in use: forwarding from port {local} instead")
    scheme = urlsplit(target).scheme
    if scheme != "http":
        _say(
            out,
            f"Sending http://, not {scheme}://, through the forward: it carries the "
            "synchronizer's plain HTTP",
        )
    forward = PortForward(cfg, local, out=out)
    try:
        forward.start()
        yield local_url(target, local), forward
    finally:
        forward.stop()
