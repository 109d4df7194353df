"""The accept-path check agrees with jsonschema, covers every shipped schema, and spares a valid file the import."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from flowtui.engine.schema import SCHEMA_DIR, conforms, load_schema, unsupported, validate

REPO = Path(__file__).resolve().parents[1]
FLOWCTRL = load_schema("flowctrl")
VALUES = [None, True, False, 0, 1, 1.0, 1.5, -2, "", " ", "\u00a0", "x", "😀", "30s", "0s", [], ["x"], [{}], {}, {"a": 1}]
FULL_ACTION = {
    "name": "a", "cmd": "true", "setup-cmd": "s", "on-ok-cmd": "o", "on-nok-cmd": "n", "teardown-cmd": "t",
    "fatal-nok": True, "timeout": "30s", "time": "1.5h", "approve": "Go?",
}
BASE = {"name": "sketch", "build": [FULL_ACTION, {"name": "b", "cmd": "x"}], "test": [{"name": "c", "cmd": "y"}]}
DURATIONS = ["30s", " 30s ", "1.5h", "2D", "10m", "0.5s", "00.5m", "0s", "0.0h", "-1s", "5", "5x", "1,5m", ".5s",
             "5.s", "1e3s", "soon", "５s", "1 s", "\t2d\n"]


def agree(schema, data):
    """(fast verdict, jsonschema verdict) for `data`."""
    return conforms(schema, data, schema), jsonschema.Draft202012Validator(schema).is_valid(data)


def mutated(change):
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def mutations():
    """Documents one systematic change away from a valid sketch: (label, document)."""
    yield "base", BASE
    for key in ("name", "cmd"):
        yield f"drop {key}", mutated(lambda d, k=key: d["build"][1].pop(k))
    for value in VALUES:
        yield f"whole document {value!r}", value
        yield f"sketch name {value!r}", mutated(lambda d, v=value: d.update(name=v))
        yield f"stage {value!r}", mutated(lambda d, v=value: d.update(test=v))
        yield f"action {value!r}", mutated(lambda d, v=value: d["test"].append(v))
        yield f"unknown action key {value!r}", mutated(lambda d, v=value: d["test"][0].update(extra=v))
        for key in FULL_ACTION:
            yield f"{key} {value!r}", mutated(lambda d, k=key, v=value: d["build"][0].update({k: v}))
    for value in DURATIONS:
        for key in ("timeout", "time"):
            yield f"{key} {value!r}", mutated(lambda d, k=key, v=value: d["build"][1].update({k: v}))
    yield "no name", mutated(lambda d: d.pop("name"))
    yield "empty stage", mutated(lambda d: d.update(test=[]))
    yield "blank cmd", mutated(lambda d: d["test"][0].update(cmd=" \t"))


def test_fast_check_agrees_on_mutated_sketches():
    verdicts = {label: agree(FLOWCTRL, doc) for label, doc in mutations()}
    assert [label for label, (fast, slow) in verdicts.items() if fast != slow] == []
    assert {slow for _, slow in verdicts.values()} == {True, False}


def test_fast_check_agrees_on_the_corpus(corpus):
    paths = sorted(corpus.rglob("*.json"))
    assert paths
    verdicts = {p.name: agree(FLOWCTRL, json.loads(p.read_text(encoding="utf-8"))) for p in paths}
    assert {name: v for name, v in verdicts.items() if v[0] != v[1]} == {}
    assert {v[1] for v in verdicts.values()} == {True, False}


@pytest.mark.parametrize("path", sorted(REPO.glob("sketches/*.json")), ids=lambda p: p.name)
def test_fast_check_accepts_the_sketches(path):
    assert agree(FLOWCTRL, json.loads(path.read_text(encoding="utf-8"))) == (True, True)


@pytest.mark.parametrize(
    "schema",
    [{"type": "integer"}, {"type": "number"}, {"type": "null"}, {"type": ["array", "object"]}, {"pattern": "b"},
     {"pattern": "^x$"}, {"minLength": 2}, {"required": ["a"]}, {"items": {"type": "string"}},
     {"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}}],
    ids=json.dumps,
)
def test_keyword_semantics_are_jsonschemas(schema):
    """1.0 is an integer, booleans are not numbers, `pattern` searches, minLength counts code points."""
    values = VALUES + [2.0, "abc", "😀😀", {"a": 1.0, "b": True}, {"b": 1}]
    assert [value for value in values if len(set(agree(schema, value))) > 1] == []


@pytest.mark.parametrize("path", sorted(Path(SCHEMA_DIR).glob("*.schema.json")), ids=lambda p: p.name)
def test_shipped_schemas_only_use_implemented_keywords(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert unsupported(schema) == set()


def test_unimplemented_keywords_are_named():
    schema = {
        "$id": "root", "maxLength": 3, "type": "decimal",
        "properties": {"a": {"$id": "nested"}, "b": {"$ref": "other.json#/x"}, "c": True},
        "items": {"$ref": "#/$defs/missing"},
    }
    assert unsupported(schema) == {"maxLength", "type 'decimal'", "$id", "$ref 'other.json#/x'", "bool schema",
                                   "$ref '#/$defs/missing'"}


def test_a_schema_beyond_the_fast_check_falls_back_to_jsonschema(monkeypatch):
    schema = copy.deepcopy(FLOWCTRL)
    schema["properties"]["name"]["maxLength"] = 3
    monkeypatch.setattr("flowtui.engine.schema.load_schema", lambda name: schema)
    assert validate("flowctrl", {"name": "abc", "s": []}) == []
    assert validate("flowctrl", {"name": "abcd", "s": []}) == [(("name",), "`name` must be a non-empty string")]


PROBE = """
import json, sys
from flowtui.engine.diagnostics import FlowError
from flowtui.engine.loaders import LoadOptions, load
try:
    load(sys.argv[1], options=LoadOptions(state_dir=sys.argv[2]))
    errors = []
except FlowError as exc:
    errors = [str(d) for d in exc.diagnostics]
print(json.dumps({"errors": errors, "jsonschema": "jsonschema" in sys.modules, "hashed": "flowtui.engine.sha" in sys.modules}))
"""


def load_cold(path, state_dir):
    result = subprocess.run([sys.executable, "-c", PROBE, str(path), str(state_dir)], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=True)
    return json.loads(result.stdout)


def test_valid_file_with_a_cold_cache_skips_jsonschema(tmp_path):
    state = tmp_path / "state"
    assert load_cold(REPO / "sketches" / "deploy.json", state) == {"errors": [], "jsonschema": False, "hashed": False}
    assert not (state / "cache").exists()  # a small file: validating it is cheaper than caching that
    large = tmp_path / "large.json"
    large.write_text(json.dumps({f"stage{s}": [{"name": f"a{a}", "cmd": "true", "timeout": "5m"} for a in range(100)]
                                 for s in range(10)}), encoding="utf-8")
    assert load_cold(large, state) == {"errors": [], "jsonschema": False, "hashed": True}
    assert list((state / "cache" / "validated").iterdir())  # the marker is written


def test_invalid_file_is_still_worded_by_jsonschema(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"s": [{"name": "a", "cmd": "x", "timeout": "0s"}]}', encoding="utf-8")
    result = load_cold(path, tmp_path / "state")
    assert result["jsonschema"] is True and result["hashed"] is False
    assert result["errors"] == [f"{path}:1:45: `timeout`: invalid duration '0s': use <number><s|m|h|d> greater "
                                "than zero, e.g. 30s, 10m, 1.5h, 2d"]
    assert not (tmp_path / "state" / "cache" / "validated").exists()
