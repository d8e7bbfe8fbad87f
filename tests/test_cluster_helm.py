"""The cluster side's helm and secret handling, as tables: redaction, credentials, the
seed's values, the up/down plans, --set parsing and the application profile's state.
No processes, no sockets."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from stressgen.cluster.commands import Command, is_secret_key, redact, scrub
from stressgen.cluster.config import ClusterConfig, KubeAccess, parse_set
from stressgen.cluster.helm import (
    SEED_VALUES,
    credential_warnings,
    credentials_from_env,
    down_plan,
    helm_install,
    install_values,
    nest,
    profile_state,
    secrets_of,
    up_plan,
    workload_manifest,
)
from stressgen.errors import ConfigError

CREDS = {"account": "acct-1234", "accessKey": "AK-sekrit-99", "server": "api.example.io"}
GUID = "0b6a7c1e-3f2d-4e5a-9b8c-7d6e5f4a3b2c"
UPSTREAM_HELM_KWARGS: dict[str, object] = {
    "capabilities.manageWorkloads": "enable",
    "capabilities.configurationScan": "disable",
    "capabilities.continuousScan": "disable",
    "capabilities.nodeScan": "disable",
    "capabilities.vulnerabilityScan": "disable",
    "grypeOfflineDB.enabled": "false",
    "capabilities.relevancy": "enable",
    "capabilities.runtimeObservability": "enable",
    "capabilities.malwareDetection": "enable",
    "capabilities.runtimeDetection": "enable",
    "capabilities.nodeProfileService": "enable",
    "alertCRD.installDefault": True,
    "alertCRD.scopeClustered": True,
    "nodeAgent.config.maxLearningPeriod": "60s",
    "nodeAgent.config.learningPeriod": "50s",
    "nodeAgent.config.updatePeriod": "30s",
    "nodeAgent.config.nodeProfileInterval": "1m",
    "logger.level": "debug",
    "capabilities.httpDetection": "disable",
    "capabilities.admissionController": "disable",
    "capabilities.networkEventsStreaming": "enable",
    "capabilities.nodeSbomGeneration": "disable",
    "nodeAgent.config.networkStreamingInterval": "5s",
    "nodeAgent.config.profilesCacheRefreshRate": "5s",
}
"""``BackendStressTest.helm_kwargs`` of the seed (armosec/system-tests,
tests_scripts/runtime/stress/stress_backend_only.py), copied as it is written there."""


def as_helm_reads(value: object) -> object:
    """A value the seed gives helm as ``--set k=v`` (``f"{k}={v}"``), as helm types it:
    true/false in any case are booleans, the rest strings here."""
    text = str(value)
    return {"true": True, "false": False}.get(text.lower(), text)


def _profile(name: str, status: str, completion: str) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"kubescape.io/workload-name": name},
            "annotations": {"kubescape.io/status": status, "kubescape.io/completion": completion},
        }
    }


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("key=abc123 and abc123", ["abc123"], "key=*** and ***"),
        ("nothing here", ["abc123"], "nothing here"),
        ("empty secret ignored", [""], "empty secret ignored"),
        ("b64: " + base64.b64encode(b"abc123").decode(), ["abc123"], "b64: ***"),
        ("quoted: a%2Fb%3Dc", ["a/b=c"], "quoted: ***"),
        ("long abcdef beats abc", ["abc", "abcdef"], "long *** beats ***"),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.x-y", "Authorization: Bearer ***"),
        ("error: token=abc123; retry", "error: token=***; retry"),
        ("accessKey: AK-1 rejected", "accessKey: *** rejected"),
        ('error: services "synchronizer" not found', 'error: services "synchronizer" not found'),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("accessKey", True),
        ("account", True),
        ("secretKey", True),
        ("clientID", True),
        ("imagePullSecret.password", True),
        ("a.b.token", True),
        ("clusterName", False),
        ("nodeAgent.config.learningPeriod", False),
        ("capabilities.runtimeDetection", False),
    ],
)
def test_secret_looking_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {}),
        # the seed's API credentials are not chart values: not mapped to anything
        ({"CUSTOMER": "c", "CLIENT_ID": "i", "SECRET_KEY": "s"}, {"account": "c"}),
        ({"STRESSGEN_SECRET_KEY": "s", "STRESSGEN_CLIENT_ID": "i"}, {}),
        ({"CUSTOMER": "seed", "STRESSGEN_ACCOUNT": "mine"}, {"account": "mine"}),
        ({"STRESSGEN_ACCOUNT": " ", "CUSTOMER": "seed"}, {"account": "seed"}),
        (
            {"STRESSGEN_ACCESS_KEY": "k", "STRESSGEN_SERVER": "api.x"},
            {"accessKey": "k", "server": "api.x"},
        ),
    ],
)
def test_credentials_from_env(env: dict[str, str], expected: dict[str, str]) -> None:
    assert credentials_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "sets", "expected"),
    [
        ({"STRESSGEN_ACCOUNT": GUID, "STRESSGEN_ACCESS_KEY": "ak-9"}, (), []),
        ({"CUSTOMER": GUID.upper(), "STRESSGEN_ACCESS_KEY": "ak-9"}, (), []),
        ({"STRESSGEN_ACCOUNT": GUID}, ("clusterName=c,accessKey=ak-9",), []),
        (
            {"CUSTOMER": "YourCustomerName", "STRESSGEN_ACCESS_KEY": "ak-9"},
            (),
            ["CUSTOMER does not look like an account GUID"],
        ),
        ({"STRESSGEN_ACCOUNT": GUID}, (), ["STRESSGEN_ACCESS_KEY is not set: installing without"]),
        (
            {"STRESSGEN_ACCOUNT": GUID, "CLIENT_ID": "cid-9", "SECRET_KEY": "sk-9"},
            (),
            ["(CLIENT_ID and SECRET_KEY are the seed's API credentials, not an access key"],
        ),
    ],
)
def test_credential_warnings(
    env: dict[str, str], sets: tuple[str, ...], expected: list[str]
) -> None:
    """One line each, never a value."""
    cfg = ClusterConfig(sets=sets)
    warnings = credential_warnings(cfg, credentials_from_env(env), env)
    assert len(warnings) == len(expected)
    for line, words in zip(warnings, expected, strict=True):
        assert words in line and "\n" not in line
        assert not any(v in line for v in ("YourCustomerName", GUID, "cid-9", "sk-9", "ak-9"))


def test_seed_values_are_the_seeds_but_debug_logging() -> None:
    """Every one of the seed's helm values, as helm reads its --set, is in SEED_VALUES with
    the same value, and nothing else is; only logger.level=debug is left out (on purpose:
    debug logging slows the components under load)."""
    upstream = {k: as_helm_reads(v) for k, v in UPSTREAM_HELM_KWARGS.items()}
    assert set(upstream) - set(SEED_VALUES) == {"logger.level"}
    assert set(SEED_VALUES) <= set(upstream)
    for key, value in SEED_VALUES.items():
        assert value == upstream[key], key
    assert len(SEED_VALUES) == len(upstream) - 1 == 23
    # and they reach helm's values document nested, with helm's types
    values = install_values(ClusterConfig(), {"account": GUID})
    for key, value in SEED_VALUES.items():
        node: object = values
        for part in key.split("."):
            assert isinstance(node, dict)
            node = node[part]
        assert node == value and type(node) is type(value), key


def test_nest() -> None:
    assert nest({"a.b": 1, "a.c.d": 2, "e": 3}) == {"a": {"b": 1, "c": {"d": 2}}, "e": 3}


def test_helm_install_keeps_secrets_off_the_command_line() -> None:
    cfg = ClusterConfig(
        kube=KubeAccess(context="ctx", kubeconfig="/k"),
        chart_version="1.2.3",
        values_files=("mine.yaml",),
        sets=("nodeAgent.config.learningPeriod=2m", "imagePullSecret.password=pw-77"),
    )
    command = helm_install(cfg, CREDS)
    argv = list(command.argv)
    assert argv[:5] == ["helm", "upgrade", "--install", "kubescape", "kubescape/kubescape-operator"]
    # stdin values first, then the user's file, then the user's --set: later ones win
    assert argv.index("-") < argv.index("mine.yaml") < argv.index("--set")
    assert argv[argv.index("--version") + 1] == "1.2.3"
    assert argv[-4:] == ["--kube-context", "ctx", "--kubeconfig", "/k"]
    assert not any(s in " ".join(argv) for s in ("acct-1234", "AK-sekrit-99"))
    values = yaml.safe_load(command.stdin or b"")
    assert values["account"] == "acct-1234" and values["accessKey"] == "AK-sekrit-99"
    assert values["server"] == "api.example.io" and values["clusterName"] == "stress-test-cluster"
    assert values["capabilities"]["runtimeDetection"] == "enable"
    assert values["capabilities"]["vulnerabilityScan"] == "disable"
    assert values["alertCRD"] == {"installDefault": True, "scopeClustered": True}
    assert values["nodeAgent"]["config"]["learningPeriod"] == "50s"
    shown = (command.shown_stdin or "") + command.display()
    assert "acct-1234" not in shown and "AK-sekrit-99" not in shown and "pw-77" not in shown
    assert "imagePullSecret.password=***" in command.display()


def test_install_needs_an_account() -> None:
    with pytest.raises(ConfigError, match="STRESSGEN_ACCOUNT"):
        helm_install(ClusterConfig(), {"accessKey": "k"})
    # unless --set gives it (masked like any secret-looking value)
    command = helm_install(ClusterConfig(sets=(f"account={GUID}",)), {})
    assert GUID not in command.display() and "account=***" in command.display()


@pytest.mark.parametrize(
    ("sets", "secrets"),
    [
        (("clusterName=x,accessKey=LEAKME1",), ["LEAKME1"]),
        (("a=1,b.c=2,imagePullSecret.password=pw",), ["pw"]),
        (("clusterName=x\\,accessKey=NOT-A-KEY",), []),  # one value: "x,accessKey=..."
        (("token=a\\,b",), ["a\\,b", "a,b"]),  # as written and as helm reads it
        (("tokens={t1,t2},x=1",), ["{t1,t2}", "t1", "t2"]),
        (("x={a,accessKey=no},y=1",), []),  # list items are not keys
        (("capabilities.runtimeDetection=enable",), []),
    ],
)
def test_every_set_value_is_checked_for_secrets(sets: tuple[str, ...], secrets: list[str]) -> None:
    """helm cuts --set at unescaped commas outside {lists}: each part's key decides."""
    cfg = ClusterConfig(sets=sets)
    assert set(secrets_of(cfg, {})) == set(secrets)
    shown = helm_install(cfg, {"account": "a"}).display()
    assert not any(secret in shown for secret in secrets)


