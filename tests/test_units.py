"""Table tests of the unit parsers behind every duration, rate, fraction and size flag."""

from __future__ import annotations

import pytest

from stressgen import units
from stressgen.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15ms", 0.015),
        ("30s", 30.0),
        ("10m", 600.0),
        ("10min", 600.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("250us", 0.00025),
        ("2", 2.0),
        ("0", 0.0),
        (3, 3.0),
        (0.5, 0.5),
        (" 5s ", 5.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert units.parse_duration(text, "--x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "", "10 parsecs", "-1s", "5s3", "s", "nan", True, -2])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ConfigError) as info:
        units.parse_duration(text, "--latency")  # type: ignore[arg-type]
    assert str(info.value).startswith("--latency: ")
    assert "duration" in str(info.value)


def test_parse_duration_zero_not_allowed() -> None:
    with pytest.raises(ConfigError, match="greater than zero"):
        units.parse_duration("0s", "--duration", allow_zero=False)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("500", 500 / 60),
        (500, 500 / 60),
        ("50/s", 50.0),
        ("3000/min", 50.0),
        ("3000/m", 50.0),
        ("7200/h", 2.0),
        ("0.5/s", 0.5),
    ],
)
def test_parse_rate(text: str | int, per_second: float) -> None:
    assert units.parse_rate_per_second(text, "--rate") == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["0", "-5", "fast", "5/fortnight", "", True, 0])
def test_parse_rate_rejects(text: object) -> None:
    with pytest.raises(ConfigError, match=r"^--rate: .* is not a positive rate"):
        units.parse_rate_per_second(text, "--rate")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"), [("0.01", 0.01), ("1%", 0.01), ("0", 0.0), ("1", 1.0), (0.5, 0.5)]
)
def test_parse_fraction(text: str | float, value: float) -> None:
    assert units.parse_fraction(text, "--error-rate") == pytest.approx(value)


@pytest.mark.parametrize("text", ["2", "-0.1", "150%", "lots"])
def test_parse_fraction_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--error-rate: .* between 0 and 1"):
        units.parse_fraction(text, "--error-rate")


@pytest.mark.parametrize(
    ("text", "size"), [("1000", 1000), ("512KiB", 512 * 1024), ("64MiB", 64 << 20), ("1g", 1 << 30)]
)
def test_parse_size(text: str, size: int) -> None:
    assert units.parse_size(text, "--max-body") == size


def test_parse_size_rejects() -> None:
    with pytest.raises(ConfigError, match="--max-body"):
        units.parse_size("big", "--max-body")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.015, "15ms"), (1.5, "1.5s"), (600, "10m"), (150, "2m30s"), (0, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert units.format_duration(seconds) == text
