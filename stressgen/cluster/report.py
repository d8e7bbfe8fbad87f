"""What the run report says about a port-forward: pure functions over its summary."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from stressgen.cluster.target import is_loopback

BOTTLENECK = (
    "every connection goes through one kubectl port-forward tunnel via the Kubernetes API "
    "server (the seed's port-forward bottleneck): it may cap this rate below what the "
    "synchronizer takes"
)


MAYBE_FORWARDED = (
    "the target is on this machine: if it is a kubectl port-forward (one started by hand), "
    "every connection goes through its one tunnel via the Kubernetes API server (the "
    "seed's port-forward bottleneck), which may cap this rate"
)


def local_target_lines(url: str) -> list[str]:
    """The report note of a run sent, with no forward of stressgen's, to a loopback URL;
    none for any other URL."""
    if not is_loopback(urlsplit(url).hostname):
        return []
    return [f"  Sent directly to {urlsplit(url).netloc}: {MAYBE_FORWARDED}."]


def forward_lines(forward: dict[str, Any], alerts_failed: int) -> list[str]:
    """The report lines of a forward: the bottleneck note, then its outages."""
    lines = [f"  Through a port-forward ({forward['route']}): {BOTTLENECK}."]
    outages = forward["outages"]
    if not outages:
        lines.append("  Port-forward: up for the whole run.")
        return lines
    times = "once" if len(outages) == 1 else f"{len(outages)} times"
    during = forward["failed_alerts_while_down"]
    lines.append(
        f"  Port-forward: lost {times}, {forward['restarts']} kubectl restart(s), "
        f"down {forward['down_s']:.1f}s in total; {during} of the {alerts_failed} failed "
        f"alerts failed while it was down."
    )
    return lines


def annotate(text: str, lines: list[str], after: str = "Average rate:") -> str:
    """``text`` with ``lines`` inserted after its first line starting with ``after`` (the
    achieved rate), or at the end when there is none."""
    rows = text.split("\n")
    at = next((i + 1 for i, row in enumerate(rows) if row.startswith(after)), len(rows))
    return "\n".join([*rows[:at], *lines, *rows[at:]])
