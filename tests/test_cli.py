"""`flowtui run | validate | graph` as a user runs them: exit codes, output, reports, approvals, Ctrl-C."""

import io
import json
import os
import re
import select
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from flowtui.cli import build_parser
from flowtui.engine.loaders import load
from flowtui.engine.model import COND_FAILED, Action, Dep, FlowDef, Node
from flowtui.engine.run import Run
from flowtui.headless import run_headless
from flowtui.reporters.junit import junit_xml
from flowtui.reporters.tails import Tails

from .test_engine_run import process_gone

LIMIT = 30
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")

FAILING = {
    "name": "CLI test",
    "build": [
        {"name": "compile", "cmd": "echo compiling; echo warning >&2", "setup-cmd": "echo prep", "time": "1s"},
        {"name": "broken", "cmd": "for i in $(seq 1 60); do echo line $i; done; exit 3", "teardown-cmd": "echo cleanup"},
    ],
    "ship": [
        {"name": "final", "cmd": "false", "fatal-nok": True},
        {"name": "never", "cmd": "echo never"},
    ],
}
PASSING = {"name": "ok", "one": [{"name": "a", "cmd": "echo a"}, {"name": "b", "cmd": "echo b"}]}
GATED = {
    "name": "gated",
    "build": [{"name": "compile", "cmd": "echo compiled"}],
    "ship": [{"name": "deploy", "cmd": "echo deployed", "approve": "Deploy to production?"},
             {"name": "notify", "cmd": "echo notified", "approve": True}],
}


@pytest.fixture
def env(tmp_path):
    """A clean environment: no CI markers, a private state dir, Python's default buffering."""
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "NO_COLOR", "PYTHONUNBUFFERED")}
    clean["FLOWTUI_STATE_DIR"] = str(tmp_path / "state")
    return clean


@pytest.fixture
def flowtui(flowtui_cmd, tmp_path, env):
    """flowtui(*args, sketch=dict) -> CompletedProcess, run in tmp_path with stdin closed (no TTY)."""

    def call(*args, sketch=None, extra_env=None):
        if sketch is not None:
            (tmp_path / "sketch.json").write_text(json.dumps(sketch, indent=2))
        return subprocess.run(
            [*flowtui_cmd, *args], cwd=tmp_path, env={**env, **(extra_env or {})}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=LIMIT,
        )

    return call


def no_traceback(result):
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


# -- exit codes ----------------------------------------------------------------------------------
def test_exit_0_when_every_task_succeeds(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", sketch=PASSING)
    assert result.returncode == 0, result.stderr
    assert "[one/a] a\n" in result.stdout and "run succeeded" in result.stdout


def test_run_without_a_terminal_goes_headless_and_says_so(flowtui):
    result = flowtui("run", "sketch.json", sketch=PASSING)
    assert result.returncode == 0 and "[one/b] b\n" in result.stdout
    assert result.stderr == "flowtui: not a terminal: running headless (pass --no-ui to say so)\n"


def test_exit_1_when_a_task_fails(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", sketch=FAILING)
    assert result.returncode == 1
    no_traceback(result)


def test_exit_2_for_an_invalid_sketch_runs_nothing(flowtui, tmp_path):
    bad = {"one": [{"name": "a", "cmd": "touch ran"}, {"name": "b", "cmd": "true", "timeout": "0s"}]}
    result = flowtui("run", "sketch.json", "--no-ui", sketch=bad)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "sketch.json:10:18: `timeout`: invalid duration '0s': use <number><s|m|h|d> greater than zero, "
        "e.g. 30s, 10m, 1.5h, 2d"
    ]
    assert result.stdout == "" and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("args", [["run", "missing.json", "--no-ui"], ["validate", "missing.json"],
                                  ["graph", "missing.json"]])
def test_exit_2_for_a_missing_file(flowtui, args):
    result = flowtui(*args)
    assert (result.returncode, result.stderr) == (2, "missing.json:1:1: no such file\n")


@pytest.mark.parametrize(("name", "text"), [
    ("deep.json", "[" * 50_000 + "]" * 50_000),
    ("deep.yaml", "pipeline:\n" + "".join("  " * i + "b:\n" for i in range(1, 3000))),
], ids=["json", "yaml"])
def test_exit_2_for_a_document_nested_too_deeply(flowtui, tmp_path, name, text):
    (tmp_path / name).write_text(text)
    for args in (["run", name, "--no-ui"], ["validate", name]):
        result = flowtui(*args)
        assert (result.returncode, result.stderr) == (
            2, f"{name}:1:1: the document is nested too deeply to read (hundreds of levels of lists or mappings)\n")


def test_exit_2_for_usage_errors(flowtui):
    assert flowtui().returncode == 2
    result = flowtui("run", "sketch.json", "--no-ui", "--max-parallel", "0", sketch=PASSING)
    assert result.returncode == 2 and "--max-parallel" in result.stderr
    no_traceback(result)
    for value in ("0", "-1"):  # 0 used to mean the default, -1 a loop guard no loop could pass
        result = flowtui("run", "sketch.json", "--no-ui", "--max-iterations", value, sketch=PASSING)
        assert (result.returncode, result.stderr) == (2, "flowtui: --max-iterations must be at least 1\n")


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
def test_exit_2_when_a_report_cannot_be_written(flowtui, tmp_path, option):
    (tmp_path / "taken").mkdir()
    (tmp_path / "file").write_text("")
    sketch = {"s": [{"name": "a", "cmd": "touch ran"}]}
    result = flowtui("run", "sketch.json", "--no-ui", option, "taken", sketch=sketch)
    assert (result.returncode, result.stderr) == (2, f"flowtui: cannot write {option} taken: is a directory; nothing was run\n")
    result = flowtui("run", "sketch.json", "--no-ui", option, "file/out", sketch=sketch)
    assert (result.returncode, result.stderr) == (2, f"flowtui: cannot write {option} file/out: Not a directory; nothing was run\n")
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "ran").exists()


