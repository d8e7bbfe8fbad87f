"""The reference clients stressgen is measured beside: wrk, hey, Locust and autocannon, each
run flat out on the client core; what each achieved (:class:`Throughput`), and installing
those that are missing."""

from __future__ import annotations

import dataclasses
import json
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._tools import (
    CLIENT_CPU,
    Burst,
    ToolUnavailable,
    ensure_npm_command,
    ensure_optional_debian_package,
    ensure_python_module,
    kill_tree,
    pinned,
    process_tree_cpu_seconds,
)
from stressgen.payloads import RUNTIME_ALERTS_PATH, AlertTemplate, PayloadFactory

CLIENTS = {
    "fast": "stressgen --transport fast, 1 process",
    "aiohttp": "stressgen --transport aiohttp, 1 process",
    "wrk": "wrk -t1",
    "hey": "hey -cpus 1",
    "locust": "Locust FastHttpUser, 1 process",
    "autocannon": "autocannon, 1 thread",
}
"""Every client the throughput benchmark measures, by name, with its label."""
REFERENCE_TOOLS = ("hey", "locust", "autocannon")
"""The clients installed on demand (wrk comes with nginx, as a Debian package)."""
OVERRUN_S = 30.0
"""Slack beyond a tool's planned run time before it is killed."""
WRK_LUA = """\
wrk.method = "POST"
wrk.body = [{eq}[{body}]{eq}]
"""
LOCUSTFILE = """\
from pathlib import Path

from locust import FastHttpUser, constant, task

BODY = Path({body!r}).read_bytes()
HEADERS = {{"Content-Type": "application/json"}}


class Poster(FastHttpUser):
    wait_time = constant(0)

    @task
    def post(self):
        self.client.post({path!r}, data=BODY, headers=HEADERS)
"""


@dataclasses.dataclass(frozen=True)
class Throughput:
    """A client going as fast as it can: requests/s and its CPU µs per request."""

    rate: float
    cpu_us: float
    requests: int

    @classmethod
    def of(cls, burst: Burst) -> Throughput:
        """What a client did within its steady window."""
        return cls(burst.rate, burst.cpu_us, burst.requests)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of all waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- wrk -----------------------------------------------------------------------------------


def wrk_lua(tmp: Path) -> Path:
    """A wrk script POSTing one real node-agent body (the same every time)."""
    body = PayloadFactory(AlertTemplate()).render().decode()
    eq = "="
    while f"]{eq}]" in body:
        eq += "="
    script = tmp / "post.lua"
    script.write_text(WRK_LUA.format(eq=eq, body=body))
    return script


