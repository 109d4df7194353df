"""`flowtui attach` in a real terminal (pexpect + pyte) on a headless run started elsewhere."""

import json
import os
import sys
import time

import pytest

from flowtui.engine.statedir import resolve
from tests.test_control_support import REPO, Runner, fifo, flowtui, sketch, wait_fifo

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

class Terminal:
    """A pty running the attach command, its screen kept by pyte."""

    def __init__(self, argv, rows=30, cols=110):
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.child = pexpect.spawn(sys.executable, argv, cwd=str(REPO), dimensions=(rows, cols), env=env)

    def text(self):
        return "\n".join(self.screen.display)

    def wait_for(self, needle, timeout=30.0):
        """Feed the screen until `needle` is on it (the terminal's bytes are the only signal)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"{needle!r} never appeared:\n{self.text()}"
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.5))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                raise AssertionError(f"attach exited before showing {needle!r}:\n{self.text()}") from None


@pytest.mark.slow
def test_attach_shows_a_headless_run_live_and_leaving_keeps_it_going(tmp_path):
    state_dir = resolve(str(tmp_path / "state"))
    ready = fifo(tmp_path / "ready")
    flow = sketch(tmp_path / "flow.json", {"stage": [
        {"name": "talk", "cmd": f"sh -c 'echo ready > {ready}; read x; echo got $x; read y; echo bye $y'"},
    ]}, name="Attach demo")
    runner = Runner(flow, state_dir)
    terminal = None
    try:
        wait_fifo(ready, runner)
        terminal = Terminal(["-m", "flowtui", "attach", "--state-dir", state_dir])
        terminal.wait_for("Attach demo")
        terminal.wait_for("talk")
        assert flowtui("send", "stage/talk", "hello", "--state-dir", state_dir)[0] == 0
        terminal.wait_for("got hello")  # output of a task in another process, streamed over the socket
        terminal.child.send("p")  # the TUI's controller is the socket's
        terminal.wait_for("paused")
        assert json.loads(flowtui("status", "--json", "--state-dir", state_dir)[1])["status"]["paused"] is True
        assert flowtui("resume", "--state-dir", state_dir)[0] == 0

        terminal.child.send("q")  # leaving an attached run asks, then leaves it going
        terminal.wait_for("Leave?")
        terminal.child.send("y")
        terminal.child.expect(pexpect.EOF, timeout=30)
        terminal.child.close()
        assert terminal.child.exitstatus == 0
        code, out, _ = flowtui("status", "--state-dir", state_dir)
        assert code == 0 and f"run {runner.run_id}: running" in out
        assert flowtui("send", "stage/talk", "again", "--state-dir", state_dir)[0] == 0
        assert runner.wait() == 0
        assert "[stage/talk] bye again" in runner.output
    finally:
        if terminal is not None:
            terminal.child.close(force=True)
        runner.close()
