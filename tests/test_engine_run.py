"""The engine with real processes: hooks, failure policy, timeouts, streaming, control, routing, dynamic graphs.

Runs are driven on the test's thread through the reactor; tests synchronise on engine events and marker
files (bounded), never on sleeps.
"""

import json
import os
import threading
import time

import pytest

from flowtui.engine.controller import Controller
from flowtui.engine.loaders import load
from flowtui.engine.model import (
    COND_ERRORED,
    COND_EXIT,
    COND_FAILED,
    COND_FINISHED,
    COND_SUCCEEDED,
    FAILED,
    SUCCEEDED,
    Action,
    Approval,
    Dep,
    Field,
    FlowDef,
    Node,
    Retry,
)
from flowtui.engine.process import LineSplitter
from flowtui.engine.run import Run, Runtime
from flowtui.reporters.json_report import report

LIMIT = 20.0  # seconds any single wait may take before the test fails instead of hanging


# -- building and driving runs ---------------------------------------------------------------------
def sh(nid, cmd, parent=None, deps=(), hooks=None, **policy):
    return Node(
        id=nid, name=nid.rsplit("/", 1)[-1], parent=parent, deps=tuple(deps),
        action=Action(kind="shell", params={"cmd": cmd}),
        hooks={kind: Action(kind="shell", params={"cmd": c}) for kind, c in (hooks or {}).items()}, **policy,
    )


def group(nid, children, parent=None, deps=()):
    return Node(id=nid, name=nid, parent=parent, children=tuple(children), deps=tuple(deps), label="group")


def flow_of(*nodes, cwd=None):
    return FlowDef(
        name="test", format="test", file=None, nodes={n.id: n for n in nodes},
        roots=tuple(n.id for n in nodes if n.parent is None), cwd=cwd,
    )


def sketch(tmp_path, data):
    path = tmp_path / "sketch.json"
    path.write_text(json.dumps(data))
    return load(str(path))[0]


def new_run(flow, **options):
    options.setdefault("kill_grace", 0.5)
    return Run(flow, **options)


def drive(run, until, limit=LIMIT):
    """Turn the reactor until `until()` holds (starting the run if needed); fail after `limit` s."""
    deadline = time.monotonic() + limit
    wake = run.reactor.call_later(limit, lambda: None)
    if run.status == "pending":
        run.reactor.call_soon(run.start)
    run.reactor.run(until=lambda: until() or time.monotonic() > deadline)
    wake.cancel()
    assert until(), "the run did not get there in time"


def finish(run):
    drive(run, lambda: run.finished)
    return run.exit_code


def statuses(run, *ids):
    return {nid: run.states[nid].status for nid in (ids or [n for n in run.nodes if run.nodes[n].is_task])}


def on_event(run, type_name, callback, task=None, once=True):
    """Call `callback(event)` on the next loop turn after a matching event (not re-entrantly)."""
    fired = []

    def listener(event):
        if event.type == type_name and (task is None or event.task == task) and not (once and fired):
            fired.append(event)
            run.reactor.call_soon(callback, event)

    run.bus.subscribe(listener)
    return fired


def on_line(run, text, callback):
    """Call `callback()` once a task prints `text`."""
    fired = []

    def listener(event):
        if event.type == "task_output" and text in event.lines and not fired:
            fired.append(event)
            run.reactor.call_soon(callback)

    run.bus.subscribe(listener)
    return fired


def hooked_output(rec, task):
    return [(e.hook, line) for e in rec.events if e.type == "task_output" and e.task == task for line in e.lines]


def wait_file(path):
    return f"while [ ! -e {path} ]; do sleep 0.01; done"


