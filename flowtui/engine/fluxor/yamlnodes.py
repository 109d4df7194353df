"""YAML 1.2 node trees for Fluxor: key order, line/column marks, Go's scalar rules.

Fluxor walks yaml.v3 nodes rather than decoding, so `yes` stays a string, `0777` is 777, a null
is its raw text and an alias is nil (spec §1.1-§1.3). The tree is composed by libyaml (PyYAML)
with YAML 1.2's tag rules in place of PyYAML's 1.1 ones. Load-time directives (`${env.X}`,
`$path()`, `$import()`) are applied to the tree before the workflow is read.
"""

import os
import re

from ..diagnostics import Diagnostic, FlowError, unreadable, yaml_problem
from ..pyyaml import pyyaml

_ENV = re.compile(r"\$\{env\.([A-Za-z0-9_]+)\}")
_IMPORT = re.compile(r"^\$import\s*\(\s*(['\"]?)(.*?)\1\s*\)$")
_PATH = re.compile(r"^\$path\s*\(\s*(['\"]?)(.*?)\1\s*\)$")
_INT = re.compile(r"^[+-]?\d+$")
ALIAS_TAG = "!alias"


def tag_of(node) -> str:
    tag = getattr(node.tag, "value", node.tag) or ""
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag


def kind_of(node) -> str:
    return type(node).__name__.replace("Node", "").lower()  # scalar, mapping, sequence


def is_map(node):
    return node is not None and kind_of(node) == "mapping"


def is_seq(node):
    return node is not None and kind_of(node) == "sequence"


def is_scalar(node):
    return node is not None and kind_of(node) == "scalar" and node.tag != ALIAS_TAG


def loc(node):
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


