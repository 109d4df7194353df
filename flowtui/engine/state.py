"""Mutable run state of one node; the definition (`model.Node`) never changes."""

from .model import PENDING


class NodeState:
    __slots__ = (
        "status", "attempt", "iteration", "generation", "exit_code", "started_at", "finished_at",
        "hooks", "error", "errored", "output", "approval", "values", "reason", "handled",
        "open_children", "dep_cursor",
    )

    def __init__(self, attempt=0, iteration=1, generation=0):
        self.status = PENDING
        self.attempt = attempt  # executions started so far (retries, reruns and loop iterations)
        self.iteration = iteration  # loop iteration (goto re-arms), 1-based
        self.generation = generation  # bumped by every reset; stale callbacks compare it
        self.exit_code = None
        self.started_at = None
        self.finished_at = None
        self.hooks = []  # [(kind, exit_code)] of the last attempt
        self.error = None  # why it failed / was skipped, for people
        self.errored = False  # the action could not run at all (bad options)
        self.output = None  # structured output (Fluxor state, Floe opts)
        self.approval = None  # {"by", "at", "reason", "decision"}
        self.values = None  # approval form answers
        self.reason = None  # skipped / not_run cause: "operator", "condition", "upstream", "halt"…
        self.handled = False  # a failure consumed by an on-failure dependency
        self.open_children = 0
        self.dep_cursor = 0  # wide joins: dependencies before this index are satisfied

    def duration(self):
        if self.started_at is None or self.finished_at is None:
            return None
        return round(self.finished_at - self.started_at, 3)

    def to_json(self) -> dict:
        return {
            "status": self.status, "attempt": self.attempt, "iteration": self.iteration,
            "exit_code": self.exit_code, "started_at": self.started_at,
            "finished_at": self.finished_at, "error": self.error, "reason": self.reason,
            "hooks": [{"kind": k, "exit_code": c} for k, c in self.hooks],
            "approval": self.approval,
        }
