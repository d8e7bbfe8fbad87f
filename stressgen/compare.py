"""``stressgen compare``: two runs side by side, with deltas and a verdict per row.

The core is pure: :func:`compare` turns two summaries (:mod:`stressgen.compare_summary`)
and the :class:`Tolerances` into rows, each judged ``ok``, ``improved`` or ``REGRESSED``;
:func:`format_comparison` prints them as a table. :mod:`stressgen.compare_run` is the one
shell: it runs the same configuration against two targets in alternating rounds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from stressgen.compare_summary import MEASURES, Summary
from stressgen.errors import ConfigError, ExitCode

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Tolerances:
    """How far the candidate may fall behind the base before a row counts as a regression
    (and, the other way, how far ahead it must be to count as improved)."""

    max_rate_drop: float = 0.02
    """Achieved rate: relative drop."""
    max_success_drop: float = 0.001
    """Success rate: absolute drop (0.001 = 0.1 percentage point)."""
    max_failure_increase: float = 0.001
    """Each failure reason's share of the requests: absolute rise."""
    max_latency_increase: float = 0.10
    """Each latency percentile: relative rise..."""
    latency_slack_ms: float = 1.0
    """...and never less than this many milliseconds (sub-millisecond noise is not news)."""
    max_ceiling_drop: float = 0.05
    """Ceiling: relative drop."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                flag = "--" + field.name.removesuffix("_ms").replace("_", "-")
                raise ConfigError(flag, value, "a number of at least 0")


# -- rows and verdicts -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table. ``unit``: ``/s``, ``%`` (a fraction) or ``ms``."""

    name: str
    unit: str
    base: float | None
    candidate: float | None
    verdict: str
    """``ok`` (within tolerance), ``improved``, ``REGRESSED``, or ``info`` (not judged)."""

    @property
    def delta(self) -> float | None:
        """Candidate minus base."""
        if self.base is None or self.candidate is None:
            return None
        return self.candidate - self.base

    @property
    def relative(self) -> float | None:
        """The delta as a share of the base (None when the base is zero)."""
        delta = self.delta
        if delta is None or self.base is None or self.base == 0:
            return None
        return delta / self.base

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "unit": self.unit,
            "base": self.base,
            "candidate": self.candidate,
            "delta": self.delta,
            "relative": self.relative,
            "verdict": self.verdict,
        }


