"""Floe flows run end to end with real processes, a real git and real files (spec §7–§12)."""

import hashlib
import os
import stat

import pytest

from flowtui.engine.loaders import LoadOptions
from flowtui.engine.loaders import load as load_file
from flowtui.engine.reactor import Reactor
from flowtui.engine.run import Run
from tests.floe_helpers import bare_repo, redirect_git, run_flow, statuses


def write(tmp_path, text, name="flow.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    """A `go` on PATH that reports its version and the GOPATH it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text('#!/bin/sh\necho "go version go1.10.2 linux/amd64 GOPATH=$GOPATH"\n')
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


# -- the traces of §12 ---------------------------------------------------------------------------------
def test_trace_a_danmux_flow_file_checkout_and_go_version(corpus, tmp_path, state, monkeypatch, fake_go, record):
    repo = bare_repo(tmp_path / "hugo", {"config.toml": "title = 'x'\n"})
    redirect_git(monkeypatch, {"git@github.com:danmux/danmux-hugo.git": repo})
    run, rec = run_flow(corpus / "floe" / "config.yml", state, record, flow="danmux", sets={"branch": "main"})
    assert statuses(run) == {
        "start": "succeeded", "checkout": "succeeded", "go-version": "succeeded", "wait": "succeeded",
        "done": "not_run",  # listens for task.wait.good, which nothing emits
    }
    assert run.status == "succeeded" and run.exit_code == 0
    ws = run.runtime.workspace
    assert ws == os.path.join(state, "spaces", "danmux", "ws", run.run_id)
    assert os.path.isfile(os.path.join(ws, "src/github.com/floeit/danmux-hugo/config.toml"))
    assert rec.output("go-version") == [f"go version go1.10.2 linux/amd64 GOPATH={ws}"]
    assert run.states["start"].output["branch"] == "main"
    assert run.states["start"].output["url"] == "git@github.com:danmux/danmux-hugo.git"


def test_trace_b_git_merge_without_branch_ends_bad(corpus, state, record):
    run, _ = run_flow(corpus / "floe" / "config.yml", state, record, flow="build-project", sets={"from-ref": "x"})
    assert run.states["checkout"].status == "failed" and run.states["checkout"].errored
    assert run.states["checkout"].exit_code == 255
    assert {nid for nid, s in statuses(run).items() if s == "not_run"} == {
        "echo", "build", "test", "sign-off", "signed", "final-task", "complete"}
    assert run.status == "failed" and run.exit_code == 1


def test_trace_c_fork_merge_all_then_end(corpus, tmp_path, state, monkeypatch, record):
    repo = bare_repo(tmp_path / "t", {"README": "x\n"})
    redirect_git(monkeypatch, {"git@github.com:floeit/floe-test.git": repo})
    run, rec = run_flow(corpus / "floe" / "embedded__hub__hub_test.go__in.yaml", state, record, sets={"branch": "main"})
    assert set(statuses(run).values()) == {"succeeded"}
    order = rec.order("task_finished")
    assert order[:3] == ["form", "checkout", "build"]
    assert sorted(order[3:5]) == ["test1", "test2"] and order[5:] == ["merge-tests", "complete"]
    assert [(e.mode, e.by) for e in rec.types("run_stopping")] == [("end", "complete")]
    assert run.status == "succeeded"


def test_trace_d_data_task_sign_off(corpus, state, record):
    run, rec = run_flow(corpus / "floe" / "embedded__hub__hub_test.go__inData.yaml", state, record,
                        approve={"sign-off": {"tests_passed": "yes", "to_hash": "abc123"}})
    assert [e.task for e in rec.types("approval_requested")] == ["sign-off"]
    assert run.states["sign-off"].output["values"] == {"tests_passed": "true", "to_hash": "abc123"}
    assert rec.order("task_finished") == ["form", "build", "sign-off", "test1", "complete"]
    assert run.status == "succeeded"


# -- merges, outcomes, routing ------------------------------------------------------------------------
def test_merge_all_needs_every_branch(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: a, listen: trigger.good, type: exec, opts: {cmd: "false"}}
  - {name: b, listen: trigger.good, type: exec, opts: {cmd: "true"}}
  - {name: both, class: merge, type: all, wait: [task.a.good, task.b.good]}
  - {name: after, listen: merge.both.good, type: exec, opts: {cmd: "true"}}
""")
    run, _ = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "a": "failed", "b": "succeeded", "both": "not_run", "after": "not_run"}
    assert run.status == "failed"


def test_merge_any_fires_once_on_the_first_event(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: a, listen: trigger.good, type: exec, opts: {cmd: "false"}}
  - {name: a-bad, listen: task.a.bad, type: exec, opts: {cmd: "true"}}
  - {name: b, listen: trigger.good, type: exec, opts: {cmd: "true"}}
  - {name: c, listen: trigger.good, type: exec, opts: {cmd: "true"}}
  - {name: either, class: merge, type: any, wait: [task.a.good, task.b.good, task.c.good]}
  - {name: after, listen: merge.either.good, type: exec, opts: {cmd: "echo after"}}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run)["either"] == "succeeded" and statuses(run)["a-bad"] == "succeeded"
    assert rec.order("task_started").count("after") == 1
    assert rec.output("after") == ["after"]
    assert run.status == "succeeded"  # a's failure is handled by a-bad


def test_a_bad_event_an_any_merge_waits_for_is_routed_when_the_merge_fired_before(tmp_path, state, record):
    """§7.5: a merge waiting on `task.a.bad` hears it, whenever it comes: the run does not end bad
    by the unrouted rule because `b` happened to fire the merge first (`after` lets `a` end)."""
    fired = tmp_path / "fired"
    path = write(tmp_path, f"""
name: f
tasks:
  - {{name: a, listen: trigger.good, type: exec, opts: {{shell: "while [ ! -e {fired} ]; do sleep 0.01; done; false"}}}}
  - {{name: b, listen: trigger.good, type: exec, opts: {{cmd: "true"}}}}
  - {{name: either, class: merge, type: any, wait: [task.a.bad, task.b.good]}}
  - {{name: after, listen: merge.either.good, type: exec, opts: {{cmd: "touch {fired}"}}}}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "a": "failed", "b": "succeeded", "either": "succeeded",
                             "after": "succeeded"}
    assert rec.order("task_started").count("after") == 1
    assert run.status == "succeeded" and run.exit_code == 0


