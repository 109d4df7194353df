"""Warnings for things Floe accepts but that do not do what they seem to (§4.2, §13, §14)."""

from ..diagnostics import Diagnostic
from .opts import form_fields, get_ci, period_seconds
from .tags import emitted_good_tags


def lint(flow, reachable):
    """Warnings for `flow`; `reachable` holds the ids of nodes that can run."""
    out = []

    def warn(node, message):
        out.append(Diagnostic(node.file, node.loc[0], node.loc[1], message, "warning"))

    for trig in flow.triggers:
        if trig.type == "git-push":
            warn(trig, f"trigger `{trig.id}`: git-push triggers never fire in Floe; flowtui ignores it")
        elif trig.type not in ("data", "timer", "poll-git"):
            warn(trig, f"trigger `{trig.id}`: unknown trigger type `{trig.type}` (data, timer, poll-git)")
        if trig.type == "poll-git" and "exclude-refs" in trig.opts:
            warn(trig, f"trigger `{trig.id}`: Floe ignores `exclude-refs` (it reads `exclude`); flowtui honours both")
    git_tasks = [t for t in flow.tasks if t.type in ("git-checkout", "git-merge")]
    if git_tasks:
        for trig in flow.triggers:
            form = form_fields(get_ci(trig.opts, "form"))
            names = [f[0] for f in form[1]] if form else []
            for name in ("ref", "from-ref"):
                if name in names or name in trig.opts:
                    warn(trig, f"trigger `{trig.id}`: git tasks read `{name.replace('ref', 'branch')}`, not `{name}`")
    for task in flow.tasks:
        period = task.opts.get("period")
        if task.type == "timer" and period not in (None, "", 0) and not period_seconds(period):
            out.append(Diagnostic(task.file, *task.opts.val_loc["period"], f"task `{task.id}`: `period` is not a number "
                                  "of seconds (e.g. 30): the timer does not wait", "warning"))
        if task.type == "exec":
            out.extend(_exec_opts(task))
        if task.ignore_fail and task.use_status:
            warn(task, f"task `{task.id}`: ignore-fail wins over use-status: it always emits task.{task.id}.good")
    _unrouted(flow, reachable, warn)
    return out


def _exec_opts(task):
    """An exec node's own opts of the wrong type: Floe (and flowtui) end it with task.x.error when it
    runs, which a flow may listen for, so it stays a warning, located at the value."""
    out = []
    for key, kind in (("cmd", "text"), ("shell", "text"), ("args", "list"), ("env", "list")):
        value = task.opts.get(key)
        if value is None or (isinstance(value, str) if kind == "text" else
                             isinstance(value, list) and all(isinstance(v, str) for v in value)):
            continue
        wanted = "text (a command line)" if kind == "text" else "a list of strings"
        out.append(Diagnostic(task.file, *task.opts.val_loc[key], f"task `{task.id}`: `{key}` must be {wanted}: Floe ends "
                              f"the task with task.{task.id}.error", "warning"))
    return out


def _unrouted(flow, reachable, warn):
    """Good tags nobody listens for: Floe ends the whole run there, even while other branches run."""
    routed = {t.listen for t in flow.tasks} | {w for t in flow.tasks for w in t.wait}
    loose = [(task, tag) for task in flow.tasks if task.id in reachable
             for tag in emitted_good_tags(task) if tag not in routed]
    has_end = any(t.type == "end" for t in flow.tasks)
    if len(loose) > 1 or (loose and has_end):
        for task, tag in loose:
            warn(task, f"nothing listens for `{tag}`: Floe ends the run good there; flowtui lets running branches finish")
