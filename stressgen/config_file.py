"""Reading a run's configuration from a YAML or JSON file, keys as the seed names them.

:func:`load_config` reads and parses a file; :func:`from_mapping` turns already-parsed content
into a :class:`~stressgen.config.RunConfig`. The seed's keys are taken as they are (optionally
wrapped in ``backend_stress_config``), plus the extensions listed in the key tables below.
Every mistake raises :class:`~stressgen.errors.ConfigError` naming the file key
(``alert_profiles[1].severity``), the value and what is expected.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from stressgen.config import (
    _PROFILE_FIELDS,
    _RUN_FIELDS,
    ProfileConfig,
    RunConfig,
    Stage,
    _Check,
    _duration,
    _number,
    _rate,
    _rate_per_minute,
    _stage_duration,
    _stage_rate,
)
from stressgen.errors import ConfigError

DEFAULT_DURATION_S = 60.0  # when a file gives no duration, duration_minutes or stages
WRAPPER_KEY = "backend_stress_config"  # the seed's TestConfiguration keyword may wrap it all

# The keys a file may use at each level: the checked fields plus the file-only keys.
_PROFILE_KEYS = (*_PROFILE_FIELDS, "rate_per_minute", "rate", "stages")
_DEFAULTABLE_KEYS = ("alerts_per_request", "timeout", "max_connections", "processes")
_RUN_KEYS = (*_RUN_FIELDS, "duration", "duration_minutes", "alert_profiles", *_DEFAULTABLE_KEYS)
_STAGE_KEYS = ("duration", "rate")


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(field, value, "a mapping of keys to values")
    return value


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(allowed)}"
            raise ConfigError(where, key, f"a known key ({hint})")


def _convert(
    data: Mapping[str, Any], base: str, fields: Mapping[str, tuple[str, _Check]]
) -> dict[str, Any]:
    return {
        attr: check(data[key], _join(base, key))
        for key, (attr, check) in fields.items()
        if key in data
    }


def _stages(value: object, field: str) -> tuple[Stage, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(field, value, "a non-empty list of {duration: ..., rate: ...} stages")
    stages = []
    for j, item in enumerate(value):
        path = f"{field}[{j}]"
        raw = _mapping(item, path)
        _check_keys(raw, _STAGE_KEYS, path)
        if "duration" not in raw or "rate" not in raw:
            raise ConfigError(path, dict(raw), "a stage like {duration: 10s, rate: 200/s}")
        seconds = _stage_duration(raw["duration"], f"{path}.duration")
        stages.append(Stage(seconds, _stage_rate(raw["rate"], f"{path}.rate")))
    return tuple(stages)


def _profile(
    raw: Mapping[str, Any], path: str, index: int, defaults: dict[str, Any]
) -> ProfileConfig:
    _check_keys(raw, _PROFILE_KEYS, path)
    kwargs = {**defaults, "name": f"profile_{index + 1}"}
    kwargs.update(_convert(raw, path, _PROFILE_FIELDS))
    if "stages" in raw:
        kwargs["stages"] = _stages(raw["stages"], f"{path}.stages")
    if "rate" in raw and "rate_per_minute" in raw:
        raise ConfigError(f"{path}.rate", raw["rate"], "allowed with rate_per_minute; use one")
    if "rate" in raw:
        kwargs["rate_per_s"] = _rate(raw["rate"], f"{path}.rate")
    elif "rate_per_minute" in raw:
        kwargs["rate_per_s"] = _rate_per_minute(raw["rate_per_minute"], f"{path}.rate_per_minute")
    elif "stages" in raw:
        kwargs["rate_per_s"] = 0.0
    else:
        raise ConfigError(
            path, dict(raw), "a profile with rate_per_minute (like 500) or rate (like 50/s)"
        )
    try:
        return ProfileConfig(**kwargs)
    except ConfigError as exc:
        raise ConfigError(_join(path, exc.field), exc.value, exc.expected) from None


def from_mapping(data: Mapping[str, Any], source: str = "config") -> RunConfig:
    """Build a :class:`RunConfig` from parsed file content; ``source`` names it in errors."""
    base = ""
    data = _mapping(data, source)
    if WRAPPER_KEY in data:
        for key in data:
            if key != WRAPPER_KEY:
                raise ConfigError(source, key, f"allowed next to {WRAPPER_KEY} (move it in)")
        base = WRAPPER_KEY
        data = _mapping(data[WRAPPER_KEY], base)
    _check_keys(data, _RUN_KEYS, base or source)
    kwargs = _convert(data, base, _RUN_FIELDS)
    kwargs.setdefault("url", None)
    defaults = _convert(data, base, {k: _PROFILE_FIELDS[k] for k in _DEFAULTABLE_KEYS})
    raw_profiles = data.get("alert_profiles")
    field = _join(base, "alert_profiles")
    if not isinstance(raw_profiles, list) or not raw_profiles:
        raise ConfigError(field, raw_profiles, "a non-empty list of profiles")
    profiles = tuple(
        _profile(_mapping(raw, f"{field}[{i}]"), f"{field}[{i}]", i, defaults)
        for i, raw in enumerate(raw_profiles)
    )
    if "duration" in data and "duration_minutes" in data:
        raise ConfigError(
            _join(base, "duration"), data["duration"], "allowed with duration_minutes"
        )
    if "duration" in data:
        kwargs["duration_s"] = _duration(data["duration"], _join(base, "duration"))
    elif "duration_minutes" in data:
        minutes = _number(data["duration_minutes"], _join(base, "duration_minutes"))
        kwargs["duration_s"] = 60.0 * minutes
    else:
        kwargs["duration_s"] = max(p.stages_duration_s for p in profiles) or DEFAULT_DURATION_S
    try:
        return RunConfig(profiles=profiles, **kwargs)
    except ConfigError as exc:
        raise ConfigError(_join(base, exc.field), exc.value, exc.expected) from None


def _parse_text(text: str, path: Path) -> object:
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] == "{")
    try:
        return json.loads(text) if as_json else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        line, column, kind, problem = exc.lineno, exc.colno, "JSON", exc.msg
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        kind, problem = "YAML", getattr(exc, "problem", None) or str(exc).splitlines()[0]
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    raise ConfigError(f"{path}:{line}:{column}", shown, f"valid {kind} ({problem})")


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``, or by content) config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "config file", str(file), f"a readable file ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("config file", str(file), "a UTF-8 text file") from None
    data = _parse_text(text, file)
    if not isinstance(data, Mapping):
        raise ConfigError(str(file), data, "a mapping of settings at the top level")
    return from_mapping(data, str(file))
