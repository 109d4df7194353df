"""File -> model. Each format module exposes

    load(path, text, options) -> FlowDef        (pure; raises FlowError with located diagnostics)
    runtime(flow, options) -> engine.run.Runtime (format semantics at run time; optional)

Modules are imported only for the format in use, so a Flow-CTRL run never pays for YAML.
Floe's `load` also takes `document=`: the positioned parse that detection already made.
"""

import importlib
import json
import os
import re

from ..diagnostics import Diagnostic, FlowError

FORMATS = {
    "flowctrl": "flowtui.engine.loaders.flowctrl",
    "fluxor": "flowtui.engine.loaders.fluxor",
    "floe": "flowtui.engine.loaders.floe",
}
FORMAT_NAMES = {"flowctrl": "Flow-CTRL sketch", "fluxor": "Fluxor workflow", "floe": "Floe flow"}


class LoadOptions(dict):
    """Run-time inputs a loader may need: sets (--set), flow (--flow), trigger, policy, state_dir…"""

    def __getattr__(self, name):
        return self.get(name)


def read_text(path) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise FlowError([Diagnostic(path, 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise FlowError([Diagnostic(path, 1, 1, "is a directory, not a flow file")]) from None
    except PermissionError:
        raise FlowError([Diagnostic(path, 1, 1, "cannot read the file: permission denied")]) from None
    except UnicodeDecodeError:
        raise FlowError([_not_utf8(path)]) from None
    if _holds_nothing(text):
        raise FlowError([Diagnostic(path, 1, 1, EMPTY)])
    return text


EMPTY = "the file is empty: it holds no workflow, only blank lines and comments"
_CONTENT = None  # compiled on first use: most files start with their content


def _holds_nothing(text) -> bool:
    """True for a file of blank lines and YAML comments, directives (`%YAML`) and document markers
    (`---`, `...`): whatever its format, there is no workflow to tell or load."""
    global _CONTENT
    first = text[:64].lstrip("\ufeff \t\r\n")[:1]
    if first and first not in "#%-.":
        return False
    if _CONTENT is None:
        _CONTENT = re.compile(r"^[\ufeff \t]*(?!#|%|(?:---|\.\.\.)[ \t\r]*(?:#.*)?$)[^\s\ufeff]", re.M)
    return _CONTENT.search(text) is None


def _not_utf8(path) -> Diagnostic:
    """Where the first undecodable byte is (the text-mode error only knows its read chunk)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        raw.decode("utf-8")
        start = len(raw)
    except UnicodeDecodeError as exc:
        start = exc.start
    before = raw[:start]
    line_start = before.rfind(b"\n") + 1
    col = len(before[line_start:].decode("utf-8", "replace")) + 1
    return Diagnostic(path, before.count(b"\n") + 1, col, "not UTF-8 text")


def detect(path, text) -> str:
    """Name the format of `text`, or raise FlowError naming the three formats."""
    return _sniff(path, text)[0]


def _sniff(path, text):
    """(format, the YAML document or None): the Floe loader reuses detection's parse."""
    bom = text.startswith("\ufeff")  # YAML skips it; Flow-CTRL's loader says it refuses it
    body = text[1:] if bom else text
    data = document = None
    is_json = path.endswith(".json") or body.lstrip().startswith("{")
    if is_json:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            if path.endswith(".json"):
                col = exc.colno + (1 if bom and exc.lineno == 1 else 0)
                raise FlowError([Diagnostic(path, exc.lineno, col, f"invalid JSON: {exc.msg}")]) from None
    if data is None:
        if _FLUXOR_KEY.search(text):
            return "fluxor", None  # Fluxor's loader composes YAML 1.2 nodes itself: no parse here
        from ..floe import yamlpos

        data = document = yamlpos.parse(path, text)
    return _format(path, data, text), document


# A top-level `pipeline:` key in block style (Fluxor ignores the key's case), found without parsing.
_FLUXOR_KEY = re.compile(r"^pipeline[ \t]*:(?:[ \t]|$)", re.IGNORECASE | re.MULTILINE)


def _format(path, data, text=""):
    if isinstance(data, dict):
        if any(isinstance(k, str) and k.lower() == "pipeline" for k in data):  # Fluxor keys ignore case
            return "fluxor"
        if "flows" in data or ("common" in data and isinstance(data.get("common"), dict)):
            return "floe"
        tasks = data.get("tasks")
        if isinstance(tasks, list) and any(
            isinstance(t, dict) and ({"listen", "class", "type", "wait"} & set(t)) for t in tasks
        ):
            return "floe"
        triggers = data.get("triggers")  # a flow whose `tasks` is misspelt: its triggers still say Floe
        if isinstance(triggers, list) and any(
            isinstance(t, dict) and "cmd" not in t and ({"type", "opts"} & set(t)) for t in triggers
        ):
            return "floe"
        stages = [v for k, v in data.items() if k != "name"]
        if stages and all(isinstance(v, list) and all(isinstance(a, dict) for a in v) for v in stages):
            return "flowctrl"  # the contract's rule: every stage a list of action objects (or empty)
        if any(isinstance(v, list) and any(isinstance(a, dict) for a in v) for v in stages):
            return "flowctrl"  # meant as a sketch (a stage holds an action): report its problems, not the format
    raise _cannot_tell(path, data, text)


def _cannot_tell(path, data, text):
    line, col, hint = _misspelt_key(data, text)
    return FlowError([Diagnostic(
        path, line, col,
        f"cannot tell the format: {hint}expected a Flow-CTRL sketch (a JSON object of stages, each a list "
        "of actions), a Fluxor workflow (a document with `pipeline`) or a Floe flow (`flows`, or "
        "`tasks` using listen/class/type); pass --format flowctrl|fluxor|floe",
    )])


_FORMAT_KEYS = {"pipeline": "a Fluxor workflow", "flows": "a Floe host config"}  # (`task` is a common key)


def _misspelt_key(data, text):
    """(line, col, hint) of a top-level key that looks like a misspelt `pipeline` or `flows`."""
    if not isinstance(data, dict) or any(isinstance(k, str) and k.lower() in _FORMAT_KEYS for k in data):
        return 1, 1, ""
    import difflib

    for key in data:
        close = isinstance(key, str) and difflib.get_close_matches(key.lower(), _FORMAT_KEYS, n=1, cutoff=0.85)
        if close:
            where = getattr(data, "key_loc", {}).get(key)  # a YAML document knows where its keys are
            if where is None and text:
                from ..jsonpos import JsonPositions

                where = JsonPositions(text).key_at((key,))
            return (*(where or (1, 1)), f"`{key}`: did you mean `{close[0]}` ({_FORMAT_KEYS[close[0]]})? Or else: ")
    return 1, 1, ""


def format_module(fmt):
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return importlib.import_module(FORMATS[fmt])


def load(path, fmt=None, options=None):
    """Read, detect and load `path`. Returns (FlowDef, runtime or None)."""
    try:
        return _load(path, fmt, options if options is not None else LoadOptions())
    except RecursionError:  # the parsers and the loaders walk nesting recursively
        raise FlowError([Diagnostic(
            path, 1, 1, "the document is nested too deeply to read (hundreds of levels of lists or mappings)",
        )]) from None


def _load(path, fmt, options):
    text = read_text(path)
    document = None
    if not fmt or fmt == "auto":
        fmt, document = _sniff(path, text)
        if fmt == "flowctrl" and document is not None and not text.lstrip().startswith("{"):
            if _misspelt_key(document, text)[2]:  # `flow:` or `pipline:` over lists of mappings
                raise _cannot_tell(path, document, text)
            raise FlowError([Diagnostic(  # (a `{` text is JSON with a mistake: the loader points at it)
                path, 1, 1, "this looks like a Flow-CTRL sketch written in YAML, but Flow-CTRL sketches are JSON: "
                "write it as JSON (the YAML formats are Fluxor workflows and Floe flows)",
            )])
    module = format_module(fmt)
    if fmt == "floe" and document is not None:
        flow = module.load(path, text, options, document=document)
    else:
        flow = module.load(path, text, options)
    make_runtime = getattr(module, "runtime", None)
    return flow, (make_runtime(flow, options) if make_runtime else None)


def flow_dir(path) -> str:
    return os.path.dirname(os.path.abspath(path))
