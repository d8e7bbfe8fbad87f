"""Small helpers for tests: real emulators on loopback port 0 and raw-HTTP clients."""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from stressgen.emulator import EmulatorConfig, EmulatorThread

ALERTS_PATH = "/apis/v1/kubescape.io/v1/runtimealerts"


@contextlib.contextmanager
def running_emulator(**overrides: Any) -> Iterator[EmulatorThread]:
    """A real emulator on 127.0.0.1, port 0, in a background thread of the test process."""
    config = EmulatorConfig(port=0, quiet=True, **overrides)
    emu = EmulatorThread(config)
    try:
        yield emu
    finally:
        emu.stop()


def host_port(url: str) -> tuple[str, int]:
    """(host, port) of an ``http://host:port`` URL."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def post(
    url: str,
    path: str,
    body: bytes,
    method: str = "POST",
    timeout: float = 10.0,
) -> int:
    """One request on a fresh connection; returns the status."""
    host, port = host_port(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def raw_exchange(url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or the timeout passes; return all read."""
    sock = socket.create_connection(host_port(url), timeout=timeout)
    chunks = []
    try:
        sock.sendall(data)
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return b"".join(chunks)
