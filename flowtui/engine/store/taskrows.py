"""A batch of task events folded into one write per `tasks` row and per `attempts` row.

A task usually goes queued -> running -> finished within one batch of the store writer: five
statements one event at a time, one `executemany` row each once folded. What each row ends up as
is exactly what applying the events in order would leave.
"""

TASK_EVENTS = frozenset({"task_status", "task_started", "task_retrying", "task_finished"})
_STARTED_RESETS = {"finished_at": None, "exit_code": None, "duration": None, "error": None}


class TaskRows:
    def __init__(self, run_id, attempt_base=None):
        self.run_id = run_id
        # task id -> attempts recorded before the runtime created the task again (a template copy
        # on resume or in a loop's next iteration numbers its attempts from 1 again): added to
        # the run's numbers, so no attempt row overwrites an earlier one.
        self.attempt_base = attempt_base or {}
        self._tasks = {}  # task id -> {column: value}
        self._attempts = {}  # (task id, attempt) -> {"how": insert | update | finish, column: value}

    def add(self, e):
        row = self._tasks.setdefault(e.task, {})
        kind = e.type
        if kind == "task_status":
            row["status"] = e.status
            return
        number = e.attempt + self.attempt_base.get(e.task, 0)
        if kind == "task_started":
            row.update(status="running", attempts=number, iteration=e.iteration, started_at=e.ts, **_STARTED_RESETS)
            self._attempts[(e.task, number)] = {
                "how": "insert", "iteration": e.iteration, "status": "running", "started_at": e.ts,
                "exit_code": None, "finished_at": None,
            }
        elif kind == "task_retrying":
            row.update(status="retrying", exit_code=e.exit_code)
            attempt = self._attempts.setdefault((e.task, number), {"how": "update"})
            attempt.update(status="failed", exit_code=e.exit_code, finished_at=e.ts)
        elif kind == "task_finished":
            row.update(status=e.status, exit_code=e.exit_code, attempts=number, iteration=e.iteration,
                       finished_at=e.ts, duration=e.duration, error=e.error)
            attempt = self._attempts.setdefault((e.task, number), {"how": "finish"})
            if attempt.get("finished_at") is None:  # the first outcome of an attempt is its record
                attempt.update(status=e.status, exit_code=e.exit_code, finished_at=e.ts)

    def write(self, conn):
        """Apply what was folded (then start empty)."""
        by_columns = {}
        for task, row in self._tasks.items():
            columns = tuple(sorted(row))
            by_columns.setdefault(columns, []).append((*(row[c] for c in columns), self.run_id, task))
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{c} = ?" for c in columns)
            conn.executemany(f"UPDATE tasks SET {assignments} WHERE run_id = ? AND task_id = ?", rows)  # noqa: S608
        inserts, updates, finishes = [], [], []
        for (task, number), a in self._attempts.items():
            if a["how"] == "insert":
                inserts.append((self.run_id, task, number, a["iteration"], a["status"], a["exit_code"],
                                a["started_at"], a["finished_at"]))
            else:
                (updates if a["how"] == "update" else finishes).append(
                    (a["status"], a["exit_code"], a["finished_at"], self.run_id, task, number))
        conn.executemany(
            """INSERT OR REPLACE INTO attempts (run_id, task_id, attempt, iteration, status, exit_code, started_at,
               finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""", inserts)
        conn.executemany(
            "UPDATE attempts SET status = ?, exit_code = ?, finished_at = ? WHERE run_id = ? AND task_id = ? AND attempt = ?",
            updates)
        conn.executemany(
            """UPDATE attempts SET status = ?, exit_code = ?, finished_at = ?
               WHERE run_id = ? AND task_id = ? AND attempt = ? AND finished_at IS NULL""", finishes)
        self._tasks.clear()
        self._attempts.clear()
