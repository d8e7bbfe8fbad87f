"""``stressgen cluster up`` and ``down`` as a Python API: run a plan's steps in order.

Each step is printed (``$ helm ...``, secrets masked) before it runs; with ``dry_run`` it
is only printed, with what it would read on standard input. The first failing step stops
the rest with a :class:`~stressgen.cluster.commands.ToolError` in the tool's own words.
"""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from stressgen.cluster import commands
from stressgen.cluster.commands import Command, ToolError
from stressgen.cluster.config import ClusterConfig
from stressgen.cluster.helm import (
    ACCOUNT_PLACEHOLDER,
    ProfileWait,
    Step,
    api_secrets,
    credential_warnings,
    credentials_from_env,
    down_plan,
    given,
    profile_state,
    up_plan,
)
from stressgen.cluster.target import DEFAULT_CLUSTER_URL


def _wait_for_profile(step: ProfileWait, out: TextIO, clock: Callable[[], float]) -> None:
    deadline = clock() + step.timeout_s
    said = ""
    while True:
        result = commands.run(step.command, check=False)  # a failure may pass: retry
        try:
            if result.returncode != 0:
                lines = (result.stderr or result.stdout).strip().splitlines()
                done, state = False, f"kubectl failed: {lines[0] if lines else result.returncode}"
            else:
                done, state = profile_state(json.loads(result.stdout or "{}"), step.workload)
        except (ValueError, AttributeError):
            done, state = False, "unreadable answer from kubectl"
        if done:
            print(f"Application profile of {step.workload}: {state}", file=out, flush=True)
            return
        if state != said:
            print(f"Application profile of {step.workload}: {state}", file=out, flush=True)
            said = state
        if clock() + step.interval_s > deadline:
            raise ToolError(
                f"the application profile of {step.workload} was not complete within "
                f"{step.timeout_s:g}s ({state}). Check: node-agent pods running "
                f"({step.pods}), and its learning period settings"
            )
        time.sleep(step.interval_s)


def execute(
    steps: list[Step],
    *,
    dry_run: bool,
    out: TextIO,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Print and (unless ``dry_run``) run each step; stop at the first failure."""
    if not dry_run:
        tools = {s.argv[0] if isinstance(s, Command) else s.command.argv[0] for s in steps}
        for tool in sorted(tools):
            commands.find_tool(tool)
    for step in steps:
        print(f"$ {step.display()}", file=out, flush=True)
        command = step if isinstance(step, Command) else None
        if dry_run:
            if command is not None and command.shown_stdin:
                print("  with this on its standard input:", file=out)
                print(textwrap.indent(command.shown_stdin.rstrip(), "    "), file=out)
            continue
        if command is not None:
            commands.run(command)
        elif isinstance(step, ProfileWait):
            _wait_for_profile(step, out, clock)


def cluster_up(
    cfg: ClusterConfig,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Install Kubescape with runtime detection, deploy the test workload and wait until
    its application profile is complete; credentials come from ``env``. Credential
    problems that do not stop an install are warned about on ``err``, one line each; with
    ``dry_run`` a missing account is shown as a placeholder."""
    out = out or sys.stdout
    err = err or sys.stderr
    creds = credentials_from_env(env)
    warnings = []
    if dry_run and not given(cfg, creds, "account"):
        creds["account"] = ACCOUNT_PLACEHOLDER
        warnings.append(
            f"STRESSGEN_ACCOUNT is not set: shown as {ACCOUNT_PLACEHOLDER}; "
            "without --dry-run it is needed"
        )
    plan = up_plan(cfg, creds, api_secrets(env))  # a missing account stops here
    for line in [*warnings, *credential_warnings(cfg, creds, env)]:
        print(f"stressgen: warning: {line}", file=err, flush=True)
    execute(plan, dry_run=dry_run, out=out)
    if not dry_run:
        flags = cfg.kube.flags()
        if cfg.namespace != "kubescape":
            flags += ["--kubescape-namespace", cfg.namespace]
        run = shlex.join(["stressgen", "run", "--url", DEFAULT_CLUSTER_URL, *flags])
        print(
            f"Cluster ready: '{run}' port-forwards to the synchronizer by itself.",
            file=out,
            flush=True,
        )


def cluster_down(cfg: ClusterConfig, *, dry_run: bool = False, out: TextIO | None = None) -> None:
    """Delete the test workload's namespace and uninstall the release."""
    out = out or sys.stdout
    execute(down_plan(cfg), dry_run=dry_run, out=out)
    if not dry_run:
        print("Cluster side removed.", file=out, flush=True)
