"""Shared helpers for the store, control and resume tests: real runner processes, FIFOs, the CLI.

A task signals "I am running" by writing to a FIFO the test reads (no polling, no sleeps); a
task that must stay running reads its stdin, which `flowtui send` (or the test) feeds.
"""

import io
import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

from flowtui.cli import main

REPO = Path(__file__).resolve().parents[1]



def sketch(path, stages, name="Test flow") -> Path:
    path = Path(path)
    path.write_text(json.dumps({"name": name, **stages}, indent=1))
    return path


def fifo(path) -> Path:
    os.mkfifo(path)
    return Path(path)


def wait_fifo(path, runner=None, timeout=30.0) -> str:
    """What a task wrote to FIFO `path` (opened read-write so it never sees a premature EOF).

    With `runner`, fails at once (showing its output) if the runner exits instead.
    """
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    pidfd = os.pidfd_open(runner.proc.pid) if runner else None
    try:
        ready, _, _ = select.select([fd] + ([pidfd] if pidfd is not None else []), [], [], timeout)
        assert ready, f"no task wrote to {path} within {timeout}s"
        if fd not in ready:
            raise AssertionError(f"the runner exited {runner.wait()}:\n{runner.output}")
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)
        if pidfd is not None:
            os.close(pidfd)


class Runner:
    """`flowtui run FILE --no-ui --state-dir DIR` in a subprocess; stdin is not a terminal."""

    def __init__(self, flow_file, state_dir, cwd=None, extra=()):
        self._out = tempfile.TemporaryFile()  # a file, not a pipe: a runner never blocks on its output
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flowtui", "run", str(flow_file), "--no-ui", "--state-dir", str(state_dir),
             "--approval-timeout", "10m", *map(str, extra)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
            cwd=cwd or REPO, start_new_session=True,
        )
        self.state_dir = str(state_dir)
        self._run_id = None

    @property
    def run_id(self):
        """The run's id, read from its live socket (ask once a task is known to be running)."""
        if self._run_id is None:
            from flowtui.engine.control.sockets import live_runs

            (self._run_id,) = live_runs(self.state_dir)
        return self._run_id

    def wait(self, timeout=60):
        code = self.proc.wait(timeout)
        self._out.seek(0)
        self.output = self._out.read().decode("utf-8", "replace")
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()


def flowtui(*argv):
    """Run one of the store/control subcommands; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def alive(pid) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def flowtui_process(*argv, cwd=None, timeout=60):
    """The same subcommands in a subprocess (a command that runs a flow installs signal handlers)."""
    return subprocess.run(
        [sys.executable, "-m", "flowtui", *map(str, argv)], cwd=cwd or REPO, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


def killed_runner(flow_file, state_dir, ready) -> str:
    """Start a runner, wait until a task signals on FIFO `ready`, kill -9 it; returns its run id."""
    runner = Runner(flow_file, state_dir)
    try:
        wait_fifo(ready, runner)
        run_id = runner.run_id
        runner.kill9()
    finally:
        runner.close()
    return run_id