# Plain scalars' tags under YAML 1.2 (yaml.v3's core schema, as ruamel.yaml resolves them): no
# yes/no/on/off booleans, no sexagesimal numbers, `0777` an int read as 777 (§1.2).
_YAML12_TAGS = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("float", r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", "-+0123456789."),
    ("int", r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$", "-+0123456789"),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?:~|null|Null|NULL|)$", ("~", "n", "N", "")),
    ("timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
         (?:[Tt]|[\ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
         (?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", "0123456789"),
)
_LOADERS = {}


def _loader(fast):
    """A composer with YAML 1.2 tags: libyaml's (`fast`), else PyYAML's own, whose error messages
    are the ones users see."""
    if fast not in _LOADERS:
        yaml = pyyaml()

        class Resolver(yaml.resolver.BaseResolver):
            pass

        for name, pattern, first in _YAML12_TAGS:
            Resolver.add_implicit_resolver(f"tag:yaml.org,2002:{name}", re.compile(pattern, re.X), list(first))
        parser = getattr(getattr(yaml, "cyaml", None), "CParser", None) if fast else None
        if parser is not None:

            class Composer(parser, Resolver):
                def __init__(self, stream):
                    parser.__init__(self, stream)
                    Resolver.__init__(self)

        else:
            from yaml.composer import Composer as Composing
            from yaml.parser import Parser
            from yaml.reader import Reader
            from yaml.scanner import Scanner

            class Composer(Reader, Scanner, Parser, Composing, Resolver):
                def __init__(self, stream):
                    Reader.__init__(self, stream)
                    Scanner.__init__(self)
                    Parser.__init__(self)
                    Composing.__init__(self)
                    Resolver.__init__(self)

        _LOADERS[fast] = Composer
    return _LOADERS[fast]


def _first_document(text, fast):
    """The first document's node; text after it must start a new document (`---`), so a stray
    `]` after a flow collection (`--set 'x=[1, 2]]'`) is an error rather than silently dropped."""
    loader = _loader(fast)(text)
    try:
        node = loader.get_node() if loader.check_node() else None
        loader.peek_event()
        return node
    finally:
        loader.dispose()


def compose(path, text):
    """The first document's node tree (later documents are ignored, as in Fluxor); FlowError on bad YAML."""
    yaml = pyyaml()
    cleaned = "\n".join(line.rstrip() for line in text.splitlines())  # yaml.v3 accepts `key:\t`
    try:
        return _first_document(cleaned, fast=True)
    except yaml.YAMLError:
        pass
    try:  # an error: PyYAML's own parser words it
        return _first_document(cleaned, fast=False)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FlowError([Diagnostic(path, line, col, f"invalid YAML: {yaml_problem(exc.problem or exc.context)}")]) from None
    except yaml.YAMLError as exc:  # a character YAML does not allow
        position = getattr(exc, "position", None)
        line, col = 1, 1
        if isinstance(position, int) and 0 <= position <= len(cleaned):
            line = cleaned.count("\n", 0, position) + 1
            col = position - cleaned.rfind("\n", 0, position)
        raise FlowError([Diagnostic(path, line, col, f"invalid YAML: {str(exc).splitlines()[0]}")]) from None


def scalar_value(node):
    """Go's yml.Node.Interface() for a scalar (spec §1.2)."""
    tag, raw = tag_of(node), node.value
    if node.tag == ALIAS_TAG:
        return None
    if tag == "bool":
        return raw.lower() == "true"
    if tag == "int":
        return int(raw) if _INT.match(raw) and -(2**63) <= int(raw) < 2**63 else 0
    if tag == "float":
        try:
            number = float(raw)
        except ValueError:
            return 0
        return 0 if number != number or number in (float("inf"), float("-inf")) else number
    return raw  # str, null (its raw text), timestamp, binary, custom tags


def to_value(node):
    """Plain Python data from a node: dicts (ordered), lists and converted scalars."""
    if node is None or node.tag == ALIAS_TAG:
        return None
    kind = kind_of(node)
    if kind == "mapping":
        return {str(k.value) if is_scalar(k) else str(to_value(k)): to_value(v) for k, v in node.value}
    if kind == "sequence":
        return [to_value(item) for item in node.value]
    return scalar_value(node)


def mapping_get(node, name):
    """(key node, value node) of the exact key `name` in a mapping (keys only, never values)."""
    for key, value in node.value:
        if is_scalar(key) and key.value == name:
            return key, value
    return None, None


def child_node(node, step):
    """The value node under a mapping key (the last one of that text: the one that wins) or at a list
    index; None when there is none."""
    if is_map(node):
        found = None
        for key, value in node.value:
            if is_scalar(key) and key.value == step:
                found = value
        return found
    if is_seq(node) and isinstance(step, int) and step < len(node.value):
        return node.value[step]
    return None


class Directives:
    """Applies load-time directives and turns repeated (aliased) nodes into nil markers."""

    def __init__(self, path):
        self.path = path
        self.seen = set()
        self.errors, self.warnings = [], []

    def apply(self, node, file, depth=0):
        """Process `node` (from `file`) in place; returns the node that replaces it."""
        ScalarNode = pyyaml().nodes.ScalarNode  # noqa: N806

        if id(node) in self.seen:
            return ScalarNode(ALIAS_TAG, "", start_mark=node.start_mark, end_mark=node.end_mark)
        self.seen.add(id(node))
        kind = kind_of(node)
        if kind == "mapping":
            node.value = [(self._scalar(k, file), self.apply(v, file, depth)) for k, v in node.value]
            if len(node.value) > 1:  # a repeated key? (one set: lost in a load's noise)
                try:
                    repeated = len({k.value for k, _ in node.value}) != len(node.value)
                except TypeError:  # a mapping or a list as a key
                    repeated = True
                if repeated:
                    self._duplicates(node.value, file)
        elif kind == "sequence":
            node.value = [self.apply(item, file, depth) for item in node.value]
        elif tag_of(node) == "str":
            stripped = node.value.strip()
            match = _IMPORT.match(stripped)
            if match:
                return self._import(node, match.group(2), file, depth)
            self._scalar(node, file)
        return node

    def _duplicates(self, pairs, file):
        """A warning at each repeated key: yaml.v3 keeps both in the node tree, Fluxor reads them in
        order and the later one wins (spec §1.1; the spec's advice: reject or warn)."""
        first = {}
        for key, _ in pairs:
            if not is_scalar(key):
                continue
            if key.value in first:
                line, col = loc(first[key.value])
                self.warnings.append(Diagnostic(file, *loc(key), f"duplicate key `{key.value}`: the later value wins "
                                                f"(as in Fluxor; the first is at {line}:{col})", "warning"))
            else:
                first[key.value] = key

    def _scalar(self, node, file):
        if kind_of(node) == "scalar" and tag_of(node) == "str" and "$" in node.value:
            node.value = _ENV.sub(lambda m: os.environ.get(m.group(1), ""), node.value)
            match = _PATH.match(node.value.strip())
            if match:
                node.value = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(file)), match.group(2)))
        return node

    def _import(self, node, spec, file, depth):
        ScalarNode = pyyaml().nodes.ScalarNode  # noqa: N806

        line, col = loc(node)
        if depth > 16:
            self.errors.append(Diagnostic(file, line, col, f"$import nested too deeply (a cycle?): {spec}"))
            return ScalarNode(ALIAS_TAG, "", start_mark=node.start_mark)
        target, key = spec, ""
        head, sep, tail = spec.rpartition(":")
        if sep and "/" not in tail and not re.match(r"^[A-Za-z]$", head):
            target, key = head, tail
        full = os.path.join(os.path.dirname(os.path.abspath(file)), target)
        ext = os.path.splitext(full)[1].lower()
        if not ext:
            full, ext = (full + ".txt", ".txt") if os.path.exists(full + ".txt") else (full + ".yaml", ".yaml")
        if ext not in (".yaml", ".yml", ".txt", ".vm"):
            self.errors.append(Diagnostic(file, line, col, f"$import({spec}): unsupported extension {ext} (use .yaml, .yml, .txt or .vm)"))
            return node
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL in the path
            why = unreadable(exc)
            self.errors.append(Diagnostic(file, line, col, f"$import({spec}): cannot read {full}: {why}"))
            return node
        if ext in (".txt", ".vm"):
            return ScalarNode("tag:yaml.org,2002:str", text, start_mark=node.start_mark, end_mark=node.end_mark)
        try:
            imported = compose(full, text)
        except FlowError as exc:
            self.errors.extend(exc.diagnostics)
            return node
        child = Directives(self.path)
        imported = child.apply(imported, full, depth + 1)
        self.errors.extend(child.errors)
        self.warnings.extend(child.warnings)
        for part in [p for p in key.split(".") if p]:
            if is_map(imported):
                imported = mapping_get(imported, part)[1]
            elif is_seq(imported) and part.isdigit() and int(part) < len(imported.value):
                imported = imported.value[int(part)]
            else:
                imported = None
            if imported is None:
                self.errors.append(Diagnostic(file, line, col, f"$import({spec}): {full} has no {key}"))
                return node
        return imported
