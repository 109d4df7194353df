"""The run store: what a run records, history commands, retention, purge, and a runner killed mid-write."""

import json
import os
import signal
import sqlite3

import pytest

from flowtui.engine.model import Action, Approval, Field, FlowDef, Node, Retry
from flowtui.engine.recording import Recording
from flowtui.engine.run import Run
from flowtui.engine.store import open_store, reap_orphans
from flowtui.engine.store.logfiles import log_name
from tests.test_control_support import Runner, alive, fifo, flowtui, flowtui_process, killed_runner, sketch, wait_fifo


def shell(cmd):
    return Action(kind="shell", params={"cmd": cmd})


def make_flow(path, nodes, name="store test"):
    """A FlowDef of top-level tasks, each after the previous one finished; `path` is its file."""
    path.write_text(json.dumps([n.id for n in nodes]))
    from flowtui.engine.model import COND_FINISHED, Dep

    chained = []
    for i, node in enumerate(nodes):
        chained.append(node.replace(deps=(Dep(node=nodes[i - 1].id, cond=COND_FINISHED),) if i else ()))
    return FlowDef(name=name, format="flowctrl", file=str(path), nodes={n.id: n for n in chained},
                   roots=tuple(n.id for n in chained))


def run_recorded(flow, state_dir, runtime=None, approve=None, run_id=None):
    run = Run(flow, runtime, run_id=run_id)
    if approve:
        run.bus.subscribe(lambda e: e.type == "approval_requested" and run.reactor.call_soon(
            run.approve, e.task, approve[0], approve[1], approve[2]))
    with Recording(run, state_dir, {"sets": {}}):
        run.run_to_end()
    return run


def test_a_task_id_too_long_for_a_file_name_is_still_recorded(tmp_path, state_dir):
    long_ids = ["stage/" + "n" * 300, "stage/" + "é" * 200, "stage/" + "n" * 300 + "x"]
    flow = make_flow(tmp_path / "flow.json", [Node(id=t, name=t, action=shell(f"echo {i}")) for i, t in enumerate(long_ids)])
    run = run_recorded(flow, state_dir)
    assert run.exit_code == 0
    store = open_store(state_dir)
    record = store.get_run(run.run_id)
    assert [t["status"] for t in record["tasks"]] == ["succeeded"] * 3
    paths = [store.task_log_path(run.run_id, t) for t in long_ids]
    assert len(set(paths)) == 3 and all(len(os.path.basename(p).encode()) <= 255 for p in paths)
    assert [open(p).read() for p in paths] == ["0\n", "1\n", "2\n"]


def test_a_run_records_attempts_exit_codes_approvals_and_logs(tmp_path, state_dir):
    flaky_mark = tmp_path / "flaky"
    flow = make_flow(tmp_path / "flow.json", [
        Node(id="out/put", name="put", action=shell("sh -c 'echo to stdout; echo to stderr >&2'")),
        Node(id="flaky", name="flaky", retry=Retry(limit=2),
             action=shell(f"sh -c 'test -e {flaky_mark} && exit 0; touch {flaky_mark}; exit 7'")),
        Node(id="gate", name="gate", approval=Approval(prompt="ok?", fields=(Field(id="ticket"),)), action=shell("echo gated")),
        Node(id="broken", name="broken", action=shell("sh -c 'echo boom; exit 4'")),
    ])
    run = run_recorded(flow, state_dir, approve=("alice", "checked the diff", {"ticket": "T-1"}))
    assert run.exit_code == 1

    store = open_store(state_dir)
    record = store.get_run(run.run_id[:15])
    assert record["run_id"] == run.run_id and record["status"] == "failed" and record["exit_code"] == 1
    assert record["flow_file"] == str(tmp_path / "flow.json") and len(record["content_hash"]) == 64
    assert record["pid"] == os.getpid() and record["live"] is False
    tasks = {t["id"]: t for t in record["tasks"]}
    assert [t["id"] for t in record["tasks"]] == ["out/put", "flaky", "gate", "broken"]
    assert tasks["flaky"]["status"] == "succeeded" and tasks["flaky"]["attempts"] == 2
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in tasks["flaky"]["attempt_history"]] == [
        (1, "failed", 7), (2, "succeeded", 0)]
    assert tasks["broken"]["exit_codes"] == [4] and tasks["broken"]["status"] == "failed"
    (approval,) = tasks["gate"]["approvals"]
    assert (approval["decision"], approval["by"], approval["reason"], approval["values"]) == (
        "approved", "alice", "checked the diff", {"ticket": "T-1"})
    assert approval["at"] >= record["started_at"]
    assert all(t["duration"] is not None for t in record["tasks"])

    log = store.task_log_path(run.run_id, "out/put")
    assert os.path.basename(log) == "out%2Fput.log" == log_name("out/put")
    assert sorted(open(log).read().splitlines()) == ["to stderr", "to stdout"]

    code, out, _ = flowtui("runs", "--state-dir", state_dir)
    assert code == 0 and run.run_id in out and "failed" in out and "store test" in out
    code, out, _ = flowtui("runs", "--json", "--flow", tmp_path / "flow.json", "--state-dir", state_dir)
    (listed,) = json.loads(out)
    assert listed["tasks"] == {"total": 4, "succeeded": 3, "failed": 1}
    code, _, err = flowtui("runs", "--status", "succeeded", "--state-dir", state_dir)
    assert code == 1 and "no runs" in err
    code, out, _ = flowtui("show", run.run_id, "--state-dir", state_dir)
    assert code == 0 and "gate: approved by alice" in out and "checked the diff" in out and "ticket=T-1" in out
    flaky_row = next(line.split() for line in out.splitlines() if line.startswith("flaky "))
    assert flaky_row[:3] == ["flaky", "succeeded", "2"] and flaky_row[-1] == "7,0"
    code, out, _ = flowtui("logs", run.run_id, "broken", "--state-dir", state_dir)
    assert (code, out) == (0, "boom\n")
    code, out, _ = flowtui("logs", run.run_id, "--state-dir", state_dir)
    assert "[broken] boom\n" in out and "[out/put] to stdout\n" in out and "[gate] gated\n" in out
    code, _, err = flowtui("logs", run.run_id, "nope", "--state-dir", state_dir)
    assert code == 2 and "no task 'nope'" in err
    code, _, err = flowtui("show", "19990101", "--state-dir", state_dir)
    assert code == 2 and "no run" in err


