"""When is each send due? The open-loop schedule as pure arithmetic: no clock, no I/O.

Modelled on vegeta's ``lib/pacer.go``. A worker's rate ``r(t)`` is piecewise linear (a
constant, or k6-style ``stages``); its cumulative count is ``C(t) = ∫₀ᵗ r``. Send ``n`` is
due at the first moment ``C`` passes ``n + offset``, where ``offset = k / W`` for worker
``k`` of ``W``: at a constant rate that is ``(n + k / W) / r``, so the workers of a profile
interleave evenly instead of firing together, and together they send ``ceil(W · C(end))``.
Inside a segment ``C`` is a quadratic, solved in closed form; zero-rate stretches hold no
sends; nothing is due at or after the end (the run duration, or the last stage's end).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from stressgen.config import ProfileConfig, Stage

# Float sums of trapezoids can land a hair above an integer count; never invent a send there.
_REL_EPS = 1e-12
_ABS_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Schedule:
    """The due times of one worker's sends, seconds from the start of the run.

    Build it with :meth:`constant`, :meth:`ramp` or :meth:`for_worker`. The rate over
    segment ``i`` is ``rates[i] + slopes[i] * (t - starts[i])``; ``cumulative[i]`` is the
    count reached at ``starts[i]`` (one more entry: at ``end_s``).
    """

    offset: float
    end_s: float
    total: int
    constant_rate: float  # > 0 only for a single constant segment: the O(1) path of due()
    starts: tuple[float, ...]
    rates: tuple[float, ...]
    slopes: tuple[float, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def constant(cls, rate_per_s: float, duration_s: float, offset: float = 0.0) -> Schedule:
        """``rate_per_s`` sends per second from 0 to ``duration_s``."""
        return cls.ramp(rate_per_s, (Stage(duration_s, rate_per_s),), duration_s, offset)

    @classmethod
    def ramp(
        cls,
        start_rate_per_s: float,
        stages: Sequence[Stage],
        duration_s: float,
        offset: float = 0.0,
    ) -> Schedule:
        """Ramp linearly from ``start_rate_per_s`` through each stage's target (k6's
        ``ramping-arrival-rate``); stop at ``duration_s`` or after the last stage."""
        if not 0.0 <= offset < 1.0:
            raise ValueError(f"offset must be in [0, 1), got {offset}")
        starts: list[float] = []
        rates: list[float] = []
        slopes: list[float] = []
        cumulative = [0.0]
        t, rate = 0.0, float(start_rate_per_s)
        for stage in stages:
            if t >= duration_s:
                break
            if stage.duration_s <= 0:  # an instant jump
                rate = stage.target_per_s
                continue
            slope = (stage.target_per_s - rate) / stage.duration_s
            span = min(stage.duration_s, duration_s - t)
            starts.append(t)
            rates.append(rate)
            slopes.append(slope)
            cumulative.append(cumulative[-1] + rate * span + slope * span * span / 2.0)
            t += span
            rate = stage.target_per_s if span == stage.duration_s else rate + slope * span
        if not starts:  # nothing to run: keep the tables non-empty for the lookups
            starts, rates, slopes = [0.0], [0.0], [0.0]
            cumulative.append(0.0)
        c_end = cumulative[-1]
        room = c_end - offset - _ABS_EPS - _REL_EPS * c_end
        total = math.ceil(room) if room > 0 else 0
        constant = rates[0] if len(starts) == 1 and slopes[0] == 0.0 else 0.0
        return cls(
            offset=offset,
            end_s=t,
            total=total,
            constant_rate=constant,
            starts=tuple(starts),
            rates=tuple(rates),
            slopes=tuple(slopes),
            cumulative=tuple(cumulative),
        )

    @classmethod
    def for_worker(cls, profile: ProfileConfig, duration_s: float, worker: int) -> Schedule:
        """Worker ``worker`` (0-based) of ``profile``, phased by ``worker / worker_count``."""
        if not 0 <= worker < profile.worker_count:
            raise ValueError(f"worker must be in [0, {profile.worker_count}), got {worker}")
        offset = worker / profile.worker_count
        if profile.stages:
            return cls.ramp(profile.rate_per_s, profile.stages, duration_s, offset)
        return cls.constant(profile.rate_per_s, duration_s, offset)

    def due(self, n: int) -> float | None:
        """Seconds from the run start at which send ``n`` (0-based) is due; None past the end."""
        if n >= self.total:
            return None
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if self.constant_rate:
            return (n + self.offset) / self.constant_rate
        return self._time_of(n + self.offset)

    def _time_of(self, count: float) -> float:
        cumulative = self.cumulative
        # The segment with cumulative[i] <= count < cumulative[i + 1]; flat ones are skipped.
        i = min(bisect_right(cumulative, count) - 1, len(self.starts) - 1)
        delta = count - cumulative[i]
        if delta <= 0.0:
            return self.starts[i]
        rate, slope = self.rates[i], self.slopes[i]
        # rate·τ + slope·τ²/2 = delta, in the form without cancellation for either sign.
        root = math.sqrt(max(rate * rate + 2.0 * slope * delta, 0.0))
        return min(self.starts[i] + 2.0 * delta / (rate + root), self.end_s)

    def expected_count(self, until_s: float) -> float:
        """The cumulative count ``C(until_s)``: sends the rate asks for by then (a float)."""
        t = min(max(until_s, 0.0), self.end_s)
        i = max(bisect_right(self.starts, t) - 1, 0)
        tau = t - self.starts[i]
        return self.cumulative[i] + self.rates[i] * tau + self.slopes[i] * tau * tau / 2.0

    def count_due(self, at_s: float) -> int:
        """How many sends are due strictly before ``at_s`` (a send due exactly then: not yet)."""
        count = self.expected_count(at_s)
        room = count - self.offset - _ABS_EPS - _REL_EPS * count
        return min(math.ceil(room), self.total) if room > 0 else 0


def profile_schedules(profile: ProfileConfig, duration_s: float) -> tuple[Schedule, ...]:
    """One schedule per worker of ``profile``, in worker order."""
    return tuple(Schedule.for_worker(profile, duration_s, k) for k in range(profile.worker_count))


def expected_sends(profile: ProfileConfig, duration_s: float, at_s: float) -> int:
    """Sends all of ``profile``'s workers should have made strictly before ``at_s``."""
    return sum(s.count_due(at_s) for s in profile_schedules(profile, duration_s))
