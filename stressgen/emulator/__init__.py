"""A synchronizer emulator that answers like the real one: ``stressgen emulate``.

Public API: :class:`EmulatorConfig`, :class:`EmulatorServer` (on a running loop),
:func:`run_emulator` (foreground), :class:`EmulatorProcess` and :class:`EmulatorThread`
(background), :func:`fetch_stats`.
"""

from __future__ import annotations

from stressgen.emulator.config import EmulatorConfig
from stressgen.emulator.runner import (
    EmulatorProcess,
    EmulatorThread,
    fetch_stats,
    reset_stats,
    run_emulator,
    serve,
)
from stressgen.emulator.server import EmulatorServer

__all__ = [
    "EmulatorConfig",
    "EmulatorProcess",
    "EmulatorServer",
    "EmulatorThread",
    "fetch_stats",
    "reset_stats",
    "run_emulator",
    "serve",
]
