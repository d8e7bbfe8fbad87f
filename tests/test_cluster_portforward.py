"""The supervised port-forward, in this process: ready-wait, start failures, restarts,
teardown. kubectl is a stand-in (tests/standins: there is no cluster here) that really
listens on the local port and relays TCP to a real emulator, so every alert below crosses
two real TCP hops, as it would through a real port-forward."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stressgen.cluster import ForwardConfig, PortForward, forwarded
from stressgen.emulator import EmulatorThread
from stressgen.errors import StartupError
from tests.helpers import ALERTS_PATH, host_port, post, running_emulator
from tests.standins import Standins, install

BODY = b'{"kind":"RuntimeAlerts","apiVersion":"kubescape.io/v1","spec":{"alerts":[]}}'


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Standins]:
    """Stand-in kubectl/helm first on this process's PATH (kubectl is started from here)."""
    tools = install(tmp_path)
    monkeypatch.setenv("PATH", tools.path())
    monkeypatch.setenv("STANDIN_DIR", str(tools.root))
    yield tools
    assert tools.alive() == [], "a kubectl port-forward was left running"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with running_emulator() as emulator:
        yield emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def target(emu: EmulatorThread) -> str:
    host, port = host_port(emu.url)
    return f"{host}:{port}"


def local(port: int) -> str:
    return f"http://localhost:{port}/apis/v1/kubescape.io"


def test_ready_wait_is_on_healthz_not_a_sleep(standins: Standins, emu: EmulatorThread) -> None:
    """kubectl (stand-in) takes 0.6 s before it listens: start() returns only once the
    forwarded port answers /healthz, and then an alert goes through to the emulator."""
    standins.scenario(port_forward={"target": target(emu), "delay_s": 0.6})
    out = io.StringIO()
    started = time.monotonic()
    with forwarded(local(free_port()), ForwardConfig(), out) as (url, forward):
        waited = time.monotonic() - started
        assert url is not None and forward is not None
        assert 0.6 <= waited < 5
        assert post(url, ALERTS_PATH, BODY) == 202
        assert emu.stats()["accepted"] == 1
    assert "Port-forward ready: 127.0.0.1:" in out.getvalue()
    [call] = standins.calls("kubectl")
    assert call["argv"][:4] == ["port-forward", "--namespace", "kubescape", "svc/synchronizer"]


def test_kubectl_failing_at_start_shows_its_words(standins: Standins) -> None:
    """kubectl (stand-in) exits at once as it does when the service is missing: the error
    carries its message and what to check, and nothing is left running."""
    standins.scenario(port_forward={"fail": ['error: services "synchronizer" not found']})
    started = time.monotonic()
    with (
        pytest.raises(StartupError) as info,
        forwarded(local(free_port()), ForwardConfig(), io.StringIO()),
    ):
        pytest.fail("the block must not run")  # pragma: no cover
    message = str(info.value)
    assert time.monotonic() - started < 5
    assert "kubectl exited with code 1" in message
    assert 'error: services "synchronizer" not found' in message
    assert "kubectl get pods -n kubescape | grep synchronizer" in message
    assert "stressgen doctor" in message


def test_forward_that_never_answers_times_out(standins: Standins) -> None:
    """kubectl (stand-in) listens but the pod behind it does not answer: after the timeout
    the run does not start, and kubectl is stopped."""
    standins.scenario(port_forward={"target": f"127.0.0.1:{free_port()}"})
    cfg = ForwardConfig(ready_timeout_s=0.5)
    expected = r"did not answer /healthz with 200 within 0\.5s"
    with (
        pytest.raises(StartupError, match=expected),
        forwarded(local(free_port()), cfg, io.StringIO()),
    ):
        pass  # pragma: no cover
    assert len(standins.forward_pids()) == 1


def test_error_inside_the_block_still_stops_kubectl(
    standins: Standins, emu: EmulatorThread
) -> None:
    """Whatever ends the block, kubectl (stand-in) is stopped (the fixture checks it)."""
    standins.scenario(port_forward={"target": target(emu)})
    with pytest.raises(RuntimeError), forwarded(local(free_port()), ForwardConfig(), io.StringIO()):
        raise RuntimeError("boom")
    assert len(standins.forward_pids()) == 1


def test_dead_forward_is_restarted_and_the_outage_recorded(
    standins: Standins, emu: EmulatorThread
) -> None:
    """The first kubectl (stand-in) dies 0.5 s after it started, as a real one does when
    its pod goes away: the watcher restarts it, the outage is recorded with the failures
    counted during it, and alerts flow again."""
    standins.scenario(
        port_forward={"target": target(emu), "die_after_s": {"1": 0.5}, "delay_s": 0.2}
    )
    out = io.StringIO()
    with forwarded(local(free_port()), ForwardConfig(), out) as (url, forward):
        assert url is not None and isinstance(forward, PortForward)
        failures = iter(range(0, 10**6, 3))  # every read sees 3 more failures
        forward.failed_alerts = lambda: next(failures)
        deadline = time.monotonic() + 10
        while not forward.outages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(url, ALERTS_PATH, BODY) == 202
    [outage] = forward.outages
    assert forward.restarts == 1
    assert "lost connection to pod" in outage.reason
    assert outage.ended_at - outage.started_at >= 0.2
    assert outage.failed_alerts > 0 and outage.failed_alerts % 3 == 0
    summary = forward.summary()
    assert summary["restarts"] == 1 and summary["failed_alerts_while_down"] == outage.failed_alerts
    assert "Port-forward lost (kubectl exited with code 1" in out.getvalue()
    assert "Port-forward back after" in out.getvalue()
    assert len(standins.forward_pids()) == 2


def test_local_url_that_already_answers_is_used_directly(
    standins: Standins, emu: EmulatorThread
) -> None:
    """A forward the user already runs (here: the emulator itself on 127.0.0.1) is used as
    is: kubectl (stand-in) is never called."""
    out = io.StringIO()
    with forwarded(emu.url, ForwardConfig(), out) as (url, forward):
        assert url == emu.url and forward is None
    assert "sending to it directly (no port-forward started)" in out.getvalue()
    assert standins.calls() == []


def test_busy_local_port_moves_the_forward(standins: Standins, emu: EmulatorThread) -> None:
    """Something that is not the synchronizer holds the URL's port: the forward (kubectl
    stand-in) listens on another local port, says so, and the URL follows it."""
    standins.scenario(port_forward={"target": target(emu)})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = io.StringIO()
        with forwarded(local(port), ForwardConfig(), out) as (url, forward):
            assert url is not None and forward is not None
            assert forward.local_port != port
            assert url == f"http://127.0.0.1:{forward.local_port}/apis/v1/kubescape.io"
            assert post(url, ALERTS_PATH, BODY) == 202
    assert f"Local port {port} is in use: forwarding from port {forward.local_port}" in (
        out.getvalue()
    )


def test_never_mode_does_not_forward(standins: Standins) -> None:
    """--port-forward never: the URL is used as given, nothing probed, no kubectl."""
    cfg = ForwardConfig(mode="never")
    with forwarded(local(free_port()), cfg, io.StringIO()) as (url, forward):
        assert url is not None and url.startswith("http://localhost:") and forward is None
    assert standins.calls() == []