def process_gone(pid, limit=LIMIT):
    """True once `pid` no longer exists or is a zombie (bounded poll on the process state)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


ALL_HOOKS = {"setup": "echo setup", "on_ok": "echo ok", "on_nok": "echo nok", "teardown": "echo teardown"}


# -- hooks and failure policy ---------------------------------------------------------------------
def test_hooks_run_in_order_around_a_success(record):
    run = new_run(flow_of(sh("t", "echo cmd", hooks=ALL_HOOKS)))
    rec = record(run)
    assert finish(run) == 0
    assert hooked_output(rec, "t") == [("setup", "setup"), (None, "cmd"), ("on_ok", "ok"), ("teardown", "teardown")]
    assert [(e.type, e.hook) for e in rec.types("hook_started", "hook_finished")] == [
        ("hook_started", "setup"), ("hook_finished", "setup"), ("hook_started", "on_ok"), ("hook_finished", "on_ok"),
        ("hook_started", "teardown"), ("hook_finished", "teardown"),
    ]
    assert run.states["t"].hooks == [("setup", 0), ("on_ok", 0), ("teardown", 0)]


def test_hooks_run_in_order_around_a_failure(record):
    run = new_run(flow_of(sh("t", "echo cmd; exit 3", hooks=ALL_HOOKS)))
    rec = record(run)
    assert finish(run) == 1
    assert hooked_output(rec, "t") == [("setup", "setup"), (None, "cmd"), ("on_nok", "nok"), ("teardown", "teardown")]
    assert (run.states["t"].status, run.states["t"].exit_code) == (FAILED, 3)
    assert run.status == "failed"


def test_only_cmd_decides_and_failing_hooks_are_recorded(record):
    hooks = {"setup": "exit 5", "on_ok": "exit 6", "teardown": "exit 7"}
    run = new_run(flow_of(sh("ok", "echo fine", hooks=hooks), sh("bad", "exit 2", hooks={"on_nok": "true"})))
    record(run)
    assert finish(run) == 1
    assert run.states["ok"].status == SUCCEEDED and run.states["ok"].exit_code == 0
    assert run.states["ok"].hooks == [("setup", 5), ("on_ok", 6), ("teardown", 7)]
    assert run.states["bad"].status == FAILED and run.states["bad"].hooks == [("on_nok", 0)]
    entry = next(t for t in report(run)["tasks"] if t["id"] == "ok")
    assert entry["hooks"] == [{"kind": "setup", "exit_code": 5}, {"kind": "on_ok", "exit_code": 6},
                              {"kind": "teardown", "exit_code": 7}]


def test_fatal_failure_stops_the_run_after_its_hooks(tmp_path, record):
    flow = sketch(tmp_path, {
        "one": [
            {"name": "a", "cmd": "true"},
            {"name": "b", "cmd": "exit 4", "fatal-nok": True, "on-nok-cmd": "echo rollback", "teardown-cmd": "echo teardown"},
            {"name": "c", "cmd": "true"},
        ],
        "two": [{"name": "d", "cmd": "true"}],
    })
    run = new_run(flow)
    rec = record(run)
    assert finish(run) == 1
    assert statuses(run) == {"one/a": "succeeded", "one/b": "failed", "one/c": "not_run", "two/d": "not_run"}
    assert hooked_output(rec, "one/b") == [("on_nok", "rollback"), ("teardown", "teardown")]
    assert [(e.mode, e.by) for e in rec.types("run_stopping")] == [("fatal", "one/b")]
    assert run.status == "failed" and rec.order() == ["one/a", "one/b"]
    assert (run.states["one"].status, run.states["two"].status) == ("failed", "not_run")  # "one" ran and failed
    finished = {e.task: e.status for e in rec.types("group_finished")}
    assert finished == {"one": "failed", "two": "not_run"}


def test_non_fatal_failure_continues_and_fails_the_run(tmp_path, record):
    flow = sketch(tmp_path, {
        "one": [{"name": "a", "cmd": "exit 1"}, {"name": "b", "cmd": "true"}],
        "two": [{"name": "c", "cmd": "true"}],
    })
    run = new_run(flow)
    rec = record(run)
    assert finish(run) == 1
    assert statuses(run) == {"one/a": "failed", "one/b": "succeeded", "two/c": "succeeded"}
    assert rec.order() == ["one/a", "one/b", "two/c"] and run.status == "failed"


def test_ignored_failure_does_not_fail_the_run():
    run = new_run(flow_of(sh("a", "exit 1", ignore_failure=True), sh("b", "true", deps=[Dep(node="a")])))
    assert finish(run) == 0
    assert statuses(run) == {"a": "failed", "b": "succeeded"}


# -- timeouts --------------------------------------------------------------------------------------
# A task with a working directory starts through subprocess, or through posix_spawn around a chdir
# of the runner when the run owns the process's working directory (headless).
IN_DIR = pytest.mark.parametrize("in_dir", [None, "subprocess", "owned"], ids=["inherited-cwd", "task-cwd", "task-cwd-owned"])


def in_dir_run(flow, in_dir, **options):
    run = new_run(flow, **options)
    run.owns_cwd = in_dir == "owned"
    return run


@IN_DIR
def test_timeout_kills_the_whole_process_group(tmp_path, record, in_dir):
    pidfile = tmp_path / "grandchild.pid"
    cmd = f"sh -c 'sleep 30 & echo $! > {pidfile}; wait'"
    run = in_dir_run(flow_of(sh("t", cmd, timeout=0.3, hooks={"teardown": "echo teardown"}), cwd=str(tmp_path) if in_dir else None), in_dir)
    rec = record(run)
    assert finish(run) == 1
    state = run.states["t"]
    assert (state.status, state.exit_code) == ("timed_out", 124)
    assert "timed out after" in state.error
    assert hooked_output(rec, "t") == [("teardown", "teardown")]
    assert process_gone(int(pidfile.read_text()))


def test_timeout_kills_a_group_that_ignores_sigterm(tmp_path):
    pidfile = tmp_path / "stubborn.pid"
    run = new_run(flow_of(sh("t", f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait", timeout=0.3)), kill_grace=0.2)
    assert finish(run) == 1
    assert (run.states["t"].status, run.states["t"].exit_code) == ("timed_out", 124)
    assert process_gone(int(pidfile.read_text()))


def test_timeout_applies_to_each_command_separately():
    hooks = {"setup": "sleep 0.5", "teardown": "sleep 0.5"}
    run = new_run(flow_of(sh("t", "sleep 0.5", timeout=1.2, hooks=hooks)))
    assert finish(run) == 0  # 1.5 s in all, but no single command exceeds 1.2 s
    assert run.states["t"].hooks == [("setup", 0), ("teardown", 0)]


def test_a_hook_that_times_out_is_recorded_and_the_task_goes_on():
    run = new_run(flow_of(sh("t", "echo cmd", timeout=0.3, hooks={"setup": "sleep 30", "teardown": "true"})))
    assert finish(run) == 0
    assert run.states["t"].status == SUCCEEDED
    assert run.states["t"].hooks == [("setup", 124), ("teardown", 0)]


# -- output ---------------------------------------------------------------------------------------
def test_output_streams_line_by_line_and_the_partial_last_line_is_flushed(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("t", f"echo first; echo oops >&2; {wait_file(marker)}; printf partial")))
    rec = record(run)
    on_line(run, "first", marker.touch)  # the command only ends after its first line was seen
    assert finish(run) == 0
    assert [(e.stream, e.lines) for e in rec.types("task_output")] == [
        ("stdout", ["first"]), ("stderr", ["oops"]), ("stdout", ["partial"]),
    ]


def test_line_splitter_keeps_partial_lines_and_split_characters():
    splitter = LineSplitter()
    assert splitter.feed(b"a\r\nb") == "a"
    assert splitter.feed("c\u00e9\n".encode()[:3]) is None  # the é is cut in two
    assert splitter.feed("c\u00e9\n".encode()[3:] + b"tail") == "bc\u00e9"
    assert splitter.feed(b"\n\nx\r\r\ny\n") == "tail\n\nx\ny"  # empty lines kept, every line's CRs dropped
    assert splitter.flush() is None
    splitter.feed(b"end")
    assert splitter.flush() == "end" and splitter.flush() is None
    pieces = [b"x" * 1000] * 50
    assert all(splitter.feed(piece) is None for piece in pieces)  # one line over many reads
    assert splitter.feed(b"\nnext") == "x" * 50_000 and splitter.flush() == "next"


def test_long_lines_arrive_whole(record):
    run = new_run(flow_of(sh("t", "head -c 200000 /dev/zero | tr '\\0' x; echo; printf end")))
    rec = record(run)
    assert finish(run) == 0
    assert [len(line) for line in rec.output("t")] == [200000, 3]


def test_pty_mode_makes_the_output_a_terminal(record):
    check = "if test -t 1; then echo tty; else echo pipe; fi"
    run = new_run(flow_of(sh("pty", check, pty=True), sh("pipes", check)))
    rec = record(run)
    assert finish(run) == 0
    assert rec.output("pty") == ["tty"] and rec.output("pipes") == ["pipe"]
    assert {e.stream for e in rec.types("task_output") if e.task == "pty"} == {"pty"}


@IN_DIR
def test_start_failures_exit_as_the_shell_would(tmp_path, record, in_dir):
    script = tmp_path / "not-executable"
    script.write_text("echo hi\n")
    run = in_dir_run(flow_of(sh("missing", "no-such-program-flowtui --help"), sh("denied", f"{script} --flag"),
                             sh("shell", f"{script}; exit $?"), cwd=str(tmp_path) if in_dir else None), in_dir)
    rec = record(run)
    assert finish(run) == 1
    assert {nid: s.exit_code for nid, s in run.states.items()} == {"missing": 127, "denied": 126, "shell": 126}
    assert rec.output("missing") == ["flowtui: no-such-program-flowtui: No such file or directory"]


@IN_DIR
@pytest.mark.parametrize("pty", [False, True], ids=["pipes", "pty"])
def test_direct_exec_behaves_as_sh_c_would(tmp_path, record, in_dir, pty):
    """Commands without shell syntax skip /bin/sh, so what sh would do for them is done here: a
    script without `#!` runs in the shell, and `:` is a builtin, not a program."""
    script = tmp_path / "no-shebang"
    script.write_text('echo "script ran with $1"\n')
    script.chmod(0o755)
    run = in_dir_run(flow_of(sh("script", f"{script} arg", pty=pty), sh("noop", ":", pty=pty),
                             cwd=str(tmp_path) if in_dir else None), in_dir)
    rec = record(run)
    assert finish(run) == 0
    assert rec.output("script") == ["script ran with arg"] and rec.output("noop") == []


@pytest.mark.parametrize("in_dir", ["subprocess", "owned"])
def test_bad_working_directory_fails_the_task(tmp_path, record, in_dir):
    run = in_dir_run(flow_of(sh("t", "echo hi"), cwd=str(tmp_path / "gone")), in_dir)
    rec = record(run)
    assert finish(run) == 1
    assert run.states["t"].exit_code == 1
    assert rec.output("t") == [f"flowtui: working directory {tmp_path / 'gone'}: No such file or directory"]


@pytest.mark.parametrize("in_dir", ["subprocess", "owned"])
def test_tasks_run_in_their_directory_and_the_runner_stays_in_its_own(tmp_path, record, in_dir):
    work = tmp_path / "work"
    work.mkdir()
    script = work / "where"
    script.write_text("#!/bin/sh\npwd\n")
    script.chmod(0o755)
    here = os.getcwd()
    run = in_dir_run(flow_of(sh("direct", "./where"), sh("shell", "pwd; echo $PWD >&2"), cwd=str(work)), in_dir)
    rec = record(run)
    assert finish(run) == 0
    assert rec.output("direct") == [str(work)]
    assert [(e.stream, e.lines) for e in rec.types("task_output") if e.task == "shell"] == [
        ("stdout", [str(work)]), ("stderr", [str(work)]),
    ]
    assert os.getcwd() == here


def test_killed_by_a_signal_is_128_plus_n():
    run = new_run(flow_of(sh("t", "kill -9 $$")))
    assert finish(run) == 1
    assert run.states["t"].exit_code == 137


# -- controller operations -----------------------------------------------------------------------
def test_pause_lets_running_tasks_finish_and_starts_nothing_new(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "echo b", deps=[Dep(node="a")])))
    rec = record(run)

    def pause():
        assert run.pause(by="alice") == (True, "paused: running tasks finish, nothing new starts")
        marker.touch()

    on_line(run, "go", pause)
    drive(run, lambda: run.states["a"].status == SUCCEEDED)
    assert run.states["b"].status == "queued" and rec.order() == ["a"]
    assert run.status == "paused" and not run.finished
    assert run.pause() == (False, "already paused")
    assert run.resume(by="alice") == (True, "resumed")
    assert finish(run) == 0
    assert rec.order() == ["a", "b"]
    assert [e.by for e in rec.types("run_paused", "run_resumed")] == ["alice", "alice"]


def test_stop_lets_running_tasks_finish_and_ends_with_exit_3(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(
        sh("a", f"echo go; {wait_file(marker)}", hooks={"teardown": "echo teardown"}),
        sh("b", "true", deps=[Dep(node="a")]), sh("c", "true", deps=[Dep(node="b")]),
    ))
    rec = record(run)

    def stop():
        assert run.stop(by="bob")[0]
        marker.touch()

    on_line(run, "go", stop)
    assert finish(run) == 3
    assert statuses(run) == {"a": "succeeded", "b": "not_run", "c": "not_run"}
    assert run.status == "stopped" and rec.output("a") == ["go", "teardown"]
    assert [(e.mode, e.by) for e in rec.types("run_stopping")] == [("stop", "bob")]


def test_cancel_terminates_process_groups_and_still_runs_teardown(tmp_path, record):
    pidfile = tmp_path / "child.pid"
    run = new_run(flow_of(
        sh("a", f"sleep 30 & echo $! > {pidfile}; echo started; wait", hooks={"teardown": "echo teardown"}),
        sh("b", "true", deps=[Dep(node="a", cond=COND_FINISHED)]),
    ))
    rec = record(run)
    on_line(run, "started", lambda: run.cancel(by="carol"))
    assert finish(run) == 3
    assert statuses(run) == {"a": "cancelled", "b": "not_run"}
    assert run.status == "cancelled"
    assert hooked_output(rec, "a") == [(None, "started"), ("teardown", "teardown")]
    assert process_gone(int(pidfile.read_text()))
    assert run.cancel() == (False, "the run has finished")


def test_cancel_during_setup_never_runs_the_command(tmp_path, record):
    run = new_run(flow_of(sh("a", "echo cmd", hooks={"setup": "echo setting-up; sleep 30", "teardown": "echo teardown"})))
    rec = record(run)
    on_line(run, "setting-up", lambda: run.cancel())
    assert finish(run) == 3
    assert hooked_output(rec, "a") == [("setup", "setting-up"), ("teardown", "teardown")]
    assert run.states["a"].status == "cancelled"


def test_cancel_while_waiting_to_retry_runs_teardown(record):
    run = new_run(flow_of(sh("a", "exit 1", retry=Retry(limit=3, delay=30), hooks={"teardown": "echo teardown"})))
    rec = record(run)
    on_event(run, "task_retrying", lambda e: run.cancel())
    assert finish(run) == 3
    assert run.states["a"].status == "cancelled" and rec.output("a") == ["teardown"]


def test_stop_while_waiting_to_retry_ends_with_the_last_attempt(record):
    run = new_run(flow_of(sh("a", "exit 1", retry=Retry(limit=3, delay=30), hooks={"on_nok": "echo nok", "teardown": "echo td"}),
                          sh("b", "true", deps=[Dep(node="a", cond=COND_FINISHED)])))
    rec = record(run)
    on_event(run, "task_retrying", lambda e: run.stop())
    assert finish(run) == 3
    assert statuses(run) == {"a": "failed", "b": "not_run"}
    assert run.states["a"].attempt == 1 and run.states["a"].exit_code == 1
    assert run.states["a"].error == "stopped before retrying"
    assert hooked_output(rec, "a") == [("on_nok", "nok"), ("teardown", "td")]  # the failure's hooks still run


def test_stop_while_retrying_a_timeout_keeps_timed_out():
    run = new_run(flow_of(sh("a", "sleep 30", timeout=0.2, retry=Retry(limit=3, delay=30))))
    on_event(run, "task_retrying", lambda e: run.stop())
    assert finish(run) == 3
    state = run.states["a"]
    assert (state.status, state.exit_code, state.error) == ("timed_out", 124, "timed out after 200ms; stopped before retrying")


def test_fatal_failure_lets_parallel_tasks_finish(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(
        sh("slow", f"echo go; {wait_file(marker)}"),
        sh("fatal", "exit 1", fatal=True, deps=[Dep(node="gate")]),
        sh("gate", "true"),
        sh("later", "true", deps=[Dep(node="fatal", cond=COND_FINISHED)]),
    ))
    on_event(run, "task_finished", lambda e: marker.touch(), task="fatal")
    assert finish(run) == 1
    assert statuses(run) == {"slow": "succeeded", "fatal": "failed", "gate": "succeeded", "later": "not_run"}


def test_interrupt_cancels_and_exits_130(tmp_path):
    run = new_run(flow_of(sh("a", "echo go; sleep 30"), sh("b", "true", deps=[Dep(node="a")])))
    on_line(run, "go", lambda: run.cancel(by="SIGINT", interrupted=True))
    assert finish(run) == 130
    assert run.status == "cancelled" and statuses(run) == {"a": "cancelled", "b": "not_run"}


def test_controller_from_another_thread(tmp_path):
    """The TUI's path: the reactor runs in a thread, the controller's replies are waited on."""
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "true", deps=[Dep(node="a")])))
    controller = Controller(run)
    seen = threading.Event()
    run.bus.subscribe(lambda e: e.type == "task_output" and "go" in e.lines and seen.set())
    thread = threading.Thread(target=run.run_to_end, daemon=True)
    thread.start()
    try:
        assert seen.wait(LIMIT)
        assert tuple(controller.pause(by="tui").wait(LIMIT)) == (True, "paused: running tasks finish, nothing new starts")
        assert tuple(controller.skip("b", by="tui").wait(LIMIT)) == (True, "b will be skipped when its turn comes")
        marker.touch()
        assert tuple(controller.resume(by="tui").wait(LIMIT)) == (True, "resumed")
        thread.join(LIMIT)
    finally:
        marker.touch()
        thread.join(LIMIT)
    assert not thread.is_alive() and run.exit_code == 0
    assert statuses(run) == {"a": "succeeded", "b": "skipped"}


def test_skip_a_task_of_a_stage_that_has_not_started(tmp_path, record):
    flow = sketch(tmp_path, {"one": [{"name": "a", "cmd": "echo a"}], "two": [{"name": "b", "cmd": "echo b"},
                                                                         {"name": "c", "cmd": "echo c"}]})
    run = new_run(flow)
    rec = record(run)
    on_event(run, "task_started", lambda e: run.skip("two/b", by="ops"), task="one/a")
    assert finish(run) == 0
    assert statuses(run) == {"one/a": "succeeded", "two/b": "skipped", "two/c": "succeeded"}
    assert rec.order() == ["one/a", "two/c"]


def test_timed_out_attempts_are_retried():
    run = new_run(flow_of(sh("t", "sleep 30", timeout=0.2, retry=Retry(limit=1, delay=0.01))))
    assert finish(run) == 1
    assert (run.states["t"].status, run.states["t"].exit_code, run.states["t"].attempt) == ("timed_out", 124, 2)


def approval_flow(**approval):
    return flow_of(
        sh("gate", "echo shipped", approval=Approval(prompt="Ship?", **approval)),
        sh("after", "echo after", deps=[Dep(node="gate")]),
    )


def test_approve_with_who_and_why(record):
    run = new_run(approval_flow())
    rec = record(run)
    on_event(run, "approval_requested", lambda e: run.approve(e.task, by="alice", reason="looks good"))
    assert finish(run) == 0
    [requested] = rec.types("approval_requested")
    assert (requested.task, requested.prompt) == ("gate", "Ship?")
    [granted] = rec.types("approval_granted")
    assert (granted.task, granted.by, granted.reason) == ("gate", "alice", "looks good")
    assert run.states["gate"].approval["by"] == "alice" and run.states["gate"].approval["decision"] == "approved"
    entry = report(run)["tasks"][0]
    assert entry["approval"]["by"] == "alice" and entry["approval"]["reason"] == "looks good"
    assert statuses(run) == {"gate": "succeeded", "after": "succeeded"}


def test_reject_with_who_and_why(record):
    run = new_run(approval_flow())
    rec = record(run)
    on_event(run, "approval_requested", lambda e: run.reject(e.task, by="bob", reason="too risky"))
    assert finish(run) == 1
    [rejected] = rec.types("approval_rejected")
    assert (rejected.by, rejected.reason) == ("bob", "too risky")
    assert statuses(run) == {"gate": "rejected", "after": "not_run"}
    assert run.states["gate"].error == "rejected by bob: too risky"
    assert rec.order() == []  # the gated command never ran


def test_approval_fields_are_checked_before_granting(record):
    run = new_run(approval_flow(fields=(Field(id="ticket", prompt="Change ticket"),)))
    rec = record(run)
    replies = []

    def answer(event):
        replies.append(run.approve("gate", by="alice"))
        replies.append(run.approve("gate", by="alice", values={"ticket": "OPS-7"}))

    on_event(run, "approval_requested", answer)
    assert finish(run) == 0
    assert replies == [(False, "missing value for field 'ticket'"), (True, "approved gate")]
    assert run.states["gate"].values == {"ticket": "OPS-7"}
    assert rec.types("approval_requested")[0].fields[0]["id"] == "ticket"


def test_cancel_while_awaiting_approval(record):
    run = new_run(approval_flow())
    on_event(run, "approval_requested", lambda e: run.cancel())
    assert finish(run) == 3
    assert statuses(run) == {"gate": "not_run", "after": "not_run"}


def test_skip_a_task_awaiting_approval(record):
    run = new_run(approval_flow())
    on_event(run, "approval_requested", lambda e: run.skip(e.task, by="dave"))
    assert finish(run) == 0
    assert statuses(run) == {"gate": "skipped", "after": "succeeded"}


def test_rerun_a_rejected_task_asks_again(record):
    run = new_run(approval_flow())
    rec = record(run)
    decisions = iter([lambda t: run.reject(t, by="bob"), lambda t: run.approve(t, by="alice")])
    on_event(run, "approval_requested", lambda e: next(decisions)(e.task), once=False)
    assert finish(run) == 1
    assert run.rerun("gate", downstream=True)[0]
    assert finish(run) == 0
    assert len(rec.types("approval_requested")) == 2
    assert statuses(run) == {"gate": "succeeded", "after": "succeeded"}
    assert run.states["gate"].approval["by"] == "alice"


def test_approval_of_an_ungated_task_is_refused():
    run = new_run(flow_of(sh("a", "true")))
    assert finish(run) == 0
    assert run.approve("a") == (False, "a is not awaiting approval")


def test_skip_a_waiting_task(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(
        sh("a", f"echo go; {wait_file(marker)}"),
        sh("b", "echo b", deps=[Dep(node="a")]),
        sh("c", "echo c", deps=[Dep(node="b")]),
    ))
    rec = record(run)
    replies = []

    def skip():
        replies.append(run.skip("b", by="dave"))
        replies.append(run.skip("a"))
        marker.touch()

    on_line(run, "go", skip)
    assert finish(run) == 0
    assert replies[0] == (True, "b will be skipped when its turn comes")
    assert replies[1] == (False, "a is running: only a task that has not started can be skipped")
    assert statuses(run) == {"a": "succeeded", "b": "skipped", "c": "succeeded"}  # an operator skip counts as done
    assert run.states["b"].reason == "operator" and rec.order() == ["a", "c"]
    # b is skipped when its turn comes, so c still waits for a: the order is kept
    assert [(e.type, e.task) for e in rec.types("task_started", "task_finished")] == [
        ("task_started", "a"), ("task_finished", "a"), ("task_finished", "b"), ("task_started", "c"), ("task_finished", "c")]


def test_rerun_alone_after_the_run_ended_reopens_it(tmp_path, record):
    flag = tmp_path / "fixed"
    run = new_run(flow_of(sh("a", f"test -e {flag}"), sh("b", "echo b", deps=[Dep(node="a", cond=COND_FINISHED)])))
    rec = record(run)
    assert finish(run) == 1 and run.status == "failed"
    flag.touch()
    assert run.rerun("a", by="erin") == (True, "rerunning a")
    assert not run.finished and len(rec.types("run_reopened")) == 1
    assert finish(run) == 0
    assert run.status == "succeeded"
    assert (run.states["a"].attempt, run.states["b"].attempt) == (2, 1)
    assert [e.status for e in rec.types("run_finished")] == ["failed", "succeeded"]


def test_rerun_with_downstream(record):
    run = new_run(flow_of(
        sh("a", "echo a"), sh("b", "echo b", deps=[Dep(node="a")]), sh("c", "echo c", deps=[Dep(node="b")]),
        sh("other", "echo other"),
    ))
    rec = record(run)
    assert finish(run) == 0
    assert run.rerun("a", downstream=True) == (True, "rerunning a and 2 downstream")
    assert finish(run) == 0
    assert rec.order()[4:] == ["a", "b", "c"]
    assert {nid: s.attempt for nid, s in run.states.items()} == {"a": 2, "b": 2, "c": 2, "other": 1}


def test_rerun_while_the_run_is_still_going(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", "echo a"), sh("b", f"echo go; {wait_file(marker)}", deps=[Dep(node="a")])))
    rec = record(run)

    def rerun():
        assert run.rerun("a") == (True, "rerunning a")

    on_line(run, "go", rerun)
    on_event(run, "task_finished", lambda e: run.states["a"].attempt == 2 and marker.touch(), task="a", once=False)
    assert finish(run) == 0
    assert rec.order() == ["a", "b", "a"] and run.states["b"].attempt == 1
    assert len(rec.types("run_finished")) == 1


def test_rerun_with_downstream_while_a_downstream_task_runs(tmp_path, record):
    """The running attempt is cancelled and ends (teardown included, recorded as its own attempt)
    before the next attempt starts; no process is left behind and the run ends with the new outcome."""
    flag, pidfile = tmp_path / "fixed", tmp_path / "b.pids"
    run = new_run(flow_of(
        sh("a", f"test -e {flag}"),
        sh("b", f"echo $$ >> {pidfile}; echo slow; sleep 30", deps=[Dep(node="a", cond=COND_FINISHED)],
           hooks={"teardown": "echo bye"}),
    ))
    rec = record(run)

    def rerun():
        flag.touch()
        assert run.rerun("a", downstream=True) == (True, "rerunning a and 1 downstream")

    slow = []

    def on_slow(event):  # the first attempt prints it: rerun; the second: cancel the run
        if event.type == "task_output" and "slow" in event.lines:
            slow.append(event)
            run.reactor.call_soon(rerun if len(slow) == 1 else run.cancel)

    run.bus.subscribe(on_slow)
    finish(run)
    story = [(e.type, e.task, getattr(e, "attempt", None), getattr(e, "status", None))
             for e in rec.types("task_started", "task_finished") if e.task == "b"]
    assert story == [("task_started", "b", 1, None), ("task_finished", "b", 1, "cancelled"),
                     ("task_started", "b", 2, None), ("task_finished", "b", 2, "cancelled")]
    assert rec.output("b").count("bye") == 2  # each attempt's teardown ran
    assert run.states["a"].status == "succeeded" and run.states["b"].attempt == 2
    pids = pidfile.read_text().split()
    assert len(pids) == 2 and all(process_gone(int(pid)) for pid in pids)


def test_a_rerun_target_waits_for_its_upstream_still_running(tmp_path, record):
    flag, marker = tmp_path / "fixed", tmp_path / "go"
    run = new_run(flow_of(sh("a", f"test -e {flag} || exit 1; echo go; {wait_file(marker)}"),
                          sh("b", "echo b", deps=[Dep(node="a")])))
    rec = record(run)
    assert finish(run) == 1  # a failed, so b did not run
    flag.touch()
    on_line(run, "go", lambda: run.rerun("b")[0] and marker.touch())
    assert run.rerun("a")[0]
    assert finish(run) == 0
    story = [(e.type, e.task) for e in rec.types("task_started", "task_finished")]
    assert story[-4:] == [("task_started", "a"), ("task_finished", "a"), ("task_started", "b"), ("task_finished", "b")]


def test_rerun_after_a_fatal_stop_with_downstream(tmp_path, record):
    flag = tmp_path / "fixed"
    run = new_run(flow_of(sh("a", f"test -e {flag}", fatal=True), sh("b", "true", deps=[Dep(node="a")]), sh("c", "true")))
    rec = record(run)
    assert finish(run) == 1
    assert statuses(run) == {"a": "failed", "b": "not_run", "c": "succeeded"}
    flag.touch()
    assert run.rerun("a", downstream=True)[0]
    assert finish(run) == 0
    assert statuses(run) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert [e.status for e in rec.types("run_finished")] == ["failed", "succeeded"]


def test_stop_while_paused_ends_the_run(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "true", deps=[Dep(node="a")])))

    def pause():
        run.pause()
        marker.touch()

    on_line(run, "go", pause)
    on_event(run, "task_finished", lambda e: run.stop(), task="a")
    assert finish(run) == 3
    assert statuses(run) == {"a": "succeeded", "b": "not_run"}


def test_rerun_refuses_an_unfinished_task(tmp_path):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}")))
    replies = []

    def rerun():
        replies.append(run.rerun("a"))
        replies.append(run.rerun("nope"))
        marker.touch()

    on_line(run, "go", rerun)
    assert finish(run) == 0
    assert replies == [(False, "a is running: only a finished task can be rerun"), (False, "no task nope")]


# -- retries --------------------------------------------------------------------------------------
COUNT_AND_FAIL_UNTIL_3 = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt $n; [ $n -ge 3 ]"


def test_retries_back_off_until_success(tmp_path, record):
    retry = Retry(limit=5, delay=0.01, backoff=2.0)
    run = new_run(flow_of(sh("t", COUNT_AND_FAIL_UNTIL_3, retry=retry, hooks={"on_ok": "true", "teardown": "true"}),
                          cwd=str(tmp_path)))
    rec = record(run)
    assert finish(run) == 0
    assert [(e.attempt, e.delay, e.exit_code) for e in rec.types("task_retrying")] == [(1, 0.01, 1), (2, 0.02, 1)]
    assert [e.attempt for e in rec.types("task_started")] == [1, 2, 3]
    assert run.states["t"].attempt == 3 and rec.output("t") == ["attempt 1", "attempt 2", "attempt 3"]
    assert run.states["t"].hooks == [("on_ok", 0), ("teardown", 0)]  # hooks once, around the whole cycle


def test_retries_give_up_after_the_limit(tmp_path, record):
    run = new_run(flow_of(sh("t", "exit 75", retry=Retry(limit=2, delay=0.01, max_delay=0.01, backoff=10),
                             hooks={"on_nok": "true"})))
    rec = record(run)
    assert finish(run) == 1
    assert [e.delay for e in rec.types("task_retrying")] == [0.01, 0.01]
    assert (run.states["t"].status, run.states["t"].exit_code, run.states["t"].attempt) == (FAILED, 75, 3)
    assert run.states["t"].hooks == [("on_nok", 0)]


def test_retries_only_on_the_listed_exit_codes(tmp_path, record):
    only_75 = Retry(limit=3, delay=0.01, on_exit_codes=frozenset({75}))
    run = new_run(flow_of(sh("t", "exit 1", retry=only_75)))
    rec = record(run)
    assert finish(run) == 1
    assert rec.types("task_retrying") == [] and run.states["t"].attempt == 1


# -- dependencies, joins, routing ---------------------------------------------------------------------
def test_join_any_starts_on_the_first_satisfied_dependency():
    run = new_run(flow_of(
        sh("a", "exit 1"), sh("b", "true"),
        sh("any", "true", deps=[Dep(node="a"), Dep(node="b")], join="any"),
        sh("all", "true", deps=[Dep(node="a"), Dep(node="b")]),
    ))
    assert finish(run) == 1
    assert statuses(run) == {"a": "failed", "b": "succeeded", "any": "succeeded", "all": "not_run"}


def test_a_failure_a_join_any_waits_for_is_handled_when_it_comes_after_the_join_fired(tmp_path):
    """Floe's `merge type: any` waiting for `task.a.bad` and `task.b.good`: `b` fires it first, `a`
    fails after (once the merge ran). The merge listens for that failure, so it is routed, not an
    unhandled one: the run's outcome must not depend on which of the two ended first."""
    marker = tmp_path / "fired"
    run = new_run(flow_of(
        sh("a", f"{wait_file(marker)}; exit 1"), sh("b", "true"),
        sh("merge", f"touch {marker}", deps=[Dep(node="a", cond=COND_FAILED), Dep(node="b")], join="any"),
    ))
    assert finish(run) == 0 and run.status == "succeeded"
    assert statuses(run) == {"a": "failed", "b": "succeeded", "merge": "succeeded"}
    assert run.states["a"].handled


