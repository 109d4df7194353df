"""Fluxor's run-time semantics on the flowtui engine: session state, when, post, goto, template,
emit/await, catch, autoPause and sub-workflows (spec §2, "Rec" column; divergences in docs/fluxor.md).

One flat session per process (the workflow, and each `workflow:run` child). A task's output is
stored under its namespace when it succeeds; `post` then writes state and `goto` jumps: to an
ancestor (or itself) by re-arming it, to an earlier sibling (of the task or of an ancestor) by
re-arming that sibling and every later one, forward by skipping what lies between.
"""

import json
import os
import time

from ..model import CANCELLED, FAILURES, NOT_RUN, SKIPPED, SUCCEEDED, TERMINAL, Dep
from ..run import Runtime
from .actions import dispatcher, new_process_id, services
from .expand import expand
from .expr import ExprError, condition
from .values import normalise

MAX_WORKFLOW_DEPTH = 32
_DUE_SHOWN = 2000  # characters of a failed sub-workflow's errors quoted in its parent's


def rebase(nodes, mapping, parent, scope=None, data=None, root_deps=()):
    """Copies of `nodes` with ids renamed by `mapping` (old -> new); roots go under `parent`."""
    out = []
    for node in nodes:
        new_id = mapping[node.id]
        extra = dict(node.extra)
        extra["goto"] = [(when, mapping.get(target, target)) for when, target in extra.get("goto", ())]
        extra["depends_on"] = [mapping.get(d, d) for d in extra.get("depends_on", ())]
        if scope is not None:
            extra["scope"] = scope
        is_root = node.parent not in mapping
        deps = tuple(Dep(node=mapping.get(d.node, d.node), cond=d.cond, code=d.code) for d in node.deps)
        if is_root and data is not None:
            extra["data"] = data
        if is_root:
            deps = tuple(root_deps) + deps
        out.append(node.replace(
            id=new_id, parent=mapping.get(node.parent, parent if not node.on_demand else None),
            children=tuple(mapping[c] for c in node.children), deps=deps, extra=extra,
        ))
    return out


