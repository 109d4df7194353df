"""Flow-CTRL sketches (JSON): stages run in file order, actions one at a time within a stage.

Follows the documented behaviour, not the original's bugs (see docs/formats.md): required
`name`/`cmd`, validated durations, `fatal-nok` stops the whole run, `time` feeds the ETA.
"""

import json
import os

from ..diagnostics import Diagnostic, FlowError
from ..durations import parse_duration
from ..model import COND_FINISHED, Action, Approval, Dep, FlowDef, Node

HOOKS = {"setup-cmd": "setup", "on-ok-cmd": "on_ok", "on-nok-cmd": "on_nok", "teardown-cmd": "teardown"}
KNOWN_KEYS = frozenset({"name", "cmd", "fatal-nok", "timeout", "time", "approve", *HOOKS})


# Below this size validating a file costs less than hashing it to look up the validation cache:
# the cache is for large generated sketches.
_CACHED_FROM = 32 * 1024


def _digest(text) -> str:
    from ..sha import sha256_hex

    return sha256_hex(text.encode())


def load(path, text, options=None) -> FlowDef:
    options = options or {}
    duplicated = []

    def pairs_hook(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            duplicated.append(True)
        return dict(pairs)

    if text.startswith("\ufeff"):  # json.load (Flow-CTRL's reader) says `Unexpected UTF-8 BOM`
        raise FlowError([Diagnostic(path, 1, 1, "the file starts with a UTF-8 byte order mark (BOM), which Flow-CTRL's "
                                    "JSON reader refuses: save it as UTF-8 without BOM")])
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise FlowError([Diagnostic(path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]) from None
    positions = None

    def located(problems, severity="error"):
        nonlocal positions
        if positions is None:
            from ..jsonpos import JsonPositions

            positions = JsonPositions(text, repeated_keys=bool(duplicated))
        return [Diagnostic(path, *positions.at(p), message, severity) for p, message in problems]

    from ..schema import validate

    cache = options.get("state_dir") and len(text) >= _CACHED_FROM and os.path.join(options["state_dir"], "cache")
    digest = _digest(text) if cache else None
    problems = validate("flowctrl", data, digest=digest, cache_dir=cache) + _semantic_problems(data)
    if not problems and not any(k != "name" for k in data):
        problems = [((), "the sketch has no stages: add a stage, a key whose value is a list of actions")]
    diagnostics = (located(problems) if problems else []) + _lone_surrogates(path, text)
    if diagnostics:
        raise FlowError(diagnostics)
    warnings = []
    if duplicated:  # Flow-CTRL's json.load keeps the last value (at the first key's place): so do we
        from ..jsonpos import JsonPositions

        positions = positions or JsonPositions(text, repeated_keys=True)
        warnings = [Diagnostic(path, line, col, f"duplicate key `{dup_path[-1]}`: the later value wins "
                               "(as Flow-CTRL's json.load)", "warning") for dup_path, (line, col) in positions.duplicates]
    return _build(path, data, located, warnings)


def _lone_surrogates(path, text):
    """Errors for `\\ud800`-style escapes json.loads accepts but no output can encode."""
    if "\\u" not in text:  # the common case, without importing the scanner
        return []
    from ..jsonpos import lone_surrogates

    diagnostics = []
    for offset in lone_surrogates(text):
        line, col = text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
        diagnostics.append(Diagnostic(path, line, col, f"`{text[offset:offset + 6]}` is half of a UTF-16 surrogate "
                                      "pair, not a character: write the character itself, or both halves"))
    return diagnostics


def _semantic_problems(data):
    """What the schema cannot say: action names unique within their stage, task ids unique in the file.

    Ids are STAGE/ACTION, so a `/` in a name can make two ids equal (stage `a/b` + action `c` and stage
    `a` + action `b/c`), or a task id equal a stage's.
    """
    problems = []
    if not isinstance(data, dict):
        return problems
    ids = {stage: f"stage `{stage}`" for stage in data if stage != "name"}
    for stage, actions in data.items():
        if stage == "name" or not isinstance(actions, list):
            continue
        seen = set()
        for index, action in enumerate(actions):
            name = action.get("name") if isinstance(action, dict) else None
            if not isinstance(name, str):
                continue
            task_id = f"{stage}/{name}"
            if name in seen:
                problems.append(((stage, index, "name"), f"duplicate action name `{name}` in stage `{stage}`"))
            elif task_id in ids:
                problems.append(((stage, index, "name"), f"task id `{task_id}` is also {ids[task_id]}: rename one"))
            seen.add(name)
            ids.setdefault(task_id, f"the id of action `{name}` in stage `{stage}`")
        for index, action in enumerate(actions):  # json.loads reads `\u0000`; no shell can run it
            for key in ("cmd", *HOOKS) if isinstance(action, dict) else ():
                if isinstance(action.get(key), str) and "\0" in action[key]:
                    problems.append(((stage, index, key), f"`{key}` holds a NUL character (\\u0000): no command can contain one"))
    return problems


def _build(path, data, located, warnings) -> FlowDef:
    nodes = {}
    roots = []
    previous_stage = None
    for stage, actions in data.items():
        if stage == "name":
            continue
        child_ids = []
        previous = None
        for index, spec in enumerate(actions):
            unknown = sorted(set(spec) - KNOWN_KEYS)
            if unknown:
                warnings.extend(located([(
                    (stage, index, unknown[0]),
                    f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(f'`{k}`' for k in unknown)} ignored "
                    f"(known: {', '.join(sorted(KNOWN_KEYS))})",
                )], "warning"))
            task_id = f"{stage}/{spec['name']}"
            approve = spec.get("approve")
            nodes[task_id] = Node(
                id=task_id, name=spec["name"], parent=stage,
                deps=(Dep(node=previous, cond=COND_FINISHED),) if previous else (),
                action=Action(kind="shell", params={"cmd": spec["cmd"]}),
                hooks={kind: Action(kind="shell", params={"cmd": spec[key]}) for key, kind in HOOKS.items() if spec.get(key, "").strip()},
                timeout=parse_duration(spec["timeout"]) if "timeout" in spec else None,
                estimate=parse_duration(spec["time"]) if "time" in spec else None,
                fatal=spec.get("fatal-nok", False),
                approval=(Approval(prompt=approve if isinstance(approve, str) else f"Run {task_id}?") if approve else None),
            )
            child_ids.append(task_id)
            previous = task_id
        nodes[stage] = Node(
            id=stage, name=stage, children=tuple(child_ids), label="stage",
            deps=(Dep(node=previous_stage, cond=COND_FINISHED),) if previous_stage else (),
        )
        roots.append(stage)
        previous_stage = stage
    ordered = {}
    for stage in roots:  # groups before their children: definition order, depth first
        ordered[stage] = nodes[stage]
        for child in nodes[stage].children:
            ordered[child] = nodes[child]
    return FlowDef(
        name=data.get("name") or os.path.basename(path), format="flowctrl", file=path, nodes=ordered,
        roots=tuple(roots), warnings=tuple(warnings),
    )
