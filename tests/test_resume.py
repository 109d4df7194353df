"""Resume: after kill -9 nothing that succeeded runs twice and no process of the dead run survives."""

import json

import pytest

from flowtui.engine.loaders import LoadOptions, load
from flowtui.engine.recording import Recording
from flowtui.engine.resume import ResumeError, load_for_resume, restore
from flowtui.engine.run import Run, Runtime
from flowtui.engine.store import open_store
from tests.test_control_support import Runner, alive, fifo, flowtui, flowtui_process, killed_runner, sketch


def marker(tmp_path, name):
    """A shell command appending a line to marker file `name`: how many times a task ran."""
    return f"sh -c 'echo {name} >> {tmp_path}/{name}'"


def lines(tmp_path, name):
    path = tmp_path / name
    return path.read_text().splitlines() if path.exists() else []


def test_kill_9_then_resume_runs_nothing_twice_and_leaves_no_orphans(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    hang = (f"sh -c 'if [ -e {tmp_path}/GO ]; then echo c >> {tmp_path}/c; "
            f"else sleep 300 & echo $! > {tmp_path}/PID; echo ready > {ready}; wait; fi'")
    flow = sketch(tmp_path / "flow.json", {
        "one": [{"name": "a", "cmd": marker(tmp_path, "a")}, {"name": "b", "cmd": marker(tmp_path, "b")}],
        "two": [{"name": "c", "cmd": hang}, {"name": "d", "cmd": marker(tmp_path, "d")}],
    })
    run_id = killed_runner(flow, state_dir, ready)
    orphan = int((tmp_path / "PID").read_text())
    assert alive(orphan)
    (tmp_path / "GO").touch()

    result = flowtui_process("resume", run_id, "--no-ui", "--state-dir", state_dir)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "2 tasks already succeeded" in result.stderr
    assert not alive(orphan)
    assert [lines(tmp_path, n) for n in "abcd"] == [["a"], ["b"], ["c"], ["d"]]

    record = json.loads(flowtui("show", run_id, "--json", "--state-dir", state_dir)[1])
    tasks = {t["id"]: t for t in record["tasks"]}
    assert record["status"] == "succeeded" and record["resumes"] == 1
    assert [tasks[t]["attempts"] for t in ("one/a", "one/b", "two/c", "two/d")] == [1, 1, 2, 1]
    assert [a["status"] for a in tasks["two/c"]["attempt_history"]] == ["interrupted", "succeeded"]
    code, _, err = flowtui("resume", run_id, "--state-dir", state_dir)
    assert code == 2 and "nothing to resume" in err


def dead_runner_with_an_orphan(tmp_path, state_dir):
    """(run id, pid): a runner killed with -9 while its task's background `sleep` still lives."""
    ready = fifo(tmp_path / "ready")
    dead_flow = sketch(tmp_path / "dead.json", {"s": [
        {"name": "hang", "cmd": f"sh -c 'sleep 300 & echo $! > {tmp_path}/PID; echo ready > {ready}; wait'"}]})
    dead_id = killed_runner(dead_flow, state_dir, ready)
    orphan = int((tmp_path / "PID").read_text())
    assert alive(orphan)
    return dead_id, orphan


def test_a_new_runner_ends_the_processes_of_a_dead_one_first(tmp_path, state_dir):
    dead_id, orphan = dead_runner_with_an_orphan(tmp_path, state_dir)

    fresh = Runner(sketch(tmp_path / "fresh.json", {"s": [{"name": "t", "cmd": "echo fresh"}]}), state_dir)
    try:
        assert fresh.wait() == 0
    finally:
        fresh.close()
    assert not alive(orphan)
    assert open_store(state_dir).get_run(dead_id)["status"] == "interrupted"


def test_purge_ends_the_processes_of_a_dead_runner_before_forgetting_it(tmp_path, state_dir):
    """Its socket file is how its processes are found: deleting it first left them for good."""
    dead_id, orphan = dead_runner_with_an_orphan(tmp_path, state_dir)
    code, out, err = flowtui("purge", "--all", "--state-dir", state_dir)
    assert code == 0 and out == "purged 1 run\n", err
    assert not alive(orphan)
    assert flowtui("show", dead_id, "--state-dir", state_dir)[0] != 0


def test_a_changed_flow_is_refused_unless_forced(tmp_path, state_dir):
    flow_file = sketch(tmp_path / "flow.json", {"s": [
        {"name": "first", "cmd": marker(tmp_path, "first")},
        {"name": "check", "cmd": f"test -e {tmp_path}/FIXED"},
    ]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(flow_file), None, options)
    run = Run(flow, runtime)
    with Recording(run, state_dir, options):
        assert run.run_to_end() == 1

    flow_file.write_text(flow_file.read_text() + "\n")
    result = flowtui_process("resume", run.run_id, "--no-ui", "--state-dir", state_dir)
    assert result.returncode == 2
    assert f"{flow_file} changed since run {run.run_id} started" in result.stderr and "--force" in result.stderr
    assert lines(tmp_path, "first") == ["first"]

    (tmp_path / "FIXED").touch()
    result = flowtui_process("resume", run.run_id, "--no-ui", "--force", "--state-dir", state_dir)
    assert result.returncode == 0, result.stderr
    assert lines(tmp_path, "first") == ["first"]
    store = open_store(state_dir)
    assert store.get_run(run.run_id)["status"] == "succeeded"
    assert store.latest_unfinished(flow_file) is None


class Counting(Runtime):
    """A runtime with state worth keeping: the tasks it saw finish, across resumes."""

    def __init__(self):
        self.seen, self.restored = [], None

    def after_finish(self, node, state):
        self.seen.append(f"{node.id}:{state.status}")

    def checkpoint(self):
        return {"seen": list(self.seen)}

    def restore(self, data):
        self.restored = data
        self.seen = list(data["seen"])


def test_resume_restores_the_runtime_checkpoint_and_reruns_only_what_did_not_succeed(tmp_path, state_dir, record):
    flow_file = sketch(tmp_path / "flow.json", {"s": [
        {"name": "ok", "cmd": marker(tmp_path, "ok")},
        {"name": "flaky", "cmd": f"sh -c 'echo x >> {tmp_path}/flaky; test -e {tmp_path}/FIXED'"},
        {"name": "after", "cmd": marker(tmp_path, "after")},
    ]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, _ = load(str(flow_file), None, options)
    first = Run(flow, Counting())
    with Recording(first, state_dir, options):
        assert first.run_to_end() == 1
    store = open_store(state_dir)
    assert store.latest_unfinished(flow_file) == first.run_id
    saved = store.get_run(first.run_id)["checkpoint"]
    assert "s/flaky:failed" in saved["seen"]

    (tmp_path / "FIXED").touch()
    stored, flow, _ = load_for_resume(store, first.run_id)
    again = Run(flow, Counting(), run_id=first.run_id)
    restore(again, stored)
    events = record(again)
    with Recording(again, state_dir, stored["options"]):
        assert again.run_to_end() == 0
    assert again.runtime.restored == saved
    assert events.order() == ["s/flaky"]
    assert [lines(tmp_path, n) for n in ("ok", "flaky", "after")] == [["ok"], ["x", "x"], ["after"]]
    assert again.runtime.seen[: len(saved["seen"])] == saved["seen"]
    assert store.get_run(first.run_id)["checkpoint"]["seen"][-1] == "s:succeeded"

    with pytest.raises(ResumeError, match="no run"):
        load_for_resume(store, "not-a-run")


def test_the_journal_covers_outcomes_the_store_had_not_committed(tmp_path, state_dir, record):
    flow_file = sketch(tmp_path / "flow.json", {"s": [
        {"name": "done", "cmd": marker(tmp_path, "done")},
        {"name": "broken", "cmd": "false"},
    ]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(flow_file), None, options)
    first = Run(flow, runtime)
    with Recording(first, state_dir, options):
        assert first.run_to_end() == 1
    store = open_store(state_dir)
    # As if the runner died before the store's thread committed s/done's end.
    store.conn.execute("UPDATE tasks SET status = 'running' WHERE task_id = 's/done'")

    stored, flow, runtime = load_for_resume(store, first.run_id)
    assert {t["id"]: t["status"] for t in stored["tasks"]}["s/done"] == "succeeded"
    again = Run(flow, runtime, run_id=first.run_id)
    restore(again, stored)
    events = record(again)
    again.run_to_end()
    assert events.order() == ["s/broken"] and lines(tmp_path, "done") == ["done"]


def test_the_journal_is_json_lines_in_the_order_things_happened(tmp_path, state_dir):
    from flowtui.engine.store.logfiles import read_journal

    name = 'q"uote \\ back é ✓'
    flow_file = sketch(tmp_path / "flow.json", {"s": [{"name": name, "cmd": "exit 3"}, {"name": "next", "cmd": "true"}]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(flow_file), None, options)
    run = Run(flow, runtime)
    with Recording(run, state_dir, options):
        assert run.run_to_end() == 1
    journal = read_journal(state_dir, run.run_id)
    assert journal[0]["run"]["run_id"] == run.run_id
    task = f"s/{name}"
    pgid = next(e["pgid"] for e in journal if e.get("of") == task)
    assert [{k: v for k, v in e.items() if k != "at"} for e in journal[1:4]] == [
        {"task": task, "status": "running", "attempt": 1, "iteration": 1},
        {"pgid": pgid, "of": task},
        {"task": task, "status": "failed", "exit_code": 3, "attempt": 1, "iteration": 1,
         "duration": run.states[task].duration()},
    ]
    assert [e.get("status") for e in journal[4:]] == ["running", None, "succeeded"] and isinstance(journal[3]["at"], float)


def test_a_resumed_fluxor_workflow_gets_its_state_back(tmp_path, state_dir):
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(f"""
init:
  results: []
pipeline:
  first:
    action: system/exec:execute
    input: {{commands: ["echo first >> {tmp_path}/first"]}}
    post:
      results[]: 1
  check:
    action: system/exec:execute
    input: {{commands: ["test -e {tmp_path}/FIXED"], failOnError: true}}
""")
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(workflow), None, options)
    run = Run(flow, runtime)
    with Recording(run, state_dir, options):
        assert run.run_to_end() == 1

    (tmp_path / "FIXED").touch()
    store = open_store(state_dir)
    stored, flow, runtime = load_for_resume(store, run.run_id)
    again = Run(flow, runtime, run_id=run.run_id)
    restore(again, stored)
    with Recording(again, state_dir, stored["options"]):
        assert again.run_to_end() == 0
    assert lines(tmp_path, "first") == ["first"]
    assert [float(x) for x in again.runtime.report()["state"]["results"]] == [1.0]


def test_floe_resume_keeps_the_event_history_and_reruns_only_the_failed_branch(tmp_path, state_dir):
    """A Floe run that failed resumes with its succeeded nodes (and their output opts) kept."""
    flow = tmp_path / "floe.yml"
    flow.write_text(
        "id: resumable\n"
        "tasks:\n"
        "  - name: build\n"
        "    listen: trigger.good\n"
        "    type: exec\n"
        f"    opts: {{shell: \"echo built >> {tmp_path}/build\"}}\n"
        "  - name: check\n"
        "    listen: task.build.good\n"
        "    type: exec\n"
        f"    opts: {{shell: \"echo checked >> {tmp_path}/check; test -e {tmp_path}/FIXED\"}}\n"
        "  - name: done\n"
        "    listen: task.check.good\n"
        "    type: end\n"
    )
    first = flowtui_process("run", flow, "--no-ui", "--state-dir", state_dir)
    assert first.returncode == 1, first.stdout + first.stderr
    (tmp_path / "FIXED").touch()

    result = flowtui_process("run", flow, "--resume", "--no-ui", "--state-dir", state_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(tmp_path, "build") == ["built"]  # succeeded before: not run again
    assert lines(tmp_path, "check") == ["checked", "checked"]
    (run,) = json.loads(flowtui("runs", "--json", "--state-dir", state_dir)[1])
    assert run["status"] == "succeeded"


def test_a_second_resume_at_the_same_moment_is_refused(tmp_path, state_dir):
    """Two resumes started together both passed the "is it live?" check and ran the same tasks."""
    import fcntl
    import os

    flow_file = sketch(tmp_path / "flow.json", {"s": [{"name": "deploy", "cmd": marker(tmp_path, "deploy") + "; exit 1"}]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(flow_file), None, options)
    run = Run(flow, runtime)
    with Recording(run, state_dir, options):
        assert run.run_to_end() == 1
    lock = os.open(os.path.join(state_dir, "runs", run.run_id, "resume.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what the first resumer holds while it runs
        result = flowtui_process("resume", run.run_id, "--no-ui", "--state-dir", state_dir)
    finally:
        os.close(lock)
    assert result.returncode == 2
    assert result.stderr == f"flowtui: run {run.run_id} is being resumed by another flowtui\n"
    assert lines(tmp_path, "deploy") == ["deploy"]
    assert flowtui_process("resume", run.run_id, "--no-ui", "--state-dir", state_dir).returncode == 1  # free again
    assert lines(tmp_path, "deploy") == ["deploy", "deploy"]


def test_a_task_starts_only_once_its_start_and_what_ended_before_are_journaled(tmp_path, state_dir):
    """A task may kill its runner the moment it runs (kill -9 $PPID, a CI job cancelled): the
    journal must already say that what came before succeeded, or a resume runs it again."""
    from flowtui.engine.store.logfiles import read_journal

    flow_file = sketch(tmp_path / "flow.json", {"s": [{"name": "a", "cmd": "true"}, {"name": "b", "cmd": "true"}]})
    options = LoadOptions(sets={}, state_dir=state_dir)
    flow, runtime = load(str(flow_file), None, options)
    run = Run(flow, runtime)
    seen = {}

    def at_spawn(task, pgid):  # called as soon as the process exists, before anything else hears of it
        seen[task] = [(e["task"], e["status"]) for e in read_journal(state_dir, run.run_id) if "status" in e]

    run.spawn_watchers.append(at_spawn)  # ahead of the store's own watcher, which Recording adds
    with Recording(run, state_dir, options):
        assert run.spawn_watchers[0] is at_spawn
        assert run.run_to_end() == 0
    assert seen["s/b"] == [("s/a", "running"), ("s/a", "succeeded"), ("s/b", "running")]


def test_max_parallel_is_recorded_and_a_resume_keeps_it_or_takes_a_new_one(tmp_path, state_dir):
    """Two independent Floe tasks: one at a time, each starts after the other ended; two at a time,
    both start in the same turn of the engine, before either ends."""
    flow = tmp_path / "two.floe.yml"
    flow.write_text("id: two\nver: 1\ntasks:\n" + "".join(
        f"  - name: t{i}\n    listen: trigger.good\n    type: exec\n    opts:\n      cmd: test\n"
        f"      args: ['-e', '{tmp_path}/FIXED']\n" for i in (1, 2)))

    def resumed(*extra):
        events = tmp_path / "events.jsonl"
        result = flowtui_process("run", flow, "--resume", "--no-ui", "--events", events, *extra, "--state-dir", state_dir)
        kinds = [e["type"] for e in map(json.loads, events.read_text().splitlines())
                 if e["type"] in ("task_started", "task_finished") and e["task"] in ("t1", "t2")]
        return result.returncode, kinds

    assert flowtui_process("run", flow, "--no-ui", "--max-parallel", "1", "--state-dir", state_dir).returncode == 1
    run_id = json.loads(flowtui("runs", "--json", "--state-dir", state_dir)[1])[0]["run_id"]
    assert json.loads(flowtui("show", run_id, "--json", "--state-dir", state_dir)[1])["options"]["max_parallel"] == 1
    serial = ["task_started", "task_finished"] * 2
    assert resumed() == (1, serial)  # still failing, still one at a time
    (tmp_path / "FIXED").touch()
    assert resumed("--max-parallel", "2") == (0, ["task_started", "task_started", "task_finished", "task_finished"])


def test_flow_options_given_to_run_resume_are_said_to_be_ignored(tmp_path, state_dir):
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "check", "cmd": f"test -e {tmp_path}/FIXED"}]})
    assert flowtui_process("run", flow, "--no-ui", "--state-dir", state_dir).returncode == 1
    (tmp_path / "FIXED").touch()
    result = flowtui_process("run", flow, "--resume", "--no-ui", "--set", "x=1", "--pty", "*", "--state-dir", state_dir)
    assert result.returncode == 0, result.stderr
    assert ("flowtui: warning: --resume continues the run with the options it started with: --set, --pty ignored\n"
            in result.stderr)
