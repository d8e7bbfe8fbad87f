"""``stressgen run`` and ``stressgen profiles``: options -> :class:`RunConfig` -> runner."""

from __future__ import annotations

import click

from stressgen import config as config_module
from stressgen import presets, runner
from stressgen.cli_types import DURATION
from stressgen.config_file import load_config
from stressgen.emulator import EmulatorConfig
from stressgen.errors import ConfigError


@click.command("run")
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


@click.command("profiles")
def profiles_command() -> None:
    """List the named presets with their total (peak) rates."""
    for name, description, total in presets.list_presets():
        click.echo(f"{name:<10} {total:8,.1f} alerts/s  {description}")
