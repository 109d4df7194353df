"""Bad flow files as people write them: one located line per problem, exit 2, no traceback, nothing run.

Each case runs the real CLI (`validate`, `graph` and `run --no-ui`) in a subprocess.
"""

import os
import subprocess

import pytest

LIMIT = 30
COMMANDS = (("validate",), ("graph",), ("run", "--no-ui"))


@pytest.fixture
def cli(flowtui_cmd, tmp_path):
    """cli(*args) -> CompletedProcess, run in tmp_path with a private state dir and stdin closed."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "NO_COLOR")}
    env["FLOWTUI_STATE_DIR"] = str(tmp_path / "state")

    def call(*args):
        return subprocess.run([*flowtui_cmd, *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=LIMIT)

    return call


def refused(cli, tmp_path, name, *extra):
    """Every command refuses `name` the same way: exit 2, no traceback, no run recorded. Its stderr."""
    messages = set()
    for command in COMMANDS:
        result = cli(*command, name, *extra)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stdout == "" or command[0] == "run", result.stdout
        messages.add(result.stderr)
    assert len(messages) == 1, messages
    runs = tmp_path / "state" / "runs"
    assert not runs.is_dir() or not os.listdir(runs), "a refused file left a run behind"
    return messages.pop()


# -- Floe forms ----------------------------------------------------------------------------------
FORM_FLOW = """\
name: forms
triggers:
  - name: start
    type: data
    opts:
      form:
        title: Start
        fields:
          - id: version
            prompt: Version
tasks:
  - name: Build
    listen: trigger.good
    type: exec
    opts:
      cmd: echo built
  - name: Sign Off
    listen: task.build.good
    type: data
    opts:
      form:
        title: Release?
        fields:
          - id: approved
            prompt: Approve?
            type: bool
"""


@pytest.mark.parametrize(("old", "new", "where", "what"), [
    ("        fields:\n          - id: version\n            prompt: Version\n", "        fields: version\n",
     "8:17", "trigger `start`: the form's `fields` must be a list of fields ({id, prompt, type, value})"),
    ("        fields:\n          - id: version\n            prompt: Version\n", "        fields: true\n",
     "8:17", "trigger `start`: the form's `fields` must be a list of fields ({id, prompt, type, value})"),
    ("          - id: approved\n            prompt: Approve?\n            type: bool\n",
     "          - approved\n", "24:13",
     "task `sign-off`: each form field must be a mapping ({id, prompt, type, value})"),
    ("          - id: approved\n", "          - ids: approved\n", "24:13",
     "task `sign-off`: a form field needs an `id`"),
    ("      form:\n        title: Release?", "      form: Release?\n      x:\n        title: Release?", "21:13",
     "task `sign-off`: `form` must be a mapping ({title, fields})"),
])
def test_a_malformed_floe_form_is_a_located_error(cli, tmp_path, old, new, where, what):
    assert old in FORM_FLOW
    (tmp_path / "flow.yml").write_text(FORM_FLOW.replace(old, new, 1))
    assert refused(cli, tmp_path, "flow.yml", "--set", "version=1") == f"flow.yml:{where}: flow `forms`, {what}\n"


def test_a_form_field_list_on_a_timer_trigger_does_not_break_the_lint(cli, tmp_path):
    """Only data nodes read forms; a timer's odd opts are not checked, and do not crash the git-task lint."""
    text = FORM_FLOW.replace("    type: data\n    opts:\n      form:\n        title: Start\n        fields:\n"
                             "          - id: version\n            prompt: Version\n",
                             "    type: timer\n    opts:\n      period: 10\n      form: {fields: 5}\n", 1)
    text += "  - name: Checkout\n    listen: task.sign-off.good\n    type: git-checkout\n"
    (tmp_path / "flow.yml").write_text(text)
    result = cli("validate", "flow.yml")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


