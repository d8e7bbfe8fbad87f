"""``stressgen`` run as a user runs it, in a real subprocess, with the stand-in ``kubectl``
and ``helm`` first on PATH (see :mod:`tests.standins`)."""

from __future__ import annotations

import subprocess
import sys

from tests.standins import Standins

STRESSGEN = [sys.executable, "-m", "stressgen"]


def stressgen(
    tools: Standins, *args: str, system: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``stressgen *args`` to its end (60 s at most), its output captured; ``system=False``:
    PATH holds the stand-ins and nothing else; ``env``: variables to add."""
    return subprocess.run(
        [*STRESSGEN, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=tools.env(system=system, **(env or {})),
    )
