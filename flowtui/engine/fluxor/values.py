"""Session values as Fluxor sees them: path lookup, text formatting, truthiness, JSON normalisation."""

import json
import re

MISSING = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()

_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str):
    """`a.b[0].c` -> ["a", "b", 0, "c"]; None when the text is not a path."""
    head = re.match(r"[^.\[\]]+", path)
    if not head:
        return None
    parts, pos = [head.group(0)], head.end()
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if not match:
            return None
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    return parts


def get_key(container, key):
    """One step down: exact key, then (for maps below the top level) a case-insensitive match."""
    if isinstance(key, int):
        if isinstance(container, (list, tuple)) and 0 <= key < len(container):
            return container[key]
        if isinstance(container, dict) and str(key) in container:
            return container[str(key)]
        return MISSING
    if isinstance(container, dict):
        if key in container:
            return container[key]
        lowered = key.lower()
        for name, value in container.items():
            if isinstance(name, str) and name.lower() == lowered:
                return value
    return MISSING


def lookup(scope: dict, parts):
    """Walk `parts` from `scope`; the first segment must match exactly (Fluxor top-level names are case-sensitive)."""
    if not parts or not isinstance(parts[0], str) or parts[0] not in scope:
        return MISSING
    value = scope[parts[0]]
    for part in parts[1:]:
        value = get_key(value, part)
        if value is MISSING:
            return MISSING
    return value


def format_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent, `1.0` -> `1`."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    from decimal import Decimal

    return format(Decimal(repr(value)), "f")


def stringify(value) -> str:
    """Text for interpolation: numbers Go-style, booleans lower-case, maps and lists as JSON."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def truthy(value, what="condition"):
    """Condition truth: bools, non-zero numbers, non-blank strings. Maps and lists are an error (as in Go)."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return bool(value.strip())
    raise ValueError(f"{what} gave a {type(value).__name__}, not true/false")


def normalise(value):
    """A JSON round trip, as Fluxor stores outputs: only dicts, lists, strings, numbers, bools, None remain."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.loads(json.dumps(value, default=str))
