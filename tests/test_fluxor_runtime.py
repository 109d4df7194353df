"""Fluxor workflows run for real on the engine: order, state, goto loops, fan-out, failures, policy."""

import textwrap

from flowtui.engine.loaders.fluxor import load, runtime
from flowtui.engine.run import Run


class Result:
    def __init__(self, run, rt, events):
        self.run, self.rt, self.events = run, rt, events
        self.code = None

    @property
    def state(self):
        return self.rt.report()["state"]

    def lines(self, task=None):
        return [line for e in self.events if e.type == "task_output" and e.stream == "stdout"
                and (task is None or e.task == task) for line in e.lines]

    def printed(self):
        """(task, line) pairs of printed output in order."""
        return [(e.task, line) for e in self.events if e.type == "task_output" and e.stream == "stdout" for line in e.lines]

    def status(self, nid):
        return self.run.states[nid].status

    def finished(self, nid):
        return [e for e in self.events if e.type == "task_finished" and e.task == nid]


def run_text(tmp_path, text, name="wf.yaml", on_event=None, max_iterations=10000, max_parallel=4, **options):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    flow = load(str(path), path.read_text(), options)
    rt = runtime(flow, options)
    run = Run(flow, rt, max_iterations=max_iterations, max_parallel=max_parallel)  # concurrency tests need 2+ slots
    events = []
    run.bus.subscribe(events.append)
    if on_event:
        run.bus.subscribe(lambda event: on_event(run, event))
    result = Result(run, rt, events)
    result.code = run.run_to_end()
    return result


def test_siblings_run_in_order_and_outputs_land_in_the_session(tmp_path):
    r = run_text(tmp_path, """
        init: {greeting: hello}
        pipeline:
          first:
            action: printer:print
            input: {message: "$greeting world"}
          group:
            inner:
              action: system/exec:execute
              input: {commands: ["echo from-shell"]}
            after:
              action: printer:print
              input: {message: "shell said ${inner.stdout} (status ${inner.status})"}
        """)
    assert r.code == 0 and r.run.status == "succeeded"
    assert r.printed() == [("first", "hello world"), ("group/inner", "from-shell"), ("group/after", "shell said from-shell (status 0)")]
    assert r.state["first"] == {} and r.state["group"] is None
    assert r.state["inner"]["stdout"] == "from-shell"


def test_when_skips_the_task_and_its_subtree(tmp_path):
    r = run_text(tmp_path, """
        init: {j: 0}
        pipeline:
          optional:
            when: ${j > 3}
            action: nop:nop
            post: {touched: yes}
            child: {action: printer:print, input: {message: never}}
          next: {action: printer:print, input: {message: ran}}
        """)
    assert r.status("optional") == "skipped" and r.status("optional/child") == "skipped"
    assert "when `${j > 3}` is false" in r.run.states["optional"].error
    assert "touched" not in r.state and r.lines() == ["ran"] and r.code == 0


def test_a_condition_that_cannot_be_evaluated_fails_the_task(tmp_path):
    r = run_text(tmp_path, """
        init: {items: [1, 2]}
        pipeline:
          t: {when: items, action: nop:nop}
          u: {action: nop:nop}
        """)
    assert r.status("t") == "failed" and r.status("u") == "not_run" and r.code == 1
    assert "gave a list" in r.run.states["t"].error
    assert r.rt.report()["errors"] == {"t": r.run.states["t"].error}


def test_an_unparsable_condition_is_false_not_a_failure(tmp_path):
    r = run_text(tmp_path, """
        init: {status: done}
        pipeline:
          a: {when: "status = 'done'", action: printer:print, input: {message: a ran}}
          b: {action: printer:print, input: {message: b ran}}
        """)
    assert r.status("a") == "skipped" and r.status("b") == "succeeded" and r.code == 0
    assert r.lines() == ["b ran"] and r.rt.report()["errors"] == {}


