"""Timestamps as the contract writes them: ISO 8601, milliseconds, UTC offset."""
from datetime import UTC


def iso(ts):
    if ts is None:
        return None
    from datetime import datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
