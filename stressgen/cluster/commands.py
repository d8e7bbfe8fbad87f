"""Running kubectl and helm: argument lists (never a shell), secrets never shown.

A :class:`Command` carries its argument list, what it reads on standard input, and the
secret values it involves. Whatever stressgen prints of it -- the command line, the
``--dry-run`` listing, the tool's own output when it fails, which may echo a secret back --
goes through :func:`redact` first.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import ctypes
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from stressgen.errors import StartupError

REDACTED = "***"
INSTALL_HINTS = {
    "kubectl": "https://kubernetes.io/docs/tasks/tools/",
    "helm": "https://helm.sh/docs/intro/install/",
}
SECRET_KEY = re.compile(r"(?i)(key|secret|password|passwd|token|account|credential|client_?id)")
"""A helm value whose name matches this holds a secret (``--set accessKey=...``)."""
CREDENTIAL_TEXT = re.compile(
    r"(?i)\b(bearer\s+|(?:token|password|secret|access[-_ ]?key)\s*[=:]\s*)[^\s\"',;]+"
)
"""A credential a tool may print with no secret of ours to match (a kubeconfig's bearer
token in kubectl's error): ``Bearer abc`` -> ``Bearer ***``."""
_HEAD_LINES = 10
_TAIL_LINES = 5
_PR_SET_PDEATHSIG = 1


class ToolError(StartupError):
    """kubectl or helm is missing, failed or took too long (message already redacted)."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``, as given and in the forms a tool may
    echo it (base64 as in a Kubernetes Secret, URL-quoted). Longer secrets go first so a
    secret containing another is masked whole."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= {secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe="")}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def scrub(text: str) -> str:
    """``text`` with credentials that look like one (:data:`CREDENTIAL_TEXT`) masked."""
    return CREDENTIAL_TEXT.sub(lambda m: m.group(1) + REDACTED, text)


def is_secret_key(key: str) -> bool:
    """Whether a helm value named ``key`` (``a.b.accessKey``) should be treated as secret."""
    return bool(SECRET_KEY.search(key.rsplit(".", 1)[-1]))


@dataclass(frozen=True)
class Command:
    """One tool run. ``shown_stdin`` is what listings show of ``stdin`` (secrets masked);
    a failure whose output contains ``tolerate`` counts as success (``release: not found``
    when uninstalling what is not there)."""

    argv: tuple[str, ...]
    stdin: bytes | None = None
    shown_stdin: str | None = None
    secrets: tuple[str, ...] = ()
    timeout_s: float = 60.0
    tolerate: str | None = None

    def display(self) -> str:
        """The command line as a shell would read it, secrets masked (each argument before
        quoting, so quoting cannot split a secret and let part of it through)."""
        return shlex.join(redact(arg, self.secrets) for arg in self.argv)


@dataclass(frozen=True)
class Result:
    """What a tool answered; both streams already redacted."""

    returncode: int
    stdout: str
    stderr: str


def excerpt(text: str, head: int = _HEAD_LINES, tail: int = _TAIL_LINES) -> str:
    """The non-empty lines of ``text`` indented for an error message; a long one keeps its
    first lines (where tools put the error) and its last ones."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    if len(kept) > head + tail + 1:
        kept = [*kept[:head], f"... ({len(kept) - head - tail} more lines)", *kept[-tail:]]
    return "\n".join("  " + line for line in kept)


def find_tool(name: str, why: str = "") -> str:
    """The path of ``name`` on PATH, or a :class:`ToolError` saying where to get it."""
    path = shutil.which(name)
    if path is None:
        hint = INSTALL_HINTS.get(name.rsplit("/", 1)[-1], "")
        raise ToolError(
            f"{name} not found on PATH{': ' + why if why else ''}"
            + (f" (install it: {hint})" if hint else "")
        )
    return path


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed (SIGTERM) when stressgen dies, even by
    SIGKILL or SIGHUP, which no ``finally`` sees (Linux only; None elsewhere). The libc
    function is looked up here, in the parent, so the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return preexec


def run(command: Command, *, check: bool = True) -> Result:
    """Run ``command`` to completion; with ``check`` a failure raises :class:`ToolError`
    with the tool's own (redacted) words."""
    find_tool(command.argv[0])
    try:
        done = subprocess.run(
            list(command.argv),
            input=command.stdin,
            stdin=None if command.stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=command.timeout_s,
            check=False,
            preexec_fn=die_with_parent(),  # only a prctl call: see its docstring
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"{command.display()} did not finish within {command.timeout_s:g}s"
        ) from None
    except OSError as exc:
        raise ToolError(f"{command.display()} could not be started: {exc}") from None
    result = Result(
        done.returncode,
        redact(done.stdout.decode(errors="replace"), command.secrets),
        redact(done.stderr.decode(errors="replace"), command.secrets),
    )
    if check and result.returncode != 0:
        output = result.stderr + result.stdout
        if command.tolerate is None or command.tolerate not in output:
            raise ToolError(
                f"{command.display()} failed (exit code {result.returncode}):\n"
                + (excerpt(output) or "  (no output)")
            )
    return result


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; always reaped."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


class Background:
    """A long-running tool (``kubectl port-forward``) in a session of its own, so that a
    Ctrl-C at the terminal reaches stressgen, not it: stressgen stops it when it is done.
    Its stdout is discarded (kubectl logs every connection there); a thread drains its
    stderr and keeps the last lines (through :func:`scrub`), so a full pipe never blocks it."""

    def __init__(self, argv: list[str]) -> None:
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only a prctl call, no lock taken
        )
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self._reader = threading.Thread(target=self._read, name="tool-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(scrub(line.decode(errors="replace").rstrip()))

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.popen.poll()

    def output(self) -> str:
        """Its stderr so far (once it exited: all that was kept of it)."""
        if self.popen.poll() is not None:
            self._reader.join(1.0)
        return "\n".join(self.lines)

    def last_line(self) -> str:
        """The last non-empty line of its stderr so far ("" if none)."""
        lines = [line for line in self.output().splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""

    def stop(self) -> None:
        """Stop it (see :func:`stop_process`) and close its pipe."""
        stop_process(self.popen)
        self._reader.join(1.0)
        if self.popen.stderr is not None:
            self.popen.stderr.close()
