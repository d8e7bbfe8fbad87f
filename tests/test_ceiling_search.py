"""The ceiling search's pure core as tables: made-up step outcomes, no clock, no sockets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stressgen.ceiling_search import (
    Criteria,
    SearchPlan,
    Step,
    StepMeasurement,
    conclude,
    judge_step,
    next_rate,
    phase_of,
)
from stressgen.ceiling_step import is_warmup, measure_step, step_config
from stressgen.config import ProfileConfig, RunConfig, Stage
from stressgen.engine.histogram import LatencyHistogram
from stressgen.engine.metrics import ProfileCounters
from stressgen.errors import ConfigError


def search(plan: SearchPlan, passes: Callable[[float], bool]) -> list[Step]:
    """Drive the search with a made-up target: ``passes(rate)`` is a step's verdict."""
    steps: list[Step] = []
    while (rate := next_rate(plan, steps)) is not None:
        steps.append(Step(rate, passes(rate)))
        assert len(steps) < 100
    return steps


def rates(steps: list[Step]) -> list[float]:
    return [round(s.rate, 4) for s in steps]


@pytest.mark.parametrize(
    ("plan", "capacity", "expected_rates", "ceiling", "first_failure"),
    [
        # ramp 10, 20, 40, 80 (fails), then bisect 60, 70, 65, 67.5 (fails) -> 65 within 5%
        (SearchPlan(), 66.0, [10, 20, 40, 80, 60, 70, 65, 67.5], 65.0, 67.5),
        # a capacity exactly on a ramp step passes it
        (
            SearchPlan(start_rate=50, precision=0.1),
            100.0,
            [50, 100, 200, 150, 125, 112.5, 106.25],
            100.0,
            106.25,
        ),
        # the first step fails: ramp down until one passes, then bisect
        (
            SearchPlan(start_rate=100, precision=0.1),
            30.0,
            [100, 50, 25, 37.5, 31.25, 28.125, 29.6875],
            29.6875,
            31.25,
        ),
        # a larger factor, a tighter precision
        (
            SearchPlan(start_rate=1, factor=10, precision=0.01),
            500.0,
            [1, 10, 100, 1000, 550, 325, 437.5, 493.75, 521.875, 507.8125, 500.7812, 497.2656],
            497.2656,
            500.7812,
        ),
    ],
)
def test_search_path_and_result(
    plan: SearchPlan,
    capacity: float,
    expected_rates: list[float],
    ceiling: float,
    first_failure: float,
) -> None:
    steps = search(plan, lambda rate: rate <= capacity)
    assert rates(steps) == expected_rates
    result = conclude(plan, steps)
    assert result.status == "found"
    assert result.ceiling == pytest.approx(ceiling, abs=1e-3)
    assert result.first_failure == pytest.approx(first_failure, abs=1e-3)
    assert result.first_failure is not None and result.ceiling is not None
    assert result.first_failure - result.ceiling <= plan.precision * result.ceiling + 1e-9


@pytest.mark.parametrize("capacity", [3.0, 17.0, 66.0, 499.0, 5000.0, 77_777.0])
@pytest.mark.parametrize("precision", [0.01, 0.05, 0.1])
def test_ceiling_is_within_precision_below_capacity(capacity: float, precision: float) -> None:
    plan = SearchPlan(start_rate=10, precision=precision)
    result = conclude(plan, search(plan, lambda rate: rate <= capacity))
    assert result.status == "found"
    assert result.ceiling is not None
    assert capacity * (1 - precision) <= result.ceiling <= capacity


def test_no_failure_up_to_max_rate() -> None:
    plan = SearchPlan(start_rate=10, max_rate=100)
    steps = search(plan, lambda rate: True)
    assert rates(steps) == [10, 20, 40, 80, 100]
    result = conclude(plan, steps)
    assert (result.status, result.ceiling, result.first_failure) == ("no-failure", 100, None)


def test_no_pass_down_to_min_rate() -> None:
    plan = SearchPlan(start_rate=10, min_rate=2)
    steps = search(plan, lambda rate: False)
    assert rates(steps) == [10, 5, 2.5, 2]
    result = conclude(plan, steps)
    assert (result.status, result.ceiling, result.first_failure) == ("no-pass", None, 2)


def test_noise_a_pass_above_a_failure_does_not_move_the_bracket() -> None:
    """Steps are given in the order they ran; 80 failed, then 70 passed by luck after 60
    failed: the ceiling stays below the lowest failure."""
    plan = SearchPlan(start_rate=10, precision=0.05)
    steps = [Step(10, True), Step(20, True), Step(40, True), Step(80, False), Step(60, False)]
    assert next_rate(plan, steps) == 50
    steps += [Step(50, True), Step(55, True), Step(70, True)]
    assert next_rate(plan, steps) == 57.5
    assert conclude(plan, steps).status == "incomplete"
    assert conclude(plan, steps).ceiling == 55


def test_phases() -> None:
    plan = SearchPlan()
    assert phase_of(plan, []) == "ramp"
    assert phase_of(plan, [Step(10, True)]) == "ramp"
    assert phase_of(plan, [Step(10, False)]) == "ramp-down"
    assert phase_of(plan, [Step(10, True), Step(20, False)]) == "bisect"


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"start_rate": 0}, "--start-rate"),
        ({"factor": 1.0}, "--factor"),
        ({"precision": 0}, "--precision"),
        ({"precision": 1.5}, "--precision"),
        ({"max_rate": 5}, "--max-rate"),
        ({"min_rate": 20}, "--min-rate"),
        ({"start_rate": float("nan")}, "--start-rate"),
    ],
)
def test_plan_errors_name_the_flag(kwargs: dict[str, float], flag: str) -> None:
    with pytest.raises(ConfigError) as info:
        SearchPlan(**kwargs)
    assert info.value.field == flag


