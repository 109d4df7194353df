"""Floe's fast YAML path (libyaml events straight to positioned values) builds exactly what PyYAML's
SafeLoader-based construction builds: same values, same types, same positions, same errors."""

import datetime
import sys
from pathlib import Path

import pytest
import yaml

from flowtui.engine import loaders
from flowtui.engine.diagnostics import FlowError
from flowtui.engine.floe import yamlpos

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate  # noqa: E402

TRICKY = """\
id: tricky
scalars: [yes, no, on, off, y, n, True, NULL, ~, '', 0x1F, 0o17, 017, 0b101, 1_000, 190:20:30, 1e3, 1.5e-3,
  .inf, -.Inf, .nan, 6.8523015e+5, 2026-01-01, 2026-01-01 10:00:00+02:00, 2026-01-01T10:00:00Z, "yes", 'on',
  +12, -0, =x, <<x]
empty:
block: |
  line one
  line two
folded: >-
  a
  b
multi: a plain
  scalar over lines
flow: {a: 1, b: [x, "y"], c: {}}
"quoted key": 1
'on': quoted
"<<": not a merge
dup: first
dup: second
unicode: "é ✓"
trailing: value\t
tasks:
  - name: a
    listen: trigger.good
    type: exec
    opts: {cmd: echo hi, when: 2026-01-01, n: 0x10, flag: on}
"""

# What the fast path leaves to PyYAML's constructors (same result, the slower way).
UNMODELLED = {
    "alias": "id: a\nbase: &b {cmd: x}\ntasks:\n  - name: t\n    opts: *b\n",
    "merge key": "id: a\nbase: &b {cmd: x}\nopts:\n  <<: *b\n  extra: 1\n",
    "merge key without alias": "id: a\nopts:\n  <<: {cmd: x}\n",
    "explicit tag": "id: a\nver: !!int '3'\nname: !!str 12\n",
    "tagged mapping": "id: a\nopts: !!map {cmd: x}\n",
    "bool key": "id: a\nopts:\n  yes: 1\n",
    "int, null and date keys": "id: a\nopts: {200: ok, ~: none, 2026-01-01: day}\n",
    "value key": "id: a\nopts: {=: 1}\n",
    "mapping key": "id: a\nopts: {? [a, b] : 1}\n",
}


def shape(value):
    """Value, exact types and every recorded position, comparable with ==."""
    if isinstance(value, dict):
        keys = [(k, getattr(value, "key_loc", {}).get(k), getattr(value, "val_loc", {}).get(k)) for k in value]
        return type(value).__name__, getattr(value, "loc", None), keys, [shape(v) for v in value.values()]
    if isinstance(value, list):
        return type(value).__name__, getattr(value, "loc", None), getattr(value, "item_loc", None), [shape(v) for v in value]
    return type(value).__name__, repr(value)


def constructed(text, fast=True):
    """The reference: PyYAML's composer and constructors building the positioned document."""
    return yaml.load(yamlpos.clean(text), Loader=yamlpos._loader_class(fast))  # noqa: S506


def test_tricky_scalars_type_as_safe_loader_types_them():
    doc = yamlpos.direct(yamlpos.clean(TRICKY))
    assert shape(doc) == shape(constructed(TRICKY))
    assert shape(yamlpos.plain(doc)) == shape(yaml.safe_load(yamlpos.clean(TRICKY)))
    scalars = doc["scalars"]
    assert scalars[:10] == [True, False, True, False, "y", "n", True, None, None, ""]
    assert scalars[10:16] == [31, "0o17", 15, 5, 1000, 190 * 3600 + 20 * 60 + 30]  # YAML 1.1 octal: 017
    assert scalars[16] == "1e3" and scalars[17] == 0.0015  # YAML 1.1 floats need a dot
    assert scalars[22] == datetime.date(2026, 1, 1) and isinstance(scalars[23], datetime.datetime)
    assert scalars[25:27] == ["yes", "on"]
    assert doc["on"] == "quoted" and doc["<<"] == "not a merge" and doc["dup"] == "second"
    assert doc.key_loc["dup"] == (19, 1) and doc.val_loc["dup"] == (19, 6)  # the later key wins, as in dict()
    assert doc["tasks"][0]["opts"].val_loc["flag"] == (26, 59)


