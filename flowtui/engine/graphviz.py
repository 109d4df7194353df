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


# C0 and C1 control characters and DEL: a NUL ends Graphviz's C strings and SVG (XML) forbids most of
# them. An id keeps each as `\xNN` text (unique, since literal backslashes are doubled); a label shows
# its Unicode control picture (U+2400 + code, ␡ for DEL, � for C1).
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0)]
_ID_CONTROLS = {c: f"\\x{c:02x}" for c in _CONTROLS}
_PICTURES = {c: chr(0x2400 + c) if c < 0x20 else "\u2421" if c == 0x7F else "\ufffd" for c in _CONTROLS}


def _quote(text):
    r"""A dot id: `\\` and `\"` are its only escapes; a raw newline would be a line continuation after
    a backslash, so controls (newlines included) are written as `\xNN` text."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').translate(_ID_CONTROLS) + '"'


def _lines(text):
    """A name's lines for a label, each control character shown as its picture."""
    return [line.translate(_PICTURES) for line in (str(text).splitlines() or [""])]


def _dot_label(text):
    r"""A dot label (an escString): `\n` breaks the line, so a `\N` or `\l` a name holds is doubled to stay text."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in _lines(text)) + '"'


# Mermaid's entity codes (its docs: "Entity codes to escape characters", `#quot;`, decimal `#NN;`) for
# what would end the string (`"`), start a code (`#`), be HTML (`<`, `>`, `&`), a Markdown string (a
# backtick), a directive (`%%{`) or an edge label's end (`|`); lines join with `<br>`.
_MERMAID = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;",
                          "%": "#37;", "|": "#124;"})


def _mermaid_label(text):
    return "<br>".join(line.translate(_MERMAID) for line in _lines(text))


def to_dot(flow) -> str:
    # compound=true: without it Graphviz ignores ltail/lhead and group edges point at the wrong nodes
    lines = [f"digraph {_quote(flow.name)} {{", "  rankdir=LR;", "  compound=true;", "  node [shape=box, style=rounded];"]

    def emit(nid, indent):
        node = flow.nodes[nid]
        if node.children:
            lines.append(f"{indent}subgraph {_quote('cluster_' + nid)} {{")
            lines.append(f"{indent}  label={_dot_label(node.name)};")
            if node.action is not None:
                lines.append(f"{indent}  {_quote(nid)} [label={_dot_label(node.name)}];")
            for child in node.children:
                emit(child, indent + "  ")
            lines.append(f"{indent}}}")
        else:
            shape = ", shape=diamond" if node.label == "merge" else ""
            lines.append(f"{indent}{_quote(nid)} [label={_dot_label(node.name)}{shape}];")

    for top in _tops(flow):
        emit(top, "  ")
    for upstream, node, label in _edges(flow):
        extra = [f"label={_dot_label(label)}"] if label else []
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
        name = _mermaid_label(node.name)
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
        arrow = f" -->|{_mermaid_label(label)}| " if label else " --> "
        lines.append(f"  {ids[upstream]}{arrow}{ids[node.id]}")
    return "\n".join(lines) + "\n"
