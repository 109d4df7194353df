"""Control commands racing the run they steer: a runner killed mid-reply, a run that has ended but
not yet exited, a socket this user may not connect to, a purge while a resume starts."""

import fcntl
import json
import os
import socket
import subprocess
import sys

import pytest

from flowtui.engine.control.client import Client, ControlError
from flowtui.engine.control.sockets import socket_path
from tests.test_control_support import REPO, Runner, fifo, flowtui, flowtui_process, sketch, wait_fifo


def test_a_runner_killed_in_the_middle_of_a_reply_is_a_control_error_not_a_traceback(tmp_path, state_dir):
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "big.json", {
        "hold": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read x'"}],
        "many": [{"name": f"task{i}", "cmd": f"echo {i}"} for i in range(3000)],
    })
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        client = Client(socket_path(state_dir, runner.run_id))
        client.sock.sendall(b'{"v": 1, "op": "snapshot"}\n')
        # The reply has begun (a snapshot of 3000 tasks is megabytes: far more than a socket buffers)...
        assert client.sock.recv(1, socket.MSG_PEEK) == b"{"
        runner.kill9()  # ...and its runner dies before the end of it
        with pytest.raises(ControlError, match="in the middle of a reply"):
            client.read()
        client.close()
    finally:
        runner.close()


def test_a_run_that_has_ended_stops_answering_before_its_runner_writes_the_reports(tmp_path, state_dir):
    """The socket used to outlive the run's event loop until the runner exited: while it wrote its
    reports (into a FIFO nobody read yet, on a slow disk) `status` waited 30 s for a reply that
    could not come, and `attach` waited for ever."""
    ready, report = fifo(tmp_path / "ready"), fifo(tmp_path / "report.json")
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read x'"}]})
    runner = Runner(flow, state_dir, extra=["--report", report])
    try:
        wait_fifo(ready, runner)
        run_id = runner.run_id
        events = Client(socket_path(state_dir, run_id), timeout=30)  # a bound on failure, not a timing
        assert events.request("subscribe")["ok"]
        assert flowtui("send", "s/wait", "go", "--state-dir", state_dir)[0] == 0
        while events.read().get("type") != "run_finished":
            pass
        # The run has ended; its runner now blocks opening the report FIFO until someone reads it.
        with pytest.raises(ControlError, match="closed the connection"):
            while True:
                events.read()
        events.close()
        for command in ("status", "pause", "attach"):
            code, out, err = flowtui(command, "--state-dir", state_dir)
            assert (code, out, err) == (2, "", "flowtui: no live run\n"), command
        code, _, err = flowtui("send", "s/wait", "late", run_id, "--state-dir", state_dir)
        assert code == 2 and err == f"flowtui: no live run {run_id!r}\n"
        with open(report) as handle:  # the runner goes on: its report, its exit
            assert json.load(handle)["status"] == "succeeded"
        assert runner.wait() == 0
    finally:
        runner.close()
    code, out, _ = flowtui("show", run_id, "--json", "--state-dir", state_dir)
    assert code == 0 and json.loads(out)["status"] == "succeeded"  # the store had it all before the socket went


def _no_permission_override():
    """For a subprocess: file permissions apply to it even as root (CAP_DAC_* leave its bounding set)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def restricted(*argv):
    """`flowtui ARGV` in a process for which a socket of mode 000 is another user's: it may not connect."""
    return subprocess.run(
        [sys.executable, "-m", "flowtui", *map(str, argv)], cwd=REPO, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60, preexec_fn=_no_permission_override if os.geteuid() == 0 else None,
    )


def test_a_live_run_whose_socket_this_user_may_not_connect_to_is_not_taken_for_a_dead_one(tmp_path, state_dir):
    """Another user's run (`sudo flowtui run` with this HOME), simulated by a socket of mode 000.
    Its refused connect (EACCES) was read as a dead runner's: `status` said `no live run`, and the
    next `run`, `purge` or `runs` marked it interrupted and unlinked its socket, leaving it running
    with no way to steer it."""
    if os.geteuid() == 0 and restricted("--version").returncode != 0:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "wait", "cmd": f"sh -c 'echo ready > {ready}; read x; echo got $x'"}]})
    quick = sketch(tmp_path / "quick.json", {"q": [{"name": "one", "cmd": "true"}]})
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)
        run_id, path = runner.run_id, socket_path(state_dir, runner.run_id)
        os.chmod(path, 0)
        try:
            for argv in (["status"], ["send", "s/wait", "x", run_id[:12]]):
                result = restricted(*argv, "--state-dir", state_dir)
                assert result.returncode == 2, result
                assert result.stderr == f"flowtui: cannot reach the run at {path}: Permission denied\n"
            assert restricted("run", quick, "--no-ui", "--state-dir", state_dir).returncode == 0
            result = restricted("runs", "--json", "--state-dir", state_dir)
            assert {run["run_id"]: run["status"] for run in json.loads(result.stdout)}[run_id] == "running"
            result = restricted("purge", "--all", "--state-dir", state_dir)
            assert (result.returncode, result.stdout) == (0, "purged 1 run\n")  # quick.json's, not the live one
        finally:
            os.chmod(path, 0o600)
        assert flowtui("send", "s/wait", "go", "--state-dir", state_dir)[0] == 0  # still there, still steerable
        assert runner.wait() == 0 and "[s/wait] got go" in runner.output
    finally:
        runner.close()


def test_a_run_being_resumed_is_not_purged_under_the_resumer(tmp_path, state_dir):
    """Between taking the resume lock and serving its socket, a resumer's run looked ended (its
    row still says failed): `purge` or another run's retention deleted its rows and its directory,
    journal and lock included, while it was about to run it."""
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "bad", "cmd": "false"}]})
    assert flowtui_process("run", flow, "--no-ui", "--state-dir", state_dir).returncode == 1
    (run_id,) = os.listdir(os.path.join(state_dir, "runs"))
    lock = os.open(os.path.join(state_dir, "runs", run_id, "resume.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a `flowtui resume` holds from its start to its end
        code, out, err = flowtui("purge", "--all", "--state-dir", state_dir)
        assert (code, out, err) == (1, "", "flowtui: nothing to purge\n")
        keep_one = {**os.environ, "FLOWTUI_KEEP_RUNS": "1"}  # a second run of the flow: retention keeps 1
        second = subprocess.run([sys.executable, "-m", "flowtui", "run", str(flow), "--no-ui", "--state-dir", state_dir],
                                cwd=REPO, env=keep_one, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert flowtui("show", run_id, "--state-dir", state_dir)[0] == 0
        assert os.path.exists(os.path.join(state_dir, "runs", run_id, "journal"))
    finally:
        os.close(lock)
    code, out, _ = flowtui("purge", "--all", "--state-dir", state_dir)  # no longer being resumed: it goes
    assert (code, out) == (0, "purged 2 runs\n")
