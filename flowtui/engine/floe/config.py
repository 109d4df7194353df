"""Floe documents -> checked configuration records (host config `common` + `flows`, or a flow file).

Mirrors go-yaml v2 decoding into Floe's structs: unknown keys are ignored (here: warned about),
a type mismatch is an error, ids and names are normalised and node ids must be unique (§2–§5).
"""

from ..diagnostics import Diagnostic
from .ids import IdError, normalise
from .yamlpos import LocDict, LocList

COMMON_KEYS = ("hosts", "base-url", "workspace-root", "store-type", "store-root", "git-key")
FLOW_KEYS = ("id", "ver", "name", "reuse-space", "host-tags", "resource-tags", "env", "flow-file", "triggers", "tasks")
NODE_KEYS = ("id", "name", "class", "type", "listen", "wait", "good", "ignore-fail", "use-status", "opts", "ref")
README_ONLY = {
    "config-path": "`config-path` is only in Floe's README: Floe ignores it",
    "key-file": "`key-file` is only in Floe's README: the common git key is `git-key`",
}


GO_INT = (-(2**63), 2**63 - 1)  # Floe's int fields (`ver`, `good`) on 64-bit Go
GO_INT_RANGE = f"{GO_INT[0]} to {GO_INT[1]}"


class Common:
    __slots__ = ("hosts", "base_url", "workspace_root", "store_type", "store_root", "git_key")

    def __init__(self):
        self.hosts, self.base_url = [], ""
        self.workspace_root = self.store_type = self.store_root = self.git_key = ""


class NodeConf:
    """One trigger, task or merge as written (after id normalisation)."""

    __slots__ = ("id", "name", "cls", "type", "listen", "wait", "good", "ignore_fail", "use_status", "opts",
                 "loc", "file", "listen_loc", "wait_locs")


class FlowConf:
    __slots__ = ("id", "name", "ver", "reuse_space", "host_tags", "resource_tags", "env", "flow_file",
                 "flow_file_loc", "triggers", "tasks", "loc", "file", "present")


