"""The unified flow model: one immutable definition per file, whatever its format.

Plain slotted classes instead of dataclasses: `import dataclasses` costs ~10 ms, a third of the
headless cold-start budget. A flow is a tree of `Node`s (groups hold children, tasks hold an
action; a node may hold both and runs its action before its children) plus dependency edges with
conditions on the upstream outcome.
"""

# Task statuses. Non-terminal ones first.
PENDING = "pending"  # not yet reached (its group has not started)
WAITING = "waiting"  # reached, waiting on dependencies
QUEUED = "queued"  # ready, waiting for a free slot (or the run is paused)
AWAITING_APPROVAL = "awaiting_approval"
RUNNING = "running"
RETRYING = "retrying"  # failed an attempt, waiting for the retry delay
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed_out"
SKIPPED = "skipped"
NOT_RUN = "not_run"
CANCELLED = "cancelled"
REJECTED = "rejected"

TERMINAL = frozenset({SUCCEEDED, FAILED, TIMED_OUT, SKIPPED, NOT_RUN, CANCELLED, REJECTED})
FAILURES = frozenset({FAILED, TIMED_OUT, REJECTED})
ACTIVE = frozenset({RUNNING, RETRYING, AWAITING_APPROVAL})

# Dependency conditions on the upstream outcome.
COND_SUCCEEDED = "succeeded"  # succeeded (or skipped by an operator, who said "treat as done")
COND_OK = "ok"  # succeeded or skipped for any reason (Fluxor sibling order)
COND_FAILED = "failed"  # failed, timed out or rejected
COND_EXIT = "exit"  # ran and exited with `code`
COND_ERRORED = "errored"  # the action could not run at all (bad options, unknown type)
COND_FINISHED = "finished"  # reached any terminal state
CONDITIONS = frozenset({COND_SUCCEEDED, COND_OK, COND_FAILED, COND_EXIT, COND_ERRORED, COND_FINISHED})
# A satisfied dependency with one of these conditions means the failure was handled.
FAILURE_CONDITIONS = frozenset({COND_FAILED, COND_EXIT, COND_ERRORED})

HOOK_KINDS = ("setup", "on_ok", "on_nok", "teardown")


class Record:
    """Immutable keyword-built record; subclasses list fields in __slots__ and defaults in _defaults."""

    __slots__ = ()
    _defaults: dict = {}

    def __init__(self, **values):
        setter = object.__setattr__
        defaults = self._defaults
        for name in self.__slots__:
            if name in values:
                setter(self, name, values.pop(name))
            elif name in defaults:
                setter(self, name, defaults[name])
            else:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
        if values:
            raise TypeError(f"{type(self).__name__} has no field {sorted(values)[0]!r}")

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def replace(self, **changes) -> "Record":
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return type(self)(**values)

    def __eq__(self, other):
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    def __hash__(self):
        return hash((type(self).__name__, getattr(self, self.__slots__[0])))

    def __repr__(self):
        shown = ", ".join(
            f"{n}={getattr(self, n)!r}" for n in self.__slots__ if getattr(self, n) != self._defaults.get(n, object())
        )
        return f"{type(self).__name__}({shown})"


class Dep(Record):
    """An edge: this node may start when `node` reached an outcome matching `cond`."""

    __slots__ = ("node", "cond", "code")
    _defaults = {"cond": COND_SUCCEEDED, "code": None}


class Field(Record):
    """A typed input asked for with an approval (text, bool or choice)."""

    __slots__ = ("id", "prompt", "type", "choices", "default", "required")
    _defaults = {"prompt": "", "type": "text", "choices": (), "default": None, "required": True}


class Approval(Record):
    __slots__ = ("prompt", "fields")
    _defaults = {"prompt": "Approve?", "fields": ()}


class Retry(Record):
    """Retry policy: `limit` extra attempts, delay * backoff**n capped at max_delay."""

    __slots__ = ("limit", "delay", "backoff", "max_delay", "on_exit_codes")
    _defaults = {"limit": 0, "delay": 0.0, "backoff": 1.0, "max_delay": None, "on_exit_codes": None}

    def delay_before(self, retry_number: int) -> float:
        """Seconds to wait before retry number `retry_number` (1-based)."""
        delay = self.delay * (self.backoff ** (retry_number - 1))
        return min(delay, self.max_delay) if self.max_delay is not None else delay

    def retries_on(self, exit_code) -> bool:
        return self.on_exit_codes is None or exit_code in self.on_exit_codes


class Action(Record):
    """What a task does: `kind` names an action implementation, `params` its (read-only) options.

    Core kinds: `shell` {cmd}, `argv` {argv}, `nop`, `print` {message}. Format runtimes register more.
    """

    __slots__ = ("kind", "params")
    _defaults = {"params": {}}


class Node(Record):
    """A group or a task. Policy fields apply to tasks; `extra` holds format-specific data."""

    __slots__ = (
        "id", "name", "parent", "children", "deps", "join", "action", "hooks", "timeout",
        "retry", "fatal", "ignore_failure", "approval", "estimate", "env", "cwd", "pty",
        "good_codes", "on_demand", "label", "extra", "loc",
    )
    _defaults = {
        "parent": None, "children": (), "deps": (), "join": "all", "action": None, "hooks": {},
        "timeout": None, "retry": None, "fatal": False, "ignore_failure": False, "approval": None,
        "estimate": None, "env": None, "cwd": None, "pty": False, "good_codes": frozenset({0}),
        "on_demand": False, "label": "task", "extra": {}, "loc": None,
    }

    @property
    def is_group(self) -> bool:
        return bool(self.children)

    @property
    def is_task(self) -> bool:
        """Tasks are what reports list: nodes that run an action, and leaves (but not an empty stage)."""
        return self.action is not None or (not self.children and self.label != "stage")


class FlowDef(Record):
    """A whole flow. `nodes` is ordered as defined; `roots` are the top-level node ids."""

    __slots__ = ("name", "format", "file", "nodes", "roots", "env", "cwd", "warnings", "extra")
    _defaults = {"env": {}, "cwd": None, "warnings": (), "extra": {}}

    def tasks(self):
        return [n for n in self.nodes.values() if n.is_task]