def test_join_any_ends_not_run_when_no_dependency_can_hold():
    run = new_run(flow_of(sh("a", "exit 1"), sh("b", "exit 1"), sh("any", "true", deps=[Dep(node="a"), Dep(node="b")], join="any")))
    assert finish(run) == 1
    assert statuses(run)["any"] == "not_run"


def test_condition_routing_handles_the_failure():
    up = "up"
    run = new_run(flow_of(
        sh(up, "exit 3"),
        sh("on_failed", "true", deps=[Dep(node=up, cond=COND_FAILED)]),
        sh("on_exit_3", "true", deps=[Dep(node=up, cond=COND_EXIT, code=3)]),
        sh("on_exit_4", "true", deps=[Dep(node=up, cond=COND_EXIT, code=4)]),
        sh("on_success", "true", deps=[Dep(node=up, cond=COND_SUCCEEDED)]),
        sh("on_errored", "true", deps=[Dep(node=up, cond=COND_ERRORED)]),
        sh("on_finished", "true", deps=[Dep(node=up, cond=COND_FINISHED)]),
        sh("after_skipped", "true", deps=[Dep(node="on_exit_4")]),
        sh("after_not_run", "true", deps=[Dep(node="on_success")]),
    ))
    assert finish(run) == 0  # a failure consumed by an on-failure branch does not fail the run
    assert statuses(run) == {
        "up": "failed", "on_failed": "succeeded", "on_exit_3": "succeeded", "on_exit_4": "skipped",
        "on_success": "not_run", "on_errored": "skipped", "on_finished": "succeeded",
        "after_skipped": "skipped", "after_not_run": "not_run",
    }
    assert run.states["up"].handled and run.status == "succeeded"


