"""TUI bugs from hunt 5: a goto loop's passes counted as retries (`×4 #4`, "attempt 2,
iteration 2"), the history screen's title cut to "Run history of" in 80 columns and its log
tail run into the task table, and `c` asking to cancel from the history and help screens."""

from flowtui.engine.loaders import load
from flowtui.engine.run import Run
from flowtui.screens.runview import META

from .test_tui_keys import drive, recorded_past_run, sketch, tui, until
from .test_tui_output import screen_text


def notes(app, nid):
    return [text for stream, _, text in app.view.logs[nid].lines if stream == META]


def row(app, nid):
    tree = app.task_tree
    return tree.row_text(nid, 1, tree.scrollable_content_region.width).plain


def looping(tmp_path, flaky=None):
    """A Fluxor goto loop: `plan` then `exec`, three passes. With `flaky`, `exec` fails the first
    time it runs in pass `flaky` and is retried once."""
    marker = tmp_path / "failed-once"
    command = (f"if [ $pass -eq {flaky} ] && [ ! -e {marker} ]; then touch {marker}; exit 3; fi; echo exec $pass"
               if flaky else "echo exec $pass")
    path = tmp_path / "loop.yaml"
    path.write_text(
        "init:\n  i: 1\npipeline:\n  loop:\n"
        "    plan:\n      action: printer:print\n      input:\n        message: plan $i\n"
        "    exec:\n      action: system/exec:execute\n"
        "      retry: {limit: 1, delay: 0, onExitCodes: [3]}\n"
        f"      input:\n        failOnError: true\n        workdir: {str(tmp_path)!r}\n        env:\n          pass: $i\n"
        f"        commands:\n          - {command!r}\n"
        "      post:\n        i: ${i + 1}\n"
        "      goto:\n        when: i < 4\n        task: loop\n"
    )
    flow, runtime = load(str(path))
    return Run(flow, runtime, run_id="test-run", kill_grace=1.0)


def test_a_loop_pass_is_an_iteration_not_a_retry(tmp_path):
    """Every run of a task counts as an attempt in the engine, loop passes included; the viewer
    shows a pass as `#N` and "iteration N", and `×N` / "attempt N" only for a task run again
    within one pass."""
    run = looping(tmp_path)

    async def go():
        async with tui(run.flow, run=run, size=(100, 24)) as (app, pilot, run_):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.status == "succeeded" and run.states["loop/exec"].attempt == 3
            app.task_tree.select("loop/exec", user=True)
            await until(pilot, lambda: "exec 3" in screen_text(app), "exec's output")
            assert "#3" in row(app, "loop/exec") and "×" not in row(app, "loop/exec")
            assert "×" not in row(app, "loop/plan")
            assert [n for n in notes(app, "loop/exec") if n.startswith("──")] == ["── iteration 2 ──", "── iteration 3 ──"]
            title = str(app.log_title.render())
            assert "iteration 3" in title and "attempt" not in title

    drive(go())


def test_a_retry_within_a_loop_pass_is_an_attempt_of_that_pass(tmp_path):
    """`exec` fails once in pass 2 and is retried: that pass has two attempts, the others one."""
    run = looping(tmp_path, flaky=2)

    async def go():
        async with tui(run.flow, run=run, size=(100, 24)) as (app, pilot, run_):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.status == "succeeded" and run.states["loop/exec"].attempt == 4
            assert [n for n in notes(app, "loop/exec") if "attempt" in n or "iteration" in n] == [
                "── iteration 2 ──",
                "attempt 1 exited 3; retrying in 0s",
                "── iteration 2, attempt 2 ──",
                "── iteration 3 ──",
            ]
            assert "#3" in row(app, "loop/exec") and "×" not in row(app, "loop/exec")

    drive(go())


def test_a_rerun_after_a_loop_is_a_new_attempt_of_the_last_pass(tmp_path):
    """R on a task of the last pass runs it again: `×2 #3`, and "attempt 2" in its notes."""
    run = looping(tmp_path)

    async def go():
        async with tui(run.flow, run=run, size=(100, 24)) as (app, pilot, run_):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.task_tree.select("loop/plan", user=True)
            await pilot.press("R")
            await until(pilot, lambda: run.states["loop/plan"].attempt == 4 and app.view.finished, "the rerun")
            assert "×2 #3" in row(app, "loop/plan")
            assert notes(app, "loop/plan")[-2:] == ["── iteration 3, attempt 2 ──", "■ succeeded (exit 0)"]
            title = str(app.log_title.render())
            assert "attempt 2" in title and "iteration 3" in title

    drive(go())



