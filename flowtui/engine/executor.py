"""Runs one task: setup hook, the action (with timeout and retries), on_ok/on_nok, teardown.

Every piece (main action or hook) is an `ActionContext` handed to an action implementation
looked up by `Action.kind`. Implementations call `ctx.done(...)` exactly once, now or later.
"""

import time

from .events import HookFinished, HookStarted, TaskOutput, TaskPartial, TaskRetrying, TaskStarted
from .model import CANCELLED, FAILED, RETRYING, RUNNING, SUCCEEDED, TIMED_OUT
from .process import Process, argv_for

TIMEOUT_EXIT = 124


class ActionContext:
    """What an action implementation sees: output, processes, completion, cancellation."""

    def __init__(self, execution, action, hook):
        self.execution = execution
        self.run = execution.run
        self.node = execution.node
        self.state = execution.state
        self.action = action
        self.params = action.params
        self.hook = hook
        self.reactor = self.run.reactor
        self.env = execution.env
        self.cwd = execution.cwd
        self.processes = []
        self._cancel_callbacks = []
        self.finished = False
        self.timed_out = False
        self.cancelled = False
        self._on_done = None
        self._timer = None

    def output(self, stream, lines):
        if lines:
            self.run.emit(TaskOutput(self.node.id, stream, lines, self.hook))

    def output_text(self, stream, text):
        """Complete lines joined by newlines, as a process's output arrives."""
        self.run.emit(TaskOutput(self.node.id, stream, None, self.hook, text=text))

    def output_partial(self, stream, text):
        self.run.emit(TaskPartial(self.node.id, stream, text, self.hook))

    def spawn(self, argv, *, env=None, cwd=None, pty=None, on_exit=None) -> Process:
        """Start a process whose output streams into this task; on exit, finish with its code."""
        proc = Process(
            self.reactor, argv, env=env if env is not None else self.env,
            cwd=cwd if cwd is not None else self.cwd,
            pty=self.run.wants_pty(self.node) if pty is None else pty, owns_cwd=self.run.owns_cwd,
            stdin_null=self.run.stdin_null, on_output=self.output_text, on_exit=on_exit or (lambda code: self.done(code)),
            on_partial=self.output_partial,
        )
        self.processes.append(proc)
        if proc.pid is not None:
            for watcher in self.run.spawn_watchers:  # each process leads its own group: pid == pgid
                watcher(self.node.id, proc.pid)
        if self.cancelled or self.timed_out:
            proc.terminate(self.run.kill_grace)
        return proc

    def shell(self, cmd: str) -> Process:
        return self.spawn(argv_for(cmd))

    def on_cancel(self, callback):
        self._cancel_callbacks.append(callback)

    def done(self, exit_code=0, *, output=None, error=None, errored=False):
        if self.finished:
            return
        self.finished = True
        if self._timer:
            self._timer.cancel()
        if self.timed_out:
            exit_code, error = TIMEOUT_EXIT, error or f"timed out after {self.execution.timeout_text()}"
        self.reactor.call_soon(self._on_done, exit_code, output, error, errored)

    def _stop(self):
        for proc in self.processes:
            proc.terminate(self.run.kill_grace)
        for callback in self._cancel_callbacks:
            callback()

    def _timeout(self):
        if not self.finished:
            self.timed_out = True
            self._stop()

    def cancel(self):
        if not self.finished:
            self.cancelled = True
            self._stop()


def _shell(ctx):
    ctx.shell(ctx.params["cmd"])


def _argv(ctx):
    ctx.spawn(list(ctx.params["argv"]))


def _nop(ctx):
    ctx.done(0, output={})


def _print(ctx):
    ctx.output("stdout", str(ctx.params.get("message", "")).split("\n"))
    ctx.done(0, output={})


CORE_ACTIONS = {"shell": _shell, "argv": _argv, "nop": _nop, "print": _print}


