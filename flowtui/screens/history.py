"""The `h` screen: past runs of this flow from the run store, their tasks, and a task's log tail.

Reads the store only (`open_store(state_dir)`: `list_runs`, `get_run`, `task_log_path`); the run
on the main screen keeps going underneath.
"""

import time
from collections import deque

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Log

from . import status as st

LOG_TAIL = 500


def when(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def tail(path, count=LOG_TAIL):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=count)]
    except OSError as exc:
        return [f"cannot read {path}: {exc.strerror}"]


def middle(path, width) -> str:
    """`path` cut to `width` cells in the middle: it keeps where it starts and its file name."""
    if cell_len(path) <= width:
        return path
    room = max(0, width - 1)
    keep = max(room - room // 3, cell_len(path.rsplit("/", 1)[-1]) + 1)  # the name with its slash
    tail = ""
    for char in reversed(path):
        if cell_len(tail) + cell_len(char) > min(keep, room):
            break
        tail = char + tail
    head = ""
    for char in path:
        if cell_len(head) + cell_len(char) + cell_len(tail) > room:
            break
        head += char
    return head + "…" + tail if width else ""


class HistoryTitle(Widget):
    """Two rows: which flow (its path cut in the middle to fit), then the run count and keys."""

    DEFAULT_CSS = """
    HistoryTitle { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.heading, self.path, self.detail = "Run history", "", ""

    def show(self, heading, path, detail):
        self.heading, self.path, self.detail = heading, path, detail
        self.refresh()

    def render(self):
        width = self.content_region.width
        text = Text(self.heading, "bold", no_wrap=True, overflow="ellipsis", end="")
        if self.path:
            text.append(" " + middle(self.path, max(0, width - cell_len(self.heading) - 1)), "bold")
        text.append("\n" + self.detail)
        return text


class HistoryScreen(Screen[None]):
    DEFAULT_CSS = """
    HistoryScreen #runs { height: 40%; }
    HistoryScreen #below { height: 1fr; }
    HistoryScreen #tasks { width: 50%; }
    HistoryScreen Log { width: 1fr; border-left: vkey $panel-lighten-2; }
    """
    BINDINGS = [Binding("escape,h,q", "close", "Back", id="history.close")]

    def __init__(self, state_dir, flow_file=None):
        super().__init__()
        self.state_dir = state_dir
        self.flow_file = flow_file
        self.store = None
        self.run_id = None

    def compose(self) -> ComposeResult:
        yield HistoryTitle(id="title")
        with Vertical():
            yield DataTable(id="runs", cursor_type="row")
            with Horizontal(id="below"):
                yield DataTable(id="tasks", cursor_type="row")
                yield Log(id="task-log")
        yield Footer()

    def on_mount(self):
        runs = self.query_one("#runs", DataTable)
        runs.add_columns("run", "status", "started", "duration", "tasks")
        self.query_one("#tasks", DataTable).add_columns("task", "status", "attempts", "exit", "duration")
        try:
            from flowtui.engine.store import open_store

            self.store = open_store(self.state_dir)
            rows = self.store.list_runs(flow_file=self.flow_file)
        except Exception as exc:  # a missing or unreadable store is a message, not a crash
            self.query_one(HistoryTitle).show("Run history: cannot read the store in", self.state_dir, str(exc))
            return
        count = f"{len(rows)} run" + ("" if len(rows) == 1 else "s")
        self.query_one(HistoryTitle).show("Run history of", self.flow_file or "all flows", f"{count} · Enter: show tasks · Esc: back")
        for run in rows:
            counts = run.get("tasks") or {}
            done = counts.get("succeeded", 0)
            runs.add_row(
                run["run_id"], f"{st.icon(run['status'])} {st.label(run['status'])}", when(run.get("started_at")),
                st.duration(run.get("duration")), f"{done}/{counts.get('total', 0)} ok", key=run["run_id"],
            )
        runs.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted):
        if event.data_table.id == "runs" and event.row_key.value != self.run_id:
            self.show_run(event.row_key.value)
        elif event.data_table.id == "tasks" and self.run_id:
            log = self.query_one("#task-log", Log)
            log.clear()
            log.write_lines(tail(self.store.task_log_path(self.run_id, event.row_key.value)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected):
        if event.data_table.id == "runs":
            self.query_one("#tasks", DataTable).focus()

    def show_run(self, run_id):
        self.run_id = run_id
        table = self.query_one("#tasks", DataTable)
        table.clear()
        self.query_one("#task-log", Log).clear()
        try:
            run = self.store.get_run(run_id)
        except Exception as exc:  # the run was purged meanwhile, or the store is locked
            self.notify(str(exc), severity="warning", markup=False)
            return
        for task in run["tasks"]:
            if not task["is_task"]:
                continue
            table.add_row(
                Text(task["id"]), f"{st.icon(task['status'])} {st.label(task['status'])}", str(task.get("attempts") or 0),
                "" if task.get("exit_code") is None else str(task["exit_code"]), st.duration(task.get("duration")),
                key=task["id"],
            )

    def action_close(self):
        if self.store is not None:
            self.store.close()
        self.dismiss(None)
