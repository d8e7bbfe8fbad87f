"""The ``stressgen`` command: translates options into config objects and calls the engine.

No engine logic lives here. Every failure becomes one line on stderr and a named exit code
(:class:`stressgen.errors.ExitCode`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from stressgen import __version__, presets, runner
from stressgen import config as config_module
from stressgen.cli_types import DURATION, FRACTION, SIZE
from stressgen.config_file import load_config
from stressgen.emulator import EmulatorConfig, run_emulator
from stressgen.errors import ConfigError, ExitCode, StressgenError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stressgen")
def cli() -> None:
    """Load generator for Kubescape's runtime-alert pipeline (node-agent -> synchronizer)."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8089, show_default=True, type=int, help="Port (0: any free one).")
@click.option("--latency", type=DURATION, default="0", help="Backend write time per message.")
@click.option("--jitter", type=DURATION, default="0", help="± uniform jitter on --latency.")
@click.option("--stall-every", type=DURATION, default="0", help="Stall the backend this often.")
@click.option("--stall-for", type=DURATION, default="0", help="...for this long each time.")
@click.option("--error-rate", type=FRACTION, default="0", help="Fraction answered --error-status.")
@click.option("--error-status", type=int, default=500, show_default=True)
@click.option("--drop-rate", type=FRACTION, default="0", help="Fraction closed with no answer.")
@click.option("--refuse-every", type=DURATION, default="0", help="Go down this often...")
@click.option("--refuse-for", type=DURATION, default="0", help="...closing and refusing for this.")
@click.option("--reject-invalid", is_flag=True, help="Answer 400 to invalid alerts (real: 202).")
@click.option("--max-body", type=SIZE, default="64MiB", show_default=True)
@click.option("--read-timeout", type=DURATION, default="5s", show_default=True)
@click.option("--write-timeout", type=DURATION, default="10s", show_default=True)
@click.option("--idle-timeout", type=DURATION, default="120s", show_default=True)
@click.option("--seed", type=int, default=None, help="Seed for jitter and fault draws.")
@click.option("--exit-after", type=DURATION, default=None, help="Stop by itself after this.")
@click.option("--quiet", is_flag=True, help="No start line and no summary.")
def emulate(
    host: str,
    port: int,
    latency: float,
    jitter: float,
    stall_every: float,
    stall_for: float,
    error_rate: float,
    error_status: int,
    drop_rate: float,
    refuse_every: float,
    refuse_for: float,
    reject_invalid: bool,
    max_body: int,
    read_timeout: float,
    write_timeout: float,
    idle_timeout: float,
    seed: int | None,
    exit_after: float | None,
    quiet: bool,
) -> None:
    """Serve a synchronizer emulator until Ctrl-C / SIGTERM (or --exit-after).

    It answers POST /apis/v1/kubescape.io/v1/runtimealerts like the real synchronizer,
    forwards one message at a time taking --latency each (capacity ~ 1/latency), validates
    every alert strictly, and serves its counters at GET /stats (POST /reset clears them).
    """
    config = EmulatorConfig(
        host=host,
        port=port,
        latency_s=latency,
        jitter_s=jitter,
        stall_every_s=stall_every,
        stall_for_s=stall_for,
        error_rate=error_rate,
        error_status=error_status,
        drop_rate=drop_rate,
        refuse_every_s=refuse_every,
        refuse_for_s=refuse_for,
        reject_invalid=reject_invalid,
        max_body_bytes=max_body,
        read_timeout_s=read_timeout,
        write_timeout_s=write_timeout,
        idle_timeout_s=idle_timeout,
        seed=seed,
        quiet=quiet,
    )

    def ready(url: str) -> None:
        if quiet:
            return
        capacity = f"~{1 / latency:,.0f} alerts/s" if latency > 0 else "unlimited"
        click.echo(
            f"Synchronizer emulator on {url}/apis/v1/kubescape.io/v1/runtimealerts "
            f"(forwarder capacity {capacity}); stats at {url}/stats; Ctrl-C stops",
            err=False,
        )

    run_emulator(config, on_ready=ready, run_for_s=exit_after)


@cli.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML/JSON file.")
@click.option("--profile", "preset_name", help="A named preset (see 'stressgen profiles').")
@click.option("--url", help="Synchronizer URL; none: run against the built-in emulator.")
@click.option("--duration", help="Run length: 30s, 10m... (default: the config's).")
@click.option("--rate", help="Per worker: 500 (per minute), 50/s or 3000/min.")
@click.option("--workers", type=int, help="Workers per profile.")
@click.option("--timeout", help="Per-request timeout (default 30s).")
@click.option("--alerts-per-request", type=int, help="Alerts bulked per request (1-50).")
@click.option("--max-connections", type=int, help="Connection cap per profile process.")
@click.option("--processes", type=int, help="Processes per profile.")
@click.option("--progress-interval", help="How often to print progress (default 30s).")
@click.option("--report-json", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--seed", type=int, help="Seed for payload ids (repeatable bodies).")
@click.option(
    "--emulator-latency",
    type=DURATION,
    default="0",
    help="Forwarder latency of the built-in emulator (when no --url).",
)
def run_command(
    config_path: str | None,
    preset_name: str | None,
    url: str | None,
    duration: str | None,
    rate: str | None,
    workers: int | None,
    timeout: str | None,
    alerts_per_request: int | None,
    max_connections: int | None,
    processes: int | None,
    progress_interval: str | None,
    report_json: str | None,
    seed: int | None,
    emulator_latency: float,
) -> int:
    """Send alerts on an open-loop schedule and report what happened.

    With no --config or --profile the 'default' preset runs (the seed's R0003 profile,
    500/min x 2 workers). With no --url (and none in the config) the built-in
    synchronizer emulator is started and targeted.
    """
    if config_path and preset_name:
        raise ConfigError("--profile", preset_name, "used without --config (choose one)")
    base = load_config(config_path) if config_path else presets.preset(preset_name or "default")
    config = config_module.with_overrides(
        base,
        url=url,
        duration=duration,
        rate=rate,
        workers=workers,
        timeout=timeout,
        alerts_per_request=alerts_per_request,
        max_connections=max_connections,
        processes=processes,
        progress_interval=progress_interval,
        report_json=report_json,
        seed=seed,
    )
    for index, profile in enumerate(config.profiles):
        runner.template_for(config, index, profile)  # bad names fail before any traffic
    emulator = EmulatorConfig(port=0, latency_s=emulator_latency, quiet=True)
    outcome = runner.run(config, emulator=emulator)
    return int(outcome.exit_code)


@cli.command("profiles")
def profiles_command() -> None:
    """List the named presets with their total (peak) rates."""
    for name, description, total in presets.list_presets():
        click.echo(f"{name:<10} {total:8,.1f} alerts/s  {description}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run the command, map every error to one line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="stressgen", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("stressgen: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = "stressgen"
        if ctx is not None and ctx.parent is not None:
            where = f"stressgen {ctx.info_name}"
        message = exc.format_message()
        if isinstance(exc, click.BadParameter) and exc.param is not None and exc.param.opts:
            message = f"{exc.param.opts[0]}: {exc.message}"
        click.echo(f"{where}: error: {message}", err=True)
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except ConfigError as exc:
        click.echo(f"stressgen: error: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    except StressgenError as exc:
        click.echo(f"stressgen: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(int(code or 0))