def measurement(**overrides: object) -> StepMeasurement:
    values: dict[str, object] = {
        "target_rate": 100.0,
        "achieved_rate": 100.0,
        "alerts_sent": 1000,
        "alerts_accepted": 1000,
        "p50_ms": 5.0,
        "p99_ms": 20.0,
    }
    values.update(overrides)
    return StepMeasurement(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "passed", "reasons"),
    [
        ({}, True, ()),
        ({"alerts_accepted": 999}, True, ()),  # exactly 99.9%
        (
            {"alerts_accepted": 998, "failures": (("timeout", 2),)},
            False,
            ("success 99.80% < 99.90% (timeout x2)",),
        ),
        ({"achieved_rate": 99.0}, True, ()),
        ({"achieved_rate": 98.9}, False, ("achieved 98.9/s is 98.9% of target < 99.0%",)),
        ({"p99_ms": 1000.0}, True, ()),
        ({"p99_ms": 1500.0}, False, ("p99 from due 1,500ms > 1,000ms",)),
        ({"alerts_sent": 0, "alerts_accepted": 0}, False, ("nothing was sent",)),
        (
            {"achieved_rate": 50.0, "p99_ms": 2500.0, "problems": ("worker died",)},
            False,
            (
                "worker died",
                "achieved 50.0/s is 50.0% of target < 99.0%",
                "p99 from due 2,500ms > 1,000ms",
            ),
        ),
    ],
)
def test_judge_step(overrides: dict[str, object], passed: bool, reasons: tuple[str, ...]) -> None:
    assert judge_step(measurement(**overrides), Criteria()) == (passed, reasons)


def test_criteria_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        Criteria(max_p99_ms=0)
    assert info.value.field == "--max-p99"


def test_step_config_shares_the_rate_and_splits_warmup_from_hold() -> None:
    """Two profiles with peak alert rates 10 and 30 (one bulks 3 alerts a request): a
    step of 200 alerts/s gives them 50 and 150; warm-up copies send first."""
    base = RunConfig(
        url=None,
        duration_s=60,
        profiles=(
            ProfileConfig(name="a", rate_per_s=5, worker_count=2),
            ProfileConfig(
                name="b",
                rate_per_s=0,
                worker_count=1,
                alerts_per_request=3,
                stages=(Stage(5, 10),),
            ),
        ),
        report_json="x.json",
        hlog="x.hlog",
    )
    config = step_config(base, url="http://h:1", rate=200, warmup_s=2, hold_s=8)
    assert config.url == "http://h:1"
    assert config.duration_s == 10
    assert config.report_json is None and config.hlog is None  # the step writes no files
    names = [p.name for p in config.profiles]
    assert names == ["a.warmup", "a", "b.warmup", "b"]
    assert [is_warmup(n) for n in names] == [True, False, True, False]
    by_name = {p.name: p for p in config.profiles}
    assert by_name["a"].rate_per_s == 0
    assert by_name["a"].stages == (Stage(2, 0), Stage(0, 25), Stage(8, 25))
    assert by_name["a.warmup"].rate_per_s == 25
    assert by_name["a.warmup"].stages == (Stage(2, 25),)
    assert by_name["b"].stages == (Stage(2, 0), Stage(0, 50), Stage(8, 50))
    assert by_name["b"].alerts_per_request == 3
    no_warmup = step_config(base, url="http://h:1", rate=200, warmup_s=0, hold_s=8)
    assert [(p.name, p.rate_per_s, p.stages) for p in no_warmup.profiles] == [
        ("a", 25, ()),
        ("b", 50, ()),
    ]


def _profile(name: str, sent: int, accepted: int, last_send_s: float, latencies_ms: list[float]):
    counters = ProfileCounters(
        requests_sent=sent,
        alerts_sent=sent,
        alerts_accepted=accepted,
        requests_accepted=accepted,
        requests_failed=sent - accepted,
        last_send_s=last_send_s,
        failures={"timeout": sent - accepted} if sent > accepted else {},
    )
    hist = LatencyHistogram()
    for ms in latencies_ms:
        hist.record(int(ms * 1000))
    return {
        "name": name,
        "counters": counters.to_dict(),
        "problems": [],
        "histograms": {
            "from_due": hist.to_dict(),
            "from_sent": hist.to_dict(),
            "lateness": LatencyHistogram().to_dict(),
        },
    }


def test_measure_step_reads_the_hold_only() -> None:
    report = {
        "profiles": [
            _profile("p.warmup", 50, 50, 0.99, [5000.0] * 50),  # ignored, however slow
            _profile("p", 200, 198, 3.5, [10.0] * 190 + [900.0] * 10),
        ]
    }
    m = measure_step(report, target_rate=100, warmup_s=1, hold_s=2)
    assert m.alerts_sent == 200
    assert m.alerts_accepted == 198
    assert m.achieved_rate == pytest.approx(200 / 2.5)  # sends lagged to 3.5 s
    assert m.p50_ms == pytest.approx(10.0, rel=0.01)
    assert m.p99_ms == pytest.approx(900.0, rel=0.01)
    assert m.failures == (("timeout", 2),)