def test_errored_condition_catches_an_action_that_cannot_run():
    broken = Node(id="broken", name="broken", action=Action(kind="no-such-kind"))
    run = new_run(flow_of(
        broken,
        sh("on_errored", "true", deps=[Dep(node="broken", cond=COND_ERRORED)]),
        sh("on_failed", "true", deps=[Dep(node="broken", cond=COND_FAILED)]),
    ))
    assert finish(run) == 0
    assert statuses(run) == {"broken": "failed", "on_errored": "succeeded", "on_failed": "skipped"}
    assert run.states["broken"].errored and "no-such-kind" in run.states["broken"].error


def test_success_routes_away_from_the_failure_branch():
    run = new_run(flow_of(sh("up", "true"), sh("on_failed", "true", deps=[Dep(node="up", cond=COND_FAILED)])))
    assert finish(run) == 0
    assert statuses(run) == {"up": "succeeded", "on_failed": "skipped"}
    assert run.states["on_failed"].reason.startswith("up succeeded")


def test_max_parallel_limits_concurrent_tasks(record):
    run = new_run(flow_of(*(sh(f"t{i}", "true") for i in range(4))), max_parallel=2)
    rec = record(run)
    running = peak = 0
    assert finish(run) == 0
    for event in rec.events:
        if event.type == "task_started":
            running += 1
            peak = max(peak, running)
        elif event.type == "task_finished":
            running -= 1
    assert peak == 2 and rec.order() == ["t0", "t1", "t2", "t3"]


