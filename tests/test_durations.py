"""Durations `<number><s|m|h|d>`: the parser, the schema pattern that must agree with it, formatting."""

import re

import pytest

from flowtui.engine.durations import format_duration, parse_duration
from flowtui.engine.schema import load_schema

VALID = {"5s": 5, "10m": 600, "1.5h": 5400, "2d": 172800, "0.5s": 0.5, "5S": 5, "1H": 3600, " 30 s ": 30}
INVALID = ["", "5", "5x", "s", "bogus", "-5s", "1,5m", "1.5.2h", "5 seconds", "0s", "0m", "0.0h", "00d", "5ms"]


@pytest.mark.parametrize(("text", "seconds"), VALID.items())
def test_valid_durations_give_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", INVALID)
def test_invalid_durations_say_what_is_allowed(text):
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


def test_zero_is_rejected_with_its_own_reason():
    with pytest.raises(ValueError, match="greater than zero"):
        parse_duration("0s")


@pytest.mark.parametrize("value", [None, 5, 1.5, ["5s"]])
def test_non_strings_are_invalid(value):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize("text", [*VALID, *INVALID])
def test_schema_pattern_agrees_with_the_parser(text):
    """The JSON Schema validates sketches; the parser builds them: they must accept the same texts."""
    pattern = load_schema("flowctrl")["$defs"]["duration"]["pattern"]
    try:
        parse_duration(text)
        parses = True
    except ValueError:
        parses = False
    assert bool(re.search(pattern, text)) == parses


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.25, "250ms"), (1.5, "1.5s"), (5, "5s"), (42, "42s"), (90, "1m30s"), (3600, "1h00m"),
     (5400, "1h30m"), (90000, "1d01h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_a_null_duration_is_named_as_the_file_wrote_it():
    with pytest.raises(ValueError, match=r"^invalid duration null: use"):
        parse_duration(None)
