"""Floe loader: every corpus file loads with its lint warnings; errors are located; inputs and choices."""

import pytest

from flowtui.engine.diagnostics import FlowError, NeedsChoice
from flowtui.engine.loaders import LoadOptions
from flowtui.engine.loaders import floe as floe_loader
from tests.floe_helpers import bare_repo, redirect_git


def load(path, **options):
    return floe_loader.load(str(path), path.read_text(), LoadOptions(**options))


def warnings(flow):
    return [(w.file.rsplit("/", 1)[-1], w.line, w.message) for w in flow.warnings]


def load_text(tmp_path, text, name="flow.yml", **options):
    path = tmp_path / name
    path.write_text(text)
    return load(path, **options)


def error_of(tmp_path, text, **options):
    with pytest.raises(FlowError) as caught:
        load_text(tmp_path, text, **options)
    return [str(d).split(":", 1)[1] for d in caught.value.diagnostics]


NEVER_DONE = "task `done`: never runs: `task.wait.good` is never emitted: `wait` is a merge, it emits `merge.wait.good`"
UNROUTED_WAIT = "nothing listens for `merge.wait.good`: Floe ends the run good there; flowtui lets running branches finish"
GIT_PUSH = "trigger `push`: git-push triggers never fire in Floe; flowtui ignores it"
EXCLUDE_REFS = "trigger `commits`: Floe ignores `exclude-refs` (it reads `exclude`); flowtui honours both"
SUBS = "task `checkout`: never runs: `sub.git-push.good` is never emitted: tags are `trigger.good`, `task.<id>.<outcome>` or `merge.<id>.good`"

CORPUS_CASES = {
    ("config.yml", "build-project"): [
        ("config.yml", 17, GIT_PUSH),
        ("config.yml", 22, "trigger `start`: git tasks read `branch`, not `ref`"),
        ("config.yml", 22, "trigger `start`: git tasks read `from-branch`, not `from-ref`"),
    ],
    ("config.yml", "danmux"): [
        ("floe.yml", 27, NEVER_DONE), ("config.yml", 118, EXCLUDE_REFS), ("floe.yml", 20, UNROUTED_WAIT),
    ],
    ("floe.yml", None): [("floe.yml", 27, NEVER_DONE), ("floe.yml", 20, UNROUTED_WAIT)],
    ("branch-git-flow-file__floe.yml", None): [
        ("branch-git-flow-file__floe.yml", 26, NEVER_DONE), ("branch-git-flow-file__floe.yml", 19, UNROUTED_WAIT),
    ],
    ("branch-git-flow-file__config.yml", "build-project"): [
        ("branch-git-flow-file__config.yml", 17, GIT_PUSH),
        ("branch-git-flow-file__config.yml", 22, "trigger `start`: git tasks read `branch`, not `ref`"),
        ("branch-git-flow-file__config.yml", 22, "trigger `start`: git tasks read `from-branch`, not `from-ref`"),
    ],
    ("branch-git-flow-file__config.yml", "danmux"): [
        ("branch-git-flow-file__config.yml", 126, "the flow-file is cloned once the form's `branch` is answered"),
        ("branch-git-flow-file__config.yml", 118, EXCLUDE_REFS),
    ],
    ("branch-git-flow-file__dev__config.yml", "floe"): [
        ("branch-git-flow-file__dev__config.yml", 40, "the flow-file is cloned once the form's `branch` is answered"),
    ],
    ("dev__floe.yml", None): [],
    ("embedded__cmd__floe__integ_test.go__in.yaml", "build-project"): [
        ("embedded__cmd__floe__integ_test.go__in.yaml", 16, GIT_PUSH),
    ],
    ("embedded__cmd__floe__integ_test.go__in.yaml", "build-merge"): [
        ("embedded__cmd__floe__integ_test.go__in.yaml", 71, "unknown key `subs` in flow `build-merge`: Floe ignores it"),
        ("embedded__cmd__floe__integ_test.go__in.yaml", 79, SUBS),
    ],
    ("embedded__config__config_test.go__in.yaml", "build-project"): [],
    ("embedded__config__config_test.go__in.yaml", "build-merge"): [
        ("embedded__config__config_test.go__in.yaml", 67, "unknown key `subs` in flow `build-merge`: Floe ignores it"),
        ("embedded__config__config_test.go__in.yaml", 75, SUBS),
    ],
    ("embedded__config__flow_test.go__floeIn.yaml", None): [],
    ("embedded__hub__hub_test.go__in.yaml", None): [],
    ("embedded__hub__hub_test.go__inData.yaml", None): [],  # line 17 ends in a TAB: still loads
    ("embedded__hub__timers_integ_test.go__trigFlow.yaml", None): [
        ("embedded__hub__timers_integ_test.go__trigFlow.yaml", 7, EXCLUDE_REFS),
    ],
}


