"""A checked Floe flow -> engine nodes: listen/wait tags become conditioned dependencies.

The trigger that fires is a node too (it takes the run's locks and makes its workspace, then
emits `trigger.good`). A node listening for a tag nothing emits, or only nodes that never run
emit (a cycle of listeners), stays out of the roots: it is never reached and ends `not_run`.
"""

from ..diagnostics import Diagnostic
from ..model import Action, Node
from .opts import approval_for, get_ci
from .tags import TASK_TYPES, Never, resolve
from .yamlpos import plain

ACTION_KINDS = {t: f"floe-{t}" for t in TASK_TYPES}


def build(flow, trigger, trigger_id, pend_opts, poll=None):
    """(nodes dict, roots, warnings) for `flow` started by `trigger` (a NodeConf or None)."""
    warnings = []
    emitters = {n.id: n for n in flow.tasks}
    nodes, roots = {}, []
    trig_name = trigger.name if trigger else "trigger"
    nodes[trigger_id] = Node(
        id=trigger_id, name=trig_name, label="trigger",
        action=Action(kind="floe-trigger", params={"opts": pend_opts, "poll": poll}),
        extra={"class": "trigger", "type": trigger.type if trigger else ""},
        loc=trigger.loc if trigger else None,
    )
    roots.append(trigger_id)

    routes = {}  # tag -> Route: resolved once however many nodes listen for it (often `trigger.good`)

    def route_of(tag):
        if tag not in routes:
            routes[tag] = resolve(tag, emitters, trigger_id)
        return routes[tag]

    def never(node, loc, message):
        warnings.append(Diagnostic(node.file, loc[0], loc[1], f"{node.cls} `{node.id}`: {message}", "warning"))

    waits = {}  # node id -> [(upstream id, tag, loc)] of a node that may run, for `_unreached`
    for conf in flow.tasks:
        deps, good, reachable = [], True, True
        seen = set()  # a merge may wait on thousands of tags: membership must not scan `deps`
        if conf.cls == "merge":
            if conf.type not in ("all", "any"):
                never(conf, conf.loc, f"merge type `{conf.type}` never fires (all or any)")
                reachable = False
            for tag, loc in zip(conf.wait, conf.wait_locs or [conf.loc] * len(conf.wait), strict=True):
                try:
                    route = route_of(tag)
                except Never as exc:
                    never(conf, loc, f"{exc}" + ("" if conf.type == "any" else " (so the merge never fires)"))
                    reachable = reachable and conf.type == "any"
                    continue
                if route.dep in seen:
                    never(conf, loc, f"waits twice for `{tag}` (Floe would never fire it; flowtui waits once)")
                    continue
                seen.add(route.dep)
                deps.append(route.dep)
                waits.setdefault(conf.id, []).append((route.dep.node, tag, loc))
            reachable = reachable and bool(deps)
        elif conf.cls == "task":
            if not conf.listen:
                never(conf, conf.loc, "has no `listen` tag: it never runs")
                reachable = False
            else:
                try:
                    route = route_of(conf.listen)
                    deps, good = [route.dep], route.good
                    waits[conf.id] = [(route.dep.node, conf.listen, conf.listen_loc)]
                except Never as exc:
                    never(conf, conf.listen_loc, f"never runs: {exc}")
                    reachable = False
            if conf.type not in TASK_TYPES:
                never(conf, conf.loc, f"unknown task type `{conf.type}`: it ends with task.{conf.id}.error")
        else:
            never(conf, conf.loc, f"unknown class `{conf.cls}` (task or merge): it never runs")
            reachable = False
        nodes[conf.id] = _node(conf, deps, good)
        if reachable:
            roots.append(conf.id)
    for conf in _unreached(flow, trigger_id, roots, waits, never):
        roots.remove(conf.id)
    return nodes, roots, warnings


def _unreached(flow, trigger_id, roots, waits, never):
    """The nodes in `roots` that nothing started by the trigger reaches: a cycle of listeners, or a
    listener of a node that never runs. Each is warned about, naming the cycle or the node it waits for."""
    listeners, missing = {}, {}  # missing: how many of its tags an `all` merge still waits for
    for conf in flow.tasks:
        for up, _, _ in waits.get(conf.id, ()):
            listeners.setdefault(up, []).append(conf.id)
        if conf.cls == "merge" and conf.type == "all":
            missing[conf.id] = len(waits.get(conf.id, ()))
    may_run = set(roots)
    reached, todo = {trigger_id}, [trigger_id]
    while todo:
        for nid in listeners.get(todo.pop(), ()):
            if nid in reached or nid not in may_run:
                continue
            if nid in missing:
                missing[nid] -= 1
                if missing[nid]:
                    continue
            reached.add(nid)
            todo.append(nid)
    lost = [c for c in flow.tasks if c.id in may_run and c.id not in reached]
    lost_ids = {c.id for c in lost}
    for conf in lost:
        up, tag, loc = next(w for w in waits[conf.id] if w[0] not in reached)
        path = [conf.id, up]
        while path[-1] in lost_ids and path[-1] not in path[:-1]:
            path.append(next(w[0] for w in waits[path[-1]] if w[0] not in reached))
        verb = "never fires" if conf.cls == "merge" else "never runs"
        if path[-1] == conf.id:
            cycle = ", ".join(f"{a} waits for {b}" for a, b in zip(path, path[1:], strict=False))
            never(conf, loc, f"{verb}: it waits in a cycle nothing starts ({cycle})")
        else:
            never(conf, loc, f"{verb}: `{tag}` comes from `{up}`, which never runs")
    return lost


def _node(conf, deps, good):
    opts = plain(conf.opts)
    extra = {"class": conf.cls, "type": conf.type}
    if conf.cls == "merge":
        return Node(id=conf.id, name=conf.name, deps=tuple(deps), join=conf.type if conf.type in ("all", "any") else "all",
                    action=Action(kind="floe-merge"), label="merge", extra=extra, loc=conf.loc)
    kind = ACTION_KINDS.get(conf.type, "floe-unknown")
    params = {"opts": opts, "type": conf.type, "good": good}
    fields = {}
    if conf.type == "data":
        approval = approval_for(get_ci(opts, "form"), conf.name)
        if approval.fields:  # a form without fields is complete at once, as in Floe
            fields["approval"] = approval
    else:
        fields.update(good_codes=frozenset(conf.good), ignore_failure=conf.ignore_fail)
    return Node(id=conf.id, name=conf.name, deps=tuple(deps), action=Action(kind=kind, params=params),
                label="task", extra=extra, loc=conf.loc, **fields)
