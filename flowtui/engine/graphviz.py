"""`flowtui graph`: the flow's groups and dependency edges as Graphviz dot or Mermaid."""

_EDGE_LABELS = {"succeeded": "", "ok": "", "finished": "any", "failed": "on failure", "errored": "on error"}


def _label(dep):
    return f"exit {dep.code}" if dep.cond == "exit" else _EDGE_LABELS.get(dep.cond, dep.cond)


def _tops(flow):
    """The roots, then other top-level nodes an edge touches (Fluxor `dependencies:` tasks), so
    every edge ends at a declared, labelled node; unreachable ones stay out, as they never run."""
    tops = list(flow.roots)
    for nid in (end for node in flow.nodes.values() for dep in node.deps for end in (dep.node, node.id)):
        while flow.nodes[nid].parent is not None:
            nid = flow.nodes[nid].parent
        if nid not in tops:
            tops.append(nid)
    return tops


def _edges(flow):
    """(upstream id, node, label) once each: a `dependsOn` that repeats the sibling order is one
    edge, not two."""
    seen = set()
    for node in flow.nodes.values():
        for dep in node.deps:
            key = (dep.node, node.id, _label(dep))
            if key not in seen:
                seen.add(key)
                yield dep.node, node, key[2]


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(flow) -> str:
    # compound=true: without it Graphviz ignores ltail/lhead and group edges point at the wrong nodes
    lines = [f"digraph {_quote(flow.name)} {{", "  rankdir=LR;", "  compound=true;", "  node [shape=box, style=rounded];"]

    def emit(nid, indent):
        node = flow.nodes[nid]
        if node.children:
            lines.append(f"{indent}subgraph {_quote('cluster_' + nid)} {{")
            lines.append(f"{indent}  label={_quote(node.name)};")
            if node.action is not None:
                lines.append(f"{indent}  {_quote(nid)} [label={_quote(node.name)}];")
            for child in node.children:
                emit(child, indent + "  ")
            lines.append(f"{indent}}}")
        else:
            shape = ", shape=diamond" if node.label == "merge" else ""
            lines.append(f"{indent}{_quote(nid)} [label={_quote(node.name)}{shape}];")

    for top in _tops(flow):
        emit(top, "  ")
    for upstream, node, label in _edges(flow):
        extra = [f"label={_quote(label)}"] if label else []
        if flow.nodes[upstream].children:
            extra.append(f"ltail={_quote('cluster_' + upstream)}")
        if node.children:
            extra.append(f"lhead={_quote('cluster_' + node.id)}")
        source = _anchor(flow, upstream, last=True)
        target = _anchor(flow, node.id, last=False)
        lines.append(f"  {_quote(source)} -> {_quote(target)}" + (f" [{', '.join(extra)}]" if extra else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _anchor(flow, nid, last):
    """Graphviz edges need a node: a group is represented by its first or last leaf."""
    node = flow.nodes[nid]
    while node.children and node.action is None:
        node = flow.nodes[node.children[-1] if last else node.children[0]]
    return node.id


def to_mermaid(flow) -> str:
    ids = {nid: f"n{i}" for i, nid in enumerate(flow.nodes)}
    lines = ["flowchart LR"]

    def emit(nid, indent):
        node = flow.nodes[nid]
        name = node.name.replace('"', "'")
        if node.children:
            lines.append(f'{indent}subgraph {ids[nid]}["{name}"]')
            for child in node.children:
                emit(child, indent + "  ")
            lines.append(f"{indent}end")
        elif node.label == "merge":
            lines.append(f'{indent}{ids[nid]}{{"{name}"}}')
        else:
            lines.append(f'{indent}{ids[nid]}["{name}"]')

    for top in _tops(flow):
        emit(top, "  ")
    for upstream, node, label in _edges(flow):
        arrow = f" -->|{label}| " if label else " --> "
        lines.append(f"  {ids[upstream]}{arrow}{ids[node.id]}")
    return "\n".join(lines) + "\n"