def test_retention_keeps_the_newest_runs_of_each_flow(tmp_path, state_dir, monkeypatch):
    monkeypatch.setenv("FLOWTUI_KEEP_RUNS", "2")
    flow = make_flow(tmp_path / "a.json", [Node(id="t", name="t", action=shell("echo a"))])
    other = make_flow(tmp_path / "b.json", [Node(id="t", name="t", action=shell("echo b"))])
    other_run = run_recorded(other, state_dir)
    runs = [run_recorded(flow, state_dir, run_id=f"run-{i}") for i in range(3)]
    store = open_store(state_dir)
    assert [r["run_id"] for r in store.list_runs(flow_file=flow.file)] == ["run-2", "run-1"]
    assert not os.path.exists(os.path.dirname(store.task_log_path(runs[0].run_id, "t")))
    assert [r["run_id"] for r in store.list_runs(flow_file=other.file)] == [other_run.run_id]


def test_learned_durations_are_medians_of_successful_runs(tmp_path, state_dir):
    flow = make_flow(tmp_path / "flow.json", [
        Node(id="ok", name="ok", action=shell("echo fine")),
        Node(id="bad", name="bad", action=shell("false")),
    ])
    for i in range(3):
        run_recorded(flow, state_dir, run_id=f"r{i}")
    store = open_store(state_dir)
    samples = sorted(store.get_run(f"r{i}")["tasks"][0]["duration"] for i in range(3))
    assert store.median_durations(flow.file) == {"ok": samples[1]}


def test_purge_never_touches_an_active_run(tmp_path, state_dir):
    finished = [run_recorded(make_flow(tmp_path / "done.json", [Node(id="t", name="t", action=shell("echo x"))]),
                             state_dir, run_id=f"old-{i}") for i in range(2)]
    ready = fifo(tmp_path / "ready")
    live_flow = sketch(tmp_path / "live.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read x'"}]})
    runner = Runner(live_flow, state_dir)
    try:
        wait_fifo(ready, runner)
        store = open_store(state_dir)
        code, out, _ = flowtui("purge", "--keep", "1", "--state-dir", state_dir)
        assert (code, out) == (0, "purged 1 run\n")
        assert [r["run_id"] for r in store.list_runs(flow_file=tmp_path / "done.json")] == [finished[1].run_id]
        code, out, _ = flowtui("purge", "--all", "--state-dir", state_dir)
        assert (code, out) == (0, "purged 1 run\n")
        code, _, err = flowtui("purge", "--all", "--state-dir", state_dir)
        assert code == 1 and "nothing to purge" in err
        (live,) = store.list_runs()
        assert live["run_id"] == runner.run_id and live["status"] == "running" and live["live"]
        assert os.path.isdir(os.path.dirname(store.task_log_path(runner.run_id, "s/wait")))
        assert flowtui("cancel", "--state-dir", state_dir)[0] == 0
        assert runner.wait() == 3
    finally:
        runner.close()
    assert flowtui("purge", "--older-than", "1d", "--state-dir", state_dir)[0] == 1  # it ended just now
    assert flowtui("purge", "--all", "--state-dir", state_dir)[1] == "purged 1 run\n"


