"""Durations written as `<number><s|m|h|d>`: `5s`, `10m`, `1.5h`, `2d`."""

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdSMHD])\s*$")


def parse_duration(text) -> float:
    """Seconds in `text`; ValueError (with a message saying what is allowed) otherwise."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        shown = "null" if text is None else repr(text)  # as the file wrote it
        raise ValueError(f"invalid duration {shown}: use <number><s|m|h|d>, e.g. 30s, 10m, 1.5h, 2d")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return seconds


def format_duration(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 and seconds != int(seconds) else f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
