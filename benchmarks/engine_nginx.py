"""How fast and how punctual is stressgen's engine? Measured against nginx, beside wrk.

nginx (``return 202``, the ~3.3 KB body read and discarded, one worker process) runs
pinned to core 0; the client runs pinned to core 1, with 50 connections by default.

1. **wrk** (``-t1``) POSTs one static, real node-agent body as fast as it can: requests/s
   and the client's CPU microseconds per request.
2. **stressgen at its ceiling**: one profile in one process (``--workers 1``) with a
   target far above what it can do (100,000/s). An open-loop schedule it cannot keep only
   grows a backlog that would be sent after the run's end, so the report's
   ``alerts_sent / send_window_s`` would show the target, not the speed. Instead the
   progress lines (every second) are read live: requests/s is the count sent between the
   1 s line and the ``1 + seconds`` line over that time, and CPU per request is the CPU
   the whole process tree (supervisor and worker) used in between, so start-up costs
   (imports, spawning: about 1.5 CPU s) stay out. Then SIGTERM stops the run, and its
   report must show no failed request. Every body stressgen sends is freshly rendered
   (unique ids); wrk's is the same each time.
3. **stressgen's rate accuracy** at a few targets (100/s, 1,000/s and 5,000/s by default,
   one worker, 10 s each): the run goes to its end. Achieved is the report's average rate:
   alerts sent over the real send span (from the start to the last send, which comes
   after the window when sends lag). With it: the p99 lateness of a send after its due
   time, and late sends (more than 5 ms late).

Each measurement is repeated ``--runs`` times, interleaved; medians (min..max) are
printed, then a Markdown summary to paste into ``benchmarks/RESULTS.md``.

    python -m benchmarks.engine_nginx [--runs 3] [--seconds 10] [--connections 50]
        [--ceiling-target 100000] [--rates 100,1000,5000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import platform
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks._tools import (
    ensure_debian_packages,
    free_port,
    pinned,
    process_tree_cpu_seconds,
    spread,
)
from stressgen.payloads import RUNTIME_ALERTS_PATH, AlertTemplate, PayloadFactory

SERVER_CPU = 0
CLIENT_CPU = 1
WARMUP_S = 1
"""The ceiling is measured from this progress line on (connections open, caches warm)."""
STOP_GRACE_S = 60.0
"""How much longer than planned a stressgen run may take before it is killed."""
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
WRK_LUA = """\
wrk.method = "POST"
wrk.body = [{eq}[{body}]{eq}]
"""
PROGRESS = re.compile(r"Progress: (\d+)s elapsed.*?Alerts: (\d+) sent")


@dataclasses.dataclass(frozen=True)
class Throughput:
    """A client going as fast as it can: requests/s and its CPU µs per request."""

    rate: float
    cpu_us: float
    requests: int


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """One rate-accuracy run of stressgen against its target."""

    target: float
    sent_per_window: float
    achieved: float
    lateness_p99_ms: float
    late_sends: int
    sent: int

    @property
    def error_pct(self) -> float:
        """Achieved rate's deviation from the target, in percent."""
        return (self.achieved - self.target) / self.target * 100


# -- nginx ---------------------------------------------------------------------------------


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