@pytest.mark.parametrize(("name", "flow_id"), list(CORPUS_CASES))
def test_corpus_file_loads_with_its_warnings(corpus, name, flow_id):
    flow = load(corpus / "floe" / name, flow=flow_id)
    assert flow.format == "floe"
    assert warnings(flow) == CORPUS_CASES[(name, flow_id)]


def test_every_corpus_file_is_covered(corpus):
    names = {p.name for p in (corpus / "floe").iterdir() if p.suffix in (".yml", ".yaml")}
    covered = {name for name, _ in CORPUS_CASES} | {"dev__config.yml", "branch-git-flow-file__dev__config.yml"}
    assert names == covered


def test_missing_local_flow_file_is_a_located_error(corpus):
    with pytest.raises(FlowError) as caught:
        load(corpus / "floe" / "dev__config.yml")
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{corpus}/floe/dev__config.yml:40:18: flow-file /home/ubuntu/floe/floe.yml: No such file or directory"
    ]


def test_git_flow_file_and_poll_git_trigger_from_a_local_repo(corpus, tmp_path, monkeypatch):
    """branch-git-flow-file dev config, flow danmux: poll-git gives the branch the flow-file is cloned at."""
    flow_text = (corpus / "floe" / "floe.yml").read_text()
    repo = bare_repo(tmp_path / "hugo", {"floe.yml": flow_text})
    redirect_git(monkeypatch, {"git@github.com:danmux/danmux-hugo.git": repo})
    flow = load(corpus / "floe" / "branch-git-flow-file__dev__config.yml", flow="danmux")
    assert list(flow.nodes) == ["commits", "checkout", "go-version", "wait", "done"]
    trigger_opts = flow.nodes["commits"].action.params["opts"]
    assert trigger_opts["branch"] == "main" and len(trigger_opts["hash"]) == 40
    assert flow.nodes["commits"].action.params["poll"] is None  # resolved at load: the clone needed it


def test_git_flow_file_cloned_at_the_form_branch(corpus, tmp_path, monkeypatch):
    repo = bare_repo(tmp_path / "floe", {"floe.yml": (corpus / "floe" / "floe.yml").read_text()}, branch="release")
    redirect_git(monkeypatch, {"git@github.com:floeit/floe.git": repo})
    flow = load(corpus / "floe" / "branch-git-flow-file__config.yml", flow="danmux", sets={"branch": "release"})
    assert list(flow.nodes) == ["start", "checkout", "go-version", "wait", "done"]
    assert flow.extra["missing_inputs"] == []
    with pytest.raises(FlowError, match="git clone --branch nope"):
        load(corpus / "floe" / "branch-git-flow-file__config.yml", flow="danmux", sets={"branch": "nope"})


