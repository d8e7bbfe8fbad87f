"""The config file: the seed's keys as they are, YAML and JSON, and errors naming the key."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stressgen.config import Stage
from stressgen.config_file import DEFAULT_DURATION_S, from_mapping, load_config
from stressgen.errors import ConfigError, ExitCode

SEED: dict[str, Any] = {
    "duration_minutes": 10,
    "synchronizer_url": "http://localhost:8089/apis/v1/kubescape.io",
    "cluster_name": "stress-test-cluster",
    "namespace": "stress-test-namespace",
    "alert_profiles": [
        {
            "name": "unexpected_syscall",
            "rate_per_minute": 500,
            "worker_count": 2,
            "alert_name": "Unexpected system call",
            "rule_id": "R0003",
            "severity": 1,
            "syscall": "sched_yield",
        }
    ],
}

SEED_YAML = """\
backend_stress_config:
  duration_minutes: 10
  synchronizer_url: "http://localhost:8089/apis/v1/kubescape.io"
  cluster_name: stress-test-cluster
  namespace: stress-test-namespace
  alert_profiles:
    - {name: profile_1, rate_per_minute: 500, worker_count: 2}
    - {name: profile_2, rate_per_minute: 400, worker_count: 2}
    - {name: profile_3, rate_per_minute: 600, worker_count: 2}