def test_a_runner_killed_mid_write_leaves_a_consistent_store(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [
        {"name": "ok", "cmd": "echo done"},
        {"name": "flood", "cmd": f"sh -c 'trap \"\" PIPE; echo $$ > {tmp_path}/PID; echo ready > {ready}; "
                                 "while :; do echo line; done 2>/dev/null'"},
    ]})
    run_id = killed_runner(flow, state_dir, ready)
    flood_pid = int((tmp_path / "PID").read_text())
    try:
        assert alive(flood_pid)  # the runner's death alone leaves its task going

        db = sqlite3.connect(os.path.join(state_dir, "runs.sqlite3"))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        store = open_store(state_dir)
        assert [r["status"] for r in store.list_runs()] in ([], ["interrupted"])  # recorded yet, or not

        assert reap_orphans(state_dir) == [run_id]
        assert not alive(flood_pid)
        record = store.get_run(run_id)
        assert record["status"] == "interrupted" and not record["live"]
        tasks = {t["id"]: t for t in record["tasks"]}
        assert tasks["s/ok"]["status"] == "succeeded" and tasks["s/flood"]["status"] == "interrupted"
        assert reap_orphans(state_dir) == []
    finally:  # whatever failed above, the busy task must not outlive the test
        try:
            os.killpg(flood_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_logs_follow_prints_a_live_run_until_it_ends(tmp_path, state_dir):
    import subprocess
    import sys

    from tests.test_control_support import REPO

    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [
        {"name": "talk", "cmd": f"sh -c 'echo before; echo ready > {ready}; read x; echo after $x'"},
        {"name": "end", "cmd": "echo the end"},
    ]})
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        follow = subprocess.Popen(
            [sys.executable, "-c", "import sys; from tests.test_control_support import main; sys.exit(main(sys.argv[1:]))",
             "logs", runner.run_id, "--follow", "--state-dir", state_dir],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        assert follow.stdout.readline() == "[s/talk] before\n"
        assert flowtui("send", "s/talk", "go", "--state-dir", state_dir)[0] == 0
        assert runner.wait() == 0
        assert follow.wait(30) == 0
        assert follow.stdout.read() == "[s/talk] after go\n[s/end] the end\n"
        follow.stdout.close()
    finally:
        runner.close()


def _read_only_prefix(directory):
    """argv prefix running a command with `directory` read-only: a private read-only bind mount as
    root (permissions do not stop root), else a plain chmod. None when neither is possible here."""
    import shutil
    import subprocess

    if os.getuid() != 0:
        os.chmod(directory, 0o500)
        return []
    unshare = shutil.which("unshare")
    probe = [unshare, "-m", "sh", "-c", f'mount --bind -o ro "{directory}" "{directory}"'] if unshare else None
    if probe is None or subprocess.run(probe, capture_output=True).returncode != 0:
        return None
    return [unshare, "-m", "sh", "-c", f'mount --bind -o ro "{directory}" "{directory}" && exec "$@"', "sh"]


def test_a_read_only_state_dir_is_one_line_and_exit_2(tmp_path, state_dir):
    import subprocess
    import sys

    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "t", "cmd": f"touch {tmp_path}/RAN"}]})
    assert flowtui("runs", "--state-dir", state_dir)[0] == 1  # nothing recorded yet, but usable
    prefix = _read_only_prefix(state_dir)
    if prefix is None:
        pytest.skip("no way to make a directory read-only here")
    for argv in (["runs"], ["show", "last"], ["run", str(flow), "--no-ui"]):
        done = subprocess.run([*prefix, sys.executable, "-m", "flowtui", *argv, "--state-dir", state_dir],
                              capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"flowtui: state dir {state_dir} is not writable: pick another with --state-dir\n"
    assert not (tmp_path / "RAN").exists()


def test_a_sockets_dir_others_may_write_is_refused_before_anything_runs(tmp_path, state_dir):
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "t", "cmd": f"touch {tmp_path}/RAN"}]})
    sockets = os.path.join(state_dir, "sockets")
    os.makedirs(sockets)
    os.chmod(sockets, 0o777)
    done = flowtui_process("run", str(flow), "--no-ui", "--state-dir", state_dir)
    code, err = done.returncode, done.stderr
    assert code == 2 and err.startswith(f"flowtui: state dir {sockets} is writable by other users (mode 777)"), err
    assert "Traceback" not in err and not (tmp_path / "RAN").exists()
    os.chmod(sockets, 0o700)
    assert flowtui("runs", "--state-dir", state_dir)[0] == 1  # no phantom run was recorded


def test_a_run_id_another_runner_took_in_the_same_second_is_not_taken_again(tmp_path):
    """Two runners starting in the same second may draw the same id: the second gets another."""
    from flowtui.engine.store.logfiles import claim_run_id, run_dir

    drawn = iter(["20261124-101500-ab12", "20261124-101500-ab12", "20261124-101500-cd34"])
    first = claim_run_id(str(tmp_path), lambda: next(drawn))
    second = claim_run_id(str(tmp_path), lambda: next(drawn))
    assert (first, second) == ("20261124-101500-ab12", "20261124-101500-cd34")
    assert os.path.isdir(run_dir(str(tmp_path), second))