def test_host_config_with_several_flows_needs_a_choice(corpus):
    with pytest.raises(NeedsChoice) as caught:
        load(corpus / "floe" / "config.yml")
    assert caught.value.kind == "flow"
    assert caught.value.choices == [("build-project", "Build Project"), ("danmux", "danmux")]
    with pytest.raises(FlowError, match=r"config.yml:8:1: no flow `nope` here \(flows: build-project, danmux\)"):
        load(corpus / "floe" / "config.yml", flow="nope")


def test_data_trigger_form_becomes_inputs(corpus):
    flow = load(corpus / "floe" / "config.yml", flow="build-project")
    inputs = flow.extra["inputs"]
    assert inputs.prompt == "Start"
    assert [(f.id, f.prompt, f.default) for f in inputs.fields] == [
        ("ref", "Ref (branch or hash)", "master"), ("from-ref", "Ref to merge (branch or hash)", None),
    ]
    assert flow.extra["missing_inputs"] == ["from-ref"]
    answered = load(corpus / "floe" / "config.yml", flow="build-project", sets={"from-ref": "dev", "other": "x"})
    assert answered.extra["missing_inputs"] == []
    assert answered.nodes["start"].action.params["opts"] == {
        "form": answered.nodes["start"].action.params["opts"]["form"], "ref": "master", "from-ref": "dev", "other": "x",
    }


def test_data_task_becomes_an_approval_with_typed_fields(corpus):
    flow = load(corpus / "floe" / "config.yml", flow="build-project")
    sign_off = flow.nodes["sign-off"]
    assert sign_off.approval.prompt == "Sign off Manual Testing"
    assert [(f.id, f.type) for f in sign_off.approval.fields] == [("tests_passed", "bool"), ("to_hash", "text")]
    merge = flow.nodes["signed"]
    assert merge.label == "merge" and merge.join == "all"
    assert [d.node for d in merge.deps] == ["echo", "test", "sign-off"]


def test_bool_form_answer_is_checked(tmp_path):
    text = """
triggers:
  - name: start
    type: data
    opts: {form: {title: Go, fields: [{id: ok, prompt: "OK?", type: bool}]}}
tasks:
  - {name: a, listen: trigger.good, type: exec, opts: {cmd: "true"}}
name: f
"""
    flow = load_text(tmp_path, text, sets={"ok": "yes"})
    assert flow.nodes["start"].action.params["opts"]["ok"] == "true"
    assert error_of(tmp_path, text, sets={"ok": "perhaps"}) == [
        "3:5: trigger `start`: field 'ok' must be yes or no, not 'perhaps'"
    ]


def test_trigger_choice(corpus, tmp_path):
    flow = load(corpus / "floe" / "config.yml", flow="danmux", trigger="every-5-minutes")
    opts = flow.nodes["every-5-minutes"].action.params["opts"]
    assert opts == {"period": 300, "url": "git@github.com:danmux/danmux-hugo.git", "branch": "master"}
    with pytest.raises(FlowError, match="git-push trigger, which Floe never fires"):
        load(corpus / "floe" / "config.yml", flow="build-project", trigger="push")
    with pytest.raises(FlowError, match=r"no trigger `x` \(triggers: start, every-5-minutes, commits\)"):
        load(corpus / "floe" / "config.yml", flow="danmux", trigger="x")
    text = """
name: f
triggers:
  - {name: t1, type: timer, opts: {period: 5}}
  - {name: t2, type: timer, opts: {period: 9}}
tasks: [{name: a, listen: trigger.good, type: timer}]
"""
    with pytest.raises(NeedsChoice) as caught:
        load_text(tmp_path, text)
    assert caught.value.kind == "trigger" and caught.value.choices == [("t1", "t1"), ("t2", "t2")]