# -- files a flow names: unreadable ones are located errors --------------------------------------
def test_a_fluxor_import_of_a_file_that_is_not_utf8_is_located(cli, tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: printer:print\n    input:\n"
                                      "      message: $import(notes.txt)\n")
    assert refused(cli, tmp_path, "wf.yaml") == (
        f"wf.yaml:5:16: $import(notes.txt): cannot read {tmp_path}/notes.txt: not UTF-8 text\n")


def test_a_fluxor_import_path_with_a_nul_is_located(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text('pipeline:\n  a:\n    action: printer:print\n    input:\n'
                                      '      message: "$import(a\\0b.txt)"\n')
    message = refused(cli, tmp_path, "wf.yaml")
    assert message.startswith("wf.yaml:5:16: $import(a\x00b.txt): cannot read ") and message.endswith(
        ": the path holds a NUL character\n")


def test_a_floe_flow_file_path_with_a_nul_is_located(cli, tmp_path):
    (tmp_path / "config.yml").write_text('flows:\n  - id: f\n    flow-file: "floe\\0.yml"\n    tasks: []\n')
    message = refused(cli, tmp_path, "config.yml")
    assert message.startswith("config.yml:3:16: flow-file ") and message.endswith(": the path holds a NUL character\n")


# -- Fluxor sub-workflows named literally are checked before anything runs -------------------------
PARENT = "pipeline:\n  first:\n    action: printer:print\n    input:\n      message: before\n" \
         "  sub:\n    action: workflow:run\n    input:\n      location: child\n"


def test_a_sub_workflow_that_does_not_load_is_refused_before_the_parent_runs(cli, tmp_path):
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_text("pipeline:\n  a: [\n")
    assert refused(cli, tmp_path, "parent.yaml") == (
        "child.yaml:2:7: invalid YAML: expected the node content, but found '<stream end>'\n")


def test_a_sub_workflow_that_is_not_utf8_is_refused(cli, tmp_path):
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_bytes(b"pipeline:\n  a:\n    action: printer:print\n    input:\n      message: caf\xe9\n")
    assert refused(cli, tmp_path, "parent.yaml") == (
        f"parent.yaml:6:3: task sub: sub-workflow child: cannot read {tmp_path}/child.yaml: not UTF-8 text\n")


def test_a_workflow_that_runs_itself_is_refused(cli, tmp_path):
    """It would never end (and each level's error quotes the one below it)."""
    (tmp_path / "parent.yaml").write_text(PARENT.replace("location: child", "location: parent"))
    assert refused(cli, tmp_path, "parent.yaml") == (
        "parent.yaml:6:3: task sub: sub-workflow parent runs itself (parent.yaml -> parent.yaml): it would never end\n")


def test_workflows_that_run_each_other_are_refused_where_the_cycle_closes(cli, tmp_path):
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_text(PARENT.replace("location: child", "location: ./parent.yaml"))
    assert refused(cli, tmp_path, "parent.yaml") == (
        "child.yaml:6:3: task sub: sub-workflow ./parent.yaml runs itself "
        "(parent.yaml -> child.yaml -> parent.yaml): it would never end\n")


COUNTDOWN = """pipeline:
  show:
    action: printer:print
    input:
      message: "n=$n"
  again:
    when: $n > 0
    action: workflow:run
    input:
      location: countdown
      context:
        n: ${n - 1}
"""


def test_a_workflow_that_runs_itself_under_a_when_runs_until_the_when_is_false(cli, tmp_path):
    (tmp_path / "countdown.yaml").write_text(COUNTDOWN)
    result = cli("run", "countdown.yaml", "--no-ui", "--set", "n=2")
    assert result.returncode == 0, result.stderr
    assert [line.split("] ")[1] for line in result.stdout.splitlines() if "] n=" in line] == ["n=2", "n=1", "n=0"]


def test_a_workflow_that_runs_itself_through_a_variable_stops_at_the_depth_guard_with_a_bounded_error(cli, tmp_path):
    """Each level quotes the errors of the one below, escaped again (twice as long per level): the
    quote is cut, or 32 levels would take gigabytes."""
    (tmp_path / "self.yaml").write_text(
        "pipeline:\n  again:\n    action: workflow:run\n    input:\n      location: $me\n      context:\n        me: $me\n")
    result = cli("run", "self.yaml", "--no-ui", "--set", "me=self", "--report", "report.json")
    assert result.returncode == 1 and "nested 32 deep" in result.stdout
    assert (tmp_path / "report.json").stat().st_size < 200_000


def test_a_sub_workflow_used_twice_is_no_cycle(cli, tmp_path):
    (tmp_path / "parent.yaml").write_text(PARENT + PARENT.split("pipeline:\n", 1)[1].replace("first", "again")
                                          .replace("  sub:", "  sub2:"))
    (tmp_path / "child.yaml").write_text("pipeline:\n  a:\n    action: printer:print\n    input:\n      message: hi\n")
    result = cli("validate", "parent.yaml")
    assert result.returncode == 0, result.stderr


# -- Flow-CTRL -----------------------------------------------------------------------------------
def test_a_nul_in_a_flowctrl_command_is_refused_before_anything_runs(cli, tmp_path):
    """No shell can run it: v2's subprocess raises ValueError; here it is located, and the first action never runs."""
    (tmp_path / "sketch.json").write_text(
        '{"s": [\n  {"name": "first", "cmd": "echo first > ran"},\n'
        '  {"name": "b", "cmd": "echo ok", "teardown-cmd": "echo a\\u0000b"}\n]}\n')
    assert refused(cli, tmp_path, "sketch.json") == (
        "sketch.json:3:51: `teardown-cmd` holds a NUL character (\\u0000): no command can contain one\n")
    assert not (tmp_path / "ran").exists()


# -- format detection: a typo in the key that names the format -------------------------------------
FLOE_FLOW = ("name: f\ntriggers:\n  - name: start\n    type: data\n    opts:\n      form:\n        title: Go\n"
             "tasks:\n  - name: A\n    listen: trigger.good\n    type: exec\n    opts:\n      cmd: echo a\n")


def test_a_floe_flow_with_a_misspelt_tasks_key_is_still_a_floe_flow(cli, tmp_path):
    """Its triggers say it is Floe: not `a Flow-CTRL sketch written in YAML`."""
    (tmp_path / "flow.yml").write_text(FLOE_FLOW.replace("tasks:", "task:"))
    result = cli("validate", "flow.yml")
    assert "Flow-CTRL" not in result.stdout + result.stderr
    assert "flow.yml:8:1: warning: unknown key `task` in flow `f`: Floe ignores it (did you mean `tasks`?)\n" in result.stdout


@pytest.mark.parametrize(("text", "where", "hint"), [
    ("name: x\npipline:\n  a:\n    action: printer:print\n", "2:1", "`pipline`: did you mean `pipeline` (a Fluxor workflow)?"),
    ('{"name": "x",\n "Pipelines": {"a": {"action": "printer:print"}}}', "2:2",
     "`Pipelines`: did you mean `pipeline` (a Fluxor workflow)?"),
    ("common:\n  hosts: []\nflow:\n  - id: f\n", None, None),  # `common` says Floe: its loader reports it
    ("flow:\n  - id: f\n    tasks: []\n", "1:1", "`flow`: did you mean `flows` (a Floe host config)?"),
])
def test_a_misspelt_format_key_is_pointed_at(cli, tmp_path, text, where, hint):
    (tmp_path / "wf.yaml").write_text(text)
    message = refused(cli, tmp_path, "wf.yaml")
    if hint is None:
        assert "cannot tell the format" not in message
    else:
        assert message.startswith(f"wf.yaml:{where}: cannot tell the format: {hint} ")


def test_a_misspelt_fluxor_task_key_gets_a_suggestion(cli, tmp_path):
    """As in Fluxor, `acton: x` is ignored and `inptu: {…}` is a subtask; the warnings say what was meant."""
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    acton: nop:nop\n  b:\n    action: printer:print\n"
                                      "    inptu:\n      message: hi\n")
    result = cli("validate", "wf.yaml")
    assert result.returncode == 0, result.stderr
    assert "wf.yaml:3:5: warning: `acton` is not a Fluxor task key and holds no task: ignored (did you mean `action`?)\n" \
        in result.stdout
    assert "wf.yaml:6:5: warning: `inptu` holds a mapping, so it is a subtask, as in Fluxor (did you mean `input`?)\n" \
        in result.stdout


