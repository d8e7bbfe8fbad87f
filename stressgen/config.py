"""The one definition of a run's configuration, and the checks every value passes.

:class:`RunConfig`, :class:`ProfileConfig` and :class:`Stage` are the schema; the field
validators here serve their ``__post_init__``, the config file loader
(:mod:`stressgen.config_file`) and the CLI flags, which go through :func:`with_overrides`.
Every mistake raises :class:`~stressgen.errors.ConfigError` naming the file key
(``alert_profiles[1].severity``) or the flag (``--rate``), the value and what is expected.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from stressgen.errors import ConfigError
from stressgen.thresholds import Threshold, parse_threshold, parse_thresholds
from stressgen.units import parse_duration, parse_rate_per_second

# -- validators, shared by __post_init__, the file loader and the flag overrides ---------------

_Check = Callable[[Any, str], Any]
_ZERO_RATE = re.compile(r"\s*(?:0+\.?0*|\.0+)\s*(/.*)?")


def _int(value: object, field: str, minimum: int, maximum: int | None = None) -> int:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= minimum
        and (maximum is None or value <= maximum)
    ):
        return value
    upper = f" and at most {maximum}" if maximum is not None else ""
    raise ConfigError(field, value, f"a whole number of at least {minimum}{upper}")


def _number(value: object, field: str, *, allow_zero: bool = False) -> float:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 or (allow_zero and value == 0))
    ):
        return float(value)
    raise ConfigError(field, value, "a number of at least 0" if allow_zero else "a positive number")


def _text(value: object, field: str) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise ConfigError(field, value, "a non-empty string")


def _url(value: object, field: str) -> str:
    """Check for an http(s) URL with a host; its path is normalised elsewhere."""
    if isinstance(value, str):
        try:
            parts = urlsplit(value.strip())
            if parts.scheme in ("http", "https") and parts.hostname and parts.port != 0:
                return value.strip()
        except ValueError:  # a malformed port or IPv6 address
            pass
    raise ConfigError(field, value, "an http:// or https:// URL with a host, like http://host:8089")


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(field, value, "one of " + ", ".join(choices))


def _bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(field, value, "true or false")


def _optional(check: _Check) -> _Check:
    return lambda value, field: None if value is None else check(value, field)


def _typed(
    parse: Callable[[str | float, str], float], expected: str
) -> Callable[[object, str], float]:
    """Guard a :mod:`stressgen.units` parser against YAML values of the wrong type."""

    def check(value: object, field: str) -> float:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return parse(value, field)
        raise ConfigError(field, value, expected)

    return check


_duration = _typed(lambda v, f: parse_duration(v, f, allow_zero=False), "a duration like 30s")
_stage_duration = _typed(parse_duration, "a duration like 10s (0s for a jump)")
_rate = _typed(parse_rate_per_second, "a positive rate like 500 (per minute), 50/s or 3000/min")


def _rate_per_minute(value: object, field: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_rate_per_second(value, field)
    raise ConfigError(field, value, "a positive number of alerts per minute, like 500")


def _stage_rate(value: object, field: str) -> float:
    """A stage's rate may be zero (a ramp down to idle); otherwise as :func:`_rate`."""
    if value == 0 and not isinstance(value, bool):
        return 0.0
    match = _ZERO_RATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return _rate(value, field)
    try:  # "0/xyz": the unit must still be a valid one
        parse_rate_per_second("1" + (match.group(1) or ""), field)
    except ConfigError:
        raise ConfigError(field, value, "a rate like 0, 50/s or 3000/min") from None
    return 0.0


TRANSPORTS = ("auto", "fast", "aiohttp")