def run_in_process(tmp_path, sketch, *options, control=None):
    """The headless runner on this thread (signal handlers restored after); `control(run)` steers it."""
    path = tmp_path / "sketch.json"
    path.write_text(json.dumps(sketch))
    args = build_parser().parse_args(["run", str(path), "--no-ui", *options])
    args.sets = dict(args.sets)
    flow, runtime = load(str(path))
    run = Run(flow, runtime, kill_grace=0.5)
    if control:
        control(run)
    out = io.StringIO()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = run_headless(run, args, out)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return code, out.getvalue(), run


def test_exit_3_when_an_operator_stops_the_run(tmp_path):
    marker = tmp_path / "go"
    sketch = {"one": [{"name": "a", "cmd": f"echo go; while [ ! -e {marker} ]; do sleep 0.01; done"},
                      {"name": "b", "cmd": "echo b"}]}

    def control(run):
        def stop(event):
            if event.type == "task_output" and "go" in event.lines:
                run.reactor.call_soon(run.stop, "ops")
                marker.touch()

        run.bus.subscribe(stop)

    code, out, run = run_in_process(tmp_path, sketch, "--report", str(tmp_path / "r.json"), control=control)
    assert code == 3
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["status"], report["exit_code"]) == ("stopped", 3)
    assert [t["status"] for t in report["tasks"]] == ["succeeded", "not_run"]
    assert "stopping (running tasks finish)" in out and "run stopped" in out


# -- validate and graph --------------------------------------------------------------------------
def test_validate_prints_a_summary(flowtui):
    result = flowtui("validate", "sketch.json", sketch=FAILING)
    assert result.returncode == 0
    assert result.stdout == ("sketch.json: Flow-CTRL sketch 'CLI test' is valid\n"
                             "  4 tasks in 2 groups, 2 with hooks, estimated 1s\n")


def test_validate_prints_unknown_key_warnings(flowtui):
    result = flowtui("validate", "sketch.json", sketch={"one": [{"name": "a", "cmd": "true", "retries": 2}]})
    assert result.returncode == 0
    assert "warning: unknown key `retries` ignored" in result.stdout


def test_validate_prints_every_problem(flowtui):
    bad = {"one": [{"name": "a", "time": "soon"}, {"name": "a", "cmd": ""}], "two": "x"}
    result = flowtui("validate", "sketch.json", sketch=bad)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert [re.sub(r"^sketch\.json:\d+:\d+: ", "", line) for line in lines] == [
        "missing required key `cmd`",
        "`time`: invalid duration 'soon': use <number><s|m|h|d> greater than zero, e.g. 30s, 10m, 1.5h, 2d",
        "duplicate action name `a` in stage `one`",
        "`cmd` must be a non-empty string",
        "stage `two` must be a list of actions",
    ]
    assert all(re.match(r"^sketch\.json:\d+:\d+: ", line) for line in lines)


def test_validate_cannot_tell_the_format(flowtui, tmp_path):
    (tmp_path / "conf.json").write_text('{"debug": true}')
    result = flowtui("validate", "conf.json")
    assert result.returncode == 2 and result.stderr.startswith("conf.json:1:1: cannot tell the format")


GRAPH_SKETCH = {"name": "g", "build": [{"name": "compile", "cmd": "true"}, {"name": "test", "cmd": "true"}],
                "ship": [{"name": "deploy", "cmd": "true"}]}


def test_graph_dot(flowtui):
    result = flowtui("graph", "--dot", "sketch.json", sketch=GRAPH_SKETCH)
    assert result.returncode == 0
    assert result.stdout == """digraph "g" {
  rankdir=LR;
  compound=true;
  node [shape=box, style=rounded];
  subgraph "cluster_build" {
    label="build";
    "build/compile" [label="compile"];
    "build/test" [label="test"];
  }
  subgraph "cluster_ship" {
    label="ship";
    "ship/deploy" [label="deploy"];
  }
  "build/compile" -> "build/test" [label="any"];
  "build/test" -> "ship/deploy" [label="any", ltail="cluster_build", lhead="cluster_ship"];
}
"""
    assert flowtui("graph", "sketch.json").stdout == result.stdout  # dot is the default


def test_graph_mermaid(flowtui):
    result = flowtui("graph", "--mermaid", "sketch.json", sketch=GRAPH_SKETCH)
    assert result.returncode == 0
    assert result.stdout == """flowchart LR
  subgraph n0["build"]
    n1["compile"]
    n2["test"]
  end
  subgraph n3["ship"]
    n4["deploy"]
  end
  n1 -->|any| n2
  n0 -->|any| n3
"""


# -- reports -------------------------------------------------------------------------------------
TASK_KEYS = {"id", "name", "group", "status", "exit_code", "attempts", "started_at", "finished_at", "duration_s", "hooks"}