"""


def seed(**changes: Any) -> dict[str, Any]:
    """The seed mapping with top-level changes (None deletes a key)."""
    data = copy.deepcopy(SEED)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def seed_profile(**changes: Any) -> dict[str, Any]:
    """The seed with a second profile: its first profile with ``changes`` (None deletes)."""
    profile = copy.deepcopy(SEED["alert_profiles"][0]) | {"name": "second"}
    for key, value in changes.items():
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    return seed(alert_profiles=[*SEED["alert_profiles"], profile])


def message(data: dict[str, Any], source: str = "cfg.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        from_mapping(data, source)
    text = str(info.value)
    assert "\n" not in text
    assert info.value.exit_code is ExitCode.USAGE
    return text


def test_the_seed_mapping_is_accepted_as_it_is() -> None:
    cfg = from_mapping(SEED, "seed")
    assert cfg.url == "http://localhost:8089/apis/v1/kubescape.io"
    assert cfg.duration_s == 600.0
    assert (cfg.cluster_name, cfg.namespace) == ("stress-test-cluster", "stress-test-namespace")
    (profile,) = cfg.profiles
    assert profile.name == "unexpected_syscall"
    assert profile.rate_per_s == pytest.approx(500 / 60)
    assert profile.worker_count == 2
    assert (profile.alert_name, profile.rule_id, profile.severity, profile.syscall) == (
        "Unexpected system call",
        "R0003",
        1,
        "sched_yield",
    )
    assert profile.total_rate_per_s == pytest.approx(1000 / 60)
    assert (profile.alerts_per_request, profile.timeout_s, profile.stages) == (1, 30.0, ())


def test_the_seed_wrapper_and_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "stress.yaml"
    path.write_text(SEED_YAML)
    cfg = load_config(path)
    assert [p.name for p in cfg.profiles] == ["profile_1", "profile_2", "profile_3"]
    assert cfg.total_rate_per_s * 60 == pytest.approx(3000)  # the seed's sustainable total
    assert from_mapping({"backend_stress_config": SEED}) == from_mapping(SEED)


@pytest.mark.parametrize("name", ["c.json", "c.conf", "c"])
def test_json_by_extension_or_by_content(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(SEED))
    assert load_config(str(path)) == from_mapping(SEED)


def test_yaml_by_content_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "stress.conf"
    path.write_text(SEED_YAML)
    assert len(load_config(path).profiles) == 3


def test_keys_beyond_the_seed() -> None:
    data = seed(duration_minutes=None, duration="1m30s", progress_interval="5s", timeout="2s")
    data["hlog"], data["hlog_interval"] = "run.hlog", "10s"
    data["max_connections"] = 7  # top-level defaults for every profile...
    data["alert_profiles"] = [
        {
            "name": "a",
            "rate": "50/s",
            "alerts_per_request": 10,
            "max_connections": 3,  # ...that a profile can override
            "processes": 4,
            "pod_name": "pod-1",
            "workload_name": "wl",
            "container_name": "c",
            "namespace": "other",
        },
        {"name": "b", "rate": 120, "processes": "auto", "severity": 0},
    ]
    cfg = from_mapping(data)
    a, b = cfg.profiles
    assert cfg.duration_s == 90.0 and cfg.progress_interval_s == 5.0
    assert (cfg.hlog, cfg.hlog_interval_s) == ("run.hlog", 10.0)
    assert (a.rate_per_s, a.worker_count, a.alerts_per_request) == (50.0, 1, 10)
    assert (a.max_connections, b.max_connections, a.timeout_s, b.timeout_s) == (3, 7, 2.0, 2.0)
    assert (a.processes, b.processes) == (4, None)
    assert (a.pod_name, a.workload_name, a.container_name, a.namespace) == (
        "pod-1",
        "wl",
        "c",
        "other",
    )
    assert b.rate_per_s == 2.0  # a bare number is per minute, as in the seed
    assert b.namespace is None and cfg.namespace == "stress-test-namespace"


def test_stages_ramp_and_default_duration() -> None:
    profile = {
        "name": "ramp",
        "worker_count": 2,
        "stages": [
            {"duration": "10s", "rate": "10/s"},
            {"duration": 0, "rate": "100/s"},
            {"duration": "5s", "rate": "0/s"},
            {"duration": "1s", "rate": 0},
        ],
    }
    cfg = from_mapping(seed(duration_minutes=None, alert_profiles=[profile]))
    (p,) = cfg.profiles
    assert p.rate_per_s == 0.0  # k6: the first stage ramps from the start rate, 0 by default
    assert p.stages == (Stage(10, 10), Stage(0, 100), Stage(5, 0), Stage(1, 0))
    assert cfg.duration_s == p.stages_duration_s == 16.0
    assert p.peak_total_rate_per_s == 200.0
    with_start = from_mapping(seed(alert_profiles=[profile | {"rate": "5/s"}])).profiles[0]
    assert with_start.rate_per_s == 5.0


def test_no_duration_at_all_uses_the_default() -> None:
    assert from_mapping(seed(duration_minutes=None)).duration_s == DEFAULT_DURATION_S


def test_null_url_means_the_emulator() -> None:
    assert from_mapping(seed(synchronizer_url=None)).url is None
    data = seed()
    data["synchronizer_url"] = None
    assert from_mapping(data).url is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            seed_profile(rate_per_minute=-5),
            "alert_profiles[1].rate_per_minute: -5 is not a positive rate",
        ),
        (seed_profile(rate_per_minute="500"), "alert_profiles[1].rate_per_minute: '500' is not"),
        (seed_profile(severity="1"), "alert_profiles[1].severity: '1' is not a whole number"),
        (seed_profile(severity=True), "alert_profiles[1].severity: True is not"),
        (seed_profile(worker_count=0), "alert_profiles[1].worker_count: 0 is not a whole number"),
        (seed_profile(worker_count=2.5), "alert_profiles[1].worker_count: 2.5 is not"),
        (
            seed_profile(alerts_per_request=51),
            "alert_profiles[1].alerts_per_request: 51 is not a whole number of at least 1 and at"
            " most 50",
        ),
        (seed_profile(alert_name=""), "alert_profiles[1].alert_name: '' is not a non-empty string"),
        (seed_profile(rule_id=3), "alert_profiles[1].rule_id: 3 is not a non-empty string"),
        (seed_profile(timeout="soon"), "alert_profiles[1].timeout: 'soon' is not a duration"),
        (seed_profile(timeout="0s"), "alert_profiles[1].timeout: '0s' is not a duration greater"),
        (seed_profile(max_connections=0), "alert_profiles[1].max_connections: 0 is not"),
        (seed_profile(processes="many"), "alert_profiles[1].processes: 'many' is not"),
        (
            seed_profile(rate_per_minute=None, rate="fast"),
            "alert_profiles[1].rate: 'fast' is not a positive rate",
        ),
        (
            seed_profile(rate_per_minute=None, rate="0/s"),
            "alert_profiles[1].rate: '0/s' is not a positive rate",
        ),
        (
            seed_profile(rate="50/s"),
            "alert_profiles[1].rate: '50/s' is not allowed with rate_per_minute",
        ),
        (seed_profile(rate_per_minute=None), "alert_profiles[1]: {"),
        (
            seed_profile(name="unexpected_syscall"),
            "alert_profiles[1].name: 'unexpected_syscall' is not a unique name",
        ),
        (
            seed_profile(rate_per_minut=5),
            "alert_profiles[1]: 'rate_per_minut' is not a known key"
            " (did you mean rate_per_minute?)",
        ),
        (seed_profile(stages=[]), "alert_profiles[1].stages: [] is not a non-empty list"),
        (
            seed_profile(stages=[{"duration": "1s"}]),
            "alert_profiles[1].stages[0]: {'duration': '1s'} is not a stage like",
        ),
        (
            seed_profile(stages=[{"duration": "1s", "rate": "1/s", "rat": 1}]),
            "alert_profiles[1].stages[0]: 'rat' is not a known key (did you mean rate?)",
        ),
        (
            seed_profile(stages=[{"duration": "-1s", "rate": "1/s"}]),
            "alert_profiles[1].stages[0].duration: '-1s' is not a duration",
        ),
        (
            seed_profile(stages=[{"duration": "1s", "rate": "0/fortnight"}]),
            "alert_profiles[1].stages[0].rate: '0/fortnight' is not a rate",
        ),
        (
            seed_profile(stages=[{"duration": "1s", "rate": -1}]),
            "alert_profiles[1].stages[0].rate: -1 is not a positive rate",
        ),
        (
            seed_profile(stages=[{"duration": "0s", "rate": "1/s"}]),
            "alert_profiles[1].stages: (Stage(",
        ),
        (seed_profile(stages="fast"), "alert_profiles[1].stages: 'fast' is not a non-empty list"),
        (seed(duration_minutes=0), "duration_minutes: 0 is not a positive number"),
        (seed(duration_minutes="10"), "duration_minutes: '10' is not a positive number"),
        (seed(duration="30s"), "duration: '30s' is not allowed with duration_minutes"),
        (seed(duration_minutes=None, duration=[1]), "duration: [1] is not a duration like 30s"),
        (
            seed(synchronizer_url="ftp://host/x"),
            "synchronizer_url: 'ftp://host/x' is not an http:// or https:// URL",
        ),
        (
            seed(synchronizer_url="localhost:8089"),
            "synchronizer_url: 'localhost:8089' is not an http",
        ),
        (seed(synchronizer_url="http://"), "synchronizer_url: 'http://' is not an http"),
        (seed(synchronizer_url="http://h:port/"), "synchronizer_url: 'http://h:port/' is not"),
        (seed(cluster_name=""), "cluster_name: '' is not a non-empty string"),
        (seed(alert_profiles=[]), "alert_profiles: [] is not a non-empty list of profiles"),
        (seed(alert_profiles=None), "alert_profiles: None is not a non-empty list of profiles"),
        (seed(alert_profiles=["x"]), "alert_profiles[0]: 'x' is not a mapping"),
        (seed(seed=-1), "seed: -1 is not a whole number of at least 0"),
        (seed(hlog_interval="often"), "hlog_interval: 'often' is not a duration"),
        (
            seed(durationminutes=3),
            "cfg.yaml: 'durationminutes' is not a known key (did you mean duration_minutes",
        ),
        (seed(zzz=3), "cfg.yaml: 'zzz' is not a known key (valid: synchronizer_url, cluster_name"),
        (
            {"backend_stress_config": SEED, "name": "x"},
            "cfg.yaml: 'name' is not allowed next to backend_stress_config",
        ),
        (
            {"backend_stress_config": seed(severity=1)},
            "backend_stress_config: 'severity' is not a known key",
        ),
        (
            {"backend_stress_config": seed_profile(severity="1")},
            "backend_stress_config.alert_profiles[1].severity: '1' is not",
        ),
        ({"backend_stress_config": [SEED]}, "backend_stress_config: [{"),
    ],
)
def test_mistakes_name_the_key_the_value_and_the_expectation(
    data: dict[str, Any], expected: str
) -> None:
    assert message(data).startswith(expected)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file: '.*nope\.yaml' is not a readable file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "bad.yaml",
            "duration: 30s\nalert_profiles:\n  - name: a: b\n",
            r"bad\.yaml:3:\d+: '- name: a: b' is not valid YAML \(mapping values",
        ),
        ("bad.yml", "a: [1, 2\n", r"bad\.yml:2:1: '' is not valid YAML"),
        (
            "bad.json",
            '{\n  "duration": 30,\n}\n',
            r"bad\.json:3:1: '}' is not valid JSON \(Expecting property name",
        ),
        ("list.yaml", "- 1\n- 2\n", r"list\.yaml: \[1, 2\] is not a mapping of settings"),
        ("empty.yaml", "", r"empty\.yaml: None is not a mapping of settings"),
    ],
)
def test_unparsable_files_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    assert re.search(expected, str(info.value)), str(info.value)