def test_up_and_down_plans() -> None:
    cfg = ClusterConfig(kube=KubeAccess(context="c"))
    up = [s.display() for s in up_plan(cfg, CREDS)]
    assert up[0].startswith("helm repo add kubescape https://kubescape.github.io/helm-charts/")
    assert up[1].startswith("helm repo update kubescape")
    assert up[2].startswith("helm upgrade --install kubescape")
    assert up[3].startswith("kubectl --context c rollout status deployment/synchronizer")
    assert up[4] == "kubectl --context c apply -f -"
    assert "deployment/stress-test-workload" in up[5]
    assert up[6].startswith("kubectl --context c get applicationprofiles.spdx")
    down = [s.display() for s in down_plan(cfg)]
    assert down[0].startswith("kubectl --context c delete namespace stress-test-namespace")
    assert down[1].startswith("helm uninstall kubescape --namespace kubescape")
    uninstall = down_plan(cfg)[1]
    assert isinstance(uninstall, Command) and uninstall.tolerate == "not found"


def test_workload_manifest() -> None:
    docs = list(yaml.safe_load_all(workload_manifest(ClusterConfig(workload_name="w"))))
    assert [d["kind"] for d in docs] == ["Namespace", "Deployment"]
    assert docs[1]["metadata"] == {
        "name": "w",
        "namespace": "stress-test-namespace",
        "labels": {"app": "w", "app.kubernetes.io/managed-by": "stressgen"},
    }


