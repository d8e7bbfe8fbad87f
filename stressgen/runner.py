"""``stressgen run`` as a Python API: config in, report and exit code out.

Resolves the target (the built-in emulator when no URL is given), validates the alert
templates before any traffic, runs the supervisor with live progress, then builds,
prints and writes the report. The CLI, tests and benchmarks all call :func:`run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.report import build_report, format_progress, format_report, redact_url
from stressgen.engine.supervisor import Progress, Supervisor
from stressgen.engine.worker import WorkerSpec
from stressgen.errors import ConfigError, ExitCode
from stressgen.payloads import AlertTemplate, alerts_url

DRAIN_S = 5.0
RATE_PER_PROCESS = 1000.0
"""Requests/s one aiohttp worker process sustains with room to spare on this class of
machine (about 0.3-0.5 ms of CPU per request); above it a profile is spread over more
processes, up to one per core and one per worker."""


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What :func:`run` returns: the full report and the exit code it calls for."""

    report: dict[str, Any]
    exit_code: ExitCode


def template_for(config: RunConfig, index: int, profile: ProfileConfig) -> AlertTemplate:
    """The alert template of one profile; errors name ``alert_profiles[i].<field>``."""
    values: dict[str, Any] = {
        "alert_name": profile.alert_name,
        "rule_id": profile.rule_id,
        "severity": profile.severity,
        "syscall": profile.syscall,
        "alerts_per_request": profile.alerts_per_request,
        "cluster_name": config.cluster_name,
        "namespace": profile.namespace or config.namespace,
    }
    optional = {
        "workload_name": profile.workload_name,
        "pod_name_prefix": profile.pod_name,
        "container_name": profile.container_name,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    try:
        return AlertTemplate(**values)
    except ConfigError as exc:
        key = {"namespace": "namespace", "pod_name_prefix": "pod_name"}.get(exc.field, exc.field)
        raise ConfigError(f"alert_profiles[{index}].{key}", exc.value, exc.expected) from None


def auto_processes(profile: ProfileConfig) -> int:
    """How many processes a profile gets when its config does not say."""
    wanted = math.ceil(profile.peak_total_rate_per_s / RATE_PER_PROCESS)
    return max(1, min(wanted, os.cpu_count() or 1, profile.worker_count))


def build_specs(config: RunConfig, url: str) -> list[WorkerSpec]:
    """One spec per worker process: each profile's workers spread over its processes."""
    specs: list[WorkerSpec] = []
    for index, profile in enumerate(config.profiles):
        template = template_for(config, index, profile)
        processes = min(profile.processes or auto_processes(profile), profile.worker_count)
        for share in range(processes):
            specs.append(
                WorkerSpec(
                    profile=profile,
                    template=template,
                    url=url,
                    duration_s=config.duration_s,
                    workers=tuple(range(share, profile.worker_count, processes)),
                    row=len(specs),
                    seed=config.seed,
                    drain_s=DRAIN_S,
                )
            )
    return specs


@contextlib.contextmanager
def _target(
    config: RunConfig, emulator: EmulatorConfig, out: TextIO
) -> Iterator[tuple[str, EmulatorProcess | None]]:
    if config.url is not None:
        yield alerts_url(config.url, "synchronizer_url"), None
        return
    with EmulatorProcess(emulator) as emu:
        print(
            f"No target given: started the built-in synchronizer emulator at {emu.url}",
            file=out,
            flush=True,
        )
        yield alerts_url(emu.url), emu


def run(
    config: RunConfig,
    *,
    out: TextIO | None = None,
    emulator: EmulatorConfig | None = None,
) -> RunOutcome:
    """Run a whole stress test and return its report; prints progress and the report."""
    out = out or sys.stdout
    emulator = emulator or EmulatorConfig(port=0, quiet=True)
    with _target(config, emulator, out) as (url, emu):
        specs = build_specs(config, url)
        total = sum(p.total_rate_per_s * p.alerts_per_request for p in config.profiles)
        print(
            f"Sending to {redact_url(url)}: {len(config.profiles)} profile(s), "
            f"{total:,.1f} alerts/s for {config.duration_s:g}s",
            file=out,
            flush=True,
        )

        def progress(p: Progress) -> None:
            line = format_progress(
                p.elapsed_s,
                config.duration_s,
                p.totals["alerts_sent"],
                p.totals["alerts_failed"],
                p.interval_s,
                p.interval_alerts,
                p.interval_p99_ms,
            )
            print(line, file=out, flush=True)

        slowest = max(p.timeout_s for p in config.profiles)
        supervisor = Supervisor(
            specs,
            progress_interval_s=config.progress_interval_s,
            on_progress=progress,
            hard_deadline_s=config.duration_s + slowest + DRAIN_S + 30.0,
        )
        result = supervisor.run()
        emulator_stats = emu.stats() if emu is not None else None
    report = build_report(config, result, url=url, emulator_stats=emulator_stats)
    print(format_report(report), file=out, flush=True)
    if config.report_json:
        Path(config.report_json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"Report written to {config.report_json}", file=out, flush=True)
    status = report["verdict"]["status"]
    code = {"PASSED": ExitCode.OK, "INTERRUPTED": ExitCode.INTERRUPTED}.get(
        status, ExitCode.RUN_FAILED
    )
    return RunOutcome(report, code)
