"""The emulator's counters, served at ``GET /stats`` and printed when it stops."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any


@dataclasses.dataclass
class EmulatorStats:
    """What the emulator has seen since start or the last ``POST /reset``.

    ``accepted`` counts 202 answers actually written; ``alerts_forwarded`` counts alerts
    whose message reached the (emulated) backend, which also happens when the client was
    gone or the write timed out before the 202 could be written.
    """

    sample_count: int = 5
    requests: int = 0
    accepted: int = 0
    answers: Counter[int] = dataclasses.field(default_factory=Counter)
    by_resource: Counter[str] = dataclasses.field(default_factory=Counter)
    alerts_accepted: int = 0
    alerts_forwarded: int = 0
    alerts_valid: int = 0
    alerts_invalid: int = 0
    invalid_samples: list[str] = dataclasses.field(default_factory=list)
    unique_ids: set[str] = dataclasses.field(default_factory=set)
    duplicate_ids: int = 0
    alerts_by_rule: Counter[str] = dataclasses.field(default_factory=Counter)
    bytes_received: int = 0
    waiting: int = 0
    peak_waiting: int = 0
    connections_opened: int = 0
    injected_errors: int = 0
    dropped_requests: int = 0
    refusal_windows: int = 0
    write_timeouts: int = 0
    read_timeouts: int = 0
    idle_closed: int = 0
    malformed_requests: int = 0
    too_large: int = 0

    def note_invalid(self, reason: str, alerts: int) -> None:
        """Count ``alerts`` invalid alerts and keep the reason if samples are still wanted."""
        self.alerts_invalid += alerts
        if len(self.invalid_samples) < self.sample_count and reason not in self.invalid_samples:
            self.invalid_samples.append(reason)

    def note_unique_id(self, unique_id: str) -> None:
        """Track distinct alert ids; a repeat (a retried or duplicated alert) is counted."""
        before = len(self.unique_ids)
        self.unique_ids.add(unique_id)
        if len(self.unique_ids) == before:
            self.duplicate_ids += 1

    def reset(self) -> None:
        """Clear every counter (the number of requests waiting right now is kept: they exist)."""
        waiting = self.waiting
        fresh = EmulatorStats(sample_count=self.sample_count)
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(fresh, field.name))
        self.waiting = waiting
        self.peak_waiting = waiting

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``unique_ids`` reported as a count)."""
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "answers": {str(k): v for k, v in sorted(self.answers.items())},
            "by_resource": dict(sorted(self.by_resource.items())),
            "alerts_accepted": self.alerts_accepted,
            "alerts_forwarded": self.alerts_forwarded,
            "alerts_valid": self.alerts_valid,
            "alerts_invalid": self.alerts_invalid,
            "invalid_samples": list(self.invalid_samples),
            "distinct_unique_ids": len(self.unique_ids),
            "duplicate_unique_ids": self.duplicate_ids,
            "alerts_by_rule": dict(sorted(self.alerts_by_rule.items())),
            "bytes_received": self.bytes_received,
            "waiting": self.waiting,
            "peak_waiting": self.peak_waiting,
            "connections_opened": self.connections_opened,
            "injected_errors": self.injected_errors,
            "dropped_requests": self.dropped_requests,
            "refusal_windows": self.refusal_windows,
            "write_timeouts": self.write_timeouts,
            "read_timeouts": self.read_timeouts,
            "idle_closed": self.idle_closed,
            "malformed_requests": self.malformed_requests,
            "too_large": self.too_large,
        }


def format_summary(stats: dict[str, Any]) -> str:
    """The block printed when the emulator stops."""
    answers = ", ".join(f"{k}: {v}" for k, v in stats["answers"].items()) or "none"
    lines = [
        "=" * 60,
        "SYNCHRONIZER EMULATOR SUMMARY",
        "=" * 60,
        f"Requests: {stats['requests']} (answers {answers})",
        f"Alerts accepted: {stats['alerts_accepted']}  forwarded: {stats['alerts_forwarded']}",
        f"Alerts valid: {stats['alerts_valid']}  invalid: {stats['alerts_invalid']}",
        f"Distinct uniqueIDs: {stats['distinct_unique_ids']}  "
        f"duplicates: {stats['duplicate_unique_ids']}",
        f"Bytes received: {stats['bytes_received']}  peak waiting: {stats['peak_waiting']}",
    ]
    faults = {
        k: stats[k]
        for k in (
            "injected_errors",
            "dropped_requests",
            "refusal_windows",
            "write_timeouts",
            "read_timeouts",
            "malformed_requests",
            "too_large",
        )
        if stats[k]
    }
    if faults:
        lines.append("Faults and errors: " + ", ".join(f"{k} {v}" for k, v in faults.items()))
    for sample in stats["invalid_samples"]:
        lines.append(f"  invalid: {sample}")
    lines.append("=" * 60)
    return "\n".join(lines)