def test_tags_become_conditioned_dependencies(tmp_path):
    flow = load_text(tmp_path, """
name: f
tasks:
  - {name: probe, listen: trigger.good, type: exec, use-status: true, good: [0, 2], opts: {cmd: x}}
  - {name: two, listen: task.probe.2, type: exec, opts: {cmd: x}}
  - {name: errs, listen: task.probe.error, type: exec, opts: {cmd: x}}
  - {name: build, listen: trigger.good, type: exec, opts: {cmd: x}}
  - {name: on-bad, listen: task.build.bad, type: exec, opts: {cmd: x}}
  - {name: either, class: merge, type: any, wait: [task.two.good, task.on-bad.good]}
  - {name: finish, listen: merge.either.good, type: end}
  - {name: lost, listen: task.probe.good, type: exec, opts: {cmd: x}}
""")
    deps = {nid: [(d.node, d.cond, d.code) for d in node.deps] for nid, node in flow.nodes.items()}
    assert deps["probe"] == [("trigger", "succeeded", None)]
    assert deps["two"] == [("probe", "exit", 2)]
    assert deps["errs"] == [("probe", "errored", None)]
    assert deps["on-bad"] == [("build", "failed", None)]
    assert deps["either"] == [("two", "succeeded", None), ("on-bad", "succeeded", None)]
    assert flow.nodes["either"].join == "any"
    assert flow.nodes["probe"].good_codes == frozenset({0, 2})
    assert "lost" not in flow.roots
    assert [(w.line, w.message) for w in flow.warnings] == [
        (11, "task `lost`: never runs: `task.probe.good` is never emitted: `probe` has use-status, it emits `task.probe.<exit status>`"),
        (4, "nothing listens for `task.probe.0`: Floe ends the run good there; flowtui lets running branches finish"),
        (6, "nothing listens for `task.errs.good`: Floe ends the run good there; flowtui lets running branches finish"),
        (7, "nothing listens for `task.build.good`: Floe ends the run good there; flowtui lets running branches finish"),
    ]


@pytest.mark.parametrize(("text", "errors"), [
    ("name: f\ntasks:\n  - {name: a, listen: trigger.good}\n  - {id: A, listen: trigger.good}\n",
     ["4:5: flow `f`: 2 nodes have id: a"]),
    ("name: f\ntasks:\n  - name: a\n    wait: [trigger.good]\n", ["4:5: flow `f`, task `a`: task nodes can not have waits"]),
    ("name: f\ntasks:\n  - name: m\n    class: merge\n    listen: trigger.good\n",
     ["5:5: flow `f`, task `m`: merge nodes can not have listen set"]),
    ("name: f\ntasks:\n  - {id: a.b}\n", ["3:6: flow `f`, task 1: a specified id can not contain spaces or full stops"]),
    ("name: f\ntasks:\n  - {listen: trigger.good}\n", ["3:5: flow `f`, task 1: id and name can not both be empty"]),
    ("name: f\nver: \"1\"\ntasks:\n  - {name: a, good: 0}\n",
     ["2:6: flow `f`: `ver` must be a whole number", "4:21: flow `f`, task `a`: `good` must be a list of whole numbers, e.g. [0]"]),
    ("name: f\ntasks: {a: 1}\n", ["2:8: flow `f`: `tasks` must be a list"]),
    ("name: f\ntasks:\n  - name: a\n   listen: x\n", ["4:4: invalid YAML: expected <block end>, but found '<block mapping start>'"]),
    ("common: {store-type: ec2}\nflows: []\n", ["1:22: ec2 is not a supported store (memory or local)"]),
    ("name: f\ntasks:\n  - name: a\x07\n", ["3:12: invalid YAML: unacceptable character #x0007: special characters are not allowed"]),
])
def test_invalid_flows_are_located_errors(tmp_path, text, errors):
    assert error_of(tmp_path, text) == errors


def test_readme_only_and_unknown_keys_warn(tmp_path):
    flow = load_text(tmp_path, """
common:
  config-path: x.yml
  key-file: /k
flows:
  - name: f
    tasks: [{name: a, listen: trigger.good, type: timer, when: now}]
""")
    assert [(w.line, w.message) for w in flow.warnings] == [
        (3, "`config-path` is only in Floe's README: Floe ignores it"),
        (4, "`key-file` is only in Floe's README: the common git key is `git-key`"),
        (7, "unknown key `when` in flow `f`, task `a`: Floe ignores it"),
    ]


