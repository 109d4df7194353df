"""History of runs whose runtime adds tasks while running (Fluxor template copies): their place
in `show`/`logs`, `logs --follow` picking them up, and their attempts surviving a resume."""

import json

from tests.test_control_support import flowtui, flowtui_process


def template_flow(path, item_cmd='echo "item $IT"', first_cmd="echo first"):
    """`first`, then template `orders` with one copy per item (a, b, c), then `last`."""
    path.write_text(f"""
init:
  items: [a, b, c]
pipeline:
  first:
    action: system/exec:execute
    input:
      workdir: /tmp
      commands: [{json.dumps(first_cmd)}]
  orders:
    template:
      selector:
        - name: item
          value: $items
      task:
        one:
          action: system/exec:execute
          input:
            workdir: /tmp
            failOnError: true
            env:
              IT: $item
            commands: [{json.dumps(item_cmd)}]
  last:
    action: system/exec:execute
    input:
      commands: ["echo the end"]
""")
    return path


def only_run(state_dir):
    code, out, _ = flowtui("runs", "--json", "--state-dir", state_dir)
    assert code == 0
    (run,) = json.loads(out)
    return run["run_id"]


COPIES = ["orders/one[0]", "orders/one[1]", "orders/one[2]"]


def test_show_and_logs_put_template_copies_under_their_group_in_definition_order(tmp_path, state_dir):
    flow = template_flow(tmp_path / "wf.yaml")
    done = flowtui_process("run", flow, "--no-ui", "--report", tmp_path / "report.json", "--state-dir", state_dir)
    assert done.returncode == 0, done.stderr
    reported = [t["id"] for t in json.loads((tmp_path / "report.json").read_text())["tasks"]]
    assert reported == ["first", "orders", *COPIES, "last"]
    run_id = only_run(state_dir)

    code, out, _ = flowtui("show", run_id, "--json", "--state-dir", state_dir)
    assert [t["id"] for t in json.loads(out)["tasks"]] == reported
    code, out, _ = flowtui("show", run_id, "--state-dir", state_dir)
    table = out.split("TASK", 1)[1].splitlines()[1:]
    assert [row.split()[0] for row in table] == reported
    assert [row.startswith("  ") for row in table] == [False, False, True, True, True, False]  # under orders
    code, out, _ = flowtui("logs", run_id, "--state-dir", state_dir)
    assert out.splitlines() == ["[first] first", "[orders/one[0]] item a", "[orders/one[1]] item b",
                                "[orders/one[2]] item c", "[last] the end"]


def test_logs_follow_prints_the_copies_a_template_adds_and_waits_for_a_named_one(tmp_path, state_dir, monkeypatch):
    import subprocess
    import sys
    import threading

    from flowtui.commands import history
    from tests.test_control_support import REPO, Runner, fifo, wait_fifo

    ready, go = fifo(tmp_path / "ready"), fifo(tmp_path / "go")
    flow = template_flow(tmp_path / "wf.yaml", first_cmd=f"echo first; echo ready > {ready}; cat {go} >/dev/null")
    runner = Runner(flow, state_dir)
    try:
        wait_fifo(ready, runner)  # `first` runs: no copy exists yet
        run_id = runner.run_id
        follow_all = subprocess.Popen(
            [sys.executable, "-m", "flowtui", "logs", run_id, "--follow", "--state-dir", state_dir],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        assert follow_all.stdout.readline() == "[first] first\n"

        following = threading.Event()
        real_follow = history._LogFollower.follow

        def follow(self, out):
            following.set()
            return real_follow(self, out)

        monkeypatch.setattr(history._LogFollower, "follow", follow)
        named = {}

        def follow_named():
            try:
                named["result"] = flowtui("logs", run_id, "orders/one[2]", "--follow", "--state-dir", state_dir)
            finally:
                following.set()

        thread = threading.Thread(target=follow_named)
        thread.start()
        assert following.wait(30) and "result" not in named, named  # it follows a task that does not exist yet
        with open(go, "w") as handle:  # `first` ends: the template adds its copies
            handle.write("go\n")
        assert runner.wait() == 0, runner.output
        assert follow_all.wait(30) == 0
        printed = follow_all.stdout.read().splitlines()  # the copies run side by side: any order
        assert sorted(printed[:3]) == ["[orders/one[0]] item a", "[orders/one[1]] item b", "[orders/one[2]] item c"], printed
        assert printed[3:] == ["[last] the end"]
        follow_all.stdout.close()
        thread.join(30)
        assert named["result"] == (0, "item c\n", "")
    finally:
        runner.close()
        from flowtui.engine.store import reap_orphans

        reap_orphans(state_dir)  # a failure above leaves `first` waiting on its FIFO: end it

    code, _, err = flowtui("logs", run_id, "orders/one[9]", "--follow", "--state-dir", state_dir)
    assert code == 2 and "has no task 'orders/one[9]'" in err  # the run is over: nothing to wait for


def test_resuming_keeps_the_attempts_of_template_copies_that_run_again(tmp_path, state_dir):
    from flowtui.engine.store import open_store

    flag = tmp_path / "failed-once"
    flow = template_flow(tmp_path / "wf.yaml", item_cmd=(
        f'echo "item $IT"; if [ "$IT" = b ] && [ ! -e {flag} ]; then touch {flag}; exit 5; fi'))
    assert flowtui_process("run", flow, "--no-ui", "--state-dir", state_dir).returncode == 1
    run_id = only_run(state_dir)
    done = flowtui_process("resume", run_id, "--no-ui", "--state-dir", state_dir)
    assert done.returncode == 0, done.stderr

    def attempts():
        code, out, _ = flowtui("show", run_id, "--json", "--state-dir", state_dir)
        tasks = {t["id"]: t for t in json.loads(out)["tasks"]}
        return {tid: (tasks[tid]["attempts"], [(a["attempt"], a["status"], a["exit_code"])
                                               for a in tasks[tid]["attempt_history"]]) for tid in COPIES}

    # The copies are created again on resume and run again (a documented limit); none loses a row.
    expected = {
        "orders/one[0]": (2, [(1, "succeeded", 0), (2, "succeeded", 0)]),
        "orders/one[1]": (2, [(1, "failed", 5), (2, "succeeded", 0)]),
        "orders/one[2]": (1, [(1, "succeeded", 0)]),  # not run the first time: the run had failed
    }
    assert attempts() == expected
    code, out, _ = flowtui("show", run_id, "--state-dir", state_dir)
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("orders/one[1]"))
    assert row[:3] == ["orders/one[1]", "succeeded", "2"] and row[-1] == "5,0"
    store = open_store(state_dir)
    store.mark_interrupted(run_id)  # a journal replay numbers them as the store's thread did
    store.close()
    assert attempts() == expected