def test_json_report_follows_the_contract(flowtui, tmp_path):
    result = flowtui("run", "sketch.json", "--no-ui", "--report", "out/r.json", sketch=FAILING)
    assert result.returncode == 1
    report = json.loads((tmp_path / "out" / "r.json").read_text())
    assert {"flow", "run_id", "status", "exit_code", "started_at", "finished_at", "duration_s", "tasks"} <= set(report)
    assert report["flow"] == {"name": "CLI test", "format": "flowctrl", "file": "sketch.json"}
    assert (report["status"], report["exit_code"]) == ("failed", 1)
    assert re.match(r"^\d{8}-\d{6}-[0-9a-f]{4}$", report["run_id"])
    assert ISO.match(report["started_at"]) and ISO.match(report["finished_at"])
    assert isinstance(report["duration_s"], float)
    tasks = report["tasks"]
    assert [t["id"] for t in tasks] == ["build/compile", "build/broken", "ship/final", "ship/never"]  # definition order
    for task in tasks:
        assert TASK_KEYS <= set(task)
        assert task["group"] + "/" + task["name"] == task["id"]
    compile_, broken, final, never = tasks
    assert (compile_["status"], compile_["exit_code"], compile_["attempts"]) == ("succeeded", 0, 1)
    assert compile_["hooks"] == [{"kind": "setup", "exit_code": 0}]
    assert ISO.match(compile_["started_at"]) and isinstance(compile_["duration_s"], float)
    assert (broken["status"], broken["exit_code"], broken["hooks"]) == ("failed", 3, [{"kind": "teardown", "exit_code": 0}])
    assert (final["status"], final["exit_code"]) == ("failed", 1)
    assert (never["status"], never["exit_code"], never["attempts"], never["hooks"]) == ("not_run", None, 0, [])
    assert never["started_at"] is None and never["duration_s"] is None


