"""A headless run whose terminal hangs up (SIGHUP) or whose stdout's reader goes away (`| head`) is
cancelled like an interrupt: tasks terminated, teardown run, reports written, exit 130."""

import json
import os
import signal
import subprocess

import pytest

from .test_cli import LIMIT, read_until, start_and_wait_for
from .test_engine_run import process_gone

LONG = {"name": "long", "s": [
    {"name": "a", "cmd": "sleep 30 & echo $! > child.pid; echo started; wait", "teardown-cmd": "echo teardown"},
    {"name": "b", "cmd": "echo b"},
]}


@pytest.fixture
def env(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "NO_COLOR", "PYTHONUNBUFFERED")}
    clean["FLOWTUI_STATE_DIR"] = str(tmp_path / "state")
    return clean


def assert_cancelled(tmp_path):
    """The task and its background child are gone, its teardown ran, and the report says so."""
    assert process_gone(int((tmp_path / "child.pid").read_text()))
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["status"], report["exit_code"]) == ("cancelled", 130)
    assert [t["status"] for t in report["tasks"]] == ["cancelled", "not_run"]
    assert report["tasks"][0]["hooks"] == [{"kind": "teardown", "exit_code": 0}]


def test_sighup_cancels_like_sigterm(flowtui_cmd, tmp_path, env):
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, LONG, "[s/a] started\n")
    try:
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "flowtui: hangup: terminating running tasks" in err.decode()
    assert "[s/a] (teardown) teardown" in (seen + out).decode()
    assert_cancelled(tmp_path)


def test_a_second_sighup_does_not_cut_the_teardown_short(flowtui_cmd, tmp_path, env):
    """A closed terminal may send SIGHUP twice (the kernel's, the shell's): not a request to kill now."""
    sketch = {"s": [{"name": "a", "cmd": "echo started; sleep 30",
                     "teardown-cmd": "echo tearing; sleep 0.5; echo torn"}]}
    proc, seen = start_and_wait_for(flowtui_cmd, tmp_path, env, sketch, "[s/a] started\n")
    try:
        proc.send_signal(signal.SIGHUP)
        seen = read_until(proc, "[s/a] (teardown) tearing\n", seen)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "[s/a] (teardown) torn\n" in (seen + out).decode()
    assert json.loads((tmp_path / "r.json").read_text())["tasks"][0]["hooks"] == [{"kind": "teardown", "exit_code": 0}]


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_stdout_closed_mid_run_cancels_and_still_writes_the_reports(flowtui_cmd, tmp_path, env, unbuffered):
    """`flowtui run … | head -1`: noticed while the task is silent, not at its next line."""
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc, _ = start_and_wait_for(flowtui_cmd, tmp_path, env, LONG, "[s/a] started\n")
    try:
        proc.stdout.close()  # the reader goes away
        err = proc.stderr.read()
        proc.wait(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.decode() == "flowtui: cannot write stdout (Broken pipe): cancelling the run (terminating running tasks)\n"
    assert_cancelled(tmp_path)


def test_stdout_and_stderr_closed_together(flowtui_cmd, tmp_path, env):
    """`2>&1 | head`: the message cannot be shown either, and nothing else changes."""
    (tmp_path / "sketch.json").write_text(json.dumps(LONG))
    proc = subprocess.Popen([*flowtui_cmd, "run", "sketch.json", "--no-ui", "--report", "r.json"], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        read_until(proc, "[s/a] started\n")
        proc.stdout.close()
        proc.wait(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert_cancelled(tmp_path)


def test_other_commands_stop_quietly_when_stdout_has_no_reader(flowtui_cmd, tmp_path, env):
    (tmp_path / "sketch.json").write_text(json.dumps(LONG))
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([*flowtui_cmd, "graph", "sketch.json"], cwd=tmp_path, env=env, stdout=write,
                                stderr=subprocess.PIPE, text=True, timeout=LIMIT)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (1, "")
