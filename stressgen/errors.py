"""Typed errors and the process exit codes they map to.

Library code raises these; only :mod:`stressgen.cli` turns them into an exit code.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of the ``stressgen`` command, documented in the README."""

    OK = 0
    THRESHOLDS_FAILED = 1
    USAGE = 2
    COULD_NOT_START = 3
    RUN_FAILED = 4
    INTERRUPTED = 130


class StressgenError(Exception):
    """Base of every error stressgen raises on purpose."""

    exit_code: ExitCode = ExitCode.RUN_FAILED


class ConfigError(StressgenError, ValueError):
    """A user-supplied value is wrong: names the field, the value and what is expected."""

    exit_code = ExitCode.USAGE

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: {value!r} is not {expected}")


class StartupError(StressgenError):
    """Something the run needs could not be started (port in use, target unreachable...)."""

    exit_code = ExitCode.COULD_NOT_START