def test_local_flow_file_is_relative_to_the_config(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "real.yml").write_text(
        "id: other\nname: Real Flow\nreuse-space: true\nenv: [A=1]\ntasks: [{name: x, listen: trigger.good, type: timer}]\n")
    flow = load_text(tmp_path, "flows:\n  - id: f\n    resource-tags: [db]\n    flow-file: sub/real.yml\n", name="config.yml")
    assert flow.name == "Real Flow"
    assert list(flow.nodes) == ["trigger", "x"]
    assert flow.extra["floe"]["flow_id"] == "f"
    assert flow.extra["floe"]["reuse_space"] is True
    assert flow.extra["floe"]["env"] == ["A=1"] and flow.extra["floe"]["resource_tags"] == ["db"]


def test_poll_refs_names_and_excludes():
    from flowtui.engine.floe.triggers import poll_refs

    listing = "a1\trefs/heads/master\nb2\trefs/heads/feature/foo\nc3\trefs/tags/v1^{}\nd4\tHEAD\ne5\trefs/pull/7/head\n"
    assert poll_refs(listing, []) == [("master", "a1"), ("feature/foo", "b2"), ("v1", "c3"), ("7/head", "e5")]
    assert poll_refs(listing, ["refs/heads/master", "^refs/pull"]) == [("feature/foo", "b2"), ("v1", "c3")]


def test_merge_opts_right_wins_and_env_lists_concatenate():
    from flowtui.engine.floe.opts import merge_opts

    assert merge_opts({"a": 1, "env": ["A=1"]}, {"a": 2, "env": ["B=2"], "b": 3}) == {"a": 2, "env": ["A=1", "B=2"], "b": 3}
    assert merge_opts({"env": ["A=1"]}, {"env": {"B": 2}}) == {"env": ["A=1"]}


def test_nodes_only_listening_to_each_other_never_run_and_are_warned_about(tmp_path, record):
    """A cycle of listeners nothing starts, and whatever waits on it, end `not_run`: the loader says so."""
    from tests.floe_helpers import run_flow, statuses

    text = """name: f
tasks:
  - {name: a, listen: task.b.good, type: exec, opts: {cmd: "true"}}
  - {name: b, listen: task.a.good, type: exec, opts: {cmd: "true"}}
  - {name: c, listen: task.a.bad, type: exec, opts: {cmd: "true"}}
  - {name: go, listen: trigger.good, type: exec, opts: {cmd: "true"}}
  - {name: all, class: merge, type: all, wait: [task.go.good, task.c.good]}
  - {name: any, class: merge, type: any, wait: [task.go.good, task.c.good]}
  - {name: after, listen: merge.any.good, type: exec, opts: {cmd: "true"}}
"""
    flow = load_text(tmp_path, text)
    assert flow.roots == ("trigger", "go", "any", "after")
    assert [(w.line, w.col, w.message) for w in flow.warnings] == [
        (3, 23, "task `a`: never runs: it waits in a cycle nothing starts (a waits for b, b waits for a)"),
        (4, 23, "task `b`: never runs: it waits in a cycle nothing starts (b waits for a, a waits for b)"),
        (5, 23, "task `c`: never runs: `task.a.bad` comes from `a`, which never runs"),
        (7, 63, "merge `all`: never fires: `task.c.good` comes from `c`, which never runs"),
    ]
    run, _ = run_flow(tmp_path / "flow.yml", tmp_path / "state", record)
    assert statuses(run) == {"trigger": "succeeded", "a": "not_run", "b": "not_run", "c": "not_run",
                             "go": "succeeded", "all": "not_run", "any": "succeeded", "after": "succeeded"}
