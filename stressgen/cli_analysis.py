"""``stressgen ceiling`` and ``stressgen compare``: options -> config objects -> engine calls."""

from __future__ import annotations

import click
import orjson

from stressgen import config as config_module
from stressgen import presets
from stressgen.ceiling import CeilingConfig, find_ceiling
from stressgen.ceiling_search import Criteria, SearchPlan
from stressgen.cli_types import DURATION, FRACTION
from stressgen.compare import Tolerances, compare, format_comparison
from stressgen.compare_run import compare_urls
from stressgen.compare_summary import load_summary
from stressgen.config import RunConfig
from stressgen.config_file import load_config
from stressgen.emulator import EmulatorConfig
from stressgen.engine.report import redact_url
from stressgen.errors import ConfigError, ExitCode
from stressgen.units import parse_rate_per_second


def _base_config(config_path: str | None, preset_name: str | None) -> RunConfig:
    if config_path and preset_name:
        raise ConfigError("--profile", preset_name, "used without --config (choose one)")
    return load_config(config_path) if config_path else presets.preset(preset_name or "default")


def _preset(name: str) -> RunConfig:
    if name not in presets.PRESETS:
        raise ConfigError("PROFILE", name, f"one of {', '.join(presets.PRESETS)}")
    return presets.preset(name)


def _rate(value: str | None, flag: str, default: float) -> float:
    return default if value is None else parse_rate_per_second(value, flag)


@click.command("ceiling")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML/JSON file.")
@click.option("--profile", "preset_name", help="A named preset (default: 'default').")
@click.option("--url", help="Synchronizer URL; none: one built-in emulator for the whole search.")
@click.option(
    "--latency",
    "--emulator-latency",
    "latency",
    type=DURATION,
    default="0",
    help="Forwarder latency of the built-in emulator (when no --url), e.g. 15ms.",
)
@click.option("--start-rate", help="First step, all profiles together (default 10/s).")
@click.option("--factor", type=float, default=2.0, show_default=True, help="Ramp multiplier.")
@click.option(
    "--precision", type=FRACTION, default="5%", show_default=True, help="Bisection stops here."
)
@click.option("--max-rate", help="The ramp stops here (default 100000/s).")
@click.option("--min-rate", help="Ramping down, stop here (default 1/s, or --start-rate if lower).")
@click.option("--warmup", type=DURATION, default="5s", show_default=True, help="Per step.")
@click.option("--hold", type=DURATION, default="20s", show_default=True, help="Judged, per step.")
@click.option("--confirm", type=DURATION, default="0", help="A final hold at the ceiling.")
@click.option("--cooldown", type=DURATION, default="0", help="A pause between steps.")
@click.option("--min-success", type=FRACTION, default="99.9%", show_default=True)
@click.option(
    "--min-achieved",
    type=FRACTION,
    default="99%",
    show_default=True,
    help="Achieved rate as a share of the target.",
)
@click.option(
    "--max-p99", type=DURATION, default="1s", show_default=True, help="p99 from due time."
)
@click.option("--workers", type=int, help="Workers per profile.")
@click.option("--timeout", help="Per-request timeout (default 30s).")
@click.option("--alerts-per-request", type=int, help="Alerts bulked per request (1-50).")
@click.option("--max-connections", type=int, help="Connection cap per profile process.")
@click.option("--seed", type=int, help="Seed for payload ids.")
@click.option("--report-json", type=click.Path(dir_okay=False), help="Write every step here.")
def ceiling_command(
    config_path: str | None,
    preset_name: str | None,
    url: str | None,
    latency: float,
    start_rate: str | None,
    factor: float,
    precision: float,
    max_rate: str | None,
    min_rate: str | None,
    warmup: float,
    hold: float,
    confirm: float,
    cooldown: float,
    min_success: float,
    min_achieved: float,
    max_p99: float,
    workers: int | None,
    timeout: str | None,
    alerts_per_request: int | None,
    max_connections: int | None,
    seed: int | None,
    report_json: str | None,
) -> int:
    """Find the highest alert rate the target sustains.

    Exponential ramp until a step fails, then bisection to --precision. Each step runs
    --warmup then --hold at a constant rate (all profiles together, shared as their rates
    are) and passes with --min-success, --min-achieved and --max-p99 all met. Rates are
    alerts per second in all; like --rate, a bare number is per minute (write 10/s).
    """
    run = config_module.with_overrides(
        _base_config(config_path, preset_name),
        url=url,
        workers=workers,
        timeout=timeout,
        alerts_per_request=alerts_per_request,
        max_connections=max_connections,
        seed=seed,
    )
    start = _rate(start_rate, "--start-rate", 10.0)
    plan = SearchPlan(
        start_rate=start,
        factor=factor,
        precision=precision,
        max_rate=_rate(max_rate, "--max-rate", max(100_000.0, start)),
        min_rate=_rate(min_rate, "--min-rate", min(1.0, start)),
    )
    criteria = Criteria(
        min_success_rate=min_success,
        min_achieved_fraction=min_achieved,
        max_p99_ms=max_p99 * 1000.0,
    )
    config = CeilingConfig(
        run=run,
        plan=plan,
        criteria=criteria,
        warmup_s=warmup,
        hold_s=hold,
        confirm_s=confirm,
        cooldown_s=cooldown,
        report_json=report_json,
    )
    emulator = EmulatorConfig(port=0, latency_s=latency, quiet=True)
    return int(find_ceiling(config, emulator=emulator).exit_code)


