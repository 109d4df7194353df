"""The headless printer: attributed output, status lines, GitHub Actions groups, a summary."""

import errno
import os
import re
import select
import stat

from ..engine.durations import format_duration

_STYLES = {
    "succeeded": ("✔", "32"), "failed": ("✘", "31"), "timed_out": ("⏱", "31"), "rejected": ("✘", "31"),
    "cancelled": ("■", "33"), "skipped": ("↷", "2"), "not_run": ("·", "2"),
}


# A GitHub Actions workflow command (`::add-mask::…`, `::error file=…::…`): the runner reads it only at
# the start of a line. Not `::group::`/`::endgroup::`: flowtui's own groups fold each task.
_WORKFLOW_COMMAND = re.compile(r" *::(?!(?:group|endgroup)::)[a-z][\w-]*(?: [^\n]*)?::", re.IGNORECASE)

def wants_color(out):
    """Whether to colour `out`: a non-empty NO_COLOR says no (no-color.org), then a FORCE_COLOR other
    than "" or "0" says yes even off a terminal (CI logs render ANSI), else a terminal not `dumb`."""
    environ = os.environ
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    return environ.get("TERM") != "dumb" and out.isatty()


# Written (and flushed) as soon as they happen: a prompt or the end may follow at once.
_AT_ONCE = frozenset({"approval_requested", "run_paused", "run_stopping", "run_finished", "notice"})


