"""SVG snapshots of the run screen (pytest-textual-snapshot): running, awaiting approval, failed.

The runs are real; only time is pinned, and each task writes to one stream only (stdout and
stderr are two pipes, so their relative order is not fixed; hooks run after the main command). `PinnedTime` hands the app the real source's snapshot and
events with every timestamp set to one instant and every duration to 1 s, and the app's clock
reads that instant + 5 s, so elapsed times, durations and spinner frames are the same on every
machine. Update with `pytest --snapshot-update` after a deliberate change of the screen.
"""

import contextlib
import copy

from textual.widgets import Input

from flowtui.engine.run import Run
from flowtui.screens.app import FlowApp
from flowtui.screens.modals import ApprovalModal
from flowtui.screens.source import LocalSource

from .test_tui_keys import release_gates, sketch, until

T0 = 1_800_000_000.0
SIZE = (110, 28)


class PinnedTime:
    """A RunSource over a real LocalSource with time pinned (see the module docstring)."""

    def __init__(self, source):
        self.source = source
        self.controller = source.controller

    def snapshot(self):
        snap = copy.deepcopy(self.source.snapshot())
        for holder in (snap, *snap["states"].values()):
            for key in ("started_at", "finished_at"):
                if holder.get(key) is not None:
                    holder[key] = T0
        return snap

    def drain(self):
        events = self.source.drain()
        for event in events:
            event.ts = T0
            if getattr(event, "duration", None) is not None:
                event.duration = 1.0
        return events

    def close(self):
        self.source.close()


@contextlib.contextmanager
def pinned_app(flow, runtime=None):
    source = LocalSource(Run(flow, runtime, run_id="snapshot-run", kill_grace=0.5))
    try:
        yield FlowApp(PinnedTime(source), clock=lambda: T0 + 5, by="tester")
    finally:
        source.close()


def test_running(snap_compare, tmp_path):
    flow, runtime = sketch(tmp_path, {
        "build": [
            {"name": "compile", "cmd": "echo compiling; printf '\\033[32mok\\033[0m\\n'", "time": "2s"},
            {"name": "package", "cmd": "echo packaging; printf '\\033[33mwaiting\\033[0m for the cache\\n'; sleep 30",
             "time": "4s"},
        ],
        "deploy": [{"name": "upload", "cmd": "true", "time": "3s"}],
    }, name="snapshot running")
    flow = flow.replace(file="snapshot.json")

    with pinned_app(flow, runtime) as app:
        async def ready(pilot):
            await until(pilot, lambda: any("cache" in t for _, _, t in app.view.log("build/package").lines), "output")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_awaiting_approval_with_fields(snap_compare):
    flow = release_gates("snapshot approval", "snapshot.yml", checks="echo all green")

    with pinned_app(flow) as app:
        async def ready(pilot):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal) and len(app.screen.pending) == 2,
                        "both approvals in the dialog")
            for box in app.screen.query(Input):
                box.cursor_blink = False
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_finished_with_a_failure(snap_compare, tmp_path):
    flow, runtime = sketch(tmp_path, {
        "test": [
            {"name": "unit", "cmd": "echo 12 passed"},
            {"name": "integration", "cmd": "echo 'ERROR: connection refused' >&2; exit 2",
             "on-nok-cmd": "echo collecting logs", "teardown-cmd": "echo stopping containers"},
        ],
        "release": [{"name": "publish", "cmd": "echo published"}],
    }, name="snapshot failure")
    flow = flow.replace(file="snapshot.json")

    with pinned_app(flow, runtime) as app:
        async def ready(pilot):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=ready)