def judge(base: float, candidate: float, *, higher_is_better: bool, allowed: float) -> str:
    """``REGRESSED`` when the candidate is worse by more than ``allowed``, ``improved`` when
    better by more, else ``ok``."""
    gain = candidate - base if higher_is_better else base - candidate
    allowed += 1e-9 * (abs(base) + allowed)  # 1.0 - 0.999 is a hair above 0.001
    if gain < -allowed:
        return "REGRESSED"
    return "improved" if gain > allowed else "ok"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The rows, notes on what differs beyond the rows, and the overall verdict."""

    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[Row, ...]:
        """The rows beyond tolerance."""
        return tuple(r for r in self.rows if r.verdict == "REGRESSED")

    @property
    def exit_code(self) -> ExitCode:
        """Non-zero (thresholds failed) when anything regressed."""
        return ExitCode.THRESHOLDS_FAILED if self.regressions else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "verdict": "REGRESSED" if self.regressions else "OK",
            "regressions": [r.name for r in self.regressions],
            "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.rows],
        }


def compare(base: Summary, candidate: Summary, tolerances: Tolerances) -> Comparison:
    """Every row with its verdict. For ceiling reports only the ceiling is judged: the
    other rows are measured at each one's own ceiling, so they are shown, not judged. A
    ceiling report and a run report: nothing is judged."""
    t = tolerances
    judged = base.kind == "run" and candidate.kind == "run"
    notes = []
    if base.kind != candidate.kind:
        notes.append(
            f"comparing a {base.kind} report with a {candidate.kind} report: shown, not judged "
            "(only one has a ceiling, and their rows are measured at unrelated rates)"
        )
    if judged and not math.isclose(base.target_rate, candidate.target_rate, rel_tol=1e-6):
        notes.append(
            f"the target rates differ: base {base.target_rate:,.1f}/s, "
            f"candidate {candidate.target_rate:,.1f}/s"
        )
    prefix = "" if judged else "at ceiling: "

    def row(name: str, unit: str, b: float, c: float, higher: bool, allowed: float) -> Row:
        verdict = judge(b, c, higher_is_better=higher, allowed=allowed) if judged else "info"
        return Row(prefix + name, unit, b, c, verdict)

    rows = []
    if base.kind == "ceiling" and candidate.kind == "ceiling":
        ceiling_row, ceiling_notes = _ceiling_row(base, candidate, t.max_ceiling_drop)
        rows.append(ceiling_row)
        notes.extend(ceiling_notes)
    elif base.kind == "ceiling" or candidate.kind == "ceiling":
        rows.append(Row("ceiling", "/s", base.ceiling, candidate.ceiling, "info"))
    b_rate, c_rate = base.achieved_rate, candidate.achieved_rate
    rows.append(row("achieved rate", "/s", b_rate, c_rate, True, t.max_rate_drop * b_rate))
    b_ok, c_ok = base.success_rate, candidate.success_rate
    rows.append(row("success rate", "%", b_ok, c_ok, True, t.max_success_drop))
    for reason in sorted(set(base.failures) | set(candidate.failures)):
        b_share, c_share = base.failure_share(reason), candidate.failure_share(reason)
        rows.append(row(f"failed {reason}", "%", b_share, c_share, False, t.max_failure_increase))
    for measure, label in MEASURES:
        b_pct = base.histograms[measure].percentiles(PERCENTILES)
        c_pct = candidate.histograms[measure].percentiles(PERCENTILES)
        for p in PERCENTILES:
            key = f"p{p:g}"
            b, c = b_pct[key], c_pct[key]
            allowed = max(t.max_latency_increase * b, t.latency_slack_ms)
            rows.append(row(f"{label} {key}", "ms", b, c, False, allowed))
    return Comparison(tuple(rows), tuple(notes))


def ceiling_bounds(summary: Summary) -> tuple[float, float]:
    """Where a ceiling report's ceiling lies, ``(at least, at most)``: one point when
    found; no upper bound when every step passed (``no-failure``); below the lowest rate
    tried when none passed (``no-pass``)."""
    if summary.ceiling is None:
        return 0.0, summary.first_failure or 0.0
    if summary.ceiling_status == "no-failure":
        return summary.ceiling, math.inf
    return summary.ceiling, summary.ceiling


def _ceiling_row(base: Summary, candidate: Summary, max_drop: float) -> tuple[Row, list[str]]:
    """The ceiling row of two ceiling reports, and notes on what their statuses mean.

    Judged on what the bounds prove: REGRESSED only when the candidate's ceiling is
    surely below the base's beyond the tolerance (a candidate that passed every step
    never is), improved only when surely above. An interrupted search is not judged."""
    notes = []
    for side, s in (("base", base), ("candidate", candidate)):
        if s.ceiling_status == "no-failure" and s.ceiling is not None:
            notes.append(
                f"the {side}'s ceiling is at least {s.ceiling:,.1f}/s: every step passed, "
                "up to its --max-rate"
            )
        elif s.ceiling_status == "interrupted":
            so_far = "none" if s.ceiling is None else f"{s.ceiling:,.1f}/s"
            notes.append(
                f"the {side}'s search was interrupted: its ceiling (highest pass so far: "
                f"{so_far}) is partial"
            )
        elif s.ceiling is None:
            lowest = "" if s.first_failure is None else f", down to {s.first_failure:,.1f}/s"
            notes.append(f"the {side} found no ceiling: every step failed{lowest}")
    row = Row("ceiling", "/s", base.ceiling, candidate.ceiling, "info")
    if "interrupted" in (base.ceiling_status, candidate.ceiling_status):
        notes.append("the ceiling is not judged: a partial search shows neither way")
        return row, notes
    (b_low, b_high), (c_low, c_high) = ceiling_bounds(base), ceiling_bounds(candidate)
    slack = 1 + 1e-9  # as in judge(): 1.0 - 0.95 is a hair above 0.05
    if c_high * slack < b_low * (1 - max_drop):
        verdict = "REGRESSED"
    elif c_low > b_high * (1 + max_drop) * slack:
        verdict = "improved"
    elif b_low == b_high and c_low == c_high and b_low > 0:
        verdict = "ok"
    else:
        verdict = "info"
        notes.append("the ceiling is not judged: its bounds do not show which is higher")
    return dataclasses.replace(row, verdict=verdict), notes


# -- text --------------------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """A row's value for the table: ``unit`` as in :class:`Row`; ``-`` for none."""
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.2%}"
    if unit == "ms":
        return f"{value:,.3g}ms" if value < 100 else f"{value:,.0f}ms"
    return f"{value:,.1f}/s"


def _delta(row: Row) -> tuple[str, str]:
    delta, relative = row.delta, row.relative
    if delta is None:
        return "-", "-"
    if row.unit == "%":
        text = f"{delta * 100:+.2f}pp"
    elif row.unit == "ms":
        text = f"{delta:+,.3g}ms" if abs(delta) < 100 else f"{delta:+,.0f}ms"
    else:
        text = f"{delta:+,.1f}/s"
    return text, ("-" if relative is None else f"{relative:+.1%}")


def format_comparison(comparison: Comparison, base_label: str, candidate_label: str) -> str:
    """The side-by-side table, the notes and the verdict line."""
    header = ("", "base", "candidate", "delta", "relative", "verdict")
    lines = [f"base:      {base_label}", f"candidate: {candidate_label}"]
    table = [header]
    for row in comparison.rows:
        delta, relative = _delta(row)
        table.append(
            (
                row.name,
                format_value(row.base, row.unit),
                format_value(row.candidate, row.unit),
                delta,
                relative,
                row.verdict,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for cells in table:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:5], widths[1:5], strict=True)]
        lines.append("  ".join([first, *rest, cells[5]]).rstrip())
    lines.extend(f"Note: {n}" for n in comparison.notes)
    regressions = comparison.regressions
    if regressions:
        names = ", ".join(r.name for r in regressions)
        lines.append(f"Verdict: REGRESSED ({len(regressions)} beyond tolerance: {names})")
    else:
        lines.append("Verdict: OK (nothing beyond tolerance)")
    return "\n".join(lines)