class TaskExecution:
    """One attempt cycle of a task, including its retries and hooks."""

    def __init__(self, run, node, state, on_done):
        self.run, self.node, self.state, self.on_done = run, node, state, on_done
        self.env = run.task_env(node)
        self.cwd = node.cwd or run.flow.cwd
        self.current = None
        self.cancelled = False
        self.retries = 0
        self._retry_timer = None
        self.result = None  # (status, exit_code, output, error, errored)

    def timeout_text(self):
        from .durations import format_duration

        return format_duration(self.node.timeout)

    def start(self):
        state = self.state
        state.hooks = []
        self._hook("setup", self._main)

    # -- phases -------------------------------------------------------------------------------
    def _hook(self, kind, then):
        action = self.node.hooks.get(kind)
        if action is None or (self.cancelled and kind != "teardown") or self.run.hurry:
            then()
            return
        self.run.emit(HookStarted(self.node.id, kind))

        def finished(code, output, error, errored):
            self.state.hooks.append((kind, code))
            self.run.emit(HookFinished(self.node.id, kind, code))
            then()

        self._job(action, kind, finished)

    def _main(self):
        if self.cancelled:
            self.result = (CANCELLED, None, None, "cancelled before it started", False)
            self._hook("teardown", self._finish)
            return
        self._job(self.node.action, None, self._main_done)

    def _main_done(self, code, output, error, errored):
        ctx = self.current
        if ctx.cancelled or self.cancelled:
            status = CANCELLED
        elif ctx.timed_out:
            status = TIMED_OUT
        elif errored:
            status = FAILED
        else:
            status = SUCCEEDED if code in self.node.good_codes else FAILED
        retry = self.node.retry
        if (
            status in (FAILED, TIMED_OUT) and retry is not None and self.retries < retry.limit
            and retry.retries_on(code) and not self.run.halt
        ):
            self.retries += 1
            self.result = (status, code, output, error, errored)  # the outcome if a stop ends the retries
            delay = retry.delay_before(self.retries)
            self.state.status = RETRYING
            self.state.exit_code = code
            self.run.emit(TaskRetrying(self.node.id, self.state.attempt, delay, code))
            self._retry_timer = self.run.reactor.call_later(delay, self._retry)
            return
        self.result = (status, code, output, error, errored)
        hook = "on_ok" if status == SUCCEEDED else ("on_nok" if status in (FAILED, TIMED_OUT) else None)
        if hook:
            self._hook(hook, lambda: self._hook("teardown", self._finish))
        else:
            self._hook("teardown", self._finish)

    def _retry(self):
        self._retry_timer = None
        state = self.state
        state.attempt += 1
        state.status = RUNNING
        state.started_at = time.time()  # a task reports its last attempt (CONTRACT.md), retries included
        self.run.emit(TaskStarted(self.node.id, state.attempt, state.iteration))
        self._main()

    def _finish(self):
        self.current = None
        self.on_done(self, *self.result)

    def _job(self, action, hook, on_complete):
        impl = self.run.action_impl(action.kind)
        ctx = ActionContext(self, action, hook)
        ctx._on_done = on_complete
        self.current = ctx
        if self.node.timeout:
            ctx._timer = self.run.reactor.call_later(self.node.timeout, ctx._timeout)
        if impl is None:
            ctx.done(127, error=f"unknown action kind {action.kind!r}", errored=True)
            return
        try:
            impl(ctx)
        except Exception as exc:  # a bug or bad option in an action must fail the task, not the run
            ctx.output("stderr", [f"flowtui: {action.kind}: {exc}"])
            ctx.done(1, error=str(exc), errored=True)

    # -- control --------------------------------------------------------------------------------
    def cancel(self):
        """Terminate what runs now; teardown still runs afterwards."""
        if self.cancelled:
            return
        self.cancelled = True
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
            self.result = (CANCELLED, self.state.exit_code, None, "cancelled while waiting to retry", False)
            self._hook("teardown", self._finish)
        elif self.current is not None and self.current.hook in (None, "setup", "on_ok", "on_nok"):
            self.current.cancel()

    def abandon_retry(self):
        """Stop was asked while waiting to retry: end with the last attempt's outcome, and its hooks."""
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
            status, code, output, error, errored = self.result
            error = f"{error}; stopped before retrying" if error else "stopped before retrying"
            self.result = (status, code, output, error, errored)
            self._hook("on_nok", lambda: self._hook("teardown", self._finish))

    def send(self, text) -> bool:
        ctx = self.current
        if ctx is None:
            return False
        return any(proc.write(text) for proc in ctx.processes if proc.running)

