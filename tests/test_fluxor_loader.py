"""The Fluxor loader (spec §1): document forms, task keys in order, Go's scalar rules, located errors."""

import subprocess
import textwrap

import pytest

from flowtui.engine.diagnostics import FlowError
from flowtui.engine.loaders import detect
from flowtui.engine.loaders.fluxor import load, parse_sets


def write(tmp_path, text, name="wf.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


def load_text(tmp_path, text, name="wf.yaml", **options):
    path = write(tmp_path, text, name)
    with open(path) as handle:
        return load(path, handle.read(), options)


def errors(tmp_path, text, **options):
    with pytest.raises(FlowError) as info:
        load_text(tmp_path, text, **options)
    return [f"{d.line}:{d.col}: {d.message}" for d in info.value.diagnostics]


def test_golden_parse_of_flow_yaml(tmp_path):
    """spec §1.16 (service_test.go): ids, names, actions, dependsOn, init floats, dropped commands."""
    flow = load_text(tmp_path, """
        init:
          x: 0

        pipeline:
          task1:
            action: system/executor
            commands:
                - echo "task1 $x"

          task2:
            subTask:
              dependsOn: taskZ
              action: printer:print
              input:
                message: $task1.Output

        dependencies:
          taskZ:
            action: printer:print
            input:
              message: "taskZ"
        """, name="flow.yaml")
    assert flow.name == "flow" and flow.format == "fluxor"
    assert flow.roots == ("task1", "task2")
    assert list(flow.nodes) == ["task1", "task2", "task2/subTask", "taskZ"]
    assert flow.extra["init"] == [("x", 0.0)] and isinstance(flow.extra["init"][0][1], float)
    sub = flow.nodes["task2/subTask"]
    assert sub.action.kind == "printer:print"
    assert sub.action.params["input"] == {"message": "$task1.Output"}
    assert sub.extra["depends_on"] == ["taskZ"]
    assert [(d.node, d.cond) for d in sub.deps] == [("taskZ", "ok")]
    assert flow.nodes["task2"].deps[0].node == "task1"
    assert flow.nodes["taskZ"].on_demand and flow.nodes["taskZ"].parent is None
    # the README's `system/executor` + task-level commands: (extension: Go drops the commands)
    task1 = flow.nodes["task1"].action
    assert task1.kind == "system/executor:execute"
    assert task1.params["input"] == {"commands": ['echo "task1 $x"']}


def test_scalars_follow_yaml_1_2_and_go_conversion(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          t:
            action: nop:nop
            input:
              yes_: yes
              off_: off
              octal: 0777
              hex: 0x1F
              under: 1_000
              inf: .inf
              null_: ~
              quoted: '0'
              flag: True
              float: 1.5
              day: 2024-01-01
              list: [1, two]
        """)
    assert flow.nodes["t"].action.params["input"] == {
        "yes_": "yes", "off_": "off", "octal": 777, "hex": 0, "under": 0, "inf": 0, "null_": "~",
        "quoted": "0", "flag": True, "float": 1.5, "day": "2024-01-01", "list": [1, "two"],
    }


def test_a_yaml_1_1_directive_keeps_yaml_1_2_tags_as_in_yaml_v3(tmp_path):
    flow = load_text(tmp_path, "%YAML 1.1\n---\npipeline:\n  t:\n    action: nop:nop\n"
                               "    input: {a: yes, b: 1:30, c: 010, d: on}\n")
    assert flow.nodes["t"].action.params["input"] == {"a": "yes", "b": "1:30", "c": 10, "d": "on"}


def test_block_scalars_are_plain_text(tmp_path):
    """A folded scalar is its text: no fold markers (ruamel.yaml's round-trip mode put BEL
    characters at each fold, which reached a task's output as terminal bells)."""
    flow = load_text(tmp_path, "pipeline:\n  t:\n    action: nop:nop\n    input:\n"
                               "      folded: >\n        one\n        two\n\n        three\n"
                               "      literal: |-\n        keep\n        lines\n")
    assert flow.nodes["t"].action.params["input"] == {"folded": "one two\nthree\n", "literal": "keep\nlines"}


def test_init_and_post_top_level_ints_become_floats(tmp_path):
    flow = load_text(tmp_path, """
        init: {a: 1, b: [1]}
        pipeline:
          t:
            action: nop:nop
            post:
              results[]: 1
              'typed[com.example.Type](kind/loc)': 2
        """)
    assert flow.extra["init"] == [("a", 1.0), ("b", [1])]
    assert flow.nodes["t"].extra["post"] == [("results[]", 1.0), ("typed", 2.0)]


def test_action_forms_and_key_order(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          - id: readme
            service: printer
            action: print
            with: {message: hi}
          - compact:
              action: {service: printer, method: print, input: {message: obj}}
          - lost:
              input: {message: dropped}
              action: printer:print
        """)
    assert flow.roots == ("readme", "compact", "lost")
    assert flow.nodes["readme"].action.params["input"] == {"message": "hi"}
    assert flow.nodes["compact"].action.params["input"] == {"message": "obj"}
    assert flow.nodes["lost"].action.params["input"] is None  # `action:` replaced the earlier input
    assert any("discards that input" in d.message for d in flow.warnings)


def test_service_after_a_bare_action_leaves_no_method(tmp_path):
    assert errors(tmp_path, """
        pipeline:
          list:
            action: print
            service: printer
        """) == ["3:13: task list: service printer has no method; its methods: print"]


def test_wrapper_form_and_empty_pipeline(tmp_path):
    flow = load_text(tmp_path, """
        name: test1
        pipeline:
          kind: Sequence
          tasks: []
        """)
    assert flow.name == "test1" and flow.roots == () and flow.nodes == {}


def test_nested_groups_sequence_in_document_order(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          a:
            x: {action: nop:nop}
            y: {action: nop:nop}
          b: {action: nop:nop}
        """)
    assert list(flow.nodes) == ["a", "a/x", "a/y", "b"]
    assert flow.nodes["a"].children == ("a/x", "a/y")
    assert [d.node for d in flow.nodes["a/y"].deps] == ["a/x"]
    assert [d.node for d in flow.nodes["b"].deps] == ["a"]
    assert flow.nodes["a/x"].deps == ()


def test_async_group_children_have_no_sibling_order(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          g:
            async: true
            x: {action: nop:nop}
            y: {action: nop:nop}
        """)
    assert flow.nodes["g/x"].deps == () and flow.nodes["g/y"].deps == ()


def test_readme_parallel_tasks_list_is_read(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          parallelTasks:
            tasks:
              - id: task1
                async: true
                action: printer:print
                input: {message: "Running in parallel 1"}
              - id: task2
                async: true
                action: printer:print
                input: {message: "Running in parallel 2"}
          after: {action: nop:nop}
        """)
    assert flow.nodes["parallelTasks"].children == ("parallelTasks/task1", "parallelTasks/task2")
    assert flow.nodes["parallelTasks/task1"].deps == () and flow.nodes["parallelTasks/task2"].deps == ()


def test_catch_watches_its_siblings(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          g:
            a: {action: nop:nop}
            b: {action: nop:nop}
            catch: {action: nop:nop}
        """)
    catch = flow.nodes["g/catch"]
    assert catch.join == "any" and [(d.node, d.cond) for d in catch.deps] == [("g/a", "failed"), ("g/b", "failed")]


def test_extension_keys_retry_and_depends_on_list(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          a: {action: nop:nop}
          b: {action: nop:nop}
          c:
            dependsOn: [a, b]
            retry: {limit: 2, delay: 1s, backoff: 2, maxDelay: 5s, onExitCodes: [1, 2]}
            action: nop:nop
        """)
    node = flow.nodes["c"]
    assert node.extra["depends_on"] == ["a", "b"]
    assert (node.retry.limit, node.retry.delay, node.retry.backoff, node.retry.max_delay) == (2, 1.0, 2.0, 5.0)
    assert node.retry.on_exit_codes == frozenset({1, 2})


def test_template_and_emit_are_prebuilt(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          printOrders:
            template:
              selector:
                - name: order
                  value: "$orders"
              task:
                printOne:
                  action: {service: printer, method: print, input: {message: "$order"}}
          fan:
            emit: {forEach: "${numbers}", as: p, task: {one: {action: nop:nop}}}
            await: {mode: anyError, timeout: 1m30s, merge: Replace}
        """)
    template = flow.nodes["printOrders"].extra["template"]
    assert template["selector"] == [("order", "$orders")]
    assert [n.id for n in template["nodes"]] == ["printOrders/printOne"]
    assert flow.nodes["fan"].extra["await"] == {"mode": "anyError", "timeout": 90.0, "merge": "replace"}


def test_policy_ask_gates_every_action(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          g:
            a: {action: printer:print}
        """, policy="ask")
    assert flow.nodes["g"].approval is None
    assert flow.nodes["g/a"].approval.prompt == "Run printer.print?"


def test_load_time_directives(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXOR_TEST_WHO", "ci")
    (tmp_path / "common.yaml").write_text("tasks:\n  cleanup:\n    action: printer:print\n    input: {message: imported}\n")
    (tmp_path / "note.txt").write_text("from a text file")
    flow = load_text(tmp_path, """
        pipeline:
          greet:
            action: printer:print
            input:
              message: "Hello from ${env.FLUXOR_TEST_WHO}-${env.FLUXOR_UNSET_VAR}"
              where: $path(data/x.csv)
              note: $import('note.txt')
          shared: $import('common.yaml:tasks.cleanup')
        """)
    data = flow.nodes["greet"].action.params["input"]
    assert data["message"] == "Hello from ci-"
    assert data["where"] == str(tmp_path / "data" / "x.csv")
    assert data["note"] == "from a text file"
    assert flow.nodes["shared"].action.params["input"] == {"message": "imported"}


def test_aliases_become_nil(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          a:
            action: printer:print
            input: {message: &m hello, again: *m}
        """)
    assert flow.nodes["a"].action.params["input"] == {"message": "hello", "again": None}


@pytest.mark.parametrize("text, expected", [
    ("name: x\n", ["1:1: pipeline is nil: a Fluxor workflow needs a `pipeline:` of tasks"]),
    ("pipeline: 3\n", ["1:11: pipeline node should be a mapping or sequence"]),
    ("pipeline:\n  a: 1\n", ["2:6: task node should be a mapping (task a)"]),
    ("pipeline:\n  - 1\n", ["2:5: pipeline sequence items should be mappings"]),
    ("pipeline:\n  - {}\n", ["2:5: task id is required for pipeline sequence item"]),
    ("pipeline:\n  - id: a\n    action: nop:nop\n  - id: a\n    action: nop:nop\n", ["4:5: duplicate task id a"]),
    ("pipeline:\n  a:\n    dependsOn: b\n    action: nop:nop\n", ["3:16: task a depends on unknown task b"]),
    ("pipeline:\n  a:\n    dependsOn: a\n    action: nop:nop\n", ["3:16: task a depends on itself"]),
    ("pipeline:\n  a:\n    dependsOn: {x: 1}\n    action: nop:nop\n", ["3:16: dependsOn should be a string or a list of strings"]),
    ("pipeline:\n  a:\n    action: nop:nop\n    goto: {task: nowhere}\n", ["4:11: task a goto refers to unknown task nowhere"]),
    ("pipeline:\n  a:\n    async: 'true'\n    b: {action: nop:nop}\n", ["3:12: async should be a boolean"]),
    ("pipeline:\n  a:\n    template: {task: {x: {action: nop:nop}}}\n", ["3:15: task a has template without selector"]),
    ("pipeline:\n  a:\n    action: math/add:exec\n", ["3:13: task a: unknown service 'math/add'; available services: nop, printer, system/exec, system/executor, workflow"]),
    ("pipeline:\n  a:\n    action: printer:Print\n", ["3:13: task a: service printer has unknown method 'Print'; its methods: print"]),
    ("pipeline:\n  a:\n    input: {message: x}\n", ["3:12: task a has input but no action (write `action: service:method`)"]),
    ("pipeline:\n  a:\n    init: [1]\n    action: nop:nop\n", ["3:11: parameters node should be a mapping"]),
    ("pipeline:\n  a:\n    emit: true\n", ["3:11: emit spec must be a mapping, got scalar"]),
    ("pipeline:\n  a:\n    post: {'bad[x': 1}\n    action: nop:nop\n", ["3:12: failed to parse parameter 'bad[x': expected name[Type](kind/location)"]),
    ("pipeline:\n  a:\n    retry: {limit: -1}\n    action: nop:nop\n", ["3:20: retry limit must be a whole number >= 0"]),
    ("pipeline:\n  a:\n    action: workflow:run\n    input: {location: nothere}\n", None),
    ("pipeline:\n  a: {action: nop:nop, dependsOn: b}\n  b: {action: nop:nop}\n", ["2:3: dependency cycle: a -> b -> a can never start"]),
    ("pipeline:\n  a:\n    x: {action: nop:nop, dependsOn: b}\n  b: {action: nop:nop}\n", None),
    ("pipeline: [a\n", None),
    ("pipeline:\n  a:\n    action: nop:nop\x07\n",
     ["3:20: invalid YAML: unacceptable character #x0007: special characters are not allowed"]),
])
def test_errors_are_located(tmp_path, text, expected):
    found = errors(tmp_path, text)
    if expected is not None:
        assert found == expected
    else:
        assert len(found) == 1
        assert any(word in found[0] for word in ("not found", "cycle", "invalid YAML"))


def test_goto_must_stay_in_reach(tmp_path):
    found = errors(tmp_path, """
        pipeline:
          a:
            x: {action: nop:nop}
          b:
            action: nop:nop
            goto: {task: x}
        """)
    assert found == ["6:11: task b goto x: the target must be b, an ancestor, or a sibling of one of them (flowtui jumps within the pipeline tree)"]


def test_every_problem_is_reported_in_file_order(tmp_path):
    found = errors(tmp_path, """
        pipeline:
          a:
            action: nope:x
          b:
            dependsOn: zz
            action: nop:nop
        """)
    assert [f.split(":")[0] for f in found] == ["3", "5"]


def test_json_workflows_load_through_the_same_path(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text('{"pipeline": {"hello": {"action": "printer:print", "input": {"message": "hi"}}}}')
    assert detect(str(path), path.read_text()) == "fluxor"
    flow = load(str(path), path.read_text(), {})
    assert flow.name == "wf" and flow.nodes["hello"].action.kind == "printer:print"


def test_set_values_are_yaml():
    assert parse_sets({"orders": "[apple,banana]", "n": "5", "flag": "yes", "s": "hello world", "e": ""}) == {
        "orders": ["apple", "banana"], "n": 5, "flag": "yes", "s": "hello world", "e": "",
    }
    assert parse_sets(["a=1", "b={x: 2}"]) == {"a": 1, "b": {"x": 2}}
    with pytest.raises(FlowError, match="--set a="):
        parse_sets({"a": "[1,"})


def test_only_the_first_document_counts(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          a: {action: nop:nop}
        ---
        ignored: [not parsed
        """)
    assert flow.roots == ("a",)


def test_import_problems_are_located(tmp_path):
    found = errors(tmp_path, "pipeline:\n  a: $import('missing.yaml')\n  b: $import('x.json')\n")
    assert found[0].startswith("2:6: $import(missing.yaml): cannot read ")
    assert found[1] == "3:6: $import(x.json): unsupported extension .json (use .yaml, .yml, .txt or .vm)"


def test_a_condition_that_cannot_be_parsed_is_a_warning(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          a:
            when: "status = 'done'"
            action: nop:nop
            goto: {when: "i <", task: a}
          b: {when: "status == 'done'", action: nop:nop}
        """)
    messages = [(d.line, d.message) for d in flow.warnings]
    assert messages == [
        (3, "task a: cannot parse `status = 'done'` (unexpected character '=' at 8 in \"status = 'done'\"); "
            "as in Fluxor it is read as a variable name, so it is false unless such a variable exists"),
        (5, "task a: cannot parse `i <` (expected a value but found the end at 4 in 'i <'); "
            "as in Fluxor it is read as a variable name, so it is false unless such a variable exists"),
    ]


def test_only_a_template_driver_never_runs_its_action(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          fan:
            emit: {forEach: $items, as: it, task: {one: {action: nop:nop}}}
            action: printer:print
          each:
            template: {selector: [{name: it, value: $items}], task: {one: {action: nop:nop}}}
            action: printer:print
        """)
    assert flow.nodes["fan"].action.kind == "printer:print" and flow.nodes["each"].action is None
    assert [d.message for d in flow.warnings] == [
        "the action of fan runs only when its emit forEach list is empty",
        "the action of each never runs: it drives a template",
    ]


@pytest.mark.parametrize("raw", ["[1, 2]]", "{a: 1}}", "[1, 2] x", "'q' r"])
def test_set_values_with_text_after_the_value_are_refused(raw):
    with pytest.raises(FlowError, match=r"--set x=.*: invalid YAML: "):
        parse_sets({"x": raw})


def test_set_values_end_where_the_value_ends():
    assert parse_sets({"a": "[1, 2]  # a comment", "b": "a: 1", "c": "[1, 2]\n...\n"}) == {
        "a": [1, 2], "b": {"a": 1}, "c": [1, 2],
    }


def test_a_bad_set_value_is_one_line_and_exit_2(tmp_path, flowtui_cmd):
    path = write(tmp_path, "pipeline:\n  a: {action: printer:print, input: {message: 'x=${x}'}}\n")
    result = subprocess.run([*flowtui_cmd, "run", path, "--no-ui", "--state-dir", str(tmp_path / "state"), "--set", "x=[1, 2]]"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 2 and "x=[1,2]" not in result.stdout
    assert (result.stdout + result.stderr).strip().count("\n") == 0
    assert "--set x=[1, 2]]: invalid YAML" in result.stdout + result.stderr


def test_text_after_a_flow_document_is_an_error(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text('{"pipeline": {"hello": {"action": "nop:nop"}}}}')
    with pytest.raises(FlowError, match="invalid YAML"):
        load(str(path), path.read_text(), {})
