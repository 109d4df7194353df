"""End to end: the real `flowtui run FILE` in a pseudo-terminal, read through a terminal emulator.

pexpect gives the CLI a pty (so it opens the TUI), pyte turns the escape codes into a screen we
can read, keys go in as a person would type them, and the exit code is the contract's.
"""

import json
import os
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS, LINES = 110, 30
DEADLINE = 20.0

pytestmark = pytest.mark.slow


class Terminal:
    def __init__(self, argv, cwd, env):
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(argv[0], argv[1:], cwd=cwd, env=env, dimensions=(LINES, COLUMNS))

    def text(self):
        return "\n".join(self.screen.display)

    def read(self, timeout):
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass

    def wait_for(self, needle):
        deadline = time.monotonic() + DEADLINE
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; the screen:\n{self.text()}")
            self.read(0.1)

    def exit_code(self):
        deadline = time.monotonic() + DEADLINE
        while self.child.isalive():
            if time.monotonic() > deadline:
                raise AssertionError(f"flowtui did not exit; the screen:\n{self.text()}")
            try:
                self.read(0.1)
            except pexpect.EOF:
                break
        self.child.close()
        return self.child.exitstatus

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def flowtui_tui(tmp_path):
    terminals = []
    env = {**os.environ, "TERM": "xterm-256color", "FLOWTUI_STATE_DIR": str(tmp_path / "state"), "LANG": "C.UTF-8"}
    env.pop("GITHUB_ACTIONS", None)
    (tmp_path / "state").mkdir(mode=0o700)

    def start(stages, name):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"name": name, **stages}))
        terminal = Terminal([sys.executable, "-m", "flowtui", "run", str(path)], REPO, env)
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def test_approve_a_gate_and_quit_with_the_runs_exit_code(flowtui_tui):
    term = flowtui_tui({
        "build": [{"name": "compile", "cmd": "echo compiled the sources"}],
        "release": [
            {"name": "sign-off", "cmd": "echo signed off", "approve": "Ship the release?"},
            {"name": "publish", "cmd": "echo published everything"},
        ],
    }, "e2e release")
    term.wait_for("Ship the release?")
    term.wait_for("Approve (a)")
    term.child.send("a")
    term.wait_for("run succeeded")
    assert "3/3 tasks" in term.text()
    term.child.send("q")
    assert term.exit_code() == 0


def test_quit_while_running_asks_then_cancels_with_exit_3(flowtui_tui):
    term = flowtui_tui({"work": [{"name": "long", "cmd": "echo working; sleep 60"}]}, "e2e cancel")
    term.wait_for("working")
    term.child.send("q")
    term.wait_for("Cancel it and quit?")
    term.child.send("y")
    assert term.exit_code() == 3


def test_failed_run_selects_the_failure_and_exits_1(flowtui_tui):
    term = flowtui_tui({"test": [
        {"name": "unit", "cmd": "echo fine"},
        {"name": "broken", "cmd": "echo 'assertion failed: 2 != 3' >&2; exit 1", "on-nok-cmd": "echo saving logs"},
    ]}, "e2e failure")
    term.wait_for("first failure: test/broken")
    term.wait_for("[on_nok] saving logs")  # the failed task's output is on screen
    assert "assertion failed: 2 != 3" in term.text()
    term.child.send("q")
    assert term.exit_code() == 1


@pytest.mark.parametrize("how", ["hangup", "sigterm"])
def test_a_closed_terminal_or_sigterm_cancels_the_run_and_still_reports(tmp_path, how):
    """Closing the window (SIGHUP, then EIO on every write) once left Textual blocked on its dead
    output and the tasks running; SIGTERM killed flowtui at once. Both now leave like `q`."""
    import signal

    from tests.test_control_support import alive

    env = {**os.environ, "TERM": "xterm-256color", "FLOWTUI_STATE_DIR": str(tmp_path / "state"), "LANG": "C.UTF-8"}
    flow, report = tmp_path / "long.json", tmp_path / "r.json"
    flow.write_text(json.dumps({"name": "long", "s": [{
        "name": "a", "cmd": f"echo $$ > {tmp_path}/pid; echo working; sleep 300",
        "teardown-cmd": f"echo bye > {tmp_path}/teardown"}]}))
    term = Terminal([sys.executable, "-m", "flowtui", "run", str(flow), "--report", str(report)], REPO, env)
    try:
        term.wait_for("working")
        task = int((tmp_path / "pid").read_text())
        if how == "sigterm":
            os.kill(term.child.pid, signal.SIGTERM)
            term.exit_code()
        else:
            os.close(term.child.child_fd)  # the terminal goes away: the kernel hangs up its session
            deadline = time.monotonic() + DEADLINE
            while os.waitpid(term.child.pid, os.WNOHANG) == (0, 0):
                assert time.monotonic() < deadline, "flowtui did not leave after the hangup"
                time.sleep(0.05)
    finally:
        if how == "sigterm":
            term.close()
    assert json.loads(report.read_text())["status"] == "cancelled"
    assert (tmp_path / "teardown").read_text() == "bye\n" and not alive(task)


def test_a_run_resumed_in_the_tui_writes_the_reports_asked_for(tmp_path):
    """`run FILE --resume --report …` on a terminal: the TUI continues the run, and the report is
    written when it is left (it was only written headless)."""
    env = {**os.environ, "TERM": "xterm-256color", "FLOWTUI_STATE_DIR": str(tmp_path / "state"), "LANG": "C.UTF-8"}
    env.pop("GITHUB_ACTIONS", None)
    flow = tmp_path / "fix.json"
    flow.write_text(json.dumps({"name": "fix", "s": [{"name": "check", "cmd": f"test -e {tmp_path}/FIXED"}]}))
    first = Terminal([sys.executable, "-m", "flowtui", "run", str(flow), "--no-ui"], REPO, env)
    assert first.exit_code() == 1
    (tmp_path / "FIXED").touch()
    term = Terminal([sys.executable, "-m", "flowtui", "run", str(flow), "--resume", "--report", str(tmp_path / "r.json")],
                    REPO, env)
    try:
        term.wait_for("run succeeded")
        term.child.send("q")
        assert term.exit_code() == 0
    finally:
        term.close()
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "succeeded"
