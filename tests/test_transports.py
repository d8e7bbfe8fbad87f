"""Both transports against real servers on loopback: https with verification on by default,
a CA file, --insecure; and identical accounting of the same faults."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.errors import ConfigError, ExitCode
from stressgen.runner import RunOutcome, resolve_transport, run


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture(scope="module")
def tls_emulator(certificate: tuple[str, str]) -> Iterator[EmulatorProcess]:
    cert, key = certificate
    config = EmulatorConfig(port=0, quiet=True, tls_cert=cert, tls_key=key)
    with EmulatorProcess(config) as emu:
        yield emu


def run_one(url: str, transport: str, **run_options: Any) -> RunOutcome:
    config = RunConfig(
        url=url,
        duration_s=1.0,
        profiles=(ProfileConfig(name="p", rate_per_s=10.0),),
        progress_interval_s=3600,
        transport=transport,
        **run_options,
    )
    return run(config, out=io.StringIO())


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_https_verifies_by_default(tls_emulator: EmulatorProcess, transport: str) -> None:
    assert tls_emulator.url.startswith("https://")
    outcome = run_one(tls_emulator.url, transport)
    counters = outcome.report["profiles"][0]["counters"]
    assert counters["failures"] == {"ssl": 10}
    assert outcome.exit_code == ExitCode.RUN_FAILED


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
@pytest.mark.parametrize("trust", ["ca_file", "insecure"])
def test_https_with_ca_file_or_insecure(
    tls_emulator: EmulatorProcess, certificate: tuple[str, str], transport: str, trust: str
) -> None:
    before = tls_emulator.stats()["accepted"]
    options: dict[str, Any] = (
        {"ca_file": certificate[0]} if trust == "ca_file" else {"insecure": True}
    )
    outcome = run_one(tls_emulator.url, transport, **options)
    assert outcome.exit_code == ExitCode.OK
    assert outcome.report["totals"]["alerts_accepted"] == 10
    assert tls_emulator.stats()["accepted"] - before == 10


@pytest.mark.parametrize(
    ("transport", "proxy", "chosen"),
    [
        ("auto", None, "fast"),
        ("auto", "http://127.0.0.1:3128", "aiohttp"),
        ("aiohttp", None, "aiohttp"),
        ("fast", None, "fast"),
    ],
)
def test_auto_transport_choice(transport: str, proxy: str | None, chosen: str) -> None:
    config = RunConfig(
        url="http://127.0.0.1:1",
        duration_s=1.0,
        profiles=(ProfileConfig(name="p", rate_per_s=1.0),),
        transport=transport,
        proxy=proxy,
    )
    assert resolve_transport(config) == chosen


def test_fast_transport_cannot_use_a_proxy() -> None:
    config = RunConfig(
        url="http://127.0.0.1:1",
        duration_s=1.0,
        profiles=(ProfileConfig(name="p", rate_per_s=1.0),),
        transport="fast",
        proxy="http://127.0.0.1:3128",
    )
    with pytest.raises(ConfigError, match="--transport: 'fast' is not aiohttp or auto"):
        resolve_transport(config)


def test_cli_transport_flag_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        ["python", "-m", "stressgen", "run", "--transport", "fast", "--proxy", "http://p:1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "stressgen: error: --transport: 'fast' is not aiohttp or auto when --proxy is set"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"transport": "curl"}, "transport: 'curl' is not one of auto, fast, aiohttp"),
        ({"insecure": "yes"}, "insecure: 'yes' is not true or false"),
        ({"proxy": "socks5://p:1"}, "proxy: 'socks5://p:1' is not an http:// or https:// URL"),
    ],
)
def test_transport_keys_in_the_config_file(data: dict[str, Any], message: str) -> None:
    from stressgen.config_file import from_mapping

    base = {"alert_profiles": [{"name": "a", "rate_per_minute": 60}]}
    good = from_mapping({**base, "transport": "aiohttp", "insecure": True})
    assert (good.transport, good.insecure) == ("aiohttp", True)
    with pytest.raises(ConfigError) as info:
        from_mapping({**base, **data})
    assert str(info.value).startswith(message)
