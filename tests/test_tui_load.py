"""The UI under load: a task that never stops printing, and a flow of 10 000 tasks.

Keys are posted the way the terminal driver posts them (Pilot's `press` waits for an idle app,
which a screen repainting 25 times a second never is); each test then waits for the engine to
show the key's effect. No timing is asserted: the flood must not starve the key handling, and
the per-task buffer must stay bounded.
"""

from textual import events

from flowtui.engine.model import Action, Approval, FlowDef, Node
from flowtui.screens.modals import ApprovalModal

from .test_tui_keys import drive, shell, tui, until


def post_key(app, key):
    app.post_message(events.Key(key, key if len(key) == 1 else None))


def test_keys_work_during_a_flood_of_output_and_memory_stays_bounded():
    nodes = {"flood": Node(id="flood", name="flood", action=shell("yes 'a line of output, again and again'"))}
    flow = FlowDef(name="flood", format="flowctrl", file=None, nodes=nodes, roots=("flood",))

    async def go():
        async with tui(flow, max_lines=500) as (app, pilot, run):
            log = app.view.log("flood")
            await until(pilot, lambda: log.dropped > 200_000, "a flood of output")
            post_key(app, "p")
            await until(pilot, lambda: run.paused, "pause during the flood")
            post_key(app, "f")
            await until(pilot, lambda: not app.follow, "follow off during the flood")
            assert len(log.lines) <= 500
            post_key(app, "c")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmModal", "the confirmation")
            post_key(app, "y")
            await until(pilot, lambda: app.view.finished, "the cancelled end")
            assert run.status == "cancelled"
            assert len(log.lines) <= 500 and log.dropped > 200_000

    drive(go())


def test_a_ten_thousand_task_flow_opens_and_scrolls():
    nodes, roots = {}, []
    for s in range(10):
        stage = f"stage{s}"
        children = tuple(f"{stage}/task{i:04d}" for i in range(1000))
        nodes[stage] = Node(id=stage, name=stage, children=children, label="stage")
        for child in children:
            nodes[child] = Node(id=child, name=child.split("/")[1], parent=stage, action=Action(kind="nop"))
        roots.append(stage)
    nodes["stage0/task0000"] = nodes["stage0/task0000"].replace(approval=Approval(prompt="Start?"))
    flow = FlowDef(name="big", format="flowctrl", file=None, nodes=nodes, roots=tuple(roots))

    async def go():
        async with tui(flow, size=(100, 30)) as (app, pilot, run):
            tree = app.task_tree
            assert len(tree.rows) == 10 + 10_000  # stages expanded, nothing below tasks
            await until(pilot, lambda: app.view.group_progress(None)[0] == 9_999, "every task but the gate")
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape", "end")
            assert tree.current == "stage9/task0999"
            assert tree.scroll_y > 9_000  # the cursor's row is on screen
            await pilot.press("home", "left")  # collapse stage0
            assert len(tree.rows) == 10 + 9_000
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert app.view.group_progress(None) == (10_000, 10_000, 0)

    drive(go())
