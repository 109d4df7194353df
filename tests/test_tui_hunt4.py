"""TUI bugs from hunt 4: the footer recomposed at every status change (a 5 000-task flow ran ten
times slower under the TUI than headless), the selected row left below a tree that got shorter,
search blind to the unfinished line, a wide last line hidden under the scrollbar it brings, an
approval dialog opening under a search being typed, and one cut short in 80x24 (the password
dialog and /dev/tty in a pty are in test_tui_send.py)."""

from .test_tui_keys import drive, sketch, tui, until
from .test_tui_output import screen_text


def test_the_footer_is_not_rebuilt_for_status_changes_that_leave_the_keys_as_they_were(tmp_path):
    """Which keys the footer offers depends on whether the run is active, paused or has pending
    approvals, not on every task's status: refreshing the bindings recomposes Textual's footer,
    which at 25 polls a second starved the engine's thread of a flow with many short tasks."""
    flow, runtime = sketch(tmp_path, {"s": [{"name": f"t{i:03d}", "cmd": "sleep 0.01"} for i in range(60)]})

    async def go():
        async with tui(flow, runtime, size=(100, 30)) as (app, pilot, run):
            refreshes = []
            original = app.refresh_bindings
            app.refresh_bindings = lambda: (refreshes.append(app.view.status), original())
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.status == "succeeded"
            # started at most, then finished: not once per task
            assert len(refreshes) <= 3, refreshes

    drive(go())


def cursor_shown(tree):
    top = int(tree.scroll_y)
    return top <= tree.cursor < top + tree.scrollable_content_region.height


def test_the_selected_row_stays_in_view_when_the_tree_gets_shorter(tmp_path):
    """Following the last task down a long tree, then the run ends: the summary line takes a row
    from the tree, which must scroll so that the selected task is still shown (it was left just
    below the bottom edge; so was it when the terminal was made shorter)."""
    flow, runtime = sketch(tmp_path, {"s": [{"name": f"t{i:02d}", "cmd": "sleep 0.01"} for i in range(40)]})

    async def go():
        async with tui(flow, runtime, size=(80, 24)) as (app, pilot, run):
            tree = app.task_tree
            await until(pilot, lambda: app.view.finished and app.summary.display, "the end of the run")
            await pilot.pause()
            assert tree.current == "s/t39"
            assert cursor_shown(tree)
            await pilot.resize_terminal(80, 12)
            await pilot.pause()
            assert cursor_shown(tree)

    drive(go())


def test_search_finds_the_unfinished_line_drawn_at_the_end(tmp_path):
    """A prompt waiting for its answer (or a progress bar mid-line) is drawn as the last row of
    the pane: searching for it finds it, as it finds any other line on screen."""
    stop = tmp_path / "stop"
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "ask", "cmd": f"echo one; echo two; printf 'Overwrite config.yml? [y/N] '; "
                               f"while [ ! -e {stop} ]; do sleep 0.01; done"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            log = app.view.logs
            await until(pilot, lambda: "s/ask" in log and log["s/ask"].pending is not None, "the prompt")
            app.task_tree.select("s/ask", user=True)
            await until(pilot, lambda: "Overwrite config.yml?" in screen_text(app), "the prompt drawn")
            view = app.log_view
            await pilot.press("slash", *"overwrite", "enter")
            assert view.match is not None
            assert view.line_text(*log["s/ask"].pending, current=True).plain.strip().startswith("Overwrite")
            await pilot.press("slash", "ctrl+a", "ctrl+k", *"o", "enter", "n", "n")  # one, two, the prompt
            assert view.match == len(log["s/ask"].lines) + log["s/ask"].dropped
            await pilot.press("n")  # wraps to the first line
            assert view.match == log["s/ask"].dropped
            stop.touch()
            await until(pilot, lambda: app.view.finished, "the end of the run")

    drive(go())


def test_a_wide_last_line_does_not_hide_itself_behind_the_scrollbar_it_brings(tmp_path):
    """The pane follows the end; a last line wider than the pane (here the failure note of a goto
    loop stopped by its guard) brings a horizontal scrollbar, which takes the bottom row: the pane
    must still end on that line (it ended one row short, the note hidden under the scrollbar)."""
    from flowtui.engine.loaders import load
    from flowtui.engine.run import Run

    path = tmp_path / "loop.yaml"
    path.write_text("init:\n  i: 0\npipeline:\n  loop:\n    action: printer:print\n    input:\n      message: 'pass $i'\n"
                    "    post:\n      i: ${i + 1}\n    goto:\n      when: i < 1000\n      task: loop\n")
    flow, runtime = load(str(path))
    run = Run(flow, runtime, run_id="test-run", kill_grace=1.0, max_iterations=40)

    async def go():
        async with tui(flow, run=run, size=(100, 20)) as (app, pilot, run_):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            view = app.log_view
            await until(pilot, lambda: view.show_horizontal_scrollbar, "the horizontal scrollbar")
            await pilot.pause()
            assert view.scroll_y == view.max_scroll_y
            assert "■ failed (exit 0): loop guard" in screen_text(app)

    drive(go())


def test_an_approval_does_not_pop_up_under_the_keys_typed_into_the_search_box(tmp_path):
    """Typing a search while a gate becomes ready: the approval dialog opening by itself took the
    next letters as its keys, and the `a` of "database" approved the gate. It waits until the
    search box is closed."""
    from flowtui.screens.modals import ApprovalModal

    go_file = tmp_path / "go"
    flow, runtime = sketch(tmp_path, {"main": [
        {"name": "prep", "cmd": f"echo database ready; while [ ! -e {go_file} ]; do sleep 0.01; done"},
        {"name": "gate", "cmd": "echo gate ran", "approve": "Ship it?"},
    ]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/prep"]["status"] == "running", "prep running")
            await pilot.press("slash", *"dat")
            go_file.touch()
            await until(pilot, lambda: "main/gate" in app.view.approvals, "the gate waiting")
            await pilot.press(*"abase")
            assert not isinstance(app.screen, ApprovalModal)
            assert app.search_box.value == "database"
            assert run.states["main/gate"].status == "awaiting_approval"
            await pilot.press("enter")  # the search is done: now the dialog asks
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")

    drive(go())


def test_every_field_of_the_approval_dialog_can_be_reached_in_an_80x24_terminal(tmp_path):
    """Two pending approvals and a gate with three fields: in 80x24 the dialog was cut at the
    buttons, the third field (a choice) drawn nowhere; Tab focused it unseen. The dialog scrolls
    instead, and a focused field is scrolled into view."""
    from textual.widgets import Select

    from flowtui.screens.modals import ApprovalModal

    from .test_tui_keys import release_gates

    flow = release_gates("gates")

    async def go():
        async with tui(flow, size=(80, 24)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal) and len(app.screen.pending) == 2,
                        "both approvals in the dialog")
            modal = app.screen
            await pilot.pause()
            region = modal.query_one(Select)
            await pilot.press("tab", "tab")  # version → notify → region
            assert modal.focused is region
            await pilot.pause()
            buttons = modal.query_one(".buttons").region
            shown = region.region.intersection(modal.query_one("#approval-dialog").content_region)
            assert shown.height == region.region.height and not shown.overlaps(buttons), (region.region, buttons)
            await pilot.press("escape", "escape")

    drive(go())