class ConsolePrinter:
    """Subscribes to a run's events and writes lines to `out` (a text stream).

    What one turn of the engine's loop prints is written and flushed together at the end of the
    turn: a log piped to CI streams even when Python would buffer it (no PYTHONUNBUFFERED), and a
    flood or a thousand short tasks cost a write per turn, not one per line.
    """

    def __init__(self, run, out, tails, *, color=None, github=None, on_lost=None):
        self.run, self.out, self.tails = run, out, tails
        self.on_lost = on_lost  # called once with the OSError when `out` cannot be written any more
        self.lost = False
        self.color = wants_color(out) if color is None else color
        self.github = os.environ.get("GITHUB_ACTIONS") == "true" if github is None else github
        self._group = None  # GitHub Actions: the task whose output streams inside the open group
        self._held = {}  # GitHub Actions: output of other tasks, printed in their own group
        self._prefix = {}
        self._parts = []  # written this turn, not yet handed to `out`
        run.bus.subscribe(self)
        self._watched = self._watch()

    def _watch(self):
        """The descriptor of `out` when it is a pipe, watched so that its reader going away (`| head`,
        a dead log collector) is noticed at once, not at the next line a silent task may never print:
        epoll reports an error on a pipe's write end that has no reader. None otherwise."""
        try:
            fd = self.out.fileno()
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return None
        except (OSError, ValueError):  # not a file (a StringIO), or closed
            return None
        self.run.reactor.add_reader(fd, self._reader_gone)
        return fd

    def _reader_gone(self):
        poller = select.poll()
        poller.register(self._watched, select.POLLOUT)
        if any(events & select.POLLERR for _, events in poller.poll(0)):
            self._lose(BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)))
        else:  # woken for something else: from now on a failed write tells
            self.run.reactor.remove_reader(self._watched)
            self._watched = None

    def _lose(self, exc):
        """`out` cannot be written: what is left to print is dropped, and the owner told once."""
        self.lost = True
        self._parts.clear()
        if self._watched is not None:
            self.run.reactor.remove_reader(self._watched)
            self._watched = None
        if self.on_lost:
            self.on_lost(exc)

    def _paint(self, text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _write(self, *texts):
        parts = self._parts
        if not parts:
            self.run.reactor.call_soon(self.flush)
        parts.extend(texts)

    def flush(self):
        if self.lost:
            self._parts.clear()
            return
        try:
            if self._parts:
                text = "".join(self._parts)
                self._parts.clear()
                self.out.write(text)
            self.out.flush()
        except OSError as exc:  # EPIPE: the reader went away; EIO: the terminal hung up
            self._lose(exc)

    def __call__(self, event):
        handler = getattr(self, "on_" + event.type, None)
        if handler is not None:
            handler(event)
            if event.type in _AT_ONCE:
                self.flush()

    # -- output -------------------------------------------------------------------------------
    def _lines(self, task, text, stream, hook):
        """Each line of `text` attributed: the pieces to write, joined only once per turn."""
        prefix = self._prefix.get(task)
        if prefix is None:
            prefix = self._prefix[task] = self._paint(f"[{task}]", "36") + " "
        if hook:
            prefix += self._paint(f"({hook})", "2") + " "
        if stream == "stderr" and self.color:
            prefix += "\x1b[2m!\x1b[0m "
        if self.github and "::" in text:  # the runner's commands stay at the start of their line
            return tuple(line + "\n" if _WORKFLOW_COMMAND.match(line) else prefix + line + "\n"
                         for line in text.split("\n"))
        return prefix, text.replace("\n", "\n" + prefix), "\n"

    def on_task_output(self, event):
        parts = self._lines(event.task, event.text, event.stream, event.hook)
        if self.github and self._group != event.task:
            self._held.setdefault(event.task, []).append("".join(parts))
        else:
            self._write(*parts)

    # -- task lifecycle ------------------------------------------------------------------------
    def on_task_started(self, event):
        if self.github and self._group is None:
            self._open_group(event.task)
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        loop = f" (iteration {event.iteration})" if event.iteration and event.iteration > 1 else ""
        self._status(event.task, self._paint("▶", "34") + f" {event.task} started{again}{loop}")

    def on_task_retrying(self, event):
        self._status(event.task, self._paint("↻", "33") + f" {event.task} exited {event.exit_code}; retrying in {format_duration(event.delay)}")

    def on_task_finished(self, event):
        icon, code = _STYLES.get(event.status, ("?", "0"))
        parts = [f"{event.task} {event.status.replace('_', ' ')}"]
        if event.exit_code is not None:
            parts.append(f"exit {event.exit_code}")
        if event.duration is not None and event.status not in ("skipped", "not_run"):
            parts.append(f"in {format_duration(event.duration)}")
        line = self._paint(icon, code) + " " + ", ".join(parts)
        if event.error and event.status not in ("succeeded", "rejected"):
            line += self._paint(f" — {event.error}", "2")
        self._status(event.task, line)
        if self.github and self._group == event.task:
            self._write("::endgroup::\n")
            self._group = None
            self._flush_held()

    def on_hook_finished(self, event):
        if event.exit_code:
            self._status(event.task, self._paint("warning:", "33") + f" {event.task}: {event.hook} hook exited {event.exit_code}")

    def on_approval_requested(self, event):
        self._write(self._paint("?", "35") + f" {event.task} awaits approval: {event.prompt}\n")

    def on_approval_granted(self, event):
        by = f" by {event.by}" if event.by else ""
        self._write(self._paint("✔", "35") + f" {event.task} approved{by}" + (f": {event.reason}" if event.reason else "") + "\n")

    def on_approval_rejected(self, event):
        by = f" by {event.by}" if event.by else ""
        self._write(self._paint("✘", "35") + f" {event.task} rejected{by}" + (f": {event.reason}" if event.reason else "") + "\n")

    def on_notice(self, event):
        where = f"{event.task}: " if event.task else ""
        self._write(self._paint(f"{event.level}:", "33") + f" {where}{event.message}\n")

    def on_run_paused(self, event):
        self._write(self._paint("⏸ paused", "33") + (f" by {event.by}" if event.by else "") + "\n")

    def on_run_resumed(self, event):
        self._write(self._paint("▶ resumed", "33") + (f" by {event.by}" if event.by else "") + "\n")

    def on_run_stopping(self, event):
        what = {"stop": "stopping (running tasks finish)", "cancel": "cancelling (terminating running tasks)",
                "fatal": f"stopping: {event.by} failed and is fatal", "end": f"ending at {event.by}"}[event.mode]
        self._write(self._paint(f"■ {what}", "33") + "\n")

    def on_run_finished(self, event):
        self._flush_held()
        self._summary(event)

    def _status(self, task, line):
        if self.github and self._group not in (None, task):
            self._held.setdefault(task, []).append(line + "\n")
        else:
            self._write(line + "\n")

    # -- GitHub Actions groups -------------------------------------------------------------------
    def _open_group(self, task):
        self._group = task
        self._write(f"::group::{task}\n")
        for text in self._held.pop(task, ()):
            self._write(text)

    def _flush_held(self):
        for task in list(self._held):
            if self.run.states.get(task) is not None and self.run.states[task].status == "running":
                continue
            self._open_group(task)
            self._write("::endgroup::\n")
            self._group = None
        running = [t for t in self._held if self.run.states[t].status == "running"]
        if running and self._group is None:
            self._open_group(running[0])

    # -- summary ---------------------------------------------------------------------------------
    def _summary(self, event):
        run = self.run
        counts = {}
        first_failure = None
        for nid in run.tree_order():
            if not run.nodes[nid].is_task:
                continue
            status = run.states[nid].status
            counts[status] = counts.get(status, 0) + 1
            if first_failure is None and run.unhandled_failure(nid) and not any(
                    run.unhandled_failure(child) for child in run.children[nid]):  # a parent fails for its child
                first_failure = nid
        took = format_duration(run.finished_at - run.started_at) if run.started_at else "-"
        tally = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items())) or "no tasks"
        icon, code = _STYLES.get(event.status, ("■", "33"))
        self._write("\n" + self._paint(f"{icon} run {event.status}", code) + f" in {took}: {tally} (exit {event.exit_code})\n")
        if first_failure:
            state = run.states[first_failure]
            code = f", exit {state.exit_code}" if state.exit_code is not None else ""  # a rejected task never ran
            self._write(self._paint(f"first failure: {first_failure}", "31") + f" ({state.status.replace('_', ' ')}{code})" + (f" — {state.error}" if state.error else "") + "\n")
            tail = self.tails.get(first_failure, 20)
            if tail:
                quoted = "  " + "\n  ".join(tail) + "\n"
                if self.github:  # the runner reads `  ::error::…` as a command: it ran once already
                    token = os.urandom(16).hex()  # one the task cannot have printed to end the quote
                    quoted = f"::stop-commands::{token}\n{quoted}::{token}::\n"
                self._write(quoted)
