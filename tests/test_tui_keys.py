"""Every key of the run screen, pressed through Pilot against real runs of tiny flows.

Each test asserts what the engine did (paused, stopped, approved, attempt 2, skipped…), not
what the screen shows. Waiting is on conditions with a deadline, never on a fixed sleep.
"""

import asyncio
import contextlib
import json
import time

from textual.command import CommandList, CommandPalette

from flowtui.engine.loaders import load
from flowtui.engine.model import Action, Approval, Dep, Field, FlowDef, Node
from flowtui.engine.run import Run
from flowtui.screens.app import FlowApp
from flowtui.screens.help import HelpScreen
from flowtui.screens.history import HistoryScreen
from flowtui.screens.modals import ApprovalModal, ConfirmModal, ReasonModal
from flowtui.screens.source import LocalSource

DEADLINE = 15.0


def sketch(tmp_path, stages, name="keys"):
    """Write a Flow-CTRL sketch and load it with the real loader."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, **stages}))
    flow, runtime = load(str(path))
    return flow, runtime


def shell(cmd):
    return Action(kind="shell", params={"cmd": cmd})


def recorded_past_run(tmp_path, folder, cmd, name="keys", task="hello"):
    """(state dir, flow, runtime): a sketch whose one task `main/<task>` runs `cmd`, written in
    `folder`, that has run once already and is in the store of `tmp_path/state` (what the history
    screen lists)."""
    from flowtui.engine.store import StoreWriter, open_store

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    flow, runtime = sketch(folder, {"main": [{"name": task, "cmd": cmd}]}, name=name)
    past = Run(flow, runtime, run_id="20260101-000000-past")
    writer = StoreWriter(past, open_store(str(state)))
    past.run_to_end()
    writer.close()
    return state, flow, runtime


def release_gates(name, file=None, checks="true"):
    """`checks`, then two gates at once: `release` with three typed fields, `hotfix` with none."""
    from flowtui.engine.model import Approval, Dep, Field, FlowDef, Node

    fields = (
        Field(id="version", prompt="Version to release", type="text", default="1.4.0"),
        Field(id="notify", prompt="Announce it", type="bool", default="true"),
        Field(id="region", prompt="Region", type="choice", choices=("eu-west", "us-east"), default="eu-west"),
    )
    nodes = {
        "checks": Node(id="checks", name="checks", action=shell(checks)),
        "release": Node(id="release", name="release", action=shell("true"), deps=(Dep(node="checks"),),
                        approval=Approval(prompt="Release to production?", fields=fields)),
        "hotfix": Node(id="hotfix", name="hotfix", action=shell("true"), deps=(Dep(node="checks"),),
                       approval=Approval(prompt="Apply the hotfix?")),
    }
    return FlowDef(name=name, format="floe", file=file, nodes=nodes, roots=("checks", "release", "hotfix"))


async def until(pilot, predicate, what="condition"):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


@contextlib.asynccontextmanager
async def tui(flow, runtime=None, size=(110, 30), run=None, **app_options):
    """The app on a new run of `flow` (or on `run`, one that exists already)."""
    run = run or Run(flow, runtime, run_id="test-run", kill_grace=1.0)
    source = LocalSource(run)
    app = FlowApp(source, by="tester", **app_options)
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            yield app, pilot, run
    finally:
        source.close()


def drive(coro):
    asyncio.run(coro)


def gated(tmp_path):
    """prep (succeeds) -> gate (approval) -> after."""
    return sketch(tmp_path, {"main": [
        {"name": "prep", "cmd": "echo prepared"},
        {"name": "gate", "cmd": "echo gate ran", "approve": "Ship it?"},
        {"name": "after", "cmd": "echo after ran"},
    ]})


def test_pause_and_resume(tmp_path):
    async def go():
        async with tui(*gated(tmp_path)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")  # close the approval dialog that opened by itself
            await pilot.press("p")
            await until(pilot, lambda: app.view.paused, "pause")
            assert run.paused and run.status == "paused"
            await pilot.press("r")
            await until(pilot, lambda: not app.view.paused, "resume")
            assert not run.paused and run.status == "running"

    drive(go())


def test_approve_key_grants_the_oldest_pending_approval(tmp_path):
    async def go():
        async with tui(*gated(tmp_path)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            app.task_tree.select("main/prep")  # not a gate: `a` falls back to the oldest approval
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["main/gate"].status == "succeeded"
            assert run.states["main/gate"].approval["by"] == "tester"
            assert run.states["main/after"].status == "succeeded"
            assert run.status == "succeeded"

    drive(go())


def test_approval_dialog_sends_typed_fields(tmp_path):
    fields = (
        Field(id="version", prompt="Version", type="text", default="1.0"),
        Field(id="notify", prompt="Notify users", type="bool", default="false"),
        Field(id="region", prompt="Region", type="choice", choices=("eu", "us"), default="eu"),
    )
    prompt = "Ship to [bold]prod[/]? [y/n]"  # flow text is shown as written, never as markup
    nodes = {"ship": Node(id="ship", name="ship", action=shell("echo shipping"), approval=Approval(prompt=prompt, fields=fields))}
    flow = FlowDef(name="fields", format="flowctrl", file=None, nodes=nodes, roots=("ship",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            modal = app.screen
            await pilot.pause()
            assert str(modal.query_one("#prompt").render()) == prompt
            modal.field_widgets["version"].value = "2.5"
            modal.field_widgets["notify"].value = True
            modal.field_widgets["region"].value = "us"
            await pilot.click("#approve")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["ship"].values == {"version": "2.5", "notify": "true", "region": "us"}
            assert run.states["ship"].status == "succeeded"

    drive(go())


def test_several_pending_approvals_are_listed_and_taken_in_any_order():
    nodes = {
        nid: Node(id=nid, name=nid, action=shell(f"echo {nid}"), approval=Approval(prompt=f"Run {nid}?"))
        for nid in ("first", "second", "third")
    }
    flow = FlowDef(name="many", format="flowctrl", file=None, nodes=nodes, roots=tuple(nodes))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: len(app.view.approvals) == 3, "three approvals")
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal) and app.screen.pending == list(nodes),
                        "the dialog listing them")
            modal = app.screen
            modal.query_one("#approval-list").highlighted = 2  # take the last one first
            await until(pilot, lambda: modal.task_id == "third", "the third selected")
            await pilot.click("#approve")
            await until(pilot, lambda: run.states["third"].status == "succeeded", "third approved")
            assert run.states["first"].status == "awaiting_approval"
            await until(pilot, lambda: modal.pending == ["first", "second"], "the list to shrink")
            await pilot.click("#reject")
            await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the reason dialog")
            await pilot.press(*"not today", "enter")
            await until(pilot, lambda: run.states["first"].status == "rejected", "first rejected")
            assert run.states["first"].approval["reason"] == "not today"
            await pilot.click("#approve")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["second"].status == "succeeded"
            assert run.status == "failed"  # a rejection fails the run

    drive(go())


def test_reject_key_asks_for_a_reason(tmp_path):
    async def go():
        async with tui(*gated(tmp_path)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape", "x")
            await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the reason dialog")
            await pilot.press(*"crash risk", "enter")  # typing c, p, s… goes to the field
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["main/gate"].status == "rejected"
            assert run.states["main/gate"].approval == {**run.states["main/gate"].approval, "decision": "rejected",
                                                        "by": "tester", "reason": "crash risk"}
            assert app.view.final_exit_code() == 1

    drive(go())


def test_stop_asks_then_lets_running_tasks_finish(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [
        {"name": "gate", "cmd": "true", "approve": True},
        {"name": "after", "cmd": "true"},
    ]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape", "s")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")  # declined: nothing happens
            assert run.halt is None
            await pilot.press("s", "y")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.status == "stopped" and app.view.final_exit_code() == 3
            assert run.states["main/after"].status == "not_run"

    drive(go())


def test_cancel_with_c_and_ctrl_c_terminates_the_running_task(tmp_path):
    for key in ("c", "ctrl+c"):
        flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "echo started; sleep 30"}]})

        async def go(key=key, flow=flow, runtime=runtime):
            async with tui(flow, runtime) as (app, pilot, run):
                await until(pilot, lambda: any(t == "started" for _, _, t in app.view.log("main/long").lines), "output")
                await pilot.press(key)
                assert isinstance(app.screen, ConfirmModal)
                await pilot.press("y")
                await until(pilot, lambda: app.view.finished, "the end of the run")
                assert run.status == "cancelled" and app.view.final_exit_code() == 3
                assert run.states["main/long"].status == "cancelled"

        drive(go())


def test_rerun_and_rerun_with_downstream_reopen_a_finished_run(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [
        {"name": "first", "cmd": "echo first"},
        {"name": "second", "cmd": "echo second"},
        {"name": "third", "cmd": "echo third"},
    ]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the first end")
            assert app.query_one("#summary").display
            app.task_tree.select("main/third")
            await pilot.press("R")
            await until(pilot, lambda: run.states["main/third"].attempt == 2 and app.view.finished, "the rerun")
            assert run.states["main/second"].attempt == 1
            app.task_tree.select("main/second")
            await pilot.press("D")
            await until(pilot, lambda: run.states["main/third"].attempt == 3 and app.view.finished, "the downstream rerun")
            assert run.states["main/second"].attempt == 2 and run.states["main/first"].attempt == 1
            assert run.status == "succeeded" and app.view.states["main/third"]["attempt"] == 3

    drive(go())


def test_skip_a_task_that_has_not_started():
    nodes = {
        "gate": Node(id="gate", name="gate", action=shell("true"), approval=Approval(prompt="Go?")),
        "later": Node(id="later", name="later", action=shell("true"), deps=(Dep(node="gate", cond="succeeded"),)),
    }
    flow = FlowDef(name="skip", format="flowctrl", file=None, nodes=nodes, roots=("gate", "later"))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            app.task_tree.select("later")
            await pilot.press("k")  # its turn has not come: it is skipped once the gate is through
            await until(pilot, lambda: "later" in run.skipping, "the skip request")
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert app.view.states["later"]["status"] == "skipped"
            assert run.states["later"].error == "skipped by tester"
            assert run.states["gate"].status == "succeeded" and run.status == "succeeded"

    drive(go())


def test_follow_search_and_matches(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [
        {"name": "talk", "cmd": "for i in 1 2 3; do echo needle $i; echo hay; done"},
        {"name": "quiet", "cmd": "echo other"},
    ]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.task_tree.select("main/talk", user=True)
            await pilot.pause()
            assert not app.follow  # moving in the tree turns follow off
            await pilot.press("f")
            assert app.follow
            await pilot.press("f")
            assert not app.follow
            log = app.log_view
            assert log.task_id == "main/talk"
            await pilot.press("slash", *"needle", "enter")
            lines = app.view.logs["main/talk"].lines
            assert lines[log.match][2] == "needle 1"
            await pilot.press("n")
            assert lines[log.match][2] == "needle 2"
            await pilot.press("N", "N")
            assert lines[log.match][2] == "needle 3"  # wrapped around backwards
            await pilot.press("slash")
            assert app.focused is app.query_one("#search")
            await pilot.press("escape")
            assert not app.query_one("#search").display and app.focused is log

    drive(go())


def test_a_task_starting_right_after_a_move_does_not_take_the_cursor_back(tmp_path):
    """The user's move is a message the app handles later; following must not undo it meanwhile."""
    flow, runtime = sketch(tmp_path, {"main": [{"name": n, "cmd": "true"} for n in ("a", "b", "c", "d")]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.set_follow(True)
            tree = app.task_tree
            tree.select("main/a")
            await pilot.pause()
            app.view.last_started = "main/b"  # as if b had just started
            tree.action_jump(-1)  # End: the app has not handled its Selected message yet
            app.follow_started()
            assert tree.current == tree.rows[-1][0] == "main/d"
            await pilot.pause()
            assert not app.follow and tree.current == "main/d"
            app.set_follow(True)
            app.follow_started()
            assert tree.current == "main/b"  # following again: the app's own moves follow

    drive(go())


def test_quit_asks_while_active_and_cancels_before_leaving(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "sleep 30", "teardown-cmd": "echo tidy"}]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/long"]["status"] == "running", "the task")
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await until(pilot, lambda: app.return_value is not None, "the app to exit")
            assert app.return_value == 3
            assert run.status == "cancelled"
            assert ("stdout", "teardown", "tidy") in app.view.logs["main/long"].lines

    drive(go())


def test_quit_a_detached_view_leaves_the_run_going(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "sleep 30"}]})

    async def go():
        async with tui(flow, runtime, detach=True) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/long"]["status"] == "running", "the task")
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await until(pilot, lambda: app.return_value is not None, "the app to exit")
            assert app.return_value == 0
            assert run.status == "running" and not run.halt

    drive(go())


