"""Control commands racing the run they steer: a runner killed mid-reply, a run that has ended but
not yet exited, a socket this user may not connect to, a purge while a resume starts."""

import socket

import pytest

from flowtui.engine.control.client import Client, ControlError
from flowtui.engine.control.sockets import socket_path
from flowtui.engine.statedir import resolve
from tests.test_control_support import Runner, fifo, sketch, wait_fifo


@pytest.fixture
def state_dir(tmp_path):
    return resolve(str(tmp_path / "state"))


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
