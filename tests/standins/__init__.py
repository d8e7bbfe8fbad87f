"""Stand-in ``kubectl`` and ``helm`` for tests (no cluster exists here); see fake_tool.py.

:func:`install` writes them into a tmp ``bin`` directory, with this interpreter in their
``#!`` line so they run even with a PATH that holds nothing else; :class:`Standins` gives
the environment to run under and reads back what they recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("fake_tool.py")


@dataclass
class Standins:
    """A directory of stand-in tools and what they recorded."""

    root: Path
    bin_dir: Path
    started: list[subprocess.Popen[str]] = field(default_factory=list)
    """Processes a test started with the stand-ins, for its cleanup."""

    def path(self, *, system: bool = True) -> str:
        """A PATH with the stand-ins first (``system=False``: nothing else at all)."""
        rest = os.environ.get("PATH", "") if system else ""
        return f"{self.bin_dir}{os.pathsep}{rest}" if rest else str(self.bin_dir)

    def env(self, *, system: bool = True, **extra: str) -> dict[str, str]:
        """Environment for a subprocess that should find the stand-ins."""
        env = {**os.environ, "PATH": self.path(system=system), "STANDIN_DIR": str(self.root)}
        env.update(extra)
        return env

    def scenario(self, **scenario: Any) -> None:
        """Set how the stand-ins answer from now on."""
        (self.root / "scenario.json").write_text(json.dumps(scenario))

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Every recorded call, oldest first (optionally of one tool)."""
        log = self.root / "calls.jsonl"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [c for c in calls if tool is None or c["tool"] == tool]

    def forward_pids(self) -> list[int]:
        """Pids of every port-forward process ever started."""
        pids = self.root / "pids"
        return sorted(int(p.name) for p in pids.iterdir()) if pids.exists() else []

    def alive(self, pids: Iterable[int] | None = None) -> list[int]:
        """Those of ``pids`` (default: all port-forwards) still running (not zombies)."""
        alive = []
        for pid in self.forward_pids() if pids is None else pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
        return alive


def install(root: Path, tools: Iterable[str] = ("kubectl", "helm")) -> Standins:
    """Write the stand-in tools into ``root/bin`` and return their handle."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    body = SOURCE.read_text()
    for tool in tools:
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    return Standins(root, bin_dir)
