"""YAML documents whose mappings and lists remember where each key and value was written."""

from ..diagnostics import Diagnostic, FlowError


class LocDict(dict):
    """A mapping plus 1-based (line, col) of itself, of each key and of each value."""

    __slots__ = ("loc", "key_loc", "val_loc")


class LocList(list):
    __slots__ = ("loc", "item_loc")


def _mark(node):
    return node.start_mark.line + 1, node.start_mark.column + 1


_LOADERS = {}


def _loader_class(fast=True):
    """A loader keeping positions; `fast` uses libyaml (~10x faster), else PyYAML's own parser,
    whose error messages are the ones users (and tests) see."""
    if fast not in _LOADERS:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader

        class Loader(base):
            pass

        def mapping(loader, node):
            loader.flatten_mapping(node)
            out = LocDict()
            out.loc, out.key_loc, out.val_loc = _mark(node), {}, {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                key = key if isinstance(key, str) else str(key)  # Floe's Opts.Fixup: string keys
                out[key] = loader.construct_object(value_node, deep=True)
                out.key_loc[key], out.val_loc[key] = _mark(key_node), _mark(value_node)
            return out

        def sequence(loader, node):
            out = LocList(loader.construct_object(child, deep=True) for child in node.value)
            out.loc, out.item_loc = _mark(node), [_mark(child) for child in node.value]
            return out

        Loader.add_constructor("tag:yaml.org,2002:map", mapping)
        Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
        _LOADERS[fast] = Loader
    return _LOADERS[fast]


def parse(path, text):
    """The document, with trailing whitespace stripped from every line first (Go's YAML accepts `key:<TAB>`)."""
    import yaml

    cleaned = "\n".join(line.rstrip() for line in text.splitlines())
    try:
        return yaml.load(cleaned, Loader=_loader_class())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        pass
    try:  # the error path: PyYAML's parser words its errors the same everywhere
        return yaml.load(cleaned, Loader=_loader_class(fast=False))  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FlowError([Diagnostic(path, line, col, f"invalid YAML: {problem}")]) from None


def plain(value):
    """Deep copy into ordinary dicts and lists (for opts handed to the run)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
