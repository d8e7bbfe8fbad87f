"""The pacer as a table, without a clock (after vegeta's lib/pacer_test.go)."""

from __future__ import annotations

import itertools
import math

import pytest

from stressgen.config import ProfileConfig, Stage
from stressgen.engine.pacer import Schedule, expected_sends, profile_schedules

RAMP_UP = (Stage(10.0, 100.0),)  # 0 -> 100/s over 10 s: C(t) = 5 t², due(n) = sqrt(n / 5)
RAMP_DOWN = (Stage(10.0, 0.0),)  # 100 -> 0/s over 10 s: C(t) = 100 t - 5 t²
PAUSE = (Stage(10.0, 10.0), Stage(0.0, 0.0), Stage(5.0, 0.0), Stage(0.0, 10.0), Stage(10.0, 10.0))


@pytest.mark.parametrize(
    ("rate", "duration", "offset", "n", "due"),
    [
        (1.0, 10.0, 0.0, 0, 0.0),
        (1.0, 10.0, 0.0, 1, 1.0),
        (1.0, 10.0, 0.0, 9, 9.0),
        (1.0, 10.0, 0.0, 10, None),  # due at 10 s: the run is over
        (100.0, 10.0, 0.0, 999, 9.99),
        (100.0, 10.0, 0.5, 999, 9.995),
        (100.0, 10.0, 0.5, 1000, None),
        (500 / 60, 600.0, 0.0, 4999, 4999 * 60 / 500),
        (500 / 60, 600.0, 0.5, 4999, 4999.5 * 60 / 500),
        (500 / 60, 600.0, 0.5, 5000, None),
        (0.5, 3.0, 0.0, 1, 2.0),
        (0.5, 3.0, 0.0, 2, None),
        (50_000.0, 1.0, 0.25, 49_999, 49_999.25 / 50_000),
    ],
)
def test_constant_rate(
    rate: float, duration: float, offset: float, n: int, due: float | None
) -> None:
    got = Schedule.constant(rate, duration, offset).due(n)
    assert got == pytest.approx(due, abs=1e-9) if due is not None else got is None


@pytest.mark.parametrize(
    ("start", "stages", "duration", "n", "due"),
    [
        (0.0, RAMP_UP, 100.0, 0, 0.0),
        (0.0, RAMP_UP, 100.0, 5, 1.0),
        (0.0, RAMP_UP, 100.0, 20, 2.0),
        (0.0, RAMP_UP, 100.0, 125, 5.0),
        (0.0, RAMP_UP, 100.0, 499, math.sqrt(499 / 5)),
        (0.0, RAMP_UP, 100.0, 500, None),  # after the last stage the profile stops
        (0.0, RAMP_UP, 5.0, 124, math.sqrt(124 / 5)),  # cut by the run's duration...
        (0.0, RAMP_UP, 5.0, 125, None),  # ...at 125 sends
        (100.0, RAMP_DOWN, 100.0, 95, (100 - math.sqrt(10_000 - 20 * 95)) / 10),
        (100.0, RAMP_DOWN, 100.0, 499, (100 - math.sqrt(10_000 - 20 * 499)) / 10),
        (100.0, RAMP_DOWN, 100.0, 500, None),
        (10.0, PAUSE, 100.0, 99, 9.9),
        (10.0, PAUSE, 100.0, 100, 15.0),  # nothing due in the zero-rate stretch 10..15 s
        (10.0, PAUSE, 100.0, 101, 15.1),
        (10.0, PAUSE, 100.0, 200, None),
        (0.0, (Stage(0.0, 0.0), Stage(5.0, 0.0), Stage(0.0, 2.0), Stage(5.0, 2.0)), 100.0, 0, 5.0),
        # 20/s -> 100/s over 4 s: 20τ + 10τ² = 30 at τ = 1
        (20.0, (Stage(4.0, 100.0),), 100.0, 30, 1.0),
    ],
)
def test_staged_rate(
    start: float, stages: tuple[Stage, ...], duration: float, n: int, due: float | None
) -> None:
    got = Schedule.ramp(start, stages, duration).due(n)
    assert got == pytest.approx(due, abs=1e-9) if due is not None else got is None


