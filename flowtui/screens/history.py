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


class TaskTable(DataTable):
    """The tasks of one past run. Its columns fit its width without scrolling sideways: time (the
    duration), exit code and tries (the attempts) take what they need, status too unless a long one
    ("? awaiting approval", in a run still open) would leave the task id too little, and the task
    id the rest, cut in the middle (its last part kept) when it is longer. Refitted when resized."""

    HEADERS = ("task", "status", "time", "exit", "tries")
    MIN_TASK = 8  # narrower than this the table scrolls sideways instead
    WANT_TASK = 16  # a status longer than MIN_STATUS is cut (…) while the task id has less than this
    MIN_STATUS = cell_len("✔ succeeded")

    def __init__(self, **kw):
        super().__init__(cursor_type="row", **kw)
        self.tasks = []  # (task id, status, time, exit code, tries) per row, as text
        self.fitted = None  # the (task, status) column widths the rows were last drawn for

    def show(self, tasks):
        self.tasks = list(tasks)
        self.fitted = None
        self.fit()

    def widths(self):
        """(task column width, status column width) for the table's width now."""
        natural = [max([cell_len(header), *(cell_len(row[index]) for row in self.tasks)])
                   for index, header in enumerate(self.HEADERS)]
        room = self.size.width - self.styles.scrollbar_size_vertical  # kept for a scrollbar
        task = room - sum(natural[1:]) - 2 * self.cell_padding * len(self.HEADERS)
        cut = max(0, min(self.WANT_TASK - task, natural[1] - self.MIN_STATUS))
        return max(self.MIN_TASK, task + cut), natural[1] - cut

    def fit(self):
        widths = self.widths()
        if widths == self.fitted:
            return
        self.fitted = task_width, status_width = widths
        row = self.cursor_row
        self.clear(columns=True)
        self.add_column(self.HEADERS[0], width=task_width, key=self.HEADERS[0])
        self.add_column(self.HEADERS[1], width=status_width, key=self.HEADERS[1])
        for header in self.HEADERS[2:]:
            self.add_column(header, key=header)
        for task_id, status, *cells in self.tasks:
            self.add_row(Text(middle(task_id, task_width)), Text(status, no_wrap=True, overflow="ellipsis"), *cells,
                         key=task_id)
        if 0 < row < len(self.tasks):
            self.move_cursor(row=row)

    def on_resize(self):
        self.fit()


class HistoryScreen(Screen[None]):
    DEFAULT_CSS = """
    HistoryScreen #runs { height: 40%; }
    HistoryScreen #below { height: 1fr; }
    HistoryScreen #tasks { width: 60%; scrollbar-size-vertical: 1; }
    HistoryScreen Log { width: 1fr; border-left: vkey $panel-lighten-2; }
    """
    BINDINGS = [Binding("escape,h,q", "close", "Back", id="history.close")]

    def __init__(self, state_dir, flow_file=None):
        super().__init__()
        self.state_dir = state_dir
        self.flow_file = flow_file
        self.store = None
        self.run_id = None
        self.log_of = None  # (run id, task id) whose log tail is shown

    def compose(self) -> ComposeResult:
        yield HistoryTitle(id="title")
        with Vertical():
            yield DataTable(id="runs", cursor_type="row")
            with Horizontal(id="below"):
                yield TaskTable(id="tasks")
                yield Log(id="task-log")
        yield Footer()

    def on_mount(self):
        runs = self.query_one("#runs", DataTable)
        runs.add_columns("run", "status", "started", "duration", "tasks")
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
            self.show_log(event.data_table)

    def show_log(self, table):
        """The log tail of the task under the table's cursor, unless it is shown already (a table
        refitted to a new width puts its cursor back where it was)."""
        task = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        if task is None or (self.run_id, task) == self.log_of:
            return
        self.log_of = (self.run_id, task)
        log = self.query_one("#task-log", Log)
        log.clear()
        log.write_lines(tail(self.store.task_log_path(self.run_id, task)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected):
        if event.data_table.id == "runs":
            self.query_one("#tasks", DataTable).focus()

    def show_run(self, run_id):
        self.run_id = run_id
        self.log_of = None
        table = self.query_one("#tasks", TaskTable)
        table.show(())
        self.query_one("#task-log", Log).clear()
        try:
            run = self.store.get_run(run_id)
        except Exception as exc:  # the run was purged meanwhile, or the store is locked
            self.notify(str(exc), severity="warning", markup=False)
            return
        table.show(
            (task["id"], f"{st.icon(task['status'])} {st.label(task['status'])}", st.duration(task.get("duration")),
             "" if task.get("exit_code") is None else str(task["exit_code"]), str(task.get("attempts") or 0))
            for task in run["tasks"] if task["is_task"]
        )

    def action_close(self):
        if self.store is not None:
            self.store.close()
        self.dismiss(None)
