"""`flowtui run --no-ui` as CI runs it: no terminal, stdin from /dev/null, output to files and pipes."""

import json
import os
import re
import subprocess

import pytest

from .test_cli import run_in_process
from .test_engine_run import process_gone

LIMIT = 60  # a guard against a hang, not a timing assertion


@pytest.fixture
def ci_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "NO_COLOR", "PYTHONUNBUFFERED")}
    env.update(CI="true", TERM="dumb", FLOWTUI_STATE_DIR=str(tmp_path / "state"))
    return env


@pytest.fixture
def ci_run(flowtui_cmd, tmp_path, ci_env):
    """ci_run(*args, sketch=dict, extra_env=None) -> CompletedProcess: `flowtui ARGS` in tmp_path, as CI
    runs it (stdin /dev/null, stdout and stderr pipes)."""

    def call(*args, sketch=None, extra_env=None):
        if sketch is not None:
            (tmp_path / "sketch.json").write_text(json.dumps(sketch, indent=2))
        return subprocess.run(
            [*flowtui_cmd, *args], cwd=tmp_path, env={**ci_env, **(extra_env or {})}, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=LIMIT,
        )

    return call


def test_a_background_child_that_floods_the_output_does_not_keep_the_run_going(ci_run, tmp_path):
    """A task's leader exits while a child it started in the background keeps writing to the task's
    output faster than flowtui reads it (`yes &`): the task ends with its leader, the child is ended
    with it, and the run goes on. flowtui used to read the pipe until it was empty, which it never
    was: the run hung for good, deaf to SIGTERM, filling the --events file."""
    # The leader waits on a FIFO until the child has written a first burst and starts flooding.
    flood = ("mkfifo ready; (head -c 300000 /dev/zero | tr '\\0' '\\n'; echo > ready; exec yes) & "
             "read go < ready; echo leader done")
    sketch = {"name": "bg", "s": [{"name": "flood", "cmd": flood}, {"name": "after", "cmd": "echo after"}]}
    result = ci_run("run", "sketch.json", "--no-ui", "--events", "events.jsonl", sketch=sketch)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "[s/flood] leader done\n" in out and "[s/after] after\n" in out
    assert "run succeeded" in out


PASSING = {"name": "ok", "s": [{"name": "a", "cmd": "echo a"}, {"name": "b", "cmd": "echo b"}]}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device every write fails on: a full disk)")
def test_events_that_cannot_be_written_during_the_run_fail_it_without_a_traceback(ci_run, tmp_path):
    """The disk fills up while --events is written: the run goes on, its other reports are written,
    one line says what happened and the exit code is 1, as for a --report that cannot be written.
    It used to end in a traceback at the first event, before any task ran."""
    result = ci_run("run", "sketch.json", "--no-ui", "--events", "/dev/full", "--report", "run.json", sketch=PASSING)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "Traceback" not in err
    assert "[s/a] a\n" in out and "[s/b] b\n" in out
    assert err == "flowtui: cannot write --events /dev/full: No space left on device (exit 1, though the run succeeded)\n"
    assert result.returncode == 1
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stdout_that_cannot_encode_the_status_marks_still_gets_the_run(ci_run, encoding):
    """A CI job whose locale or PYTHONIOENCODING gives stdout an encoding without ▶ ✔ (or a task's
    output): what cannot be encoded is replaced. It used to end the run in a traceback at the first
    line, leaving the task it had started running."""
    sketch = {"name": "enc", "s": [{"name": "a", "cmd": "echo café ☕"}, {"name": "b", "cmd": "echo b"}]}
    result = ci_run("run", "sketch.json", "--no-ui", sketch=sketch, extra_env={"PYTHONIOENCODING": encoding})
    out, err = result.stdout.decode(encoding), result.stderr.decode(encoding)
    assert "Traceback" not in err
    assert result.returncode == 0, err
    assert ("[s/a] caf? ?\n" if encoding == "ascii" else "[s/a] café ?\n") in out
    assert "[s/b] b\n" in out and "? s/b succeeded, exit 0" in out