def test_use_status_routes_on_the_exit_status(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: probe, listen: trigger.good, type: exec, use-status: true, good: [0, 2], opts: {shell: "exit 2"}}
  - {name: on-two, listen: task.probe.2, type: exec, opts: {cmd: "echo two"}}
  - {name: on-three, listen: task.probe.3, type: exec, opts: {cmd: "echo three"}}
  - {name: fin, listen: task.on-two.good, type: end}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "probe": "succeeded", "on-two": "succeeded",
                             "on-three": "skipped", "fin": "succeeded"}
    assert rec.output("on-two") == ["two"]
    assert run.status == "succeeded"


def test_ignore_fail_always_emits_good_and_hides_errors(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: flaky, listen: trigger.good, type: exec, ignore-fail: true, opts: {cmd: "false"}}
  - {name: odd, listen: trigger.good, type: mystery, ignore-fail: true}
  - {name: next, listen: task.flaky.good, type: exec, opts: {cmd: "true"}}
  - {name: next2, listen: task.odd.good, type: exec, opts: {cmd: "true"}}
""")
    run, _ = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "flaky": "failed", "odd": "failed",
                             "next": "succeeded", "next2": "succeeded"}
    assert run.states["odd"].errored and run.states["odd"].error == "no node type found: mystery"
    assert run.status == "succeeded"


def test_bad_listeners_and_an_end_reached_by_a_bad_event(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: build, listen: trigger.good, type: exec, opts: {shell: "exit 3"}}
  - {name: report, listen: task.build.bad, type: exec, opts: {cmd: "echo reporting"}}
  - {name: deploy, listen: task.build.good, type: exec, opts: {cmd: "true"}}
  - {name: failed, listen: task.report.good, type: end}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "build": "failed", "report": "succeeded",
                             "deploy": "not_run", "failed": "succeeded"}
    assert rec.output("report") == ["reporting"]
    assert run.status == "succeeded"  # the end node listened to a good tag
    path = write(tmp_path, """
