"""Every file of ../shared/corpus/fluxor: it loads (or fails for the documented reason) and, where it
can run, behaves as spec §9 says the Fluxor README and tests intend."""

import shutil
import textwrap

import pytest

from flowtui.engine.diagnostics import FlowError
from flowtui.engine.loaders import load as load_any
from flowtui.engine.loaders.fluxor import load, runtime
from flowtui.engine.run import Run


@pytest.fixture
def fluxor(corpus):
    return corpus / "fluxor"


def run_file(path, max_iterations=10000, **options):
    text = path.read_text()
    flow = load(str(path), text, options)
    rt = runtime(flow, options)
    run = Run(flow, rt, max_iterations=max_iterations)
    events = []
    run.bus.subscribe(events.append)
    code = run.run_to_end()
    lines = [line for e in events if e.type == "task_output" and e.stream == "stdout" for line in e.lines]
    return code, run, rt.report()["state"], lines


def load_error(path, text=None):
    with pytest.raises(FlowError) as info:
        load(str(path), text if text is not None else path.read_text(), {})
    return str(info.value)


def test_goto(fluxor):
    code, run, state, lines = run_file(fluxor / "testdata__goto.yaml")
    assert code == 0 and lines == ["plan", "exec"] * 4
    assert state == {"results": [1.0, 1.0, 1.0, 1.0], "plan": {}, "exec": {}, "loop": None}


def test_parent_with_children(fluxor, tmp_path):
    shutil.copy(fluxor / "testdata__parent.yaml", tmp_path / "parent.yaml")
    shutil.copy(fluxor / "testdata__children.yaml", tmp_path / "children.yaml")
    code, run, state, lines = run_file(tmp_path / "parent.yaml")
    child = ["Child started {n}", "running {n}", "Child bash: running {n}", "Child stopped {n}"]
    expected = ["Parent started"]
    for n in (1, 2, 3):
        expected += [line.format(n=n) for line in child] + [f"Iteration: {n}"]
    assert code == 0 and lines == expected + ["extra print", "Parent stoped"]
    assert state["i"] == 3 and run.states["optional"].status == "skipped"
    assert set(state["runChild"]) == {"ProcessID", "Output", "Errors", "State", "trace"}
    assert state["runChild"]["State"] == "completed" and state["runChild"]["Output"]["output"] == "$Stdout"
    assert [e for e in run.states if e.startswith("loop/runChild/")] == [
        "loop/runChild/start", "loop/runChild/exec", "loop/runChild/info", "loop/runChild/stop",
    ]


def test_children_standalone(fluxor):
    code, run, state, lines = run_file(fluxor / "testdata__children.yaml")
    assert code == 0
    assert lines == ["Child started $iteration", "running $iteration", "Child bash: running $iteration", "Child stopped $iteration"]
    assert state["x"] == "$iteration" and state["output"] == "$Stdout" and state["exec"]["stdout"] == "running $iteration"


@pytest.mark.parametrize("name, task", [
    ("testdata__template.yaml", "printOrders/printOne"), ("readme__template_tasks_example.yaml", "processOrders/processOne"),
])
def test_templates_run_in_forward_order(fluxor, name, task):
    code, run, state, lines = run_file(fluxor / name, sets={"orders": "[apple, banana, cherry]"})
    assert code == 0 and lines == ["apple", "banana", "cherry"]
    assert [nid for nid in run.states if nid.startswith(task)] == [f"{task}[0]", f"{task}[1]", f"{task}[2]"]
    if name == "testdata__template.yaml":
        assert state["message"] == "$message" and state["printOne"] == {} and state["printOrders"] is None


def test_async_add_needs_its_service(fluxor):
    assert "unknown service 'math/add'" in load_error(fluxor / "asyncAdd.yaml")
    code, run, state, lines = run_file(
        fluxor / "asyncAdd.yaml", sets={"numbers": "[{a: 1, b: 2}, {a: 3, b: 4}]"},
        services={"math/add": {"exec": lambda data: data["a"] + data["b"]}},
    )
    assert code == 0 and sorted(state["parent"]) == [3, 7] and run.states["parent"].status == "succeeded"


