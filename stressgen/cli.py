"""The ``stressgen`` command: translates options into config objects and calls the engine.

No engine logic lives here. Every failure becomes one line on stderr and a named exit code
(:class:`stressgen.errors.ExitCode`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from stressgen import __version__
from stressgen.cli_analysis import ceiling_command, compare_command
from stressgen.cli_cluster import cluster, doctor
from stressgen.cli_emulate import emulate
from stressgen.cli_reports import merge_command, plot_command
from stressgen.cli_run import profiles_command, run_command
from stressgen.errors import ConfigError, ExitCode, StressgenError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stressgen")
def cli() -> None:
    """Load generator for Kubescape's runtime-alert pipeline (node-agent -> synchronizer)."""


for command in (
    run_command,
    profiles_command,
    emulate,
    cluster,
    doctor,
    merge_command,
    plot_command,
    ceiling_command,
    compare_command,
):
    cli.add_command(command)


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
