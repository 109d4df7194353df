"""The viewer model: a real run's snapshot and events give the same picture as the engine."""

from flowtui.engine import events as ev
from flowtui.engine.model import Action, Dep, FlowDef, Node
from flowtui.engine.run import Run
from flowtui.screens.runview import META, RunView, TaskLog


def shell(cmd):
    return Action(kind="shell", params={"cmd": cmd})


def two_stage_flow():
    nodes = {
        "s": Node(id="s", name="s", children=("s/ok", "s/bad"), label="stage"),
        "s/ok": Node(id="s/ok", name="ok", parent="s", action=shell("echo one; echo two >&2")),
        "s/bad": Node(id="s/bad", name="bad", parent="s", action=shell("exit 4"), deps=(Dep(node="s/ok", cond="finished"),),
                      hooks={"on_nok": shell("echo cleaning")}),
    }
    return FlowDef(name="two", format="flowctrl", file=None, nodes=nodes, roots=("s",))


def test_snapshot_then_every_event_matches_the_engine_state():
    run = Run(two_stage_flow())
    events = []
    run.bus.subscribe(events.append)
    view = RunView(run.snapshot())
    assert view.group_progress("s") == (0, 2, 0)
    run.run_to_end()
    changed = view.apply(events)
    assert "finished" in changed and ("log", "s/ok") in changed
    assert view.status == "failed" and view.final_exit_code() == 1
    for nid, state in run.states.items():
        assert view.states[nid]["status"] == state.status
    assert view.states["s/bad"]["exit_code"] == 4
    assert view.group_progress("s") == (2, 2, 1)
    assert view.first_failure() == "s/bad"
    ok_lines = [(stream, text) for stream, _, text in view.logs["s/ok"].lines]
    assert ("stdout", "one") in ok_lines and ("stderr", "two") in ok_lines
    bad = list(view.logs["s/bad"].lines)
    assert ("stdout", "on_nok", "cleaning") in bad
    assert bad[-1][0] == META and "failed (exit 4)" in bad[-1][2]


def test_replaying_events_the_snapshot_already_holds_converges():
    run = Run(two_stage_flow())
    events = []
    run.bus.subscribe(events.append)
    run.run_to_end()
    view = RunView(run.snapshot())  # taken after everything happened
    view.apply(events)  # and every event again, as a source hands them out
    assert {nid: s["status"] for nid, s in view.states.items()} == {nid: s.status for nid, s in run.states.items()}
    assert view.group_progress("s") == (2, 2, 1)


def test_task_log_keeps_only_the_tail_and_counts_what_it_dropped():
    log = TaskLog(max_lines=5)
    log.add("stdout", None, [str(i) for i in range(3)])
    log.add("stdout", None, [str(i) for i in range(3, 100)])
    assert [text for _, _, text in log.lines] == ["95", "96", "97", "98", "99"]
    assert log.dropped == 95


def test_nodes_added_at_run_time_join_the_tree_and_the_counts():
    run = Run(two_stage_flow())
    view = RunView(run.snapshot())
    node = {"id": "s/extra", "name": "extra", "parent": "s", "children": [], "is_task": True}
    changed = view.apply([ev.NodesAdded("s", [node]), ev.TaskFinished("s/extra", "succeeded", 0, 1, 1, 0.5, None)])
    assert "structure" in changed
    assert view.children["s"][-1] == "s/extra"
    assert view.group_progress("s") == (1, 3, 0)


def test_approvals_are_listed_in_request_order_and_leave_when_decided():
    run = Run(two_stage_flow())
    view = RunView(run.snapshot())
    view.apply([
        ev.ApprovalRequested("s/bad", "Go?", [{"id": "why", "type": "text"}]),
        ev.ApprovalRequested("s/ok", "Really?", []),
    ])
    assert list(view.approvals) == ["s/bad", "s/ok"]
    assert view.approvals["s/bad"]["fields"][0]["id"] == "why"
    assert view.group_status("s") == "awaiting_approval"
    view.apply([ev.ApprovalGranted("s/bad", "me", None, {})])
    assert list(view.approvals) == ["s/ok"]


def test_durations_learned_from_history_feed_the_eta(tmp_path):
    """With no `time` in the file, past runs of the same file give the progress bar its weights."""
    import io
    import json

    from flowtui.cli import main as cli_main
    from flowtui.engine.statedir import resolve
    from flowtui.screens.app import _learned_durations
    from flowtui.screens.header import progress

    state_dir = resolve(str(tmp_path / "state"))
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"s": [{"name": "a", "cmd": "true"}, {"name": "b", "cmd": "true"}]}))
    assert cli_main(["run", str(flow), "--no-ui", "--state-dir", state_dir], out=io.StringIO()) == 0
    learned = _learned_durations(state_dir, str(flow))
    assert set(learned) == {"s/a", "s/b"}

    from flowtui.engine.loaders import load

    flow_def, runtime = load(str(flow))
    view = RunView(Run(flow_def, runtime).snapshot())
    assert not view.has_estimates
    assert view.learn_estimates({"s/a": 3.0, "s/b": 1.0})
    view.started_at = 100.0
    view._set("s/a", "succeeded")
    fraction, left, done, total = progress(view, now=103.0)
    assert (done, total) == (1, 2) and fraction == 0.75 and left == 1.0