def test_junit_xml(flowtui, tmp_path):
    assert flowtui("run", "sketch.json", "--no-ui", "--junit", "j.xml", sketch=FAILING).returncode == 1
    suite = ET.parse(tmp_path / "j.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("name") == "CLI test"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert list(cases) == [("build", "compile"), ("build", "broken"), ("ship", "final"), ("ship", "never")]
    assert len(cases["build", "compile"]) == 0 and float(cases["build", "compile"].get("time")) >= 0
    failure = cases["build", "broken"].find("failure")
    assert failure.get("message") == "failed (exit code 3)"
    assert failure.text.splitlines() == [f"line {i}" for i in range(12, 61)] + ["cleanup"]  # the last 50 lines
    assert cases["ship", "final"].find("failure").get("message") == "failed (exit code 1)"
    assert cases["ship", "never"].find("skipped").get("message") == "not run"


def test_junit_stays_xml_when_a_task_prints_colours_and_control_characters(flowtui, tmp_path):
    sketch = {"s": [{"name": "loud", "cmd": "printf '\\033[31mred\\033[0m \\007bell \\001\\n'; exit 1"}]}
    assert flowtui("run", "sketch.json", "--no-ui", "--junit", "j.xml", sketch=sketch).returncode == 1
    failure = ET.parse(tmp_path / "j.xml").getroot().find("testcase/failure")
    assert failure.text == "red \ufffdbell \ufffd"


def test_junit_marks_condition_skips_as_skipped():
    nodes = {
        "up": Node(id="up", name="up", action=Action(kind="shell", params={"cmd": "true"})),
        "rescue": Node(id="rescue", name="rescue", action=Action(kind="shell", params={"cmd": "true"}),
                       deps=(Dep(node="up", cond=COND_FAILED),)),
    }
    run = Run(FlowDef(name="f", format="test", file=None, nodes=nodes, roots=("up", "rescue")))
    tails = Tails(run.bus)
    assert run.run_to_end() == 0
    suite = ET.fromstring(junit_xml(run, tails))
    [rescue] = [c for c in suite.iter("testcase") if c.get("name") == "rescue"]
    assert rescue.find("skipped").get("message") == "skipped" and suite.get("skipped") == "1"


def test_events_are_json_lines_with_one_object_per_output_line(flowtui, tmp_path):
    assert flowtui("run", "sketch.json", "--no-ui", "--events", "e.jsonl", sketch=FAILING).returncode == 1
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert all(isinstance(e["ts"], float) and isinstance(e["type"], str) for e in events)
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert (events[-1]["status"], events[-1]["exit_code"]) == ("failed", 1)
    output = [e for e in events if e["type"] == "task_output"]
    assert all("lines" not in e and isinstance(e["line"], str) for e in output)
    broken = [e["line"] for e in output if e["task"] == "build/broken"]
    assert broken == [f"line {i}" for i in range(1, 61)] + ["cleanup"]
    assert [(e["stream"], e["hook"], e["line"]) for e in output if e["task"] == "build/compile"] == [
        ("stdout", "setup", "prep"), ("stdout", None, "compiling"), ("stderr", None, "warning")]
    started = [(e["task"], e["attempt"]) for e in events if e["type"] == "task_started"]
    assert started == [("build/compile", 1), ("build/broken", 1), ("ship/final", 1)]
    finished = {e["task"]: (e["status"], e["exit_code"]) for e in events if e["type"] == "task_finished"}
    assert finished == {"build/compile": ("succeeded", 0), "build/broken": ("failed", 3),
                        "ship/final": ("failed", 1), "ship/never": ("not_run", None)}
    hooks = [(e["type"], e["task"], e["hook"], e.get("exit_code")) for e in events if e["type"].startswith("hook_")]
    assert hooks == [("hook_started", "build/compile", "setup", None), ("hook_finished", "build/compile", "setup", 0),
                     ("hook_started", "build/broken", "teardown", None), ("hook_finished", "build/broken", "teardown", 0)]
    assert [e["mode"] for e in events if e["type"] == "run_stopping"] == ["fatal"]


# -- headless console ---------------------------------------------------------------------------
def test_headless_output_is_attributed_to_its_task(flowtui):
    out = flowtui("run", "sketch.json", "--no-ui", sketch=FAILING).stdout
    assert "[build/compile] (setup) prep\n[build/compile] compiling\n[build/compile] warning\n" in out
    assert "[build/broken] line 60\n[build/broken] (teardown) cleanup\n" in out
    assert "\x1b[" not in out  # no colours into a pipe
    assert re.search(r"^▶ build/compile started$", out, re.M)
    assert re.search(r"^✘ build/broken failed, exit 3, in \S+$", out, re.M)
    assert re.search(r"^· ship/never not run$", out, re.M)


def test_a_failing_hook_is_a_warning_and_does_not_fail_the_task(flowtui, tmp_path):
    sketch = {"s": [{"name": "a", "cmd": "echo main", "setup-cmd": "exit 5", "teardown-cmd": "exit 7"}]}
    result = flowtui("run", "sketch.json", "--no-ui", "--report", "r.json", sketch=sketch)
    assert result.returncode == 0
    assert "warning: s/a: setup hook exited 5\n" in result.stdout
    assert "warning: s/a: teardown hook exited 7\n" in result.stdout
    [task] = json.loads((tmp_path / "r.json").read_text())["tasks"]
    assert task["status"] == "succeeded"
    assert task["hooks"] == [{"kind": "setup", "exit_code": 5}, {"kind": "teardown", "exit_code": 7}]


def test_summary_names_the_first_failing_task_with_its_output_tail(flowtui):
    out = flowtui("run", "sketch.json", "--no-ui", sketch=FAILING).stdout
    summary = out[out.rindex("\n\n") + 2:].splitlines()
    assert re.match(r"^✘ run failed in \S+: 2 failed, 1 not run, 1 succeeded \(exit 1\)$", summary[0])
    assert summary[1] == "first failure: build/broken (failed, exit 3)"
    assert summary[2:] == [f"  line {i}" for i in range(42, 61)] + ["  cleanup"]


def test_github_actions_groups_each_task(flowtui):
    out = flowtui("run", "sketch.json", "--no-ui", sketch=PASSING, extra_env={"GITHUB_ACTIONS": "true"}).stdout
    assert out.startswith(
        "::group::one/a\n▶ one/a started\n[one/a] a\n" )
    blocks = re.findall(r"^::group::(\S+)\n(.*?)^::endgroup::$", out, re.M | re.S)
    assert [task for task, _ in blocks] == ["one/a", "one/b"]
    for task, body in blocks:
        assert f"[{task}] {task[-1]}\n" in body and all(f"[{task}]" in line or task in line for line in body.splitlines())


def test_no_groups_outside_github_actions(flowtui):
    assert "::group::" not in flowtui("run", "sketch.json", "--no-ui", sketch=PASSING).stdout


# -- approvals headless ---------------------------------------------------------------------------
def test_approve_glob(flowtui, tmp_path):
    result = flowtui("run", "sketch.json", "--no-ui", "--approve", "ship/dep*", "--approve", "ship/notify",
                     "--report", "r.json", sketch=GATED)
    assert result.returncode == 0, result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert [t["status"] for t in report["tasks"]] == ["succeeded"] * 3
    assert report["tasks"][1]["approval"]["by"] == "--approve"
    assert "? ship/deploy awaits approval: Deploy to production?" in result.stdout
    assert "✔ ship/deploy approved by --approve" in result.stdout


def test_approve_all(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", "--approve-all", sketch=GATED)
    assert result.returncode == 0
    assert "[ship/deploy] deployed" in result.stdout and "[ship/notify] notified" in result.stdout


def test_approve_all_names_the_form_values_it_lacks(flowtui, tmp_path):
    """The README's Floe example: --approve-all cannot make up a sign-off form's answers."""
    ci = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sketches", "ci.floe.yml")
    result = flowtui("run", ci, "--no-ui", "--set", "branch=main", "--approve-all")
    assert result.returncode == 1
    assert ("rejected by --approve-all: missing value for fields 'approved', 'reviewer'; "
            "pass --set approved=VALUE --set reviewer=VALUE") in result.stdout
    result = flowtui("run", ci, "--no-ui", "--set", "branch=main", "--approve-all", "--set", "approved=yes",
                     "--set", "reviewer=ana")
    assert result.returncode == 0, result.stdout


def test_reject_glob_wins_over_approve_all(flowtui, tmp_path):
    result = flowtui("run", "sketch.json", "--no-ui", "--approve-all", "--reject", "*/deploy", "--report", "r.json",
                     sketch=GATED)
    assert result.returncode == 1
    tasks = json.loads((tmp_path / "r.json").read_text())["tasks"]
    assert [t["status"] for t in tasks] == ["succeeded", "rejected", "succeeded"]  # Flow-CTRL actions all get their turn
    assert tasks[1]["approval"]["decision"] == "rejected" and tasks[1]["approval"]["by"] == "--reject"
    assert "deployed" not in result.stdout


def test_no_tty_rejects_at_once_naming_the_flags(flowtui, tmp_path):
    result = flowtui("run", "sketch.json", "--no-ui", "--report", "r.json", sketch=GATED)
    assert result.returncode == 1
    message = ("no approval (no terminal to ask): pass --approve 'ship/deploy', --approve-all, or "
               "--approval-timeout and approve from another terminal")
    assert f"✘ ship/deploy rejected by flowtui: {message}" in result.stdout
    task = json.loads((tmp_path / "r.json").read_text())["tasks"][1]
    assert task["status"] == "rejected" and task["approval"]["reason"] == message
    assert f"first failure: ship/deploy (rejected) — rejected by flowtui: {message}\n" in result.stdout


def test_approval_timeout_waits_for_another_terminal_then_rejects(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", "--approval-timeout", "0.2s", sketch=GATED)
    assert result.returncode == 1
    assert "✘ ship/deploy rejected by flowtui: no approval (waited 0.2s; no terminal to ask)" in result.stdout
    # --approval-timeout was given: the hint asks for a longer one, not for the option again
    assert ("pass --approve 'ship/deploy', --approve-all, or a longer --approval-timeout and approve from "
            "another terminal") in result.stdout


def test_set_gives_flowctrl_tasks_environment(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", "--set", "GREETING=hello there",
                     sketch={"s": [{"name": "a", "cmd": "echo \"$GREETING\" from $FLOWTUI_TASK_ID"}]})
    assert result.returncode == 0 and "[s/a] hello there from s/a\n" in result.stdout


def test_run_prints_load_warnings(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", sketch={"s": [{"name": "a", "cmd": "true", "retry": 1}]})
    assert result.returncode == 0
    assert re.match(r"^sketch\.json:6:16: warning: unknown key `retry` ignored \(known: ", result.stderr)


def test_ask_gates_any_task(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", "--ask", "one/b", sketch=PASSING)
    assert result.returncode == 1
    assert "? one/b awaits approval: Run one/b?" in result.stdout and "[one/b] b" not in result.stdout


def test_github_groups_stay_whole_with_parallel_tasks(tmp_path):
    from flowtui.reporters.console import ConsolePrinter

    from .test_engine_run import finish, flow_of, new_run, on_event, sh, wait_file

    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo a1; {wait_file(marker)}; echo a2"), sh("b", "echo b1; echo b2"),
                          sh("c", "echo c1", deps=[Dep(node="b")])), max_parallel=2)
    out = io.StringIO()
    ConsolePrinter(run, out, Tails(run.bus), color=False, github=True)
    on_event(run, "task_finished", lambda e: marker.touch(), task="c")  # a's output straddles b and c
    assert finish(run) == 0
    blocks = re.findall(r"^::group::(\S+)\n(.*?)^::endgroup::$", out.getvalue(), re.M | re.S)
    assert [(task, re.findall(r"^\[\w\] (\w+)$", body, re.M)) for task, body in blocks] == [
        ("a", ["a1", "a2"]), ("b", ["b1", "b2"]), ("c", ["c1"])]
    assert out.getvalue().count("::group::") == 3


# -- streaming -------------------------------------------------------------------------------------
def test_piped_output_streams_while_the_task_runs(flowtui_cmd, tmp_path, env):
    """CI reads a pipe: each line must arrive while the task still runs, not when the run ends."""
    from .test_engine_run import wait_file

    sketch = {"one": [{"name": "a", "cmd": f"echo first; {wait_file(tmp_path / 'go')}; echo second"}]}
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[one/a] first\n")
    try:
        assert "\u25b6 one/a started\n".encode() in seen and b"second" not in seen
        (tmp_path / "go").touch()
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "[one/a] second\n\u2714 one/a succeeded" in (seen + out).decode()


# -- task input ------------------------------------------------------------------------------------
def test_a_prompt_without_a_terminal_reads_end_of_input_and_does_not_hang(flowtui):
    """No terminal and no wait for another one (CI): a task's `read` gets end of input, as under
    make or a CI step."""
    result = flowtui("run", "sketch.json", "--no-ui", sketch={"s": [{"name": "ask", "cmd": "read x; echo got-$x"}]})
    assert result.returncode == 0, result.stderr
    assert "[s/ask] got-\n" in result.stdout


def test_send_to_a_run_without_a_terminal_says_why_it_cannot_answer(flowtui_cmd, tmp_path, env):
    from .test_engine_run import wait_file

    sketch = {"s": [{"name": "ask", "cmd": f"echo asking; {wait_file(tmp_path / 'go')}"}]}
    proc, _ = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[s/ask] asking\n")
    try:
        sent = subprocess.run([*flowtui_cmd, "send", "s/ask", "hello"], cwd=tmp_path, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)
        (tmp_path / "go").touch()
        proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert sent.returncode == 1 and "reads no input: this run has no terminal" in sent.stdout + sent.stderr
    assert proc.returncode == 0


def test_another_terminal_can_answer_a_prompt_when_the_run_waits_for_one(flowtui_cmd, tmp_path, env):
    (tmp_path / "sketch.json").write_text(json.dumps({"s": [{"name": "ask", "cmd": "echo asking; read x; echo got-$x"}]}))
    proc = subprocess.Popen([*flowtui_cmd, "run", "sketch.json", "--no-ui", "--approval-timeout", "5m"], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = read_until(proc, "[s/ask] asking\n")
        sent = subprocess.run([*flowtui_cmd, "send", "s/ask", "hello"], cwd=tmp_path, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)
        assert sent.returncode == 0, sent.stderr
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "[s/ask] got-hello\n" in (seen + out).decode()


# -- Ctrl-C --------------------------------------------------------------------------------------
def start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, text):
    """Start a headless run; return (process, stdout so far) once `text` was printed."""
    (tmp_path / "sketch.json").write_text(json.dumps(sketch))
    proc = subprocess.Popen([*flowtui_cmd, "run", "sketch.json", "--no-ui", "--report", "r.json"], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, read_until(proc, text)


def read_until(proc, text, seen=b""):
    deadline = time.monotonic() + LIMIT
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, seen
            seen += chunk
    assert text.encode() in seen, seen
    return seen


def test_ctrl_c_terminates_process_groups_and_exits_130(flowtui_cmd, tmp_path, env):
    sketch = {"one": [{"name": "a", "cmd": "sleep 30 & echo $! > child.pid; echo started; wait",
                       "teardown-cmd": "echo teardown"}, {"name": "b", "cmd": "echo b"}]}
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[one/a] started\n")
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    out = (seen + out).decode()
    assert proc.returncode == 130, err
    assert "interrupted" in err.decode()
    assert "[one/a] (teardown) teardown" in out and "[one/b]" not in out
    assert process_gone(int((tmp_path / "child.pid").read_text()))
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["status"], report["exit_code"]) == ("cancelled", 130)
    assert [t["status"] for t in report["tasks"]] == ["cancelled", "not_run"]


# -- the shipped deploy sketch ---------------------------------------------------------------------
def test_deploy_sketch(flowtui_cmd, tmp_path, env):
    """sketches/deploy.json: a non-fatal docs check fails, the fatal migration stops the run and rolls back."""
    sketch = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sketches", "deploy.json")
    result = subprocess.run([*flowtui_cmd, "run", sketch, "--no-ui", "--report", "r.json"], cwd=tmp_path,
                            env={**env, "TMPDIR": str(tmp_path)}, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=LIMIT)
    assert result.returncode == 1, result.stderr
    tasks = {t["id"]: t for t in json.loads((tmp_path / "r.json").read_text())["tasks"]}
    assert {tid: t["status"] for tid, t in tasks.items()} == {
        "prepare/workspace": "succeeded", "prepare/preflight": "succeeded", "build/package": "succeeded",
        "build/docs-links": "failed", "deploy/upload": "succeeded", "deploy/migrate": "failed",
        "deploy/switch": "not_run", "cleanup/workspace": "not_run",
    }
    assert tasks["deploy/migrate"]["hooks"] == [{"kind": "on_nok", "exit_code": 0}, {"kind": "teardown", "exit_code": 0}]
    assert tasks["deploy/upload"]["hooks"] == [{"kind": "setup", "exit_code": 0}, {"kind": "teardown", "exit_code": 0}]
    assert "■ stopping: deploy/migrate failed and is fatal" in result.stdout
    assert "[deploy/migrate] (on_nok) rolling back: removing releases/1.4.2" in result.stdout
    assert not list(tmp_path.glob("flowtui-deploy-*"))  # the rollback removed the workspace


def test_second_ctrl_c_kills_at_once(flowtui_cmd, tmp_path, env):
    """The first Ctrl-C cancels but lets teardown run; a second one kills what is left, and the
    run still ends with its report written (CI cancels with SIGINT, then SIGTERM), exit 130."""
    sketch = {"one": [{"name": "a", "cmd": "echo started; sleep 30",
                       "teardown-cmd": "sleep 30 & echo $! > teardown.pid; echo tearing; wait"}]}
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[one/a] started\n")
    try:
        proc.send_signal(signal.SIGINT)
        seen = read_until(proc, "[one/a] (teardown) tearing\n", seen)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert process_gone(int((tmp_path / "teardown.pid").read_text()))
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "cancelled"


def test_a_second_signal_before_teardown_skips_it_and_still_reports(flowtui_cmd, tmp_path, env):
    sketch = {"one": [{"name": "a", "cmd": "trap '' TERM; echo started; sleep 30", "teardown-cmd": "touch teardown-ran"}],
              "two": [{"name": "b", "cmd": "true"}]}
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[one/a] started\n")
    try:
        proc.send_signal(signal.SIGINT)  # the task ignores SIGTERM: without a second signal it has 3 s
        read_until(proc, "terminating running tasks", b"")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130 and not (tmp_path / "teardown-ran").exists()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "cancelled"
    assert [(t["id"], t["status"]) for t in report["tasks"]] == [("one/a", "cancelled"), ("two/b", "not_run")]


def test_tty_prompt_approves_and_rejects_with_a_reason(flowtui_cmd, tmp_path, env):
    pexpect = pytest.importorskip("pexpect")
    sketch = {"s": [{"name": "a", "cmd": "echo deployed", "approve": "Deploy?"}, {"name": "b", "cmd": "echo b", "approve": True}]}
    (tmp_path / "sketch.json").write_text(json.dumps(sketch))
    child = pexpect.spawn(flowtui_cmd[0], [*flowtui_cmd[1:], "run", "sketch.json", "--no-ui", "--report", "r.json"],
                          cwd=str(tmp_path), env={**env, "NO_COLOR": "1", "USER": "tester"}, encoding="utf-8",
                          timeout=LIMIT)
    child.expect_exact("? Deploy? [s/a]")
    child.expect_exact("approve? [y/N/reason to reject]: ")
    child.sendline("y")
    child.expect_exact("[s/a] deployed")
    child.expect_exact("? Run s/b? [s/b]")
    child.expect_exact("approve? [y/N/reason to reject]: ")
    child.sendline("not today")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    tasks = json.loads((tmp_path / "r.json").read_text())["tasks"]
    assert [(t["status"], t["approval"]["by"], t["approval"]["reason"]) for t in tasks] == [
        ("succeeded", "tester", None), ("rejected", "tester", "not today")]


def test_a_command_parsed_alone_is_the_same_command(capsys):
    """main() builds only the named command's parser; its help and parsing are the full parser's."""
    full = build_parser()
    names = list(full._subparsers._group_actions[0].choices)
    assert {"run", "validate", "graph", "logs", "attach", "send"} <= set(names)
    for name in names:
        alone = build_parser(only=name)
        assert alone._subparsers._group_actions[0].choices[name].format_help() == \
            full._subparsers._group_actions[0].choices[name].format_help()
    assert build_parser(only="no-such-command") is None
    with pytest.raises(SystemExit):
        from flowtui.cli import main

        main(["no-such-command"])
    assert "choose from 'run', 'validate', 'graph'" in capsys.readouterr().err


# -- approval globs and template ids ---------------------------------------------------------------
TEMPLATE = ("pipeline:\n  printOrders:\n    template:\n      selector:\n        - {name: order, value: $orders}\n"
            "      task:\n        printOne:\n          action: {service: printer, method: print, input: {message: $order}}\n")


def run_template(flowtui, tmp_path, *options):
    """The Fluxor template flow over two orders (tasks printOrders/printOne[0] and [1]); its JSON report."""
    (tmp_path / "tmpl.yaml").write_text(TEMPLATE)
    result = flowtui("run", "tmpl.yaml", "--no-ui", "--set", "orders=[apple,banana]", "--report", "r.json", *options)
    no_traceback(result)
    tasks = {t["id"]: t for t in json.loads((tmp_path / "r.json").read_text())["tasks"]}
    return result, tasks


def test_an_exact_id_with_brackets_is_approved_and_the_hint_prints_a_pattern_that_works(flowtui, tmp_path):
    result, tasks = run_template(flowtui, tmp_path, "--ask", "printOrders/*", "--approve", "printOrders/printOne[0]")
    assert result.returncode == 1
    assert tasks["printOrders/printOne[0]"]["approval"]["by"] == "--approve"
    hint = re.search(r"pass --approve '([^']*)'", result.stdout).group(1)
    assert hint == "printOrders/printOne[1]"
    assert "first failure: printOrders/printOne[1] (rejected)" in result.stdout  # the task, not its group
    result, tasks = run_template(flowtui, tmp_path, "--ask", "printOrders/*", "--approve", "printOrders/printOne[0]",
                                 "--approve", hint)
    assert result.returncode == 0, result.stdout
    assert [tasks[f"printOrders/printOne[{i}]"]["status"] for i in (0, 1)] == ["succeeded", "succeeded"]


def test_an_exact_id_with_brackets_is_rejected_before_approve_all(flowtui, tmp_path):
    result, tasks = run_template(flowtui, tmp_path, "--ask", "printOrders/*", "--reject", "printOrders/printOne[1]",
                                 "--approve-all")
    assert result.returncode == 1
    assert tasks["printOrders/printOne[1]"]["status"] == "rejected"
    assert tasks["printOrders/printOne[1]"]["approval"]["by"] == "--reject"
    assert tasks["printOrders/printOne[0]"]["status"] == "succeeded"
    result, tasks = run_template(flowtui, tmp_path, "--ask", "printOrders/*", "--reject", "printOrders/printOne[[]1]",
                                 "--approve-all")
    assert tasks["printOrders/printOne[1]"]["status"] == "rejected"  # still a glob


def test_ask_with_an_exact_id_with_brackets_gates_that_task_only(flowtui, tmp_path):
    result, tasks = run_template(flowtui, tmp_path, "--ask", "printOrders/printOne[1]", "--reject", "printOrders/printOne[1]")
    assert result.returncode == 1
    assert tasks["printOrders/printOne[0]"]["status"] == "succeeded" and "approval" not in tasks["printOrders/printOne[0]"]
    assert tasks["printOrders/printOne[1]"]["status"] == "rejected"

# -- validate: every flow of a file, and input no command may print --------------------------------
SEVERAL_FLOWS = """common:
  hosts: [h1]
  subs: 1
flows:
  - id: one
    name: First
    triggers: [{name: start, type: data}]
    tasks: [{name: a, listen: trigger.good, type: exec, opts: {cmd: "true"}}]
  - id: two
    triggers:
      - {name: t1, type: timer, opts: {period: 5}}
      - {name: t2, type: timer, opts: {period: 9}}
    tasks: [{name: b, listen: task.nope.good, type: exec, opts: {cmd: "true"}}]
"""


def test_validate_checks_every_flow_of_a_host_config(flowtui, tmp_path):
    """--flow (and --trigger) choose what a run runs: validate needs neither and checks every choice."""
    (tmp_path / "config.yml").write_text(SEVERAL_FLOWS)
    result = flowtui("validate", "config.yml")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "config.yml: Floe flow 'First' is valid",
        "  2 tasks",
        "  hosts: h1 (shown only: flowtui runs the flow on this machine)",
        "config.yml:3:3: warning: unknown key `subs` in common: Floe ignores it",
        "config.yml: Floe flow 'two' is valid",
        "  2 tasks",
        "  hosts: h1 (shown only: flowtui runs the flow on this machine)",
        "config.yml:13:31: warning: task `b`: never runs: `task.nope.good` is never emitted: there is no task or merge `nope`",
    ]
    assert flowtui("validate", "config.yml", "--flow", "two").stdout.splitlines()[0] == "config.yml: Floe flow 'two' is valid"
    (tmp_path / "config.yml").write_text(SEVERAL_FLOWS.replace("  - id: two\n", "  - id: two\n    flow-file: gone.yml\n"))
    result = flowtui("validate", "config.yml")  # the second flow's file is read only when that flow is loaded
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"config.yml:10:16: flow-file {tmp_path}/gone.yml: No such file or directory\n"


def test_validate_checks_both_flows_of_the_corpus_config(flowtui, corpus):
    result = flowtui("validate", str(corpus / "floe" / "config.yml"))
    assert result.returncode == 0, result.stderr
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines() if " is valid" in line] == [
        "Floe flow 'Build Project' is valid", "Floe flow 'danmux' is valid"]


@pytest.mark.parametrize(("name", "text", "where", "message"), [
    ("t15.json", '{"s\\ud800": [{"name": "a", "cmd": "echo hi"}]}', "1:4",
     "`\\ud800` is half of a UTF-16 surrogate pair, not a character: write the character itself, or both halves"),
    ("t13.json", '{"s": [{"name": "a", "cmd": "echo \\udc00"}]}', "1:35",
     "`\\udc00` is half of a UTF-16 surrogate pair, not a character: write the character itself, or both halves"),
    ("fx.yaml", 'pipeline:\n  a:\n    action: printer:print\n    input: {message: "x\\ud800"}\n', "4:22", None),
    ("fx.json", '{"pipeline": {"a": {"action": "printer:print", "input": {"message": "\\ud800"}}}}', "1:69", None),
    ("fl.yml", 'name: f\ntasks:\n  - {name: "a\\udfff", listen: trigger.good, type: exec, opts: {cmd: "true"}}\n', "3:12", None),
], ids=["flowctrl-key", "flowctrl-cmd", "fluxor-yaml", "fluxor-json", "floe"])
def test_lone_surrogate_escapes_are_located_errors_not_a_crash(flowtui, tmp_path, name, text, where, message):
    """A lone surrogate loads as a character no output can encode: run and graph crashed printing it."""
    (tmp_path / name).write_text(text)
    message = message or ("invalid YAML: this string escapes a UTF-16 surrogate (\\uD800-\\uDFFF), which is not a "
                          "character (Go's YAML refuses it): write the character itself, or \\U and its 8-digit code point")
    for args in (["validate", name], ["run", name, "--no-ui"], ["graph", name]):
        result = flowtui(*args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", f"{name}:{where}: {message}\n")


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("yamlfc.yaml", "s:\n  - name: a\n    cmd: echo hi\n",
     "yamlfc.yaml:1:1: this looks like a Flow-CTRL sketch written in YAML, but Flow-CTRL sketches are JSON: "
     "write it as JSON (the YAML formats are Fluxor workflows and Floe flows)"),
    ("t7.json", '{"s": [{"name": "a", "cmd": "echo hi"}, 5]}',
     "t7.json:1:41: an action must be an object with at least `name` and `cmd`"),
], ids=["yaml", "bad-action"])
def test_a_detected_near_sketch_gets_its_real_problem(flowtui, tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    result = flowtui("validate", name)
    assert (result.returncode, result.stderr) == (2, expected + "\n")


def test_validate_and_run_warn_about_duplicate_keys(flowtui, tmp_path):
    (tmp_path / "dup.json").write_text('{"s": [{"name": "a", "cmd": "echo first"}], "s": [{"name": "a", "cmd": "echo second"}]}')
    warning = "dup.json:1:45: warning: duplicate key `s`: the later value wins (as Flow-CTRL's json.load)\n"
    result = flowtui("validate", "dup.json")
    assert result.returncode == 0 and result.stdout.endswith(warning)
    result = flowtui("run", "dup.json", "--no-ui")
    assert (result.returncode, result.stderr) == (0, warning) and "[s/a] second\n" in result.stdout


def test_many_identical_warnings_stay_on_one_screen(flowtui, tmp_path):
    actions = [{"name": f"a{i}", "cmd": "true", "retries": 3} for i in range(80)]
    (tmp_path / "many.json").write_text(json.dumps({"s": actions}, indent=1))
    result = flowtui("validate", "many.json")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 6, result.stdout
    assert lines[2].startswith("many.json:") and "unknown key `retries` ignored" in lines[2]
    assert lines[5].startswith("many.json: warning: the same 77 more times, at ") and lines[5].endswith(", …")
    run = flowtui("run", "many.json", "--no-ui")
    assert run.returncode == 0 and len(run.stderr.splitlines()) == 4


def test_max_parallel_beyond_the_open_file_limit_is_capped_not_failed(flowtui_cmd, tmp_path, env):
    """Each running task holds pipes and a pidfd: past `ulimit -n` tasks failed with EMFILE (126)."""
    import resource

    lines = ["id: many", "ver: 1", "tasks:"]
    for i in range(40):
        lines += [f"  - name: t{i}", "    listen: trigger.good", "    type: exec", "    opts:", "      cmd: /bin/true"]
    (tmp_path / "many.floe.yml").write_text("\n".join(lines) + "\n")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    done = subprocess.run([*flowtui_cmd, "run", "many.floe.yml", "--no-ui", "--max-parallel", "40", "--report", "r.json"],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "at most 8 tasks run at once: 40 would need more open files than allowed (ulimit -n)" in done.stdout + done.stderr
    assert {t["status"] for t in json.loads((tmp_path / "r.json").read_text())["tasks"]} == {"succeeded"}


def test_a_flow_of_more_printing_tasks_than_open_files_is_recorded_whole(flowtui_cmd, tmp_path, env):
    """The store kept every task's log file open: past `ulimit -n` it stopped recording (EMFILE)."""
    import resource

    (tmp_path / "many.json").write_text(json.dumps({"s": [{"name": f"a{i}", "cmd": f"echo line {i}"} for i in range(200)]}))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    state = str(tmp_path / "state")
    done = subprocess.run([*flowtui_cmd, "run", "many.json", "--no-ui", "--state-dir", state],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard)))
    assert done.returncode == 0 and "could not record" not in done.stderr, done.stderr
    logs = subprocess.run([*flowtui_cmd, "logs", os.listdir(os.path.join(state, "runs"))[0], "--state-dir", state],
                          capture_output=True, text=True, timeout=LIMIT, env=env)
    assert logs.stdout.splitlines() == [f"[s/a{i}] line {i}" for i in range(200)]