def test_flow_yaml_runs_its_legacy_executor_and_dependency(fluxor):
    code, run, state, lines = run_file(fluxor / "service__dao__workflow__testdata__flow.yaml")
    assert code == 0 and lines == ["task1 0", "taskZ", "$task1.Output"]
    assert state["task1"]["stdout"] == "task1 0"


@pytest.mark.parametrize("name", [
    "embedded__service__dao__workflow__sequence_test.go__TestParseSequencePipeline__yamlText.yaml",
    "embedded__service__dao__workflow__sequence_test.go__TestParseSequencePipelineCompact__yamlText.yaml",
    "readme__sequence_pipeline_example.yaml",
])
def test_storage_examples_name_the_missing_service(fluxor, name):
    message = load_error(fluxor / name)
    assert "task list: unknown service 'system/storage'; available services: nop, printer, system/exec" in message


@pytest.mark.parametrize("name, flow_name", [
    ("embedded__runtime__hotswap_test.go__yamlV1.yaml", "test1"), ("embedded__runtime__hotswap_test.go__yamlV2.yaml", "test2"),
])
def test_empty_pipelines_complete_at_once(fluxor, name, flow_name):
    code, run, state, lines = run_file(fluxor / name)
    assert code == 0 and run.flow.name == flow_name and run.flow.nodes == {} and lines == []


def test_readme_defining_workflows(fluxor, tmp_path):
    assert "sub-workflow children not found" in load_error(fluxor / "readme__defining_workflows_example.yaml")
    shutil.copy(fluxor / "readme__defining_workflows_example.yaml", tmp_path / "parent.yaml")
    shutil.copy(fluxor / "testdata__children.yaml", tmp_path / "children.yaml")
    code, run, state, lines = run_file(tmp_path / "parent.yaml")
    iterations = [line for line in lines if line.startswith("Iteration")]
    assert code == 0 and iterations == ["Iteration: 1", "Iteration: 2", "Iteration: 3"]
    assert lines[0] == "Parent started" and lines[-1] == "Parent stoped" and state["i"] == 3


def test_readme_matcher_example_never_ends_without_the_guard(fluxor):
    code, run, state, lines = run_file(fluxor / "readme__matcher_functions_goto_example.yaml", max_iterations=30)
    assert code == 1 and "loop guard" in run.states["loop"].error and len(lines) == 30
    assert lines[:2] == ["Iteration: 0 (value-18)", "Iteration: 1 (value-18)"]


@pytest.mark.parametrize("name", [
    "readme__fragment_executors.yaml", "readme__fragment_task_dependencies.yaml",
    "readme__fragment_parallel_execution.yaml", "readme__examples__workflow__README.md__stage_fragment.yaml",
])
def test_fragments_have_no_pipeline(fluxor, name):
    assert "1:1: pipeline is nil" in load_error(fluxor / name)
    with pytest.raises(FlowError, match="pipeline is nil"):
        load_any(str(fluxor / name), "fluxor")


def wrapped(fluxor, name, tmp_path):
    path = tmp_path / "wrapped.yaml"
    path.write_text("pipeline:\n" + textwrap.indent((fluxor / name).read_text(), "  "))
    return path


def test_fragments_wrapped_under_a_pipeline(fluxor, tmp_path):
    code, run, state, lines = run_file(wrapped(fluxor, "readme__fragment_executors.yaml", tmp_path))
    assert code == 0 and lines == ["Hello, World!"]
    code, run, state, lines = run_file(wrapped(fluxor, "readme__fragment_parallel_execution.yaml", tmp_path))
    assert code == 0 and sorted(lines) == ["Running in parallel 1", "Running in parallel 2"]
    assert "depends on unknown task taskA" in load_error(wrapped(fluxor, "readme__fragment_task_dependencies.yaml", tmp_path))
    assert "unknown service 'llm'" in load_error(wrapped(fluxor, "readme__examples__workflow__README.md__stage_fragment.yaml", tmp_path))
