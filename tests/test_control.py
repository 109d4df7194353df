"""Control from another process: every command against a real headless runner over its socket."""

import json
import os
import socket
import stat

import pytest

from flowtui.engine.control.client import Client
from flowtui.engine.control.sockets import socket_path
from flowtui.engine.statedir import StateDirError, resolve
from tests.test_control_support import Runner, fifo, flowtui, sketch, wait_fifo


class Events:
    """A subscriber connection: read events until the one wanted arrives."""

    def __init__(self, state_dir, run_id):
        self.client = Client(socket_path(state_dir, run_id))
        reply = self.client.request("subscribe")
        assert reply["ok"] and reply["snapshot"]["run_id"] == run_id
        self.snapshot = reply["snapshot"]
        self.seen = []

    def until(self, type_name, task=None):
        while True:
            event = self.client.read()
            self.seen.append(event)
            if event.get("type") == type_name and (task is None or event.get("task") == task):
                return event

    def close(self):
        self.client.close()


def test_every_command_from_another_process(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {
        "main": [
            {"name": "first", "cmd": f"sh -c 'echo first >> {tmp_path}/FIRST'"},
            {"name": "ask", "cmd": f"sh -c 'echo ready > {ready}; read answer; echo \"answer=$answer\" > {tmp_path}/ANSWER'"},
            {"name": "gate", "approve": "Ship it?", "cmd": f"sh -c 'echo gated > {tmp_path}/GATE'"},
            {"name": "hold", "cmd": f"sh -c 'echo ready > {ready}; read line; echo released'"},
        ],
        "later": [
            {"name": "skipme", "cmd": f"sh -c 'echo ran > {tmp_path}/SKIPPED'"},
            {"name": "last", "cmd": "echo last"},
        ],
    })
    runner = Runner(flow, state_dir)
    try:
        assert wait_fifo(ready, runner) == "ready\n"  # main/ask is running and reads its stdin
        run_id = runner.run_id

        code, out, _ = flowtui("status", "--state-dir", state_dir)
        assert code == 0
        assert f"run {run_id}: running" in out
        assert any("main/ask" in line and "running" in line for line in out.splitlines())
        code, out, _ = flowtui("status", run_id[:10], "--json", "--state-dir", state_dir)
        status = json.loads(out)["status"]
        assert code == 0 and status["running"] == ["main/ask"] and status["counts"]["succeeded"] == 1

        events = Events(state_dir, run_id)
        assert flowtui("send", "main/ask", "hello", "--state-dir", state_dir)[0] == 0
        events.until("approval_requested", "main/gate")
        assert (tmp_path / "ANSWER").read_text() == "answer=hello\n"
        code, _, err = flowtui("send", "main/ask", "again", "--state-dir", state_dir)
        assert code == 1 and "not running" in err

        code, out, _ = flowtui("approve", "main/gate", run_id, "--reason", "looks right", "--state-dir", state_dir)
        assert code == 0 and "approved main/gate" in out
        code, _, err = flowtui("approve", "main/gate", "--state-dir", state_dir)
        assert code == 1 and "not awaiting approval" in err
        assert wait_fifo(ready, runner) == "ready\n"  # main/hold is running
        assert (tmp_path / "GATE").read_text() == "gated\n"

        assert flowtui("skip", "later/skipme", "--state-dir", state_dir)[0] == 0
        code, _, err = flowtui("skip", "later/skipme", "--state-dir", state_dir)
        assert code == 1 and "already to be skipped when its turn comes" in err

        assert flowtui("rerun", "main/first", "--state-dir", state_dir)[0] == 0
        events.until("task_started", "main/first")
        events.until("task_finished", "main/first")
        assert (tmp_path / "FIRST").read_text() == "first\nfirst\n"
        code, _, err = flowtui("rerun", "main/hold", "--state-dir", state_dir)
        assert code == 1 and "only a finished task" in err

        assert flowtui("pause", "--state-dir", state_dir)[0] == 0
        code, _, err = flowtui("pause", "--state-dir", state_dir)
        assert code == 1 and "already paused" in err
        assert json.loads(flowtui("status", "--json", "--state-dir", state_dir)[1])["status"]["status"] == "paused"
        assert flowtui("resume", "--state-dir", state_dir)[0] == 0
        code, _, err = flowtui("resume", run_id, "--state-dir", state_dir)
        assert code == 1 and "not paused" in err

        assert flowtui("send", "main/hold", "go", "--state-dir", state_dir)[0] == 0
        events.until("run_finished")
        events.close()
        assert runner.wait() == 0
    finally:
        runner.close()
    assert not (tmp_path / "SKIPPED").exists()
    assert "[main/hold] released" in runner.output

    code, _, err = flowtui("pause", "--state-dir", state_dir)
    assert code == 2 and "no live run" in err

    run = json.loads(flowtui("show", run_id, "--json", "--state-dir", state_dir)[1])
    tasks = {t["id"]: t for t in run["tasks"]}
    assert run["status"] == "succeeded"
    assert [(a["decision"], a["reason"]) for a in tasks["main/gate"]["approvals"]] == [("approved", "looks right")]
    assert tasks["main/first"]["attempts"] == 2 and tasks["main/first"]["exit_codes"] == [0, 0]
    assert tasks["later/skipme"]["status"] == "skipped"