# -- run-time graph changes --------------------------------------------------------------------------
class LoopRuntime(Runtime):
    """Re-arms group `loop` after each pass (a Fluxor goto), `times` passes in all."""

    def __init__(self, times):
        self.times = times

    def after_finish(self, node, state):
        if node.id == "loop" and state.status == SUCCEEDED and state.iteration < self.times:
            error = self.run.reset(["loop"], loop=True)
            if error:
                return FAILED, error
        return None


def loop_flow(tmp_path):
    return flow_of(
        group("loop", ["loop/inc", "loop/check"]),
        sh("loop/inc", "echo x >> passes", parent="loop"),
        sh("loop/check", "wc -l < passes", parent="loop", deps=[Dep(node="loop/inc")]),
        sh("done", "echo done", deps=[Dep(node="loop")]),
        cwd=str(tmp_path),
    )


def test_reset_loop_re_arms_a_group(tmp_path, record):
    run = new_run(loop_flow(tmp_path), runtime=LoopRuntime(3))
    rec = record(run)
    assert finish(run) == 0
    starts = [(e.task, e.iteration) for e in rec.types("task_started")]
    assert starts == [("loop/inc", 1), ("loop/check", 1), ("loop/inc", 2), ("loop/check", 2),
                      ("loop/inc", 3), ("loop/check", 3), ("done", 1)]
    assert [line.strip() for line in rec.output("loop/check")] == ["1", "2", "3"]
    assert run.states["loop"].iteration == 3 and run.states["loop/inc"].iteration == 3
    assert [e.iteration for e in rec.types("group_started") if e.task == "loop"] == [1, 2, 3]


