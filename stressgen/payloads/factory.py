"""Fast rendering of node-agent request bodies: serialise once, then only fill the gaps.

At construction each pod's body is serialised once with orjson, with placeholder tokens
where the per-alert values go (see :mod:`stressgen.payloads.skeleton`), and the bytes are
cut into static segments. :meth:`PayloadFactory.render` then formats the few changing
values (uniqueID, timestamp, pid, tree id) and joins them with the segments: no JSON
encoding and no escaping per request, since every value is hex, digits or RFC 3339 text.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from operator import itemgetter

import orjson

from stressgen.payloads.identity import derive_identity
from stressgen.payloads.skeleton import Tokens, build_body
from stressgen.payloads.template import AlertTemplate

_MASK128 = (1 << 128) - 1
# An odd step makes ``uid -> uid + step (mod 2**128)`` a single cycle over all 2**128 values:
# a factory never repeats an id, and ids of factories with random offsets never meet in practice.
_UID_STEP = 0x9E3779B97F4A7C15F39CC0605CEDC835
# Offending pids: above the pods' long-lived processes (< 60000), below Linux's pid_max
# (4194304), with room for 50 consecutive pids of one bulk request.
_PID_LOW = 65536
_PID_SPAN = 4194304 - _PID_LOW - 64
_NS = 1_000_000_000


class _PodBody:
    """The serialised body of one pod: static segments and where each value goes."""

    __slots__ = ("parts", "values")

    def __init__(self, raw: bytes, tok: Tokens, alerts: int) -> None:
        index = {"tree": 3 * alerts}
        for j in range(alerts):
            index.update({f"uid{j}": 3 * j, f"ts{j}": 3 * j + 1, f"pid{j}": 3 * j + 2})
        parts: list[bytes] = []
        order: list[int] = []
        pos = 0
        for match in tok.pattern.finditer(raw):
            parts.append(raw[pos : match.start()])
            parts.append(b"")
            order.append(index[(match.group(1) or match.group(2)).decode()])
            pos = match.end()
        parts.append(raw[pos:])
        if sorted(set(order)) != sorted(index.values()):
            raise RuntimeError("a per-alert value has no placeholder in the body skeleton")
        self.parts = parts
        # itemgetter picks the values in placeholder order, in C.
        self.values: Callable[[list[bytes]], tuple[bytes, ...]] = itemgetter(*order)


class PayloadFactory:
    """Renders complete runtime-alert request bodies for one template, fast.

    Each :meth:`render` gives a body of ``template.alerts_per_request`` alerts of one pod
    (pods taken in turn), each alert with a fresh uniqueID (32 hex digits, never repeated
    by this factory and distinct across factories), the current time with nanoseconds,
    and a fresh offending pid (the alerts of a bulk request get consecutive pids).

    ``seed`` makes the sequence reproducible; distinct ``(seed, worker)`` pairs give
    distinct sequences. Without a seed the factory draws its offsets from the OS.
    ``clock_ns`` returns Unix time in nanoseconds (tests pass a fixed clock).
    """

    def __init__(
        self,
        template: AlertTemplate,
        *,
        seed: int | None = None,
        worker: int = 0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.template = template
        self.alerts_per_request = template.alerts_per_request
        rng = random.Random() if seed is None else random.Random(f"stressgen:{seed}:{worker}")
        self._bits = rng.getrandbits
        self._uid = rng.getrandbits(128)
        self._clock = clock_ns
        self._second = -1
        self._prefix = b""
        self._count = 0
        tok = Tokens(f"sg{rng.getrandbits(64):016x}")
        identity = derive_identity(template)
        now = clock_ns()
        self._pods = tuple(
            _PodBody(
                orjson.dumps(build_body(template, identity, pod, tok, now)),
                tok,
                self.alerts_per_request,
            )
            for pod in identity.pods
        )
        self.pod_names = tuple(pod.name for pod in identity.pods)

    def _timestamp(self) -> bytes:
        seconds, frac = divmod(self._clock(), _NS)
        if not frac % 10:
            # Go's RFC3339Nano drops trailing zeros; one nanosecond later has none, so the
            # fixed nine digits are exactly what Go prints for the time reported.
            frac += 1
        if seconds != self._second:
            self._second = seconds
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds)).encode()
        return b"%s%09dZ" % (self._prefix, frac)

    def render(self) -> bytes:
        """Return one complete request body (compact JSON) with fresh per-alert values."""
        pods = self._pods
        pod = pods[self._count % len(pods)]
        self._count += 1
        pid = _PID_LOW + self._bits(32) % _PID_SPAN
        uid = self._uid
        values: list[bytes] = []
        for j in range(self.alerts_per_request):
            uid = (uid + _UID_STEP) & _MASK128
            values += (b"%032x" % uid, self._timestamp(), b"%d" % (pid + j))
        self._uid = uid
        values.append(b"%d" % self._bits(32))
        parts = pod.parts.copy()
        parts[1::2] = pod.values(values)
        return b"".join(parts)

    @property
    def rendered(self) -> int:
        """How many bodies this factory has rendered."""
        return self._count
