"""``stressgen run`` through its Python API against real emulators in their own processes:
counts on both sides, rates, late sends, every failure reason, presets' validity."""

from __future__ import annotations

import contextlib
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stressgen import presets
from stressgen.config import ProfileConfig, RunConfig, Stage, with_overrides
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.pacer import profile_schedules
from stressgen.errors import ExitCode
from stressgen.runner import RunOutcome, run


@contextlib.contextmanager
def emulator(**overrides: Any) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(EmulatorConfig(port=0, quiet=True, **overrides)) as emu:
        yield emu


TRANSPORTS = pytest.mark.parametrize("transport", ["fast", "aiohttp"])


def one_profile(
    url: str | None, rate_per_s: float, seconds: float, transport: str = "auto", **profile: Any
) -> RunConfig:
    return RunConfig(
        url=url,
        duration_s=seconds,
        profiles=(ProfileConfig(name="p", rate_per_s=rate_per_s, **profile),),
        progress_interval_s=3600,
        transport=transport,
    )


def run_quietly(config: RunConfig) -> tuple[RunOutcome, str]:
    out = io.StringIO()
    outcome = run(config, out=out)
    return outcome, out.getvalue()


def totals(outcome: RunOutcome) -> dict[str, Any]:
    result: dict[str, Any] = outcome.report["totals"]
    return result


def counters(outcome: RunOutcome) -> dict[str, Any]:
    result: dict[str, Any] = outcome.report["profiles"][0]["counters"]
    return result


def assert_counted_once(outcome: RunOutcome) -> None:
    for profile in outcome.report["profiles"]:
        c = profile["counters"]
        assert c["requests_sent"] == (
            c["requests_accepted"] + c["requests_failed"] + c["in_flight_at_stop"]
        )


@TRANSPORTS
@pytest.mark.parametrize(("rate", "workers"), [(50.0, 2), (2000.0, 4)])
def test_rate_is_held_and_counts_match_both_sides(
    rate: float, workers: int, transport: str
) -> None:
    """10-second runs: the achieved rate is within 2% of the target and the emulator
    accepted exactly what the report says was accepted."""
    with emulator() as emu:
        config = one_profile(emu.url, rate / workers, 10.0, transport, worker_count=workers)
        outcome, text = run_quietly(config)
        stats = emu.stats()
    t = totals(outcome)
    assert outcome.exit_code == ExitCode.OK, text
    assert t["expected_alerts"] == round(rate * 10)
    assert t["alerts_sent"] == t["expected_alerts"]
    assert t["alerts_accepted"] == t["alerts_sent"]
    assert stats["alerts_accepted"] == t["alerts_accepted"]
    assert stats["distinct_unique_ids"] == t["alerts_accepted"]
    assert stats["alerts_invalid"] == 0
    achieved = t["alerts_accepted"] / outcome.report["send_span_s"]
    assert achieved == pytest.approx(rate, rel=0.02)
    # On time, not just in total: the sends left when they were due.
    lateness = outcome.report["profiles"][0]["latency_ms"]["lateness"]
    assert lateness["p99"] < 100, lateness
    assert outcome.report["duration_s"] < 12
    assert_counted_once(outcome)


@TRANSPORTS
def test_late_sends_counted_when_target_is_slower_than_the_rate(transport: str) -> None:
    """100/s into a 50/s emulator through 2 connections: sends queue and go out late,
    but every one goes out and is answered; the verdict says the run fell short."""
    with emulator(latency_s=0.02) as emu:
        config = one_profile(emu.url, 100.0, 2.0, transport, max_connections=2)
        outcome, text = run_quietly(config)
        stats = emu.stats()
    c = counters(outcome)
    assert c["requests_sent"] == 200
    assert c["requests_accepted"] == 200 == stats["accepted"]
    assert c["late_sends"] > 100
    assert c["max_lateness_ms"] > 1000
    due = outcome.report["profiles"][0]["latency_ms"]["from_due"]
    sent = outcome.report["profiles"][0]["latency_ms"]["from_sent"]
    assert due["p99"] > 10 * sent["p99"]  # coordinated omission is visible, not hidden
    assert "late sends: " in text