SCHEDULES = [
    Schedule.constant(8.3333, 600.0, 0.0),
    Schedule.constant(333.0, 7.5, 0.75),
    Schedule.ramp(0.0, RAMP_UP, 100.0, 0.2),
    Schedule.ramp(100.0, RAMP_DOWN, 100.0, 0.9),
    Schedule.ramp(10.0, PAUSE, 100.0, 0.5),
    Schedule.ramp(10.0, (Stage(10, 150), Stage(15, 150), Stage(2, 10), Stage(10, 10)), 30.0, 0.3),
]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_due_times_are_monotonic_and_inside_the_run(schedule: Schedule) -> None:
    times = [schedule.due(n) for n in range(schedule.total)]
    assert all(t is not None for t in times)
    floats = [t for t in times if t is not None]
    assert floats == sorted(floats)
    assert len(set(floats)) == len(floats)
    assert floats[0] >= 0.0 and floats[-1] < schedule.end_s
    assert schedule.due(schedule.total) is None


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_count_due_agrees_with_due(schedule: Schedule) -> None:
    for n in range(0, schedule.total, max(1, schedule.total // 500)):
        t = schedule.due(n)
        assert t is not None
        assert schedule.count_due(t + 1e-7) >= n + 1
        assert schedule.count_due(t - 1e-7) <= n
    assert schedule.count_due(-1.0) == 0
    assert schedule.count_due(schedule.end_s) == schedule.total
    assert schedule.count_due(1e9) == schedule.total


@pytest.mark.parametrize(
    ("rate", "duration"), [(1.0, 10.0), (8.3333, 600.0), (7.0, 0.3), (333.3, 7.77), (1e4, 3.3)]
)
@pytest.mark.parametrize("workers", [1, 2, 3, 7, 16])
def test_count_by_duration_is_rate_times_duration(
    rate: float, duration: float, workers: int
) -> None:
    profile = ProfileConfig(name="p", rate_per_s=rate, worker_count=workers)
    schedules = profile_schedules(profile, duration)
    for s in schedules:
        assert abs(s.total - rate * duration) <= 1
    # Phases k / W make the workers together send ceil(W · r · D): within 1 of the target.
    together = sum(s.total for s in schedules)
    assert together == math.ceil(workers * rate * duration - 1e-9)
    assert expected_sends(profile, duration, duration) == together


def test_phases_spread_the_workers() -> None:
    profile = ProfileConfig(name="p", rate_per_s=10.0, worker_count=4)
    firsts = [s.due(0) for s in profile_schedules(profile, 60.0)]
    assert firsts == pytest.approx([0.0, 0.025, 0.05, 0.075])
    merged = sorted(
        t for s in profile_schedules(profile, 1.0) for n in range(10) if (t := s.due(n)) is not None
    )
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(merged)}
    assert gaps == {0.025}  # evenly interleaved at 40/s
    staged = ProfileConfig(name="s", rate_per_s=0.0, worker_count=3, stages=RAMP_UP)
    starts = [s.due(0) for s in profile_schedules(staged, 100.0)]
    assert len(set(starts)) == 3


@pytest.mark.parametrize(
    ("start", "stages", "duration", "area"),
    [
        (0.0, RAMP_UP, 100.0, 500.0),
        (100.0, RAMP_DOWN, 100.0, 500.0),
        (
            20.0,
            (Stage(10, 20), Stage(2, 300), Stage(15, 300), Stage(2, 20), Stage(10, 20)),
            100.0,
            5540.0,
        ),
        (10.0, PAUSE, 100.0, 200.0),
        (0.0, RAMP_UP, 4.0, 80.0),  # cut at 4 s: 5 · 4²
        (3.0, (Stage(0, 7), Stage(2, 7)), 100.0, 14.0),  # a jump, then flat
    ],
)
def test_ramp_counts_equal_the_trapezoid_area(
    start: float, stages: tuple[Stage, ...], duration: float, area: float
) -> None:
    schedule = Schedule.ramp(start, stages, duration)
    assert schedule.expected_count(duration) == pytest.approx(area)
    assert schedule.total == round(area)  # offset 0: sends at counts 0, 1, ..., area - 1


def test_expected_count_is_the_integral() -> None:
    up = Schedule.ramp(0.0, RAMP_UP, 100.0)
    assert [up.expected_count(t) for t in (-1, 0, 1, 2, 10, 50)] == pytest.approx(
        [0, 0, 5, 20, 500, 500]
    )
    flat = Schedule.constant(4.0, 10.0, 0.5)
    assert flat.expected_count(2.5) == 10.0 and flat.count_due(2.5) == 10  # sends 0..9
    assert flat.end_s == 10.0 and up.end_s == 10.0


def test_constant_fast_path_equals_the_general_path() -> None:
    fast = Schedule.constant(123.0, 10.0, 0.4)
    general = Schedule.ramp(123.0, (Stage(4.0, 123.0), Stage(6.0, 123.0)), 10.0, 0.4)
    assert fast.constant_rate and not general.constant_rate
    assert fast.total == general.total == 1230
    for n in range(0, 1230, 7):
        assert fast.due(n) == pytest.approx(general.due(n), abs=1e-9)


def test_empty_and_invalid_inputs() -> None:
    nothing = Schedule.ramp(5.0, (Stage(0.0, 9.0),), 10.0)
    assert (nothing.total, nothing.due(0), nothing.expected_count(5), nothing.count_due(5)) == (
        0,
        None,
        0,
        0,
    )
    idle = Schedule.ramp(0.0, (Stage(10.0, 0.0),), 10.0)
    assert idle.total == 0 and idle.due(0) is None
    with pytest.raises(ValueError, match="offset"):
        Schedule.constant(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="n must be"):
        Schedule.constant(1.0, 10.0).due(-1)
    with pytest.raises(ValueError, match="worker"):
        Schedule.for_worker(ProfileConfig(name="p", rate_per_s=1.0, worker_count=2), 1.0, 2)


def test_seed_profile_expectations() -> None:
    """The seed's 500/min x 2 workers for 10 minutes: 10,000 sends, 5,000 per worker."""
    profile = ProfileConfig(name="seed", rate_per_s=500 / 60, worker_count=2)
    assert [s.total for s in profile_schedules(profile, 600.0)] == [5000, 5000]
    assert expected_sends(profile, 600.0, 30.0) == 500  # the seed's progress line at 30 s
    assert expected_sends(profile, 600.0, 600.0) == 10_000