def test_loop_guard_stops_a_runaway_loop(tmp_path, record):
    run = new_run(loop_flow(tmp_path), runtime=LoopRuntime(100), max_iterations=2)
    rec = record(run)
    assert finish(run) == 1
    assert run.states["loop"].status == FAILED
    assert run.states["loop"].error == "loop guard: loop reached 2 iterations (raise --max-iterations)"
    assert statuses(run, "done") == {"done": "not_run"}
    assert [e.iteration for e in rec.types("task_started") if e.task == "loop/inc"] == [1, 2]


class GrowRuntime(Runtime):
    """When `grp/first` finishes, adds two chained tasks to the running group (a Fluxor template)."""

    def after_finish(self, node, state):
        if node.id == "grp/first":
            self.run.add_nodes("grp", [
                sh("grp/extra[0]", "echo zero", parent="grp", deps=[Dep(node="grp/first")]),
                sh("grp/extra[1]", "echo one", parent="grp", deps=[Dep(node="grp/extra[0]")]),
            ])
        return None


def test_add_nodes_grows_a_running_group(record):
    run = new_run(flow_of(
        group("grp", ["grp/first"]), sh("grp/first", "echo first", parent="grp"),
        sh("after", "echo after", deps=[Dep(node="grp")]),
    ), runtime=GrowRuntime())
    rec = record(run)
    assert finish(run) == 0
    assert rec.order() == ["grp/first", "grp/extra[0]", "grp/extra[1]", "after"]
    [added] = rec.types("nodes_added")
    assert added.parent == "grp" and [n["id"] for n in added.nodes] == ["grp/extra[0]", "grp/extra[1]"]
    assert run.children["grp"] == ["grp/first", "grp/extra[0]", "grp/extra[1]"]
    assert [t["id"] for t in report(run)["tasks"]] == ["grp/first", "grp/extra[0]", "grp/extra[1]", "after"]
    assert statuses(run) == dict.fromkeys(["grp/first", "after", "grp/extra[0]", "grp/extra[1]"], "succeeded")


