"""Fluxor workflows (YAML or JSON) -> FlowDef, and their runtime (spec: ../shared/specs/fluxor-spec.md).

The document walk follows Fluxor's Go loader exactly (§1); the runtime gives the semantics its
README and tests intend (§2/§3 "Rec"). Every divergence is listed in docs/fluxor.md.
"""

import os

from ..diagnostics import Diagnostic, FlowError
from ..model import FlowDef


def parse_sets(sets) -> dict:
    """`--set KEY=VALUE` values parsed as YAML 1.2 scalars or flow collections (`[a,b]` -> list)."""
    from ..fluxor.yamlnodes import compose, to_value

    if not sets:
        return {}
    pairs = sets.items() if isinstance(sets, dict) else (item.partition("=")[::2] for item in sets)
    values = {}
    for key, raw in pairs:
        if not key:
            raise FlowError([Diagnostic("--set", 1, 1, f"--set {raw!r}: expected KEY=VALUE")])
        try:
            node = compose(f"--set {key}", str(raw)) if str(raw).strip() else None
        except FlowError as exc:
            raise FlowError([Diagnostic("--set", 1, 1, f"--set {key}={raw}: {exc.diagnostics[0].message}")]) from None
        values[key] = to_value(node) if node is not None else ""
    return values


def _refuse_surrogates(path, node):
    """yaml.v3 refuses a `\\uD800`-`\\uDFFF` escape; PyYAML keeps a surrogate no output can encode."""
    from ..floe.yamlpos import SURROGATE, SURROGATE_ESCAPE

    stack = [node] if node is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node.value, str):
            if SURROGATE.search(node.value):
                mark = node.start_mark
                raise FlowError([Diagnostic(path, mark.line + 1, mark.column + 1, SURROGATE_ESCAPE)])
        else:
            for item in reversed(node.value):
                stack.extend(reversed(item) if isinstance(item, tuple) else (item,))


def _check_locations(path, nodes, errors, options):
    """A literal `workflow:run` location must name a workflow that loads, and that does not run the
    workflows that run it unless a `when` may stop it (it would never end): checked before anything
    runs, as deep as they go."""
    from ..fluxor.inputs import text_field
    from ..fluxor.runtime import resolve_location

    chain = options.get("_workflow_chain") or (os.path.realpath(path),)
    checked = {}
    for node in nodes.values():
        action = node.action
        if action is None or action.kind != "workflow:run":
            continue
        data = action.params.get("input") or {}
        location = text_field(data, "location")
        if not location or "$" in location or text_field(data, "source"):
            continue
        target = resolve_location(path, location)
        where = (path, *(node.loc or (1, 1)))
        if not os.path.isfile(target):
            errors.append(Diagnostic(*where, f"task {node.id}: sub-workflow {location} not found (looked for {target})"))
            continue
        real = os.path.realpath(target)
        if real in chain and _guarded(node, nodes):
            continue  # recursion a `when` can end (a countdown in the context): the run's depth guard stays
        if real in chain:
            names = [os.path.basename(p) for p in (*chain[chain.index(real):], real)]
            errors.append(Diagnostic(*where, f"task {node.id}: sub-workflow {location} runs itself "
                                     f"({' -> '.join(names)}): it would never end"))
            continue
        if real not in checked:
            checked[real] = _child_problems(path, location, target, {**options, "_workflow_chain": (*chain, real)})
        problem = checked[real]
        if isinstance(problem, str):
            errors.append(Diagnostic(*where, f"task {node.id}: sub-workflow {location}: {problem}"))
        else:
            errors.extend(d for d in problem if d not in errors)


def _guarded(node, nodes):
    """True when a `when` on the task or a group around it may stop it from running."""
    while node is not None:
        if node.extra.get("when"):
            return True
        node = nodes.get(node.parent)
    return False


def _child_problems(path, location, target, options):
    """The errors of loading a sub-workflow (shown by the path the user would type), or why it cannot be read."""
    from ..diagnostics import unreadable

    try:
        with open(target, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, ValueError) as exc:
        return f"cannot read {target}: {unreadable(exc)}"
    shown = target
    if not os.path.isabs(location):
        shown = os.path.normpath(os.path.join(os.path.dirname(path), os.path.relpath(target, os.path.dirname(os.path.abspath(path)))))
    try:
        load(shown, text, options)
    except FlowError as exc:
        return exc.diagnostics
    return []


def load(path, text, options) -> FlowDef:
    from ..fluxor.actions import services
    from ..fluxor.build import build
    from ..fluxor.parse import Walker, top_level
    from ..fluxor.yamlnodes import Directives, compose

    options = options or {}
    root = compose(path, text)
    if "\\u" in text or "\\U" in text:
        _refuse_surrogates(path, root)
    walker = Walker(path)
    if root is not None:
        directives = Directives(path)
        root = directives.apply(root, path)
        if directives.errors:  # reading on would only report the unresolved directives again
            raise FlowError(directives.errors)
        walker.warnings.extend(directives.warnings)
    doc = top_level(walker, root)
    base = os.path.splitext(os.path.basename(path))[0]
    name = doc["name"] or ("anonymous" if base == "<source>" else base)
    nodes, roots = {}, ()
    if doc["pipeline"] is not None:
        nodes, roots = build(path, walker, doc, services(options), options, name)
        all_nodes = dict(nodes)
        for node in nodes.values():
            for key in ("template", "emit"):
                for inner in (node.extra.get(key) or {}).get("nodes", ()):
                    all_nodes[inner.id] = inner
        _check_locations(path, all_nodes, walker.errors, options)
    if walker.errors:
        raise FlowError(walker.errors)
    return FlowDef(
        name=name, format="fluxor", file=path, nodes=nodes, roots=roots, warnings=tuple(walker.warnings),
        extra={"init": [(n, v) for n, v, _ in doc["init"]], "sets": parse_sets(options.get("sets")),
               "policy": options.get("policy") or "auto"},
    )


def runtime(flow, options):
    from ..fluxor.runtime import FluxorRuntime

    return FluxorRuntime(flow, options or {})