def test_a_viewer_attaching_later_tells_passes_from_retries(tmp_path):
    """A snapshot gives the engine's attempt and iteration only: a task retried outside any loop
    is on its second attempt, a loop's last pass on its first, and the events it already holds,
    replayed (as an attached viewer gets them), agree."""
    from flowtui.engine.model import Action, FlowDef, Node, Retry
    from flowtui.screens.runview import RunView

    marker = tmp_path / "failed-once"
    nodes = {"flaky": Node(id="flaky", name="flaky", retry=Retry(limit=1),
                           action=Action(kind="shell", params={"cmd": f"[ -e {marker} ] || {{ touch {marker}; exit 1; }}"}))}
    for run, nid, expected in ((Run(FlowDef(name="f", format="flowctrl", file=None, nodes=nodes, roots=("flaky",))), "flaky", (2, 1)),
                               (looping(tmp_path), "loop/exec", (1, 3))):
        events = []
        run.bus.subscribe(events.append)
        run.run_to_end()
        assert run.status == "succeeded"
        view = RunView(run.snapshot())
        assert (view.tries(nid), view.states[nid]["iteration"]) == expected
        view.apply(events)
        assert (view.tries(nid), view.states[nid]["iteration"]) == expected


def test_the_history_title_fits_80_and_40_columns(tmp_path):
    """The title named the flow by its whole path, then the run count and the keys, on one row:
    at 80 columns it wrapped and only "Run history of" was left. The path is cut in the middle
    (its file name kept) and the count and keys have a row of their own."""
    from flowtui.screens.history import HistoryScreen

    folder = tmp_path / "a-folder-with-a-rather-long-name" / "and-another-one-below-it"
    folder.mkdir(parents=True)
    state, flow, runtime = recorded_past_run(tmp_path, folder, "echo hello", name="history-title")
    assert len(flow.file) > 80

    async def go():
        for size in ((80, 24), (40, 24)):
            async with tui(flow, runtime, size=size, state_dir=str(state)) as (app, pilot, run):
                await until(pilot, lambda: app.view.finished, "the end of the run")
                await pilot.press("h")
                assert isinstance(app.screen, HistoryScreen)
                await until(pilot, lambda: "20260101-000000-past" in screen_text(app), "the past run")
                first, second = screen_text(app).splitlines()[:2]
                assert first.startswith(" Run history of /") and "…" in first, size
                assert first.rstrip().endswith("history-title.json"), size
                assert second.strip() == "1 run · Enter: show tasks · Esc: back", size

    drive(go())


def test_only_ctrl_c_cancels_from_the_history_and_help_screens(tmp_path):
    """`c` shared its action with Ctrl+C, which acts from any screen: on the history or help
    screen `c` asked to cancel the run too, and their footers offered "c Cancel"."""
    from flowtui.screens.help import HelpScreen
    from flowtui.screens.history import HistoryScreen
    from flowtui.screens.modals import ConfirmModal

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    stop = tmp_path / "stop"
    flow, runtime = sketch(tmp_path, {"main": [{"name": "slow", "cmd": f"while [ ! -e {stop} ]; do sleep 0.01; done"}]})

    async def go():
        async with tui(flow, runtime, size=(80, 24), state_dir=str(state)) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/slow"]["status"] == "running", "the task running")
            for key, screen in (("h", HistoryScreen), ("question_mark", HelpScreen)):
                await pilot.press(key)
                await until(pilot, lambda screen=screen: isinstance(app.screen, screen), key)
                await pilot.press("c")
                assert isinstance(app.screen, screen)
                assert "Cancel" not in screen_text(app).splitlines()[-1]
                await pilot.press("ctrl+c")
                await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the cancel question")
                await pilot.press("n")
                await until(pilot, lambda screen=screen: isinstance(app.screen, screen), "back on " + key)
                await pilot.press("escape")
            stop.touch()
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.status == "succeeded"

    drive(go())


def test_the_history_log_tail_is_set_apart_from_the_task_table(tmp_path):
    """In 80 columns the task table is wider than its half of the screen: the log tail began in
    the column after the cut table, so a log line read as one more column of it ("0    hello")."""
    state, flow, runtime = recorded_past_run(tmp_path, tmp_path, "echo hello")

    async def go():
        async with tui(flow, runtime, size=(80, 24), state_dir=str(state)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await pilot.press("h")
            await until(pilot, lambda: "20260101-000000-past" in screen_text(app), "the past run")
            await pilot.press("enter")
            await until(pilot, lambda: "hello" in "\n".join(app.screen.query_one("#task-log").lines), "the log tail")
            await pilot.pause()
            row = next(line for line in screen_text(app).splitlines() if line.startswith(" task "))
            assert row.rstrip().endswith("▏hello"), screen_text(app)

    drive(go())


def test_at_80_columns_a_running_run_s_footer_shows_help_and_quit(tmp_path):
    """Keys that do nothing now (Resume while running, Approve without an approval) used to be
    drawn dimmed, with the palette hint, and pushed `? Help` and `q Quit` off an 80-column screen."""
    from textual.widgets import Footer

    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "echo working; sleep 30"}]})

    async def go():
        async with tui(flow, runtime, size=(80, 24)) as (app, pilot, run):
            await until(pilot, lambda: any(t == "working" for _, _, t in app.view.log("main/long").lines), "output")
            footer = app.query_one(Footer)
            keys = [item.key for item in footer.query("FooterKey")]
            assert "r" not in keys and "a" not in keys and keys[-2:] == ["question_mark", "q"], keys
            assert sum(item.region.width for item in footer.query("FooterKey")) <= 80
            run.reactor.call_threadsafe(run.cancel, "test")
            await until(pilot, lambda: not app.view.active, "cancelled")

    drive(go())
