"""A task's end is told once, with its final outcome: a runtime that overrides an outcome (a Fluxor
`when` that cannot be evaluated, an await mode) once produced a second task_finished with another
status, so the console, the TUI and --events consumers saw the task end twice."""

from tests.test_fluxor_runtime import run_text


def ends(r, nid):
    return [e.status for e in r.finished(nid)]


def test_a_when_that_gives_a_map_fails_the_task_once(tmp_path):
    r = run_text(tmp_path, """
        init:
          m: {a: 1}
        pipeline:
          w: {when: "m", action: "nop:nop"}
          after: {action: "nop:nop"}
    """)
    assert ends(r, "w") == ["failed"]
    assert r.run.states["w"].status == "failed"


def test_await_first_ends_the_driver_once_after_cancelling_the_rest(tmp_path):
    r = run_text(tmp_path, """
        init:
          numbers: [1, 2]
        pipeline:
          parent:
            emit:
              forEach: ${numbers}
              as: p
              task:
                child:
                  action: system/exec:execute
                  input: {commands: ["if [ ${p} = 1 ]; then echo n=${p}; else sleep 30; fi"]}
            await:
              mode: first
          next:
            action: printer:print
            input: {message: "after"}
    """)
    assert ends(r, "parent") == ["succeeded"]
    assert r.lines("next") == ["after"]
    finished = [(e.task, e.attempt, e.iteration) for e in r.events if e.type == "task_finished"]
    assert len(finished) == len(set(finished))  # no task end told twice
