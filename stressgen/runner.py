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

from stressgen.cluster import ForwardConfig, PortForward, forwarded
from stressgen.cluster.report import annotate, forward_lines, local_target_lines
from stressgen.config import ProfileConfig, RunConfig
from stressgen.emulator import EmulatorConfig, EmulatorProcess
from stressgen.engine.report import (
    build_report,
    exit_code,
    format_progress,
    format_report,
    redact_url,
)
from stressgen.engine.supervisor import Progress, Supervisor
from stressgen.engine.worker import WorkerSpec, give_up_s
from stressgen.errors import ConfigError, ExitCode
from stressgen.payloads import AlertTemplate, alerts_url
from stressgen.reports.hlog import write_histogram_files
from stressgen.reports.intervals import IntervalRecorder

DRAIN_S = 5.0
RATE_PER_PROCESS = {"aiohttp": 1000.0, "fast": 5000.0}
"""Requests/s one worker process sustains with room to spare on this class of machine, by
transport (aiohttp: 0.3-0.5 ms of CPU per request); above it a profile is spread over more
processes, up to one per core (see benchmarks/RESULTS.md)."""


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


def auto_processes(profile: ProfileConfig, transport: str) -> int:
    """How many processes a profile gets when its config does not say."""
    wanted = math.ceil(profile.peak_total_rate_per_s / RATE_PER_PROCESS[transport])
    return max(1, min(wanted, os.cpu_count() or 1))


def resolve_transport(config: RunConfig) -> str:
    """``auto`` means the fast transport unless the run needs aiohttp (an HTTP proxy)."""
    if config.transport == "auto":
        return "aiohttp" if config.proxy else "fast"
    if config.transport == "fast" and config.proxy:
        raise ConfigError("--transport", "fast", "aiohttp or auto when --proxy is set")
    return config.transport


def build_specs(config: RunConfig, url: str) -> list[WorkerSpec]:
    """One spec per worker process; a profile spread over several processes shares its
    schedule out send by send, so together they keep exactly the one schedule."""
    specs: list[WorkerSpec] = []
    transport = resolve_transport(config)
    for index, profile in enumerate(config.profiles):
        template = template_for(config, index, profile)
        processes = profile.processes or auto_processes(profile, transport)
        for shard in range(processes):
            specs.append(
                WorkerSpec(
                    profile=profile,
                    template=template,
                    url=url,
                    duration_s=config.duration_s,
                    shard=shard,
                    shards=processes,
                    row=len(specs),
                    seed=config.seed,
                    transport=transport,
                    proxy=config.proxy,
                    ca_file=config.ca_file,
                    insecure=config.insecure,
                    drain_s=DRAIN_S,
                )
            )
    return specs


@contextlib.contextmanager
def _target(
    config: RunConfig, emulator: EmulatorConfig, forward: ForwardConfig, out: TextIO
) -> Iterator[tuple[str, EmulatorProcess | None, PortForward | None]]:
    with forwarded(config.url, forward, out) as (url, port_forward):
        if url is not None:
            yield alerts_url(url, "synchronizer_url"), None, port_forward
            return
    with EmulatorProcess(emulator) as emu:
        print(
            f"No target given: started the built-in synchronizer emulator at {emu.url}",
            file=out,
            flush=True,
        )
        yield alerts_url(emu.url), emu, None


def run(
    config: RunConfig,
    *,
    out: TextIO | None = None,
    emulator: EmulatorConfig | None = None,
    forward: ForwardConfig | None = None,
) -> RunOutcome:
    """Run a whole stress test and return its report; prints progress and the report.

    ``forward``: when and how to port-forward to the synchronizer (None: never; the CLI's
    default is ``auto``, see :func:`stressgen.cluster.forwarded`)."""
    out = out or sys.stdout
    emulator = emulator or EmulatorConfig(port=0, quiet=True)
    forward = forward or ForwardConfig(mode="never")
    with _target(config, emulator, forward, out) as (url, emu, port_forward):
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
        recorder = IntervalRecorder.for_config(config, keep_histograms=bool(config.hlog))
        supervisor = Supervisor(
            specs,
            progress_interval_s=config.progress_interval_s,
            on_progress=progress,
            hard_deadline_s=give_up_s(config.duration_s) + slowest + DRAIN_S + 30.0,
            recorder=recorder,
        )
        if port_forward is not None:
            port_forward.failed_alerts = supervisor.failed_alerts
        result = supervisor.run()
        emulator_stats = emu.stats() if emu is not None else None
    recorder.finish(result.elapsed_s, {r.name: r.counters.to_dict() for r in result.profiles})
    report = build_report(config, result, url=url, emulator_stats=emulator_stats)
    report["series"] = recorder.series()
    text = format_report(report)
    if port_forward is not None:
        report["port_forward"] = port_forward.summary()
        failed = report["totals"]["alerts_failed"]
        text = annotate(text, forward_lines(report["port_forward"], failed))
    elif emu is None:
        text = annotate(text, local_target_lines(url))
    print(text, file=out, flush=True)
    if config.report_json:
        Path(config.report_json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"Report written to {config.report_json}", file=out, flush=True)
    write_histogram_files(
        report,
        recorder.intervals,
        started_at=result.started_at,
        hlog=config.hlog,
        hgrm=config.hgrm,
        out=out,
    )
    return RunOutcome(report, exit_code(report))