def test_a_generated_thousand_task_flow_builds_identically():
    text = generate.floe_parallel(1000)
    assert shape(yamlpos.direct(yamlpos.clean(text))) == shape(constructed(text))


def test_corpus_documents_build_identically(corpus):
    files = sorted(p for p in corpus.glob("*/*") if p.suffix in (".yml", ".yaml"))
    assert files
    for path in files:
        text = path.read_text()
        assert shape(yamlpos.parse(str(path), text)) == shape(constructed(text)), path.name
        if path.parent.name == "floe":
            assert shape(yamlpos.direct(yamlpos.clean(text))) == shape(constructed(text)), path.name


@pytest.mark.parametrize("text", UNMODELLED.values(), ids=UNMODELLED.keys())
def test_what_the_fast_path_does_not_model_goes_through_pyyaml(text):
    with pytest.raises(yamlpos.Unmodelled):
        yamlpos.direct(yamlpos.clean(text))
    assert shape(yamlpos.parse("f.yml", text)) == shape(constructed(text))


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml-events", "pyyaml"])
def test_a_date_that_does_not_exist_is_a_string_as_in_go(monkeypatch, fast):
    if not fast:
        monkeypatch.delattr(yaml, "CSafeLoader")
        monkeypatch.setattr(yamlpos, "_LOADERS", {})
    document = yamlpos.parse("f.yml", "id: a\nwhen: 2026-13-45\nday: 2026-01-31\n")
    assert document["when"] == "2026-13-45"
    assert document["day"] == datetime.date(2026, 1, 31)


def test_without_libyaml_pyyaml_parser_feeds_the_same_build(monkeypatch):
    expected = shape(constructed(TRICKY, fast=False))
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert shape(yamlpos.direct(yamlpos.clean(TRICKY))) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("tasks: []\n---\nid: b\n", "2:1: invalid YAML: but found another document"),
    ("name: f\ntasks:\n  - name: a\n   listen: x\n", "4:4: invalid YAML: expected <block end>, but found '<block mapping start>'"),
    ("id: f\nwhen: 2026-13-45\ntasks:\n  - name: a\n   listen: x\n",
     "5:4: invalid YAML: expected <block end>, but found '<block mapping start>'"),
    ("id: f\ntasks: [a, b\n", "2:13: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    ("id: f\nver: !custom 3\ntasks: []\n", "2:6: invalid YAML: could not determine a constructor for the tag '!custom'"),
    ("id: f\ntasks: *nope\n", "2:8: invalid YAML: found undefined alias 'nope'"),
])
@pytest.mark.parametrize("fmt", [None, "floe"])
def test_invalid_yaml_is_worded_by_pyyaml_whether_detected_or_not(tmp_path, text, message, fmt):
    path = tmp_path / "f.yml"
    path.write_text(text)
    with pytest.raises(FlowError) as caught:
        loaders.load(str(path), fmt)
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:{message}"]


def test_detection_hands_its_parse_to_the_floe_loader(tmp_path, monkeypatch):
    path = tmp_path / "big.floe.yml"
    path.write_text(generate.floe_parallel(20))
    explicit, _ = loaders.load(str(path), "floe")
    calls = []
    real = yamlpos.direct
    monkeypatch.setattr(yamlpos, "direct", lambda *args: calls.append(1) or real(*args))
    detected, _ = loaders.load(str(path))
    assert detected == explicit
    assert len(calls) == 1


@pytest.mark.parametrize(("text", "fmt"), [
    ("Pipeline:\n  a:\n    action: print\n", "fluxor"),  # Fluxor keys ignore case
    ("pipeline:\n  a:\n    action: print\nyes: 1\n", "fluxor"),  # a bool key: the plain path detects
    ("name: x\nbuild:\n  - cmd: echo hi\n", "flowctrl"),
    ("common:\n  hosts: [h]\nflows: []\n", "floe"),
    ("tasks:\n  - name: a\n    listen: trigger.good\n", "floe"),
    ("base: &b {listen: trigger.good}\ntasks:\n  - *b\n", "floe"),  # an alias: the plain path detects
])
def test_detection_is_unchanged(text, fmt):
    assert loaders.detect("f.yml", text) == fmt


@pytest.mark.parametrize("text", ["- a\n- b\n", "~\n", "tasks: 3\n"])
def test_what_is_no_known_format_still_says_so(text):
    with pytest.raises(FlowError, match="cannot tell the format"):
        loaders.detect("f.yml", text)