def test_stop_lets_running_tasks_finish_and_cancel_terminates_them(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {
        "s": [
            {"name": "long", "cmd": f"sh -c 'echo ready > {ready}; read line; echo finished > {tmp_path}/LONG'"},
            {"name": "next", "cmd": f"sh -c 'echo next > {tmp_path}/NEXT'"},
        ],
    })
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        events = Events(state_dir, runner.run_id)
        code, out, _ = flowtui("stop", "--state-dir", state_dir)
        assert code == 0 and "stopping" in out
        assert events.until("run_stopping")["mode"] == "stop"
        assert flowtui("stop", "--state-dir", state_dir)[0] == 1  # already stopping
        code, out, _ = flowtui("cancel", "--state-dir", state_dir)
        assert code == 0 and "cancelling" in out
        assert events.until("task_finished", "s/long")["status"] == "cancelled"
        events.close()
        assert runner.wait() == 3
    finally:
        runner.close()
    assert not (tmp_path / "LONG").exists() and not (tmp_path / "NEXT").exists()


def test_garbage_gets_errors_and_two_clients_are_served(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read line; echo got $line'"}]})
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        path = socket_path(state_dir, runner.run_id)
        watcher = Events(state_dir, runner.run_id)
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(path)
        replies = raw.makefile("rb")
        garbage = [
            b"this is not json", b"[1, 2, 3]", b'{"op": "status"}', b'{"v": 2, "op": "status"}',
            b'{"v": 1, "op": "explode"}', b'{"v": 1, "op": "approve"}', b'{"v": 1, "op": "send", "task": "s/wait"}',
            b'{"v": 1, "op": "approve", "task": "s/wait", "values": [1]}', b"\xff\xfe\x00",
        ]
        for line in garbage:
            raw.sendall(line + b"\n")
            reply = json.loads(replies.readline())
            assert reply["v"] == 1 and reply["ok"] is False and reply["message"], line
        raw.sendall(b'{"v": 1, "op": "status", "id": 7}\n')
        reply = json.loads(replies.readline())
        assert reply["ok"] and reply["id"] == 7 and reply["status"]["running"] == ["s/wait"]

        other = Client(path)
        assert other.request("send", task="s/wait", text="both")["ok"]
        output = watcher.until("task_output", "s/wait")
        assert output["lines"] == ["got both"]
        assert watcher.until("run_finished")["status"] == "succeeded"
        for client in (other, watcher):
            client.close()
        raw.close()
        assert runner.wait() == 0
    finally:
        runner.close()
    assert not os.path.exists(path)


def test_socket_is_owner_only_and_an_open_state_dir_is_refused(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read line'"}]})
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        path = socket_path(state_dir, runner.run_id)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
        assert flowtui("cancel", "--state-dir", state_dir)[0] == 0
        assert runner.wait() == 3
    finally:
        runner.close()

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(StateDirError, match="writable by other users"):
        resolve(str(shared))
    code, _, err = flowtui("status", "--state-dir", shared)
    assert code == 2 and "writable by other users" in err


def test_without_a_run_named_several_live_runs_are_listed(tmp_path, state_dir):
    runners = []
    try:
        for name in ("one", "two"):
            ready = fifo(tmp_path / f"ready-{name}")
            flow = sketch(tmp_path / f"{name}.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read line'"}]})
            runners.append(Runner(flow, state_dir))
            wait_fifo(ready, runners[-1])
        code, _, err = flowtui("status", "--state-dir", state_dir)
        assert code == 2 and "several live runs" in err
        ids = [line.strip() for line in err.splitlines()[2:]]
        assert len(ids) == 2
        for run_id in ids:
            assert flowtui("cancel", run_id, "--state-dir", state_dir)[0] == 0
        assert [r.wait() for r in runners] == [3, 3]
    finally:
        for runner in runners:
            runner.close()


