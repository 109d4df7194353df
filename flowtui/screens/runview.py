"""The viewer's picture of a run: one snapshot, then events applied in order.

Free of Textual so it can be tested alone. Replaying an event that the snapshot already reflects
is harmless (statuses converge to the last event), which lets a source hand out a snapshot and
every event since it subscribed without a sequence number. Output is kept per task in a bounded
buffer: the UI never holds more than `max_lines` lines of a task (the run log has the rest).
Group progress counts are kept incrementally so a 10 000-task flow costs O(depth) per change.
"""

from collections import deque

from flowtui.engine.model import ACTIVE, FAILURES, TERMINAL

RUN_ACTIVE = frozenset({"pending", "running", "paused"})
EXIT_CODES = {"succeeded": 0, "failed": 1, "stopped": 3, "cancelled": 3}

# Kinds of lines in a task log besides the process streams.
META = "meta"  # lines the viewer adds: attempt separators, hook markers, outcomes


class TaskLog:
    """The tail of one task's output: (stream, hook, text) triples, at most `max_lines`."""

    __slots__ = ("lines", "dropped", "version", "pending")

    def __init__(self, max_lines):
        self.lines = deque(maxlen=max_lines)
        self.dropped = 0  # lines that fell off the front
        self.version = 0  # bumped on every change; views compare it
        self.pending = None  # (stream, hook, text) of a line begun and not ended: shown after the lines

    def begin(self, stream, hook, text):
        self.pending = (stream, hook, text)
        self.version += 1

    def end_pending(self, stream, hook):
        """A complete line of `stream` ends the unfinished line of that stream only: a prompt on
        stderr stays shown while stdout prints (and viewer notes never end it)."""
        if self.pending is not None and self.pending[0] == stream and self.pending[1] == hook:
            self.pending = None

    def add(self, stream, hook, texts):
        self.end_pending(stream, hook)
        lines = self.lines
        room = lines.maxlen
        overflow = len(lines) + len(texts) - room
        if overflow > 0:
            self.dropped += overflow
        if len(texts) > room:
            texts = texts[-room:]
        lines.extend((stream, hook, text) for text in texts)
        self.version += 1

    def __len__(self):
        return len(self.lines)


