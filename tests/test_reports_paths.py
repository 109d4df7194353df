"""--report / --junit / --events paths: written through to what they name, refused up front when
they cannot be written, and a report lost at the end is never exit 0."""

import json
import os
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

from .test_cli import LIMIT

OK = {"name": "ok", "s": [{"name": "a", "cmd": "echo hi; touch ran"}]}


@pytest.fixture
def run(flowtui_cmd, tmp_path):
    """run(*args, stdout=PIPE) -> CompletedProcess of `flowtui run sketch.json --no-ui *args` in tmp_path."""
    (tmp_path / "sketch.json").write_text(json.dumps(OK))
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "PYTHONUNBUFFERED")}
    env["FLOWTUI_STATE_DIR"] = str(tmp_path / "state")

    def call(*args, stdout=subprocess.PIPE):
        return subprocess.run([*flowtui_cmd, "run", "sketch.json", "--no-ui", *args], cwd=tmp_path, env=env,
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
                              timeout=LIMIT)

    return call


def no_temp_files(directory):
    return not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("option", ["--report", "--junit"])
def test_a_symlink_stays_a_link_and_its_target_gets_the_report(run, tmp_path, option):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "target").write_text("old")
    (tmp_path / "link").symlink_to("out/target")
    result = run(option, "link")
    assert result.returncode == 0, result.stderr
    assert os.readlink(tmp_path / "link") == "out/target"
    text = (tmp_path / "out" / "target").read_text()
    assert json.loads(text)["status"] == "succeeded" if option == "--report" else ET.fromstring(text).tag == "testsuite"
    assert no_temp_files(tmp_path) and no_temp_files(tmp_path / "out")


def test_a_dangling_symlink_creates_its_target(run, tmp_path):
    (tmp_path / "link").symlink_to("made.json")
    assert run("--report", "link").returncode == 0
    assert os.path.islink(tmp_path / "link") and json.loads((tmp_path / "made.json").read_text())["exit_code"] == 0


@pytest.mark.parametrize("option", ["--report", "--junit"])
def test_a_fifo_is_written_to_not_replaced(run, tmp_path, option):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        result = run(option, "fifo")
        received, _ = reader.communicate(timeout=LIMIT)
    finally:
        reader.kill()
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received)["status"] == "succeeded" if option == "--report" else "<testsuite" in received


def test_a_report_to_stdout_follows_the_output_it_shares_a_file_with(run, tmp_path):
    """`--report /dev/stdout` (here a link of our own to /proc/self/fd/1) names stdout's open file: the
    report goes after the run's output, and the link is not replaced."""
    (tmp_path / "stdout").symlink_to("/proc/self/fd/1")
    with open(tmp_path / "log", "w") as log:
        result = run("--report", "stdout", stdout=log)
    assert result.returncode == 0, result.stderr
    output, report = (tmp_path / "log").read_text().split("\n{\n", 1)
    assert "[s/a] hi" in output and "run succeeded" in output
    assert json.loads("{\n" + report)["status"] == "succeeded"
    assert os.readlink(tmp_path / "stdout") == "/proc/self/fd/1"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("option", ["--report", "--junit"])
def test_a_report_that_cannot_be_written_at_the_end_fails_the_run_naming_the_path(run, tmp_path, option):
    """A device passes the check before the run (it is only opened to write) and /dev/full fails then.
    Through a link of our own: were the device replaced (as root), the link would be, not /dev/full."""
    (tmp_path / "full").symlink_to("/dev/full")
    result = run(option, "full")
    assert result.returncode == 1
    assert result.stderr == f"flowtui: cannot write {option} full: No space left on device (exit 1, though the run succeeded)\n"
    assert "run succeeded" in result.stdout and (tmp_path / "ran").exists()
    assert os.readlink(tmp_path / "full") == "/dev/full"


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
def test_a_legal_long_name_is_written(run, tmp_path, option):
    name = "r" * 250
    result = run(option, name)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).stat().st_size > 0 and no_temp_files(tmp_path)


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
@pytest.mark.parametrize("case", ["too-long", "no-such-place", "loop"])
def test_a_path_that_cannot_be_written_is_refused_before_the_run(run, tmp_path, option, case):
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    (tmp_path / "dangling").symlink_to("missing/dir/file")
    path = {"too-long": "x" * 300, "no-such-place": "dangling", "loop": "loop1"}[case]
    result = run(option, path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"flowtui: cannot write {option} {path}: ")
    assert result.stderr.endswith("; nothing was run\n") and len(result.stderr.splitlines()) == 1
    assert result.stdout == "" and not (tmp_path / "ran").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "loop1", "loop2", "sketch.json"]


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
def test_a_flow_with_errors_leaves_no_report_directory_behind(run, tmp_path, option):
    (tmp_path / "sketch.json").write_text('{"name": "bad", "s": [{"name": "a"}]}')
    result = run(option, "reports/deep/out")
    assert result.returncode == 2 and "sketch.json:" in result.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
def test_a_directory_that_cannot_be_made_is_refused_before_the_flow_loads(run, tmp_path, option):
    (tmp_path / "sketch.json").write_text('{"name": "bad", "s": [{"name": "a"}]}')  # not even looked at
    (tmp_path / "plain").write_text("a file")
    result = run(option, "plain/new/out")
    assert result.returncode == 2
    assert result.stderr == f"flowtui: cannot write {option} plain/new/out: Not a directory; nothing was run\n"


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
def test_missing_directories_are_made_once_the_flow_loads(run, tmp_path, option):
    result = run(option, "reports/deep/out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / "deep" / "out").stat().st_size > 0
