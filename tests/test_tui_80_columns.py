"""The run screen's footer and the history screen's task table at the standard 80x24 terminal.

A pending approval added `a Approve` to the footer and pushed `q Quit` off the right edge (nothing
on screen said how to quit), and the history's task table was twice as wide as its 40 columns:
only the task column was visible without scrolling sideways.
"""

from textual.widgets import Footer

from flowtui.screens.modals import ApprovalModal

from .test_tui_keys import drive, gated, recorded_past_run, sketch, tui, until
from .test_tui_output import screen_text

SIZE = (80, 24)


def assert_footer_fits(app, state):
    """Every key of the footer is drawn inside the 80 columns, `? Help` and `q Quit` among them."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query("FooterKey"))
    assert keys, state
    assert footer.virtual_size.width <= footer.size.width == SIZE[0], (state, footer.virtual_size)
    assert all(key.region.right <= footer.region.right for key in keys), (state, [(k.key, k.region) for k in keys])
    last = screen_text(app).splitlines()[-1]
    assert "? Help" in last and last.rstrip().endswith("q Quit"), (state, last)
    return [key.key for key in keys]


def test_at_80_columns_the_footer_shows_help_and_quit_in_every_state_of_the_run(tmp_path):
    async def go():
        async with tui(*gated(tmp_path), size=SIZE) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            await until(pilot, lambda: "a" in [k.key for k in app.screen.query("FooterKey")], "a Approve")
            assert "a" in assert_footer_fits(app, "awaiting approval")
            await pilot.press("p")
            await until(pilot, lambda: "r" in [k.key for k in app.screen.query("FooterKey")], "r Resume")
            keys = assert_footer_fits(app, "paused, awaiting approval")
            assert {"r", "a", "s", "c"} <= set(keys) and "p" not in keys
            await pilot.press("r")
            await until(pilot, lambda: "p" in [k.key for k in app.screen.query("FooterKey")], "p Pause")
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await until(pilot, lambda: "s" not in [k.key for k in app.screen.query("FooterKey")], "no s Stop")
            keys = assert_footer_fits(app, "finished")
            assert "R" in keys and not {"p", "r", "s", "c", "a"} & set(keys)

    drive(go())


def test_at_80_columns_a_paused_run_s_footer_shows_help_and_quit(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "echo working; sleep 30"}]})

    async def go():
        async with tui(flow, runtime, size=SIZE) as (app, pilot, run):
            await until(pilot, lambda: any(t == "working" for _, _, t in app.view.log("main/long").lines), "output")
            assert_footer_fits(app, "running")
            await pilot.press("p")
            await until(pilot, lambda: "r" in [k.key for k in app.screen.query("FooterKey")], "r Resume")
            assert_footer_fits(app, "paused")
            run.reactor.call_threadsafe(run.cancel, "test")
            await until(pilot, lambda: not app.view.active, "cancelled")

    drive(go())


async def past_run_tasks(app, pilot):
    """Once the run on screen ended: the history screen's task table of the recorded past run."""
    await until(pilot, lambda: app.view.finished, "the end of the run")
    await pilot.press("h")
    await until(pilot, lambda: "20260101-000000-past" in screen_text(app), "the past run")
    await pilot.press("enter")
    return app.screen.query_one("#tasks")


def test_at_80_columns_the_history_task_table_shows_every_column_without_scrolling(tmp_path):
    """Task, status, time (the duration), exit code and tries (the attempts) fit the table's share
    of 80 columns; a task id too long for it is cut with an ellipsis, its end kept."""
    task = "a-rather-long-task-name-for-the-integration-suite"
    state, flow, runtime = recorded_past_run(tmp_path, tmp_path, "echo hello; exit 7", task=task)

    async def go():
        async with tui(flow, runtime, size=SIZE, state_dir=str(state)) as (app, pilot, run):
            tasks = await past_run_tasks(app, pilot)
            await until(pilot, lambda: tasks.row_count == 1, "the task row")
            await pilot.pause()
            assert tasks.virtual_size.width <= tasks.scrollable_content_region.width, (tasks.virtual_size, tasks.region)
            lines = screen_text(app).splitlines()
            at = next(index for index, line in enumerate(lines) if line.startswith(" task "))
            header, row = lines[at], lines[at + 1]
            assert header.split("▏")[0].split() == ["task", "status", "time", "exit", "tries"], header
            cut, icon, status, took, exit_code, tries = row.split("▏")[0].split()
            head, tail = cut.split("…")
            assert f"main/{task}".startswith(head) and f"main/{task}".endswith(tail) and len(tail) >= 8, row
            assert (icon, status, exit_code, tries) == ("✘", "failed", "7", "1"), row
            assert took.endswith("s"), row  # e.g. 3ms

    drive(go())