def test_snapshot_is_json_and_describes_every_node(tmp_path):
    flow = sketch(tmp_path, {"one": [{"name": "a", "cmd": "echo a", "approve": "Go?", "setup-cmd": "true"}],
                             "two": [{"name": "b", "cmd": "exit 2"}]})
    run = new_run(flow)
    on_event(run, "approval_requested", lambda e: run.approve(e.task, by="alice"))
    assert finish(run) == 1
    snapshot = json.loads(json.dumps(run.snapshot()))
    assert [n["id"] for n in snapshot["nodes"]] == ["one", "one/a", "two", "two/b"]
    assert snapshot["status"] == "failed" and snapshot["exit_code"] == 1
    assert snapshot["states"]["one/a"]["approval"]["by"] == "alice"
    assert snapshot["states"]["two/b"]["exit_code"] == 2
    node = next(n for n in snapshot["nodes"] if n["id"] == "one/a")
    assert node["approval"]["prompt"] == "Go?" and node["hooks"] == ["setup"] and node["parent"] == "one"


def test_a_wide_join_waits_for_all_and_sees_an_impossible_dependency_at_once(tmp_path):
    """Joins of many dependencies are checked incrementally; the outcome is the same as a full look."""
    ok = [sh(f"ok{i}", "true") for i in range(30)]
    merge = sh("merge", "true", deps=[Dep(node=n.id) for n in ok])
    run = new_run(flow_of(*ok, merge), max_parallel=4)
    finish(run)
    assert statuses(run, "merge") == {"merge": "succeeded"}

    gate = tmp_path / "gate"
    slow = sh("slow", f"sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done'")
    failing = sh("failing", "false")
    merge = sh("merge", "true", deps=[Dep(node="slow")] + [Dep(node=n.id) for n in ok] + [Dep(node="failing")])
    run = new_run(flow_of(slow, *ok, failing, merge), max_parallel=4)
    # `slow` is still running (first in the join) when `failing` ends: the merge is decided then.
    on_event(run, "task_finished", lambda e: gate.touch(), task="merge")
    finish(run)
    assert statuses(run, "failing", "merge", "slow") == {"failing": "failed", "merge": "not_run", "slow": "succeeded"}
    assert run.states["merge"].finished_at <= run.states["slow"].finished_at


def test_output_text_and_lines_agree_and_headless_reporters_never_split_them(tmp_path):
    from flowtui.engine.events import TaskOutput, from_json
    from flowtui.reporters.console import ConsolePrinter
    from flowtui.reporters.tails import Tails

    event = TaskOutput("t", "stdout", text="a\n\nb")
    assert event.lines == ["a", "", "b"] and from_json(event.to_json()).text == "a\n\nb"
    assert TaskOutput("t", "stdout", ["x", "y"]).text == "x\ny"
    run = new_run(flow_of(sh("t", "printf 'one\\ntwo\\n'; printf three")))
    seen = []
    run.bus.subscribe(lambda e: seen.append(e) if e.type == "task_output" else None)
    out = tmp_path / "out.txt"
    with open(out, "w") as handle:
        tails = Tails(run.bus)
        ConsolePrinter(run, handle, tails, color=False, github=False)
        assert finish(run) == 0
    assert "[t] one\n[t] two\n[t] three\n" in out.read_text()
    assert tails.get("t") == ["one", "two", "three"]
    assert seen and all(e._lines is None for e in seen)  # a flood stays one string per read


def test_a_timer_of_30_days_does_not_break_the_loop(tmp_path, record):
    """epoll refuses waits of 2**31 ms and more: a long timeout must simply not fire yet."""
    run = new_run(flow_of(sh("a", "echo hi", timeout=30 * 86400.0), sh("b", "echo later", timeout=1e30)))
    rec = record(run)
    assert run.run_to_end() == 0  # not finish(): its own 20 s guard timer would come first
    assert rec.output() == ["hi", "later"]


def test_rerun_in_a_stopped_run_keeps_it_stopped_while_tasks_remain_not_run(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "true", deps=[Dep(node="a")])))

    def stop():
        run.stop()
        marker.touch()

    on_line(run, "go", stop)
    assert finish(run) == 3
    assert run.rerun("a")[0]
    assert finish(run) == 3 and run.status == "stopped"  # b never ran: not a success
    assert statuses(run) == {"a": "succeeded", "b": "not_run"}
    assert run.rerun("b")[0]
    assert finish(run) == 0 and run.status == "succeeded"


def test_a_failure_ending_a_long_chain_of_tasks_is_no_recursion_error(record):
    """Each task the failure leaves unable to run ends in turn: once a recursion 500 deep."""
    chain = [sh("t0", "exit 1")] + [sh(f"t{i}", "true", deps=[Dep(node=f"t{i - 1}")]) for i in range(1, 3001)]
    run = new_run(flow_of(*chain))
    rec = record(run)
    assert finish(run) == 1
    assert run.states["t3000"].status == "not_run"
    assert [e.task for e in rec.types("task_finished")] == [f"t{i}" for i in range(3001)]


