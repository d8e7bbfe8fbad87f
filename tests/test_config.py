"""The run configuration: the dataclasses, the CLI flag overrides and the presets."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stressgen.config import ProfileConfig, RunConfig, Stage, with_overrides
from stressgen.config_file import from_mapping
from stressgen.errors import ConfigError
from stressgen.presets import PRESETS, list_presets, preset
from tests.test_config_file import SEED, seed


def test_overrides_apply_to_every_profile_and_name_the_flags() -> None:
    staged = {"name": "s", "stages": [{"duration": "5s", "rate": "5/s"}]}
    cfg = from_mapping(seed(alert_profiles=[SEED["alert_profiles"][0], staged]))
    new = with_overrides(
        cfg,
        url="https://sync.example:443/apis",
        duration="30s",
        rate="50/s",
        workers=3,
        timeout=2,
        alerts_per_request=5,
        max_connections=9,
        processes=2,
        progress_interval="1s",
        report_json="out.json",
        seed=7,
    )
    assert (new.url, new.duration_s, new.progress_interval_s) == (
        "https://sync.example:443/apis",
        30.0,
        1.0,
    )
    assert (new.report_json, new.seed) == ("out.json", 7)
    for p in new.profiles:
        assert (p.rate_per_s, p.worker_count, p.timeout_s, p.stages) == (50.0, 3, 2.0, ())
        assert (p.alerts_per_request, p.max_connections, p.processes) == (5, 9, 2)
    assert [p.name for p in new.profiles] == ["unexpected_syscall", "s"]
    assert with_overrides(cfg) == cfg
    assert cfg.profiles[1].stages  # the original is untouched
    assert with_overrides(cfg, rate=600).profiles[0].rate_per_s == 10.0  # bare: per minute


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"rate": "fast"}, "--rate: 'fast' is not a positive rate"),
        ({"rate": 0}, "--rate: 0 is not a positive rate"),
        ({"workers": 0}, "--workers: 0 is not a whole number of at least 1"),
        ({"duration": "0s"}, "--duration: '0s' is not a duration greater than zero"),
        ({"timeout": "x"}, "--timeout: 'x' is not a duration"),
        ({"alerts_per_request": 60}, "--alerts-per-request: 60 is not"),
        ({"max_connections": -1}, "--max-connections: -1 is not"),
        ({"processes": 0}, "--processes: 0 is not"),
        ({"url": "example.com"}, "--url: 'example.com' is not an http:// or https:// URL"),
        ({"progress_interval": "-1s"}, "--progress-interval: '-1s' is not a duration"),
    ],
)
def test_override_errors_name_the_flag(flags: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        with_overrides(from_mapping(SEED), **flags)
    assert str(info.value).startswith(expected)


def test_programmatic_construction_is_validated_and_frozen() -> None:
    profile = ProfileConfig(name="p", rate_per_s=5, worker_count=4)
    assert profile.rate_per_s == 5.0 and isinstance(profile.rate_per_s, float)
    assert profile.total_rate_per_s == 20.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.worker_count = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"^rate: 0 is not a positive number"):
        ProfileConfig(name="p", rate_per_s=0)
    with pytest.raises(ConfigError, match=r"^severity: '1' is not"):
        ProfileConfig(name="p", rate_per_s=1, severity="1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^duration: -1 is not"):
        Stage(-1, 1)
    with pytest.raises(ConfigError, match=r"^synchronizer_url: 'nope' is not"):
        RunConfig(url="nope", duration_s=1, profiles=(profile,))
    with pytest.raises(ConfigError, match=r"^alert_profiles: \(\) is not a non-empty list"):
        RunConfig(url=None, duration_s=1, profiles=())
    run = RunConfig(url=None, duration_s=1, profiles=[profile])  # type: ignore[arg-type]
    assert run.profiles == (profile,) and hash(run)


def test_presets_are_valid_and_match_the_seed() -> None:
    assert {"default", "sustained", "burst", "smoke"} <= set(PRESETS)
    default = preset("default")
    assert default.profiles[0].rule_id == "R0003"
    assert default.total_rate_per_s * 60 == pytest.approx(1000)  # 500/min x 2 workers
    sustained = preset("sustained")
    assert sustained.total_rate_per_s * 60 == pytest.approx(3000)
    assert [p.rate_per_s * 60 for p in sustained.profiles] == pytest.approx([500, 400, 600])
    assert len({p.rule_id for p in sustained.profiles}) == 3
    assert len({p.alert_name for p in sustained.profiles}) == 3
    burst = preset("burst")
    assert burst.profiles[0].peak_total_rate_per_s > 75  # well above the seed's burst figure
    assert burst.duration_s == burst.profiles[0].stages_duration_s
    assert preset("smoke").total_rate_per_s == 100.0
    listed = {name: total for name, _, total in list_presets()}
    assert listed["sustained"] == pytest.approx(50.0) and listed["burst"] == 300.0
    assert all(description for _, description, _ in list_presets())
    for name in PRESETS:
        assert preset(name).url is None  # the emulator unless --url
    with pytest.raises(ConfigError) as info:
        preset("bursty")
    assert str(info.value) == "--profile: 'bursty' is not one of default, sustained, burst, smoke"
    with pytest.raises(TypeError):
        PRESETS["x"] = PRESETS["default"]  # type: ignore[index]