class RunView:
    def __init__(self, snapshot, max_lines=10000):
        self.max_lines = max_lines
        self.run_id = snapshot.get("run_id")
        self.status = snapshot.get("status", "pending")
        self.exit_code = snapshot.get("exit_code")
        self.started_at = snapshot.get("started_at")
        self.finished_at = snapshot.get("finished_at")
        self.paused = bool(snapshot.get("paused"))
        self.stopping = None
        flow = snapshot.get("flow") or {}
        self.flow_name = flow.get("name") or ""
        self.flow_format = flow.get("format") or ""
        self.flow_file = flow.get("file")
        self.roots = list(snapshot.get("roots", ()))
        self.nodes = {}  # id -> node dict (Run.snapshot() shape), in tree order
        self.children = {}
        self.states = {}
        self.counts = {}  # group id (None: the whole flow) -> {status: number of tasks below it}
        self.has_estimates = False
        self.logs = {}
        self.notices = []  # (level, message, task) for the app to show
        for node in snapshot.get("nodes", ()):
            self._add_node(node)
        for nid, state in (snapshot.get("states") or {}).items():
            if nid in self.states:
                self._set(nid, state.get("status", "pending"))
                current = self.states[nid]
                current.update({k: v for k, v in state.items() if k != "status"})
                current["duration"] = _duration(state.get("started_at"), state.get("finished_at"))
                if current.get("attempt"):  # a snapshot does not say: one run per earlier pass
                    current["first_attempt"] = min(current["attempt"], current.get("iteration") or 1)
        self.approvals = {}  # task id -> {"prompt", "fields"}; insertion order is request order
        for nid in snapshot.get("approvals", ()):
            self.approvals[nid] = self._approval_of(nid)
        self.last_started = None  # the task that started most recently (what follow shows)

    # -- structure -------------------------------------------------------------------------------
    def _add_node(self, node):
        nid = node["id"]
        if nid in self.nodes:
            return False
        self.nodes[nid] = node
        self.children[nid] = list(node.get("children", ()))
        self.states[nid] = {"status": "pending", "attempt": 0, "iteration": 1}
        if not node.get("is_task", True):
            self.counts.setdefault(nid, {})
        if node.get("is_task", True):
            self._count(nid, None, "pending")
            self.has_estimates = self.has_estimates or bool(node.get("estimate"))
        return True

    def learn_estimates(self, durations):
        """Durations learned from past runs ({task id: seconds}) stand in where the file gives none."""
        learned = False
        for nid, seconds in durations.items():
            node = self.nodes.get(nid)
            if node is not None and node.get("is_task", True) and not node.get("estimate") and seconds:
                self.nodes[nid] = dict(node, estimate=seconds, estimate_learned=True)
                learned = True
        self.has_estimates = self.has_estimates or learned
        return learned

    def ancestors(self, nid):
        parent = self.nodes[nid].get("parent") if nid in self.nodes else None
        while parent is not None and parent in self.nodes:
            yield parent
            parent = self.nodes[parent].get("parent")

    def _count(self, nid, old, new):
        for group in (None, *self.ancestors(nid)):
            counts = self.counts.setdefault(group, {})
            if old is not None:
                counts[old] = counts.get(old, 1) - 1
            counts[new] = counts.get(new, 0) + 1

    def is_task(self, nid):
        return self.nodes[nid].get("is_task", True)

    def tasks(self):
        return [nid for nid in self.nodes if self.is_task(nid)]

    def log(self, nid) -> TaskLog:
        log = self.logs.get(nid)
        if log is None:
            log = self.logs[nid] = TaskLog(self.max_lines)
        return log

    def _approval_of(self, nid, prompt=None, fields=None):
        spec = (self.nodes.get(nid) or {}).get("approval") or {}
        return {
            "prompt": prompt or spec.get("prompt") or f"Run {nid}?",
            "fields": list(fields if fields is not None else spec.get("fields", ())),
        }

    # -- state -----------------------------------------------------------------------------------
    def _set(self, nid, status):
        state = self.states.get(nid)
        if state is None:
            return None
        old = state["status"]
        if old != status:
            state["status"] = status
            if self.is_task(nid):
                self._count(nid, old, status)
        return state

    @property
    def active(self) -> bool:
        return self.status in RUN_ACTIVE

    @property
    def finished(self) -> bool:
        return not self.active

    def final_exit_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return EXIT_CODES.get(self.status, 1)

    def totals(self):
        """{status: number of tasks} over the whole flow."""
        return {status: n for status, n in self.counts.get(None, {}).items() if n}

    def group_status(self, gid) -> str:
        """A group's own status, or what its children are doing while it is open."""
        status = self.states[gid]["status"]
        if status in TERMINAL:
            return status
        counts = self.counts.get(gid, {})
        if counts.get("awaiting_approval"):
            return "awaiting_approval"
        if counts.get("running") or counts.get("retrying"):
            return "running"
        if status == "running" and self.paused:  # open, but nothing below it runs while paused
            return "paused"
        return status

    def group_progress(self, gid):
        """(finished tasks, all tasks, failed tasks) below `gid`."""
        counts = self.counts.get(gid, {})
        done = sum(n for s, n in counts.items() if s in TERMINAL)
        return done, sum(counts.values()), sum(n for s, n in counts.items() if s in FAILURES)

    def tries(self, nid, attempt=None) -> int:
        """Which attempt of its current loop pass `attempt` (default: the last) is, 0 before any.

        The engine counts every run of a task as an attempt, loop passes included; people count
        the runs of one pass (retries, reruns) as attempts and the passes as iterations.
        """
        state = self.states[nid]
        attempt = attempt if attempt is not None else state.get("attempt") or 0
        return attempt - state.get("first_attempt", attempt) + 1 if attempt else 0

    def first_failure(self):
        for nid in self.nodes:
            if self.is_task(nid) and self.states[nid]["status"] in FAILURES:
                return nid
        return None

    def running_tasks(self):
        return [nid for nid in self.nodes if self.is_task(nid) and self.states[nid]["status"] in ACTIVE]

    def lose(self, now):
        """The runner went away (an attached viewer's event stream ended before the run finished):
        stop presenting a live run. The run is `unreachable`; what its open tasks and groups were
        doing is `unknown` from now on, their clocks stopped at `now`."""
        if not self.active:
            return set()
        for nid, state in self.states.items():
            status = state["status"]
            if status in ("running", "retrying", "awaiting_approval"):
                self._set(nid, "unknown")
                if state.get("started_at") is not None and state.get("duration") is None:
                    state["duration"] = _duration(state["started_at"], now)
        self.status = "unreachable"
        self.paused = False
        self.stopping = None
        self.finished_at = now
        self.exit_code = 1
        self.approvals.clear()
        return {"header", "tree", "finished", "approvals"}

    # -- events ----------------------------------------------------------------------------------
    def apply(self, events):
        """Apply events in order; returns the set of things that changed for the widgets.

        Keys: "tree", "header", "structure", "approvals", "finished", "reopened", and
        ("log", task id) for each task with new lines.
        """
        changed = set()
        keep = self._output_budget(events)
        for index, event in enumerate(events):
            if event.type == "task_output":
                lines = event.lines
                if index in keep:
                    take = keep[index]
                    log = self.log(event.task)
                    log.dropped += len(lines) - take
                    log.end_pending(event.stream, event.hook)
                    if take:
                        log.add(event.stream, event.hook, lines[-take:])
                    changed.add(("log", event.task))
                elif lines:
                    self.log(event.task).add(event.stream, event.hook, lines)
                    changed.add(("log", event.task))
                continue
            handler = getattr(self, "_on_" + event.type, None)
            if handler is not None:
                handler(event, changed)
        return changed

    def _output_budget(self, events):
        """{event index: lines to keep} for output that the bounded buffers would drop anyway.

        Walking back from the newest event, each task keeps at most `max_lines`: a flood of
        output then costs one pass over the events, not one append per line.
        """
        budget, trimmed = {}, {}
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if event.type != "task_output" or not event.lines:
                continue
            left = budget.get(event.task, self.max_lines)
            count = len(event.lines)
            if count > left:
                trimmed[index] = left
            budget[event.task] = max(0, left - count)
        return trimmed

    def _on_task_partial(self, event, changed):
        self.log(event.task).begin(event.stream, event.hook, event.text)
        changed.add(("log", event.task))

    def _meta(self, nid, text, changed):
        self.log(nid).add(META, None, [text])
        changed.add(("log", nid))

    def _on_run_started(self, event, changed):
        self.run_id = event.run_id or self.run_id
        if self.status == "pending":
            self.status = "running"
        if self.started_at is None:
            self.started_at = event.ts
        changed.add("header")

    def _on_run_paused(self, event, changed):
        self.paused = True
        if self.active:
            self.status = "paused"
        changed.add("header")

    def _on_run_resumed(self, event, changed):
        self.paused = False
        if self.active:
            self.status = "running"
        changed.add("header")

    def _on_run_stopping(self, event, changed):
        self.stopping = event.mode
        changed.add("header")

    def _on_run_reopened(self, event, changed):
        self.status = "paused" if self.paused else "running"
        self.exit_code = self.finished_at = None
        self.stopping = None
        changed.update(("header", "reopened"))

    def _on_run_finished(self, event, changed):
        self.status = event.status
        self.exit_code = event.exit_code
        self.finished_at = event.ts
        self.stopping = None
        changed.update(("header", "finished", "tree"))

    def _on_task_status(self, event, changed):
        state = self._set(event.task, event.status)
        if state is None:
            return
        if event.status == "pending":  # a reset: rerun or a new loop iteration
            state.update(exit_code=None, finished_at=None, duration=None, error=None)
            self.approvals.pop(event.task, None)
            changed.add("approvals")
        changed.update(("tree", "header"))

    def _on_task_started(self, event, changed):
        state = self._set(event.task, "running")
        if state is None:
            return
        iteration = event.iteration or 1
        if iteration != state["iteration"] or event.attempt < state.get("first_attempt", event.attempt + 1):
            state["first_attempt"] = event.attempt  # the first run of a new pass
        log = self.log(event.task)
        if len(log) or log.dropped:
            tries = self.tries(event.task, event.attempt)
            parts = [f"iteration {iteration}"] if iteration > 1 else []
            if tries > 1 or not parts:
                parts.append(f"attempt {tries}")
            self._meta(event.task, f"── {', '.join(parts)} ──", changed)
        state.update(
            attempt=event.attempt, iteration=iteration, started_at=event.ts,
            finished_at=None, exit_code=None, duration=None, error=None,
        )
        self.last_started = event.task
        changed.update(("tree", "header", "started"))

    def _on_hook_started(self, event, changed):
        self._meta(event.task, f"▶ {event.hook} hook", changed)

    def _on_hook_finished(self, event, changed):
        self._meta(event.task, f"◀ {event.hook} hook exited {event.exit_code}", changed)

    def _on_task_retrying(self, event, changed):
        state = self._set(event.task, "retrying")
        if state is None:
            return
        state["exit_code"] = event.exit_code
        self._meta(event.task, f"attempt {self.tries(event.task, event.attempt)} exited {event.exit_code}; retrying in {event.delay:g}s", changed)
        changed.add("tree")

    def _on_task_finished(self, event, changed):
        state = self._set(event.task, event.status)
        if state is None:
            return
        state.update(
            exit_code=event.exit_code, finished_at=event.ts, error=event.error,
            attempt=event.attempt if event.attempt is not None else state.get("attempt", 0),
            iteration=event.iteration or state.get("iteration", 1),
            duration=event.duration if event.duration is not None else _duration(state.get("started_at"), event.ts),
        )
        if self.approvals.pop(event.task, None) is not None:
            changed.add("approvals")
        if event.task in self.logs:  # its processes are gone: no line of theirs is still being drawn
            self.logs[event.task].pending = None
        if event.task in self.logs or event.status in FAILURES:
            text = event.status.replace("_", " ")
            if event.exit_code is not None:
                text += f" (exit {event.exit_code})"
            if event.error:
                text += f": {event.error}"
            self._meta(event.task, f"■ {text}", changed)
        changed.update(("tree", "header"))

    def _on_group_started(self, event, changed):
        state = self._set(event.task, "running")
        if state is not None:
            state.update(started_at=event.ts, finished_at=None, iteration=event.iteration or 1)
            changed.add("tree")

    def _on_group_finished(self, event, changed):
        state = self._set(event.task, event.status)
        if state is not None:
            state.update(finished_at=event.ts, duration=_duration(state.get("started_at"), event.ts))
            changed.add("tree")

    def _on_approval_requested(self, event, changed):
        if event.task not in self.nodes:
            return
        self._set(event.task, "awaiting_approval")
        self.approvals[event.task] = self._approval_of(event.task, event.prompt, event.fields)
        changed.update(("approvals", "tree", "approval_requested"))

    def _on_approval_granted(self, event, changed):
        self.approvals.pop(event.task, None)
        who = f" by {event.by}" if event.by else ""
        self._meta(event.task, f"✔ approved{who}" + (f": {event.reason}" if event.reason else ""), changed)
        changed.update(("approvals", "tree"))

    def _on_approval_rejected(self, event, changed):
        self.approvals.pop(event.task, None)
        who = f" by {event.by}" if event.by else ""
        self._meta(event.task, f"✘ rejected{who}" + (f": {event.reason}" if event.reason else ""), changed)
        changed.update(("approvals", "tree"))

    def _on_nodes_added(self, event, changed):
        added = False
        for node in event.nodes or ():
            added = self._add_node(node) or added
        parent = event.parent
        if parent in self.children:
            known = set(self.children[parent])
            for node in event.nodes or ():
                if node.get("parent") == parent and node["id"] not in known:
                    self.children[parent].append(node["id"])
                    added = True
        if added:
            changed.update(("structure", "tree", "header"))

    def _on_notice(self, event, changed):
        if event.task and event.task in self.nodes:
            self._meta(event.task, f"! {event.message}", changed)
        else:
            self.notices.append((event.level, event.message, event.task))
            changed.add("notice")


def _duration(start, end):
    if start is None or end is None:
        return None
    return round(end - start, 3)