def test_quit_after_the_run_returns_its_exit_code(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "bad", "cmd": "exit 5"}]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert app.task_tree.current == "main/bad"  # the first failure is selected
            await pilot.press("q")
            await until(pilot, lambda: app.return_value is not None, "the app to exit")
            assert app.return_value == 1

    drive(go())


def test_help_lists_every_binding_and_palette_runs_actions(tmp_path):
    async def go():
        async with tui(*gated(tmp_path)) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape", "question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            titles = {command.title for command in app.get_system_commands(app.screen)}
            assert {"Pause", "Resume", "Stop", "Cancel", "Approve", "Reject", "Rerun", "Skip", "Follow", "Send input"} <= titles
            await pilot.press("ctrl+p", *"Pause")
            def best_match():
                matches = app.screen.query_one(CommandList) if isinstance(app.screen, CommandPalette) else None
                return matches.get_option_at_index(0).hit.text if matches and matches.option_count else None

            await until(pilot, lambda: best_match() == "Pause", "the palette's matches for Pause")
            await pilot.press("down", "enter")
            await until(pilot, lambda: run.paused, "pause from the palette")

    drive(go())


def test_every_binding_has_an_id_description_and_tooltip():
    ids = [binding.id for binding in FlowApp.BINDINGS]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(binding.description and binding.tooltip for binding in FlowApp.BINDINGS)
    keys = {key for binding in FlowApp.BINDINGS for key in binding.key.split(",")}
    assert {"p", "r", "s", "c", "ctrl+c", "a", "x", "R", "D", "i", "k", "f", "slash", "n", "N", "q", "question_mark"} <= keys
    priority = {key for binding in FlowApp.BINDINGS if binding.priority for key in binding.key.split(",")}
    assert priority == {"ctrl+c"}  # a priority letter would be stolen from text fields


