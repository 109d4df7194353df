"""Floe event tags -> dependency conditions (§7.1–§7.3: exact tag matching).

A node emits `<class>.<id>.<suffix>`; every trigger emits `trigger.good`. `resolve()` says which
upstream outcome a listened-for tag stands for, or why no node ever emits it.
"""

from ..model import COND_ERRORED, COND_EXIT, COND_FAILED, COND_SUCCEEDED, Dep

TASK_TYPES = ("exec", "fetch", "git-checkout", "git-merge", "timer", "data", "end")
TRIGGER_TAG = "trigger.good"


class Route:
    """A resolved tag: `dep` on the emitter (None for trigger.good) and whether the event is good."""

    __slots__ = ("dep", "good")

    def __init__(self, dep, good):
        self.dep, self.good = dep, good


class Never(Exception):
    """No node emits the tag; the message says why."""


def resolve(tag, emitters, trigger_id):
    """Route for `tag` given {id: NodeConf} of tasks and merges; raises Never."""
    if tag == TRIGGER_TAG:
        return Route(Dep(node=trigger_id, cond=COND_SUCCEEDED), True)
    parts = tag.split(".")
    if len(parts) != 3:
        raise Never(f"`{tag}` is not an event tag: tags are `trigger.good` or `<task|merge>.<id>.<outcome>`")
    cls, nid, suffix = parts
    if cls == "trigger":
        raise Never(f"`{tag}` is never emitted: every trigger emits `trigger.good`")
    if cls not in ("task", "merge"):
        raise Never(f"`{tag}` is never emitted: tags are `trigger.good`, `task.<id>.<outcome>` or `merge.<id>.good`")
    node = emitters.get(nid)
    if node is None:
        raise Never(f"`{tag}` is never emitted: there is no task or merge `{nid}`")
    if node.cls != cls:
        emits = f"merge.{nid}.good" if node.cls == "merge" else f"task.{nid}.<outcome>"
        raise Never(f"`{tag}` is never emitted: `{nid}` is a {node.cls}, it emits `{emits}`")
    if cls == "merge":
        if node.type not in ("all", "any"):
            raise Never(f"`{tag}` is never emitted: merge `{nid}` has type `{node.type}` (all or any)")
        if suffix != "good":
            raise Never(f"`{tag}` is never emitted: merges only emit `merge.{nid}.good`")
        return Route(Dep(node=nid, cond=COND_SUCCEEDED), True)
    return _task_route(tag, node, suffix)


def _task_route(tag, node, suffix):
    nid = node.id
    if node.type == "end":
        raise Never(f"`{tag}` is never emitted: `{nid}` is an end node, it ends the run")
    if node.type == "data":
        if suffix == "good":
            return Route(Dep(node=nid, cond=COND_SUCCEEDED), True)
        raise Never(f"`{tag}` is never emitted: data task `{nid}` only emits `task.{nid}.good`")
    if node.ignore_fail or node.type == "timer":
        if suffix == "good":
            return Route(Dep(node=nid, cond=COND_SUCCEEDED), True)
        why = "has ignore-fail" if node.ignore_fail else "is a timer"
        raise Never(f"`{tag}` is never emitted: `{nid}` {why}, it only emits `task.{nid}.good`")
    known = node.type in TASK_TYPES
    if suffix == "error":
        return Route(Dep(node=nid, cond=COND_ERRORED), False)
    if not known:
        raise Never(f"`{tag}` is never emitted: `{nid}` has unknown type `{node.type}`, it emits `task.{nid}.error`")
    if node.use_status:
        try:
            code = int(suffix)
        except ValueError:
            raise Never(f"`{tag}` is never emitted: `{nid}` has use-status, it emits `task.{nid}.<exit status>`") from None
        return Route(Dep(node=nid, cond=COND_EXIT, code=code), code in node.good)
    if suffix == "good":
        return Route(Dep(node=nid, cond=COND_SUCCEEDED), True)
    if suffix == "bad":
        return Route(Dep(node=nid, cond=COND_FAILED), False)
    raise Never(f"`{tag}` is never emitted: `{nid}` emits `.good`, `.bad` or `.error` (set use-status for exit statuses)")


def emitted_good_tags(node):
    """The good tags a node can emit (for the unrouted-tag lint)."""
    if node.cls == "merge":
        return [f"merge.{node.id}.good"] if node.type in ("all", "any") else []
    if node.cls != "task" or node.type == "end":
        return []
    if node.use_status and not node.ignore_fail and node.type not in ("data", "timer"):
        return [f"task.{node.id}.{code}" for code in node.good]
    if node.type not in TASK_TYPES and not node.ignore_fail:
        return []
    return [f"task.{node.id}.good"]
