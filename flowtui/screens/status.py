"""Status icons and labels shared by the tree, header, log title and summary.

Every glyph is one cell wide in common terminal fonts (no emoji), so columns line up and
snapshots are stable. Colours come from component classes named `status--<status>`.
"""

from flowtui.engine.durations import format_duration

ICONS = {
    "pending": "·",
    "waiting": "…",
    "queued": "○",
    "awaiting_approval": "?",
    "running": "▶",
    "retrying": "↻",
    "succeeded": "✔",
    "failed": "✘",
    "timed_out": "⧗",
    "skipped": "↷",
    "not_run": "⊘",
    "cancelled": "■",
    "rejected": "⊗",
    "stopped": "■",
    "paused": "‖",
    "unreachable": "!",  # an attached viewer lost its runner: the run's fate is unknown here
    "unknown": "?",  # what an open task was doing when its runner went away
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STATUSES = tuple(ICONS)


def icon(status, now=None) -> str:
    """The status glyph; a running one spins with the clock (10 frames a second)."""
    if status == "running" and now is not None:
        return SPINNER[int(now * 10) % len(SPINNER)]
    return ICONS.get(status, "?")


def label(status) -> str:
    return status.replace("_", " ")


def duration(seconds) -> str:
    return format_duration(max(0.0, seconds)) if seconds is not None else ""


def component_classes():
    return {f"status--{s}" for s in STATUSES}


STATUS_CSS = """
    & > .status--pending, & > .status--waiting, & > .status--queued, & > .status--not_run { color: $text-muted; }
    & > .status--skipped { color: $text-muted; text-style: italic; }
    & > .status--awaiting_approval { color: $warning; text-style: bold; }
    & > .status--running { color: $accent; text-style: bold; }
    & > .status--retrying { color: $warning; }
    & > .status--succeeded { color: $success; }
    & > .status--failed, & > .status--timed_out, & > .status--rejected { color: $error; text-style: bold; }
    & > .status--cancelled, & > .status--stopped { color: $secondary; }
    & > .status--paused { color: $warning; }
"""
