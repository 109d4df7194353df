"""A goto loop on a group that was itself added at run time (inside a sub-workflow or a template
copy) re-runs the group's children: resetting it once dropped them, so the loop ran only once."""

from tests.test_fluxor_runtime import GOTO_LOOP, run_text


def test_goto_loop_inside_a_sub_workflow(tmp_path):
    (tmp_path / "goto.yaml").write_text(GOTO_LOOP)
    r = run_text(tmp_path, """
        pipeline:
          child:
            action: workflow:run
            input: {location: goto}
          show:
            action: printer:print
            input: {message: "child results: ${child.Output.results}"}
    """)
    assert r.code == 0
    assert r.lines("child/loop/plan") == ["plan"] * 4
    assert r.lines("show") == ["child results: [1.0,1.0,1.0,1.0]"]


def test_goto_loop_on_a_group_of_a_template_copy(tmp_path):
    r = run_text(tmp_path, """
        init: {k: 0, items: [x]}
        pipeline:
          drive:
            template:
              selector:
                - {name: it, value: $items}
              task:
                g:
                  step:
                    action: nop:nop
                    post: {k: "${k + 1}"}
                  show:
                    action: printer:print
                    input: {message: "k=$k"}
                    goto: {when: k < 3, task: g}
    """)
    assert r.code == 0
    assert r.lines("drive/g[0]/show") == ["k=1", "k=2", "k=3"]
