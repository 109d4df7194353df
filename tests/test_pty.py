"""--pty GLOB: matching tasks run in a pseudo-terminal, as under a terminal (isatty, a size, colours);
stdout and stderr arrive as one `pty` stream. With nobody to answer (headless, no terminal), a
prompt gets end of input (stdin is /dev/null and there is no /dev/tty) rather than waiting for ever."""

import json
import os
import subprocess

LIMIT = 30
SKETCH = {"name": "pty", "s": [
    {"name": "isatty", "cmd": "if [ -t 1 ]; then echo tty; else echo notty; fi"},
    {"name": "size", "cmd": "python3 -c 'import os; print(*os.get_terminal_size())'"},
    {"name": "prompt", "cmd": "printf 'name? '; read x; echo \"got [$x]\""},
    {"name": "err", "cmd": "echo to-stderr >&2"},
]}


def run(flowtui_cmd, tmp_path, *args, env=None, name="p.json", text=None):
    (tmp_path / name).write_text(text or json.dumps(SKETCH))
    env = {**os.environ, "FLOWTUI_STATE_DIR": str(tmp_path / "state"), **(env or {})}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run([*flowtui_cmd, "run", name, "--no-ui", *args], cwd=tmp_path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)


def output(result):
    return {line.split("] ", 1)[0][1:]: line.split("] ", 1)[1] for line in result.stdout.splitlines()
            if line.startswith("[")}


def test_matching_tasks_run_in_a_terminal_and_the_others_in_pipes(flowtui_cmd, tmp_path):
    result = run(flowtui_cmd, tmp_path, "--pty", "s/isatty", "--pty", "s/[ps]*", "--events", "e.jsonl")
    assert result.returncode == 0, result.stderr
    assert output(result) == {"s/isatty": "tty", "s/size": "80 24", "s/prompt": "name? got []", "s/err": "to-stderr"}
    streams = {e["task"]: e["stream"] for e in map(json.loads, (tmp_path / "e.jsonl").read_text().splitlines())
               if e["type"] == "task_output"}
    assert streams == {"s/isatty": "pty", "s/size": "pty", "s/prompt": "pty", "s/err": "stderr"}


def test_without_pty_a_task_has_no_terminal(flowtui_cmd, tmp_path):
    result = run(flowtui_cmd, tmp_path)
    assert output(result)["s/isatty"] == "notty"


def test_the_terminal_takes_its_size_from_columns_and_lines(flowtui_cmd, tmp_path):
    result = run(flowtui_cmd, tmp_path, "--pty", "s/size", env={"COLUMNS": "132", "LINES": "40"})
    assert output(result)["s/size"] == "132 40"


def test_fluxor_exec_tasks_keep_their_pipes_and_say_so(flowtui_cmd, tmp_path):
    workflow = "pipeline:\n  hi:\n    action: system/exec:execute\n    input:\n      commands: ['[ -t 1 ] && echo tty || echo notty']\n"
    result = run(flowtui_cmd, tmp_path, "--pty", "*", name="w.yaml", text=workflow)
    assert result.returncode == 0, result.stderr
    assert "--pty does not apply to Fluxor exec tasks" in result.stderr
    assert "[hi] notty" in result.stdout


def test_with_nobody_to_answer_a_prompt_on_dev_tty_fails_rather_than_waits(flowtui_cmd, tmp_path):
    sketch = {"s": [{"name": "token", "cmd": "python3 -c 'import getpass; getpass.getpass(\"Token: \")'"}]}
    result = run(flowtui_cmd, tmp_path, "--pty", "*", text=json.dumps(sketch))
    assert result.returncode == 1 and "EOFError" in result.stdout
