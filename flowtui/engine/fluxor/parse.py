"""Fluxor's document walker (spec §1.5-§1.13): YAML nodes -> `Task` trees, in document order.

Reproduces Go's rules, including the traps: reserved keys are matched case-insensitively, any
other key holding a mapping is a subtask, an `action:` replaces whatever `input:` came before it.
Traps produce warnings. Extensions (docs/fluxor.md): `dependsOn` lists, `retry:`, and the README's
nested `tasks:` list.
"""

import re

from ..diagnostics import Diagnostic
from .yamlnodes import is_map, is_scalar, is_seq, kind_of, loc, mapping_get, tag_of, to_value

TASK_KEYS = ("id", "name", "namespace", "service", "action", "input", "with", "init", "post", "when", "goto",
             "dependsOn", "async", "autoPause", "template", "emit", "await", "retry", "tasks", "commands")


_LOWER_TASK_KEYS = frozenset(k.lower() for k in TASK_KEYS)


def _close_task_key(lowered):
    """The task key a misspelt one (`acton`, `inptu`) was meant to be, or None."""
    import difflib

    close = difflib.get_close_matches(lowered, [k.lower() for k in TASK_KEYS], n=1, cutoff=0.8)
    return next(k for k in TASK_KEYS if k.lower() == close[0]) if close else None


