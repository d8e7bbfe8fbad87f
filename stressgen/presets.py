"""Named, ready-to-run configurations (``stressgen run --profile burst``).

Every preset targets the built-in emulator (``url`` None) until ``--url`` says otherwise,
and any flag (``--duration``, ``--rate``, ``--workers``...) can adjust it afterwards.
Rates follow the seed document: ``rate_per_minute`` is per worker, and its sustainable
total is ~3,000 alerts/min (~50/s) with a ~75/s initial burst.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from stressgen.config import ProfileConfig, RunConfig, Stage
from stressgen.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A named configuration and the one-line description ``--list-profiles`` shows."""

    name: str
    description: str
    config: RunConfig

    @property
    def peak_total_per_s(self) -> float:
        """The highest requests per second the preset asks for at any moment."""
        return sum(p.peak_total_rate_per_s for p in self.config.profiles)


def _per_minute(n: float) -> float:
    return n / 60.0


def _default() -> RunConfig:
    # The seed's own profile; 60 s instead of the seed's 10 minutes (--duration 10m for that).
    profile = ProfileConfig(name="unexpected_syscall", rate_per_s=_per_minute(500), worker_count=2)
    return RunConfig(url=None, duration_s=60.0, profiles=(profile,))


def _sustained() -> RunConfig:
    # The seed's "Example Configuration": 500 + 400 + 600 per minute x 2 workers = 3,000/min.
    profiles = (
        ProfileConfig(
            name="unexpected_process",
            rate_per_s=_per_minute(500),
            worker_count=2,
            alert_name="Unexpected process launched",
            rule_id="R0001",
            syscall="execve",
        ),
        ProfileConfig(
            name="unexpected_syscall",
            rate_per_s=_per_minute(400),
            worker_count=2,
            alert_name="Unexpected system call",
            rule_id="R0003",
            syscall="sched_yield",
        ),
        ProfileConfig(
            name="unexpected_domain",
            rate_per_s=_per_minute(600),
            worker_count=2,
            alert_name="Unexpected domain request",
            rule_id="R0005",
            syscall="sendto",
        ),
    )
    return RunConfig(url=None, duration_s=600.0, profiles=profiles)


def _burst() -> RunConfig:
    # 20/s total for 10 s, a 2 s ramp to 300/s (4x the seed's 75/s burst figure), 15 s there,
    # 2 s back down, 10 s at 20/s to watch the recovery. Rates are per worker (2 workers).
    workers = 2
    base, peak = 20.0 / workers, 300.0 / workers
    stages = (
        Stage(10.0, base),
        Stage(2.0, peak),
        Stage(15.0, peak),
        Stage(2.0, base),
        Stage(10.0, base),
    )
    profile = ProfileConfig(
        name="burst", rate_per_s=base, worker_count=workers, stages=stages, max_connections=200
    )
    return RunConfig(url=None, duration_s=sum(s.duration_s for s in stages), profiles=(profile,))


def _smoke() -> RunConfig:
    # The README's quick demo: 10 s at 100/s in total, done before the coffee is.
    profile = ProfileConfig(name="smoke", rate_per_s=50.0, worker_count=2)
    return RunConfig(url=None, duration_s=10.0, profiles=(profile,), progress_interval_s=2.0)


_FACTORIES: tuple[tuple[str, str, Callable[[], RunConfig]], ...] = (
    ("default", "the seed's R0003 profile: 500/min x 2 workers (~16.7/s) for 60 s", _default),
    (
        "sustained",
        "the seed's 3 profiles (R0001/R0003/R0005), 3,000/min (50/s) for 10 min",
        _sustained,
    ),
    ("burst", "20/s, ramp to 300/s for 15 s, back to 20/s (39 s in all)", _burst),
    ("smoke", "a quick demo: 100/s for 10 s", _smoke),
)


def _build() -> Mapping[str, Preset]:
    return MappingProxyType({name: Preset(name, text, make()) for name, text, make in _FACTORIES})


PRESETS: Mapping[str, Preset] = _build()
"""Every preset by name (read-only)."""


def preset(name: str) -> RunConfig:
    """The configuration of preset ``name``; ConfigError naming ``--profile`` otherwise."""
    found = PRESETS.get(name)
    if found is None:
        raise ConfigError("--profile", name, f"one of {', '.join(PRESETS)}")
    return found.config


def list_presets() -> list[tuple[str, str, float]]:
    """``(name, description, peak requests per second in total)`` for each preset."""
    return [(p.name, p.description, p.peak_total_per_s) for p in PRESETS.values()]