def test_history_lists_past_runs_of_the_flow(tmp_path):
    state, flow, runtime = recorded_past_run(tmp_path, tmp_path, "echo hello from the past")

    async def go():
        async with tui(flow, runtime, state_dir=str(state)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await pilot.press("h")
            assert isinstance(app.screen, HistoryScreen)
            await pilot.pause()
            runs = app.screen.query_one("#runs")
            assert "20260101-000000-past" in [key.value for key in runs.rows]
            app.screen.show_run("20260101-000000-past")
            tasks = app.screen.query_one("#tasks")
            assert [key.value for key in tasks.rows] == ["main/hello"]
            tasks.focus()
            tasks.move_cursor(row=0)
            await pilot.pause()
            await until(pilot, lambda: "hello from the past" in "\n".join(app.screen.query_one("#task-log").lines),
                        "the task log")
            await pilot.press("escape")
            assert not isinstance(app.screen, HistoryScreen)

    drive(go())


def test_tab_reaches_every_field_of_the_approval_dialog_and_letters_go_into_text(tmp_path):
    fields = (Field(id="approved", prompt="Did the checks look right?", type="bool"),
              Field(id="reviewer", prompt="Your name", type="text"))
    nodes = {"sign-off": Node(id="sign-off", name="sign-off", action=shell("true"),
                              approval=Approval(prompt="Sign off?", fields=fields))}
    flow = FlowDef(name="tab", format="flowctrl", file=None, nodes=nodes, roots=("sign-off",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal) and app.screen.field_widgets, "the dialog")
            modal = app.screen
            await until(pilot, lambda: app.focused is modal.field_widgets["approved"], "the first field focused")
            await pilot.press("space", "tab")
            assert app.focused is modal.field_widgets["reviewer"]
            await pilot.press(*"ana x")  # a and x are the dialog's keys, but not inside a text field
            assert modal.field_widgets["reviewer"].value == "ana x"
            assert isinstance(app.screen, ApprovalModal) and run.states["sign-off"].status == "awaiting_approval"
            await pilot.press("shift+tab")
            assert app.focused is modal.field_widgets["approved"]
            await pilot.press("tab", "enter")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["sign-off"].values == {"approved": "true", "reviewer": "ana x"}

    drive(go())


def test_tab_moves_between_the_buttons_of_a_confirmation(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "sleep 30"}]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/long"]["status"] == "running", "the task")
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmModal) and app.focused.id == "no"
            await pilot.press("shift+tab")
            assert app.focused.id == "yes"
            await pilot.press("enter")
            await until(pilot, lambda: run.halt is not None, "the stop")

    drive(go())


