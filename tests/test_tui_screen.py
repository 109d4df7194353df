"""What the run screen shows in narrow terminals, in deep trees, and while the run waits."""

import time

from flowtui.engine.model import FlowDef, Node
from flowtui.screens.modals import ApprovalModal

from .test_tui_keys import drive, gated, shell, sketch, tui, until
from .test_tui_output import screen_text


def test_a_narrow_terminal_keeps_the_headers_progress_line(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "one", "cmd": "true"}]}, name="a-flow-name-long-enough-to-overflow")

    async def go():
        async with tui(flow, runtime, size=(60, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await until(pilot, lambda: "1/1 tasks" in screen_text(app).splitlines()[1], "the progress line")
            assert screen_text(app).splitlines()[0].rstrip().endswith("…")  # the top line is cut instead

    drive(go())


def test_a_group_clock_keeps_moving_while_its_task_awaits_approval(tmp_path):
    shift = [0.0]

    async def go():
        async with tui(*gated(tmp_path), clock=lambda: time.time() + shift[0]) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            counts = app.view.counts[None]
            assert not counts.get("running") and not counts.get("retrying")  # only the group's clock is live
            shift[0] = 125.0
            await until(pilot, lambda: any("main" in row and "2m" in row for row in screen_text(app).splitlines()),
                        "the group's elapsed time to move on")

    drive(go())


def test_deep_nodes_in_a_narrow_tree_keep_their_status_glyph():
    nodes, parent = {}, None
    for level in range(12):
        nid = f"g{level}"
        nodes[nid] = Node(id=nid, name=f"group{level}", parent=parent, children=(f"g{level + 1}" if level < 11 else "leaf",))
        parent = nid
    nodes["leaf"] = Node(id="leaf", name="leaf-task", parent="g11", action=shell("true"))
    flow = FlowDef(name="deep", format="flowctrl", file=None, nodes=nodes, roots=("g0",))

    async def go():
        async with tui(flow, size=(60, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            tree = app.task_tree
            width = tree.scrollable_content_region.width
            rows = [tree.row_text(nid, depth, width).plain for nid, depth in tree.rows]
            assert len(rows) == 13 and all("✔" in row and row.count("…") <= 1 for row in rows), rows
            assert all(row.index("✔") < row.index("…") for row in rows if "…" in row)  # only names are cut
            await until(pilot, lambda: screen_text(app).count("✔") >= 13, "every glyph on screen")

    drive(go())
