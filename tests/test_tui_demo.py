"""`make demo` opens sketches/demo.json: it must keep showing what the TUI is for."""

from pathlib import Path

from flowtui.engine.loaders import load

DEMO = Path(__file__).resolve().parents[1] / "sketches" / "demo.json"


def test_demo_sketch_has_stages_an_approval_a_failing_hook_and_estimates():
    flow, _ = load(str(DEMO))
    stages = [flow.nodes[r] for r in flow.roots]
    tasks = flow.tasks()
    assert len(stages) >= 3 and all(s.label == "stage" for s in stages)
    assert [t.id for t in tasks if t.approval] == ["release/sign-off"]
    failing = flow.nodes["test/integration"]
    assert "exit 2" in failing.action.params["cmd"] and {"on_nok", "teardown"} <= set(failing.hooks)
    assert all(t.estimate for t in tasks)  # the header shows a weighted ETA
    commands = " ".join(t.action.params["cmd"] for t in tasks)
    assert "& done; wait" in commands  # parallel workers inside one step
    assert "\\033[" in commands  # coloured output
