"""Queries on the run store: history, one run's detail, purge, retention, learned durations."""

import os
import time

from ..control.sockets import live_runs, socket_path
from .logfiles import log_path, read_journal, run_dir

ACTIVE = ("pending", "running", "paused")
INTERRUPTED = "interrupted"  # the runner died (kill -9, power loss) before the run ended
DEFAULT_KEEP = 100
_SUMMARY_COLUMNS = ", ".join((
    "run_id", "flow_file", "flow_name", "format", "content_hash", "status", "exit_code", "created_at", "started_at",
    "finished_at", "started_by", "pid", "host", "options", "resumes",
))


class StoreError(Exception):
    """A run that does not exist, an ambiguous id, or an operation refused on an active run."""


def keep_default() -> int:
    """Runs kept per flow after each run: FLOWTUI_KEEP_RUNS, else 100 (0 keeps everything)."""
    raw = os.environ.get("FLOWTUI_KEEP_RUNS", "")
    return int(raw) if raw.strip().isdigit() else DEFAULT_KEEP


class RunStore:
    def __init__(self, state_dir, keep=None):
        self.state_dir = state_dir
        self.keep = keep_default() if keep is None else keep
        self._conn = None

    @property
    def conn(self):
        if self._conn is None:
            from .schema import connect

            self._conn = connect(self.state_dir)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- liveness --------------------------------------------------------------------------------
    def _alive(self):
        """Predicate: is this runs row a run still going (its runner serves a socket or still lives)?"""
        live = set(live_runs(self.state_dir))
        host = os.uname().nodename

        def alive(row) -> bool:
            if row["status"] not in ACTIVE:
                return False
            return row["run_id"] in live or (row["host"] == host and _pid_alive(row["pid"]))

        return alive

    def _view(self, row, alive) -> dict:
        run = dict(row)
        run["live"] = alive(row)
        if run["status"] in ACTIVE and not run["live"]:
            run["status"] = INTERRUPTED
        run["duration"] = (
            round(run["finished_at"] - run["started_at"], 3) if run["finished_at"] and run["started_at"] else None
        )
        return run

    # -- reading ---------------------------------------------------------------------------------
    def list_runs(self, flow_file=None, status=None, limit=50):
        """Newest first. `status` matches what is shown (a dead runner's run reads `interrupted`).

        A summary: `options` decoded as in `get_run`, no `checkpoint` (the runtime's whole state,
        large, read only for one run)."""
        import json

        sql, args = f"SELECT {_SUMMARY_COLUMNS} FROM runs", []
        if flow_file:
            sql += " WHERE flow_file = ?"
            args.append(os.path.abspath(flow_file))
        sql += " ORDER BY created_at DESC, run_id DESC"
        alive = self._alive()
        runs = []
        for row in self.conn.execute(sql, args):
            run = self._view(row, alive)
            if status and run["status"] != status:
                continue
            run["options"] = json.loads(run["options"]) if run["options"] else {}
            counts = dict(self.conn.execute(
                "SELECT status, COUNT(*) FROM tasks WHERE run_id = ? AND is_task GROUP BY status", (run["run_id"],)
            ).fetchall())
            run["tasks"] = {"total": sum(counts.values()), **counts}
            runs.append(run)
            if limit and len(runs) >= limit:
                break
        return runs

    def resolve_id(self, run_id) -> str:
        """The full id of the run named `run_id` or by a unique prefix of it."""
        rows = self.conn.execute(
            "SELECT run_id FROM runs WHERE run_id = ? OR substr(run_id, 1, length(?)) = ? ORDER BY run_id",
            (run_id, run_id, run_id),
        ).fetchall()
        ids = [r[0] for r in rows]
        if run_id in ids:
            return run_id
        if not ids:
            raise StoreError(f"no run {run_id!r} in {self.state_dir} (see `flowtui runs`)")
        if len(ids) > 1:
            raise StoreError(f"run id {run_id!r} is ambiguous: {', '.join(ids[:5])}")
        return ids[0]

    def get_run(self, run_id) -> dict:
        """One run with its tasks (definition order), each with attempts, exit codes and approvals."""
        import json

        run_id = self.resolve_id(run_id)
        conn = self.conn
        run = self._view(conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone(), self._alive())
        run["options"] = json.loads(run["options"]) if run["options"] else {}
        run["checkpoint"] = json.loads(run["checkpoint"]) if run["checkpoint"] else {}
        attempts, approvals = {}, {}
        for row in conn.execute("SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt", (run_id,)):
            attempts.setdefault(row["task_id"], []).append({
                "attempt": row["attempt"], "iteration": row["iteration"], "status": row["status"],
                "exit_code": row["exit_code"], "started_at": row["started_at"], "finished_at": row["finished_at"],
            })
        for row in conn.execute("SELECT * FROM approvals WHERE run_id = ? ORDER BY decided_at", (run_id,)):
            approvals.setdefault(row["task_id"], []).append({
                "decision": row["decision"], "by": row["decided_by"], "at": row["decided_at"],
                "reason": row["reason"], "values": json.loads(row["answers"]) if row["answers"] else None,
            })
        tasks = []
        for row in _tree_order(conn.execute("SELECT * FROM tasks WHERE run_id = ?", (run_id,)).fetchall()):
            task = dict(row)
            task["id"] = task.pop("task_id")
            del task["run_id"]
            task["is_task"] = bool(task["is_task"])
            task["answers"] = json.loads(task["answers"]) if task["answers"] else None
            if not run["live"] and task["status"] in ("running", "retrying", "queued", "awaiting_approval"):
                task["status"] = INTERRUPTED
            task["attempt_history"] = attempts.get(task["id"], [])
            task["exit_codes"] = [a["exit_code"] for a in task["attempt_history"] if a["exit_code"] is not None]
            task["approvals"] = approvals.get(task["id"], [])
            path = self.task_log_path(run_id, task["id"])
            task["log"] = path if os.path.exists(path) else None
            tasks.append(task)
        run["tasks"] = tasks
        return run

    def task_ids(self, run_id) -> list:
        """The ids of the tasks and groups recorded so far for `run_id` (a full id), as `get_run` orders them."""
        rows = self.conn.execute("SELECT task_id, parent, position FROM tasks WHERE run_id = ?", (run_id,)).fetchall()
        return [row["task_id"] for row in _tree_order(rows)]

    def task_log_path(self, run_id, task_id) -> str:
        return log_path(self.state_dir, run_id, task_id)

    def latest_unfinished(self, flow_file):
        """The newest run of `flow_file` that did not succeed and is not going: what `--resume` picks."""
        for run in self.list_runs(flow_file=flow_file, limit=0):
            if run["status"] != "succeeded" and not run["live"]:
                return run["run_id"]
        return None

    def median_durations(self, flow_file, runs=20) -> dict:
        """{task id: median seconds of its successful runs} over the flow's last `runs` runs (ETA)."""
        rows = self.conn.execute(
            """SELECT t.task_id, t.duration FROM tasks t JOIN runs r ON r.run_id = t.run_id
               WHERE r.flow_file = ? AND t.is_task AND t.status = 'succeeded' AND t.duration IS NOT NULL
                 AND r.run_id IN (SELECT run_id FROM runs WHERE flow_file = ? ORDER BY created_at DESC LIMIT ?)""",
            (os.path.abspath(flow_file), os.path.abspath(flow_file), runs),
        ).fetchall()
        samples = {}
        for task_id, duration in rows:
            samples.setdefault(task_id, []).append(duration)
        return {task_id: _median(values) for task_id, values in samples.items()}

    # -- changing --------------------------------------------------------------------------------
    def mark_interrupted(self, run_id):
        """Record that the runner of `run_id` is gone: what it journaled is applied, then the run and
        what was running read `interrupted` (a run that had ended keeps its status), finished at the
        last time the runner recorded anything: when it died is not known, and the reap may come days later."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._replay_journal(conn, run_id)
            (last,) = conn.execute(
                """SELECT MAX(t) FROM (SELECT MAX(created_at, COALESCE(started_at, 0)) AS t FROM runs WHERE run_id = ?1
                   UNION ALL SELECT MAX(COALESCE(started_at, 0), COALESCE(finished_at, 0)) FROM tasks WHERE run_id = ?1
                   UNION ALL SELECT decided_at FROM approvals WHERE run_id = ?1)""", (run_id,),
            ).fetchone()
            # a runner killed before its store thread's first commit: the header's time is its start
            conn.execute("UPDATE runs SET started_at = created_at WHERE run_id = ? AND started_at IS NULL", (run_id,))
            conn.execute(
                f"UPDATE runs SET status = ?, finished_at = COALESCE(finished_at, ?) WHERE run_id = ? "
                f"AND status IN ({','.join('?' * len(ACTIVE))})", (INTERRUPTED, last, run_id, *ACTIVE),
            )
            conn.execute(
                "UPDATE tasks SET status = ? WHERE run_id = ? AND status IN ('running', 'retrying', 'queued', 'awaiting_approval')",
                (INTERRUPTED, run_id),
            )
            conn.execute("UPDATE attempts SET status = ?, finished_at = ? WHERE run_id = ? AND finished_at IS NULL",
                         (INTERRUPTED, last, run_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _replay_journal(self, conn, run_id):
        """Apply what the runner journaled but its store thread may not have committed before it
        died: the run's own row and its tree of tasks and groups (a runner killed in its first
        moments), the nodes a runtime added, task starts, retries and ends. The journal is never
        behind the store for these, so replaying it is idempotent."""
        import json

        recorded, base = {}, {}  # task id -> its highest attempt; TaskRows.attempt_base, as the writer had it
        for line, entry in enumerate(read_journal(self.state_dir, run_id)):
            if "run" in entry:  # one header per runner: the first run, then each resume
                header = entry["run"]
                conn.execute(
                    """INSERT OR IGNORE INTO runs (run_id, flow_file, flow_name, format, status, created_at, started_at,
                           started_by, pid, host, options) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)""",
                    (run_id, header["flow_file"], header["flow_name"], header["format"], header["created_at"],
                     header["created_at"], header["started_by"], header["pid"], header["host"],
                     json.dumps(header["options"], sort_keys=True)),
                )
                # The statuses the runner started from; a row's recorded status is newer.
                conn.executemany(
                    """INSERT INTO tasks (run_id, task_id, name, parent, position, is_task, status, attempts, iteration)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, task_id) DO UPDATE SET
                       name = excluded.name, parent = excluded.parent, position = excluded.position,
                       is_task = excluded.is_task""",
                    [(run_id, *node) for node in header.get("nodes", ())],  # older journals have none
                )
                continue
            if "added" in entry:
                position = conn.execute("SELECT COALESCE(MAX(position), 0) FROM tasks WHERE run_id = ?",
                                        (run_id,)).fetchone()[0]
                conn.executemany(
                    """INSERT INTO tasks (run_id, task_id, name, parent, position, is_task, status)
                       VALUES (?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (run_id, task_id) DO UPDATE SET
                       name = excluded.name, parent = excluded.parent, is_task = excluded.is_task""",
                    [(run_id, nid, name, parent, position + 1 + i, is_task)
                     for i, (nid, name, parent, is_task) in enumerate(entry["added"])],
                )
                base.update((nid, recorded.get(nid, 0)) for nid, *_ in entry["added"])
                continue
            status = entry.get("status")
            if status is None:
                continue
            key = (run_id, entry["task"])
            attempt = entry["attempt"] + base.get(entry["task"], 0)
            recorded[entry["task"]] = max(recorded.get(entry["task"], 0), attempt)
            # A task no header or `added` line names (a journal written before they carried the tree).
            conn.execute("INSERT OR IGNORE INTO tasks (run_id, task_id, name, position, status) VALUES (?, ?, ?, ?, 'pending')",
                         (*key, entry["task"].rsplit("/", 1)[-1], 1_000_000 + line))
            if status == "running":
                conn.execute(
                    """INSERT OR IGNORE INTO attempts (run_id, task_id, attempt, iteration, status, started_at)
                       VALUES (?, ?, ?, ?, 'running', ?)""", (*key, attempt, entry["iteration"], entry["at"]),
                )
                conn.execute(
                    """UPDATE tasks SET status = 'running', attempts = MAX(attempts, ?), iteration = ?, started_at = ?,
                           finished_at = NULL, exit_code = NULL WHERE run_id = ? AND task_id = ?""",
                    (attempt, entry["iteration"], entry["at"], *key),
                )
                # Its groups had started (group starts are not journaled); one not yet recorded so is now.
                conn.execute(
                    """WITH RECURSIVE up(id) AS (SELECT parent FROM tasks WHERE run_id = ?1 AND task_id = ?2
                           UNION SELECT t.parent FROM tasks t JOIN up ON t.run_id = ?1 AND t.task_id = up.id)
                       UPDATE tasks SET status = 'running', started_at = COALESCE(started_at, ?3)
                       WHERE run_id = ?1 AND task_id IN (SELECT id FROM up) AND status = 'pending'""",
                    (run_id, entry["task"], entry["at"]),
                )
                continue
            attempt_status = "failed" if status == "retrying" else status
            conn.execute(
                "UPDATE attempts SET status = ?, exit_code = ?, finished_at = ? WHERE run_id = ? AND task_id = ? AND attempt = ?",
                (attempt_status, entry["exit_code"], entry["at"], *key, attempt),
            )
            conn.execute(
                """UPDATE tasks SET status = ?, exit_code = ?, attempts = MAX(attempts, ?), finished_at = ?, duration = ?
                   WHERE run_id = ? AND task_id = ?""",
                (status, entry["exit_code"], attempt, None if status == "retrying" else entry["at"],
                 entry.get("duration"), *key),
            )

    def set_content_hash(self, run_id, digest):
        self.conn.execute("UPDATE runs SET content_hash = ? WHERE run_id = ?", (digest, run_id))

    def purge(self, keep=None, older_than=None, everything=False):
        """Delete runs and their logs: beyond the newest `keep` per flow, finished more than
        `older_than` seconds ago, or all. Runs still going are never touched. Returns the ids removed.
        """
        alive = self._alive()
        rows = self.conn.execute("SELECT * FROM runs ORDER BY created_at DESC, run_id DESC").fetchall()
        doomed, seen = [], {}
        cutoff = time.time() - older_than if older_than is not None else None
        for row in rows:
            if alive(row):
                continue
            rank = seen[row["flow_file"]] = seen.get(row["flow_file"], 0) + 1
            if everything or (keep is not None and rank > keep) or (
                cutoff is not None and (row["finished_at"] or row["created_at"]) < cutoff
            ):
                doomed.append(row["run_id"])
        return self._delete(self.conn, doomed)

    def apply_retention(self, flow_file, conn=None):
        """Keep the newest `self.keep` runs of `flow_file` (0: keep all); older finished ones go."""
        if not self.keep or not flow_file:
            return []
        conn = conn or self.conn
        alive = self._alive()
        rows = conn.execute("SELECT * FROM runs WHERE flow_file = ? ORDER BY created_at DESC, run_id DESC",
                            (flow_file,)).fetchall()
        doomed = [row["run_id"] for row in rows[self.keep:] if not alive(row)]
        return self._delete(conn, doomed)

    def _delete(self, conn, run_ids):
        """Delete `run_ids` but those being resumed (their resume lock is held: the resumer has not
        served a socket yet, and its row still reads as ended); returns the ids deleted. Each lock is
        held until its run is gone, so a resume starting meanwhile is refused."""
        locks, deleted = [], []
        try:
            for rid in run_ids:
                lock = _lock_for_delete(self.state_dir, rid)
                if lock is not None:
                    locks.append(lock)
                    deleted.append(rid)
            if not deleted:
                return []
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("approvals", "attempts", "tasks", "runs"):
                    conn.executemany(f"DELETE FROM {table} WHERE run_id = ?", [(rid,) for rid in deleted])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            import shutil

            from .orphans import terminate_run_processes

            for rid in deleted:
                if os.path.exists(socket_path(self.state_dir, rid)):
                    # A dead runner's socket is how its processes are found again: end them first.
                    terminate_run_processes(self.state_dir, rid)
                shutil.rmtree(run_dir(self.state_dir, rid), ignore_errors=True)
                try:
                    os.unlink(socket_path(self.state_dir, rid))
                except FileNotFoundError:
                    pass
            return deleted
        finally:
            for lock in locks:
                if lock >= 0:
                    os.close(lock)


def _lock_for_delete(state_dir, run_id):
    """The run's resume lock, taken (a descriptor; -1 when the run has no directory to hold one), or
    None when a `flowtui resume` holds it (see resume._hold_resume_lock)."""
    import fcntl

    try:
        fd = os.open(os.path.join(run_dir(state_dir, run_id), "resume.lock"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _tree_order(rows):
    """Task rows depth first, each group's children in position order: definition order, with the
    nodes a runtime added (positioned after the whole flow) under their group. A row whose parent
    is not recorded counts as a top-level one."""
    ids = {row["task_id"] for row in rows}
    children = {}
    for row in sorted(rows, key=lambda r: (r["position"] is None, r["position"] or 0)):
        children.setdefault(row["parent"] if row["parent"] in ids else None, []).append(row)
    out, stack = [], list(reversed(children.get(None, [])))
    while stack:
        row = stack.pop()
        out.append(row)
        stack.extend(reversed(children.get(row["task_id"], [])))
    return out


def _pid_alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
