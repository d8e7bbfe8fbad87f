"""A stand-in for ``kubectl`` and ``helm`` (there is no cluster here): installed by the tests
under those names, first on PATH, it records how it was called and answers as a scenario
file says. ``kubectl port-forward`` really listens on the local port and relays TCP to a
running emulator, so alerts cross a real second hop.

Environment: ``STANDIN_DIR`` holds ``scenario.json`` (read), ``calls.jsonl`` (one line per
call: tool, argv, stdin, pid) and ``pids/`` (one file per port-forward process).

Scenario keys, all optional:
- ``responses``: a list of ``{"match": [...], "stdout", "stderr", "rc", "sequence",
  "echo_stdin"}``; the first whose ``match`` words all appear in the arguments, in order,
  answers. ``sequence`` is a list of such answers given in turn (the last one repeats);
  ``echo_stdin`` copies what was read on stdin to stderr (a tool echoing a secret back).
- ``port_forward``: ``{"target": "host:port", "fail": [message, ...] per start (null:
  start normally), "delay_s": before listening, "die_after_s": {start number: seconds}}``.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_GLOBAL_FLAGS = ("--context", "--kubeconfig", "--kube-context")


def _dir() -> Path:
    return Path(os.environ["STANDIN_DIR"])


def _scenario() -> dict[str, Any]:
    path = _dir() / "scenario.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _count(name: str) -> int:
    """How many times ``name`` was counted before, this time included (1, 2, ...)."""
    path = _dir() / f"count-{name}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 32)
        value = int(raw or b"0") + 1
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(value).encode())
        return value
    finally:
        os.close(fd)


def _record(tool: str, argv: list[str], stdin: str | None) -> None:
    line = json.dumps({"tool": tool, "argv": argv, "stdin": stdin, "pid": os.getpid()})
    with open(_dir() / "calls.jsonl", "a") as log:
        log.write(line + "\n")


def _words(argv: list[str]) -> list[str]:
    """The arguments without the global context/kubeconfig flags and their values."""
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_FLAGS:
            skip = True
        elif not arg.startswith(_GLOBAL_FLAGS):
            words.append(arg)
    return words


def _matches(pattern: list[str], words: list[str]) -> bool:
    it = iter(words)
    return all(any(word == want for word in it) for want in pattern)


def answer(tool: str, argv: list[str], stdin: str | None) -> int:
    words = _words(argv)
    for index, entry in enumerate(_scenario().get("responses", [])):
        if entry.get("tool", tool) != tool or not _matches(entry["match"], words):
            continue
        response = entry
        if "sequence" in entry:
            turn = _count(f"seq-{index}") - 1
            response = entry["sequence"][min(turn, len(entry["sequence"]) - 1)]
        sys.stdout.write(response.get("stdout", ""))
        sys.stderr.write(response.get("stderr", ""))
        if response.get("echo_stdin") and stdin:
            sys.stderr.write(f"Error: values were:\n{stdin}\nargs: {' '.join(argv)}\n")
        return int(response.get("rc", 0))
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _relay(address: str, port: int, target: str, die_after_s: float | None) -> None:
    host, _, target_port = target.rpartition(":")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        print(f"Handling connection for {port}", flush=True)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        except OSError as exc:
            print(f"E0000 error forwarding port {port}: {exc}", file=sys.stderr, flush=True)
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, address, port)
    print(f"Forwarding from {address}:{port} -> {target_port}", flush=True)
    async with server:
        if die_after_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(die_after_s)
    print("error: lost connection to pod", file=sys.stderr, flush=True)
    os._exit(1)


def port_forward(argv: list[str]) -> int:
    spec = _scenario().get("port_forward", {})
    start = _count("port-forward")
    pids = _dir() / "pids"
    pids.mkdir(exist_ok=True)
    (pids / str(os.getpid())).write_text(str(start))
    fails = spec.get("fail") or []
    if start <= len(fails) and fails[start - 1]:
        print(fails[start - 1], file=sys.stderr, flush=True)
        return 1
    words = _words(argv)
    local = int(next(w for w in words if ":" in w).split(":")[0])
    address = words[words.index("--address") + 1] if "--address" in words else "127.0.0.1"
    time.sleep(float(spec.get("delay_s", 0)))
    die = (spec.get("die_after_s") or {}).get(str(start))
    asyncio.run(_relay(address, local, spec["target"], die))
    return 0


def main() -> int:
    tool = Path(sys.argv[0]).name
    argv = sys.argv[1:]
    if tool == "kubectl" and "port-forward" in argv:
        _record(tool, argv, None)
        return port_forward(argv)
    stdin = sys.stdin.read() if "-" in argv else None
    _record(tool, argv, stdin)
    return answer(tool, argv, stdin)


if __name__ == "__main__":
    sys.exit(main())