@TRANSPORTS
def test_connection_refused_is_counted_and_explained(transport: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome, text = run_quietly(one_profile(f"http://127.0.0.1:{port}", 20.0, 1.0, transport))
    c = counters(outcome)
    assert c["requests_sent"] == 20
    assert c["failures"] == {"connection_refused": 20}
    # A refusal is not an answer: it must not make a target that is down look fast.
    assert outcome.report["profiles"][0]["latency_ms"]["from_due"]["count"] == 0
    assert "latency from due : no answers" in text
    assert outcome.exit_code == ExitCode.RUN_FAILED
    assert "Result: FAILED: the target accepted no alerts" in text
    assert "port-forward" in text


@pytest.mark.parametrize(
    ("fault", "profile", "reason"),
    [
        ({"error_rate": 1.0, "error_status": 503}, {}, "http_503"),
        ({"drop_rate": 1.0}, {}, "server_disconnected"),
        ({"latency_s": 2.0}, {"timeout_s": 0.3}, "timeout"),
    ],
)
def test_each_failure_reason(fault: dict[str, Any], profile: dict[str, Any], reason: str) -> None:
    """Each reason counted once per request; only answers (a 503 is one) are timed."""
    with emulator(**fault) as emu:
        outcome, _ = run_quietly(one_profile(emu.url, 10.0, 1.0, **profile))
        stats = emu.stats()
    c = counters(outcome)
    assert c["requests_sent"] == 10
    assert c["failures"] == {reason: 10}
    timed = outcome.report["profiles"][0]["latency_ms"]["from_due"]["count"]
    assert timed == (10 if reason.startswith("http_") else 0)
    assert c["requests_accepted"] == 0 == stats["accepted"]
    assert outcome.exit_code == ExitCode.RUN_FAILED


@TRANSPORTS
def test_partial_errors_counted_exactly(transport: str) -> None:
    with emulator(error_rate=0.25, seed=3) as emu:
        outcome, _ = run_quietly(one_profile(emu.url, 100.0, 2.0, transport))
        stats = emu.stats()
    c = counters(outcome)
    assert c["requests_sent"] == 200
    assert c["failures"] == {"http_500": stats["injected_errors"]}
    assert c["requests_accepted"] == stats["accepted"] == 200 - stats["injected_errors"]
    assert c["statuses"] == {"202": stats["accepted"], "500": stats["injected_errors"]}
    assert outcome.report["profiles"][0]["latency_ms"]["from_sent"]["count"] == 200


@TRANSPORTS
def test_refusal_windows_keep_the_schedule(transport: str) -> None:
    """The target goes down for 0.4 s every second: the run keeps its schedule, and the
    failures and acceptances add up exactly on both sides."""
    with emulator(refuse_every_s=1.0, refuse_for_s=0.4) as emu:
        outcome, _ = run_quietly(one_profile(emu.url, 50.0, 2.5, transport, timeout_s=2.0))
        for _ in range(40):  # the stats endpoint is down during a window too
            try:
                stats = emu.stats()
                break
            except OSError:
                time.sleep(0.05)
    c = counters(outcome)
    assert c["requests_sent"] == 125
    assert c["requests_failed"] > 0
    assert c["requests_accepted"] == stats["accepted"]
    assert_counted_once(outcome)


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_sends_valid_alerts(name: str) -> None:
    with emulator(reject_invalid=True) as emu:
        config = with_overrides(presets.preset(name), url=emu.url, duration="1.5s")
        config = with_overrides(config, progress_interval="1h")
        outcome, text = run_quietly(config)
        stats = emu.stats()
    assert outcome.exit_code == ExitCode.OK, text
    assert stats["alerts_invalid"] == 0
    assert stats["alerts_valid"] == totals(outcome)["alerts_accepted"] > 0
    assert stats["distinct_unique_ids"] == stats["alerts_valid"]
    rules = {p.rule_id for p in config.profiles}
    assert set(stats["alerts_by_rule"]) == rules


@TRANSPORTS
def test_bulk_requests_count_alerts(transport: str) -> None:
    with emulator() as emu:
        outcome, _ = run_quietly(one_profile(emu.url, 10.0, 1.0, transport, alerts_per_request=5))
        stats = emu.stats()
    t = totals(outcome)
    assert t["alerts_sent"] == 50 == t["alerts_accepted"] == stats["alerts_accepted"]
    assert stats["requests"] == 10


@TRANSPORTS
def test_a_stage_ramp_achieves_each_rate(transport: str) -> None:
    """1 s at 20/s, a 2 s linear ramp to 220/s, 1 s there: 20 + 240 + 220 = 480 alerts,
    counted alike on both sides, and each ~1 s row of the report's series holds what the
    schedule asked for in its span (within the board's 0.1 s publishing lag)."""
    profile = ProfileConfig(
        name="p",
        rate_per_s=20.0,
        stages=(Stage(1.0, 20.0), Stage(2.0, 220.0), Stage(1.0, 220.0)),
    )
    with emulator() as emu:
        config = RunConfig(
            url=emu.url,
            duration_s=4.0,
            profiles=(profile,),
            progress_interval_s=3600,
            transport=transport,
        )
        outcome, text = run_quietly(config)
        stats = emu.stats()
    t = totals(outcome)
    assert outcome.exit_code == ExitCode.OK, text
    assert t["expected_alerts"] == 480
    assert t["alerts_sent"] == t["alerts_accepted"] == stats["alerts_accepted"] == 480
    (schedule,) = profile_schedules(profile, 4.0)
    rows = outcome.report["series"]["profiles"]["p"]
    assert sum(row[1] for row in rows) == 480
    start = 0.0
    for row in rows:
        end = min(row[0], 4.0)
        asked = schedule.count_due(end) - schedule.count_due(start)
        assert row[1] == pytest.approx(asked, abs=0.15 * 220), (row, asked, rows)
        start = end
    per_round = [row[1] for row in rows]
    assert per_round[0] < 40 and max(per_round) > 180, rows  # the ramp is there


def test_no_url_runs_against_the_builtin_emulator() -> None:
    outcome, text = run_quietly(one_profile(None, 20.0, 1.0))
    assert "No target given: started the built-in synchronizer emulator" in text
    assert outcome.report["emulator"]["alerts_accepted"] == 20
    assert totals(outcome)["alerts_accepted"] == 20
    assert outcome.exit_code == ExitCode.OK


def test_report_json_holds_mergeable_histograms(tmp_path: Any) -> None:
    import orjson

    from stressgen.engine.histogram import LatencyHistogram

    path = tmp_path / "report.json"
    with emulator() as emu:
        config = with_overrides(one_profile(emu.url, 20.0, 1.0), report_json=str(path))
        run_quietly(config)
    report = orjson.loads(path.read_bytes())
    hist = LatencyHistogram.from_dict(report["profiles"][0]["histograms"]["from_due"])
    assert hist.count == 20
    assert report["verdict"]["status"] == "PASSED"