def children_cpu_seconds() -> float:
    """User + system CPU seconds of all waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- stressgen -----------------------------------------------------------------------------


def stressgen_argv(
    url: str, rate: float, seconds: float, connections: int, report: Path
) -> list[str]:
    """``stressgen run`` with one profile, one worker, in one process, on the client core."""
    argv = [sys.executable, "-m", "stressgen", "run", "--url", url, "--rate", f"{rate:g}/s"]
    argv += ["--workers", "1", "--processes", "1", "--max-connections", str(connections)]
    argv += ["--duration", f"{seconds:g}s", "--report-json", str(report)]
    return pinned(CLIENT_CPU, argv)


def stressgen_ceiling(
    url: str, tmp: Path, target: float, seconds: int, connections: int
) -> Throughput:
    """stressgen far above what it can send; see the module docstring for what is counted."""
    report_path = tmp / "ceiling.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(url, target, seconds + WARMUP_S + 2, connections, report_path)
    argv += ["--progress-interval", "1s"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(seconds + WARMUP_S + STOP_GRACE_S, process.kill)
    watchdog.start()
    output: list[str] = []
    marks: dict[int, tuple[float, float, int]] = {}  # elapsed s -> (time, CPU s, sent)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = PROGRESS.search(line)
            if match is None or int(match.group(1)) not in (WARMUP_S, WARMUP_S + seconds):
                continue
            now, cpu = time.monotonic(), process_tree_cpu_seconds(process.pid)
            marks[int(match.group(1))] = (now, cpu, int(match.group(2)))
            if len(marks) == 2:
                process.send_signal(signal.SIGTERM)
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if len(marks) != 2 or not report_path.exists():
        raise SystemExit("stressgen run did not go as planned:\n" + "".join(output))
    report = json.loads(report_path.read_text())
    _check_no_failures(report, output)
    (t0, cpu0, sent0), (t1, cpu1, sent1) = marks[WARMUP_S], marks[WARMUP_S + seconds]
    requests = sent1 - sent0
    return Throughput(requests / (t1 - t0), (cpu1 - cpu0) / max(requests, 1) * 1e6, requests)


def stressgen_accuracy(
    url: str, tmp: Path, target: float, seconds: int, connections: int
) -> Accuracy:
    """stressgen at ``target``/s to the end of its schedule; the report says how it went."""
    report_path = tmp / "accuracy.json"
    report_path.unlink(missing_ok=True)
    argv = stressgen_argv(url, target, seconds, connections, report_path)
    argv += ["--progress-interval", "1h"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + STOP_GRACE_S + 60, check=False
    )
    if done.returncode != 0 or not report_path.exists():
        raise SystemExit(
            f"stressgen run exited with code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    report = json.loads(report_path.read_text())
    _check_no_failures(report, [done.stdout])
    profile = report["profiles"][0]
    sent = report["totals"]["alerts_sent"]
    window = report["send_window_s"]
    return Accuracy(
        target=target,
        sent_per_window=sent / window,
        achieved=report["totals"]["average_rate_per_s"],  # sent over the real send span
        lateness_p99_ms=profile["latency_ms"]["lateness"]["p99"],
        late_sends=profile["counters"]["late_sends"],
        sent=sent,
    )


def _check_no_failures(report: dict[str, Any], output: Sequence[str]) -> None:
    totals = report["totals"]
    cut = totals["alerts_in_flight_at_stop"]
    lost = totals["alerts_accepted"] + cut < totals["alerts_sent"]
    if totals["alerts_failed"] or lost or report["profiles"][0]["problems"]:
        raise SystemExit("stressgen saw failures against nginx:\n" + "".join(output))


# -- the whole session ---------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    """Every run's numbers, by measurement."""

    wrk: list[Throughput] = dataclasses.field(default_factory=list)
    ceiling: list[Throughput] = dataclasses.field(default_factory=list)
    accuracy: dict[float, list[Accuracy]] = dataclasses.field(default_factory=dict)


def measure(args: argparse.Namespace, rates: Sequence[float]) -> Results:
    """All runs, interleaved so that a noisy moment hits every measurement alike."""
    results = Results(accuracy={rate: [] for rate in rates})
    with tempfile.TemporaryDirectory(prefix="engine-nginx-") as tmp_name:
        tmp = Path(tmp_name)
        script = wrk_lua(tmp)
        with nginx(tmp) as base:
            url = base + RUNTIME_ALERTS_PATH
            print(f"nginx on core {SERVER_CPU} at {base}; clients on core {CLIENT_CPU}", flush=True)
            for run in range(1, args.runs + 1):
                wrk = wrk_run(url, script, args.seconds, args.connections)
                results.wrk.append(wrk)
                print(
                    f"run {run}: wrk {wrk.rate:,.0f} req/s, {wrk.cpu_us:.1f} us CPU/req", flush=True
                )
                ceiling = stressgen_ceiling(
                    base, tmp, args.ceiling_target, args.seconds, args.connections
                )
                results.ceiling.append(ceiling)
                print(
                    f"run {run}: stressgen {ceiling.rate:,.0f} req/s, "
                    f"{ceiling.cpu_us:.1f} us CPU/req",
                    flush=True,
                )
                for rate in rates:
                    acc = stressgen_accuracy(base, tmp, rate, args.seconds, args.connections)
                    results.accuracy[rate].append(acc)
                    print(
                        f"run {run}: target {rate:,.0f}/s: achieved {acc.achieved:,.1f}/s "
                        f"({acc.error_pct:+.2f}%), sent/window {acc.sent_per_window:,.1f}/s, "
                        f"lateness p99 {acc.lateness_p99_ms:.2f} ms, "
                        f"{acc.late_sends} of {acc.sent} late",
                        flush=True,
                    )
    return results