def test_a_task_marked_to_skip_that_a_stop_cuts_off_is_not_run_without_a_skip_message(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "true", deps=[Dep(node="a")])))

    def skip_then_stop():
        assert run.skip("b", by="ana")[0] and run.stop()[0]
        marker.touch()

    on_line(run, "go", skip_then_stop)
    assert finish(run) == 3
    assert run.states["b"].status == "not_run" and run.states["b"].error is None


@pytest.mark.parametrize("chunks, drawn", [
    ([b"\rdownloading 5%", b"\rdownloading 6%"], "downloading 6%"),
    ([b"downloading 5%\r"], "downloading 5%"),  # a final \r only returns the cursor
    ([b"Continue? [y/N] "], "Continue? [y/N] "),  # a prompt waiting for its answer
    ([b"done\n"], None),
    ([b"x" * 70000], None),  # too long to copy at every read, and no redraw in it
    ([b"x" * 70000, b"\r50%"], "50%"),
])
def test_the_drawing_of_an_unfinished_line(chunks, drawn):
    splitter = LineSplitter()
    for chunk in chunks:
        splitter.feed(chunk)
    assert splitter.drawing() == drawn


def test_a_progress_bar_is_shown_while_it_is_drawn_and_kept_as_one_line(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("bar", f"printf '\\rdl 10%%'; {wait_file(marker)}; printf '\\rdl 100%%\\n'")))
    rec = record(run)
    on_event(run, "task_partial", lambda e: marker.touch())
    assert finish(run) == 0
    assert [(e.stream, e.text) for e in rec.types("task_partial")][:1] == [("stdout", "dl 10%")]
    assert rec.output("bar") == ["\rdl 10%\rdl 100%"]  # whole, as printed: viewers show its last drawing


def test_rerun_in_a_stopped_run_leaves_the_group_of_a_task_left_out_not_run(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(
        group("s", ["s/a", "s/b"]),
        sh("s/a", f"echo go; {wait_file(marker)}", parent="s"), sh("s/b", "true", parent="s", deps=[Dep(node="s/a")]),
    ))

    def stop():
        run.stop()
        marker.touch()

    on_line(run, "go", stop)
    assert finish(run) == 3 and run.states["s"].status == "not_run"
    assert run.rerun("s/a")[0]
    assert finish(run) == 3
    assert run.states["s"].status == "not_run" and run.states["s/b"].status == "not_run"


class _DeepLoop(Runtime):
    """Re-arms the outermost group once the leaf ends, `times` passes in all (a Fluxor goto)."""

    def __init__(self, times):
        self.times = times

    def after_finish(self, node, state):
        if node.id == "leaf" and state.iteration < self.times:
            self.run.reset(["g0"], loop=True)


def deep_flow(depth, leaf_cmd):
    nodes = [group(f"g{d}", [f"g{d + 1}" if d + 1 < depth else "leaf"], parent=f"g{d - 1}" if d else None) for d in range(depth)]
    return flow_of(*nodes, sh("leaf", leaf_cmd, parent=f"g{depth - 1}"), sh("after", "echo after", deps=[Dep(node="g0")]))


@pytest.mark.parametrize("case", ["succeeds", "fails", "loops", "is cancelled", "is skipped"])
def test_groups_nested_thousands_deep_are_no_recursion_error(record, case):
    """A Fluxor file may nest ~450 groups (what its YAML reader takes), and sub-workflows nest files:
    starting, ending, skipping and re-arming a subtree must not recurse once per level."""
    flow = deep_flow(2000, "exit 1" if case == "fails" else "true")
    run = new_run(flow, runtime=_DeepLoop(3 if case == "loops" else 1))
    rec = record(run)
    if case == "is cancelled":
        on_event(run, "task_started", lambda event: run.cancel(by="test"), task="leaf")
    if case == "is skipped":
        run.skip("g0")
    code = finish(run)
    ends = {"succeeds": (0, "succeeded", "succeeded"), "fails": (1, "failed", "not_run"),
            "loops": (0, "succeeded", "succeeded"), "is cancelled": (3, "cancelled", "not_run"),
            "is skipped": (0, "skipped", "succeeded")}[case]
    assert (code, run.states["g0"].status, run.states["after"].status) == ends
    assert run.states["g1999"].status == ("skipped" if case == "is skipped" else ends[1])
    assert rec.order().count("leaf") == (3 if case == "loops" else 0 if case == "is skipped" else 1)


def test_a_long_chain_of_on_demand_dependencies_is_no_recursion_error(record):
    """Fluxor `dependencies:` that depend on each other, thousands deep: each one a dependent asks
    for is started once the dependent's own look is over, from a queue, not one recursion per link."""
    chain = [Node(id=f"d{i}", name=f"d{i}", action=Action(kind="nop"), on_demand=True,
                  deps=(Dep(node=f"d{i + 1}"),) if i < 2999 else ()) for i in range(3000)]
    run = new_run(flow_of(sh("main", "echo main", deps=[Dep(node="d0")]), *chain, Node(id="unused", name="unused", action=Action(kind="nop"), on_demand=True)))
    rec = record(run)
    assert finish(run) == 0
    assert rec.order() == [f"d{i}" for i in reversed(range(3000))] + ["main"]
    assert run.states["unused"].status == "skipped"


def test_a_skip_in_a_stopping_run_says_the_task_will_not_run_anyway(tmp_path, record):
    marker = tmp_path / "go"
    run = new_run(flow_of(sh("a", f"echo go; {wait_file(marker)}"), sh("b", "true", deps=[Dep(node="a")])))
    answers = []

    def stop_then_skip():
        assert run.stop()[0]
        answers.append(run.skip("b", by="ana"))
        answers.append(run.approve("nosuch"))
        marker.touch()

    on_line(run, "go", stop_then_skip)
    assert finish(run) == 3
    assert answers == [(False, "the run is stopping: b will not run anyway"), (False, "no task nosuch")]
    assert run.states["b"].status == "not_run"


def test_a_line_bigger_than_the_pipe_to_a_task_not_reading_yet_blocks_nothing(tmp_path, record):
    """It is written as the task reads: the engine goes on meanwhile. Here the engine itself lets
    the task start reading (a marker made after the send): a blocking write would wait for a task
    that waits for it, until the task gives up."""
    marker = tmp_path / "go"
    big = "y" * 1_000_000
    run = new_run(flow_of(sh("reader", (
        f"echo ready; i=0; while [ ! -e {marker} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; "
        f"[ -e {marker} ] && echo seen || echo gave-up; head -c {len(big) + 1} | wc -c"))))
    rec = record(run)
    sent = []

    def send_then_let_it_read():
        sent.append(run.send("reader", big))
        marker.touch()

    on_line(run, "ready", send_then_let_it_read)
    assert finish(run) == 0
    assert sent[0][0]
    assert [line.strip() for line in rec.output("reader")] == ["ready", "seen", str(len(big) + 1)]
