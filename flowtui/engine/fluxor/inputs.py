"""Reading an action's expanded input the way Fluxor's converter does: keys match case-insensitively."""

from .values import stringify


def field(data, name, default=None):
    """`data[name]`, else a key equal to `name` ignoring case, else `default`."""
    if not isinstance(data, dict):
        return default
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return default


def text_field(data, name, default=""):
    """A string field; numbers and booleans are formatted, maps and lists give the default (as Go)."""
    value = field(data, name, None)
    if value is None or isinstance(value, (dict, list)):
        return default
    return stringify(value)


def bool_field(data, name, default=False):
    value = field(data, name, None)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)