def spread_of(values: Sequence[float], fmt: str) -> str:
    """``median (min..max)`` with a format of one's choosing (``spread`` for other figures)."""
    return (
        f"{format(statistics.median(values), fmt)} "
        f"({format(min(values), fmt)}..{format(max(values), fmt)})"
    )


def summary(args: argparse.Namespace, results: Results, command: str) -> str:
    """The Markdown block for benchmarks/RESULTS.md."""
    wrk_rate = [m.rate for m in results.wrk]
    sg_rate = [m.rate for m in results.ceiling]
    wrk_cpu = [m.cpu_us for m in results.wrk]
    sg_cpu = [m.cpu_us for m in results.ceiling]
    ratio = statistics.median(sg_rate) / statistics.median(wrk_rate)
    cpu_ratio = statistics.median(sg_cpu) / statistics.median(wrk_cpu)
    cpu_model = _cpu_model()
    date = datetime.date.today().isoformat()
    lines = [
        "## stressgen's engine against nginx, beside wrk",
        "",
        f"`{command}` on {date}: nginx {nginx_version()} (`return 202`, 1 worker) on core "
        f"{SERVER_CPU}, the client on core {CLIENT_CPU}, {args.connections} connections, "
        f"{args.seconds} s per measurement, median (min..max) of {args.runs} run(s); "
        f"{cpu_model}, Python {platform.python_version()}.",
        "",
        "| client | requests/s | client CPU µs/request |",
        "|---|---:|---:|",
        f"| wrk -t1, one static body | {spread(wrk_rate)} | {spread_of(wrk_cpu, '.1f')} |",
        f"| stressgen, 1 process, target {args.ceiling_target:,.0f}/s | {spread(sg_rate)} "
        f"| {spread_of(sg_cpu, '.1f')} |",
        f"| stressgen / wrk | {ratio:.1%} | {cpu_ratio:.1f}x |",
        "",
        "| target/s | achieved/s | rate error | lateness p99 | late sends (>5 ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rate, runs in results.accuracy.items():
        lines.append(
            f"| {rate:,.0f} | {spread_of([a.achieved for a in runs], ',.1f')} "
            f"| {spread_of([a.error_pct for a in runs], '+.2f')}% "
            f"| {spread_of([a.lateness_p99_ms for a in runs], ',.2f')} ms "
            f"| {spread([a.late_sends for a in runs])} of {runs[0].sent:,} |"
        )
    lines += [
        "",
        "Achieved = the report's average rate: alerts sent over the real send span (to the "
        "last send, which comes after the window when sends lag; a sender more than "
        "max(5 s, 10%) behind gives up and counts the rest as never sent). The stressgen ceiling "
        f"counts from the {WARMUP_S} s progress line to {WARMUP_S + args.seconds} s, CPU of "
        "the supervisor and worker together, start-up excluded.",
    ]
    return "\n".join(lines)


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        rates = []
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive rates like 100,1000")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--ceiling-target", type=float, default=100_000.0)
    parser.add_argument("--rates", type=_rates, default=[100.0, 1000.0, 5000.0])
    args = parser.parse_args()
    command = shlex.join(["python", "-m", "benchmarks.engine_nginx", *sys.argv[1:]])
    ensure_debian_packages({"nginx": "nginx", "wrk": "wrk"})
    results = measure(args, args.rates)
    print()
    print(summary(args, results, command))


if __name__ == "__main__":
    main()
