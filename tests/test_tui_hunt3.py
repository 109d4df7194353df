"""TUI bugs from hunt 3: following a flood after End, partial lines of two streams, a runner that
goes away under `attach`, group spinners while paused, searching hook prefixes (sending to stdin
from the TUI is in test_tui_send.py)."""

from .test_tui_keys import drive, sketch, tui, until
from .test_tui_output import screen_text


def test_end_key_during_a_flood_resumes_following_even_as_lines_are_dropped(tmp_path):
    """↑ then End while a task floods the pane: the pane must follow again, and stay at the end
    when the bounded buffer drops lines from the front (not get pinned to the oldest kept line)."""
    stop = tmp_path / "stop"
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "flood", "cmd": f"while [ ! -e {stop} ]; do seq 1 50; sleep 0.01; done; seq 1 500; echo LAST-LINE"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20), max_lines=300) as (app, pilot, run):
            await until(pilot, lambda: app.log_view.task_id == "s/flood" and len(app.view.logs["s/flood"]) > 100,
                        "some output")
            view = app.log_view
            view.focus()
            await pilot.press("up", "end")
            dropped = app.view.logs["s/flood"].dropped
            await until(pilot, lambda: app.view.logs["s/flood"].dropped > dropped + 600, "lines dropped after End")
            assert view.scroll_y == view.max_scroll_y and view.scroll_y > 0
            stop.touch()
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await until(pilot, lambda: "■ succeeded (exit 0)" in screen_text(app), "the outcome at the bottom")
            assert "LAST-LINE" in screen_text(app)
            assert view.scroll_y == view.max_scroll_y

    drive(go())


def test_an_unfinished_line_stays_while_a_line_arrives_on_the_other_stream(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    wait = "while [ ! -e {} ]; do sleep 0.01; done"
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "prompt", "cmd": f"printf 'Enter password: ' >&2; {wait.format(a)}; echo 'stdout: loading keyring'; "
                                  f"{wait.format(b)}; echo ' (timed out)' >&2"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: (log := app.view.logs.get("s/prompt")) is not None and log.pending is not None,
                        "the prompt")
            log = app.view.logs["s/prompt"]
            a.touch()
            await until(pilot, lambda: any(text == "stdout: loading keyring" for _, _, text in log.lines), "the stdout line")
            assert log.pending == ("stderr", None, "Enter password: ")
            await until(pilot, lambda: "stdout: loading keyring" in screen_text(app), "the stdout line drawn")
            assert "▌Enter password:" in screen_text(app)
            b.touch()
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert ("stderr", None, "Enter password:  (timed out)") in log.lines
            assert log.pending is None

    drive(go())


def test_a_last_line_without_newline_is_not_left_unfinished(tmp_path):
    flow, runtime = sketch(tmp_path, {"s": [{"name": "tail", "cmd": "echo one; printf 'no newline' >&2; echo two"}]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            log = app.view.logs["s/tail"]
            assert log.pending is None
            assert ("stderr", None, "no newline") in log.lines

    drive(go())


class EndingSource:
    """A viewer's source whose event stream can be ended, as `RemoteSource`'s is when the runner dies."""

    remote = True

    def __init__(self, inner):
        self.inner = inner
        self.controller = inner.controller
        self.ended = False

    def snapshot(self):
        return self.inner.snapshot()

    def drain(self):
        events = self.inner.drain()
        return [] if self.ended else events

    def close(self):
        self.inner.close()


def test_an_attached_viewer_stops_showing_a_live_run_when_the_runner_goes_away(tmp_path):
    from flowtui.engine.run import Run
    from flowtui.screens.app import FlowApp
    from flowtui.screens.modals import ConfirmModal
    from flowtui.screens.source import LocalSource

    go_file = tmp_path / "go"
    flow, runtime = sketch(tmp_path, {"build": [
        {"name": "compile", "cmd": f"while [ ! -e {go_file} ]; do sleep 0.01; done"},
        {"name": "link", "cmd": "true"},
    ]})
    source = EndingSource(LocalSource(Run(flow, runtime, run_id="test-run", kill_grace=1.0)))
    app = FlowApp(source, by="tester", detach=True)

    async def go():
        async with app.run_test(size=(110, 30)) as pilot:
            await until(pilot, lambda: app.view.states["build/compile"]["status"] == "running", "compile running")
            source.ended = True  # the runner died: its stream is closed
            await until(pilot, lambda: app.view.status == "unreachable", "the viewer noticing")
            assert not app.view.active
            assert app.view.states["build/compile"]["status"] == "unknown"
            assert app.view.group_status("build") != "running"
            await pilot.pause()
            text = screen_text(app)
            assert "▶ running" not in text and "unreachable" in text
            assert "runner went away" in text
            await pilot.press("q")
            assert not isinstance(app.screen, ConfirmModal)  # no "the run keeps going"
        assert app.return_value == 1

    try:
        drive(go())
    finally:
        go_file.touch()
        source.close()


def test_a_group_does_not_spin_while_the_run_is_paused_and_none_of_its_tasks_runs(tmp_path):
    from flowtui.screens.modals import ApprovalModal

    from .test_tui_keys import gated

    flow, runtime = gated(tmp_path)

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape", "p")
            await until(pilot, lambda: app.view.paused, "the pause")
            await pilot.press("a")
            await until(pilot, lambda: app.view.states["main/gate"]["status"] not in ("awaiting_approval", "pending"),
                        "the approval")
            assert app.view.states["main/gate"]["status"] != "running"
            assert app.view.group_status("main") == "paused"
            await pilot.press("r")
            await until(pilot, lambda: app.view.finished, "the end of the run")

    drive(go())


def test_search_finds_the_hook_prefix_drawn_before_a_hook_line(tmp_path):
    """A hook's line is drawn as `[setup] preparing`: searching any of what is drawn finds it,
    prefix included, and the match is highlighted where it is drawn."""
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "build", "cmd": "echo compiling; echo setup done", "setup-cmd": "echo preparing"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.task_tree.select("s/build", user=True)
            await until(pilot, lambda: "[setup] preparing" in screen_text(app), "the hook line drawn")
            lines = app.view.logs["s/build"].lines
            view = app.log_view
            for query in ("[setup]", "setup] prep", "[SETUP] PREPARING"):
                await pilot.press("slash", "ctrl+a", "ctrl+k", *query, "enter")
                assert view.match is not None, query
                assert lines[view.match] == ("stdout", "setup", "preparing"), query
            drawn = view.line_text(*lines[view.match], current=True)
            current = view.get_component_rich_style("logview--current", partial=True)
            assert [drawn.plain[s.start:s.end] for s in drawn.spans if s.style == current] == ["[setup] preparing"]
            await pilot.press("slash", "ctrl+a", "ctrl+k", *"setup", "enter")
            found = [lines[view.match][2]]
            for _ in range(4):  # n goes through every line that has it, in its prefix or its text, and wraps
                await pilot.press("n")
                found.append(lines[view.match][2])
            assert found == ["▶ setup hook", "preparing", "◀ setup hook exited 0", "setup done", "▶ setup hook"]
            assert not view.search("] compiling")  # a line of the task itself has no prefix

    drive(go())
