"""The run screen: header, task tree, the selected task's output, footer; and `main()`.

The app only ever reads a `RunSource` (snapshot + drained events) and steers the run through
its controller, so the same app draws a run in this process and one attached over a socket.
Events are drained on a timer and applied in batches: however fast tasks print, the widgets
repaint at most `POLL_HZ` times a second.
"""


import signal
import time
from functools import partial

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static

from ..engine.who import current_user
from . import status as st
from .earlier import load_earlier_output
from .hangup import HangupSafeDriver, leave_on_signals
from .header import RunHeader
from .help import HelpScreen
from .log_view import LogTitle, LogView, shown
from .modals import ApprovalModal, ConfirmModal, InputModal, ReasonModal
from .runview import RunView
from .tree import TaskTree

POLL_HZ = 25  # event drains (and at most as many repaints) per second
TICK = 0.1  # repaint of clock-driven parts (spinners, elapsed) while the run is active
REPLY_TIMEOUT = 10.0


class Summary(Static):
    """The line shown once the run has ended: outcome, counts, first failure, what you can do."""

    def show(self, view, now):
        totals = view.totals()
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        elapsed = (view.finished_at or now) - view.started_at if view.started_at else None
        text.append(f"{st.icon(view.status)} run {view.status}", "bold")
        if elapsed is not None:
            text.append(f" in {st.duration(elapsed)}")
        for status in ("succeeded", "failed", "timed_out", "rejected", "skipped", "not_run", "cancelled"):
            if totals.get(status):
                text.append(f" · {totals[status]} {st.label(status)}")
        failure = view.first_failure()
        if failure:
            text.append(f" · first failure: {failure}", "bold")
        if view.status == "unreachable":
            text.append("   the runner went away (killed?): `flowtui show` has what it recorded · q quit", "dim")
        else:
            text.append("   R rerun · D with downstream · q quit", "dim")
        self.update(text)


