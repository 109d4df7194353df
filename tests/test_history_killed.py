"""A runner killed in its first moments: `runs`, `show` and `logs` know its run at once (from the
journal), with its whole tree, and a resume keeps the tree right."""

import json
import os
import socket

from flowtui.engine.statedir import resolve
from flowtui.engine.store.schema import connect
from tests.test_control_support import Runner, flowtui, flowtui_process, sketch


def killing_flow(tmp_path):
    """s/first, then s/killer, which kills the runner (its parent) the first time, then s/third."""
    flag = tmp_path / "killed-once"
    return sketch(tmp_path / "kill.json", {"s": [
        {"name": "first", "cmd": "echo first-done"},
        # killed once its own start is journaled (the runner writes that right after the spawn)
        {"name": "killer", "cmd": f"test -e {flag} && exit 0; touch {flag}; "
                                  f"until grep -qs '\"of\": \"s/killer\"' {tmp_path}/state/runs/$FLOWTUI_RUN_ID/journal; "
                                  "do sleep 0.01; done; kill -9 $PPID"},
        {"name": "third", "cmd": "echo third"},
    ]})


def tree(state_dir, run_id):
    code, out, err = flowtui("show", run_id, "--json", "--state-dir", state_dir)
    assert code == 0, err
    return [(t["id"], t["parent"], t["status"]) for t in json.loads(out)["tasks"]]


def killed_run(tmp_path, state_dir):
    runner = Runner(killing_flow(tmp_path), state_dir)
    try:
        assert runner.wait() == -9, runner.output
    finally:
        runner.close()
    (run_id,) = os.listdir(os.path.join(state_dir, "runs"))
    return run_id


def test_a_runner_killed_early_is_known_to_history_with_its_whole_tree(tmp_path, state_dir):
    run_id = killed_run(tmp_path, state_dir)
    db = connect(state_dir)  # the kill may have come before the store's thread even made it
    for table in ("attempts", "tasks", "runs"):  # as if that thread had committed nothing: the journal alone
        db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))  # noqa: S608
    db.close()

    code, out, err = flowtui("runs", "--state-dir", state_dir)
    assert code == 0, err
    (row,) = out.splitlines()[1:]
    assert row.split()[:3] == [run_id, "interrupted", "Test"] and " 1/3 " in row
    assert tree(state_dir, run_id) == [
        ("s", None, "interrupted"), ("s/first", "s", "succeeded"), ("s/killer", "s", "interrupted"),
        ("s/third", "s", "pending")]
    code, out, _ = flowtui("show", run_id, "--state-dir", state_dir)
    assert [line.split()[0] for line in out.split("TASK", 1)[1].splitlines()[1:]] == ["s", "s/first", "s/killer", "s/third"]
    assert all(line.startswith("  s/") for line in out.split("TASK", 1)[1].splitlines()[2:])
    code, _, err = flowtui("logs", run_id, "--state-dir", state_dir)
    assert "no run" not in err
    # Recording it ended nothing and kept the socket: the next run, resume or purge reaps it.
    assert os.path.exists(os.path.join(state_dir, "sockets", f"{run_id}.sock"))

    db = connect(state_dir)  # rows recorded without their group (as the journal replay of earlier versions did)
    db.execute("UPDATE tasks SET parent = NULL WHERE run_id = ?", (run_id,))
    db.close()
    done = flowtui_process("resume", run_id, "--no-ui", "--state-dir", state_dir)
    assert done.returncode == 0, done.stderr
    assert tree(state_dir, run_id) == [
        ("s", None, "succeeded"), ("s/first", "s", "succeeded"), ("s/killer", "s", "succeeded"),
        ("s/third", "s", "succeeded")]


def test_an_interrupted_run_ended_when_its_runner_last_recorded_something_not_when_reaped(tmp_path, state_dir):
    from flowtui.engine.store.logfiles import JOURNAL, read_journal, run_dir

    run_id = killed_run(tmp_path, state_dir)
    journal = read_journal(state_dir, run_id)
    last = max(entry["at"] for entry in journal if "at" in entry)
    assert flowtui("purge", "--keep", "100", "--state-dir", state_dir)[0] == 1  # reaps it, purges nothing
    code, out, _ = flowtui("show", run_id, "--json", "--state-dir", state_dir)
    record = json.loads(out)
    assert record["status"] == "interrupted" and record["finished_at"] == last
    assert record["duration"] == round(last - record["started_at"], 3)
    killer = next(t for t in record["tasks"] if t["id"] == "s/killer")
    assert [(a["status"], a["finished_at"]) for a in killer["attempt_history"]] == [("interrupted", last)]

    # Killed eight days ago, reaped now: it ended eight days ago.
    week = 8 * 86400
    shifted = []
    for entry in journal:
        if "run" in entry:
            entry["run"]["created_at"] -= week
        if "at" in entry:
            entry["at"] -= week
        shifted.append(json.dumps(entry))
    (tmp_path / "state2").mkdir(mode=0o700)
    other = resolve(str(tmp_path / "state2"))
    os.makedirs(run_dir(other, run_id))
    with open(os.path.join(run_dir(other, run_id), JOURNAL), "w") as handle:
        handle.write("\n".join(shifted) + "\n")
    os.makedirs(os.path.join(other, "sockets"), mode=0o700, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX)  # a dead runner's socket: it stays, refusing connections
    dead.bind(os.path.join(other, "sockets", f"{run_id}.sock"))
    dead.close()
    assert flowtui("purge", "--older-than", "7d", "--state-dir", other)[1] == "purged 1 run\n"