class Checker:
    """Collects errors and warnings located in one file."""

    def __init__(self, path):
        self.path = path
        self.errors, self.warnings = [], []

    def error(self, loc, message):
        self.errors.append(Diagnostic(self.path, loc[0], loc[1], message))

    def warn(self, loc, message):
        self.warnings.append(Diagnostic(self.path, loc[0], loc[1], message, "warning"))

    def unknown_keys(self, mapping, known, what, hints=None):
        for key in mapping:
            if key in known:
                continue
            hint = (hints or {}).get(key)
            if not hint:
                import difflib

                close = difflib.get_close_matches(str(key), [k for k in known if k not in mapping], n=1, cutoff=0.8)
                hint = f"unknown key `{key}` in {what}: Floe ignores it" + (f" (did you mean `{close[0]}`?)" if close else "")
            self.warn(mapping.key_loc[key], hint)

    # -- typed fields (go-yaml v2 into Go types) -------------------------------------------------
    def string(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a string")
            return ""
        return value if isinstance(value, str) else _scalar_text(value)

    def boolean(self, mapping, key, what):
        value = mapping.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        self.error(mapping.val_loc[key], f"{what}: `{key}` must be true or false")
        return False

    def integer(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool):
            if GO_INT[0] <= value <= GO_INT[1]:
                return value
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a whole number that fits Go's int ({GO_INT_RANGE})")
            return 0
        self.error(mapping.val_loc[key], f"{what}: `{key}` must be a whole number")
        return 0

    def strings(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a list of strings")
            return []
        return ["" if v is None else v if isinstance(v, str) else _scalar_text(v) for v in value]

    def integers(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a list of whole numbers, e.g. [0]")
            return []
        for item, loc in zip(value, value.item_loc, strict=True):
            if not GO_INT[0] <= item <= GO_INT[1]:  # go-yaml refuses a number its int cannot hold
                self.error(loc, f"{what}: `{key}` must be a list of whole numbers that fit Go's int ({GO_INT_RANGE})")
                return []
        return list(value)

    def mapping(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return LocDict()
        if not isinstance(value, dict):
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a mapping")
            return LocDict()
        return value

    def items(self, mapping, key, what):
        value = mapping.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(mapping.val_loc[key], f"{what}: `{key}` must be a list")
            return []
        out = []
        for item, loc in zip(value, value.item_loc, strict=True):
            if isinstance(item, dict):
                out.append(item)
            else:
                self.error(loc, f"{what}: each entry of `{key}` must be a mapping")
        return out


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def repeated_keys(check, document):
    """A warning at each repeated key of the file: go-yaml v2 (not strict) keeps the later value silently."""
    for key, (line, col), later in getattr(document, "duplicates", ()):
        check.warn(later, f"duplicate key `{key}`: the later value wins (as in Floe; the first is at {line}:{col})")


def parse_common(check, top):
    common = Common()
    if "common" not in top or top["common"] is None:
        return common
    data = top["common"]
    if not isinstance(data, dict):
        check.error(top.val_loc["common"], "`common` must be a mapping")
        return common
    check.unknown_keys(data, COMMON_KEYS, "common", README_ONLY)
    common.hosts = check.strings(data, "hosts", "common")
    common.base_url = check.string(data, "base-url", "common")
    common.workspace_root = check.string(data, "workspace-root", "common")
    common.store_type = check.string(data, "store-type", "common") or "memory"
    common.store_root = check.string(data, "store-root", "common")
    common.git_key = check.string(data, "git-key", "common")
    if common.store_type not in ("memory", "local"):
        check.error(data.val_loc["store-type"], f"{common.store_type} is not a supported store (memory or local)")
    return common


def parse_flow(check, data, label):
    """One flow mapping (a `flows` entry or a whole flow file). `label` names it in messages."""
    flow = FlowConf()
    flow.file, flow.loc = check.path, data.loc
    flow.present = set(data)
    try:
        flow.id, flow.name = normalise(check.string(data, "id", label), check.string(data, "name", label))
    except IdError as exc:
        check.error(data.key_loc.get("id", data.loc), f"{label}: {exc}")
        flow.id, flow.name = "", ""
    label = f"flow `{flow.id}`" if flow.id else label
    check.unknown_keys(data, FLOW_KEYS, label)
    flow.ver = check.integer(data, "ver", label)
    flow.reuse_space = check.boolean(data, "reuse-space", label)
    flow.host_tags = check.strings(data, "host-tags", label)
    flow.resource_tags = check.strings(data, "resource-tags", label)
    flow.env = check.strings(data, "env", label)
    flow.flow_file = check.string(data, "flow-file", label)
    flow.flow_file_loc = data.val_loc.get("flow-file", data.loc)
    flow.triggers = [_node(check, n, "trigger", i, label) for i, n in enumerate(check.items(data, "triggers", label))]
    flow.tasks = [_node(check, n, "task", i, label) for i, n in enumerate(check.items(data, "tasks", label))]
    check_unique(check, flow.triggers + flow.tasks, label)
    return flow


def check_unique(check, nodes, label):
    seen = {}
    for node in nodes:
        if node.id:
            seen.setdefault(node.id, []).append(node)
    for node_id, same in seen.items():
        if len(same) > 1:
            for node in same[1:]:
                check.error(node.loc, f"{label}: {len(same)} nodes have id: {node_id}")


def _node(check, data, default_class, index, flow_label):
    node = NodeConf()
    node.file, node.loc = check.path, data.loc
    what = f"{flow_label}, {default_class} {index + 1}"
    try:
        node.id, node.name = normalise(check.string(data, "id", what), check.string(data, "name", what))
    except IdError as exc:
        check.error(data.key_loc.get("id", data.key_loc.get("name", data.loc)), f"{what}: {exc}")
        node.id = node.name = ""
    what = f"{flow_label}, {default_class} `{node.id}`" if node.id else what
    check.unknown_keys(data, NODE_KEYS, what)
    node.cls = (check.string(data, "class", what) or default_class) if default_class == "task" else "trigger"
    node.type = check.string(data, "type", what)
    node.listen = check.string(data, "listen", what)
    node.listen_loc = data.val_loc.get("listen", data.loc)
    node.wait = check.strings(data, "wait", what)
    waits = data.get("wait")
    node.wait_locs = list(waits.item_loc) if isinstance(waits, LocList) and node.wait else []
    node.good = check.integers(data, "good", what) or [0]
    node.ignore_fail = check.boolean(data, "ignore-fail", what)
    node.use_status = check.boolean(data, "use-status", what)
    node.opts = check.mapping(data, "opts", what)
    if node.type == "data":
        _check_form(check, node.opts, what)
    if node.cls == "task" and node.wait:
        check.error(data.key_loc["wait"], f"{what}: task nodes can not have waits")
    if node.cls == "merge":
        node.type = node.type or "all"
        if node.listen:
            check.error(data.key_loc["listen"], f"{what}: merge nodes can not have listen set")
    return node


def _ci_key(mapping, key):
    """The key of `mapping` that Floe's case-insensitive decoder reads as `key` (opts.get_ci's choice)."""
    if key in mapping:
        return key
    return next((k for k in mapping if isinstance(k, str) and k.lower() == key), None)


def _typed(check, mapping, key, kind, message):
    """The value Floe reads as `key` when it is a `kind`; else None, with `message` at a value of
    another type."""
    found = _ci_key(mapping, key)
    value = mapping.get(found) if found is not None else None
    if value is not None and not isinstance(value, kind):
        check.error(mapping.val_loc[found], message)
        return None
    return value


def _check_form(check, opts, what):
    """A data node's form as Floe decodes it: {title, fields: [{id, prompt, type, value}]}. Floe fails a
    data task whose form does not decode (and a data trigger's form is what the run asks first)."""
    form = _typed(check, opts, "form", dict, f"{what}: `form` must be a mapping ({{title, fields}})")
    fields = form and _typed(check, form, "fields", list,
                             f"{what}: the form's `fields` must be a list of fields ({{id, prompt, type, value}})")
    if not fields:
        return
    for field, loc in zip(fields, fields.item_loc, strict=True):
        if not isinstance(field, dict):
            check.error(loc, f"{what}: each form field must be a mapping ({{id, prompt, type, value}})")
        elif _ci_key(field, "id") is None or field[_ci_key(field, "id")] in (None, ""):
            check.error(loc, f"{what}: a form field needs an `id`")