@pytest.mark.parametrize(
    ("items", "done", "words"),
    [
        ([], False, "no application profile yet"),
        ([_profile("other", "completed", "complete")], False, "no application profile yet"),
        ([_profile("w", "ready", "partial")], False, "learning (status ready, completion partial)"),
        # the seed's test is status == completed; a partial completion is said, not waited on
        ([_profile("w", "completed", "partial")], True, "completed (completion: partial)"),
        ([_profile("w", "completed", "complete")], True, "completed (completion: complete)"),
        (
            [
                {
                    "metadata": {
                        "annotations": {
                            "kubescape.io/wlid": "wlid://cluster-c/namespace-n/deployment-w",
                            "kubescape.io/status": "completed",
                            "kubescape.io/completion": "complete",
                        }
                    }
                }
            ],
            True,
            "complete",
        ),
    ],
)
def test_profile_state(items: list[dict[str, Any]], done: bool, words: str) -> None:
    result = profile_state({"items": items}, "w")
    assert result[0] is done and words in result[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b=1", [("a.b", "1")]),
        ("k=", [("k", "")]),
        ("k=a=b", [("k", "a=b")]),
        ("x[0]=y", [("x[0]", "y")]),
        ("a=1,b=2", [("a", "1"), ("b", "2")]),
        ("a=1,", [("a", "1")]),
        ("a=x\\,y,b=2", [("a", "x\\,y"), ("b", "2")]),
        ("a={1,2},b=3", [("a", "{1,2}"), ("b", "3")]),
        ("a=1{2,b=3}", [("a", "1{2"), ("b", "3}")]),  # a list only when the value starts it
    ],
)
def test_parse_set(text: str, expected: list[tuple[str, str]]) -> None:
    assert list(parse_set(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("novalue", "--set: 'novalue' is not KEY=VALUE"),
        ("=v", "--set: '=***' is not KEY=VALUE"),
        # the value of a malformed part is never shown: it may be a secret
        ("imagePullSecret password=X-SECRET", "--set: 'imagePullSecret password=***' is not"),
        ("a=1,b c=X-SECRET", "--set: 'b c=***' is not KEY=VALUE, like"),
        ("a=1,,b=2", "--set: '' is not KEY=VALUE"),
    ],
)
def test_parse_set_rejects_without_showing_values(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_set(text)
    assert str(info.value).startswith(message)
    assert "X-SECRET" not in str(info.value) and "X-SECRET" not in repr(info.value.value)
    if "," in text:
        assert "write one in a value as \\," in str(info.value)


def test_cluster_config_checks_its_sets() -> None:
    with pytest.raises(ConfigError, match=r"--set: 'a b=\*\*\*'"):
        ClusterConfig(sets=("x=1", "a b=c"))
