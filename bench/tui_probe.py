"""The TUI measures, in a headless Textual app driven by `App.run_test()`.

    python bench/tui_probe.py paint TASKS STATE_DIR | flood LINES   -> one JSON object on stdout

flood: one task prints LINES log lines while a key (`f`, follow on/off) is posted every 50 ms
the way the terminal driver posts keys; latency is from posting to the action running. RSS is
sampled before the flood, during it and after it.
first paint: from before loading a TASKS-task Flow-CTRL file (imports of Textual included) to the
first screen update computed, with the run starting at the same time; then the time from an
`end` key in the task tree to the repaint that shows the last row.
"""

import time

T0 = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate  # noqa: E402
from textual import events  # noqa: E402

from flowtui.engine.loaders import LoadOptions, load  # noqa: E402
from flowtui.engine.model import Action, FlowDef, Node  # noqa: E402
from flowtui.engine.run import Run  # noqa: E402
from flowtui.screens.app import FlowApp  # noqa: E402
from flowtui.screens.source import LocalSource  # noqa: E402

DEADLINE = 120.0
SIZE = (120, 40)


def rss_mb():
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def key(app, name):
    app.post_message(events.Key(name, name if len(name) == 1 else None))


async def wait_for(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"tui_probe: timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def flood(lines):
    task = "flood"
    cmd = generate.flood_command(lines)
    flow = FlowDef(name="bench-flood", format="flowctrl", file=None, roots=(task,),
                   nodes={task: Node(id=task, name=task, action=Action(kind="shell", params={"cmd": cmd}))})
    rss_before = rss_mb()
    run = Run(flow, max_parallel=1)
    source = LocalSource(run)
    app = FlowApp(source, by="bench")
    handled = []
    toggle = app.action_toggle_follow

    def timed_toggle():
        handled.append(time.perf_counter())
        toggle()

    app.action_toggle_follow = timed_toggle
    latencies, peak = [], rss_before
    try:
        async with app.run_test(size=SIZE):
            log = app.view.log(task)
            await wait_for(lambda: len(log.lines) or app.view.finished, "the first line")
            while run.states[task].status == "running":
                count, posted = len(handled), time.perf_counter()
                key(app, "f")
                await wait_for(lambda: len(handled) > count, "the key press")  # noqa: B023
                latencies.append(handled[-1] - posted)
                peak = max(peak, rss_mb())
                await asyncio.sleep(0.05)
            await wait_for(lambda: app.view.finished, "the end of the flood")  # noqa: B023
            await asyncio.sleep(0.2)  # a few drains: the view has applied the last events
            received = log.dropped + sum(1 for stream, _, _ in log.lines if stream in ("stdout", "stderr"))
            rss_after = rss_mb()
    finally:
        source.close()
    return {
        "lines": lines, "command": cmd, "lines_received": received, "key_presses": len(latencies),
        "key_latency_s": [round(x, 4) for x in latencies],
        "key_latency_max_s": max(latencies) if latencies else None,
        "rss_before_mb": round(rss_before, 1), "rss_peak_mb": round(peak, 1), "rss_after_mb": round(rss_after, 1),
        "rss_growth_mb": round(max(peak, rss_after) - rss_before, 1),
    }


async def first_paint(tasks, state_dir):
    per_stage = 100 if tasks >= 100 else tasks
    path = os.path.join(state_dir, "tui-large.json")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(generate.flowctrl_large(max(1, tasks // per_stage), per_stage))
    started = time.perf_counter()
    flow, runtime = load(path, None, LoadOptions(state_dir=state_dir))
    loaded = time.perf_counter()
    run = Run(flow, runtime, max_parallel=2)
    source = LocalSource(run)
    app = FlowApp(source, by="bench")
    built = time.perf_counter()
    paints = []
    display = app._display

    def timed_display(screen, update):
        if update is not None:
            if hasattr(update, "render_segments"):
                update.render_segments(app.console)  # what a terminal would be sent
            paints.append(time.perf_counter())
        return display(screen, update)

    app._display = timed_display
    try:
        async with app.run_test(size=SIZE):
            await wait_for(lambda: paints, "the first paint")
            painted = paints[0] - T0
            tree = app.task_tree
            pressed = time.perf_counter()
            key(app, "end")
            await wait_for(lambda: tree.current == tree.rows[-1][0], "the cursor on the last row")
            moved = time.perf_counter()
            await wait_for(lambda: paints[-1] > moved, "the repaint after the scroll")
            scrolled = paints[-1] - pressed
            rows = len(tree.rows)
            source.controller.cancel(by="bench").wait(DEADLINE)
            await wait_for(lambda: app.view.finished, "the cancelled run")
    finally:
        source.close()
    return {
        "tasks": len(flow.tasks()), "rows": rows, "first_paint_s": painted, "scroll_s": scrolled,
        "imports_s": started - T0, "load_s": loaded - started, "app_init_s": built - loaded,
        "mount_to_paint_s": paints[0] - built,
    }


def main(kind, size, state_dir=None):
    """`paint TASKS STATE_DIR` or `flood LINES`: each in its own process, so neither sees the other's memory."""
    if kind == "paint":
        result = asyncio.run(first_paint(int(size), state_dir))
    else:
        result = asyncio.run(flood(int(size)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
