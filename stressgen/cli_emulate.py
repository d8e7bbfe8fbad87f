"""``stressgen emulate``: options -> :class:`EmulatorConfig` -> :func:`run_emulator`."""

from __future__ import annotations

import click

from stressgen.cli_types import DURATION, FRACTION, SIZE
from stressgen.emulator import EmulatorConfig, run_emulator


@click.command()
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
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Serve https: PEM certificate.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="...and its PEM private key.")
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
    tls_cert: str | None,
    tls_key: str | None,
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
        tls_cert=tls_cert,
        tls_key=tls_key,
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
