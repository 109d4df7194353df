"""The unified model: immutable records, policies, and what counts as a group or a task."""

import pytest

from flowtui.engine.model import (
    COND_FINISHED,
    COND_SUCCEEDED,
    Action,
    Approval,
    Dep,
    Field,
    FlowDef,
    Node,
    Retry,
)
from flowtui.engine.run import check_values


def test_records_take_defaults_and_are_immutable():
    dep = Dep(node="a")
    assert (dep.cond, dep.code) == (COND_SUCCEEDED, None)
    with pytest.raises(AttributeError, match="immutable"):
        dep.cond = COND_FINISHED


def test_records_refuse_missing_and_unknown_fields():
    with pytest.raises(TypeError, match="needs 'node'"):
        Dep(cond=COND_FINISHED)
    with pytest.raises(TypeError, match="no field 'colour'"):
        Dep(node="a", colour="red")


def test_replace_gives_a_new_record_and_keeps_the_old():
    node = Node(id="s/a", name="a", parent="s")
    fatal = node.replace(fatal=True)
    assert fatal.fatal and not node.fatal
    assert fatal.id == node.id and fatal != node
    assert node == Node(id="s/a", name="a", parent="s")


def test_node_defaults_describe_a_plain_task():
    node = Node(id="t", name="t", action=Action(kind="shell", params={"cmd": "true"}))
    assert node.join == "all" and node.good_codes == frozenset({0})
    assert node.hooks == {} and node.deps == () and node.timeout is None and not node.pty


def test_groups_and_tasks():
    group = Node(id="g", name="g", children=("g/a",))
    task = Node(id="g/a", name="a", parent="g", action=Action(kind="nop"))
    leaf = Node(id="g/b", name="b", parent="g")
    both = Node(id="h", name="h", children=("h/x",), action=Action(kind="nop"))
    assert group.is_group and not group.is_task
    assert task.is_task and not task.is_group
    assert leaf.is_task  # a leaf is reported even without an action
    assert both.is_group and both.is_task
    flow = FlowDef(name="f", format="test", file=None, nodes={n.id: n for n in (group, task, leaf)}, roots=("g",))
    assert [n.id for n in flow.tasks()] == ["g/a", "g/b"]


def test_retry_delays_back_off_up_to_the_cap():
    retry = Retry(limit=5, delay=1.0, backoff=2.0, max_delay=5.0)
    assert [retry.delay_before(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert Retry(limit=2, delay=0.5).delay_before(3) == 0.5


def test_retry_exit_code_filter():
    assert Retry(limit=1).retries_on(7)
    only = Retry(limit=1, on_exit_codes=frozenset({75}))
    assert only.retries_on(75) and not only.retries_on(1)


def test_approval_values_are_checked_and_normalised():
    fields = (
        Field(id="ticket", prompt="Ticket"),
        Field(id="confirm", type="bool"),
        Field(id="env", type="choice", choices=("staging", "prod"), default="staging"),
        Field(id="note", required=False),
    )
    values = check_values(fields, {"ticket": "OPS-1", "confirm": "Yes", "UNRELATED": "x"})
    assert values == {"ticket": "OPS-1", "confirm": "true", "env": "staging", "note": ""}  # only declared fields
    with pytest.raises(ValueError, match="missing value for field 'ticket'"):
        check_values(fields, {"confirm": "n"})
    with pytest.raises(ValueError, match="missing value for fields 'ticket', 'confirm'$"):
        check_values(fields, {})
    with pytest.raises(ValueError, match="missing value for field 'ticket'$"):  # blank is not an answer
        check_values(fields, {"ticket": "  ", "confirm": "y"})
    with pytest.raises(ValueError, match="'confirm' must be yes or no"):
        check_values(fields, {"ticket": "x", "confirm": "maybe"})
    with pytest.raises(ValueError, match="one of staging, prod"):
        check_values(fields, {"ticket": "x", "confirm": "no", "env": "qa"})


def test_approval_defaults():
    assert Approval().prompt == "Approve?" and Approval().fields == ()