def test_approval_forms_rejections_and_downstream_reruns_over_the_socket(tmp_path, state_dir):
    """The run here lives in this process with its reactor on a thread, as under the TUI."""
    import threading

    from flowtui.engine.model import Action, Approval, Dep, Field, FlowDef, Node
    from flowtui.engine.recording import Recording
    from flowtui.engine.run import Run
    from flowtui.engine.store import open_store

    def shell(cmd):
        return Action(kind="shell", params={"cmd": cmd})

    ready = fifo(tmp_path / "ready")
    nodes = [
        Node(id="gate", name="gate", approval=Approval(prompt="Where?", fields=(
            Field(id="env", type="choice", choices=("dev", "prod")),)), action=shell("true")),
        Node(id="deploy", name="deploy", deps=(Dep(node="gate"),), action=shell(f"sh -c 'echo x >> {tmp_path}/deploy'")),
        Node(id="risky", name="risky", approval=Approval(prompt="Sure?"), action=shell(f"touch {tmp_path}/risky")),
        Node(id="hold", name="hold", action=shell(f"sh -c 'echo ready > {ready}; read x'")),
    ]
    (tmp_path / "flow.txt").write_text("hand-built")
    flow = FlowDef(name="forms", format="flowctrl", file=str(tmp_path / "flow.txt"), nodes={n.id: n for n in nodes},
                   roots=tuple(n.id for n in nodes))
    run = Run(flow)
    recording = Recording(run, state_dir)
    thread = threading.Thread(target=run.run_to_end)
    thread.start()
    try:
        wait_fifo(ready)
        events = Events(state_dir, run.run_id)
        assert sorted(events.snapshot["approvals"]) == ["gate", "risky"]
        code, _, err = flowtui("approve", "gate", "--set", "env=staging", "--state-dir", state_dir)
        assert code == 1 and "must be one of dev, prod" in err
        assert flowtui("approve", "gate", "--set", "env=prod", "--reason", "go", "--state-dir", state_dir)[0] == 0
        events.until("task_finished", "deploy")
        code, out, _ = flowtui("reject", "risky", "--reason", "not today", "--state-dir", state_dir)
        assert code == 0 and "rejected risky" in out
        code, out, _ = flowtui("rerun", "gate", "--downstream", "--state-dir", state_dir)
        assert code == 0 and "rerunning gate and 1 downstream" in out
        events.until("approval_requested", "gate")
        assert flowtui("approve", "gate", "--set", "env=dev", "--state-dir", state_dir)[0] == 0
        events.until("task_finished", "deploy")
        assert flowtui("send", "hold", "done", "--state-dir", state_dir)[0] == 0
        assert events.until("run_finished")["status"] == "failed"  # risky was rejected
        events.close()
    finally:
        if thread.is_alive():
            run.reactor.call_threadsafe(run.cancel)
        thread.join(30)
        recording.close()
    assert (tmp_path / "deploy").read_text() == "x\nx\n" and not (tmp_path / "risky").exists()
    tasks = {t["id"]: t for t in open_store(state_dir).get_run(run.run_id)["tasks"]}
    assert [(a["decision"], a["values"], a["reason"]) for a in tasks["gate"]["approvals"]] == [
        ("approved", {"env": "prod"}, "go"), ("approved", {"env": "dev"}, None)]
    assert [(a["decision"], a["reason"]) for a in tasks["risky"]["approvals"]] == [("rejected", "not today")]
    assert tasks["risky"]["status"] == "rejected" and tasks["deploy"]["attempts"] == 2


def test_a_subscriber_that_reads_late_gets_every_line_and_never_slows_the_run(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [
        {"name": "gate", "cmd": f"sh -c 'echo ready > {ready}; read x'"},
        {"name": "loud", "cmd": f"sh -c 'seq 1 200000; echo ready > {ready}; read x'"},
    ]})
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        events = Events(state_dir, runner.run_id)
        assert flowtui("send", "s/gate", "go", "--state-dir", state_dir)[0] == 0
        wait_fifo(ready, runner)  # 200000 lines went out while the subscriber read nothing
        numbers = []
        while len(numbers) < 200000:
            numbers.extend(events.until("task_output", "s/loud")["lines"])
        assert numbers == [str(n) for n in range(1, 200001)]
        assert flowtui("send", "s/loud", "done", "--state-dir", state_dir)[0] == 0
        assert events.until("run_finished")["status"] == "succeeded"
        events.close()
        assert runner.wait() == 0
    finally:
        runner.close()
