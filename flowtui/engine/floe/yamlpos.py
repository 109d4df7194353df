"""YAML documents whose mappings and lists remember where each key and value was written."""

import re

from ..diagnostics import Diagnostic, FlowError, yaml_problem
from ..pyyaml import pyyaml as _yaml


class LocDict(dict):
    """A mapping plus 1-based (line, col) of itself, of each key and of each value. The document's
    root also has `duplicates`: [(key, (line, col) of the first, of the later)] for every repeated key,
    when there are any (the later value is the one kept, and its place)."""

    __slots__ = ("loc", "key_loc", "val_loc", "duplicates")


class LocList(list):
    __slots__ = ("loc", "item_loc")


def _mark(node):
    return node.start_mark.line + 1, node.start_mark.column + 1


_LOADERS = {}


def _loader_class(fast=True):
    """A loader keeping positions; `fast` uses libyaml (~10x faster), else PyYAML's own parser,
    whose error messages are the ones users (and tests) see."""
    if fast not in _LOADERS:
        yaml = _yaml()

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader

        class Loader(base):
            def __init__(self, stream):
                super().__init__(stream)
                self.duplicates = []

        def mapping(loader, node):
            loader.flatten_mapping(node)
            out = LocDict()
            out.loc, out.key_loc, out.val_loc = _mark(node), {}, {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                key = key if isinstance(key, str) else str(key)  # Floe's Opts.Fixup: string keys
                if key in out:
                    loader.duplicates.append((key, out.key_loc[key], _mark(key_node)))
                out[key] = loader.construct_object(value_node, deep=True)
                out.key_loc[key], out.val_loc[key] = _mark(key_node), _mark(value_node)
            return out

        def sequence(loader, node):
            out = LocList(loader.construct_object(child, deep=True) for child in node.value)
            out.loc, out.item_loc = _mark(node), [_mark(child) for child in node.value]
            return out

        def timestamp(loader, node):
            try:
                return base.construct_yaml_timestamp(loader, node)
            except ValueError:  # `2026-13-45` looks like a date but is none: a string, as in Go's YAML
                return node.value

        Loader.add_constructor("tag:yaml.org,2002:map", mapping)
        Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
        Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
        _LOADERS[fast] = Loader
    return _LOADERS[fast]


def clean(text):
    """Trailing whitespace stripped from every line (Go's YAML accepts `key:<TAB>`)."""
    return "\n".join(line.rstrip() for line in text.splitlines())


def parse(path, text):
    """The document of `text` (cleaned first); invalid YAML raises FlowError located at the problem."""
    yaml = _yaml()

    cleaned = clean(text)
    duplicates = []
    try:
        document = direct(cleaned, duplicates)
    except Unmodelled:
        try:
            document, duplicates = _construct(cleaned, fast=True)
        except yaml.YAMLError:
            document, duplicates = _pure(path, cleaned)
    except yaml.YAMLError:  # a syntax error: only PyYAML's own parser below words it
        document, duplicates = _pure(path, cleaned)
    if duplicates and isinstance(document, LocDict):
        document.duplicates = duplicates
    where = ("\\u" in cleaned or "\\U" in cleaned) and _surrogate_at(document, (1, 1))
    if where:
        raise FlowError([Diagnostic(path, *where, SURROGATE_ESCAPE)])
    return document


# Only a double-quoted `\u`/`\U` escape makes one: the text itself was decoded as UTF-8.
SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = ("invalid YAML: this string escapes a UTF-16 surrogate (\\uD800-\\uDFFF), which is not a character "
                    "(Go's YAML refuses it): write the character itself, or \\U and its 8-digit code point")


def _surrogate_at(value, loc):
    """(line, col) of the first key or string holding a surrogate: PyYAML keeps one, no output encodes it."""
    if isinstance(value, str):
        return loc if SURROGATE.search(value) else None
    if isinstance(value, LocDict):
        for key, item in value.items():
            found = (SURROGATE.search(key) and value.key_loc[key]) or _surrogate_at(item, value.val_loc[key])
            if found:
                return found
    elif isinstance(value, LocList):
        for item, item_loc in zip(value, value.item_loc, strict=True):
            found = _surrogate_at(item, item_loc)
            if found:
                return found
    return None


def _construct(cleaned, fast):
    """(document, repeated keys) through PyYAML's constructors: what `yaml.load` does."""
    loader = _loader_class(fast)(cleaned)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def _pure(path, cleaned):
    """The error path: PyYAML's parser words its errors the same everywhere."""
    yaml = _yaml()

    try:
        return _construct(cleaned, fast=False)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.position, int):  # a control character
            line = cleaned.count("\n", 0, exc.position) + 1
            col = exc.position - cleaned.rfind("\n", 0, exc.position)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FlowError([Diagnostic(path, line, col, f"invalid YAML: {yaml_problem(problem)}")]) from None


