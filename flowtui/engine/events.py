"""Typed engine events and the bus that fans them out to subscribers.

The engine never prints: the console printer, report writers, TUI, run store and control socket
all subscribe here. `to_json()` gives the contract's `--events` objects; `from_json()` rebuilds an
event on the far side of the control socket.
"""

import time

_TYPES = {}


class Event:
    __slots__ = ("ts",)
    type = "event"
    names: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _TYPES[cls.type] = cls

    def __init__(self, *args, ts=None, **kw):
        for name, value in zip(self.names, args, strict=False):
            setattr(self, name, value)
        for name in self.names[len(args):]:
            setattr(self, name, kw.pop(name, None))
        if kw:
            raise TypeError(f"{self.type} has no field {sorted(kw)[0]!r}")
        self.ts = time.time() if ts is None else ts

    def to_json(self) -> dict:
        data = {"ts": self.ts, "type": self.type}
        for name in self.names:
            data[name] = getattr(self, name)
        return data

    def __repr__(self):
        return f"<{self.type} " + " ".join(f"{n}={getattr(self, n)!r}" for n in self.names) + ">"


def from_json(data: dict) -> Event:
    cls = _TYPES[data["type"]]
    return cls(ts=data.get("ts"), **{n: data.get(n) for n in cls.names})


def _event(type_name, *field_names):
    return type(type_name, (Event,), {"__slots__": field_names, "type": type_name, "names": field_names})


RunStarted = _event("run_started", "run_id", "flow", "format", "file")
RunPaused = _event("run_paused", "by")
RunResumed = _event("run_resumed", "by")
RunStopping = _event("run_stopping", "mode", "by")  # mode: stop | cancel | fatal | end
RunReopened = _event("run_reopened", "by")
RunFinished = _event("run_finished", "status", "exit_code")
TaskStatus = _event("task_status", "task", "status")  # non-terminal changes: waiting, queued, pending…
TaskStarted = _event("task_started", "task", "attempt", "iteration")
# The line a task has begun but not ended, as a terminal shows it now (a progress bar redrawn with
# \r, a prompt waiting for an answer). For viewers only: reports and the store keep whole lines.
TaskPartial = _event("task_partial", "task", "stream", "text", "hook")


class TaskOutput(Event):
    """What one read of a task's output held: complete lines, as `text` joined by newlines, and as
    `lines`, split only when a subscriber asks. The printer and the store write `text` whole, so a
    flood of short lines does not become a million string objects nobody looks at one by one.
    The JSON Lines writer emits one object per line."""

    __slots__ = ("task", "stream", "text", "hook", "_lines")
    type = "task_output"
    names = ("task", "stream", "lines", "hook")

    def __init__(self, task, stream, lines=None, hook=None, *, text=None, ts=None):
        self.task, self.stream, self.hook = task, stream, hook
        self._lines = None if lines is None else list(lines)
        self.text = "\n".join(self._lines) if text is None else text
        self.ts = time.time() if ts is None else ts

    @property
    def lines(self) -> list:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

HookStarted = _event("hook_started", "task", "hook")
HookFinished = _event("hook_finished", "task", "hook", "exit_code")
TaskRetrying = _event("task_retrying", "task", "attempt", "delay", "exit_code")
TaskFinished = _event(
    "task_finished", "task", "status", "exit_code", "attempt", "iteration", "duration", "error"
)
GroupStarted = _event("group_started", "task", "iteration")
GroupFinished = _event("group_finished", "task", "status")
ApprovalRequested = _event("approval_requested", "task", "prompt", "fields")
ApprovalGranted = _event("approval_granted", "task", "by", "reason", "values")
ApprovalRejected = _event("approval_rejected", "task", "by", "reason")
NodesAdded = _event("nodes_added", "parent", "nodes")  # nodes: list of node dicts (see Run.snapshot)
Notice = _event("notice", "level", "message", "task")  # warnings the user should see


class Bus:
    """Synchronous fan-out on the engine thread; subscribers must not block."""

    __slots__ = ("_subscribers", "_held")

    def __init__(self):
        self._subscribers = []
        self._held = None  # events kept back by hold(), in order

    def hold(self):
        """Keep events back (until release) so the engine can deliver them after one it decides
        later; returns what an outer hold kept, to give to release()."""
        outer, self._held = self._held, []
        return outer

    def release(self, outer):
        """The events kept since hold(); the outer hold, if any, keeps what is emitted next."""
        events, self._held = self._held, outer
        return events

    def subscribe(self, callback):
        self._subscribers.append(callback)
        return callback

    def unsubscribe(self, callback):
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def emit(self, event):
        if self._held is not None:
            self._held.append(event)
            return
        for callback in self._subscribers:
            callback(event)
