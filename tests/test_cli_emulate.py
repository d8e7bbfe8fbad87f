"""``stressgen emulate`` as a user runs it: a real subprocess, real signals, real exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from stressgen.payloads import AlertTemplate, PayloadFactory
from tests.helpers import ALERTS_PATH, post

STRESSGEN = [sys.executable, "-m", "stressgen"]


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESSGEN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--latency", "fast"], 2, "--latency: 'fast' is not a duration like 15ms"),
        (["--error-rate", "2"], 2, "--error-rate: '2' is not a fraction between 0 and 1"),
        (["--error-rate", "lots"], 2, "--error-rate: 'lots' is not a fraction"),
        (["--stall-every", "10s"], 2, "--stall-every/--stall-for: '10s/0s' is not both set"),
        (["--error-status", "299"], 2, "--error-status: 299 is not one of"),
        (["--port", "99999"], 2, "--port: 99999 is not a port number"),
        (["--max-body", "huge"], 2, "--max-body: 'huge' is not a size"),
        (["--bogus"], 2, "No such option '--bogus'"),
        (["--port", "abc"], 2, "--port: 'abc' is not a valid integer"),
    ],
)
def test_bad_flags_give_one_line(args: list[str], code: int, message: str) -> None:
    result = run_cli("emulate", *args)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_port_in_use_is_could_not_start() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("emulate", "--port", str(port))
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"stressgen: error: --port: 127.0.0.1:{port} cannot be listened on (already in use)"
    ]


@pytest.fixture
def emulate_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [*STRESSGEN, "emulate", "--port", "0", "--latency", "1ms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/apis", line)
    assert match, line
    try:
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_summary(
    emulate_process: tuple[subprocess.Popen[str], str], sig: signal.Signals
) -> None:
    proc, url = emulate_process
    factory = PayloadFactory(AlertTemplate())
    for _ in range(5):
        assert post(url, ALERTS_PATH, factory.render()) == 202
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "SYNCHRONIZER EMULATOR SUMMARY" in out
    assert "Requests: 5 (answers 202: 5)" in out
    assert "Alerts valid: 5  invalid: 0" in out
    assert "Traceback" not in err


def test_exit_after_stops_by_itself() -> None:
    start = time.monotonic()
    result = run_cli("emulate", "--port", "0", "--exit-after", "1s")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 20
    assert "forwarder capacity unlimited" in result.stdout
    assert "SYNCHRONIZER EMULATOR SUMMARY" in result.stdout
