"""``stressgen cluster up|down`` and ``stressgen doctor``, and the port-forward flags of
``stressgen run``: options -> :mod:`stressgen.cluster` config objects -> its API."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from stressgen.cli_types import DURATION
from stressgen.cluster import ClusterConfig, ForwardConfig, KubeAccess
from stressgen.cluster.config import FORWARD_MODES
from stressgen.cluster.doctor import run_doctor
from stressgen.cluster.lifecycle import cluster_down, cluster_up
from stressgen.errors import ExitCode
from stressgen.payloads import alerts_url

_KUBE_OPTIONS = (
    click.option("--kube-context", help="kubectl/helm context (default: the current one)."),
    click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file."),
    click.option(
        "--kubescape-namespace",
        default="kubescape",
        show_default=True,
        help="Namespace of Kubescape and its synchronizer.",
    ),
)
_FORWARD_OPTIONS = (
    click.option(
        "--port-forward",
        "port_forward",
        type=click.Choice(FORWARD_MODES),
        default="auto",
        show_default=True,
        help="auto: when the URL is on localhost and no HTTP server answers there yet.",
    ),
    click.option("--synchronizer-service", default="synchronizer", show_default=True),
    click.option("--synchronizer-port", type=int, default=8089, show_default=True),
    click.option(
        "--port-forward-timeout",
        type=DURATION,
        default="30s",
        show_default=True,
        help="How long the forward may take to answer /healthz.",
    ),
)


def _apply(func: Callable[..., Any], options: tuple[Callable[..., Any], ...]) -> Any:
    for option in reversed(options):
        func = option(func)
    return func


def kube_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --kube-context, --kubeconfig and --kubescape-namespace to a command."""
    result: Callable[..., Any] = _apply(func, _KUBE_OPTIONS)
    return result


def forward_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the kube and port-forward flags to a command; it receives them as one
    ``forward: ForwardConfig`` keyword argument."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        kube_context: str | None,
        kubeconfig: str | None,
        kubescape_namespace: str,
        port_forward: str,
        synchronizer_service: str,
        synchronizer_port: int,
        port_forward_timeout: float,
        **kwargs: Any,
    ) -> Any:
        kwargs["forward"] = ForwardConfig(
            mode=port_forward,
            namespace=kubescape_namespace,
            service=synchronizer_service,
            remote_port=synchronizer_port,
            ready_timeout_s=port_forward_timeout,
            kube=KubeAccess(context=kube_context, kubeconfig=kubeconfig),
        )
        return func(*args, **kwargs)

    result: Callable[..., Any] = _apply(wrapper, _KUBE_OPTIONS + _FORWARD_OPTIONS)
    return result


@click.group("cluster")
def cluster() -> None:
    """Install or remove Kubescape (runtime detection) and a test workload."""


@cluster.command("up")
@kube_options
@click.option("--dry-run", is_flag=True, help="Only print the commands (secrets masked).")
@click.option("--release", default="kubescape", show_default=True, help="Helm release name.")
@click.option("--chart-version", help="kubescape-operator chart version (default: latest).")
@click.option("--cluster-name", default="stress-test-cluster", show_default=True)
@click.option("--server", help="Backend API server (env STRESSGEN_SERVER; api.armosec.io).")
@click.option(
    "-f",
    "--values",
    "values_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Extra values file for helm (repeatable; overrides the seed's values).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    help="Extra helm value(s) KEY=VALUE[,KEY=VALUE] as helm reads them (repeatable).",
)
@click.option("--workload-namespace", default="stress-test-namespace", show_default=True)
@click.option("--workload-name", default="stress-test-workload", show_default=True)
@click.option("--workload-image", default="nginx:1.27-alpine", show_default=True)
@click.option("--pods-timeout", type=DURATION, default="6m", show_default=True)
@click.option("--profile-timeout", type=DURATION, default="10m", show_default=True)
@click.option("--poll-interval", type=DURATION, default="5s", hidden=True)
def cluster_up_command(
    dry_run: bool,
    release: str,
    chart_version: str | None,
    cluster_name: str,
    server: str | None,
    values_files: tuple[str, ...],
    sets: tuple[str, ...],
    workload_namespace: str,
    workload_name: str,
    workload_image: str,
    pods_timeout: float,
    profile_timeout: float,
    poll_interval: float,
    kube_context: str | None,
    kubeconfig: str | None,
    kubescape_namespace: str,
) -> int:
    """Install the kubescape-operator chart as the seed does, deploy a test workload and
    wait until its application profile is complete.

    Credentials from the environment: STRESSGEN_ACCOUNT (or the seed's CUSTOMER; the
    account's GUID), STRESSGEN_ACCESS_KEY (warned about when missing), STRESSGEN_SERVER.
    The seed's CLIENT_ID/SECRET_KEY are API credentials and are not used. They reach helm
    on its standard input, never its command line.
    """
    cfg = ClusterConfig(
        kube=KubeAccess(context=kube_context, kubeconfig=kubeconfig),
        namespace=kubescape_namespace,
        release=release,
        chart_version=chart_version,
        cluster_name=cluster_name,
        server=server,
        values_files=values_files,
        sets=sets,
        workload_namespace=workload_namespace,
        workload_name=workload_name,
        workload_image=workload_image,
        pods_timeout_s=pods_timeout,
        profile_timeout_s=profile_timeout,
        poll_interval_s=poll_interval,
    )
    cluster_up(cfg, os.environ, dry_run=dry_run)
    return int(ExitCode.OK)


@cluster.command("down")
@kube_options
@click.option("--dry-run", is_flag=True, help="Only print the commands.")
@click.option("--release", default="kubescape", show_default=True, help="Helm release name.")
@click.option("--workload-namespace", default="stress-test-namespace", show_default=True)
def cluster_down_command(
    dry_run: bool,
    release: str,
    workload_namespace: str,
    kube_context: str | None,
    kubeconfig: str | None,
    kubescape_namespace: str,
) -> int:
    """Delete the test workload's namespace and uninstall the release."""
    cfg = ClusterConfig(
        kube=KubeAccess(context=kube_context, kubeconfig=kubeconfig),
        namespace=kubescape_namespace,
        release=release,
        workload_namespace=workload_namespace,
    )
    cluster_down(cfg, dry_run=dry_run)
    return int(ExitCode.OK)


@click.command("doctor")
@click.option("--url", help="Synchronizer URL (default: the cluster through localhost:8089).")
@forward_options
def doctor(url: str | None, forward: ForwardConfig) -> int:
    """Check what a run against a cluster needs, with the fix for each failure.

    In order: kubectl and helm present; the cluster reachable; the Kubescape namespace and
    the synchronizer pod running; the endpoint answering /healthz (through a port-forward
    if needed); one real test alert answered 202. Exit code 0: all passed; 3: not all.
    """
    if url is not None:
        alerts_url(url, "--url")  # a bad URL fails here, as a usage error
    ok = run_doctor(url, forward, out=sys.stdout)
    return int(ExitCode.OK if ok else ExitCode.COULD_NOT_START)