name: f
tasks:
  - {name: build, listen: trigger.good, type: exec, opts: {shell: "exit 3"}}
  - {name: failed, listen: task.build.bad, type: end}
""", "f2.yml")
    run, _ = run_flow(path, state, record)
    assert run.states["failed"].status == "succeeded"
    assert run.status == "failed" and run.exit_code == 1


def test_end_cancels_what_still_runs_and_says_so(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: slow, listen: trigger.good, type: exec, opts: {cmd: "sleep 30"}}
  - {name: fast, listen: trigger.good, type: exec, opts: {cmd: "true"}}
  - {name: stop, listen: task.fast.good, type: end}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run)["slow"] == "cancelled"
    assert [e.message for e in rec.types("notice")] == ["`stop` ends the run: cancelling slow"]
    assert run.status == "succeeded"


def test_errors_route_to_error_listeners(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: merge-code, listen: trigger.good, type: git-merge, opts: {url: x}}
  - {name: on-error, listen: task.merge-code.error, type: exec, opts: {cmd: "echo handled"}}
""")
    run, rec = run_flow(path, state, record)
    assert statuses(run) == {"trigger": "succeeded", "merge-code": "failed", "on-error": "succeeded"}
    assert run.status == "succeeded"


# -- exec: environment and workspace expansion ----------------------------------------------------
def test_env_merges_flow_then_event_then_node(tmp_path, state, record, monkeypatch):
    monkeypatch.setenv("FLOWTUI_TEST_HOME", "/home/tester")
    path = write(tmp_path, """
name: f
env: [A=flow, B=flow, "P=./x"]
tasks:
  - name: show
    listen: trigger.good
    type: exec
    opts:
      cmd: env
      env: [B=node, "C={{ws}}/c", "D=$FLOWTUI_TEST_HOME/d"]
""")
    run, rec = run_flow(path, state, record)
    ws = run.runtime.workspace
    env = dict(line.split("=", 1) for line in rec.output("show") if "=" in line)
    assert (env["A"], env["B"], env["C"], env["D"], env["P"]) == ("flow", "node", f"{ws}/c", "/home/tester/d", f"{ws}/x")
    assert env["FLOEWS"] == ws


