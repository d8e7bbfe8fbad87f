"""nginx, the target of the engine and throughput benchmarks: ``return 202`` with the body
read and discarded, one worker process, pinned to the server core."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks._tools import SERVER_CPU, free_port, pinned

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        client_body_buffer_size 64k;
        # return < 400 goes through ngx_http_send_response, which reads and discards
        # the request body, so the connection stays usable for keep-alive.
        location / {{ return 202; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(tmp: Path) -> Iterator[str]:
    """Serve ``return 202`` with nginx pinned to the server core; yields its base URL."""
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    argv = ["nginx", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    process = subprocess.Popen(
        pinned(SERVER_CPU, [*argv, "-g", "daemon off;"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _await_port(port, process, tmp / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _await_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log.read_text() if log.exists() else ""
            raise SystemExit(f"nginx exited with code {process.returncode}:\n{error}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nginx did not listen on port {port} within 10s")


def nginx_version() -> str:
    """``1.22.1``."""
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=True)
    return out.stderr.strip().rsplit("/", 1)[-1]
