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


def _check_locations(path, nodes, errors):
    """A literal `workflow:run` location must exist next to the workflow (checked before anything runs)."""
    from ..fluxor.inputs import text_field
    from ..fluxor.runtime import resolve_location

    for node in nodes.values():
        action = node.action
        if action is None or action.kind != "workflow:run":
            continue
        data = action.params.get("input") or {}
        location = text_field(data, "location")
        if location and "$" not in location and not text_field(data, "source"):
            target = resolve_location(path, location)
            if not os.path.isfile(target):
                errors.append(Diagnostic(path, *(node.loc or (1, 1)), f"task {node.id}: sub-workflow {location} not found (looked for {target})"))


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
        _check_locations(path, all_nodes, walker.errors)
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
