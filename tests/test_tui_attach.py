"""A viewer attached to a run started elsewhere shows what its tasks printed before it attached."""

from flowtui.engine.run import Run
from flowtui.engine.store import StoreWriter, open_store
from flowtui.screens.runview import META

from .test_tui_keys import drive, sketch, tui, until
from .test_tui_output import screen_text


def test_attaching_shows_the_output_printed_before_from_the_run_log(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    flow, runtime = sketch(tmp_path, {"main": [
        {"name": "prep", "cmd": "echo prepared; for i in 1 2 3; do echo tick $i; done", "teardown-cmd": "echo tidied"},
        {"name": "many", "cmd": "seq 1 500"},
        {"name": "quiet", "cmd": "true"},
    ]})
    earlier = Run(flow, runtime, run_id="20260101-000000-elsewhere")
    writer = StoreWriter(earlier, open_store(str(state)))
    earlier.run_to_end()
    writer.close()

    # The app's source is subscribed only now: its snapshot has the tasks' states, not their output.
    async def go():
        async with tui(flow, runtime, detach=True, state_dir=str(state), max_lines=100,
                       run=earlier) as (app, pilot, run):
            logs = app.view.logs
            assert [line for line in logs["main/prep"].lines if line[0] != META] == [
                ("stdout", None, "prepared"), ("stdout", None, "tick 1"), ("stdout", None, "tick 2"),
                ("stdout", None, "tick 3"), ("stdout", "teardown", "tidied"),
            ]
            assert logs["main/many"].lines[-1][2] == "500" and logs["main/many"].dropped == 500 + 1 - 100
            assert "main/quiet" not in logs or not [line for line in logs["main/quiet"].lines if line[0] != META]
            app.task_tree.select("main/prep", user=True)
            await until(pilot, lambda: "tick 3" in screen_text(app), "the earlier output on screen")
            assert "printed before attaching" in screen_text(app)

    drive(go())
