"""One step of a ceiling search, as pure functions over data.

:func:`step_config` builds the run of a step: every profile twice, a warm-up copy (its
name ends in :data:`WARMUP_SUFFIX`) that sends only during the warm-up, and the profile
itself, which sends only during the hold. :func:`measure_step` reads the hold's numbers
back out of the step's run report, warm-up copies left out; :class:`StepRecord` is a
finished, judged step and :func:`format_step` its one printed line. The driver that runs
the steps is :mod:`stressgen.ceiling`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from stressgen.ceiling_search import StepMeasurement
from stressgen.config import RunConfig, Stage
from stressgen.engine.histogram import LatencyHistogram

WARMUP_SUFFIX = ".warmup"
UNWRITTEN: Mapping[str, Any] = MappingProxyType(
    {"report_json": None, "hlog": None, "hgrm": None, "thresholds": ()}
)
"""What a run inside another command leaves out: its own files and pass/fail thresholds."""


@dataclasses.dataclass(frozen=True)
class StepRecord:
    """One finished step: what it was for, what it measured, its verdict, its run report."""

    index: int
    phase: str
    hold_s: float
    measurement: StepMeasurement
    passed: bool
    reasons: tuple[str, ...]
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, the step's full run report included."""
        m = self.measurement
        return {
            "index": self.index,
            "phase": self.phase,
            "hold_s": self.hold_s,
            "target_alerts_per_s": m.target_rate,
            "achieved_alerts_per_s": m.achieved_rate,
            "alerts_sent": m.alerts_sent,
            "alerts_accepted": m.alerts_accepted,
            "success_rate": m.success_rate,
            "p50_ms": m.p50_ms,
            "p99_ms": m.p99_ms,
            "p99_sent_ms": m.p99_sent_ms,
            "failures": dict(m.failures),
            "passed": self.passed,
            "reasons": list(self.reasons),
            "hold_profiles": [
                p["name"] for p in self.report["profiles"] if not is_warmup(p["name"])
            ],
            "report": self.report,
        }


def is_warmup(name: str) -> bool:
    """Whether a profile name in a step's report is a warm-up copy."""
    return name.endswith(WARMUP_SUFFIX)


def step_config(
    base: RunConfig, *, url: str, rate: float, warmup_s: float, hold_s: float
) -> RunConfig:
    """The run of one step: ``rate`` alerts/s in all, shared among the profiles as their
    peak alert rates are (the runner spreads a busy profile over processes); warm-up copies
    of the profiles send first."""
    weights = [p.peak_total_rate_per_s * p.alerts_per_request for p in base.profiles]
    total = sum(weights)
    profiles = []
    for profile, weight in zip(base.profiles, weights, strict=True):
        per_worker = rate * weight / total / profile.alerts_per_request / profile.worker_count
        hold = dataclasses.replace(profile, rate_per_s=per_worker, stages=())
        if warmup_s > 0:
            profiles.append(
                dataclasses.replace(
                    hold, name=profile.name + WARMUP_SUFFIX, stages=(Stage(warmup_s, per_worker),)
                )
            )
            hold = dataclasses.replace(
                hold,
                rate_per_s=0.0,
                stages=(Stage(warmup_s, 0.0), Stage(0.0, per_worker), Stage(hold_s, per_worker)),
            )
        profiles.append(hold)
    return dataclasses.replace(
        base,
        url=url,
        duration_s=warmup_s + hold_s,
        profiles=tuple(profiles),
        progress_interval_s=warmup_s + hold_s + 60.0,
        **UNWRITTEN,
    )


def _merged(profiles: Sequence[dict[str, Any]], measure: str) -> LatencyHistogram:
    hist = LatencyHistogram()
    for profile in profiles:
        hist.merge(LatencyHistogram.from_dict(profile["histograms"][measure]))
    return hist


def measure_step(
    report: dict[str, Any], *, target_rate: float, warmup_s: float, hold_s: float
) -> StepMeasurement:
    """The hold's numbers from a step's run report (warm-up profiles left out). The achieved
    rate is over the real send span, as the run report's: sends that lag stretch it."""
    holds = [p for p in report["profiles"] if not is_warmup(p["name"])]
    counters = [p["counters"] for p in holds]
    last_send = max((c["last_send_s"] for c in counters), default=0.0)
    span = max(warmup_s + hold_s, last_send) - warmup_s
    sent = sum(c["alerts_sent"] for c in counters)
    failures: dict[str, int] = {}
    for c in counters:
        for reason, n in c["failures"].items():
            failures[reason] = failures.get(reason, 0) + n
    due = _merged(holds, "from_due").percentiles((50.0, 99.0))
    sent_p99 = _merged(holds, "from_sent").percentiles((99.0,))
    return StepMeasurement(
        target_rate=target_rate,
        achieved_rate=sent / span if span > 0 else 0.0,
        alerts_sent=sent,
        alerts_accepted=sum(c["alerts_accepted"] for c in counters),
        p50_ms=due["p50"],
        p99_ms=due["p99"],
        p99_sent_ms=sent_p99["p99"],
        failures=tuple(sorted(failures.items())),
        problems=tuple(
            f"profile {p['name']}: {x}" for p in report["profiles"] for x in p["problems"]
        ),
    )


def format_ms(value: float) -> str:
    """A latency for a printed line: three significant digits below 100 ms."""
    return f"{value:.3g}ms" if value < 100 else f"{value:,.0f}ms"


def format_step(step: StepRecord) -> str:
    """The one line printed as a step finishes."""
    m = step.measurement
    verdict = "PASS" if step.passed else "FAIL: " + "; ".join(step.reasons)
    return (
        f"step {step.index:>2} {step.phase:<9} target {m.target_rate:>9,.1f}/s  "
        f"achieved {m.achieved_rate:>9,.1f}/s  success {m.success_rate:>7.2%}  "
        f"p50 {format_ms(m.p50_ms):>8}  p99 {format_ms(m.p99_ms):>8}  {verdict}"
    )
