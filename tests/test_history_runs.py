"""`flowtui runs --json`: the same record fields as `show --json`, and exit 1 when nothing is listed."""

import json

from tests.test_control_support import flowtui, flowtui_process, sketch


def test_runs_json_exits_1_when_no_run_is_listed(tmp_path, state_dir):
    for argv in (["runs", "--json"], ["runs", "--json", "--status", "bogus"]):
        code, out, err = flowtui(*argv, "--state-dir", state_dir)
        assert (code, json.loads(out)) == (1, []) and "no runs recorded" in err
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "t", "cmd": "echo hi"}]})
    assert flowtui_process("run", flow, "--no-ui", "--set", "K=v", "--state-dir", state_dir).returncode == 0
    code, out, _ = flowtui("runs", "--json", "--status", "failed", "--state-dir", state_dir)
    assert (code, json.loads(out)) == (1, [])
    assert flowtui("runs", "--json", "--status", "succeeded", "--state-dir", state_dir)[0] == 0


def test_runs_json_gives_options_as_an_object_and_no_checkpoint(tmp_path, state_dir):
    flow = sketch(tmp_path / "flow.json", {"s": [{"name": "t", "cmd": "echo hi"}]})
    assert flowtui_process("run", flow, "--no-ui", "--set", "K=v", "--state-dir", state_dir).returncode == 0
    code, out, _ = flowtui("runs", "--json", "--state-dir", state_dir)
    (listed,) = json.loads(out)
    code, out, _ = flowtui("show", listed["run_id"], "--json", "--state-dir", state_dir)
    shown = json.loads(out)
    assert isinstance(listed["options"], dict) and listed["options"] == shown["options"]
    assert listed["options"]["sets"] == {"K": "v"}
    assert "checkpoint" not in listed and "checkpoint" in shown
    assert {k: v for k, v in shown.items() if k in listed and k != "tasks"} == {
        k: v for k, v in listed.items() if k != "tasks"}
