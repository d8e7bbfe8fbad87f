"""Parsing of the units users type: durations (``15ms``, ``10m``), rates (``50/s``), sizes.

Pure functions; each raises :class:`~stressgen.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import math
import re

from stressgen.errors import ConfigError

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|min|m|h)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_RATE_UNITS = {
    None: 60.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

DURATION_FORM = "a duration like 15ms, 30s, 10m or 1h30m (a bare number is seconds)"


def parse_duration(text: str | float | int, field: str, *, allow_zero: bool = True) -> float:
    """Return seconds for ``text`` (``"1h30m"``, ``"15ms"``, ``2.5``; bare numbers are seconds)."""
    if isinstance(text, bool):
        raise ConfigError(field, text, DURATION_FORM)
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = text.strip().lower()
        try:
            seconds = float(s)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _DURATION_PART.finditer(s):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
                pos = match.end()
            if pos != len(s) or not s:
                raise ConfigError(field, text, DURATION_FORM) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(field, text, DURATION_FORM)
    if seconds == 0 and not allow_zero:
        raise ConfigError(field, text, "a duration greater than zero, like 30s or 10m")
    return seconds


def parse_rate_per_second(text: str | float | int, field: str) -> float:
    """Return a rate in events per second; a bare number is per minute (the seed's unit)."""
    expected = "a positive rate like 500 (per minute), 50/s or 3000/min"
    if isinstance(text, bool):
        raise ConfigError(field, text, expected)
    if isinstance(text, int | float):
        per_second = float(text) / 60.0
    else:
        match = _RATE.match(text.lower())
        if match is None:
            raise ConfigError(field, text, expected)
        per_second = float(match.group(1)) / _RATE_UNITS[match.group(2)]
    if not per_second > 0 or per_second == float("inf"):
        raise ConfigError(field, text, expected)
    return per_second


def parse_fraction(text: str | float, field: str) -> float:
    """Return a probability in [0, 1]; accepts ``0.01`` or ``1%``."""
    expected = "a fraction between 0 and 1 (like 0.01) or a percentage (like 1%)"
    try:
        if isinstance(text, str) and text.strip().endswith("%"):
            value = float(text.strip()[:-1]) / 100.0
        else:
            value = float(text)
    except ValueError:
        raise ConfigError(field, text, expected) from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(field, text, expected)
    return value


def parse_size(text: str | int, field: str) -> int:
    """Return bytes for ``64MiB``, ``512k``, ``1000`` (bare numbers are bytes)."""
    expected = "a size like 1000, 512KiB or 64MiB"
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError(field, text, expected)
        return text
    match = _SIZE.match(str(text))
    if match is None:
        raise ConfigError(field, text, expected)
    unit = (match.group(2) or "b")[0].lower()
    return int(match.group(1)) * _SIZE_UNITS[unit]


def format_duration(seconds: float) -> str:
    """Render seconds the way users type them (``1.5s``, ``15ms``, ``2m30s``)."""
    if seconds >= 60 and seconds == int(seconds):
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    if seconds >= 1 or seconds == 0:
        return f"{seconds:g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"
