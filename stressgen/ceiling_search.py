"""The ceiling search as pure functions: which rate to try next, and did a step pass?

No clock, no I/O: :func:`next_rate` looks at the steps so far (rate, passed) and names the
next rate to try, or None when the search is over; :func:`conclude` says what was found;
:func:`judge_step` turns one step's measurements into a verdict with reasons. The driver
(:mod:`stressgen.ceiling`) runs the steps; the tests feed these functions made-up outcomes.

The search: an exponential ramp (``start``, ``start·factor``, ...) until a step fails;
if the very first step fails, the ramp goes down instead (``start/factor``, ...) until
one passes. Then bisection between the highest passing rate below the lowest failing one
(``lo``) and that failing rate (``hi``) until ``hi - lo <= precision · lo``. A pass above
a failure (noise) does not move the bracket: the ceiling is the highest passing rate below
the lowest failing one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from stressgen.errors import ConfigError


def _check(value: float, flag: str, ok: bool, expected: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and ok):
        raise ConfigError(flag, value, expected)


@dataclass(frozen=True, kw_only=True)
class SearchPlan:
    """How the search moves: rates are alerts per second, all profiles together."""

    start_rate: float = 10.0
    factor: float = 2.0
    """Each ramp step multiplies (or, going down, divides) the rate by this."""
    precision: float = 0.05
    """Bisection stops when the bracket is at most this share of its lower end."""
    max_rate: float = 100_000.0
    """The ramp does not go above this; passing it means "no ceiling found below"."""
    min_rate: float = 1.0
    """Going down, the ramp stops here: failing it means "no sustainable rate found"."""

    def __post_init__(self) -> None:
        _check(self.start_rate, "--start-rate", self.start_rate > 0, "a positive rate")
        _check(self.factor, "--factor", self.factor > 1, "a number above 1, like 2")
        _check(self.precision, "--precision", 0 < self.precision < 1, "a fraction above 0, like 5%")
        _check(
            self.max_rate, "--max-rate", self.max_rate >= self.start_rate, "at least --start-rate"
        )
        _check(
            self.min_rate,
            "--min-rate",
            0 < self.min_rate <= self.start_rate,
            "a positive rate no higher than --start-rate",
        )


@dataclass(frozen=True)
class Step:
    """One finished step as the search sees it."""

    rate: float
    passed: bool


def bracket(steps: Sequence[Step]) -> tuple[float | None, float | None]:
    """``(lo, hi)``: the lowest failing rate and the highest passing rate below it."""
    fails = [s.rate for s in steps if not s.passed]
    hi = min(fails) if fails else None
    passes = [s.rate for s in steps if s.passed and (hi is None or s.rate < hi)]
    return (max(passes) if passes else None), hi


def next_rate(plan: SearchPlan, steps: Sequence[Step]) -> float | None:
    """The rate of the next step, or None when the search is over."""
    if not steps:
        return plan.start_rate
    lo, hi = bracket(steps)
    if hi is None:  # everything passed so far: ramp up
        assert lo is not None
        return None if lo >= plan.max_rate else min(lo * plan.factor, plan.max_rate)
    if lo is None:  # everything failed so far: ramp down
        return None if hi <= plan.min_rate else max(hi / plan.factor, plan.min_rate)
    if hi - lo <= plan.precision * lo * (1 + 1e-9):
        return None
    return (lo + hi) / 2.0


def phase_of(plan: SearchPlan, steps: Sequence[Step]) -> str:
    """What the next step is for: ``ramp`` (up), ``ramp-down`` or ``bisect``."""
    lo, hi = bracket(steps)
    if hi is None:
        return "ramp"
    return "ramp-down" if lo is None else "bisect"


@dataclass(frozen=True)
class SearchResult:
    """What the search found. ``status``: ``found`` (a ceiling between a pass and a fail),
    ``no-failure`` (every rate up to ``--max-rate`` passed: the ceiling is at least that),
    ``no-pass`` (nothing down to ``--min-rate`` passed), ``incomplete`` (stopped early)."""

    status: str
    ceiling: float | None
    """The highest passing rate below the lowest failing one (alerts/s)."""
    first_failure: float | None
    """The lowest failing rate (alerts/s)."""


def conclude(plan: SearchPlan, steps: Sequence[Step]) -> SearchResult:
    """The outcome of the steps so far (``incomplete`` while :func:`next_rate` has more)."""
    lo, hi = bracket(steps)
    if next_rate(plan, steps) is not None:
        status = "incomplete"
    elif hi is None:
        status = "no-failure"
    elif lo is None:
        status = "no-pass"
    else:
        status = "found"
    return SearchResult(status, lo, hi)


# -- one step's verdict ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Criteria:
    """What every step must meet to pass."""

    min_success_rate: float = 0.999
    """Accepted alerts / sent alerts."""
    min_achieved_fraction: float = 0.99
    """Achieved send rate / target rate."""
    max_p99_ms: float = 1000.0
    """p99 latency measured from the due time (coordinated-omission safe)."""

    def __post_init__(self) -> None:
        _check(
            self.min_success_rate,
            "--min-success",
            0 <= self.min_success_rate <= 1,
            "a fraction like 99.9%",
        )
        _check(
            self.min_achieved_fraction,
            "--min-achieved",
            0 <= self.min_achieved_fraction <= 1,
            "a fraction like 99%",
        )
        _check(self.max_p99_ms, "--max-p99", self.max_p99_ms > 0, "a duration above zero")


@dataclass(frozen=True, kw_only=True)
class StepMeasurement:
    """What one step's hold measured."""

    target_rate: float
    achieved_rate: float
    alerts_sent: int
    alerts_accepted: int
    p50_ms: float
    p99_ms: float
    p99_sent_ms: float = 0.0
    """p99 from the send time: the target's own service time, for the record."""
    failures: tuple[tuple[str, int], ...] = ()
    """Failed requests by reason."""
    problems: tuple[str, ...] = ()
    """Worker processes that died during the step (from the run report)."""

    @property
    def success_rate(self) -> float:
        """Accepted / sent alerts (0 when nothing was sent)."""
        return self.alerts_accepted / self.alerts_sent if self.alerts_sent else 0.0


def judge_step(m: StepMeasurement, criteria: Criteria) -> tuple[bool, tuple[str, ...]]:
    """``(passed, reasons)``; the reasons name each criterion missed, with the numbers."""
    if m.alerts_sent == 0:
        return False, ("nothing was sent",)
    reasons = list(m.problems)
    if m.success_rate < criteria.min_success_rate:
        worst = ", ".join(f"{r} x{n}" for r, n in sorted(m.failures, key=lambda f: -f[1])[:3])
        reasons.append(
            f"success {m.success_rate:.2%} < {criteria.min_success_rate:.2%}"
            + (f" ({worst})" if worst else "")
        )
    achieved = m.achieved_rate / m.target_rate if m.target_rate > 0 else 0.0
    if achieved < criteria.min_achieved_fraction:
        reasons.append(
            f"achieved {m.achieved_rate:,.1f}/s is {achieved:.1%} of target "
            f"< {criteria.min_achieved_fraction:.1%}"
        )
    if m.p99_ms > criteria.max_p99_ms:
        reasons.append(f"p99 from due {_ms(m.p99_ms)} > {_ms(criteria.max_p99_ms)}")
    return not reasons, tuple(reasons)


def _ms(value: float) -> str:
    return f"{value:.3g}ms" if value < 100 else f"{value:,.0f}ms"