_TYPED_PARAM = re.compile(r"^([^\[\]()]+)\[(.+)\]\((.*)\)$")
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_duration(text):
    """Seconds in a Go duration string (`10m`, `1m30s`, `500ms`); ValueError otherwise."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or _GO_DURATION.sub("", text):
        raise ValueError(f"invalid duration {text!r}: use Go durations such as 500ms, 30s, 10m, 1h30m")
    return sum(float(n) * _GO_UNITS[u] for n, u in _GO_DURATION.findall(text))


class Task:
    """One parsed task, before ids and dependencies are assigned."""

    def __init__(self, key, node, where=None):
        self.key = self.name = key
        self.namespace = ""
        self.loc = where or loc(node)
        self.action = None  # {"service", "method", "input", "loc"}
        self.init, self.post, self.goto = [], [], []
        self.when = None
        self.depends_on = []  # [(name, (line, col))]
        self.is_async = self.auto_pause = self.batch_async = False
        self.template = self.emit = self.await_ = self.retry = None
        self.commands = None
        self.subtasks = []

    @property
    def is_catch(self):
        return self.name.lower() == "catch"


class Walker:
    """Collects errors and warnings (with locations) while reading one file."""

    def __init__(self, path):
        self.path = path
        self.errors, self.warnings = [], []

    def error(self, node, message):
        self.errors.append(Diagnostic(self.path, *loc(node), message))

    def warn(self, node, message):
        self.warnings.append(Diagnostic(self.path, *loc(node), message, "warning"))

    def repeated(self, seen, same, knode):
        """True when `knode` repeats a key Fluxor reads as the same one (`same`: its lower-case name,
        `input` for `with`), warned about here when the spelling differs (the YAML reader warns
        about exact repeats)."""
        first = seen.get(same)
        seen[same] = knode
        if first is None:
            return False
        if first.value != knode.value:
            line, col = loc(first)
            self.warn(knode, f"duplicate key `{knode.value}` (the same as `{first.value}` to Fluxor): the later value "
                      f"wins (as in Fluxor; the first is at {line}:{col})")
        return True

    # -- task lists ---------------------------------------------------------------------------
    def task_list(self, node, where="pipeline"):
        """A mapping (`id: body`…) or a sequence of items: the pipeline, `dependencies`, nested `tasks`."""
        tasks = []
        if is_map(node):
            for key, body in node.value:
                tasks.extend(self._keyed(key, body))
        elif is_seq(node):
            for item in node.value:
                if not is_map(item):
                    self.error(item, f"{where} sequence items should be mappings")
                    continue
                id_key, id_value = next(((k, v) for k, v in item.value if is_scalar(k) and k.value.lower() == "id"), (None, None))
                if id_key is not None and is_scalar(id_value):
                    tasks.append(self.task(id_value.value, item))
                elif not item.value:
                    self.error(item, f"task id is required for {where} sequence item")
                else:
                    for key, body in item.value:
                        tasks.extend(self._keyed(key, body))
        else:
            self.error(node, f"{where} node should be a mapping or sequence")
        return tasks

    def _keyed(self, key, body):
        if not is_scalar(key):
            self.error(key, "task keys must be plain scalars")
            return []
        if not is_map(body):
            self.error(body, f"task node should be a mapping (task {key.value})")
            return []
        return [self.task(key.value, body, loc(key))]

    # -- one task -----------------------------------------------------------------------------
    def task(self, key, node, where=None):
        t = Task(key, node, where)
        service_seen = None
        seen, listed = {}, []  # reserved keys read so far; subtasks of a `tasks:` list
        for knode, value in node.value:
            if not is_scalar(knode):
                continue
            name = knode.value
            lowered = name.lower()
            if lowered in _LOWER_TASK_KEYS and self.repeated(seen, "input" if lowered == "with" else lowered, knode):
                if lowered == "goto":  # the later one replaces the first, as every repeated key does
                    t.goto = []
                elif lowered == "dependson":
                    t.depends_on = []
                elif lowered == "tasks":
                    t.subtasks = [sub for sub in t.subtasks if sub not in listed]
            if lowered == "id":
                if is_scalar(value):
                    t.key = t.name = value.value
            elif lowered == "name":
                if is_scalar(value):
                    t.name = value.value
            elif lowered == "namespace":
                if is_scalar(value):
                    t.namespace = value.value
            elif lowered == "typename":
                pass
            elif lowered == "service":
                if is_scalar(value):
                    service_seen = value.value
                    if t.action is None:
                        t.action = {"service": "", "method": "", "input": None, "loc": loc(value)}
                    elif t.action["service"] and not t.action["method"]:
                        self.warn(knode, f"`service:` after `action: {t.action['service']}` replaces the service and leaves no method (write service: first)")
                    t.action["service"] = value.value
            elif lowered == "action":
                self._action(t, value, service_seen)
            elif lowered in ("input", "with"):
                if t.action is None:
                    t.action = {"service": "", "method": "", "input": None, "loc": loc(value)}
                t.action["input"] = to_value(value)
                t.action["input_loc"], t.action["input_node"] = loc(value), value
            elif lowered in ("init", "post"):
                if is_map(value):
                    setattr(t, lowered, self.parameters(value))
                else:
                    self.error(value, "parameters node should be a mapping")
            elif lowered == "when":
                if is_scalar(value):
                    t.when = (value.value, loc(value))
            elif lowered == "goto":
                self._goto(t, value)
            elif lowered == "dependson":
                self._depends_on(t, value)
            elif lowered in ("async", "autopause"):
                if is_scalar(value) and tag_of(value) == "bool":
                    setattr(t, "is_async" if lowered == "async" else "auto_pause", value.value.lower() == "true")
                else:
                    self.error(value, f"{lowered} should be a boolean")
            elif lowered == "template":
                if is_map(value):
                    t.template = self._template(t, value)
            elif lowered == "emit":
                if is_map(value):
                    t.emit = self._emit(value)
                elif not (is_scalar(value) and tag_of(value) == "bool" and value.value.lower() == "false"):
                    self.error(value, f"emit spec must be a mapping, got {kind_of(value)}")
            elif lowered == "await":
                t.await_ = self._await(value)
            elif lowered == "retry" and is_map(value):
                t.retry = self._retry(value)
            elif lowered == "tasks" and is_seq(value):
                for sub in self.task_list(value, "tasks"):
                    sub.batch_async = sub.is_async
                    t.subtasks.append(sub)
                    listed.append(sub)
            elif lowered == "commands" and is_seq(value):
                t.commands = (to_value(value), loc(value), value)
            elif is_map(value):
                close = _close_task_key(lowered)
                if close and not any(is_scalar(k) and k.value.lower() in _LOWER_TASK_KEYS for k, _ in value.value):
                    self.warn(knode, f"`{name}` holds a mapping, so it is a subtask, as in Fluxor (did you mean `{close}`?)")
                t.subtasks.append(self.task(name, value, loc(knode)))
            else:
                close = _close_task_key(lowered)
                self.warn(knode, f"`{name}` is not a Fluxor task key and holds no task: ignored"
                          + (f" (did you mean `{close}`?)" if close else ""))
        if not t.namespace:
            t.namespace = t.name
        return t

    def _action(self, t, value, service_seen):
        if t.action is not None and t.action.get("input") is not None:
            self.warn(value, "`action:` after `input:`/`with:` discards that input (Fluxor reads task keys in order)")
        if is_scalar(value):
            parts = value.value.split(":")
            if len(parts) >= 2:
                service, method = parts[0], parts[1]
            elif service_seen is not None:
                service, method = service_seen, parts[0]
            else:
                service, method = parts[0], ""
            t.action = {"service": service, "method": method, "input": None, "loc": loc(value)}
        elif is_map(value):
            action = {"service": "", "method": "", "input": None, "loc": loc(value)}
            for knode, item in value.value:
                lowered = knode.value.lower() if is_scalar(knode) else ""
                if lowered in ("service", "method") and is_scalar(item):
                    action[lowered] = item.value
                elif lowered == "input":
                    action["input"], action["input_loc"], action["input_node"] = to_value(item), loc(item), item
                elif lowered == "with":
                    self.warn(knode, "`with:` is not read inside an action object; use `input:`")
            t.action = action
        else:
            self.warn(value, "`action:` as a list is ignored")

    def parameters(self, node, convert_ints=True):
        """init/post: ordered (name, value, (line, col)); top-level ints become floats (spec §1.2)."""
        params = []
        for knode, value in node.value:
            if not is_scalar(knode):
                continue
            name = knode.value
            if "[" in name and not name.endswith("[]"):
                match = _TYPED_PARAM.match(name)
                if not match:
                    self.error(knode, f"failed to parse parameter {name!r}: expected name[Type](kind/location)")
                    continue
                name = match.group(1)
            data = to_value(value)
            if convert_ints and isinstance(data, int) and not isinstance(data, bool):
                data = float(data)
            params.append((name, data, loc(knode)))
        return params

    def _goto(self, t, value):
        items = [value] if is_map(value) else value.value if is_seq(value) else []
        if not (is_map(value) or is_seq(value)):
            self.warn(value, "`goto:` must be a mapping {when, task} or a list of them: ignored")
        for item in items:
            if not is_map(item):
                self.error(item, "goto items must be mappings with `when` and `task`")
                continue
            when = target = None
            for knode, v in item.value:
                lowered = knode.value.lower() if is_scalar(knode) else ""
                if lowered == "when" and is_scalar(v):
                    when = v.value
                elif lowered == "task" and is_scalar(v):
                    target = v.value
            if target:
                t.goto.append((when or "", target, loc(item)))
            else:
                self.warn(item, "goto without `task:` never jumps")

    def _depends_on(self, t, value):
        if is_scalar(value) and tag_of(value) == "str":
            t.depends_on.append((value.value, loc(value)))
        elif is_seq(value) and all(is_scalar(v) and tag_of(v) == "str" for v in value.value):
            t.depends_on.extend((v.value, loc(v)) for v in value.value)
        else:
            self.error(value, "dependsOn should be a string or a list of strings")

    def _template(self, t, node):
        selector_key, selector = next(((k, v) for k, v in node.value if is_scalar(k) and k.value.lower() == "selector"), (None, None))
        task_key, task_node = next(((k, v) for k, v in node.value if is_scalar(k) and k.value.lower() == "task"), (None, None))
        spec = {"selector": [], "task": None, "loc": loc(node)}
        if selector is not None:
            if not is_seq(selector):
                self.error(selector, "selector node should be a sequence")
            else:
                for item in selector.value:
                    if not is_map(item):
                        self.error(item, "selector items must be mappings")
                        continue
                    name = mapping_get(item, "name")[1]
                    value = mapping_get(item, "value")[1]
                    if name is None or not is_scalar(name):
                        self.error(item, "selector item needs a `name`")
                        continue
                    spec["selector"].append((name.value, to_value(value), loc(item)))
        if task_node is not None:
            if is_map(task_node):
                tasks = [self.task(k.value, v) for k, v in task_node.value if is_scalar(k) and is_map(v)]
                spec["task"] = tasks[-1] if tasks else None
            else:
                self.error(task_node, "template task should be a mapping")
        return spec

    def _emit(self, node):
        spec = {"for_each": None, "as": None, "task": None, "loc": loc(node)}
        for knode, value in node.value:
            lowered = knode.value.lower() if is_scalar(knode) else ""
            if lowered == "foreach" and is_scalar(value):
                spec["for_each"] = to_value(value)
            elif lowered == "as" and is_scalar(value):
                spec["as"] = value.value
            elif lowered == "task":
                if not is_map(value):
                    self.error(value, "emit task should be a mapping")
                    continue
                tasks = [self.task(k.value, v) for k, v in value.value if is_scalar(k) and is_map(v)]
                spec["task"] = tasks[-1] if tasks else None
        return spec

    def _await(self, node):
        if is_scalar(node) and tag_of(node) == "bool":
            return {"mode": "all", "timeout": None, "merge": "append"} if node.value.lower() == "true" else None
        if not is_map(node):
            self.error(node, "await should be a boolean or a mapping")
            return None
        spec = {"mode": "all", "timeout": None, "merge": "append"}
        for knode, value in node.value:
            lowered = knode.value.lower() if is_scalar(knode) else ""
            text = value.value if is_scalar(value) else ""
            if lowered == "mode":
                if text not in ("all", "first", "anyError"):
                    self.error(value, f"await mode {text!r} is not one of all, first, anyError")
                spec["mode"] = text
            elif lowered == "timeout":
                try:
                    spec["timeout"] = go_duration(text)
                except ValueError as exc:
                    self.error(value, str(exc))
            elif lowered == "merge":
                if text.lower() not in ("append", "replace"):
                    self.error(value, f"await merge {text!r} is not append or replace")
                spec["merge"] = text.lower()
        return spec

    def _retry(self, node):
        """Extension `retry: {limit, delay, backoff, maxDelay, onExitCodes}` -> Retry fields."""
        spec = {"limit": 0, "delay": 0.0, "backoff": 1.0, "max_delay": None, "on_exit_codes": None}
        for knode, value in node.value:
            lowered = knode.value.lower() if is_scalar(knode) else ""
            data = to_value(value)
            try:
                if lowered == "limit":
                    if isinstance(data, bool) or not isinstance(data, int) or data < 0:
                        raise ValueError("retry limit must be a whole number >= 0")
                    spec["limit"] = data
                elif lowered in ("delay", "maxdelay"):
                    seconds = float(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else go_duration(data)
                    if seconds < 0:
                        raise ValueError(f"retry {knode.value} must not be negative")
                    spec["delay" if lowered == "delay" else "max_delay"] = seconds
                elif lowered == "backoff":
                    if isinstance(data, bool) or not isinstance(data, (int, float)) or data < 1:
                        raise ValueError("retry backoff must be a number >= 1")
                    spec["backoff"] = float(data)
                elif lowered == "onexitcodes":
                    codes = data if isinstance(data, list) else [data]
                    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
                        raise ValueError("retry onExitCodes must be a list of exit codes")
                    spec["on_exit_codes"] = frozenset(codes)
                else:
                    raise ValueError(f"unknown retry key {knode.value!r} (use limit, delay, backoff, maxDelay, onExitCodes)")
            except ValueError as exc:
                self.error(value if lowered else knode, str(exc))
        return spec


def top_level(walker, root):
    """The workflow document: {name, pipeline: [Task], init, dependencies: [Task]} (spec §1.5)."""
    doc = {"name": None, "pipeline": None, "init": [], "dependencies": [], "pipeline_loc": (1, 1)}
    if root is None:  # a sub-workflow of comments (the file flowtui is given is checked as it is read)
        from ..loaders import EMPTY

        walker.errors.append(Diagnostic(walker.path, 1, 1, EMPTY))
        return doc
    if not is_map(root):
        walker.errors.append(Diagnostic(walker.path, *loc(root), "a Fluxor workflow must be a mapping with `pipeline`"))
        return doc
    seen = {}
    for knode, value in root.value:
        lowered = knode.value.lower() if is_scalar(knode) else ""
        if lowered in ("name", "pipeline", "init", "dependencies", "post", "autopause"):
            walker.repeated(seen, lowered, knode)
        if lowered == "name":
            if is_scalar(value):
                doc["name"] = value.value
        elif lowered == "pipeline":
            doc["pipeline_loc"] = loc(knode)
            node = value
            tasks_key, tasks_value = mapping_get(value, "tasks") if is_map(value) else (None, None)
            if tasks_key is not None:  # the wrapper form: only `tasks` counts, siblings like `kind:` are dropped
                if any(is_map(v) for k, v in value.value if k is not tasks_key):
                    walker.warn(tasks_key, "`tasks:` under `pipeline:` replaces the whole pipeline (Fluxor's wrapper form); its sibling tasks are ignored")
                node = tasks_value
            doc["pipeline"] = walker.task_list(node)
        elif lowered == "init":
            if is_map(value):
                doc["init"] = walker.parameters(value)
            else:
                walker.error(value, "parameters node should be a mapping")
        elif lowered == "dependencies":
            doc["dependencies"] = walker.task_list(value, "dependencies")
        elif lowered == "post":
            if is_map(value):
                walker.parameters(value)
            walker.warn(knode, "a workflow-level `post:` is never applied (as in Fluxor)")
        elif lowered == "autopause":
            if not (is_scalar(value) and tag_of(value) == "bool"):
                walker.error(value, "autopause should be a boolean")
    if doc["pipeline"] is None:
        walker.errors.append(Diagnostic(walker.path, 1, 1, "pipeline is nil: a Fluxor workflow needs a `pipeline:` of tasks"))
    return doc
