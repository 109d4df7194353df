"""Load-time checks of YAML and JSON values: repeated keys, empty files, numbers out of range, values
of the wrong type. Each case runs the real CLI in a subprocess (the `cli` fixture of test_bad_input).
"""

import pytest

from tests import test_bad_input

cli = test_bad_input.cli  # the fixture: run the CLI in tmp_path, with a private state dir
refused = test_bad_input.refused

# -- repeated keys -------------------------------------------------------------------------------
FLUXOR_DUPS = """\
init:
  x: 1
  x: 2
pipeline:
  a:
    action: printer:print
    input:
      message: one
      message: $x
  b:
    action: printer:print
    input:
      message: first
    input:
      message: second
"""


def test_repeated_fluxor_keys_are_warned_about_where_they_repeat(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text(FLUXOR_DUPS)
    warnings = [
        "wf.yaml:3:3: warning: duplicate key `x`: the later value wins (as in Fluxor; the first is at 2:3)",
        "wf.yaml:9:7: warning: duplicate key `message`: the later value wins (as in Fluxor; the first is at 8:7)",
        "wf.yaml:14:5: warning: duplicate key `input`: the later value wins (as in Fluxor; the first is at 12:5)",
    ]
    result = cli("validate", "wf.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-3:] == warnings
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == warnings
    assert "[a] 2\n" in result.stdout and "[b] second\n" in result.stdout


def test_a_repeated_fluxor_pipeline_is_warned_about(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: nop:nop\npipeline:\n  b:\n    action: printer:print\n"
                                      "    input: {message: later}\n")
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "wf.yaml:4:1: warning: duplicate key `pipeline`: the later value wins (as in Fluxor; the first is at 1:1)\n"
    assert "[b] later\n" in result.stdout and "[a]" not in result.stdout


def test_a_fluxor_task_key_repeated_in_another_case_is_warned_about(cli, tmp_path):
    """Fluxor matches task keys whatever their case, and `with` is `input`: the later one wins."""
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: printer:print\n    input: {message: one}\n"
                                      "    With: {message: two}\n")
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("wf.yaml:5:5: warning: duplicate key `With` (the same as `input` to Fluxor): the later "
                             "value wins (as in Fluxor; the first is at 4:5)\n")
    assert "[a] two\n" in result.stdout


def test_a_repeated_fluxor_goto_or_depends_on_replaces_the_first(cli, tmp_path):
    """Like every other repeated key, the later `dependsOn` is the one that counts (it is not added)."""
    (tmp_path / "wf.yaml").write_text(
        "pipeline:\n  a:\n    action: nop:nop\n  b:\n    action: nop:nop\n"
        "  c:\n    dependsOn: nosuch\n    dependsOn: a\n    action: printer:print\n    input: {message: c}\n")
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert "duplicate key `dependsOn`" in result.stderr and "[c] c\n" in result.stdout


def test_repeated_keys_in_a_fluxor_import_are_located_in_the_imported_file(cli, tmp_path):
    (tmp_path / "msg.yaml").write_text("message: one\nmessage: two\n")
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: printer:print\n    input: $import('msg.yaml')\n")
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("msg.yaml:2:1: warning: duplicate key `message`: the later value wins "
                                  "(as in Fluxor; the first is at 1:1)\n"), result.stderr
    assert "[a] two\n" in result.stdout


FLOE_DUPS = """\
name: dups
tasks:
  - name: Build
    listen: trigger.good
    type: exec
    opts:
      cmd: echo first
      cmd: echo second
    type: exec
"""


@pytest.mark.parametrize("anchored", [False, True], ids=["plain", "with-anchor"])
def test_repeated_floe_keys_are_warned_about_where_they_repeat(cli, tmp_path, anchored):
    """With an anchor the document takes PyYAML's constructors rather than the event walk: the same warnings."""
    text = FLOE_DUPS.replace("name: dups", "name: &n dups") if anchored else FLOE_DUPS
    (tmp_path / "flow.yml").write_text(text)
    warnings = [
        "flow.yml:8:7: warning: duplicate key `cmd`: the later value wins (as in Floe; the first is at 7:7)",
        "flow.yml:9:5: warning: duplicate key `type`: the later value wins (as in Floe; the first is at 5:5)",
    ]
    result = cli("validate", "flow.yml")
    assert result.returncode == 0, result.stderr
    assert [line.strip() for line in result.stdout.splitlines()[-2:]] == warnings
    result = cli("run", "flow.yml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == warnings
    assert "[build] second\n" in result.stdout


def test_a_repeated_key_in_a_floe_host_config_is_warned_about(cli, tmp_path):
    (tmp_path / "config.yml").write_text(
        "common:\n  base-url: /a\n  base-url: /b\nflows:\n  - name: f\n    tasks:\n"
        "      - name: t\n        listen: trigger.good\n        type: exec\n        opts: {cmd: echo t}\n")
    result = cli("run", "config.yml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("config.yml:3:3: warning: duplicate key `base-url`: the later value wins "
                             "(as in Floe; the first is at 2:3)\n")


# -- empty files ---------------------------------------------------------------------------------
EMPTY = "the file is empty: it holds no workflow, only blank lines and comments"


@pytest.mark.parametrize(("name", "text"), [
    ("comments.yaml", "# a workflow, one day\n\n   # indented\n"),
    ("comments.json", "# not even JSON\n"),
    ("documents.yml", "%YAML 1.2\n---  # the first document\n# nothing\n...\n"),
    ("blank.yaml", "  \n\t\n"),
    ("bom.yaml", "\ufeff# with a byte order mark\r\n"),
], ids=["comments", "json", "documents", "blank", "bom"])
@pytest.mark.parametrize("fmt", [None, "fluxor", "floe", "flowctrl"])
def test_a_file_with_no_workflow_in_it_says_it_is_empty(cli, tmp_path, name, text, fmt):
    (tmp_path / name).write_text(text)
    assert refused(cli, tmp_path, name, *(("--format", fmt) if fmt else ())) == f"{name}:1:1: {EMPTY}\n"


def test_a_comment_before_the_workflow_is_no_empty_file(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text("# says hi\n---\npipeline:\n  a: {action: printer:print, input: {message: hi}}\n")
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0 and "[a] hi\n" in result.stdout, result.stderr


def test_an_empty_sub_workflow_or_flow_file_says_so(cli, tmp_path):
    (tmp_path / "child.yaml").write_text("# to do\n")
    (tmp_path / "wf.yaml").write_text("pipeline:\n  a:\n    action: workflow:run\n    input: {location: child.yaml}\n")
    assert refused(cli, tmp_path, "wf.yaml") == f"child.yaml:1:1: {EMPTY}\n"
    (tmp_path / "flow.yml").write_text("# to do\n")
    (tmp_path / "config.yml").write_text("flows:\n  - name: f\n    flow-file: flow.yml\n    tasks: []\n")
    assert refused(cli, tmp_path, "config.yml") == f"config.yml:3:16: flow-file {tmp_path}/flow.yml: {EMPTY}\n"


# -- numbers Go cannot hold ----------------------------------------------------------------------
FLOE_FLOW = "name: f\nver: {ver}\ntasks:\n  - name: t\n    listen: trigger.good\n    type: exec\n    good: {good}\n    opts: {{cmd: echo t}}\n"


@pytest.mark.parametrize(("ver", "good", "where", "what"), [
    ("9223372036854775808", "[0]", "2:6", "flow `f`: `ver` must be a whole number that fits Go's int (-9223372036854775808 to 9223372036854775807)"),
    ("-9223372036854775809", "[0]", "2:6", "flow `f`: `ver` must be a whole number that fits Go's int (-9223372036854775808 to 9223372036854775807)"),
    ("1", "[0, 18446744073709551616]", "7:15", "flow `f`, task `t`: `good` must be a list of whole numbers that fit Go's int (-9223372036854775808 to 9223372036854775807)"),
], ids=["ver", "negative-ver", "good"])
def test_a_floe_number_too_large_for_go_is_refused(cli, tmp_path, ver, good, where, what):
    (tmp_path / "flow.yml").write_text(FLOE_FLOW.format(ver=ver, good=good))
    assert refused(cli, tmp_path, "flow.yml") == f"flow.yml:{where}: {what}\n"


def test_the_largest_floe_ver_loads(cli, tmp_path):
    (tmp_path / "flow.yml").write_text(FLOE_FLOW.format(ver="9223372036854775807", good="[0, -9223372036854775808]"))
    result = cli("run", "flow.yml", "--no-ui")
    assert result.returncode == 0 and "[t] t\n" in result.stdout, result.stderr


# -- values of the wrong type, refused at load rather than failing (or misbehaving) at run time -------
def exec_workflow(inputs):
    return "pipeline:\n  a:\n    action: system/exec:execute\n    input:\n" + "".join(f"      {line}\n" for line in inputs)


@pytest.mark.parametrize(("inputs", "where", "what"), [
    (["commands: [echo hi, 1]"], "5:27", "task a: commands[1] must be a shell command (text), not 1: quote it"),
    (["commands:", "  - echo hi", "  - {a: 1}"], "7:11", "task a: commands[1] must be a shell command (text), not a mapping"),
    (["commands: [echo hi]", "timeoutMs: soon"], "6:18", "task a: timeoutMs must be a positive number of milliseconds, not 'soon'"),
    (["commands: [echo hi]", "timeoutMs: -5"], "6:18", "task a: timeoutMs must be a positive number of milliseconds, not -5"),
    (["commands: [echo $A]", "env: [A=1]"], "6:12", "task a: env must be a mapping of NAME: value, not a list"),
    (["commands: [pwd]", "workdir: [x]"], "6:16", "task a: workdir must be a directory (text), not a list"),
], ids=["number", "mapping", "timeout-text", "timeout-negative", "env-list", "workdir-list"])
def test_a_fluxor_exec_input_of_the_wrong_type_is_refused_at_load(cli, tmp_path, inputs, where, what):
    (tmp_path / "wf.yaml").write_text(exec_workflow(inputs))
    assert refused(cli, tmp_path, "wf.yaml") == f"wf.yaml:{where}: {what}\n"


def test_fluxor_exec_inputs_from_expressions_are_left_to_the_run(cli, tmp_path):
    (tmp_path / "wf.yaml").write_text("init:\n  ms: 5000\n  dir: .\n" + exec_workflow(
        ["commands: [echo $A, 'echo 1']", "timeoutMs: ${ms}", "workdir: $dir", "env: {A: 1}"]))
    result = cli("run", "wf.yaml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert "[a] 1\n" in result.stdout


@pytest.mark.parametrize(("opts", "where", "what"), [
    ("cmd: 5", "7:12", "`cmd` must be text (a command line)"),
    ("cmd: echo\n      args: hi", "8:13", "`args` must be a list of strings"),
    ("cmd: echo $A\n      env: A=1", "8:12", "`env` must be a list of strings"),
    ("shell: [x]", "7:14", "`shell` must be text (a command line)"),
], ids=["cmd", "args", "env", "shell"])
def test_floe_exec_opts_of_the_wrong_type_are_flagged_at_load(cli, tmp_path, opts, where, what):
    """Floe ends such a task with task.x.error when it runs (which a flow may listen to): flowtui too,
    with a warning at load that points at the value."""
    (tmp_path / "flow.yml").write_text(f"name: f\ntasks:\n  - name: t\n    listen: trigger.good\n    type: exec\n    opts:\n      {opts}\n")
    result = cli("run", "flow.yml", "--no-ui")
    assert result.returncode == 1
    assert result.stderr.startswith(f"flow.yml:{where}: warning: task `t`: {what}: Floe ends the task with "
                                    "task.t.error\n"), result.stderr


def test_a_floe_timer_period_beyond_go_durations_is_flagged_and_never_hangs(cli, tmp_path):
    (tmp_path / "flow.yml").write_text("name: t\ntasks:\n  - name: W\n    listen: trigger.good\n    type: timer\n"
                                       "    opts:\n      period: 99999999999999999999\n")
    result = cli("run", "flow.yml", "--no-ui")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("flow.yml:7:15: warning: task `w`: `period` is not a number of seconds "), result.stderr