def test_workspace_expansion_of_args_cmd_and_sub_dir(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - name: args
    listen: trigger.good
    type: exec
    opts:
      cmd: printf
      args: ["%s|", ".", "--out=./bin", "./...", "{{ws}}/f", "a/{{ws}}", "$NO_SUCH_VAR_X(x)"]
  - name: where
    listen: trigger.good
    type: exec
    opts: {cmd: pwd, sub-dir: src/app}
  - name: script
    listen: trigger.good
    type: exec
    opts: {shell: "./tool.sh one"}
""")
    run, rec = run_flow(path, state, record)
    ws = run.runtime.workspace
    assert rec.output("args") == [f"{ws}|--out={ws}/bin|./...|{ws}/f|a{ws}|(x)|"]
    assert rec.output("where") == [f"{ws}/src/app"]
    # `./tool.sh one` becomes `<ws>/tool.sh one` (then fails: no such script in the fresh workspace)
    assert any(f"{ws}/tool.sh" in line for line in rec.output("script"))
    assert run.states["script"].status == "failed"


def test_timer_trigger_opts_reach_the_tasks_listening_to_trigger_good(tmp_path, state, record):
    path = write(tmp_path, """
name: f
triggers:
  - {name: start, type: data, opts: {form: {title: Start, fields: [{id: branch, prompt: Branch}]}}}
  - {name: nightly, type: timer, opts: {period: 86400, branch: master}}
tasks:
  - {name: show, listen: trigger.good, type: exec, opts: {cmd: env}}
  - {name: pause, listen: trigger.good, type: timer}
""")
    run, rec = run_flow(path, state, record, trigger="nightly")
    assert run.states["nightly"].output == {"period": 86400, "branch": "master"}
    assert {"FLOE_BRANCH=master", "FLOE_PERIOD=86400"} <= set(rec.output("show"))
    assert run.states["pause"].status == "succeeded"  # the trigger's period is not the timer task's own
    assert run.states["pause"].output["branch"] == "master"


def test_data_trigger_values_reach_exec_env(tmp_path, state, record):
    path = write(tmp_path, """
name: f
triggers:
  - name: start
    type: data
    opts: {url: "u", form: {title: Start, fields: [{id: branch, prompt: Branch, type: text, value: main}]}}
tasks:
  - {name: show, listen: trigger.good, type: exec, opts: {cmd: env}}
  - {name: later, listen: task.show.good, type: exec, opts: {cmd: env}}
""")
    run, rec = run_flow(path, state, record, sets={"branch": "dev"})
    assert {"FLOE_BRANCH=dev", "FLOE_URL=u"} <= set(rec.output("show"))
    assert not any(line.startswith("FLOE_BRANCH=") for line in rec.output("later"))  # opts stop at the first hop


def test_data_task_answered_by_its_listen_event(tmp_path, state, record):
    path = write(tmp_path, """
name: f
triggers:
  - {name: start, type: data, opts: {branch: main}}
tasks:
  - name: confirm
    listen: trigger.good
    type: data
    opts: {form: {title: Which, fields: [{id: branch, prompt: Branch}]}}
""")
    run, rec = run_flow(path, state, record)
    assert rec.types("approval_requested") == []
    assert run.states["confirm"].output["values"]["branch"] == "main"


# -- fetch ------------------------------------------------------------------------------------------
def test_fetch_verifies_and_links_into_the_workspace(tmp_path, state, record):
    source = tmp_path / "tool-1.0.tar.gz"
    source.write_bytes(b"payload")
    digest = hashlib.sha256(b"payload").hexdigest()
    other = tmp_path / "other.tgz"
    other.write_bytes(b"other")
    path = write(tmp_path, f"""
name: f
tasks:
  - {{name: get, listen: trigger.good, type: fetch, opts: {{url: "file://{source}", checksum: "{digest}  tool-1.0.tar.gz", checksum-algo: sha256}}}}
  - {{name: get-to, listen: trigger.good, type: fetch, opts: {{url: "{source}", location: "dl/", checksum: "{digest}", checksum-algo: sha256}}}}
  - {{name: bad-sum, listen: trigger.good, type: fetch, opts: {{url: "{other}", checksum: "00ff", checksum-algo: sha256, location: x.tgz}}}}
  - {{name: odd-algo, listen: trigger.good, type: fetch, opts: {{url: "{source}", checksum: "{digest}", checksum-algo: sha512}}}}
  - {{name: missing, listen: trigger.good, type: fetch, opts: {{url: "{tmp_path}/nope.tgz", location: y.tgz}}}}
""")
    run, rec = run_flow(path, state, record)
    ws = run.runtime.workspace
    assert open(os.path.join(ws, "tool-1.0.tar.gz"), "rb").read() == b"payload"
    assert open(os.path.join(ws, "dl", "tool-1.0.tar.gz"), "rb").read() == b"payload"
    assert os.path.isfile(os.path.join(state, "fetch_cache", "tool-1.0.tar.gz"))
    assert (run.states["bad-sum"].status, run.states["bad-sum"].errored) == ("failed", False)  # task.bad-sum.bad
    assert not os.path.exists(os.path.join(ws, "x.tgz"))
    assert "sha256 checksum mismatch" in run.states["bad-sum"].error
    assert (run.states["missing"].status, run.states["missing"].errored) == ("failed", False)
    assert run.states["odd-algo"].errored  # task.odd-algo.error: an unknown algorithm is an error
    assert "unknown checksum-algo 'sha512'" in run.states["odd-algo"].error


# -- triggers ---------------------------------------------------------------------------------------
def test_poll_git_trigger_builds_the_listed_branch(tmp_path, state, monkeypatch, record):
    repo = bare_repo(tmp_path / "r", {"hello.txt": "hi\n"}, branch="feature/x")
    redirect_git(monkeypatch, {"git@example.com:team/app.git": repo})
    path = write(tmp_path, """
name: app
triggers:
  - {name: commits, type: poll-git, opts: {url: "git@example.com:team/app.git", refs: "refs/heads/*"}}
tasks:
  - {name: checkout, listen: trigger.good, type: git-checkout}
""")
    run, _ = run_flow(path, state, record)
    opts = run.states["commits"].output
    assert opts["branch"] == "feature/x" and len(opts["hash"]) == 40
    assert os.path.isfile(os.path.join(run.runtime.workspace, "app", "hello.txt"))
    assert run.status == "succeeded"


# -- workspaces and locks -------------------------------------------------------------------------------
def test_reuse_space_uses_single_and_wipes_it(tmp_path, state, record):
    path = write(tmp_path, """
name: f
reuse-space: true
tasks:
  - {name: look, listen: trigger.good, type: exec, opts: {shell: "ls -A; touch left-over"}}
""")
    first, rec1 = run_flow(path, state, record)
    second, rec2 = run_flow(path, state, record)
    assert first.runtime.workspace == second.runtime.workspace == os.path.join(state, "spaces", "f", "ws", "single")
    assert rec2.output("look") == []  # the left-over of the first run was wiped


def test_resource_tags_exclude_concurrent_runs(tmp_path, state, record):
    log, go = tmp_path / "log", tmp_path / "go"
    a = write(tmp_path, f"""
name: a
resource-tags: [db, net]
tasks:
  - {{name: hold, listen: trigger.good, type: exec, opts: {{shell: "echo a-start >> {log}; while [ ! -e {go} ]; do sleep 0.02; done; echo a-end >> {log}"}}}}
""", "a.yml")
    b = write(tmp_path, f"""
name: b
resource-tags: [db]
tasks:
  - {{name: use, listen: trigger.good, type: exec, opts: {{shell: "echo b-start >> {log}; touch {go}"}}}}
""", "b.yml")
    reactor = Reactor()
    runs = []
    for path in (a, b):
        flow, runtime = load_file(str(path), "floe", LoadOptions(state_dir=str(state)))
        runs.append(Run(flow, runtime, reactor=reactor))
    run_a, run_b = runs
    rec_b = record(run_b)
    run_b.bus.subscribe(lambda e: e.type == "notice" and go.touch())  # b waits: let a finish
    reactor.call_soon(run_a.start)
    reactor.call_soon(run_b.start)
    reactor.run(until=lambda: run_a.finished and run_b.finished)
    assert log.read_text().split() == ["a-start", "a-end", "b-start"]
    [notice] = rec_b.types("notice")
    assert notice.message == f"waiting for resource tag `db` (held by run {run_a.run_id} of flow a, pid {os.getpid()})"
    assert run_a.status == run_b.status == "succeeded"


def test_ci_sketch_runs_with_a_sign_off(state, record):
    sketch = os.path.join(os.path.dirname(__file__), os.pardir, "sketches", "ci.floe.yml")
    run, rec = run_flow(sketch, state, record, sets={"version": "1.2.0"},
                        approve={"sign-off": {"approved": "yes", "reviewer": "ana"}})
    assert run.flow.warnings == () and run.flow.extra["missing_inputs"] == []
    assert rec.output("prepare") == ["version 1.2.0: bug fixes"]
    assert rec.output("unit-tests") == ["test parse ok", "test render ok", "test store ok"]
    assert run.states["sign-off"].output["values"] == {"approved": "true", "reviewer": "ana"}
    assert statuses(run)["tests-failed"] == "skipped"
    assert os.path.isfile(os.path.join(run.runtime.workspace, "release.tgz"))
    assert run.status == "succeeded"


def test_checkpoint_restores_the_event_opts(tmp_path, state, record):
    path = write(tmp_path, "name: f\ntriggers: [{name: t, type: timer, opts: {branch: b}}]\n"
                           "tasks: [{name: a, listen: trigger.good, type: exec, opts: {cmd: env}}]\n")
    run, _ = run_flow(path, state, record)
    saved = run.runtime.checkpoint()
    assert saved["outputs"]["t"] == {"branch": "b"}
    flow, runtime = load_file(str(path), "floe", LoadOptions(state_dir=str(state)))
    resumed = Run(flow, runtime)
    runtime.restore(saved)
    assert runtime.workspace == run.runtime.workspace
    assert runtime.event_opts(flow.nodes["a"]) == {}  # the trigger has not finished in the new run
    resumed.states["t"].status = "succeeded"
    assert runtime.event_opts(flow.nodes["a"]) == {"branch": "b"}


def test_bad_exec_opts_are_errors(tmp_path, state, record):
    path = write(tmp_path, """
name: f
tasks:
  - {name: a, listen: trigger.good, type: exec, opts: {cmd: "true", env: {A: 1}}}
  - {name: b, listen: trigger.good, type: exec, opts: {args: [x]}}
  - {name: c, listen: trigger.good, type: exec, opts: {cmd: "true", args: [1]}}
""")
    run, _ = run_flow(path, state, record)
    assert [run.states[n].errored for n in "abc"] == [True, True, True]
    assert run.states["b"].error == "missing cmd or shell option"


@pytest.mark.parametrize(("text", "want"), [
    ("GOPATH=./", "GOPATH=/ws/"),
    ("GOROOT=./go", "GOROOT=/ws/go"),
    ("PATH=./go/bin:$PATH", "PATH=/ws/go/bin:/bin"),
    ("GOPATH={{ws}}", "GOPATH=/ws"),
    ("./...", "./..."),
    (".", "/ws"),
    ("a=b=./c", "a=b=./c"),  # two `=`: the whole string, which does not start with ./
    ("x/{{ws}}/y", "x/ws/y"),
    ("$1 $@ $$ ${} $(date) ${HOME}", "    (date) /home"),
    ("${HOME x$", "HOME x$"),  # an unterminated ${ loses only "${"; a final $ stays
])
def test_go_expansion_rules(text, want, monkeypatch):
    from flowtui.engine.floe.expand import expand_env

    monkeypatch.setenv("PATH", "/bin")
    monkeypatch.setenv("HOME", "/home")
    for name in ("1", "@", "$"):
        monkeypatch.delenv(name, raising=False)
    assert expand_env(text, "/ws") == want


def test_git_key_timer_period_and_a_form_without_fields(tmp_path, state, record):
    path = write(tmp_path, """
common: {git-key: /keys/id_floe}
flows:
  - name: f
    tasks:
      - {name: show, listen: trigger.good, type: exec, opts: {cmd: env}}
      - {name: pause, listen: task.show.good, type: timer, opts: {period: "0.01"}}
      - {name: gate, listen: task.pause.good, type: data, opts: {form: {title: Nothing to ask}}}
""", "config.yml")
    run, rec = run_flow(path, state, record)
    assert "GIT_SSH_COMMAND=ssh -i /keys/id_floe" in rec.output("show")
    assert rec.output("pause") == ["waiting 0.01s"]
    assert rec.types("approval_requested") == []
    assert run.status == "succeeded"


@pytest.mark.parametrize("period", ["1", "1.0", '"1"'])
def test_a_timer_of_one_second_waits(tmp_path, state, record, period):
    """`period: 1` is a number, not `true` (Python's 1 == True once made it "no period")."""
    path = write(tmp_path, f"""
id: f
ver: 1
tasks:
  - {{name: pause, listen: trigger.good, type: timer, opts: {{period: {period}}}}}
""")
    flow, runtime = load_file(str(path), "floe", LoadOptions(state_dir=str(state)))
    run = Run(flow, runtime)
    rec = record(run)
    run.bus.subscribe(lambda e: e.type == "task_output" and e.task == "pause" and run.reactor.call_soon(run.cancel, "test"))
    run.run_to_end()
    assert rec.output("pause") == ["waiting 1s"]
    assert run.states["pause"].status != "succeeded"  # cancelled while waiting, not done at once
