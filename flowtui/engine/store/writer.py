"""Records a run in the store as it happens, from a background thread.

The bus callback only appends events to a list, handed to the thread every `_HAND_OVER` seconds,
so a slow disk never holds up task output and the thread wakes (and takes the GIL) a few times a
second rather than once per event. The thread applies each batch in one transaction and appends
task output to the per-task log files.
"""

import json
import os
import queue
import threading
import time
from json.encoder import encode_basestring_ascii as _q

from ..sha import file_sha256
from ..statedir import private_subdir
from ..who import current_user
from .logfiles import JOURNAL, RUNS, log_name, run_dir
from .taskrows import TASK_EVENTS, TaskRows

_HAND_OVER = 0.05  # seconds task events wait on the engine thread before going to the store thread
# What another terminal asks about right away (`flowtui runs`, `show`): handed over at once.
_AT_ONCE = frozenset({"run_started", "run_paused", "run_resumed", "run_stopping", "run_reopened", "run_finished",
                      "approval_requested", "approval_granted", "approval_rejected", "nodes_added"})
# Log files kept open at once: one per task that ever printed ran out of descriptors (EMFILE at
# ~1000 such tasks with Linux's usual limit, ~250 on macOS) and stopped the recording.
_OPEN_LOGS = 32
_CHECKPOINT_EVERY = 0.2  # seconds: a crash may lose the runtime state of the last 0.2 s
_STOP = object()
ACTIVE_RUN_STATUSES = ("pending", "running", "paused")


def _n(value):
    """A journal number: an int, a float or None (JSON null)."""
    return "null" if value is None else repr(value)