class FlowApp(App[int]):
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("p", "pause", "Pause", tooltip="Pause: running tasks finish, nothing new starts", id="run.pause"),
        Binding("r", "resume", "Resume", tooltip="Resume a paused run", id="run.resume"),
        Binding("s", "stop", "Stop", tooltip="Stop gracefully (asks first): running tasks finish", id="run.stop"),
        Binding("c", "cancel_run", "Cancel", tooltip="Cancel (asks first): terminate running tasks, run teardown hooks",
                id="run.cancel"),
        Binding("ctrl+c", "cancel_anywhere", "Cancel", tooltip="Cancel (asks first), from any screen",
                id="run.cancel_ctrl_c", priority=True, show=False),
        Binding("a", "approve", "Approve", tooltip="Approve the selected task, or the oldest pending approval", id="task.approve"),
        Binding("x", "reject", "Reject", tooltip="Reject the selected (or oldest) pending approval, with a reason",
                id="task.reject", show=False),
        Binding("R", "rerun", "Rerun", tooltip="Rerun the selected task (reopens a finished run)", id="task.rerun"),
        Binding("D", "rerun_downstream", "Rerun+down", tooltip="Rerun the selected task and everything downstream of it",
                id="task.rerun_downstream", show=False),
        Binding("i", "send_input", "Send input", tooltip="Send a line to the selected task's input (answer its prompt)",
                id="task.input", show=False),
        Binding("k", "skip", "Skip", tooltip="Skip the selected task if it has not started", id="task.skip", show=False),
        Binding("f", "toggle_follow", "Follow", tooltip="Toggle following the running task's output", id="view.follow"),
        Binding("slash", "search", "Search", tooltip="Search the shown output (n / N: next / previous match)", id="view.search"),
        Binding("n", "search_next", "Next match", tooltip="Next search match", id="view.search_next", show=False),
        Binding("N", "search_previous", "Prev match", tooltip="Previous search match", id="view.search_previous", show=False),
        Binding("h", "history", "History", tooltip="Past runs of this flow", id="view.history", show=False),
        Binding("question_mark", "help", "Help", tooltip="All keys", id="app.help"),
        Binding("q", "quit_app", "Quit", tooltip="Quit (asks when the run is still active, then cancels it)", id="app.quit"),
    ]

    def __init__(self, source, *, title=None, clock=time.time, by=None, state_dir=None, max_lines=10000, detach=False):
        """`detach`: the run belongs to another process (attach); quitting leaves it running."""
        super().__init__()
        self.source = source
        self.detach = detach
        self.clock = clock
        self.by = by or current_user()
        self.state_dir = state_dir
        self.view = RunView(source.snapshot(), max_lines=max_lines)
        if state_dir and self.view.flow_file:
            self.view.learn_estimates(_learned_durations(state_dir, self.view.flow_file))
        if state_dir and detach:  # the socket streams only what comes from now on
            load_earlier_output(self.view, state_dir)
        self.title = title or self.view.flow_name or "flowtui"
        self.follow = True
        self.quitting = False  # quit was confirmed while active: leave once the run has ended
        self._notices = 0
        self._ticks = 0
        self._approvals_deferred = False  # an approval dialog that waits for the search box to close
        self._keys_state = None  # what the footer's keys were last refreshed for (see sync_keys)

    def get_driver_class(self):
        """Textual's terminal driver, made to survive a hangup (see hangup.py)."""
        driver = super().get_driver_class()
        return HangupSafeDriver if driver is HangupSafeDriver.__base__ else driver

    def notify(self, message, *, markup=False, **kw):
        """Messages quote task ids and flow text, which must not be read as markup."""
        super().notify(message, markup=markup, **kw)

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes: the app's timers and keys reach them while a dialog is on top.
        self.run_header = RunHeader(self.view, self.clock, id="header")
        self.task_tree = TaskTree(self.view, self.clock, id="tree")
        self.log_title = LogTitle(self.view, self.clock, id="log-title")
        self.log_view = LogView(self.view, id="log")
        self.search_box = Input(placeholder="search the output, Enter to find, Esc to close", id="search")
        self.summary = Summary(id="summary")
        yield self.run_header
        with Horizontal(id="main"):
            yield self.task_tree
            with Vertical(id="output"):
                yield self.log_title
                yield self.log_view
                yield self.search_box
        yield self.summary
        # Ctrl+P still opens the palette and `?` lists every key. Compact (one space less per key):
        # with an approval pending, and paused too, the keys end with `? Help  q Quit` in 80 columns.
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self):
        self.task_tree.focus()
        self.poll()
        start = self.view.last_started or next(iter(self.view.running_tasks()), None) or self.task_tree.current
        if self.view.finished:
            self.finished()
        elif start is not None:
            self.task_tree.select(start)
        self.set_interval(1 / POLL_HZ, self.poll)
        self.set_interval(TICK, self.tick)
        if self.view.approvals:
            self.open_approvals()

    # -- events ----------------------------------------------------------------------------------
    def poll(self):
        ended = getattr(self.source, "ended", False)  # read first: every event before the end is queued by then
        events = self.source.drain()
        changed = self.view.apply(events) if events else set()
        if ended and self.view.active:
            changed |= self.view.lose(self.clock())
            self.notify("the run went away: its runner is no longer reachable", severity="error", timeout=10)
        if not changed:
            return
        if "structure" in changed:
            self.task_tree.rebuild()
        elif "tree" in changed:
            self.task_tree.refresh()
        if "header" in changed:
            self.run_header.refresh()
        self.sync_keys()
        if "reopened" in changed:
            self.summary.display = False
        if "started" in changed:
            self.follow_started()
        if ("log", self.log_view.task_id) in changed:
            self.log_view.update()
        self.log_title.refresh()
        if "notice" in changed:
            for level, message, _ in self.view.notices[self._notices:]:
                self.notify(message, severity="error" if level == "error" else "warning")
            self._notices = len(self.view.notices)
        if "approvals" in changed or "approval_requested" in changed:
            self.sync_approvals("approval_requested" in changed)
        if "finished" in changed:
            self.finished()

    def sync_keys(self):
        """Refresh the footer's keys when what `check_action` reads of the run has changed. Not at
        every status change: a refresh recomposes Textual's footer, and doing it at every poll
        starved the engine's thread (a flow of many short tasks ran ten times slower)."""
        state = (self.view.active, self.view.paused, bool(self.view.approvals))
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def tick(self):
        """Spinners and elapsed times move while tasks run; otherwise the clocks of the header and
        of open groups (waiting on an approval, or paused), once a second."""
        if not self.view.active:
            return
        self._ticks += 1
        counts = self.view.counts.get(None, {})
        if counts.get("running") or counts.get("retrying"):
            self.task_tree.refresh()
            self.log_title.refresh()
            self.run_header.refresh()
        elif self._ticks % round(1 / TICK) == 0:
            self.task_tree.refresh()
            self.run_header.refresh()

    def follow_started(self):
        """Follow mode: select the task that started last, unless the user has just moved."""
        if self.follow and self.view.last_started and not self.task_tree.user_moved:
            self.task_tree.select(self.view.last_started)

    def on_task_tree_selected(self, message: TaskTree.Selected):
        if message.user:
            self.task_tree.user_moved = False
            if self.follow:
                self.set_follow(False)
        self.log_view.show(message.task)
        self.log_title.task_id = message.task
        self.log_title.refresh()

    def finished(self):
        """The run ended: show the summary and the first failure's output tail."""
        self.summary.show(self.view, self.clock())
        self.summary.display = True
        failure = self.view.first_failure()
        if failure is not None:
            self.task_tree.select(failure)
            self.log_view.update(stick=True)
        self.sync_keys()
        if self.quitting:
            self.exit(self.view.final_exit_code())

    # -- approvals -------------------------------------------------------------------------------
    def sync_approvals(self, requested):
        modal = next((screen for screen in self.screen_stack if isinstance(screen, ApprovalModal)), None)
        if modal is not None:
            modal.sync()
        elif requested and self.view.approvals and len(self.screen_stack) == 1:
            if self.focused is self.search_box:  # its letters are a query, not the dialog's keys
                self._approvals_deferred = True
            else:
                self.open_approvals()

    def open_approvals(self, task=None):
        if isinstance(self.screen, ApprovalModal):
            return
        self.push_screen(ApprovalModal(self.view, self.decide, task))

    def decide(self, task, approved, values, reason):
        if approved:
            self.control("approve", task, by=self.by, values=values)
        else:
            self.control("reject", task, by=self.by, reason=reason)

    def approval_target(self):
        selected = self.task_tree.current
        if selected in self.view.approvals:
            return selected
        return next(iter(self.view.approvals), None)

    # -- controller ------------------------------------------------------------------------------
    def control(self, operation, *args, **kw):
        reply = getattr(self.source.controller, operation)(*args, **kw)
        self.wait_reply(operation, reply)

    @work(thread=True, group="replies")
    def wait_reply(self, operation, reply):
        reply.wait(REPLY_TIMEOUT)
        ok, message = reply.ok, reply.message
        if ok is None:
            ok, message = False, f"{operation}: the run did not answer"
        self.call_from_thread(self.notify, message or operation, severity="information" if ok else "warning")

    def check_action(self, action, parameters):
        view = self.view
        if len(self.screen_stack) > 1 and action in RUN_ACTIONS:
            return False  # a dialog or another screen is on top: its keys (Tab too), not the run's
        # A key that does nothing now is left out of the footer (not dimmed): at 80 columns the
        # footer has room for what applies, `? Help` and `q Quit` included.
        if action == "pause":
            return bool(view.active and not view.paused)
        if action == "resume":
            return bool(view.paused)
        if action == "cancel_anywhere":  # not in the footer; an ended run's Ctrl+C does nothing
            return view.active or None
        if action in ("stop", "cancel_run"):
            return bool(view.active)
        if action in ("approve", "reject"):
            return bool(view.approvals)
        return True

    # -- actions ---------------------------------------------------------------------------------
    def action_pause(self):
        self.control("pause", by=self.by)

    def action_resume(self):
        self.control("resume", by=self.by)

    def _confirm(self, question, then):
        self.push_screen(ConfirmModal(question), lambda yes: then() if yes else None)

    def action_stop(self):
        if self.view.active:
            self._confirm("Stop the run? Running tasks finish; nothing new starts.", lambda: self.control("stop", by=self.by))

    def action_cancel_run(self):
        if self.view.active:
            self._confirm("Cancel the run? Running tasks are terminated; teardown hooks run.",
                          lambda: self.control("cancel", by=self.by))
        else:
            self.notify("the run has finished: q quits", severity="information")

    def action_cancel_anywhere(self):
        """Ctrl+C: `c` under another name, so that a screen on top blocks `c` and not Ctrl+C."""
        self.action_cancel_run()

    def action_approve(self):
        task = self.approval_target()
        if task is None:
            self.notify("no task is awaiting approval", severity="warning")
        elif self.view.approvals[task]["fields"]:
            self.open_approvals(task)
        else:
            self.decide(task, True, {}, None)

    def action_reject(self):
        task = self.approval_target()
        if task is None:
            self.notify("no task is awaiting approval", severity="warning")
            return
        self.push_screen(ReasonModal(task), lambda reason: reason is not None and self.decide(task, False, None, reason or None))

    def _selected(self):
        task = self.task_tree.current
        if task is None:
            self.notify("no task selected", severity="warning")
        return task

    def action_rerun(self):
        if (task := self._selected()) is not None:
            self.control("rerun", task, downstream=False, by=self.by)

    def action_rerun_downstream(self):
        if (task := self._selected()) is not None:
            self.control("rerun", task, downstream=True, by=self.by)

    def action_skip(self):
        if (task := self._selected()) is not None:
            self.control("skip", task, by=self.by)

    def action_send_input(self):
        """`flowtui send` without leaving the TUI: a task's prompt is answered where it is seen."""
        task = self._selected()
        if task is None:
            return
        status = self.view.states[task]["status"]
        if not self.view.is_task(task):
            self.notify(f"{task} is a group: select its running task to send it a line", severity="warning")
        elif status != "running":
            self.notify(f"{task} is not running ({st.label(status)}): only a running task reads input", severity="warning")
        else:
            log = self.view.logs.get(task)
            pending = log.pending if log is not None else None  # an unfinished line: likely the prompt
            prompt = shown(pending[2])[0].plain.strip() if pending else ""
            self.push_screen(InputModal(task, prompt), lambda line: line is not None and self.control("send", task, line))

    def set_follow(self, value):
        self.follow = value
        self.log_title.follow = value
        if value:
            running = self.view.running_tasks()
            target = max(running, key=lambda t: self.view.states[t].get("started_at") or 0) if running else None
            if target is not None:
                self.task_tree.select(target)
            self.log_view.update(stick=True)

    def action_toggle_follow(self):
        self.set_follow(not self.follow)
        self.notify(f"follow {'on' if self.follow else 'off'}", timeout=1.5)

    def action_search(self):
        self.search_box.add_class("visible")
        self.search_box.value = self.log_view.query_text
        self.search_box.focus()

    def on_input_submitted(self, event: Input.Submitted):
        if event.input.id != "search":
            return
        event.stop()
        self._close_search()
        if not self.log_view.search(event.value) and event.value:
            self.notify(f"not found: {event.value}", severity="warning")

    def on_key(self, event):
        if event.key == "escape" and self.focused is self.search_box:
            event.stop()
            self._close_search()

    def _close_search(self):
        self.search_box.remove_class("visible")
        self.log_view.focus()
        if self._approvals_deferred:  # a gate became ready while the query was typed
            self._approvals_deferred = False
            if self.view.approvals and len(self.screen_stack) == 1:
                self.open_approvals()

    def _search_step(self, direction):
        if not self.log_view.query_text:
            self.notify("nothing to find: / starts a search", severity="warning")
        elif not self.log_view.search(self.log_view.query_text, direction):
            self.notify(f"not found: {self.log_view.query_text}", severity="warning")

    def action_search_next(self):
        self._search_step(1)

    def action_search_previous(self):
        self._search_step(-1)

    def action_history(self):
        from .history import HistoryScreen

        if not self.state_dir:
            self.notify("no run history: runs are recorded in the state directory (--state-dir)", severity="warning")
            return
        self.push_screen(HistoryScreen(self.state_dir, self.view.flow_file))

    def action_help(self):
        self.push_screen(HelpScreen())

    def action_quit_app(self):
        if not self.view.active:
            self.exit(self.view.final_exit_code())
            return
        if self.detach:
            self.push_screen(ConfirmModal("Leave? The run keeps going (attach to it again later).", yes="Leave",
                                          no="Stay"), lambda yes: yes and self.exit(0))
            return

        def confirmed(yes):
            if yes:
                self.quitting = True
                self.control("cancel", by=self.by)

        self.push_screen(ConfirmModal("The run is still active. Cancel it and quit?", yes="Cancel run and quit",
                                      no="Keep running"), confirmed)

    async def action_quit(self):
        """Textual's Ctrl+Q and the palette's Quit: the same as `q`, never a quit without asking."""
        self.action_quit_app()

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            yield SystemCommand(binding.description, binding.tooltip, partial(self.run_action, binding.action))


