"""A Fluxor `autoPause` in a headless run is decided as a gate is: asked on a terminal; with none,
resumed from another terminal within --approval-timeout, else the run stops, so CI never waits
for ever."""

import os
import subprocess
import sys

import pytest

LIMIT = 30
WORKFLOW = """pipeline:
  first:
    action: printer:print
    input:
      message: before
  deploy:
    autoPause: true
    action: printer:print
    input:
      message: deploying
"""


@pytest.fixture
def env(tmp_path):
    (tmp_path / "ap.yaml").write_text(WORKFLOW)
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "FORCE_COLOR")}
    return {**clean, "FLOWTUI_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}


def test_with_no_terminal_the_run_stops_at_once_and_says_how_to_wait(flowtui_cmd, tmp_path, env):
    result = subprocess.run([*flowtui_cmd, "run", "ap.yaml", "--no-ui"], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)
    assert result.returncode == 3
    assert "autoPause before deploy: nobody resumed the run (no terminal to ask): stopping it" in result.stdout
    assert "deploying" not in result.stdout and "· deploy not run" in result.stdout


def test_with_an_approval_timeout_nobody_resumes_it_the_hint_asks_for_a_longer_one(flowtui_cmd, tmp_path, env):
    result = subprocess.run([*flowtui_cmd, "run", "ap.yaml", "--no-ui", "--approval-timeout", "0.2s"], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)
    assert result.returncode == 3
    assert ("autoPause before deploy: nobody resumed the run (waited 0.2s; no terminal to ask): stopping it; "
            "pass a longer --approval-timeout and resume it from another terminal (flowtui resume)") in result.stdout


def test_with_an_approval_timeout_another_terminal_resumes_it(flowtui_cmd, tmp_path, env):
    runner = subprocess.Popen([*flowtui_cmd, "run", "ap.yaml", "--no-ui", "--approval-timeout", "10m"], cwd=tmp_path,
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        for line in runner.stdout:
            if line.startswith("⏸ paused by autoPause before deploy"):
                break
        resumed = subprocess.run([*flowtui_cmd, "resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=LIMIT)
        assert resumed.returncode == 0, resumed.stderr
        rest = runner.stdout.read()
        assert runner.wait(LIMIT) == 0
        assert "[deploy] deploying" in rest
    finally:
        runner.kill()
        runner.wait()


def test_on_a_terminal_it_asks(flowtui_cmd, tmp_path, env):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, [*flowtui_cmd[1:], "run", "ap.yaml", "--no-ui"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=LIMIT)
    child.expect_exact("? autoPause before deploy: resume? [Y/n/stop]: ")
    child.sendline("")
    child.expect_exact("[deploy] deploying")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