class StoreWriter:
    """Subscribes to `run.bus`; `close()` flushes everything queued and waits for the thread.

    `options` are the load options (format, --set values, flow/trigger choice) needed to rebuild
    the same flow on resume.
    """

    def __init__(self, run, store, options=None):
        self.run, self.store = run, store
        self.state_dir = store.state_dir
        self.dir = run_dir(self.state_dir, run.run_id)
        private_subdir(self.state_dir, RUNS)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self._queue = queue.SimpleQueue()
        self._pending = []  # events and checkpoints not yet handed to the thread
        self._checkpoint_due = False
        self._journal_lines = []
        self._journal_due = False
        self.error = None  # why recording stopped (the run itself is unaffected)
        self._journal_fd = None
        self._logs = {}
        self._attempt_base = {}  # see TaskRows; the store thread's
        flow = run.flow
        self.flow_file = os.path.abspath(flow.file) if flow.file else None
        header = {
            "run_id": run.run_id, "flow_file": self.flow_file,
            "flow_name": flow.name, "format": flow.format, "started_by": run.started_by or current_user(),
            "pid": os.getpid(), "host": os.uname().nodename, "created_at": time.time(),
            "options": _jsonable(options or {}),
        }
        header["nodes"] = [
            (nid, node.name, node.parent, run.order[nid], node.is_task, run.states[nid].status,
             run.states[nid].attempt, run.states[nid].iteration)
            for nid, node in run.nodes.items()
        ]
        # The header, with the tree, goes to the journal at once: a runner killed before the
        # thread's first commit is still known, with every task in its group (RunStore.mark_interrupted).
        self._journal(json.dumps({"run": header}), now=True)
        self._queue.put([("init", header)])
        run.bus.subscribe(self._on_event)
        run.spawn_watchers.append(self._on_spawn)
        self._thread = threading.Thread(target=self._work, name="flowtui-store", daemon=True)
        self._thread.start()

    # -- the engine thread: never blocks ---------------------------------------------------------
    def _on_event(self, event):
        kind = event.type
        if kind == "task_partial":  # a viewer's preview: the line is stored once it ends
            return
        if self.error is None:
            self._enqueue(event)
            if kind in _AT_ONCE:
                self._hand_over()
        if kind == "nodes_added":  # their group, for a journal replay
            self._journal(json.dumps({"added": [[n["id"], n["name"], n["parent"], n["is_task"]] for n in event.nodes]}))
        elif kind == "task_started":  # on disk before its process starts, with what ended before it
            self._journal(f'{{"task": {_q(event.task)}, "status": "running", "attempt": {event.attempt}, '
                          f'"iteration": {_n(event.iteration)}, "at": {event.ts!r}}}', now=True)
        elif kind == "task_retrying":
            self._journal(f'{{"task": {_q(event.task)}, "status": "retrying", "exit_code": {_n(event.exit_code)}, '
                          f'"attempt": {event.attempt}, "at": {event.ts!r}}}')
        elif kind == "task_finished":
            self._journal(f'{{"task": {_q(event.task)}, "status": {_q(event.status)}, "exit_code": {_n(event.exit_code)}, '
                          f'"attempt": {event.attempt}, "iteration": {_n(event.iteration)}, "at": {event.ts!r}, '
                          f'"duration": {_n(event.duration)}}}')
        if kind == "run_finished":
            self._checkpoint()
        elif kind == "task_finished" and not self._checkpoint_due:
            self._checkpoint_due = True
            # After the runtime's after_finish hook has seen this outcome; at most every
            # _CHECKPOINT_EVERY seconds, since a checkpoint covers every node of the run.
            self.run.reactor.call_later(_CHECKPOINT_EVERY, self._checkpoint)

    def _checkpoint(self):
        self._checkpoint_due = False
        data = self.run.runtime.checkpoint()
        if data:
            self._enqueue(("checkpoint", json.dumps(data)))

    def _enqueue(self, item):
        pending = self._pending
        pending.append(item)
        if len(pending) == 1:
            self.run.reactor.call_later(_HAND_OVER, self._hand_over)

    def _hand_over(self):
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []

    def _on_spawn(self, task_id, pgid):
        self._journal(f'{{"pgid": {pgid}, "of": {_q(task_id)}}}', now=True)

    def _journal(self, line, now=False):
        """Appended on this thread, not queued: what a runner killed a moment later must not lose.

        Lines are written together at the end of the loop turn, and at once when a task starts
        (with whatever ended before it: a process that runs may kill the runner at once, and a
        resume must not run again what succeeded) and when a process was started (its group is on
        disk before the engine goes on, for the orphans of a runner killed later).
        """
        self._journal_lines.append(line)
        if now:
            self._flush_journal()
        elif not self._journal_due:
            self._journal_due = True
            self.run.reactor.call_soon(self._flush_journal)

    def _flush_journal(self):
        self._journal_due = False
        if not self._journal_lines:
            return
        if self._journal_fd is None:
            self._journal_fd = os.open(os.path.join(self.dir, JOURNAL), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._journal_fd, ("\n".join(self._journal_lines) + "\n").encode())
        self._journal_lines.clear()

    def close(self):
        self.run.bus.unsubscribe(self._on_event)
        if self._on_spawn in self.run.spawn_watchers:
            self.run.spawn_watchers.remove(self._on_spawn)
        self._flush_journal()
        self._hand_over()
        self._queue.put(_STOP)
        self._thread.join()
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None

    # -- the writer thread -----------------------------------------------------------------------
    def _work(self):
        conn = None
        try:
            from .schema import connect

            conn = connect(self.state_dir)
            while True:
                batch = self._queue.get()
                if batch is _STOP:
                    break
                added = [item for item in batch if getattr(item, "type", None) == "nodes_added"]
                if added:  # tasks added at run time are known before their output is on disk, so
                    self._commit(conn, added)  # `logs --follow` meets them in definition order
                    batch = [item for item in batch if getattr(item, "type", None) != "nodes_added"]
                self._write_logs(batch)  # output first: a task the store calls finished has its whole log
                self._commit(conn, batch)
            if self.run.finished:
                self.store.apply_retention(self.flow_file, conn=conn)
        except Exception as exc:  # disk full, store locked for too long: the run goes on unrecorded
            self.error = f"the run store in {self.state_dir} stopped recording: {exc}"
        finally:
            for handle in self._logs.values():
                handle.close()
            if conn is not None:
                conn.close()

    def _commit(self, conn, batch):
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = TaskRows(self.run.run_id, self._attempt_base)
            for item in batch:
                if getattr(item, "type", None) in TASK_EVENTS:
                    rows.add(item)
                else:  # anything else is applied in order, after the task events before it
                    rows.write(conn)
                    self._apply(conn, item)
            rows.write(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write_logs(self, batch):
        touched = set()
        for event in batch:
            if getattr(event, "type", None) != "task_output":
                continue
            handle = self._logs.pop(event.task, None)
            if handle is None:
                if len(self._logs) >= _OPEN_LOGS:  # the least recently written one: most likely done
                    oldest = next(iter(self._logs))
                    self._logs.pop(oldest).close()
                path = os.path.join(self.dir, log_name(event.task))
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                handle = open(fd, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
            self._logs[event.task] = handle  # last written, last in order
            prefix = f"[{event.hook}] " if event.hook else ""
            handle.write(prefix + event.text.replace("\n", "\n" + prefix) + "\n" if prefix else event.text + "\n")
            touched.add(handle)
        for handle in touched:
            if not handle.closed:  # one closed to make room was flushed by closing
                handle.flush()

    def _apply(self, conn, item):
        if isinstance(item, tuple):
            kind, data = item
            if kind == "init":
                _init(conn, data)
            else:
                conn.execute("UPDATE runs SET checkpoint = ? WHERE run_id = ?", (data, self.run.run_id))
            return
        handler = _HANDLERS.get(item.type)
        if handler is not None:
            handler(conn, self.run.run_id, item)
        if item.type == "nodes_added":  # a node created again numbers its attempts from 1 again
            for node in item.nodes:
                (base,) = conn.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE run_id = ? AND task_id = ?",
                                       (self.run.run_id, node["id"])).fetchone()
                self._attempt_base[node["id"]] = base


def _init(conn, d):
    conn.execute(
        """INSERT INTO runs (run_id, flow_file, flow_name, format, status, created_at, started_by, pid, host, options)
           VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)
           ON CONFLICT (run_id) DO UPDATE SET status = 'pending', exit_code = NULL, finished_at = NULL,
               pid = excluded.pid, host = excluded.host, resumes = resumes + 1""",
        (d["run_id"], d["flow_file"], d["flow_name"], d["format"], d["created_at"], d["started_by"], d["pid"],
         d["host"], _dumps(d["options"])),
    )
    if d["flow_file"] and os.path.exists(d["flow_file"]):
        conn.execute("UPDATE runs SET content_hash = ? WHERE run_id = ? AND content_hash IS NULL",
                     (file_sha256(d["flow_file"]), d["run_id"]))
    _insert_nodes(conn, d["run_id"], d["nodes"])


def _insert_nodes(conn, run_id, nodes):
    conn.executemany(
        """INSERT INTO tasks (run_id, task_id, name, parent, position, is_task, status, attempts, iteration)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, task_id) DO UPDATE SET name = excluded.name, parent = excluded.parent,
               position = excluded.position, is_task = excluded.is_task, status = excluded.status""",
        [(run_id, *node) for node in nodes],
    )


def _run_started(conn, run_id, e):
    conn.execute("UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?) WHERE run_id = ?",
                 (e.ts, run_id))


def _run_status(status):
    def handler(conn, run_id, e):
        conn.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))
    return handler


