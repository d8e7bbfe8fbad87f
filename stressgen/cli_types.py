"""click parameter types over :mod:`stressgen.units`: errors name the flag and the form."""

from __future__ import annotations

from typing import Any

import click

from stressgen import units
from stressgen.errors import ConfigError


class _UnitType(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """Base: convert with a units parser, turn its ConfigError into a one-line usage error."""

    def parse(self, value: str, flag: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        flag = param.opts[0] if param is not None and param.opts else self.name
        try:
            return self.parse(value, flag)
        except ConfigError as exc:
            self.fail(f"{value!r} is not {exc.expected}", param, ctx)


class Duration(_UnitType):
    """``15ms``, ``30s``, ``10m``; a bare number is seconds."""

    name = "duration"

    def parse(self, value: str, flag: str) -> float:
        return units.parse_duration(value, flag)


class Fraction(_UnitType):
    """``0.01`` or ``1%``."""

    name = "fraction"

    def parse(self, value: str, flag: str) -> float:
        return units.parse_fraction(value, flag)


class Size(_UnitType):
    """``1000``, ``512KiB``, ``64MiB``."""

    name = "size"

    def parse(self, value: str, flag: str) -> int:
        return units.parse_size(value, flag)


DURATION = Duration()
FRACTION = Fraction()
SIZE = Size()