# What a dialog on top blocks: every key of the run screen but Ctrl+C, and the palette of its
# actions. Textual's own keys, such as Tab (focus_next), keep working inside the dialog.
RUN_ACTIONS = frozenset(binding.action for binding in FlowApp.BINDINGS) - {"cancel_anywhere"} | {"command_palette"}


def _learned_durations(state_dir, flow_file) -> dict:
    """Median past durations of this flow's tasks, for the ETA; {} when there is no history."""
    from ..engine.store import open_store

    try:
        store = open_store(state_dir)
    except Exception:  # no usable history only means no learned ETA
        return {}
    try:
        return store.median_durations(flow_file)
    finally:
        store.close()


def main(source, *, title=None, on_exit=None, state_dir=None, clock=time.time, detach=False) -> int:
    """Run the TUI on `source` until the user quits; returns the contract's exit code.

    The run is over when this returns: quitting an active run cancels it first (after asking),
    unless `detach` (a run attached over the control socket: leaving returns 0 and it goes on).
    `on_exit(exit_code)` is called after the app has closed, before the source is closed (the
    place to write reports).
    """
    app = FlowApp(source, title=title, state_dir=state_dir, clock=clock, detach=detach)
    previous = leave_on_signals(app)
    try:
        app.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if app.view.active and not detach:
            source.controller.cancel(by=app.by).wait(REPLY_TIMEOUT)
            _wait_finished(source, app.view)
    code = 0 if app.view.active else app.view.final_exit_code()
    if on_exit is not None:
        on_exit(code)
    source.close()
    return code


def _wait_finished(source, view, timeout=30.0):
    """Apply events until the run reports its end (a cancelled run still runs its teardown)."""
    deadline = time.monotonic() + timeout
    while view.active and time.monotonic() < deadline:
        view.apply(source.drain())
        if view.active:
            time.sleep(0.05)
