"""How fast is the built-in emulator? wrk POSTs unique ~3.3 KB node-agent bodies to it.

The emulator runs in its own process pinned to core 0 with ``--latency 0`` and strict
validation on; wrk runs pinned to core 1. Prints requests/s and CPU microseconds per
request of the emulator, median (min..max) over several runs, and checks the emulator's
own count against wrk's.

    python benchmarks/emulator_wrk.py [--runs 3] [--seconds 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from benchmarks._tools import (
    ensure_debian_packages,
    pin_self_or_child,
    pinned,
    process_cpu_seconds,
    spread,
)
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.payloads import AlertTemplate, PayloadFactory

PATH = "/apis/v1/kubescape.io/v1/runtimealerts"
LUA = """
local body = [==[%s]==]
local n = 0
local prefix = string.format("%%08x", math.random(0, 0x7fffffff))
request = function()
  n = n + 1
  local b = body:gsub("%s", prefix .. string.format("%%024x", n), 1)
  return wrk.format("POST", "%s", nil, b)
end
"""


def wrk_lua(tmp: Path) -> Path:
    """A wrk script sending one real node-agent body with a fresh uniqueID each time."""
    body = PayloadFactory(AlertTemplate()).render().decode()
    unique_id = re.search(r'"uniqueID":"([0-9a-f]{32})"', body)
    assert unique_id is not None
    template = body.replace(unique_id.group(1), "U" * 32)
    script = tmp / "post.lua"
    script.write_text(LUA % (template, "U" * 32, PATH))
    return script


def one_run(script: Path, seconds: int, connections: int) -> tuple[float, float, int]:
    """Returns (wrk requests/s, emulator CPU µs per request, emulator-counted alerts)."""
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True)) as emu:
        pin_self_or_child(emu.process.pid or 0, 0)
        cpu0 = process_cpu_seconds(emu.process.pid or 0)
        wrk = subprocess.run(
            pinned(
                1,
                ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), emu.url],
            ),
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = process_cpu_seconds(emu.process.pid or 0) - cpu0
        stats = emu.stats()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", wrk.stdout).group(1))  # type: ignore[union-attr]
    if stats["alerts_valid"] < done or stats["alerts_invalid"]:
        raise SystemExit(f"count mismatch: wrk {done}, emulator {stats}")
    return rate, cpu / max(stats["requests"], 1) * 1e6, stats["alerts_valid"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    ensure_debian_packages({"wrk": "wrk"})
    with tempfile.TemporaryDirectory() as tmp:
        script = wrk_lua(Path(tmp))
        rates, cpus = [], []
        for i in range(args.runs):
            rate, cpu_us, valid = one_run(script, args.seconds, args.connections)
            print(f"run {i + 1}: {rate:,.0f} req/s, {cpu_us:.1f} us CPU/req, {valid} valid alerts")
            rates.append(rate)
            cpus.append(cpu_us)
    print(f"emulator, 1 core, validation on, {args.connections} connections:")
    print(f"  requests/s: {spread(rates)}")
    print(f"  CPU us per request: {spread(cpus)}")


if __name__ == "__main__":
    main()