# file key -> (attribute, check); the check both validates and normalises.
_PROFILE_FIELDS: Mapping[str, tuple[str, _Check]] = MappingProxyType(
    {
        "name": ("name", _text),
        "worker_count": ("worker_count", lambda v, f: _int(v, f, 1)),
        "alert_name": ("alert_name", _text),
        "rule_id": ("rule_id", _text),
        "severity": ("severity", lambda v, f: _int(v, f, 0)),
        "syscall": ("syscall", _text),
        "alerts_per_request": ("alerts_per_request", lambda v, f: _int(v, f, 1, 50)),
        "timeout": ("timeout_s", _duration),
        "max_connections": ("max_connections", lambda v, f: _int(v, f, 1)),
        "processes": ("processes", _optional(lambda v, f: None if v == "auto" else _int(v, f, 1))),
        "pod_name": ("pod_name", _optional(_text)),
        "workload_name": ("workload_name", _optional(_text)),
        "container_name": ("container_name", _optional(_text)),
        "namespace": ("namespace", _optional(_text)),
    }
)
_RUN_FIELDS: Mapping[str, tuple[str, _Check]] = MappingProxyType(
    {
        "synchronizer_url": ("url", _optional(_url)),
        "cluster_name": ("cluster_name", _text),
        "namespace": ("namespace", _text),
        "progress_interval": ("progress_interval_s", _duration),
        "report_json": ("report_json", _optional(_text)),
        "seed": ("seed", _optional(lambda v, f: _int(v, f, 0))),
        "thresholds": ("thresholds", parse_thresholds),
        "hlog": ("hlog", _optional(_text)),
        "hlog_interval": ("hlog_interval_s", _optional(_duration)),
        "hgrm": ("hgrm", _optional(_text)),
        "transport": ("transport", lambda v, f: _choice(v, f, TRANSPORTS)),
        "proxy": ("proxy", _optional(_url)),
        "ca_file": ("ca_file", _optional(_text)),
        "insecure": ("insecure", _bool),
    }
)


def _normalise(obj: object, fields: Mapping[str, tuple[str, _Check]]) -> None:
    for key, (attr, check) in fields.items():
        object.__setattr__(obj, attr, check(getattr(obj, attr), key))


@dataclass(frozen=True)
class Stage:
    """One step of a rate ramp (k6 ``ramping-arrival-rate``): over ``duration_s`` the
    per-worker rate moves linearly from the previous stage's target (the first stage: from
    the profile's ``rate_per_s``) to ``target_per_s``. A zero duration is an instant jump."""

    duration_s: float
    target_per_s: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "duration_s", _number(self.duration_s, "duration", allow_zero=True)
        )
        object.__setattr__(
            self, "target_per_s", _number(self.target_per_s, "rate", allow_zero=True)
        )


@dataclass(frozen=True, kw_only=True)
class ProfileConfig:
    """One alert profile: ``worker_count`` workers, each sending ``rate_per_s`` requests.

    With ``stages``, ``rate_per_s`` is the start rate (may be 0) and the profile stops
    sending after the last stage. Field errors use the file's key names.
    """

    name: str
    rate_per_s: float
    worker_count: int = 1
    alert_name: str = "Unexpected system call"
    rule_id: str = "R0003"
    severity: int = 1
    syscall: str = "sched_yield"
    alerts_per_request: int = 1
    timeout_s: float = 30.0
    max_connections: int = 100
    processes: int | None = None
    stages: tuple[Stage, ...] = ()
    pod_name: str | None = None
    workload_name: str | None = None
    container_name: str | None = None
    namespace: str | None = None

    def __post_init__(self) -> None:
        _normalise(self, _PROFILE_FIELDS)
        stages = self.stages
        if not isinstance(stages, tuple | list) or not all(isinstance(s, Stage) for s in stages):
            raise ConfigError("stages", stages, "a list of stages")
        object.__setattr__(self, "stages", tuple(stages))
        if stages and not sum(s.duration_s for s in stages) > 0:
            raise ConfigError("stages", stages, "a list of stages lasting longer than 0s")
        rate = _number(self.rate_per_s, "rate", allow_zero=bool(stages))
        object.__setattr__(self, "rate_per_s", rate)

    @property
    def total_rate_per_s(self) -> float:
        """Requests per second of all workers together (the start rate when staged)."""
        return self.rate_per_s * self.worker_count

    @property
    def stages_duration_s(self) -> float:
        """How long the stages last together (0 without stages)."""
        return sum(s.duration_s for s in self.stages)

    @property
    def peak_total_rate_per_s(self) -> float:
        """The highest requests per second of all workers together at any moment."""
        return max((self.rate_per_s, *(s.target_per_s for s in self.stages))) * self.worker_count


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole run. ``url`` None means: start the built-in synchronizer emulator."""

    url: str | None
    duration_s: float
    profiles: tuple[ProfileConfig, ...]
    cluster_name: str = "stress-test-cluster"
    namespace: str = "stress-test-namespace"
    progress_interval_s: float = 30.0
    report_json: str | None = None
    seed: int | None = None
    thresholds: tuple[Threshold, ...] = ()
    """Checked at the end (:mod:`stressgen.thresholds`); any failed: exit code 1."""
    hlog: str | None = None
    """Where to write the HdrHistogram interval log (``--hlog``)."""
    hlog_interval_s: float | None = None
    """The log's interval length (``--hlog-interval``); None: the progress interval."""
    hgrm: str | None = None
    """Where to write the percentile distribution (``--hgrm``)."""
    transport: str = "auto"
    """``fast`` (our lean HTTP/1.1 client), ``aiohttp``, or ``auto``: fast unless the run
    needs what only aiohttp does (an HTTP proxy)."""
    proxy: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    """Skip TLS certificate verification (https targets only; verification is on by default)."""

    def __post_init__(self) -> None:
        _normalise(self, _RUN_FIELDS)
        object.__setattr__(self, "duration_s", _number(self.duration_s, "duration"))
        profiles = self.profiles
        if not isinstance(profiles, tuple | list) or not profiles:
            raise ConfigError("alert_profiles", profiles, "a non-empty list of profiles")
        object.__setattr__(self, "profiles", tuple(profiles))
        seen: set[str] = set()
        for i, profile in enumerate(profiles):
            if not isinstance(profile, ProfileConfig):
                raise ConfigError(f"alert_profiles[{i}]", profile, "a profile")
            if profile.name in seen:
                raise ConfigError(f"alert_profiles[{i}].name", profile.name, "a unique name")
            seen.add(profile.name)

    @property
    def total_rate_per_s(self) -> float:
        """Requests per second summed over every profile and worker (start rates)."""
        return sum(p.total_rate_per_s for p in self.profiles)


