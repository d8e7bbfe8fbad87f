"""``stressgen ceiling`` as a Python API: find the highest alert rate a target sustains.

The search itself is pure (:mod:`stressgen.ceiling_search`), and so is the building and
measuring of one step (:mod:`stressgen.ceiling_step`); this module runs the steps. Each
step is one :func:`stressgen.runner.run` of ``warm-up + hold`` seconds at a constant rate,
with every profile in it twice: a warm-up copy that sends only during the warm-up and the
profile itself, which sends only during the hold. The target sees one continuous rate; the
step is judged on the hold profiles alone (their counters and histograms), so warm-up
answers never count, while the queue the warm-up built up at the target does. Without a
URL one built-in emulator serves the whole search; before each step it is given time to
finish anything still queued from the last one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from stressgen import __version__, runner
from stressgen.ceiling_search import (
    Criteria,
    SearchPlan,
    SearchResult,
    Step,
    conclude,
    judge_step,
    next_rate,
    phase_of,
)
from stressgen.ceiling_step import StepRecord, format_ms, format_step, measure_step, step_config
from stressgen.config import RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.report import redact_url
from stressgen.errors import ConfigError, ExitCode

DRAIN_TIMEOUT_S = 120.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class CeilingConfig:
    """A whole ceiling search. ``run`` gives the profiles (their alert kinds, bulking,
    timeouts and relative shares; stages are dropped) and the target (``url`` None: the
    built-in emulator); the search sets the rate of every step."""

    run: RunConfig
    plan: SearchPlan = dataclasses.field(default_factory=SearchPlan)
    criteria: Criteria = dataclasses.field(default_factory=Criteria)
    warmup_s: float = 5.0
    hold_s: float = 20.0
    confirm_s: float = 0.0
    """A final hold of this length at the ceiling (0: none)."""
    cooldown_s: float = 0.0
    """A pause between steps, for a real target to settle."""
    report_json: str | None = None

    def __post_init__(self) -> None:
        checks = (
            ("--warmup", self.warmup_s, True),
            ("--hold", self.hold_s, False),
            ("--confirm", self.confirm_s, True),
            ("--cooldown", self.cooldown_s, True),
        )
        for flag, value, zero_ok in checks:
            if not (math.isfinite(value) and (value > 0 or (zero_ok and value == 0))):
                expected = "a duration of zero or more" if zero_ok else "a duration above zero"
                raise ConfigError(flag, value, expected)


@dataclasses.dataclass(frozen=True)
class CeilingOutcome:
    """What :func:`find_ceiling` returns: the report (all steps) and the exit code."""

    report: dict[str, Any]
    exit_code: ExitCode


def format_result(result: SearchResult, plan: SearchPlan) -> str:
    """The closing line: the ceiling, or why there is none."""
    if result.status == "found":
        assert result.ceiling is not None and result.first_failure is not None
        return (
            f"Ceiling: {result.ceiling:,.1f} alerts/s (the highest passing step; the lowest "
            f"failing one was {result.first_failure:,.1f}/s, precision {plan.precision:.0%})"
        )
    if result.status == "no-failure":
        return (
            f"Ceiling: at least {plan.max_rate:,.1f} alerts/s (every step passed up to --max-rate)"
        )
    if result.status == "no-pass":
        return f"No ceiling: every step failed, down to {plan.min_rate:,.1f} alerts/s (--min-rate)"
    best = f"{result.ceiling:,.1f} alerts/s" if result.ceiling is not None else "none yet"
    return f"Search stopped before it finished: highest passing step so far {best}"


# -- the driver --------------------------------------------------------------------------------


@contextlib.contextmanager
def _target(
    config: CeilingConfig, emulator: EmulatorConfig, out: TextIO
) -> Iterator[tuple[str, EmulatorProcess | None]]:
    if config.run.url is not None:
        yield config.run.url, None
        return
    with EmulatorProcess(emulator) as emu:
        print(
            f"No target given: started the built-in synchronizer emulator at {emu.url} "
            f"(forwarder latency {emulator.latency_s * 1000:g}ms)",
            file=out,
            flush=True,
        )
        yield emu.url, emu


def _settle(emu: EmulatorProcess | None, cooldown_s: float) -> None:
    """Before a step: the built-in emulator has forwarded everything queued; then cool down."""
    if emu is not None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while emu.stats()["waiting"] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    if cooldown_s > 0:
        time.sleep(cooldown_s)


def _run_step(
    config: CeilingConfig, url: str, index: int, phase: str, rate: float, hold_s: float
) -> StepRecord | None:
    """One step; None when it was interrupted."""
    run_config = step_config(
        config.run, url=url, rate=rate, warmup_s=config.warmup_s, hold_s=hold_s
    )
    outcome = runner.run(run_config, out=io.StringIO())
    if outcome.exit_code == ExitCode.INTERRUPTED:
        return None
    m = measure_step(outcome.report, target_rate=rate, warmup_s=config.warmup_s, hold_s=hold_s)
    passed, reasons = judge_step(m, config.criteria)
    return StepRecord(index, phase, hold_s, m, passed, reasons, outcome.report)


def _history(steps: Sequence[StepRecord]) -> list[Step]:
    return [Step(s.measurement.target_rate, s.passed) for s in steps]


def _search(
    config: CeilingConfig, url: str, emu: EmulatorProcess | None, out: TextIO
) -> tuple[list[StepRecord], bool]:
    """Run the search's steps, printing each; ``(steps, interrupted)``."""
    steps: list[StepRecord] = []
    try:
        while (rate := next_rate(config.plan, _history(steps))) is not None:
            _settle(emu, config.cooldown_s if steps else 0.0)
            phase = phase_of(config.plan, _history(steps))
            step = _run_step(config, url, len(steps) + 1, phase, rate, config.hold_s)
            if step is None:
                return steps, True
            steps.append(step)
            print(format_step(step), file=out, flush=True)
    except KeyboardInterrupt:
        return steps, True
    return steps, False