def test_the_history_task_table_refits_when_resized_and_keeps_its_row_and_log(tmp_path):
    """More tasks than rows (a vertical scrollbar) still fit 80 columns; a wider terminal gives the
    task column the room for whole ids, and the selected task and its log tail stay."""
    from flowtui.engine.run import Run
    from flowtui.engine.store import StoreWriter, open_store

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    names = [f"step-{n:02d}-of-the-nightly-integration-suite" for n in range(20)]
    flow, runtime = sketch(tmp_path, {"nightly": [{"name": name, "cmd": f"echo output of {name}"} for name in names]})
    past = Run(flow, runtime, run_id="20260101-000000-past")
    writer = StoreWriter(past, open_store(str(state)))
    past.run_to_end()
    writer.close()

    async def go():
        async with tui(flow, runtime, size=SIZE, state_dir=str(state)) as (app, pilot, run):
            tasks = await past_run_tasks(app, pilot)
            log = app.screen.query_one("#task-log")
            await until(pilot, lambda: tasks.row_count == 20, "the task rows")
            await pilot.press("down", "down")
            await until(pilot, lambda: f"output of {names[2]}" in log.lines, "the third task's log")
            assert tasks.max_scroll_y > 0  # more rows than fit: a vertical scrollbar
            assert tasks.virtual_size.width <= tasks.scrollable_content_region.width
            narrow = tasks.columns["task"].width
            await pilot.resize_terminal(160, 24)
            await until(pilot, lambda: tasks.columns["task"].width > narrow, "the task column to widen")
            await pilot.pause()
            assert tasks.virtual_size.width <= tasks.scrollable_content_region.width
            assert tasks.coordinate_to_cell_key(tasks.cursor_coordinate).row_key.value == f"nightly/{names[2]}"
            assert list(log.lines) == [f"output of {names[2]}"]
            row = next(line for line in screen_text(app).splitlines() if f" nightly/{names[2]} " in line)
            assert row.split()[:3] == [f"nightly/{names[2]}", "✔", "succeeded"], row  # the whole id: there is room

    drive(go())


def test_a_long_status_is_cut_before_the_task_id_in_80_columns(tmp_path):
    """The run on screen is in the history too, open: its gate's `? awaiting approval` would have
    left the task ids too little room, so that status is cut (…) instead."""
    from flowtui.engine.run import Run
    from flowtui.engine.store import StoreWriter, open_store

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    flow, runtime = gated(tmp_path)
    live = Run(flow, runtime, run_id="20260101-000000-live", kill_grace=1.0)
    writer = StoreWriter(live, open_store(str(state)))
    store = open_store(str(state))

    def recorded_waiting():
        try:
            return any(task["status"] == "awaiting_approval" for task in store.get_run(live.run_id)["tasks"])
        except Exception:  # not in the store yet
            return False

    async def go():
        async with tui(flow, runtime, size=SIZE, run=live, state_dir=str(state)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            await until(pilot, recorded_waiting, "the gate recorded as awaiting approval")
            await pilot.press("h")
            tasks = app.screen.query_one("#tasks")
            await until(pilot, lambda: tasks.row_count == 3, "the open run's tasks")
            await pilot.pause()
            assert tasks.virtual_size.width <= tasks.scrollable_content_region.width
            lines = screen_text(app).splitlines()
            at = next(index for index, line in enumerate(lines) if line.startswith(" task "))
            assert [line.split("▏")[0].split()[:3] for line in lines[at + 1:at + 4]] == [
                ["main/prep", "✔", "succeeded"], ["main/gate", "?", "awaiting…"], ["main/after", "…", "waiting"]
            ], "\n".join(lines)
            await pilot.press("escape", "a")
            await until(pilot, lambda: app.view.finished, "the end of the run")

    try:
        drive(go())
    finally:
        writer.close()
        store.close()
