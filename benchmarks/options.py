"""argparse value types shared by the benchmark commands: each rejects a bad value with
the value given and the form expected."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def positive(text: str) -> float:
    """A number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def minutes(text: str) -> float:
    """A number of minutes, 0 or more (0: skip the measurement)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes (0 skips)")
    return value


def rates(text: str) -> list[float]:
    """Comma-separated positive rates, alerts/s: ``100,1000``."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(r <= 0 for r in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive rates like 100,1000")
    return values
