"""The emulator's configuration: one frozen dataclass, validated where it is built."""

from __future__ import annotations

import dataclasses

from stressgen.errors import ConfigError

SERVED_RESOURCES: dict[str, dict[str, frozenset[str]]] = {
    "kubescape.io": {
        "v1": frozenset(
            {
                "runtimealerts",
                "networkstreams",
                "nodeprofiles",
                "registrystatuses",
                "aisandboxheartbeats",
            }
        )
    }
}
"""group -> version -> resources the synchronizer's HTTP endpoint serves (the contract's list)."""

ERROR_STATUSES = frozenset({400, 404, 405, 408, 413, 429, 500, 502, 503, 504})


@dataclasses.dataclass(frozen=True)
class EmulatorConfig:
    """Everything ``stressgen emulate`` can be told; defaults answer like the real synchronizer.

    Durations are seconds. Periodic faults (stalls, refusal windows) start one period after
    the emulator starts and repeat every period.
    """

    host: str = "127.0.0.1"
    port: int = 8089
    latency_s: float = 0.0
    """Time the serialised forwarder takes to write one message to the backend."""
    jitter_s: float = 0.0
    """Each write takes ``latency ± uniform(jitter)`` (never below zero)."""
    stall_every_s: float = 0.0
    stall_for_s: float = 0.0
    """The backend stalls for ``stall_for`` every ``stall_every``: nothing is forwarded."""
    error_rate: float = 0.0
    error_status: int = 500
    """A fraction ``error_rate`` of runtime-alert requests is answered ``error_status`` at once."""
    drop_rate: float = 0.0
    """A fraction of runtime-alert requests gets its connection closed with no answer."""
    refuse_every_s: float = 0.0
    refuse_for_s: float = 0.0
    """Every ``refuse_every``, the emulator goes down for ``refuse_for``: open connections are
    closed and new ones refused, as when the synchronizer restarts or a port-forward drops."""
    reject_invalid: bool = False
    """Answer 400 to alerts that fail strict validation (the real synchronizer answers 202)."""
    max_body_bytes: int = 64 * 1024 * 1024
    read_timeout_s: float = 5.0
    write_timeout_s: float = 10.0
    idle_timeout_s: float = 120.0
    sample_count: int = 5
    """How many example reasons to keep per kind of invalid alert."""
    seed: int | None = None
    quiet: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    """Serve https with this certificate and key (PEM files); the real one serves http."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError("--port", self.port, "a port number from 0 to 65535")
        for name in (
            "latency_s",
            "jitter_s",
            "stall_every_s",
            "stall_for_s",
            "refuse_every_s",
            "refuse_for_s",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(_flag(name), getattr(self, name), "a duration of zero or more")
        for name in ("read_timeout_s", "write_timeout_s", "idle_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(_flag(name), getattr(self, name), "a duration above zero")
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(_flag(name), getattr(self, name), "a fraction between 0 and 1")
        if self.error_status not in ERROR_STATUSES:
            allowed = ", ".join(str(s) for s in sorted(ERROR_STATUSES))
            raise ConfigError("--error-status", self.error_status, f"one of {allowed}")
        _check_window("stall", self.stall_every_s, self.stall_for_s)
        _check_window("refuse", self.refuse_every_s, self.refuse_for_s)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert/--tls-key", self.tls_cert or self.tls_key, "both given")
        if self.max_body_bytes <= 0:
            raise ConfigError("--max-body", self.max_body_bytes, "a size above zero")


def _flag(attribute: str) -> str:
    """The command-line flag a config attribute comes from (``stall_every_s`` -> --stall-every)."""
    name = attribute.removesuffix("_s").removesuffix("_bytes")
    return "--" + name.replace("_", "-")


def _check_window(kind: str, every: float, length: float) -> None:
    if (every > 0) != (length > 0):
        raise ConfigError(
            f"--{kind}-every/--{kind}-for",
            f"{every:g}s/{length:g}s",
            "both set above zero (or both left at zero)",
        )
    if every > 0 and length >= every:
        raise ConfigError(f"--{kind}-for", f"{length:g}s", f"shorter than --{kind}-every")