def test_a_subtask_named_like_a_task_key_is_not_second_guessed(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text("pipeline:\n  wait:\n    action: nop:nop\n  task:\n    action: nop:nop\n")
    result = cli("validate", "wf.yaml")
    assert result.returncode == 0 and "warning" not in result.stdout, result.stdout


@pytest.mark.parametrize(("name", "text", "where"), [
    ("wf.yaml", "pipeline:\n\ta:\n    action: nop:nop\n", "2:1"),
    ("flow.yml", "name: x\ntasks:\n\t- name: a\n", "3:1"),
])
def test_a_tab_indent_in_yaml_says_to_use_spaces(cli, tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    assert refused(cli, tmp_path, name) == (
        f"{name}:{where}: invalid YAML: found character '\\t' that cannot start any token: "
        "YAML indents with spaces, not tabs: replace the tab\n")


# -- a byte order mark (Windows editors write one) -----------------------------------------------
SKETCH = '{"name": "x", "s": [{"name": "a", "cmd": "echo hi"}]}\n'


@pytest.mark.parametrize("name", ["sketch.json", "sketch.txt"])
def test_a_sketch_with_a_bom_is_told_to_drop_it(cli, tmp_path, name):
    """Flow-CTRL's json.load refuses a BOM; say so, not `decode using utf-8-sig` or `written in YAML`."""
    (tmp_path / name).write_text("\ufeff" + SKETCH, encoding="utf-8")
    assert refused(cli, tmp_path, name) == (
        f"{name}:1:1: the file starts with a UTF-8 byte order mark (BOM), which Flow-CTRL's JSON reader refuses: "
        "save it as UTF-8 without BOM\n")


def test_a_fluxor_json_workflow_with_a_bom_loads_as_in_fluxor(cli, tmp_path):
    """yaml.v3 skips a BOM, so Fluxor reads such a file."""
    (tmp_path / "wf.json").write_text('\ufeff{"pipeline": {"a": {"action": "printer:print", "input": {"message": "hi"}}}}',
                                      encoding="utf-8")
    result = cli("run", "wf.json", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert "[a] hi\n" in result.stdout


@pytest.mark.parametrize(("retry", "col", "what"), [
    ("{limit: 1, delay: -5}", 30, "retry delay must not be negative"),
    ("{limit: 1, delay: 1, maxDelay: -0.5}", 43, "retry maxDelay must not be negative"),
])
def test_a_negative_fluxor_retry_delay_is_refused(cli, tmp_path, retry, col, what):
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: system/exec:execute\n    input:\n"
                                      f"      failOnError: true\n      commands: [\"exit 5\"]\n    retry: {retry}\n")
    assert refused(cli, tmp_path, "wf.yaml") == f"wf.yaml:7:{col}: {what}\n"


# -- Floe timer tasks ----------------------------------------------------------------------------
@pytest.mark.parametrize("period", ["abc", "-5", "[1]", "1e400", ".inf"])
def test_a_floe_timer_period_that_is_no_number_of_seconds_is_flagged_and_never_hangs(cli, tmp_path, period):
    """Floe's timer task does not wait at all; flowtui's waits `period` seconds when it is one."""
    (tmp_path / "flow.yml").write_text("name: t\ntasks:\n  - name: W\n    listen: trigger.good\n    type: timer\n"
                                       f"    opts:\n      period: {period}\n")
    result = cli("run", "flow.yml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("flow.yml:7:15: warning: task `w`: `period` is not a number of seconds "
                                    "(e.g. 30): the timer does not wait\n"), result.stderr