def test_ctrl_q_and_the_palettes_quit_ask_like_q(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "sleep 30"}]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.states["main/long"]["status"] == "running", "the task")
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")
            assert app.return_value is None and run.status == "running"
            await pilot.press("ctrl+p", *"Quit")

            def quit_offered():
                matches = app.screen.query_one(CommandList) if isinstance(app.screen, CommandPalette) else None
                return bool(matches and matches.option_count and matches.get_option_at_index(0).hit.text == "Quit")

            await until(pilot, quit_offered, "the palette's Quit")
            await pilot.press("down", "enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question")
            assert run.status == "running"
            await pilot.press("y")
            await until(pilot, lambda: app.return_value is not None, "the app to exit")
            assert app.return_value == 3 and run.status == "cancelled"

    drive(go())


def test_the_approval_dialog_keeps_asking_for_a_blank_required_field():
    fields = (Field(id="reviewer", prompt="Your name", type="text"),
              Field(id="note", prompt="Note", type="text", required=False))
    nodes = {"sign-off": Node(id="sign-off", name="sign-off", action=shell("true"),
                              approval=Approval(prompt="Sign off?", fields=fields))}
    flow = FlowDef(name="blank", format="flowctrl", file=None, nodes=nodes, roots=("sign-off",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal) and app.screen.field_widgets, "the dialog")
            modal = app.screen
            await pilot.press(" ")  # only blanks: still missing
            await pilot.click("#approve")
            missing = modal.query_one("#missing")
            assert missing.display and str(missing.render()) == "Required: Your name"
            assert app.screen is modal and app.focused is modal.field_widgets["reviewer"]
            assert modal.field_widgets["reviewer"].has_class("-invalid")
            assert run.states["sign-off"].status == "awaiting_approval"
            await pilot.press(*"ana", "enter")  # focusing the field selected its blank: typing replaces it
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert run.states["sign-off"].values == {"reviewer": "ana", "note": ""}

    drive(go())
