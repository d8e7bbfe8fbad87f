"""Deciding whether a target needs a port-forward, and the small network probes it takes.

:func:`forward_decision` is the seed's rule as a pure function ("a URL on localhost means
the synchronizer is reached through ``kubectl port-forward``"), table-tested; the probes
(:func:`probe_healthz`, :func:`pick_local_port`) are the I/O around it.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

DEFAULT_CLUSTER_URL = "http://localhost:8089/apis/v1/kubescape.io"
"""The seed's ``synchronizer_url``: the synchronizer through a local port-forward."""
HEALTH_PATH = "/healthz"

Decision = Literal["emulator", "direct", "probe", "forward"]


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ``::1``."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def forward_decision(mode: str, url: str | None) -> Decision:
    """What to do for ``mode`` (auto/always/never) and the run's URL (None: none given).

    ``emulator``: no target, use the built-in emulator; ``direct``: send to the URL as is;
    ``probe``: a local URL in auto mode -- send to it directly if ``/healthz`` answers 200
    there (a forward someone already runs, a local emulator), else forward;
    ``forward``: start a port-forward and send through it.
    """
    if mode == "always":
        return "forward"
    if url is None:
        return "emulator"
    if mode == "auto" and is_loopback(urlsplit(url).hostname):
        return "probe"
    return "direct"


def host_port(url: str) -> tuple[str, int]:
    """Host and port of ``url``, the port defaulting by scheme."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "localhost", parts.port or default


def forward_port(url: str, remote_port: int) -> int:
    """The local port a forward for ``url`` prefers: the URL's own port if it names one,
    else the synchronizer's port (never the scheme's default, 80 or 443)."""
    return urlsplit(url).port or remote_port


def local_url(url: str, port: int) -> str:
    """``url`` pointed at the forward's local end, http://127.0.0.1:``port``, path kept:
    plain HTTP whatever the URL said, as the synchronizer serves (kubectl carries TCP)."""
    parts = urlsplit(url)
    return urlunsplit(("http", f"127.0.0.1:{port}", parts.path, parts.query, ""))


def probe_healthz(host: str, port: int, timeout_s: float = 1.0) -> int | None:
    """The status ``GET /healthz`` gets at host:port, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", HEALTH_PATH)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on (as kubectl would: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_local_port(preferred: int) -> int:
    """``preferred`` when it is free, else a free port the system picks."""
    if port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