@click.command("compare")
@click.argument("args", nargs=-1, metavar="[BASE.json CANDIDATE.json | PROFILE...]")
@click.option(
    "--url", "urls", multiple=True, help="Twice: base then candidate; runs PROFILE(s) on both."
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="With --url.")
@click.option("--rounds", type=int, default=3, show_default=True, help="Alternating rounds.")
@click.option("--duration", default="10s", show_default=True, help="Each run's length.")
@click.option("--rate", help="Per worker: 500 (per minute), 50/s or 3000/min.")
@click.option("--workers", type=int, help="Workers per profile.")
@click.option("--timeout", help="Per-request timeout (default 30s).")
@click.option("--seed", type=int, help="Seed for payload ids.")
@click.option("--max-rate-drop", type=FRACTION, default="2%", show_default=True)
@click.option("--max-success-drop", type=FRACTION, default="0.1%", show_default=True)
@click.option(
    "--max-failure-increase",
    type=FRACTION,
    default="0.1%",
    show_default=True,
    help="Per failure reason, as a share of requests.",
)
@click.option("--max-latency-increase", type=FRACTION, default="10%", show_default=True)
@click.option(
    "--latency-slack",
    type=DURATION,
    default="1ms",
    show_default=True,
    help="Latency rises within this never regress.",
)
@click.option("--max-ceiling-drop", type=FRACTION, default="5%", show_default=True)
@click.option("--report-json", type=click.Path(dir_okay=False), help="Write the rows here.")
def compare_command(
    args: tuple[str, ...],
    urls: tuple[str, ...],
    config_path: str | None,
    rounds: int,
    duration: str,
    rate: str | None,
    workers: int | None,
    timeout: str | None,
    seed: int | None,
    max_rate_drop: float,
    max_success_drop: float,
    max_failure_increase: float,
    max_latency_increase: float,
    latency_slack: float,
    max_ceiling_drop: float,
    report_json: str | None,
) -> int:
    """Compare two runs: two report files, or the same profile run against two URLs.

    'stressgen compare base.json candidate.json' reads reports written by 'stressgen run'
    or 'stressgen ceiling' with --report-json. 'stressgen compare --url A --url B
    [PROFILE...]' runs each preset (default: 'default'; or --config) against A and B in
    alternating rounds. Exit code 1 when the candidate regresses beyond a tolerance.
    """
    tolerances = Tolerances(
        max_rate_drop=max_rate_drop,
        max_success_drop=max_success_drop,
        max_failure_increase=max_failure_increase,
        max_latency_increase=max_latency_increase,
        latency_slack_ms=latency_slack * 1000.0,
        max_ceiling_drop=max_ceiling_drop,
    )
    results = []
    if not urls:
        if config_path is not None or len(args) != 2:
            raise ConfigError(
                "compare", " ".join(args), "two report files, or --url A --url B [PROFILE...]"
            )
        base = load_summary(args[0], "base report")
        candidate = load_summary(args[1], "candidate report")
        comparison = compare(base, candidate, tolerances)
        click.echo(format_comparison(comparison, args[0], args[1]))
        results.append(("", comparison.to_dict()))
    else:
        if len(urls) != 2:
            raise ConfigError("--url", list(urls), "given exactly twice: --url BASE --url CAND")
        if config_path is not None and args:
            raise ConfigError("PROFILE", " ".join(args), "used without --config (choose one)")
        bases = (
            [(config_path, load_config(config_path))]
            if config_path
            else [(name, _preset(name)) for name in args or ("default",)]
        )
        for name, base_config in bases:
            run = config_module.with_overrides(
                base_config,
                duration=duration,
                rate=rate,
                workers=workers,
                timeout=timeout,
                seed=seed,
                progress_interval="1h",
            )
            for url in urls:  # both URLs fail as --url, before any traffic
                config_module.with_overrides(run, url=url)
            click.echo(f"Profile {name}: {rounds} round(s) of {duration} against each URL")
            outcome = compare_urls(run, urls[0], urls[1], rounds=rounds, tolerances=tolerances)
            if outcome is None:
                click.echo("stressgen compare: interrupted", err=True)
                return int(ExitCode.INTERRUPTED)
            click.echo(format_comparison(outcome, redact_url(urls[0]), redact_url(urls[1])))
            results.append((name, outcome.to_dict()))
    if report_json:
        data = [{"profile": name, **result} for name, result in results]
        with open(report_json, "wb") as fh:
            fh.write(orjson.dumps(data if urls else data[0], option=orjson.OPT_INDENT_2))
    regressed = any(result["verdict"] == "REGRESSED" for _, result in results)
    return int(ExitCode.THRESHOLDS_FAILED if regressed else ExitCode.OK)
