"""The two header lines: flow, format and run status; then elapsed time, progress bar and ETA.

Progress is weighted by the tasks' estimated durations (Flow-CTRL `time`, `Node.estimate`) when
the flow gives any (tasks without one count as the average estimate); otherwise it counts tasks
and extrapolates the ETA from the time spent so far.
"""

from rich.text import Text
from textual.widget import Widget

from flowtui.engine.loaders import FORMAT_NAMES
from flowtui.engine.model import TERMINAL

from . import status as st

BAR_WIDTH = 24


def progress(view, now):
    """(fraction done, seconds left or None, finished tasks, all tasks)."""
    done, total, _ = view.group_progress(None)
    if not total:
        return 1.0, None, 0, 0
    if view.has_estimates:
        tasks = view.tasks()
        estimates = [view.nodes[nid].get("estimate") for nid in tasks]
        known = [e for e in estimates if e]
        mean = sum(known) / len(known)
        weight_all = weight_done = 0.0
        for nid, estimate in zip(tasks, estimates, strict=True):
            weight = estimate or mean
            weight_all += weight
            state = view.states[nid]
            if state["status"] in TERMINAL:
                weight_done += weight
            elif state["status"] in ("running", "retrying") and state.get("started_at") is not None:
                weight_done += min(weight * 0.95, max(0.0, now - state["started_at"]))
        fraction = weight_done / weight_all if weight_all else 1.0
        left = max(0.0, weight_all - weight_done)
    else:
        fraction = done / total
        elapsed = (now - view.started_at) if view.started_at else 0.0
        left = elapsed / done * (total - done) if done and elapsed > 0 else None
    if view.finished:
        left = None
    return fraction, left, done, total


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader {
        height: 2; dock: top; background: $panel; color: $text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;  /* a long top line must not push the bottom one out */
    """ + st.STATUS_CSS + """
        & > .header--bar { color: $accent; }
        & > .header--bar-empty { color: $panel-lighten-2; }
        & > .header--dim { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = st.component_classes() | {"header--bar", "header--bar-empty", "header--dim"}

    def __init__(self, view, clock, **kw):
        super().__init__(**kw)
        self.view = view
        self.clock = clock

    def render(self):
        view, now = self.view, self.clock()
        style = self.get_component_rich_style
        dim = style("header--dim", partial=True)
        shown = "paused" if view.paused and view.active else view.status
        top = Text(no_wrap=True, overflow="ellipsis", end="")
        top.append(view.flow_name or "flow", "bold")
        top.append(f"  {FORMAT_NAMES.get(view.flow_format, view.flow_format)}", dim)
        top.append("   ")
        top.append(f"{st.icon(shown)} {st.label(shown)}", style(f"status--{shown}", partial=True, default=dim))
        if view.stopping and view.active:
            top.append(f" ({'cancelling' if view.stopping == 'cancel' else 'stopping'})", dim)
        if view.run_id:
            top.append(f"   run {view.run_id}", dim)
        pending = len(view.approvals)
        if pending:
            top.append(f"   {pending} awaiting approval (a)", style("status--awaiting_approval", partial=True))

        fraction, left, done, total = progress(view, now)
        bottom = Text(no_wrap=True, overflow="ellipsis", end="")
        if view.started_at is not None:
            end = view.finished_at if view.finished and view.finished_at else now
            bottom.append(st.duration(end - view.started_at).rjust(6))
        else:
            bottom.append("     -")
        bottom.append("  ")
        filled = int(round(fraction * BAR_WIDTH))
        bottom.append("━" * filled, style("header--bar", partial=True))
        bottom.append("━" * (BAR_WIDTH - filled), style("header--bar-empty", partial=True))
        bottom.append(f" {int(fraction * 100):3d}%  {done}/{total} tasks")
        if left is not None:
            bottom.append(f"  ETA {st.duration(left)}", dim)
        return Text("\n", end="").join([top, bottom])