def with_overrides(
    cfg: RunConfig,
    *,
    url: str | None = None,
    duration: str | float | None = None,
    rate: str | float | None = None,
    workers: int | None = None,
    timeout: str | float | None = None,
    alerts_per_request: int | None = None,
    max_connections: int | None = None,
    processes: int | None = None,
    progress_interval: str | float | None = None,
    report_json: str | None = None,
    seed: int | None = None,
    thresholds: Sequence[str] | None = None,
    hlog: str | None = None,
    hlog_interval: str | float | None = None,
    hgrm: str | None = None,
    transport: str | None = None,
    proxy: str | None = None,
    ca_file: str | None = None,
    insecure: bool | None = None,
) -> RunConfig:
    """Apply CLI flags over ``cfg`` (None = keep). ``rate``/``workers``/``timeout``/... apply to
    every profile; ``rate`` is per worker and replaces any stages with that constant rate."""
    run: dict[str, Any] = {}
    if url is not None:
        run["url"] = _url(url, "--url")
    if duration is not None:
        run["duration_s"] = _duration(duration, "--duration")
    if progress_interval is not None:
        run["progress_interval_s"] = _duration(progress_interval, "--progress-interval")
    if report_json is not None:
        run["report_json"] = _text(report_json, "--report-json")
    if seed is not None:
        run["seed"] = _int(seed, "--seed", 0)
    if thresholds:  # given flags replace the file's list
        run["thresholds"] = tuple(parse_threshold(t, "--threshold") for t in thresholds)
    if hlog is not None:
        run["hlog"] = _text(hlog, "--hlog")
    if hlog_interval is not None:
        run["hlog_interval_s"] = _duration(hlog_interval, "--hlog-interval")
    if hgrm is not None:
        run["hgrm"] = _text(hgrm, "--hgrm")
    if transport is not None:
        run["transport"] = _choice(transport, "--transport", TRANSPORTS)
    if proxy is not None:
        run["proxy"] = _url(proxy, "--proxy")
    if ca_file is not None:
        run["ca_file"] = _text(ca_file, "--ca-file")
    if insecure is not None:
        run["insecure"] = _bool(insecure, "--insecure")
    prof: dict[str, Any] = {}
    if rate is not None:
        prof.update(rate_per_s=_rate(rate, "--rate"), stages=())
    if workers is not None:
        prof["worker_count"] = _int(workers, "--workers", 1)
    if timeout is not None:
        prof["timeout_s"] = _duration(timeout, "--timeout")
    if alerts_per_request is not None:
        prof["alerts_per_request"] = _int(alerts_per_request, "--alerts-per-request", 1, 50)
    if max_connections is not None:
        prof["max_connections"] = _int(max_connections, "--max-connections", 1)
    if processes is not None:
        prof["processes"] = _int(processes, "--processes", 1)
    profiles = tuple(dataclasses.replace(p, **prof) for p in cfg.profiles)
    return dataclasses.replace(cfg, profiles=profiles, **run)
