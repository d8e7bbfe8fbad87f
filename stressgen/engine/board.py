"""The live board: shared memory where each worker process publishes its running counters.

One row of int64 counters per process, written only by that process, read by the parent
for the live progress line. Aligned 8-byte stores are atomic on the platforms we run on,
so no lock is needed; the parent may see one row a few milliseconds older than another.
Histograms do not live here: they travel as encoded deltas over each process's pipe.
"""

from __future__ import annotations

import multiprocessing.sharedctypes
from collections.abc import Mapping
from typing import Any

from stressgen.engine.metrics import ProfileCounters

FIELDS = (
    "requests_sent",
    "requests_accepted",
    "requests_failed",
    "in_flight",
    "late_sends",
    "alerts_sent",
    "alerts_accepted",
    "pending",
)
_WIDTH = len(FIELDS)


def create_board(ctx: Any, rows: int) -> Any:
    """Allocate a zeroed board for ``rows`` processes from a multiprocessing context."""
    return ctx.RawArray("q", rows * _WIDTH)


def publish(board: Any, row: int, counters: ProfileCounters, in_flight: int, pending: int) -> None:
    """Write one process's counters into its row (called by that process only)."""
    base = row * _WIDTH
    board[base : base + _WIDTH] = [
        counters.requests_sent,
        counters.requests_accepted,
        counters.requests_failed,
        in_flight,
        counters.late_sends,
        counters.alerts_sent,
        counters.alerts_accepted,
        pending,
    ]


def read(board: Any, rows: list[int]) -> dict[str, int]:
    """The sum of the given rows, by field name."""
    totals = dict.fromkeys(FIELDS, 0)
    for row in rows:
        values = board[row * _WIDTH : (row + 1) * _WIDTH]
        for name, value in zip(FIELDS, values, strict=True):
            totals[name] += value
    return totals


def counters_from_row(values: Mapping[str, int]) -> ProfileCounters:
    """What can be recovered of a process that died: its last published counters."""
    return ProfileCounters(
        requests_sent=values["requests_sent"],
        requests_accepted=values["requests_accepted"],
        requests_failed=values["requests_failed"],
        in_flight_at_stop=values["in_flight"],
        late_sends=values["late_sends"],
        alerts_sent=values["alerts_sent"],
        alerts_accepted=values["alerts_accepted"],
    )


_ = multiprocessing.sharedctypes  # the board is a sharedctypes RawArray