def test_bash_parameter_syntax_in_a_command_does_not_fail_the_task(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          e:
            action: system/exec:execute
            input: {commands: ['echo "[${UNSET_X:-default}] [${F%.txt}]"']}
        """)
    assert r.code == 0 and r.status("e") == "succeeded" and r.lines() == ["[] []"]


def test_post_sees_output_keys_and_one_snapshot_and_appends(tmp_path):
    r = run_text(tmp_path, """
        init: {log: 1}
        pipeline:
          sh:
            action: system/exec:execute
            input: {commands: ["echo out"]}
            post:
              copied: $stdout
              viaName: ${sh.stdout}
              first: 1
              second: $first
              log[]: [2, 3]
        """)
    assert r.state["copied"] == "out" and r.state["viaName"] == "out"
    assert r.state["second"] == "$first"  # post parameters all read the state before the block
    assert r.state["log"] == [1.0, 2, 3]


GOTO_LOOP = """
init:
  results: []
pipeline:
  loop:
    plan:
      action: printer:print
      input: {message: plan}
      post:
        results[]: 1
    exec:
      action: printer:print
      input: {message: exec}
      goto:
        when: len(results) < 4
        task: loop
"""


def test_goto_to_an_ancestor_reruns_the_group(tmp_path):
    r = run_text(tmp_path, GOTO_LOOP)
    assert r.lines() == ["plan", "exec"] * 4
    assert r.state == {"results": [1.0] * 4, "plan": {}, "exec": {}, "loop": None}
    assert [e.iteration for e in r.finished("loop/plan")] == [1, 2, 3, 4]
    assert r.code == 0


def test_goto_to_an_earlier_sibling_continues_from_there(tmp_path):
    """The README's parent example: three iterations, then `stop`."""
    r = run_text(tmp_path, """
        init:
          i: 0
        pipeline:
          start: {action: printer:print, input: {message: 'Parent started'}}
          loop:
            inc:
              action: nop:nop
              post:
                i: ${i + 1}
          body:
            action: printer:print
            input:
              message: 'Iteration: $i'
            goto:
              when: i < 3
              task: loop
          stop: {action: printer:print, input: {message: 'Parent stoped'}}
        """)
    assert r.lines() == ["Parent started", "Iteration: 1", "Iteration: 2", "Iteration: 3", "Parent stoped"]
    assert r.state["i"] == 3 and r.code == 0
    assert r.run.states["body"].iteration == 3


def test_goto_forward_skips_what_lies_between(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          g:
            jump:
              action: nop:nop
              goto: {task: end}
            rest: {action: printer:print, input: {message: rest}}
          middle: {action: printer:print, input: {message: middle}}
          end: {action: printer:print, input: {message: end}}
        """)
    assert r.lines() == ["end"]
    assert r.status("g/rest") == "skipped" and r.status("middle") == "skipped" and r.code == 0


def test_the_loop_guard_ends_a_runaway_loop(tmp_path):
    r = run_text(tmp_path, """
        init: {i: 0, text: value-18}
        pipeline:
          loop:
            action: printer:print
            input:
              message: 'Iteration: $i ($text)'
            post:
              i: ${i + 1}
            goto:
              when: i < 10 || matcher.regexpr(text, '8')
              task: loop
        """, max_iterations=25)
    assert r.code == 1 and r.status("loop") == "failed"
    assert r.run.states["loop"].error == "loop guard: loop reached 25 iterations (raise --max-iterations)"
    assert len(r.lines()) == 25 and r.lines()[0] == "Iteration: 0 (value-18)"


def test_template_runs_once_per_item_in_order(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          printOrders:
            template:
              selector:
                - name: order
                  value: "$orders"
                - name: idx
                  value: "$i"
              task:
                printOne:
                  action: {service: printer, method: print, input: {message: "$idx: $order"}}
                  post: {message: $message}
        """, sets={"orders": "[apple, banana, cherry]"})
    assert r.printed() == [
        ("printOrders/printOne[0]", "0: apple"), ("printOrders/printOne[1]", "1: banana"), ("printOrders/printOne[2]", "2: cherry"),
    ]
    assert r.state["message"] == "$message" and r.state["printOrders"] is None  # Go scoping kept


def test_a_template_over_a_non_list_fails(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          t:
            template:
              selector: [{name: x, value: $missing}]
              task: {one: {action: nop:nop}}
        """)
    assert r.code == 1 and "must be a list" in r.run.states["t"].error


def test_emit_fans_out_concurrently_and_aggregates(tmp_path):
    seen = []

    def add(data):
        seen.append(data)
        return data["a"] + data["b"]

    r = run_text(tmp_path, """
        pipeline:
          parent:
            emit:
              forEach: ${numbers}
              as: p
              task:
                add:
                  action: math/add:exec
                  input: {a: "${p.a}", b: "${p.b}"}
            await: true
            post: {total: "${parent[0] + parent[1]}"}
        """, sets={"numbers": "[{a: 1, b: 2}, {a: 3, b: 4}]"}, services={"math/add": {"exec": add}})
    assert r.code == 0 and sorted(r.state["parent"]) == [3, 7] and r.state["total"] == 10
    assert {e.task for e in r.events if e.type == "task_started"} == {"parent/add[0]", "parent/add[1]"}
    assert "add" not in r.state  # children's outputs are aggregated, not stored under their name


def test_async_children_really_run_together(tmp_path):
    """Each child waits for a file the other creates: only concurrent execution can finish."""
    r = run_text(tmp_path, f"""
        pipeline:
          both:
            async: true
            a:
              action: system/exec:execute
              input:
                commands: ["touch {tmp_path}/a; while [ ! -e {tmp_path}/b ]; do sleep 0.01; done; echo a-done"]
                workdir: {tmp_path}
                timeoutMs: 10000
            b:
              action: system/exec:execute
              input:
                commands: ["touch {tmp_path}/b; while [ ! -e {tmp_path}/a ]; do sleep 0.01; done; echo b-done"]
                workdir: {tmp_path}
                timeoutMs: 10000
          after: {{action: printer:print, input: {{message: joined}}}}
        """)
    assert r.code == 0 and sorted(r.lines()[:2]) == ["a-done", "b-done"] and r.lines()[2] == "joined"


def test_catch_handles_a_sibling_failure(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          guarded:
            work:
              action: system/exec:execute
              input: {commands: ["echo before", "exit 3"], failOnError: true}
            after: {action: printer:print, input: {message: not reached}}
            catch:
              action: printer:print
              input: {message: "caught $_lastErrorTask"}
          next: {action: printer:print, input: {message: continued}}
        """)
    assert r.lines() == ["before", "caught guarded/work", "continued"]
    assert r.status("guarded/work") == "failed" and r.status("guarded") == "succeeded" and r.code == 0


def test_catch_does_not_run_without_a_failure(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          g:
            work: {action: nop:nop}
            catch: {action: printer:print, input: {message: caught}}
        """)
    assert r.lines() == [] and r.status("g/catch") == "skipped" and r.code == 0


def test_depends_on_a_sibling_and_on_a_dependency(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          taskA: {action: printer:print, input: {message: A}}
          taskB:
            dependsOn: taskA
            action: printer:print
            input: {message: "Task B depends on Task A"}
          late:
            dependsOn: [setup]
            action: printer:print
            input: {message: "after ${setup.stdout}"}
        dependencies:
          setup:
            action: system/exec:execute
            input: {commands: ["echo prepared"]}
          unused: {action: printer:print, input: {message: never}}
        """)
    assert r.lines() == ["A", "Task B depends on Task A", "prepared", "after prepared"]
    assert r.status("unused") == "skipped" and r.code == 0


def test_a_failed_dependency_fails_its_dependent(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          t:
            dependsOn: prep
            action: printer:print
            input: {message: no}
        dependencies:
          prep:
            action: system/exec:execute
            input: {commands: ["exit 4"], failOnError: true}
        """)
    assert r.code == 1 and r.status("t") == "failed" and r.run.states["t"].error == "dependency prep failed"


def test_no_implicit_retry_but_retry_key_retries(tmp_path):
    counter = tmp_path / "count"
    r = run_text(tmp_path, f"""
        pipeline:
          once:
            action: system/exec:execute
            input: {{commands: ["echo x >> {counter}.once; exit 1"], failOnError: true}}
        """)
    assert r.code == 1 and r.run.states["once"].attempt == 1 and (tmp_path / "count.once").read_text() == "x\n"
    r = run_text(tmp_path, f"""
        pipeline:
          flaky:
            retry: {{limit: 3, delay: 0, onExitCodes: [7]}}
            action: system/exec:execute
            input:
              commands: ["echo x >> {counter}; test $(wc -l < {counter}) -ge 2 || exit 7"]
              workdir: {tmp_path}
              failOnError: true
        """)
    assert r.code == 0 and r.run.states["flaky"].attempt == 2 and counter.read_text() == "x\nx\n"


def test_exec_session_env_workdir_and_abort(tmp_path):
    (tmp_path / "sub").mkdir()
    r = run_text(tmp_path, f"""
        pipeline:
          sh:
            action: system/exec:execute
            input:
              workdir: {tmp_path}
              env: {{GREETING: hi}}
              abortOnError: false
              commands:
                - cd sub && export INNER=carried
                - echo "$GREETING $INNER $(basename $PWD)"
                - "false"
                - echo still-here
        """)
    out = r.state["sh"]
    assert r.lines() == ["hi carried sub", "still-here"] and r.code == 0
    assert [c["status"] for c in out["commands"]] == [0, 0, 1, 0] and out["status"] == 0
    assert out["stdout"] == "hi carried sub\nstill-here"
    assert out["stderr"] == "command false exited with non-zero exit code"


def test_exec_stops_at_the_first_failure_and_reports_the_status(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          sh:
            action: system/exec:execute
            input: {commands: ["echo one", "exit 5", "echo never"]}
          check: {when: sh.status > 0, action: printer:print, input: {message: "failed with ${sh.status}"}}
        """)
    assert r.lines() == ["one", "failed with 5"] and r.code == 0  # a non-zero exit is data, as in Fluxor
    assert r.finished("sh")[0].exit_code == 5 and r.status("sh") == "succeeded"


def test_exec_timeout_kills_the_session(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          slow:
            action: system/exec:execute
            input: {commands: ["echo started", "sleep 30", "echo never"], timeoutMs: 300}
        """)
    out = r.state["slow"]
    assert out["status"] == -101 and "timed out" in out["stderr"] and r.lines() == ["started"]


def test_exec_workdir_guard(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          sh:
            action: system/exec:execute
            input: {commands: ["echo details", "ls -la"]}
        """)
    assert r.code == 1 and r.run.states["sh"].error == "workdir is required for ls -la"


def test_sub_workflow_runs_as_a_subtree(tmp_path):
    (tmp_path / "child.yaml").write_text(textwrap.dedent("""
        init:
          x: $iteration
        pipeline:
          hello:
            action: printer:print
            input: {message: 'child $x sees ${secret}'}
            post: {doubled: "${x * 2}"}
        """))
    r = run_text(tmp_path, """
        init: {secret: parent-only}
        pipeline:
          runChild:
            action: workflow:run
            input:
              location: child
              context: {iteration: 21}
          check:
            action: workflow:status
            input: {processID: "${runChild.ProcessID}"}
          waited:
            action: workflow:wait
            input: {processID: "${runChild.ProcessID}"}
        """)
    assert r.code == 0
    assert r.printed() == [("runChild/hello", "child 21 sees ")]  # the child has its own session
    out = r.state["runChild"]
    assert out["State"] == "completed" and out["Output"]["doubled"] == 42 and out["ProcessID"].startswith("child/")
    assert r.state["check"] == {"ProcessID": out["ProcessID"], "State": "completed"}
    assert r.state["waited"]["Output"]["x"] == 21
    assert r.run.nodes["runChild/hello"].parent == "runChild"


def test_a_failed_sub_workflow_fails_its_task_unless_ignored(tmp_path):
    (tmp_path / "bad.yaml").write_text("pipeline:\n  boom:\n    action: system/exec:execute\n    input: {commands: ['exit 2'], failOnError: true}\n")
    r = run_text(tmp_path, "pipeline:\n  run: {action: workflow:run, input: {location: bad.yaml}}\n")
    assert r.code == 1 and r.run.states["run"].error.startswith("failed to run process bad/")
    r = run_text(tmp_path, "pipeline:\n  run: {action: workflow:run, input: {location: bad.yaml, ignoreError: true}}\n")
    assert r.code == 0 and r.state["run"]["State"] == "failed"


def test_policy_ask_blocks_until_approved(tmp_path):
    asked = []

    def approve(run, event):
        if event.type == "approval_requested":
            asked.append(event.task)
            run.reactor.call_soon(run.approve, event.task, "tester")

    r = run_text(tmp_path, """
        pipeline:
          a: {action: printer:print, input: {message: one}}
          b: {action: printer:print, input: {message: two}}
        """, on_event=approve, policy="ask")
    assert asked == ["a", "b"] and r.lines() == ["one", "two"] and r.code == 0


def test_policy_deny_fails_every_action(tmp_path):
    r = run_text(tmp_path, "pipeline:\n  a: {action: printer:print, input: {message: one}}\n", policy="deny")
    assert r.code == 1 and r.lines() == [] and r.run.states["a"].error == "action printer.print denied by policy"


def test_auto_pause_pauses_before_the_task(tmp_path):
    order = []

    def resume(run, event):
        if event.type in ("run_paused", "task_started"):
            order.append(event.type if event.type == "run_paused" else event.task)
        if event.type == "run_paused":
            run.reactor.call_soon(run.resume, "tester")

    r = run_text(tmp_path, """
        pipeline:
          a: {action: nop:nop}
          b: {autoPause: true, action: printer:print, input: {message: after pause}}
        """, on_event=resume)
    assert order == ["a", "run_paused", "b"] and r.lines() == ["after pause"] and r.code == 0


def test_sets_seed_the_state_and_init_overrides_them(tmp_path):
    r = run_text(tmp_path, """
        init: {fixed: from-init}
        pipeline:
          a: {action: printer:print, input: {message: "$fixed ${orders[1]} ${len(orders)}"}}
        """, sets={"orders": "[apple,banana]", "fixed": "from-set"})
    assert r.lines() == ["from-init banana 2"]


def test_checkpoint_round_trip(tmp_path):
    r = run_text(tmp_path, "init: {n: 1}\npipeline:\n  a: {action: nop:nop, post: {n: '${n + 1}'}}\n")
    saved = r.rt.checkpoint()
    flow = r.run.flow
    fresh = runtime(flow, {})
    Run(flow, fresh)
    fresh.restore(saved)
    assert fresh.report()["state"] == {"n": 2, "a": {}}


def test_release_sketch(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sketches" / "release.yaml"
    flow = load(str(path), path.read_text(), {})
    rt = runtime(flow, {})
    run = Run(flow, rt)
    events = []
    run.bus.subscribe(events.append)
    assert run.run_to_end() == 0
    printed = [(e.task, line) for e in events if e.type == "task_output" and e.stream == "stdout" for line in e.lines]
    assert [line for task, line in printed if task.startswith("build/")] == [
        line for t in ("linux-amd64", "linux-arm64", "darwin-arm64")
        for line in (f"compiling for {t}", f"built release-1.4.0-{t}.tar.gz")
    ]
    assert [line for task, line in printed if task == "verify/decide"] == [
        "smoke tests, attempt 1: failed", "smoke tests, attempt 2: passed",
    ]
    assert printed[-1][0] == "publish" and printed[-1][1].startswith("publishing 1.4.0 for 3 targets on ")
    assert rt.report()["state"]["attempt"] == 2 and run.states["verify/catch"].status == "skipped"


EMIT_SLEEPERS = """
    pipeline:
      fan:
        emit:
          forEach: ${jobs}
          as: job
          task:
            one:
              action: system/exec:execute
              input: {commands: ["sleep ${job.wait}", "echo ${job.name}", "exit ${job.code}"], failOnError: true}
        await: AWAIT
"""


EMIT_WITH_ACTION = """
    pipeline:
      parent:
        emit: {forEach: "${numbers}", as: p, task: {child: {action: printer:print, input: {message: "n=${p}"}}}}
        await: true
        action: printer:print
        input: {message: parent action}
        post: {seen: "${parent}"}
      plain:
        emit: {forEach: "${numbers}", as: p, task: {child: {action: nop:nop}}}
"""


def test_an_emit_over_an_empty_list_continues_as_a_normal_task(tmp_path):
    r = run_text(tmp_path, EMIT_WITH_ACTION, sets={"numbers": "[]"})
    assert r.code == 0 and r.status("parent") == "succeeded" and r.status("plain") == "succeeded"
    assert r.printed() == [("parent", "parent action")]  # spec §2.13 step 1: its own action runs
    assert r.state["parent"] == {} and r.state["plain"] is None  # stored as any task's output


def test_an_emit_over_items_does_not_run_its_own_action(tmp_path):
    r = run_text(tmp_path, EMIT_WITH_ACTION, sets={"numbers": "[1, 2]"})
    assert r.code == 0 and sorted(r.lines()) == ["n=1", "n=2"]
    assert r.state["parent"] == [{}, {}] and r.state["plain"] == [{}, {}]


def test_await_first_completes_with_the_first_child(tmp_path):
    r = run_text(tmp_path, EMIT_SLEEPERS.replace("AWAIT", "{mode: first}"),
                 sets={"jobs": "[{name: slow, wait: 30, code: 0}, {name: fast, wait: 0, code: 0}]"})
    assert r.code == 0 and r.status("fan") == "succeeded" and r.lines() == ["fast"]
    assert r.status("fan/one[0]") == "cancelled" and len(r.state["fan"]) == 1


def test_await_any_error_stops_at_the_first_failure(tmp_path):
    r = run_text(tmp_path, EMIT_SLEEPERS.replace("AWAIT", "{mode: anyError}"),
                 sets={"jobs": "[{name: slow, wait: 30, code: 0}, {name: bad, wait: 0, code: 3}]"})
    assert r.code == 1 and r.status("fan") == "failed" and r.status("fan/one[1]") == "failed"
    assert r.status("fan/one[0]") == "cancelled"


def test_await_timeout_fails_the_parent(tmp_path):
    r = run_text(tmp_path, EMIT_SLEEPERS.replace("AWAIT", "{timeout: 300ms}"),
                 sets={"jobs": "[{name: slow, wait: 30, code: 0}]"})
    assert r.code == 1 and r.run.states["fan"].error == "await timed out after 0.3s"


def test_inline_sub_workflow_source(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          inline:
            action: workflow:run
            input:
              source: |
                pipeline:
                  hi: {action: printer:print, input: {message: 'inline $who'}}  # ${who} would be expanded by the parent
              context: {who: me}
        """)
    assert r.code == 0 and r.printed() == [("inline/hi", "inline me")]
    assert r.state["inline"]["ProcessID"].startswith("anonymous/")


def test_emit_fan_out_is_bounded_by_max_parallel(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          fan:
            emit: {forEach: "$items", as: it, task: {one: {action: printer:print, input: {message: "$it"}}}}
            await: true
        """, max_parallel=1, sets={"items": "[a, b, c]"})
    sequence = [(e.type, e.task) for e in r.events if e.type in ("task_started", "task_finished") and e.task != "fan"]
    assert sequence == [(kind, f"fan/one[{i}]") for i in range(3) for kind in ("task_started", "task_finished")]
    assert r.state["fan"] == [{}, {}, {}]



def test_fail_on_error_is_read_in_any_case_like_every_exec_input(tmp_path):
    r = run_text(tmp_path, """
        pipeline:
          lower:
            action: system/exec:execute
            input: {commands: ["echo lower; exit 3"], FailOnError: true}
          last:
            action: printer:print
            input: {message: should not run}
    """)
    assert r.code == 1 and r.status("lower") == "failed" and r.status("last") == "not_run"


def test_exec_reads_dev_null_in_a_run_without_a_terminal(tmp_path, flowtui_cmd):
    """As every other task: a `read` gets end of input instead of waiting for a send nobody types."""
    import subprocess

    (tmp_path / "ask.yaml").write_text(textwrap.dedent("""
        pipeline:
          ask:
            action: system/exec:execute
            input: {commands: ['read x; echo "got [$x]"']}
    """))
    done = subprocess.run([*flowtui_cmd, "run", "ask.yaml", "--no-ui", "--state-dir", str(tmp_path / "state")],
                          cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "[ask] got []" in done.stdout, done.stdout + done.stderr


def test_await_any_error_starts_no_child_once_it_stopped(tmp_path):
    """The failure frees a slot, and skipping the children still queued must not hand it to the next
    one: with one slot, `bad` fails and nothing after it ever starts (no process spawned and killed)."""
    r = run_text(tmp_path, EMIT_SLEEPERS.replace("AWAIT", "{mode: anyError}"), max_parallel=1,
                 sets={"jobs": "[{name: bad, wait: 0, code: 3}, {name: b, wait: 0, code: 0}, {name: c, wait: 0, code: 0},"
                               " {name: d, wait: 0, code: 0}]"})
    assert r.code == 1 and r.status("fan") == "failed"
    assert [e.task for e in r.events if e.type == "task_started"] == ["fan/one[0]"]
    assert [r.status(f"fan/one[{i}]") for i in range(1, 4)] == ["skipped"] * 3


def test_await_first_over_many_queued_children_is_no_recursion_error(tmp_path):
    """Each child `first` skips ends in turn; it must not stop the children again, once per child."""
    r = run_text(tmp_path, """
        pipeline:
          fan:
            emit: {forEach: "$items", as: it, task: {one: {action: printer:print, input: {message: "$it"}}}}
            await: {mode: first}
        """, max_parallel=1, sets={"items": "[" + ", ".join(str(i) for i in range(3000)) + "]"})
    assert r.code == 0 and r.status("fan") == "succeeded" and r.lines() == ["0"]
    assert r.status("fan/one[2999]") == "skipped" and r.state["fan"] == [{}]


def test_a_loop_over_a_shorter_template_list_leaves_no_copy_of_the_longer_one(tmp_path):
    """A goto re-arms the template: the copies of the earlier pass go, their subtasks with them,
    so the report lists only what the last pass made (it listed `one[1]/first` and `one[2]/first`)."""
    r = run_text(tmp_path, """
        init: {items: [a, b, c], n: 0}
        pipeline:
          loop:
            each:
              template:
                selector: [{name: it, value: $items}]
                task:
                  one:
                    first: {action: nop:nop}
            step:
              action: nop:nop
              post: {n: "${n + 1}", items: [x]}
              goto: {when: n < 2, task: loop}
        """)
    assert r.code == 0 and r.state["n"] == 2
    tasks = [nid for nid in r.run.tree_order() if r.run.nodes[nid].is_task]
    assert tasks == ["loop/each", "loop/each/one[0]/first", "loop/step"]
    assert sorted(n for n in r.run.nodes if n.startswith("loop/each/")) == ["loop/each/one[0]", "loop/each/one[0]/first"]


def test_catch_of_an_async_group_handles_a_sibling_that_fails_after_it_ran(tmp_path):
    """`slow` fails only once `catch` has run (it waits for the file catch writes): the group still
    succeeds, as it does when both fail before catch starts, whichever ends first."""
    r = run_text(tmp_path, f"""
        pipeline:
          g:
            async: true
            fast:
              action: system/exec:execute
              input: {{commands: ["exit 3"], failOnError: true}}
            slow:
              action: system/exec:execute
              input: {{workdir: "{tmp_path}", commands: ["while [ ! -e caught ]; do sleep 0.01; done; exit 4"], failOnError: true}}
            catch:
              action: system/exec:execute
              input: {{workdir: "{tmp_path}", commands: ["touch caught"]}}
          after: {{action: printer:print, input: {{message: after}}}}
        """)
    assert [r.status(t) for t in ("g/fast", "g/slow", "g/catch", "g", "after")] == ["failed", "failed", "succeeded", "succeeded", "succeeded"]
    assert r.code == 0
