"""``stressgen merge`` and ``stressgen plot``: report files in, a report or a PNG out."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from stressgen.engine.report import exit_code, format_report
from stressgen.errors import ConfigError
from stressgen.reports.merge import load_report, merge_reports
from stressgen.reports.plot import plot_reports
from stressgen.thresholds import parse_threshold


@click.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the merged report here."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="Judge the merged report by these (default: the thresholds of the inputs).",
)
def merge_command(reports: tuple[str, ...], output: str | None, thresholds: tuple[str, ...]) -> int:
    """Merge reports of several runs or machines (taken as simultaneous) into one.

    Per profile, by name: counters summed, histograms added; totals, thresholds and the
    verdict are computed again. Exits as the merged run would have (0, 1, 4 or 130).
    """
    parsed = [parse_threshold(t, "--threshold") for t in thresholds] or None
    loaded = [load_report(path) for path in reports]
    merged = merge_reports(loaded, [Path(p).name for p in reports], parsed)
    click.echo(format_report(merged))
    if output:
        try:
            Path(output).write_bytes(orjson.dumps(merged, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise ConfigError("--output", output, f"a writable file ({exc.strerror})") from None
        click.echo(f"Merged report written to {output}")
    return int(exit_code(merged))


@click.command("plot")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PNG file.")
def plot_command(reports: tuple[str, ...], output: str) -> None:
    """Plot reports, overlaid: latency by percentile, and p99, rate and failures over time."""
    loaded = [(Path(path).name, load_report(path)) for path in reports]
    plot_reports(loaded, output)
    click.echo(f"Plot written to {output}")
