"""Issue 4: stressgen's throughput, rate accuracy, scaling and memory, beside wrk, hey,
Locust and autocannon, all against nginx.

nginx (``return 202``, the ~3.3 KB body read and discarded, one worker process) runs
pinned to core 0 for the whole session (see ``benchmarks.engine_nginx``); every client
runs pinned to core 1 with the same number of connections (50 by default), except in 3.

1. **Maximum requests/s and client CPU per request**, each tool flat out: stressgen with
   ``--transport fast`` and with ``--transport aiohttp`` (one profile, one process, a
   target far above what it can do, counted between its 1 s progress line and
   ``1 + seconds`` s with the CPU of its whole process tree, then SIGTERM), wrk (``-t1``,
   one static body), hey (``-cpus 1``), Locust (one ``FastHttpUser`` class, ``-u 50 -r 50``,
   one process, ``--reset-stats``: counted from all users spawned on, CPU from then on) and
   autocannon (one thread, the body from a file with ``-i``). Each tool's ratio to wrk.
   Every body stressgen sends is freshly rendered; the others send one rendered body.
2. **Rate accuracy**: ``stressgen run`` (default transport, one process, one worker) at
   100, 1,000, 10,000 and 50,000 alerts/s to the end of its schedule: target against
   achieved (alerts sent over the real send span), rate error, failed requests, p99
   lateness of a send after its due time, late sends (more than 5 ms late).
3. **Scaling**: stressgen ``--transport fast`` flat out with ``--processes 1`` and with
   ``--processes 2``, both unpinned (the kernel may use both cores) with the same total
   of connections; nginx stays as it is, so one process shares core 0 with it. On two
   cores nginx needs one of them, so flat-out scaling cannot show here; scaling at a set
   rate can: ``--held-rate`` (25,000/s) with one process, twice that with two, each run to
   the end of its schedule: does two processes' rate double with its accuracy kept?
4. **Memory**: ``stressgen run`` at 20,000 alerts/s (default transport and process count,
   pinned to core 1) for ``--memory-minutes``: the resident memory (VmRSS) of the
   supervisor and of the worker processes at 2 s and at the end, growth and peak, read
   once a second. Measured once, not per run.

Measurements 1-3 are repeated ``--runs`` times, interleaved; medians (min..max) are
printed, then a Markdown summary to paste into ``benchmarks/RESULTS.md``. Missing tools are
installed (nginx, wrk and hey from Debian, Locust from PyPI, autocannon from npm); one that
cannot be is reported and left out.

    python -m benchmarks.throughput [--runs 3] [--seconds 10] [--connections 50]
        [--memory-minutes 10] [--skip hey,locust,autocannon,aiohttp,accuracy,...]
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from benchmarks._tools import adopt_orphans, ensure_debian_packages, kill_descendants
from benchmarks.clients import CLIENTS, REFERENCE_TOOLS, install_reference_tools
from benchmarks.markdown import throughput_summary
from benchmarks.options import minutes, positive, positive_int, rates
from benchmarks.session import measure

SECTIONS = ("accuracy", "scaling", "memory")
"""Measurements other than the ceilings, which ``--skip`` may leave out."""


def _skips(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = (*CLIENTS, *SECTIONS)
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a comma-separated list of {', '.join(known)}"
        )
    return names


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through every finally: nginx and clients stopped


def main() -> int:
    """Parse the options, install what is missing, measure, print the summary."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    option = parser.add_argument
    option("--runs", type=positive_int, default=3, help="repeats of 1-3 (default 3)")
    option("--seconds", type=positive_int, default=10, help="per measurement (default 10)")
    option("--connections", type=positive_int, default=50, help="every client's (default 50)")
    option("--memory-minutes", type=minutes, default=10.0, help="memory run (default 10; 0 skips)")
    option("--memory-rate", type=positive, default=20_000.0, help="alerts/s (default 20000)")
    option(
        "--ceiling-target", type=positive, default=100_000.0, help="stressgen flat out: 100000/s"
    )
    option(
        "--held-rate",
        type=positive,
        default=25_000.0,
        help="scaling at a set rate: alerts/s per process (default 25000)",
    )
    option(
        "--rates",
        type=rates,
        default=[100.0, 1_000.0, 10_000.0, 50_000.0],
        help="rate-accuracy targets, alerts/s (default 100,1000,10000,50000)",
    )
    option(
        "--skip",
        type=_skips,
        action="extend",
        default=[],
        help=f"leave out, comma-separated: {', '.join((*CLIENTS, *SECTIONS))}",
    )
    args = parser.parse_args()
    skip = set(args.skip)
    command = shlex.join(["python", "-m", "benchmarks.throughput", *sys.argv[1:]])
    adopt_orphans()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        ensure_debian_packages({"nginx": "nginx", "wrk": "wrk", "taskset": "util-linux"})
        unavailable = install_reference_tools(skip)
        clients = [c for c in CLIENTS if c not in skip and c not in unavailable]
        results = measure(args, clients, skip)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing to summarise", flush=True)
        return 130
    finally:
        for left in kill_descendants():
            print(f"killed a process left behind: {left}", flush=True)
    print()
    print(throughput_summary(args, results, command, unavailable))
    measured = [tool for tool in REFERENCE_TOOLS if results.ceilings.get(tool)]
    wanted = [tool for tool in REFERENCE_TOOLS if tool not in skip]
    if len(measured) < min(2, len(wanted)):
        print(f"\nonly {len(measured)} of hey, Locust and autocannon measured: 2 are wanted")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