class Unmodelled(Exception):
    """The document uses what `direct` leaves to PyYAML's constructors: anchors, aliases, explicit
    tags, merge keys, keys that are not strings, several documents."""


def direct(cleaned, duplicates=None):
    """The positioned document built straight from libyaml's events, skipping PyYAML's composer and
    constructors (~2.5x faster). Plain scalars are typed by SafeLoader's own resolver and
    constructors, so values, types and positions are those `yaml.load` gives; since every key is a
    string, the result also equals `yaml.safe_load`'s. Repeated keys are added to `duplicates`
    as (key, (line, col) of the first, of the later). Raises Unmodelled, or yaml.YAMLError."""
    from yaml.events import (
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )
    from yaml.nodes import ScalarNode

    loader = _loader_class()(cleaned)
    get = loader.get_event
    typed = {}  # plain scalar text -> its value: resolving is the costly part, and texts repeat

    def scalar(event):
        if event.anchor is not None or event.tag is not None:
            raise Unmodelled
        if not event.implicit[0]:  # quoted or a block scalar: a string
            return event.value
        text = event.value
        if text not in typed:
            tag = loader.resolve(ScalarNode, text, (True, False))
            build = loader.yaml_constructors.get(tag)  # merge (`<<`) and value (`=`) have none
            if build is None:
                raise Unmodelled
            try:
                typed[text] = build(loader, ScalarNode(tag, text))
            except Exception:  # yaml.load raises it, or first a syntax error further on
                raise Unmodelled from None
        return typed[text]

    def node(event):
        kind = type(event)
        if kind is ScalarEvent:
            return scalar(event)
        if event.anchor is not None or event.tag is not None or kind is not MappingStartEvent and kind is not SequenceStartEvent:
            raise Unmodelled  # an alias, or a collection with an anchor or a tag
        mark = event.start_mark
        if kind is SequenceStartEvent:
            out, out.loc, out.item_loc = LocList(), (mark.line + 1, mark.column + 1), []
            event = get()
            while type(event) is not SequenceEndEvent:
                out.append(scalar(event) if type(event) is ScalarEvent else node(event))
                out.item_loc.append((event.start_mark.line + 1, event.start_mark.column + 1))
                event = get()
            return out
        out, key_loc, val_loc = LocDict(), {}, {}
        out.loc, out.key_loc, out.val_loc = (mark.line + 1, mark.column + 1), key_loc, val_loc
        event = get()
        while type(event) is not MappingEndEvent:
            key = scalar(event) if type(event) is ScalarEvent else None
            if type(key) is not str:
                raise Unmodelled  # Floe turns such keys into strings; safe_load does not
            key_mark, event = event.start_mark, get()
            if key in out and duplicates is not None:
                duplicates.append((key, key_loc[key], (key_mark.line + 1, key_mark.column + 1)))
            out[key] = scalar(event) if type(event) is ScalarEvent else node(event)
            key_loc[key] = (key_mark.line + 1, key_mark.column + 1)
            val_loc[key] = (event.start_mark.line + 1, event.start_mark.column + 1)
            event = get()
        return out

    try:
        get()  # the stream start
        if type(get()) is StreamEndEvent:
            return None  # an empty stream, as yaml.load has it
        document = node(get())
        get()  # the document end
        if type(get()) is not StreamEndEvent:
            raise Unmodelled  # yaml.load refuses a second document: it words that
        return document
    finally:
        loader.dispose()


def plain(value):
    """Deep copy into ordinary dicts and lists (for opts handed to the run)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