def _run_reopened(conn, run_id, e):
    conn.execute("UPDATE runs SET status = 'running', exit_code = NULL, finished_at = NULL WHERE run_id = ?",
                 (run_id,))


def _run_finished(conn, run_id, e):
    conn.execute("UPDATE runs SET status = ?, exit_code = ?, finished_at = ? WHERE run_id = ?",
                 (e.status, e.exit_code, e.ts, run_id))


def _group_started(conn, run_id, e):
    conn.execute("UPDATE tasks SET status = 'running', started_at = ?, finished_at = NULL, iteration = ? "
                 "WHERE run_id = ? AND task_id = ?", (e.ts, e.iteration, run_id, e.task))


def _group_finished(conn, run_id, e):
    conn.execute(
        "UPDATE tasks SET status = ?, finished_at = ?, duration = ? - started_at WHERE run_id = ? AND task_id = ?",
        (e.status, e.ts, e.ts, run_id, e.task),
    )


def _approval(decision):
    def handler(conn, run_id, e):
        values = getattr(e, "values", None)
        conn.execute(
            "INSERT INTO approvals (run_id, task_id, decision, decided_by, decided_at, reason, answers) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, e.task, decision, e.by, e.ts, e.reason, _dumps(values) if values else None),
        )
        if values:
            conn.execute("UPDATE tasks SET answers = ? WHERE run_id = ? AND task_id = ?", (_dumps(values), run_id, e.task))
    return handler


def _nodes_added(conn, run_id, e):
    position = conn.execute("SELECT COALESCE(MAX(position), 0) FROM tasks WHERE run_id = ?", (run_id,)).fetchone()[0]
    _insert_nodes(conn, run_id, [
        (n["id"], n["name"], n["parent"], position + 1 + i, n["is_task"], "pending", 0, 1) for i, n in enumerate(e.nodes)
    ])


_HANDLERS = {
    "run_started": _run_started,
    "run_paused": _run_status("paused"),
    "run_resumed": _run_status("running"),
    "run_reopened": _run_reopened,
    "run_finished": _run_finished,
    "group_started": _group_started,
    "group_finished": _group_finished,
    "approval_granted": _approval("approved"),
    "approval_rejected": _approval("rejected"),
    "nodes_added": _nodes_added,
}


def _dumps(value):
    return json.dumps(value, sort_keys=True)


def _jsonable(options) -> dict:
    """The load options that can be stored as JSON (sets, format, flow, trigger…)."""
    out = {}
    for key, value in dict(options).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out