class FluxorRuntime(Runtime):
    def __init__(self, flow, options):
        self.flow = flow
        self.options = options
        self.policy = options.get("policy") or "auto"
        self.table = services(options)
        self.actions = {
            f"{service}:{method}": dispatcher(impl)
            for service, methods in self.table.items() for method, impl in methods.items()
        }
        self.sessions = {"": {}}
        self.errors = {"": {}}
        self.files = {"": flow.file}
        self.processes = {}  # ProcessID -> workflow:wait output
        self.child_runs = {}  # workflow:run task id -> {pid, ignore, started}
        self.failing = {}  # node id -> error decided before start (bad `when`, bad selector)
        self.goto_skip = set()  # (node id, iteration) skipped by a forward goto
        self.paused = set()  # (node id, generation) already paused by autoPause
        self.emit_done = {}  # emit driver id -> [(child id, output)] in completion order
        self.await_expired = set()
        self.stopped = set()  # (emit driver id, generation) whose children were stopped

    # -- sessions ---------------------------------------------------------------------------------
    def attach(self, run):
        super().attach(run)
        session = dict(self.flow.extra.get("sets", {}))
        apply_init(session, self.flow.extra.get("init", ()))
        self.sessions[""] = session

    def session(self, node):
        return self.sessions[node.extra.get("scope", "")]

    def task_input(self, node):
        """The action input expanded in the task scope: session, then item data, then init values."""
        scope = dict(self.session(node))
        scope.update(node.extra.get("data") or {})
        for name, value in node.extra.get("init", ()):
            scope[name] = expand(value, scope)
        return expand(node.action.params.get("input"), scope)

    def record_error(self, node, message):
        self.errors.setdefault(node.extra.get("scope", ""), {})[node.extra.get("namespace") or node.name] = message

    # -- before a node starts ----------------------------------------------------------------------
    def before_start(self, node, state):
        extra = node.extra
        if not extra:
            return None
        if (node.id, state.iteration) in self.goto_skip:
            self.goto_skip.discard((node.id, state.iteration))
            state.error = "skipped: a goto jumped over it"
            return SKIPPED
        if extra.get("catch"):
            self.note_last_error(node)
        self.child_runs.pop(node.id, None)
        when = extra.get("when")
        if when:
            try:
                holds = condition(when, dict(self.session(node)))
            except ExprError as exc:
                self.failing[node.id] = f"when: {exc}"
                return SKIPPED
            if not holds:
                state.error = f"skipped: when `{when}` is false"
                return SKIPPED
        if extra.get("auto_pause") and (node.id, state.generation) not in self.paused:
            self.paused.add((node.id, state.generation))
            return "pause"
        try:
            if extra.get("template") is not None:
                self.fan_out_template(node)
            elif extra.get("emit") is not None:
                self.fan_out_emit(node)
        except (ExprError, ValueError) as exc:
            self.failing[node.id] = str(exc)
            return SKIPPED
        return None

    def note_last_error(self, node):
        for dep in node.deps:
            upstream = self.run.states.get(dep.node)
            if upstream is not None and upstream.status in FAILURES:
                session = self.session(node)
                session["_lastError"] = upstream.error or upstream.status
                session["_lastErrorTask"] = dep.node
                return

    def fan_out_template(self, node):
        spec = node.extra["template"]
        session = self.session(node)
        (name, value), *others = spec["selector"]
        items = expand(value, dict(session))
        if not isinstance(items, list):
            raise ValueError(f"template selector for task {node.id} must be a list, got {json.dumps(items, default=str)}")
        clones, previous = [], None
        for index, item in enumerate(items):
            data = {name: item}
            for other, other_value in others:
                data[other] = index if other_value == "$i" else expand(other_value, dict(session))
            root_deps = (Dep(node=previous, cond="ok"),) if previous else ()
            batch = self.clone(spec["nodes"], index, data, root_deps)
            previous = batch[0].id
            clones.extend(batch)
        if clones:
            self.run.add_nodes(node.id, clones)

    def fan_out_emit(self, node):
        spec = node.extra["emit"]
        self.emit_done.pop(node.id, None)
        items = expand(spec["for_each"], dict(self.session(node)))
        if not isinstance(items, list):
            raise ValueError(f"emit forEach of task {node.id} must be a list, got {json.dumps(items, default=str)}")
        if not items:
            return  # spec §2.13 step 1: nothing is emitted and the task continues as a normal task
        self.emit_done[node.id] = []
        clones = []
        for index, item in enumerate(items):
            batch = self.clone(spec["nodes"], index, {spec["as"]: item}, ())
            batch[0] = batch[0].replace(extra={**batch[0].extra, "emit_child": True})
            clones.extend(batch)
        self.run.add_nodes(node.id, clones)
        timeout = node.extra["await"].get("timeout")
        if timeout:
            generation = self.run.states[node.id].generation
            self.run.reactor.call_later(timeout, self.await_timeout, node.id, generation)

    def clone(self, nodes, index, data, root_deps):
        root = nodes[0].id
        mapping = {n.id: root + f"[{index}]" + n.id[len(root):] for n in nodes}
        out = rebase(nodes, mapping, nodes[0].parent, data=data, root_deps=root_deps)
        # Shown name `printOne[0]`, so siblings differ in the tree and in JUnit; the output still
        # goes to the template task's namespace (Node.extra), as in Fluxor.
        out[0] = out[0].replace(name=f"{out[0].name}[{index}]")
        return out

    def await_timeout(self, driver, generation):
        state = self.run.states.get(driver)
        if state is None or state.generation != generation or state.status in TERMINAL:
            return
        self.await_expired.add((driver, generation))
        self.stop_children(driver)
        self.run.settle()

    def stop_children(self, driver):
        """The fan-in is decided: skip the children not started and cancel the running ones, once.
        A skipped child ends too (mode `first` would stop them all again, once per child), and the
        slot the deciding child freed must not go to the next child still queued."""
        run = self.run
        stopping = (driver, run.states[driver].generation)
        if stopping in self.stopped:
            return
        self.stopped.add(stopping)
        children = [c for c in run.children[driver] if run.states[c].status not in TERMINAL]
        for child in children:
            if child not in run.executions and run.states[child].status not in TERMINAL:
                run.skip(child, by=f"await of {driver}", pump=False)
        for child in children:
            if child in run.executions:
                run.executions[child].cancel()

    # -- after a node finished ---------------------------------------------------------------------
    def after_finish(self, node, state):
        extra = node.extra
        if not extra:
            return None
        error = self.failing.pop(node.id, None)
        if error:
            self.record_error(node, error)
            return ("failed", error)
        status = state.status
        if status == NOT_RUN and extra.get("depends_on"):
            failed = [d for d in extra["depends_on"] if self.run.states[d].status in FAILURES]
            if failed:
                message = f"dependency {failed[0]} failed"
                self.record_error(node, message)
                return ("failed", message)
        if extra.get("emit_child"):
            return self.emit_child_done(node, state)
        if node.id in self.child_runs:
            override = self.child_done(node, state)
            if override:
                return override
        elif extra.get("emit") is not None and node.id in self.emit_done:
            override = self.emit_finished(node, state)
            if override:
                return override
        if status in FAILURES:
            self.record_error(node, state.error or status)
            return None
        if status != SUCCEEDED:
            return None
        return self.completed(node, self.output_of(node, state))

    def output_of(self, node, state):
        if node.id in self.child_runs:
            return self.child_runs[node.id]["output"]
        if node.extra.get("emit") is not None and node.id in self.emit_done:
            outputs = [out for _, out in self.emit_done[node.id] if out is not None]
            if node.extra["await"].get("merge") == "replace":
                return outputs[-1] if outputs else None
            return outputs
        return normalise(state.output) if node.action is not None else None

    def completed(self, node, output, store=True):
        """Store the output, apply `post`, then follow the first `goto` whose condition holds."""
        extra = node.extra
        session = self.session(node)
        if store:
            session[extra.get("namespace") or node.name] = output
        source = dict(session)
        if isinstance(output, dict):
            source.update(output)
        for name, value in extra.get("post", ()):
            try:
                result = expand(value, source)
            except ExprError as exc:
                return self.fail(node, f"post {name}: {exc}")
            if name.endswith("[]"):
                append(session, name[:-2], result)
            else:
                session[name] = result
        scope = dict(session)
        scope[extra.get("namespace") or node.name] = output
        for when, target in extra.get("goto", ()):
            try:
                jump = condition(when, scope) if when else True
            except ExprError as exc:
                return self.fail(node, f"goto when: {exc}")
            if jump:
                return self.jump(node, target)
        return None

    def fail(self, node, message):
        self.record_error(node, message)
        return ("failed", message)

    def jump(self, node, target):
        run = self.run
        chain, nid = [], node.id
        while nid is not None:
            chain.append(nid)
            nid = run.nodes[nid].parent
        if target in chain:
            error = run.reset([target], loop=True)
            return self.fail(node, error) if error else None
        target_parent = run.nodes[target].parent
        level = next((a for a in chain if run.nodes[a].parent == target_parent), None)
        siblings = run.children[target_parent] if target_parent is not None else list(run.flow.roots)
        if target not in siblings or level not in siblings:
            return self.fail(node, f"goto {target}: not reachable from {node.id}")
        if siblings.index(target) < siblings.index(level):
            error = run.reset(siblings[siblings.index(target):], loop=True)
            return self.fail(node, error) if error else None
        skipped = []
        for inner in chain[: chain.index(level)]:  # the rest of each group the jump leaves
            parent = run.nodes[inner].parent
            later = run.children[parent]
            skipped.extend(later[later.index(inner) + 1:])
        skipped.extend(siblings[siblings.index(level) + 1: siblings.index(target)])
        for sid in skipped:
            state = run.states[sid]
            if state.status not in TERMINAL:
                self.goto_skip.add((sid, state.iteration))
        return None

    # -- emit / await ------------------------------------------------------------------------------
    def emit_child_done(self, node, state):
        driver = node.parent
        record = self.emit_done.setdefault(driver, [])
        if state.status == SUCCEEDED:
            record.append((node.id, normalise(state.output)))
            if node.extra.get("post"):
                return self.completed(node, normalise(state.output), store=False)
        mode = self.run.nodes[driver].extra["await"].get("mode")
        if (mode == "first" and state.status in TERMINAL) or (mode == "anyError" and state.status in FAILURES):
            self.stop_children(driver)
        if state.status in FAILURES:
            self.record_error(node, state.error or state.status)
        return None

    def emit_finished(self, node, state):
        """`await` outcome: a timeout fails the task; with mode `first` a first success completes it."""
        spec = node.extra["await"]
        if (node.id, state.generation) in self.await_expired:
            return self.fail(node, f"await timed out after {spec['timeout']:g}s")
        if spec.get("mode") == "first" and state.status == CANCELLED and self.emit_done.get(node.id):
            return self.completed(node, self.output_of(node, state)) or (SUCCEEDED, None)
        return None

    # -- sub-workflows -----------------------------------------------------------------------------
    def start_child(self, ctx, location, source, context, ignore):
        from ..diagnostics import FlowError
        from ..loaders.fluxor import load

        node = ctx.node
        depth = sum(1 for a in self.ancestors(node.id) if a in self.child_runs)
        if depth >= MAX_WORKFLOW_DEPTH:
            ctx.done(1, error=f"sub-workflows nested {MAX_WORKFLOW_DEPTH} deep: a workflow that runs itself?", errored=True)
            return
        parent_file = self.files.get(node.extra.get("scope", "")) or ""
        options = {k: v for k, v in self.options.items() if k != "sets"}
        try:
            if source:
                child_path = os.path.join(os.path.dirname(os.path.abspath(parent_file or ".")), "<source>.yaml")
                flow = load(child_path, source, options)
            else:
                child_path = resolve_location(parent_file, location)
                try:
                    with open(child_path, encoding="utf-8") as handle:
                        text = handle.read()
                except OSError as exc:
                    ctx.done(1, error=f"workflow {location}: cannot read {child_path}: {exc.strerror or exc}", errored=True)
                    return
                flow = load(child_path, text, options)
        except FlowError as exc:
            ctx.done(1, error=f"workflow {location or '<source>'}: {exc}", errored=True)
            return
        pid = new_process_id(flow.name)
        session = dict(context)
        apply_init(session, flow.extra.get("init", ()))
        self.sessions[pid] = session
        self.errors[pid] = {}
        self.files[pid] = child_path
        self.child_runs[node.id] = {"pid": pid, "ignore": ignore, "started": time.time(), "output": None}
        mapping = {nid: f"{node.id}/{nid}" for nid in flow.nodes}
        nodes = rebase(list(flow.nodes.values()), mapping, node.id, scope=pid)
        if nodes:
            ctx.run.add_nodes(node.id, nodes)
        ctx.done(0, output=None)

    def ancestors(self, nid):
        out = []
        while nid is not None:
            out.append(nid)
            nid = self.run.nodes[nid].parent
        return out

    def child_done(self, node, state):
        info = self.child_runs[node.id]
        pid = info["pid"]
        errors = self.errors.get(pid) or {}
        children_failed = any(self.run.unhandled_failure(c) for c in self.run.children[node.id])
        process_state = "failed" if (errors or children_failed) else "completed"
        output = {
            "ProcessID": pid, "Output": normalise(self.sessions[pid]), "Errors": dict(errors) or None,
            "State": process_state, "trace": {},
        }
        info["output"] = output
        self.processes[pid] = {
            "ProcessID": pid, "State": process_state, "Output": output["Output"], "Errors": output["Errors"],
            "TimeTaken": round(time.time() - info["started"], 3),
        }
        if state.status in FAILURES and process_state == "failed":
            if info["ignore"]:
                return self.completed(node, output) or (SUCCEEDED, None)
            due = json.dumps(errors or {"error": state.error}, default=str)
            if len(due) > _DUE_SHOWN:  # each level quotes the one below, escaped again: 2x per level
                due = due[:_DUE_SHOWN] + f"… ({len(due) - _DUE_SHOWN:,} more characters)"
            message = f"failed to run process {pid}, due to {due}"
            return self.fail(node, message)
        return None

    # -- reporting and resuming -------------------------------------------------------------------
    def report(self):
        return {"state": normalise(self.sessions[""]), "errors": dict(self.errors.get("", {}))}

    def checkpoint(self):
        return normalise({"sessions": self.sessions, "errors": self.errors, "processes": self.processes})

    def restore(self, data):
        self.sessions.update(data.get("sessions") or {})
        self.errors.update(data.get("errors") or {})
        self.processes.update(data.get("processes") or {})


def apply_init(session, params):
    """Workflow init, in order, each value expanded against the state so far (init overrides inputs)."""
    for name, value in params:
        try:
            session[name] = expand(value, session)
        except ExprError:
            session[name] = value


def append(session, name, value):
    """`name[]` in post: append, flattening a list one level, skipping nils (spec §2.8)."""
    current = session.get(name)
    items = [] if current is None else list(current) if isinstance(current, list) else [current]
    if isinstance(value, list):
        items.extend(v for v in value if v is not None)
    elif value is not None:
        items.append(value)
    session[name] = items


def resolve_location(parent_file, location):
    """A sub-workflow path relative to the parent workflow's file; `.yaml` added without an extension."""
    path = location if os.path.splitext(location)[1] else location + ".yaml"
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(parent_file)) if parent_file else os.getcwd(), path)
    return os.path.normpath(path)