def wrk_run(url: str, script: Path, seconds: int, connections: int) -> Throughput:
    """wrk at full speed; its CPU is the rusage of the waited-for child."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    cpu0 = children_cpu_seconds()
    done = subprocess.run(pinned(CLIENT_CPU, argv), capture_output=True, text=True, check=True)
    cpu = children_cpu_seconds() - cpu0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    count = re.search(r"(\d+) requests in", done.stdout)
    if rate is None or count is None:
        raise SystemExit(f"unexpected wrk output:\n{done.stdout}{done.stderr}")
    if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        raise SystemExit(f"wrk saw errors:\n{done.stdout}")
    requests = int(count.group(1))
    return Throughput(float(rate.group(1)), cpu / max(requests, 1) * 1e6, requests)


# -- hey, autocannon, Locust ---------------------------------------------------------------


def hey_run(url: str, body: Path, seconds: int, connections: int) -> Throughput:
    """hey flat out for ``seconds``; its CPU is the rusage of the waited-for child."""
    argv = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-cpus", "1", "-m", "POST"]
    argv += ["-D", str(body), "-T", "application/json", url]
    cpu0 = children_cpu_seconds()
    done = subprocess.run(
        pinned(CLIENT_CPU, argv),
        capture_output=True,
        text=True,
        timeout=seconds + OVERRUN_S,
        check=False,
    )
    cpu = children_cpu_seconds() - cpu0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    statuses = {int(s): int(n) for s, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", done.stdout)}
    if done.returncode != 0 or rate is None or not statuses:
        raise ToolUnavailable(
            f"hey exited with code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    if set(statuses) != {202}:
        raise ToolUnavailable(f"hey saw answers other than 202: {statuses}")
    errors = done.stdout.partition("Error distribution:")[2]
    if len(re.findall(r"^\s+\[\d+\]", errors, re.MULTILINE)) > 0:
        print(f"  hey's errors (requests cut off at its end?):{errors.rstrip()}", flush=True)
    requests = statuses[202]
    return Throughput(float(rate[1]), cpu / max(requests, 1) * 1e6, requests)


def autocannon_run(url: str, body: Path, seconds: int, connections: int) -> Throughput:
    """autocannon flat out for ``seconds`` (its JSON result); CPU from rusage."""
    argv = ["autocannon", "-c", str(connections), "-d", str(seconds), "-m", "POST"]
    argv += ["-i", str(body), "-H", "content-type=application/json", "-j", url]
    cpu0 = children_cpu_seconds()
    done = subprocess.run(
        pinned(CLIENT_CPU, argv),
        capture_output=True,
        text=True,
        timeout=seconds + OVERRUN_S,
        check=False,
    )
    cpu = children_cpu_seconds() - cpu0
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise ToolUnavailable(
            f"autocannon exited with code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    bad = {k: result.get(k, 0) for k in ("errors", "timeouts", "non2xx", "resets")}
    if any(bad.values()):
        raise ToolUnavailable(f"autocannon saw errors: {bad}")
    requests = int(result["2xx"])
    return Throughput(requests / result["duration"], cpu / max(requests, 1) * 1e6, requests)


def locust_run(base: str, tmp: Path, body: Path, seconds: int, connections: int) -> Throughput:
    """Locust headless in one process for ``seconds`` after all users are spawned (its stats
    reset then, ``--reset-stats``): requests over the span of its final JSON stats; CPU from
    the reset on (read from /proc then, the total from rusage after it exits)."""
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(body=str(body), path=RUNTIME_ALERTS_PATH))
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
    argv += ["-u", str(connections), "-r", str(connections), "-t", f"{seconds}s"]
    argv += ["--reset-stats", "--host", base, "--only-summary", "--json"]
    out, log = tmp / "locust.json", tmp / "locust.log"
    cpu_before = children_cpu_seconds()
    with out.open("w") as stdout, log.open("w") as stderr:
        process = subprocess.Popen(pinned(CLIENT_CPU, argv), stdout=stdout, stderr=stderr)
    cpu_at_reset: float | None = None
    deadline = time.monotonic() + seconds + OVERRUN_S
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if cpu_at_reset is None and "Resetting stats" in log.read_text(errors="replace"):
                cpu_at_reset = process_tree_cpu_seconds(process.pid)
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            kill_tree(process.pid)
            process.wait()
    cpu = children_cpu_seconds() - cpu_before
    text = out.read_text(errors="replace")
    said = log.read_text(errors="replace")[-3000:]
    if process.returncode != 0 or cpu_at_reset is None or "[" not in text:
        raise ToolUnavailable(f"Locust exited with code {process.returncode}:\n{said}")
    stats = json.loads(text[text.index("[") :])
    requests = sum(entry["num_requests"] for entry in stats)
    failures = sum(entry["num_failures"] for entry in stats)
    if failures:
        raise ToolUnavailable(f"Locust saw {failures} failed requests:\n{said}")
    span = max(e["last_request_timestamp"] for e in stats) - min(e["start_time"] for e in stats)
    return Throughput.of(Burst(requests, span, cpu - cpu_at_reset))


def install_reference_tools(skip: set[str]) -> dict[str, str]:
    """Install hey, Locust and autocannon where missing; those that could not be, and why."""
    installers: dict[str, Callable[[], None]] = {
        "hey": lambda: ensure_optional_debian_package("hey", "hey"),
        "locust": lambda: ensure_python_module("locust", "locust"),
        "autocannon": lambda: ensure_npm_command("autocannon", "autocannon"),
    }
    unavailable: dict[str, str] = {}
    for name, install in installers.items():
        if name in skip:
            continue
        try:
            install()
        except ToolUnavailable as exc:
            unavailable[name] = str(exc)
            print(f"{name} is not available: {exc}", flush=True)
    return unavailable