def _confirm(
    config: CeilingConfig,
    url: str,
    emu: EmulatorProcess | None,
    out: TextIO,
    rate: float,
    index: int,
) -> tuple[StepRecord | None, bool]:
    """The confirmation hold at ``rate``; ``(step, interrupted)``."""
    try:
        _settle(emu, config.cooldown_s)
        step = _run_step(config, url, index, "confirm", rate, config.confirm_s)
    except KeyboardInterrupt:
        return None, True
    if step is None:
        return None, True
    print(format_step(step), file=out, flush=True)
    held = "held" if step.passed else "NOT held"
    print(
        f"Confirmation: {rate:,.1f} alerts/s {held} for {config.confirm_s:g}s", file=out, flush=True
    )
    return step, False


def find_ceiling(
    config: CeilingConfig,
    *,
    out: TextIO | None = None,
    emulator: EmulatorConfig | None = None,
) -> CeilingOutcome:
    """Run the search, printing a line per step and the ceiling; return the report."""
    out = out or sys.stdout
    emulator = emulator or EmulatorConfig(port=0, quiet=True)
    for index, profile in enumerate(config.run.profiles):
        runner.template_for(config.run, index, profile)  # bad names fail before any traffic
    plan, c = config.plan, config.criteria
    confirmation: StepRecord | None = None
    with _target(config, emulator, out) as (url, emu):
        print(
            f"Ceiling search against {redact_url(url)}: from {plan.start_rate:,.1f} alerts/s, "
            f"x{plan.factor:g} until a step fails, then bisection to {plan.precision:.0%}; "
            f"each step {config.warmup_s:g}s warm-up + {config.hold_s:g}s hold; a step passes "
            f"with success >= {c.min_success_rate:.2%}, achieved >= "
            f"{c.min_achieved_fraction:.1%} of target, p99 from due <= {format_ms(c.max_p99_ms)}",
            file=out,
            flush=True,
        )
        steps, interrupted = _search(config, url, emu, out)
        result = conclude(plan, _history(steps))
        print(format_result(result, plan), file=out, flush=True)
        if not interrupted and config.confirm_s > 0 and result.ceiling is not None:
            confirmation, interrupted = _confirm(
                config, url, emu, out, result.ceiling, len(steps) + 1
            )
    report = build_ceiling_report(
        config, url, emulator if emu is not None else None, steps, result, confirmation, interrupted
    )
    if config.report_json:
        Path(config.report_json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"Report written to {config.report_json}", file=out, flush=True)
    return CeilingOutcome(report, exit_code_of(report))


def build_ceiling_report(
    config: CeilingConfig,
    url: str,
    emulator: EmulatorConfig | None,
    steps: Sequence[StepRecord],
    result: SearchResult,
    confirmation: StepRecord | None,
    interrupted: bool,
) -> dict[str, Any]:
    """Everything about a search as JSON-ready data; every step's run report included."""
    return {
        "kind": "ceiling",
        "stressgen_version": __version__,
        "url": redact_url(url),
        "target": "given URL" if emulator is None else "built-in emulator",
        "emulator_latency_s": None if emulator is None else emulator.latency_s,
        "plan": dataclasses.asdict(config.plan),
        "criteria": dataclasses.asdict(config.criteria),
        "warmup_s": config.warmup_s,
        "hold_s": config.hold_s,
        "status": "interrupted" if interrupted else result.status,
        "ceiling_alerts_per_s": result.ceiling,
        "first_failure_alerts_per_s": result.first_failure,
        "confirmed": None if confirmation is None else confirmation.passed,
        "steps": [s.to_dict() for s in steps],
        "confirmation": None if confirmation is None else confirmation.to_dict(),
    }


def exit_code_of(report: dict[str, Any]) -> ExitCode:
    """OK when a ceiling was found (and held, if confirmed); else why not."""
    status = report["status"]
    if status == "interrupted":
        return ExitCode.INTERRUPTED
    if status in ("found", "no-failure") and report["confirmed"] is not False:
        return ExitCode.OK
    return ExitCode.RUN_FAILED