def test_github_workflow_commands_from_a_task_reach_the_runner(ci_run):
    """Under GitHub Actions a task's `::add-mask::`, `::error file=…::` (ruff/eslint's github output
    format), `::warning::`… are written at the start of the line, where the runner reads them: with
    the task-id prefix in front they were plain text, so a masked secret was printed in the log and
    no annotation appeared. `::group::`/`::endgroup::` keep the prefix: flowtui's own groups fold
    each task, and GitHub does not nest groups."""
    cmd = ("echo '::add-mask::s3cret'; echo '::error file=app.py,line=3,col=1::F401 unused import'; "
           "echo '  ::warning::spaced'; echo '::group::inner'; echo 'plain :: text'; echo '::endgroup::'")
    sketch = {"name": "gh", "s": [{"name": "lint", "cmd": cmd}]}
    result = ci_run("run", "sketch.json", "--no-ui", sketch=sketch, extra_env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    start = lines.index("▶ s/lint started")
    assert lines[start + 1:start + 7] == [
        "::add-mask::s3cret",
        "::error file=app.py,line=3,col=1::F401 unused import",
        "  ::warning::spaced",
        "[s/lint] ::group::inner",
        "[s/lint] plain :: text",
        "[s/lint] ::endgroup::",
    ]


def test_workflow_commands_keep_the_prefix_outside_github_actions(ci_run):
    sketch = {"name": "gh", "s": [{"name": "lint", "cmd": "echo '::error::boom'"}]}
    result = ci_run("run", "sketch.json", "--no-ui", sketch=sketch)
    assert "[s/lint] ::error::boom\n" in result.stdout.decode()


@pytest.mark.parametrize("closed", ["<&-", ">&-"], ids=["stdin", "stdout"])
def test_a_closed_stdin_or_stdout_is_read_as_dev_null(flowtui_cmd, tmp_path, ci_env, closed):
    """A job step that closes a standard descriptor (`flowtui run … <&-`): the run happens as with
    /dev/null there. Python leaves sys.stdin (or sys.stdout) None then, and flowtui ended in an
    AttributeError traceback before running anything."""
    (tmp_path / "sketch.json").write_text(json.dumps(PASSING))
    argv = [*flowtui_cmd, "run", "sketch.json", "--no-ui", "--report", "run.json"]
    result = subprocess.run(["/bin/sh", "-c", f'exec "$@" {closed}', "sh", *argv], cwd=tmp_path, env=ci_env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=LIMIT)
    assert "Traceback" not in result.stderr.decode()
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "succeeded"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_default_max_parallel_is_the_cpus_the_runner_may_use(flowtui_cmd, tmp_path, ci_env):
    """A CI container pinned to some CPUs (docker --cpuset-cpus, taskset) runs as many tasks at once
    as it has CPUs, as `nproc` counts them, not as many as the host has: pinned to one, the two
    tasks that both wait on the trigger run one after the other."""
    flow = ("id: pinned\ntasks:\n"
            "  - {name: a, listen: trigger.good, type: exec, opts: {cmd: 'echo a'}}\n"
            "  - {name: b, listen: trigger.good, type: exec, opts: {cmd: 'echo b'}}\n")
    (tmp_path / "pinned.floe.yml").write_text(flow)
    result = subprocess.run(
        [*flowtui_cmd, "run", "pinned.floe.yml", "--no-ui", "--events", "events.jsonl"], cwd=tmp_path, env=ci_env,
        stdin=subprocess.DEVNULL, capture_output=True, timeout=LIMIT,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    order = [(e["type"], e["task"]) for e in events
             if e["type"] in ("task_started", "task_finished") and e["task"] in ("a", "b")]
    assert order == [("task_started", "a"), ("task_finished", "a"), ("task_started", "b"), ("task_finished", "b")]


# -- colour ---------------------------------------------------------------------------------------
ONE = {"name": "c", "s": [{"name": "a", "cmd": "echo a"}]}


def on_a_terminal(flowtui_cmd, tmp_path, env):
    """(exit code, stdout bytes) of `flowtui run sketch.json --no-ui` with stdout a pseudo-terminal."""
    (tmp_path / "sketch.json").write_text(json.dumps(ONE))
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([*flowtui_cmd, "run", "sketch.json", "--no-ui"], cwd=tmp_path, env=env,
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    finally:
        os.close(slave)
    chunks = []
    try:
        while chunk := os.read(master, 65536):  # EIO once the child closed the terminal's last copy
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(master)
    proc.communicate(timeout=LIMIT)
    return proc.returncode, b"".join(chunks)


@pytest.mark.parametrize(("extra", "coloured"), [
    ({}, False),
    ({"FORCE_COLOR": "1"}, True),
    ({"FORCE_COLOR": "0"}, False),
    ({"FORCE_COLOR": ""}, False),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ({"FORCE_COLOR": "1", "NO_COLOR": ""}, True),
], ids=["plain", "force", "force-0", "force-empty", "no-color-wins", "empty-no-color"])
def test_force_color_colours_a_log_that_is_no_terminal(ci_run, extra, coloured):
    """A CI log (GitHub Actions, GitLab) is a pipe that renders ANSI colours: FORCE_COLOR (set and not
    "0") asks for them there, NO_COLOR (set and not empty) still wins. Neither was read before."""
    result = ci_run("run", "sketch.json", "--no-ui", sketch=ONE, extra_env=extra)
    assert result.returncode == 0, result.stderr
    assert (b"\x1b[" in result.stdout) is coloured
    assert b"a succeeded, exit 0" in result.stdout


@pytest.mark.parametrize(("extra", "coloured"), [
    ({"TERM": "xterm"}, True),
    ({"TERM": "xterm", "NO_COLOR": ""}, True),
    ({"TERM": "xterm", "NO_COLOR": "1"}, False),
    ({"TERM": "dumb"}, False),
    ({"TERM": "dumb", "FORCE_COLOR": "1"}, True),
], ids=["terminal", "empty-no-color", "no-color", "dumb", "dumb-forced"])
def test_colour_on_a_terminal_follows_no_color_and_term(flowtui_cmd, tmp_path, ci_env, extra, coloured):
    """On a terminal: colour, unless NO_COLOR is set to something (an empty NO_COLOR is unset, as
    no-color.org says; it used to turn colour off) or TERM=dumb says the terminal cannot show it."""
    code, out = on_a_terminal(flowtui_cmd, tmp_path, {**ci_env, **extra})
    assert code == 0, out
    assert (b"\x1b[" in out) is coloured
    assert b"a succeeded, exit 0" in out


# -- a bug in flowtui itself ------------------------------------------------------------------------
def holding_task(tmp_path):
    """A task that records its shell's pid and its background child's, says `go`, and waits."""
    return {"name": "bug", "s": [{"name": "a", "cmd": (
        f"sleep 300 & echo $! > {tmp_path}/child.pid; echo $$ > {tmp_path}/leader.pid; echo go; wait")}]}


def broken_subscriber(run):
    """Subscribes a subscriber that raises once the task said `go` (a bug in a reporter, say)."""

    def broken(event):
        if event.type == "task_output" and "go" in event.text.split("\n"):
            raise ZeroDivisionError("a subscriber's bug")

    run.bus.subscribe(broken)


def test_a_bug_in_a_subscriber_ends_the_headless_run_and_its_tasks(tmp_path, capsys):
    """An exception escaping the run loop (here from an event subscriber): every task's process group
    is killed, one line on stderr names the bug, exit 1. The exception used to end flowtui in a
    traceback with the task and its child left running."""
    code, out, _ = run_in_process(tmp_path, holding_task(tmp_path), control=broken_subscriber)
    assert process_gone(int((tmp_path / "leader.pid").read_text()))
    assert process_gone(int((tmp_path / "child.pid").read_text()))
    assert code == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("flowtui: internal error: ZeroDivisionError: a subscriber's bug (")
    assert "running tasks were killed" in err[0]


def test_a_bug_on_the_tui_engine_thread_ends_the_tasks(tmp_path):
    """The TUI's engine thread dies of the same bug: its tasks are killed with it (no reactor is left
    to end them when the TUI closes), and the TUI is told the run failed."""
    from flowtui.engine.loaders import load
    from flowtui.engine.run import Run
    from flowtui.screens.source import LocalSource

    (tmp_path / "sketch.json").write_text(json.dumps(holding_task(tmp_path)))
    run = Run(*load(str(tmp_path / "sketch.json")), kill_grace=0.5)
    broken_subscriber(run)
    source = LocalSource(run)
    source._thread.join(LIMIT)
    assert not source._thread.is_alive()
    assert process_gone(int((tmp_path / "leader.pid").read_text()))
    assert process_gone(int((tmp_path / "child.pid").read_text()))
    assert [e.type for e in source.drain()][-2:] == ["notice", "run_finished"]
    source.close()


def test_the_summary_tail_runs_no_workflow_command_a_second_time(ci_run):
    """Under GitHub Actions the summary quotes the first failure's last lines, indented; the runner
    ignores the indent, so a `::error::` there made a second annotation (and `::add-mask::`,
    `::set-output`… ran again). The quote is now between `::stop-commands::TOKEN` and `::TOKEN::`, the
    documented way to print untrusted text, with a token the task cannot have guessed."""
    cmd = "echo '::error::broken'; echo '::add-mask::s3cret'; echo done; exit 2"
    sketch = {"name": "gh", "s": [{"name": "lint", "cmd": cmd}]}
    result = ci_run("run", "sketch.json", "--no-ui", sketch=sketch, extra_env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert lines.count("::error::broken") == 1  # where the task printed it, not again in the summary
    first = lines.index("first failure: s/lint (failed, exit 2)")
    stop, *tail, start = lines[first + 1:]
    token = stop.removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert tail == ["  ::error::broken", "  ::add-mask::s3cret", "  done"]
    assert start == f"::{token}::"


def test_the_summary_tail_is_plain_outside_github_actions(ci_run):
    sketch = {"name": "gh", "s": [{"name": "lint", "cmd": "echo '::error::broken'; exit 2"}]}
    lines = ci_run("run", "sketch.json", "--no-ui", sketch=sketch).stdout.decode().splitlines()
    assert lines[-2:] == ["first failure: s/lint (failed, exit 2)", "  ::error::broken"]


def test_junit_suite_time_is_the_runs_wall_time_when_tasks_overlap(tmp_path):
    """Two tasks that can only end together (each waits for the other): the suite's `time` is the
    run's wall time, as pytest's --junitxml writes it and Jenkins shows it, not the sum of the cases'
    times, which grows past the wall time as tasks run in parallel. Each case keeps its own time."""
    import xml.etree.ElementTree as ET

    from flowtui.engine.model import Action, FlowDef, Node
    from flowtui.engine.run import Run
    from flowtui.reporters.junit import junit_xml
    from flowtui.reporters.tails import Tails

    os.mkfifo(tmp_path / "ping")
    os.mkfifo(tmp_path / "pong")
    commands = {"a": f"echo > {tmp_path}/ping; read line < {tmp_path}/pong",
                "b": f"read line < {tmp_path}/ping; echo > {tmp_path}/pong"}
    nodes = {nid: Node(id=nid, name=nid, action=Action(kind="shell", params={"cmd": cmd})) for nid, cmd in commands.items()}
    run = Run(FlowDef(name="f", format="test", file=None, nodes=nodes, roots=("a", "b")), max_parallel=2)
    tails = Tails(run.bus)
    assert run.run_to_end() == 0
    suite = ET.fromstring(junit_xml(run, tails))
    assert suite.get("time") == f"{run.finished_at - run.started_at:.3f}"
    assert [c.get("time") for c in suite.iter("testcase")] == [f"{run.states[n].duration():.3f}" for n in "ab"]
