"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stressgen.emulator import EmulatorThread
from tests.helpers import running_emulator


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    """An emulator with the real synchronizer's defaults and no forwarding delay."""
    with running_emulator() as emu:
        yield emu
