"""The store writer folds a batch of task events into one write per row: the rows must end up as
applying the events one at a time leaves them (each event its own batch, so SQL decides)."""

import pytest

from flowtui.engine.events import TaskFinished, TaskRetrying, TaskStarted, TaskStatus
from flowtui.engine.store.schema import connect
from flowtui.engine.store.taskrows import TaskRows

RUN = "r1"
SEQUENCES = {
    "queued, ran, succeeded": [
        TaskStatus("a", "queued", ts=1), TaskStarted("a", 1, 1, ts=2), TaskFinished("a", "succeeded", 0, 1, 1, 1.0, None, ts=3),
    ],
    "retried, then succeeded": [
        TaskStarted("a", 1, 1, ts=1), TaskRetrying("a", 1, 0.5, 2, ts=2), TaskStarted("a", 2, 1, ts=3),
        TaskFinished("a", "succeeded", 0, 2, 1, 2.0, None, ts=4),
    ],
    "an outcome overridden by the runtime": [
        TaskStarted("a", 1, 1, ts=1), TaskFinished("a", "succeeded", 0, 1, 1, 1.0, None, ts=2),
        TaskFinished("a", "failed", 0, 1, 1, 1.0, "told to fail", ts=3),
    ],
    "rerun from attempt 1 (a loop's next iteration)": [
        TaskStarted("a", 1, 1, ts=1), TaskFinished("a", "failed", 1, 1, 1, 1.0, "exit 1", ts=2),
        TaskStatus("a", "pending", ts=3), TaskStarted("a", 1, 2, ts=4), TaskStatus("b", "waiting", ts=4),
    ],
    "two tasks interleaved": [
        TaskStarted("a", 1, 1, ts=1), TaskStarted("b", 1, 1, ts=2), TaskFinished("b", "timed_out", 124, 1, 1, 5.0, "timed out", ts=3),
        TaskFinished("a", "succeeded", 0, 1, 1, 3.0, None, ts=4), TaskStatus("c", "skipped", ts=5),
    ],
}


def store_rows(conn):
    tasks = [tuple(r) for r in conn.execute(
        "SELECT task_id, status, attempts, iteration, exit_code, started_at, finished_at, duration, error "
        "FROM tasks ORDER BY task_id")]
    attempts = [tuple(r) for r in conn.execute(
        "SELECT task_id, attempt, iteration, status, exit_code, started_at, finished_at FROM attempts ORDER BY task_id, attempt")]
    return tasks, attempts


def recorded(tmp_path, name, events, per_event):
    directory = tmp_path / name
    directory.mkdir()
    conn = connect(str(directory))
    conn.executemany("INSERT INTO tasks (run_id, task_id, status) VALUES (?, ?, 'pending')", [(RUN, t) for t in "abc"])
    rows = TaskRows(RUN)
    for event in events:
        rows.add(event)
        if per_event:
            rows.write(conn)
    rows.write(conn)
    return store_rows(conn)


@pytest.mark.parametrize("events", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_a_folded_batch_leaves_the_rows_one_event_at_a_time_leaves(tmp_path, events):
    assert recorded(tmp_path, "folded", events, per_event=False) == recorded(tmp_path, "one-by-one", events, per_event=True)


def test_what_the_rows_say_after_a_retry_and_an_override(tmp_path):
    tasks, attempts = recorded(tmp_path, "s", SEQUENCES["retried, then succeeded"], per_event=False)
    assert tasks[0] == ("a", "succeeded", 2, 1, 0, 3, 4, 2.0, None)
    assert attempts == [("a", 1, 1, "failed", 2, 1, 2), ("a", 2, 1, "succeeded", 0, 3, 4)]
    tasks, attempts = recorded(tmp_path, "o", SEQUENCES["an outcome overridden by the runtime"], per_event=False)
    assert tasks[0][1] == "failed" and tasks[0][-1] == "told to fail"
    assert attempts == [("a", 1, 1, "succeeded", 0, 1, 2)]  # an attempt keeps its first outcome
