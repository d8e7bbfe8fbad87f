"""``stressgen run`` and ``stressgen profiles``: options -> :class:`RunConfig` -> runner."""

from __future__ import annotations

import click

from stressgen import config as config_module
from stressgen import presets, runner
from stressgen.cli_cluster import forward_options
from stressgen.cli_types import DURATION
from stressgen.cluster import ForwardConfig
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
    "--threshold",
    "thresholds",
    multiple=True,
    help="Pass/fail check at the end, repeatable: p99<500ms, success>=99.9%, rate>=99%...",
)
@click.option("--hlog", type=click.Path(dir_okay=False), help="Write an HdrHistogram log here.")
@click.option("--hlog-interval", help="The log's interval (default: --progress-interval).")
@click.option("--hgrm", type=click.Path(dir_okay=False), help="Write the percentile table here.")
@click.option(
    "--transport",
    type=click.Choice(["auto", "fast", "aiohttp"]),
    help="HTTP client: fast (lean HTTP/1.1), aiohttp, or auto (fast unless --proxy).",
)
@click.option("--proxy", help="HTTP proxy URL (uses the aiohttp transport).")
@click.option("--ca-file", type=click.Path(dir_okay=False), help="CA bundle for https targets.")
@click.option("--insecure", is_flag=True, default=None, help="Skip TLS certificate checks.")
@click.option(
    "--emulator-latency",
    type=DURATION,
    default="0",
    help="Forwarder latency of the built-in emulator (when no --url).",
)
@forward_options
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
    thresholds: tuple[str, ...],
    hlog: str | None,
    hlog_interval: str | None,
    hgrm: str | None,
    transport: str | None,
    proxy: str | None,
    ca_file: str | None,
    insecure: bool | None,
    emulator_latency: float,
    forward: ForwardConfig,
) -> int:
    """Send alerts on an open-loop schedule and report what happened.

    With no --config or --profile the 'default' preset runs (the seed's R0003 profile,
    500/min x 2 workers). With no --url (and none in the config) the built-in
    synchronizer emulator is started and targeted. A --url on localhost that does not
    answer yet is reached through 'kubectl port-forward' to svc/synchronizer (--port-forward).
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
        thresholds=thresholds,
        hlog=hlog,
        hlog_interval=hlog_interval,
        hgrm=hgrm,
        transport=transport,
        proxy=proxy,
        ca_file=ca_file,
        insecure=insecure,
    )
    runner.resolve_transport(config)  # bad combinations fail before any traffic
    for index, profile in enumerate(config.profiles):
        runner.template_for(config, index, profile)
    emulator = EmulatorConfig(port=0, latency_s=emulator_latency, quiet=True)
    outcome = runner.run(config, emulator=emulator, forward=forward)
    return int(outcome.exit_code)


@click.command("profiles")
def profiles_command() -> None:
    """List the named presets with their total (peak) rates."""
    for name, description, total in presets.list_presets():
        click.echo(f"{name:<10} {total:8,.1f} alerts/s  {description}")
