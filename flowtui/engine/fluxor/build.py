"""Parsed `Task` trees -> the unified model: ids, sibling order, dependsOn, goto targets, validation.

Ids are the task path below the pipeline joined by `/` (`loop/inc`); `dependencies:` tasks keep
their key and run on demand. Siblings run in order (`Dep(prev, "ok")`) unless their group is
`async`; a `catch` subtask runs only when a sibling fails. Checks of spec §1.15 plus unknown
services and methods, goto targets the runtime cannot jump to, and dependency cycles.
"""

from ..diagnostics import Diagnostic
from ..model import COND_FAILED, COND_OK, Action, Approval, Dep, Node, Retry
from .expr import ExprError, ExprSyntaxError, parse
from .inputs import field
from .values import stringify
from .yamlnodes import child_node, is_seq, loc


class AnyCode(frozenset):
    """`good_codes` of system/exec: a non-zero exit is data in the output, not a failure (as in Go)."""

    def __contains__(self, code):
        return True


ANY_CODE = AnyCode()
EXEC_SERVICES = ("system/exec", "system/executor")


class Builder:
    def __init__(self, path, walker, services, options, name):
        self.path, self.walker, self.services, self.options = path, walker, services, options
        self.workflow_name = name
        self.parent_of = {}
        self.tasks_by_id = {}
        self.dependency_ids = set()
        self.by_name = {}  # name -> [ids] in Go's lookup order (pipeline pre-order, then dependencies)
        self.errors = walker.errors

    def error(self, where, message):
        self.errors.append(Diagnostic(self.path, *where, message))

    # -- ids ------------------------------------------------------------------------------------
    def assign(self, tasks, parent, seen, names=None):
        for task in tasks:
            tid = task.key if parent is None else f"{parent}/{task.key}"
            if tid in seen:
                self.error(task.loc, f"duplicate task id {tid}")
                continue
            seen.add(tid)
            if names is not None:
                names.add(task.name)
            task.id = tid
            self.parent_of[tid] = parent
            self.tasks_by_id[tid] = task
            self.by_name.setdefault(task.name, []).append(tid)
            self.assign(task.subtasks, tid, seen, names)

    def assign_dependencies(self, tasks, pipeline_ids, pipeline_names):
        seen = set()
        for task in tasks:
            if task.key in pipeline_ids or task.key in pipeline_names or task.key in seen:
                self.error(task.loc, f"duplicate task id {task.key}: a dependency needs a name no pipeline task uses")
                continue
            seen.add(task.key)
            task.id = task.key
            self.dependency_ids.add(task.id)
            self.parent_of[task.id] = None
            self.tasks_by_id[task.id] = task
            self.by_name.setdefault(task.name, []).append(task.id)
            self.assign(task.subtasks, task.id, set())

    # -- lookups --------------------------------------------------------------------------------
    def ancestors(self, tid):
        out = []
        while tid is not None:
            out.append(tid)
            tid = self.parent_of.get(tid)
        return out  # tid itself first, the root last

    def resolve(self, name):
        """Ids a goto/dependsOn text may mean: a full id (with or without the workflow name) or a name."""
        for candidate in (name, name[len(self.workflow_name) + 1:] if name.startswith(f"{self.workflow_name}/") else None):
            if candidate and candidate in self.tasks_by_id:
                return [candidate]
        return list(self.by_name.get(name, ()))

    def goto_target(self, source, text, where):
        candidates = self.resolve(text)
        if not candidates:
            self.error(where, f"task {source} goto refers to unknown task {text}")
            return None
        chain = self.ancestors(source)
        reachable = []
        for cid in candidates:
            parent = self.parent_of.get(cid)
            for depth, anc in enumerate(chain):
                if cid == anc or (self.parent_of.get(anc) == parent and cid not in self.dependency_ids and anc not in self.dependency_ids):
                    reachable.append((depth, cid))
                    break
        if not reachable:
            self.error(where, f"task {source} goto {text}: the target must be {source}, an ancestor, or a sibling of one of them (flowtui jumps within the pipeline tree)")
            return None
        reachable.sort()
        if len(candidates) > 1:
            self.walker.warnings.append(Diagnostic(self.path, *where, f"goto {text}: several tasks are named {text}; using {reachable[0][1]}", "warning"))
        return reachable[0][1]

    # -- nodes ----------------------------------------------------------------------------------
    def build_group(self, tasks, parent, is_async, into):
        """Nodes for sibling `tasks` under `parent` (None: the pipeline root), in pre-order."""
        tasks = [t for t in tasks if hasattr(t, "id")]  # a duplicate got an error and no id
        ordinary = [t for t in tasks if not t.is_catch]
        previous, batch = [], []
        for task in tasks:
            deps = []
            join = "all"
            if task.is_catch:
                others = [t.id for t in ordinary]
                if not others:
                    self.walker.warnings.append(Diagnostic(self.path, *task.loc, "a `catch` task with no sibling to watch never runs", "warning"))
                    task.when = ("false", task.loc)
                deps = [Dep(node=o, cond=COND_FAILED) for o in others]
                join = "any"
            elif not is_async:
                if task.batch_async and batch and batch[-1].batch_async:
                    deps = [Dep(node=p, cond=COND_OK) for p in previous]
                    batch.append(task)
                else:
                    previous = [t.id for t in batch] if batch else previous
                    deps = [Dep(node=p, cond=COND_OK) for p in previous]
                    batch = [task]
            self.build_task(task, parent, deps, join, into)

    def build_task(self, task, parent, deps, join, into, on_demand=False):
        extra = {
            "namespace": task.namespace, "when": task.when[0] if task.when else None,
            "init": [(n, v) for n, v, _ in task.init], "post": [(n, v) for n, v, _ in task.post],
            "goto": [], "depends_on": [], "auto_pause": task.auto_pause, "catch": task.is_catch,
            "data": {}, "scope": "",
        }
        for text, where in [task.when] if task.when else []:
            self.check_condition(task, text, where)
        for when, text, where in task.goto:
            self.check_condition(task, when, where)
            target = self.goto_target(task.id, text, where)
            if target:
                extra["goto"].append((when, target))
        for text, where in task.depends_on:
            targets = self.resolve(text)
            if not targets:
                self.error(where, f"task {task.id} depends on unknown task {text}")
            elif targets[-1] == task.id:
                self.error(where, f"task {task.id} depends on itself")
            else:
                extra["depends_on"].append(targets[-1])
                deps = [*deps, Dep(node=targets[-1], cond=COND_OK)]
        action, good_codes, label = self.action(task), frozenset({0}), "task"
        if action is not None and action.params["service"] in EXEC_SERVICES:
            good_codes = frozenset({0}) if field(action.params.get("input"), "failOnError") is True else ANY_CODE
        if action is not None and action.params["service"] == "workflow" and action.params["method"] == "run":
            label = "workflow"
        elif task.subtasks:
            label = "group"
        if task.template is not None:
            label = "template"
            extra["template"] = self.template(task)
        if task.emit is not None:
            label = "emit"
            extra["emit"] = self.emit(task)
            extra["await"] = task.await_ or {"mode": "all", "timeout": None, "merge": "append"}
        approval = None
        if action is not None and self.options.get("policy") == "ask":
            approval = Approval(prompt=f"Run {action.params['service']}.{action.params['method']}?")
        node = Node(
            id=task.id, name=task.name, parent=parent,
            children=tuple(t.id for t in task.subtasks if hasattr(t, "id")),
            deps=tuple(deps), join=join, action=action, approval=approval, good_codes=good_codes,
            retry=Retry(**task.retry) if task.retry else None, on_demand=on_demand, label=label,
            extra=extra, loc=task.loc,
        )
        into[task.id] = node
        self.build_group(task.subtasks, task.id, task.is_async, into)

    def check_condition(self, task, text, where):
        """A condition the grammar cannot parse is silently false at run time, as in Fluxor: say so now."""
        try:
            if text.strip():
                parse(text.strip())
        except ExprSyntaxError as exc:
            message = f"task {task.id}: cannot parse `{text}` ({exc}); as in Fluxor it is read as a variable name, so it is false unless such a variable exists"
            self.walker.warnings.append(Diagnostic(self.path, *where, message, "warning"))
        except ExprError:
            pass  # a semantic problem (an unknown function) fails the task when it runs

    def action(self, task):
        spec = task.action
        if spec is None:
            return None
        if task.template is not None:  # spec §2.11
            self.walker.warnings.append(Diagnostic(self.path, *spec["loc"], f"the action of {task.id} never runs: it drives a template", "warning"))
            return None
        if task.emit is not None:  # spec §2.13 step 1: an empty list makes the driver a normal task
            self.walker.warnings.append(Diagnostic(self.path, *spec["loc"], f"the action of {task.id} runs only when its emit forEach list is empty", "warning"))
        service, method, data = spec["service"], spec["method"], spec["input"]
        if not service:
            self.error(spec["loc"], f"task {task.id} has input but no action (write `action: service:method`)")
            return None
        methods = self.services.get(service)
        if methods is None:
            self.error(spec["loc"], f"task {task.id}: unknown service {service!r}; available services: {', '.join(sorted(self.services))}")
            return None
        if not method and service == "system/executor":
            method = "execute"
        if method not in methods:
            what = f"unknown method {method!r}" if method else "no method"
            self.error(spec["loc"], f"task {task.id}: service {service} has {what}; its methods: {', '.join(sorted(methods))}")
            return None
        if service in EXEC_SERVICES and not isinstance(field(data, "failOnError", False), bool):  # keys match in any case
            self.error(spec.get("input_loc", spec["loc"]), f"task {task.id}: failOnError must be true or false")
        node = spec.get("input_node")
        if service in EXEC_SERVICES and task.commands and not (isinstance(data, dict) and "commands" in {k.lower() for k in data}):
            data = {**(data if isinstance(data, dict) else {}), "commands": task.commands[0]}
            node = None if node is not None else task.commands[2]
        if service in EXEC_SERVICES and isinstance(data, dict):
            self.check_exec_input(task, data, node, spec.get("input_loc", spec["loc"]))
        return Action(kind=f"{service}:{method}", params={"service": service, "method": method, "input": data})

    def check_exec_input(self, task, data, node, where):
        """Literal exec inputs of the wrong type fail (or quietly misbehave) when the task runs: say so
        now, at the value. `${...}`/`$x` text is left to the run. `node`: the input's YAML node (or the
        task-level `commands:` list's) for positions."""

        def at(*path):
            found = node
            for step in path:
                found = child_node(found, step)
            return loc(found) if found is not None else where

        def what(value):
            if isinstance(value, dict):
                return "a mapping"
            if isinstance(value, list):
                return "a list"
            return f"{stringify(value)}: quote it" if value is not None else "an alias"

        keys = {k.lower(): k for k in data if isinstance(k, str)}
        key = keys.get("commands")
        commands = data.get(key) if key else None
        for i, command in enumerate(commands if isinstance(commands, list) else ()):
            if not isinstance(command, str):
                path = (key, i) if node is None or not is_seq(node) else (i,)
                self.error(at(*path), f"task {task.id}: commands[{i}] must be a shell command (text), not {what(command)}")
        key = keys.get("timeoutms")
        value = data.get(key) if key else None
        if value is not None and not (isinstance(value, str) and "$" in value):
            try:
                ok = not isinstance(value, (bool, dict, list)) and float(value) >= 0
            except ValueError:
                ok = False
            if not ok:
                shown = repr(value) if isinstance(value, str) else what(value).split(":")[0]
                self.error(at(key), f"task {task.id}: timeoutMs must be a positive number of milliseconds, not {shown}")
        key = keys.get("env")
        value = data.get(key) if key else None
        if value is not None and not isinstance(value, dict) and not (isinstance(value, str) and "$" in value):
            self.error(at(key), f"task {task.id}: env must be a mapping of NAME: value, not {what(value).split(':')[0]}")
        key = keys.get("workdir")
        value = data.get(key) if key else None
        if isinstance(value, (dict, list)):
            self.error(at(key), f"task {task.id}: workdir must be a directory (text), not {what(value)}")

    def template(self, task):
        spec = task.template
        if not spec["selector"]:
            self.error(spec["loc"], f"task {task.id} has template without selector")
        return {"selector": [(n, v) for n, v, _ in spec["selector"]], "nodes": self.prebuilt(task, spec["task"])}

    def emit(self, task):
        spec = task.emit
        if not spec["as"] or spec["for_each"] is None or spec["task"] is None:
            self.error(spec["loc"], f"task {task.id}: emit needs forEach, as and task")
        return {"for_each": spec["for_each"], "as": spec["as"], "nodes": self.prebuilt(task, spec["task"])}

    def prebuilt(self, driver, task):
        """Nodes of a template/emit task, ids under the driver; cloned with `[N]` at run time."""
        if task is None:
            return ()
        self.assign([task], driver.id, set())
        nodes = {}
        self.build_task(task, driver.id, (), "all", nodes)
        return tuple(nodes.values())

    # -- whole-graph checks -----------------------------------------------------------------------
    def check_cycles(self, nodes):
        """A dependency cycle (counting that a group ends after its children) would deadlock: reject it."""
        edges = {}
        for node in nodes.values():
            edges.setdefault(("s", node.id), []).append(("e", node.id))
            for dep in node.deps:
                edges.setdefault(("e", dep.node), []).append(("s", node.id))
            if node.parent is not None:
                edges.setdefault(("s", node.parent), []).append(("s", node.id))
                edges.setdefault(("e", node.id), []).append(("e", node.parent))
        state = {}
        for start in list(edges):
            if start in state:
                continue
            stack = [(start, iter(edges.get(start, ())))]
            state[start] = 1
            path = [start]
            while stack:
                vertex, children = stack[-1]
                nxt = next(children, None)
                if nxt is None:
                    state[vertex] = 2
                    stack.pop()
                    path.pop()
                elif state.get(nxt) == 1:
                    cycle = path[path.index(nxt):]
                    ids = []
                    for _, nid in cycle:
                        if nid not in ids:
                            ids.append(nid)
                    first = nodes[ids[0]]
                    self.error(first.loc or (1, 1), f"dependency cycle: {' -> '.join(ids + [ids[0]])} can never start")
                    return
                elif nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(edges.get(nxt, ()))))


def build(path, walker, doc, services, options, name):
    """(ordered nodes, root ids) for the parsed document; errors land in walker.errors."""
    builder = Builder(path, walker, services, options, name)
    pipeline_ids, pipeline_names = set(), set()
    builder.assign(doc["pipeline"] or [], None, pipeline_ids, pipeline_names)
    builder.assign_dependencies(doc["dependencies"], pipeline_ids, pipeline_names)
    nodes = {}
    pipeline = [t for t in doc["pipeline"] or [] if hasattr(t, "id")]
    builder.build_group(pipeline, None, False, nodes)
    for task in doc["dependencies"]:
        if hasattr(task, "id"):
            builder.build_task(task, None, (), "all", nodes, on_demand=True)
    if not walker.errors:
        builder.check_cycles(nodes)
    roots = tuple(t.id for t in pipeline if t.id in nodes)
    return nodes, roots
