"""Flow-CTRL sketches: the model they become, and one located `FILE:LINE:COL: message` per problem."""

import json
import os

import pytest

from flowtui.engine.diagnostics import FlowError
from flowtui.engine.loaders import load
from flowtui.engine.model import COND_FINISHED, Dep

BAD_DURATION = "invalid duration {!r}: use <number><s|m|h|d> greater than zero"
CANNOT_TELL = "cannot tell the format"


def write(tmp_path, text, name="sketch.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def problems(path, fmt=None):
    """The diagnostics as printed, or fail when the file loads."""
    with pytest.raises(FlowError) as info:
        load(path, fmt)
    return [str(d) for d in info.value.diagnostics]


def at(text, needle, nth=0):
    """1-based (line, col) of the `nth` occurrence of `needle` in `text`."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def loc(path, text, needle, nth=0):
    line, col = at(text, needle, nth)
    return f"{path}:{line}:{col}: "


# -- the model ---------------------------------------------------------------------------------------
SKETCH = {
    "name": "Deploy",
    "prepare": [
        {"name": "backup", "cmd": "echo backup", "time": "5m", "timeout": "10m", "setup-cmd": "echo setup",
         "teardown-cmd": "echo teardown", "on-ok-cmd": "", "on-nok-cmd": "echo nok"},
        {"name": "check", "cmd": "test -d /", "fatal-nok": True, "approve": True},
    ],
    "deploy": [{"name": "ship", "cmd": "echo ship", "time": "1.5h", "approve": "Ship it?"}],
}


def test_stages_become_groups_of_chained_actions(tmp_path):
    flow, runtime = load(write(tmp_path, json.dumps(SKETCH, indent=2)))
    assert runtime is None and flow.format == "flowctrl" and flow.name == "Deploy"
    assert flow.roots == ("prepare", "deploy")
    assert list(flow.nodes) == ["prepare", "prepare/backup", "prepare/check", "deploy", "deploy/ship"]
    prepare, deploy = flow.nodes["prepare"], flow.nodes["deploy"]
    assert prepare.children == ("prepare/backup", "prepare/check") and prepare.label == "stage"
    assert prepare.deps == () and deploy.deps == (Dep(node="prepare", cond=COND_FINISHED),)
    # actions run one at a time, whatever the previous one's outcome
    assert flow.nodes["prepare/backup"].deps == ()
    assert flow.nodes["prepare/check"].deps == (Dep(node="prepare/backup", cond=COND_FINISHED),)
    assert [t.id for t in flow.tasks()] == ["prepare/backup", "prepare/check", "deploy/ship"]


def test_action_fields_map_to_policies(tmp_path):
    flow, _ = load(write(tmp_path, json.dumps(SKETCH)))
    backup, check, ship = (flow.nodes[i] for i in ("prepare/backup", "prepare/check", "deploy/ship"))
    assert backup.action.kind == "shell" and backup.action.params == {"cmd": "echo backup"}
    assert sorted(backup.hooks) == ["on_nok", "setup", "teardown"]  # an empty hook is no hook
    assert backup.hooks["teardown"].params == {"cmd": "echo teardown"}
    assert (backup.estimate, backup.timeout, backup.fatal) == (300, 600, False)
    assert check.fatal and check.timeout is None and check.hooks == {}
    assert check.approval.prompt == "Run prepare/check?"
    assert ship.approval.prompt == "Ship it?" and ship.estimate == 5400
    assert backup.approval is None


def test_approve_false_is_no_gate(tmp_path):
    flow, _ = load(write(tmp_path, '{"s": [{"name": "a", "cmd": "true", "approve": false}]}'))
    assert flow.nodes["s/a"].approval is None


def test_name_falls_back_to_the_file_name(tmp_path):
    flow, _ = load(write(tmp_path, '{"s": [{"name": "a", "cmd": "true"}]}', "nightly.json"))
    assert flow.name == "nightly.json"


def test_unknown_keys_are_a_warning_naming_them(tmp_path):
    text = '{"s": [{"name": "a", "cmd": "true", "retry": 3, "colour": "red"}]}'
    path = write(tmp_path, text)
    flow, _ = load(path)
    [warning] = [str(w) for w in flow.warnings]
    assert warning.startswith(loc(path, text, '"red"') + "warning: unknown keys `colour`, `retry` ignored")
    assert "known: approve, cmd, fatal-nok" in warning


# -- unreadable input --------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.json")
    assert problems(path) == [f"{path}:1:1: no such file"]


def test_empty_and_blank_files(tmp_path):
    for text in ("", "  \n\t\n"):
        path = write(tmp_path, text)
        assert problems(path) == [f"{path}:1:1: the file is empty: it holds no workflow, only blank lines and comments"]


def test_a_directory_is_not_a_flow(tmp_path):
    path = tmp_path / "dir.json"
    path.mkdir()
    assert problems(str(path)) == [f"{path}:1:1: is a directory, not a flow file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, '{"s": [{"name": "a", "cmd": "true"}]}')
    os.chmod(path, 0)
    assert problems(path) == [f"{path}:1:1: cannot read the file: permission denied"]


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"s": [\n  {"name": "\xc3\xa9t\xe9", "cmd": "true"}]}')
    assert problems(str(path)) == [f"{path}:2:15: not UTF-8 text"]


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        ('{"s": [{"name": "a", "cmd": "true",}]}', "}]}", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('{\n  "s": [\n    {"name": "a" "cmd": "x"}\n  ]\n}', '"cmd"', "invalid JSON: Expecting ',' delimiter"),
        ('{"s": [{"name": "a", "cmd": "true"}]}\n{"t": 1}', '{"t"', "invalid JSON: Extra data"),
    ],
)
def test_malformed_json_points_at_the_error(tmp_path, text, needle, message):
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, needle) + message]


# -- schema violations -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        ('{"s": [{"name": "a", "cmd": 5}]}', "5}", "`cmd` must be a non-empty string"),
        ('{"s": [{"name": "a", "cmd": "  "}]}', '"  "', "`cmd` must be a non-empty string"),
        ('{"s": [{"name": "", "cmd": "x"}]}', '""', "`name` must be a non-empty string"),
        ('{"s": [{"name": "a"}]}', '{"name"', "missing required key `cmd`"),
        ('{"s": [{"cmd": "x"}]}', '{"cmd"', "missing required key `name`"),
        ('{"s": [{"name": "a", "cmd": "x", "fatal-nok": "yes"}]}', '"yes"', "`fatal-nok` must be true or false"),
        ('{"s": [{"name": "a", "cmd": "x", "setup-cmd": 3}]}', "3}", "`setup-cmd` must be a string"),
        ('{"s": [{"name": "a", "cmd": "x", "approve": 1}]}', "1}", "`approve` must be true or false or a string"),
        ('{"s": [{"name": "a", "cmd": "x"}], "t": 5}', "5}", "stage `t` must be a list of actions"),
        ('{"s": [{"name": "a", "cmd": "x"}], "t": {"name": "b"}}', '{"name": "b"}', "stage `t` must be a list of actions"),
        ('{"s": [{"name": "a", "cmd": "x"}], "t": [3]}', "3]", "an action must be an object with at least `name` and `cmd`"),
    ],
)
def test_schema_violations_point_at_the_value(tmp_path, text, needle, message):
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, needle) + message]


def test_empty_procedure_name(tmp_path):
    text = '{"name": "", "s": [{"name": "a", "cmd": "x"}]}'
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, '""') + "`name` must be a non-empty string"]


def test_not_an_object_with_the_format_forced(tmp_path):
    path = write(tmp_path, "[1, 2]")
    assert problems(path) == [f"{path}:1:1: {CANNOT_TELL}: expected a Flow-CTRL sketch (a JSON object of stages, "
                              "each a list of actions), a Fluxor workflow (a document with `pipeline`) or a Floe "
                              "flow (`flows`, or `tasks` using listen/class/type); pass --format flowctrl|fluxor|floe"]
    assert problems(path, "flowctrl") == [f"{path}:1:1: a Flow-CTRL sketch must be a JSON object of stages"]


def test_no_stages(tmp_path):
    path = write(tmp_path, '{"name": "only a name"}')
    assert problems(path, "flowctrl") == [
        f"{path}:1:1: the sketch has no stages: add a stage, a key whose value is a list of actions"
    ]


@pytest.mark.parametrize("value", ["0s", "0m", "0.0h", "5x", "5", "1,5m", "soon", "-1s"])
@pytest.mark.parametrize("key", ["timeout", "time"])
def test_bad_durations_name_the_field(tmp_path, key, value):
    text = json.dumps({"s": [{"name": "a", "cmd": "x", key: value}]})
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, json.dumps(value)) + f"`{key}`: " + BAD_DURATION.format(value)
                              + ", e.g. 30s, 10m, 1.5h, 2d"]


def test_locations_are_line_and_column_of_the_value(tmp_path):
    text = '{\n  "name": "x",\n  "s": [\n    {"name": "a",\n     "cmd": "true",\n     "timeout":   "0s"}\n  ]\n}\n'
    path = write(tmp_path, text)
    assert problems(path) == [f"{path}:6:19: `timeout`: " + BAD_DURATION.format("0s") + ", e.g. 30s, 10m, 1.5h, 2d"]


def test_columns_count_characters_not_bytes(tmp_path):
    text = '{"s": [{"name": "caf\\u00e9 ☕", "cmd": "true", "time": "1.5h"}], "u": [{"name": "é", "cmd": "x", "timeout": "bad"}]}'
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, '"bad"') + "`timeout`: " + BAD_DURATION.format("bad") + ", e.g. 30s, 10m, 1.5h, 2d"]


def test_duplicate_action_names_point_at_each_repeat(tmp_path):
    text = json.dumps({"s": [{"name": "a", "cmd": "x"}, {"name": "a", "cmd": "y"}, {"name": "a", "cmd": "z"}],
                       "t": [{"name": "a", "cmd": "x"}]})
    path = write(tmp_path, text)
    message = "duplicate action name `a` in stage `s`"
    assert problems(path) == [loc(path, text, '"a"', 1) + message, loc(path, text, '"a"', 2) + message]


def test_task_ids_that_collide_through_a_slash(tmp_path):
    text = '{"x": [{"name": "y", "cmd": "true"}], "x/y": [{"name": "z", "cmd": "true"}]}'
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, '"y"') + "task id `x/y` is also stage `x/y`: rename one"]
    text = '{"a": [{"name": "b/c", "cmd": "true"}], "a/b": [{"name": "c", "cmd": "true"}]}'
    path = write(tmp_path, text)
    assert problems(path) == [loc(path, text, '"c"') + "task id `a/b/c` is also the id of action `b/c` in stage `a`: rename one"]


def test_duplicate_keys_load_as_flow_ctrl_does_with_a_warning(tmp_path):
    """Flow-CTRL's json.load keeps the later value at the first key's place: a warning, not an error."""
    text = ('{"s": [{"name": "a", "cmd": "true", "cmd": "false"}],\n "t": [{"name": "c", "cmd": "true"}],\n'
            ' "s": [{"name": "b", "cmd": "true"}]}')
    path = write(tmp_path, text)
    flow, _ = load(path)
    assert flow.roots == ("s", "t") and list(flow.nodes) == ["s", "s/b", "t", "t/c"]
    later = "the later value wins (as Flow-CTRL's json.load)"
    assert [str(w) for w in flow.warnings] == [
        loc(path, text, '"cmd"', 1) + f"warning: duplicate key `cmd`: {later}",
        loc(path, text, '"s"', 1) + f"warning: duplicate key `s`: {later}",
    ]


def test_every_problem_is_reported_in_file_order(tmp_path):
    text = json.dumps({"s": [{"name": "a", "time": "0s"}, {"name": "a", "cmd": "x", "timeout": "x"}],
                       "t": "not a list"}, indent=1)
    path = write(tmp_path, text)
    found = problems(path)
    assert found == [
        loc(path, text, "{\n   \"name\": \"a\"") + "missing required key `cmd`",
        loc(path, text, '"0s"') + "`time`: " + BAD_DURATION.format("0s") + ", e.g. 30s, 10m, 1.5h, 2d",
        loc(path, text, '"a"', 1) + "duplicate action name `a` in stage `s`",
        loc(path, text, '"x"', 1) + "`timeout`: " + BAD_DURATION.format("x") + ", e.g. 30s, 10m, 1.5h, 2d",
        loc(path, text, '"not a list"') + "stage `t` must be a list of actions",
    ]


# -- the corpus ------------------------------------------------------------------------------------
VALID_CORPUS = {
    "dump__test_procedure.json": ("dump__test_procedure.json", 4),
    "embedded__flow_ctrl__tst__fixtures__sample_sketches.py__MULTI_STAGE_SKETCH.json": ("Multi-Stage Test", 3),
    "embedded__flow_ctrl__tst__fixtures__sample_sketches.py__SIMPLE_SKETCH.json": ("Test Procedure", 1),
    "readme_v1__example_complex_multistage.json": ("readme_v1__example_complex_multistage.json", 2),
    "readme_v1__example_simple_procedure.json": ("readme_v1__example_simple_procedure.json", 1),
    "readme_v1__sketch_format_template.json": ("readme_v1__sketch_format_template.json", 1),
    "readme_v2__example_deployment_procedure.json": ("Deployment Procedure", 3),
}
INVALID_CORPUS = {
    "embedded__flow_ctrl__tst__fixtures__sample_sketches.py__INVALID_SKETCH.json": [
        "3:9: missing required key `cmd`",
        "5:21: `time`: " + BAD_DURATION.format("invalid_time_format"),
    ],
    "readme_v2__sketch_format_template.json": [
        "7:21: `time`: " + BAD_DURATION.format("estimated_time"),
        "8:24: `timeout`: " + BAD_DURATION.format("maximum_time"),
    ],
    "config__flow_ctrl.conf.json": [f"1:1: {CANNOT_TELL}"],
    "config__flow_ctrl.conf.yaml": [f"1:1: {CANNOT_TELL}"],
    "v1__config__flow-ctrl.conf.json": [f"1:1: {CANNOT_TELL}"],
}


def test_every_corpus_file_is_expected(corpus):
    files = {p.name for p in (corpus / "flowctrl").iterdir() if p.suffix in (".json", ".yaml")}
    assert files == set(VALID_CORPUS) | set(INVALID_CORPUS)


@pytest.mark.parametrize("name", sorted(VALID_CORPUS))
def test_corpus_sketch_loads(corpus, name):
    flow, _ = load(str(corpus / "flowctrl" / name))
    title, tasks = VALID_CORPUS[name]
    assert flow.name == title and len(flow.tasks()) == tasks and flow.warnings == ()
    for task in flow.tasks():
        assert task.id == f"{task.parent}/{task.name}"


@pytest.mark.parametrize("name", sorted(INVALID_CORPUS))
def test_corpus_file_fails_with_the_right_message(corpus, name):
    path = str(corpus / "flowctrl" / name)
    found = problems(path)
    assert len(found) == len(INVALID_CORPUS[name])
    for problem, expected in zip(found, INVALID_CORPUS[name], strict=True):
        assert problem.startswith(f"{path}:{expected}")


def test_corpus_details(corpus):
    base = corpus / "flowctrl"
    dump, _ = load(str(base / "dump__test_procedure.json"))
    assert dump.roots == ("Stage 1", "Stage 2")
    assert sorted(dump.nodes["Stage 1/Test procedure 2"].hooks) == ["on_nok", "setup", "teardown"]
    assert sorted(dump.nodes["Stage 2/Test procedure 4"].hooks) == ["on_nok", "on_ok", "teardown"]
    assert dump.nodes["Stage 1/Test procedure 1"].timeout == 600
    deploy, _ = load(str(base / "readme_v2__example_deployment_procedure.json"))
    assert deploy.nodes["deploy_stage/deploy_app"].fatal
    assert [n for n in deploy.nodes if deploy.nodes[n].is_group] == ["setup_stage", "deploy_stage", "cleanup_stage"]


# -- detection ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ['{"name": "x", "s": []}', '{"s": [], "t": [{"name": "a", "cmd": "true"}]}'])
def test_a_sketch_with_an_empty_stage_is_detected(tmp_path, text):
    """The contract's rule: every non-`name` value a list of action objects, which an empty list is."""
    flow, _ = load(write(tmp_path, text))
    assert flow.format == "flowctrl" and flow.roots[0] == "s"


@pytest.mark.parametrize(("text", "needle", "message"), [
    ('{"s": [{"name": "a", "cmd": "echo hi"}, 5]}', "5]", "an action must be an object with at least `name` and `cmd`"),
    ('{"s": [{"name": "a", "cmd": "echo hi"}], "t": 5}', "5}", "stage `t` must be a list of actions"),
    ('{"s": [7, {"name": "a"}]}', "7,", "an action must be an object with at least `name` and `cmd`"),
])
def test_a_sketch_with_a_bad_action_gets_its_error_not_cannot_tell(tmp_path, text, needle, message):
    path = write(tmp_path, text)
    assert problems(path)[0] == loc(path, text, needle) + message


def test_a_sketch_written_in_yaml_is_told_sketches_are_json(tmp_path):
    path = write(tmp_path, "s:\n  - name: a\n    cmd: echo hi\n", "sketch.yaml")
    assert problems(path) == [
        f"{path}:1:1: this looks like a Flow-CTRL sketch written in YAML, but Flow-CTRL sketches are JSON: "
        "write it as JSON (the YAML formats are Fluxor workflows and Floe flows)"
    ]
    text = '{"s": [{"name": "a", "cmd": "echo hi"},]}'  # JSON with a mistake (YAML would take it): the mistake
    path = write(tmp_path, text, "sketch.flow")
    assert problems(path) == [loc(path, text, "]}") + "invalid JSON: Expecting value"]


# -- lone surrogates -------------------------------------------------------------------------------
HALF = "is half of a UTF-16 surrogate pair, not a character: write the character itself, or both halves"


def test_lone_surrogate_escapes_are_located_errors(tmp_path):
    """json.loads keeps `\\ud800` as a lone surrogate, which no output can encode: refused at load."""
    text = '{"s\\ud800": [\n  {"name": "a\\udc00", "cmd": "echo \\ud83d\\ude00 \\\\ud800 \\\\\\udbff"}]}'
    path = write(tmp_path, text)
    assert problems(path) == [
        loc(path, text, "\\ud800") + f"`\\ud800` {HALF}",
        loc(path, text, "\\udc00") + f"`\\udc00` {HALF}",
        loc(path, text, "\\udbff") + f"`\\udbff` {HALF}",  # an escape again after an escaped backslash
    ]
    paired = write(tmp_path, '{"s": [{"name": "\\ud83d\\ude00", "cmd": "echo \\\\ud800"}]}', "paired.json")
    flow, _ = load(paired)
    assert flow.nodes["s/\U0001F600"].action.params["cmd"] == "echo \\ud800"