def test_an_empty_stage_is_no_task(flowtui, tmp_path):
    (tmp_path / "e.json").write_text('{"name": "x", "s": [], "t": [{"name": "a", "cmd": "true"}]}')
    assert "  1 task in 1 group" in flowtui("validate", "e.json").stdout
    result = flowtui("run", "e.json", "--no-ui", "--report", "r.json")
    assert result.returncode == 0
    assert [t["id"] for t in json.loads((tmp_path / "r.json").read_text())["tasks"]] == ["t/a"]


def test_a_flow_without_tasks_says_so_in_its_summary(flowtui):
    result = flowtui("run", "sketch.json", "--no-ui", sketch={"name": "x", "s": []})
    assert result.returncode == 0, result.stderr
    assert re.match(r"^✔ run succeeded in \S+: no tasks \(exit 0\)$", result.stdout.splitlines()[-1]), result.stdout


def _helps(command):
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    return {(action.option_strings or [action.dest])[-1]: action.help or "" for action in parser._actions}


def test_run_help_tells_what_the_options_do():
    helps = _helps("run")
    timeout = helps["--approval-timeout"]  # it decides gates, autoPause and whether tasks read /dev/null
    assert "approve" in timeout and "autoPause" in timeout and "/dev/null" in timeout
    assert "repeatable" in helps["--ask"] and "repeatable" in helps["--pty"]
    assert "default 10000" in helps["--max-iterations"]
    assert "recorded" in helps["--resume"]  # the flow's options are the run's own, not these


def test_resume_help_says_an_ended_run_is_named():
    assert "ended run" in _helps("resume")["run"]
