"""One run of a flow: the scheduler, its live graph, and the operations the controller exposes.

Everything here runs on the reactor's thread. The graph starts as the definition and can change
while running: `reset()` re-arms nodes (Fluxor `goto`, reruns) and `add_nodes()` grows a group
(templates, fan-out, sub-workflows).
"""

import heapq
import os
import time
from collections import deque

from . import events as ev
from .executor import CORE_ACTIONS, TaskExecution
from .model import (
    ACTIVE,
    AWAITING_APPROVAL,
    CANCELLED,
    COND_ERRORED,
    COND_EXIT,
    COND_FAILED,
    COND_FINISHED,
    COND_OK,
    COND_SUCCEEDED,
    FAILED,
    FAILURE_CONDITIONS,
    FAILURES,
    NOT_RUN,
    PENDING,
    QUEUED,
    REJECTED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TERMINAL,
    TIMED_OUT,
    WAITING,
)
from .reactor import Reactor
from .state import NodeState

AUTO_PAUSE = "autoPause before "  # what a pause a runtime asks for before a task is by, then the task id

# Run statuses
RUN_PENDING, RUN_RUNNING, RUN_PAUSED = "pending", "running", "paused"
RUN_SUCCEEDED, RUN_FAILED, RUN_STOPPED, RUN_CANCELLED = "succeeded", "failed", "stopped", "cancelled"
EXIT_CODES = {RUN_SUCCEEDED: 0, RUN_FAILED: 1, RUN_STOPPED: 3, RUN_CANCELLED: 3}
EXIT_INTERRUPTED = 130
_WIDE = 16  # joins with more dependencies than this are checked incrementally
_UNREACHED = frozenset({PENDING, WAITING, SKIPPED, NOT_RUN})  # a dependent the end of an upstream did not reach


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(2).hex()


def usable_cpus():
    """The CPUs this process may run on, as `nproc` counts them: a CI container pinned to two of a
    host's 64 (docker --cpuset-cpus, taskset) gets 2, not 64."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity (macOS)
        return os.cpu_count() or 1


class Runtime:
    """Format-specific behaviour plugged into a run (Fluxor expressions, Floe events…).

    The default does nothing: a pure DAG of shell tasks.
    """

    actions: dict = {}

    def attach(self, run):
        self.run = run

    def before_start(self, node, state):
        """Return SKIPPED to skip the node (a condition), "pause" to pause the run first, or None."""
        return None

    def after_finish(self, node, state):
        """Called once a node reached a terminal state; may reset or add nodes.

        Return (status, error) to override the outcome (e.g. a loop guard), else None.
        """
        return None

    def report(self) -> dict:
        """Extra top-level fields for the JSON report."""
        return {}

    def checkpoint(self) -> dict:
        """JSON-able runtime state (Fluxor session, Floe event history) for resume."""
        return {}

    def restore(self, data: dict):
        """Reload what checkpoint() returned, before a resumed run starts."""


class Run:
    def __init__(
        self, flow, runtime=None, *, reactor=None, bus=None, run_id=None, max_parallel=None,
        ask=(), pty=(), kill_grace=3.0, max_iterations=10000, env=None, by=None,
    ):
        self.flow = flow
        self.runtime = runtime or Runtime()
        self.reactor = reactor or Reactor()
        self.bus = bus or ev.Bus()
        self.run_id = run_id or new_run_id()
        self.max_parallel = max(1, max_parallel or usable_cpus())
        self.ask = tuple(ask)
        self.pty = tuple(pty)  # --pty: tasks run in a pseudo-terminal
        self.kill_grace = kill_grace
        self.max_iterations = max_iterations
        self.env = dict(env or {})
        self.started_by = by
        self._base_env = None
        self.status = RUN_PENDING
        self.exit_code = None
        self.started_at = self.finished_at = None
        self.halt = None  # None | stop | cancel | fatal | end
        self.halted_by = None
        self.earlier_halt = None  # the halt a rerun reopened the run from: what it left not run still counts
        self.interrupted = False  # SIGINT: exit 130
        self.hurry = False  # kill_all: processes killed, hooks skipped
        self.outcome = None  # an explicit verdict (Floe `end`): True good / False bad
        self.paused = False
        self.finished = False

        self.nodes = dict(flow.nodes)
        self.children = {nid: list(n.children) for nid, n in self.nodes.items()}
        self.states = {nid: NodeState() for nid in self.nodes}
        self.order = {nid: i for i, nid in enumerate(self.nodes)}
        self.dependents = {}
        for node in self.nodes.values():
            for dep in node.deps:
                self.dependents.setdefault(dep.node, []).append(node.id)
        self.executions = {}  # task id -> TaskExecution
        self._ended = deque()  # (id, node) whose end its dependents and group have yet to learn
        self._telling = False
        self._opening = None  # while groups start: the children each has yet to activate (a stack)
        # Attempts cancelled by a rerun, still ending (teardown included): the next attempt of the
        # task waits for them, so attempts never overlap and each one's end is recorded.
        self.winding_down = {}  # task id -> TaskExecution
        self.approvals = {}  # task id -> requested at (insertion order = oldest first)
        self.skipping = {}  # task id -> who skipped it before its turn: skipped once it comes
        self.forced = set()  # rerun targets: start once their upstream has ended, whatever its outcome
        self.demanded = set()  # on-demand nodes a dependent asked for
        self._demands = deque()  # of those, the ones still to activate
        self._draining = False
        self._dep_index = {}  # wide joins: node id -> {upstream id: [Dep]}
        self.spawn_watchers = []  # callback(task_id, pid) per process started (the store records pgids)
        # True when no other thread of this process resolves relative paths (headless runs): a task
        # with a working directory then starts through posix_spawn, a chdir of the runner around it.
        self.owns_cwd = False
        # True when nobody can answer a task's prompt (a headless run with no terminal and no wait
        # for another one): tasks read /dev/null, as under make or a CI step, rather than hang.
        self.stdin_null = False
        self._ready = []
        self._actions = dict(CORE_ACTIONS)
        self._actions.update(self.runtime.actions)
        self.runtime.attach(self)

    # -- plumbing ------------------------------------------------------------------------------
    def emit(self, event):
        self.bus.emit(event)

    def action_impl(self, kind):
        return self._actions.get(kind)

    def task_env(self, node) -> dict:
        base = self._base_env
        if base is None:  # built once: copying os.environ per task is a measurable cost
            base = self._base_env = {**os.environ, **self.flow.env, **self.env, "FLOWTUI_RUN_ID": self.run_id}
            if self.flow.file:
                base["FLOWTUI_FLOW_FILE"] = os.path.abspath(self.flow.file)
        env = dict(base)
        if node.env:
            env.update(node.env)
        env["FLOWTUI_TASK_ID"] = node.id
        return env

    def needs_approval(self, node) -> bool:
        if node.approval is not None:
            return True
        return bool(self.ask) and node.is_task and _matches(node.id, self.ask)

    def wants_pty(self, node) -> bool:
        return node.pty or (bool(self.pty) and _matches(node.id, self.pty))

    def _set_status(self, nid, status):
        state = self.states[nid]
        if state.status != status:
            state.status = status
            self.emit(ev.TaskStatus(nid, status))

    # -- starting ------------------------------------------------------------------------------
    def start(self):
        self.status = RUN_RUNNING
        self.started_at = time.time()
        self.emit(ev.RunStarted(self.run_id, self.flow.name, self.flow.format, self.flow.file))
        room = _parallel_room() if self.max_parallel > _ANY_LIMIT_ALLOWS else self.max_parallel
        if room < self.max_parallel:
            self.emit(ev.Notice("warning", f"at most {room} tasks run at once: {self.max_parallel} would need more open "
                                           f"files than allowed (ulimit -n); raise it to run more", None))
            self.max_parallel = room
        for nid in self.flow.roots:
            self._activate(nid)
        self._pump()
        self._check_done()

    def run_to_end(self):
        """Start (if needed) and drive the reactor until the run finished; returns the exit code."""
        if self.status == RUN_PENDING:
            self.reactor.call_soon(self.start)
        self.reactor.run(until=lambda: self.finished)
        return self.exit_code

    def _parent_open(self, nid) -> bool:
        parent = self.nodes[nid].parent
        return self.status != RUN_PENDING if parent is None else self.states[parent].status == RUNNING

    def _activate(self, nid, trigger=None):
        """The node's group is running: decide whether it can start, must wait, or will not run."""
        node, state = self.nodes[nid], self.states[nid]
        if state.status in TERMINAL or state.status in ACTIVE or state.status == QUEUED:
            return
        if node.on_demand and nid not in self.demanded and nid not in self.forced:
            return
        if self.halt:
            self._finish(nid, NOT_RUN, reason="halt")
            return
        verdict = self._verdict(node, trigger)
        if nid in self.forced and verdict is not None:  # a rerun target still waits for what runs upstream
            verdict = True
        if verdict is True:
            if nid in self.skipping:
                state.error = f"skipped by {self.skipping.pop(nid)}"
                self._finish(nid, SKIPPED, reason="operator")
            else:
                self._ready_up(nid)
        elif verdict is None:
            self._set_status(nid, WAITING)
        else:
            status, reason = verdict
            self._finish(nid, status, reason=reason)
        if self._demands and not self._draining:
            self._draining = True
            try:
                while self._demands:
                    self._activate(self._demands.popleft())
            finally:
                self._draining = False

    def _demand(self, nid):
        """An on-demand node a dependent needs: activated once that dependent's look is over (and it
        waits for it), from a queue rather than one recursion per link of a chain of them."""
        self.demanded.add(nid)
        self._demands.append(nid)

    def _verdict(self, node, trigger=None):
        """True: may start. None: undecided. (status, reason): can never start.

        `trigger` is the upstream whose end prompted this look (None: look at everything).
        """
        if not node.deps:
            return True
        if node.join == "all" and len(node.deps) > _WIDE:
            return self._verdict_wide(node, trigger)
        satisfied = impossible = 0
        cause = None
        for dep in node.deps:
            upstream = self.states[dep.node]
            if upstream.status not in TERMINAL:
                if upstream.status == PENDING and self.nodes[dep.node].on_demand:
                    self._demand(dep.node)
                continue
            result = self._condition(dep, upstream)
            if result is True:
                satisfied += 1
                if dep.cond in FAILURE_CONDITIONS and upstream.status != SUCCEEDED:
                    upstream.handled = True
            else:
                impossible += 1
                if cause is None or result == NOT_RUN:
                    cause = (result, f"{dep.node} {upstream.status}")
        total = len(node.deps)
        if node.join == "any":
            if satisfied:
                return True
            return cause if impossible == total else None
        if impossible:
            return cause
        return True if satisfied == total else None

    def _verdict_wide(self, node, trigger):
        """`_verdict` for a join of many dependencies (a merge of 1000 tasks) in amortised O(1).

        Dependencies before the node's cursor are known satisfied: terminal states only change
        through a reset, which gives the node a fresh state and so a fresh cursor. The upstream
        that just ended is checked at once, so an impossible dependency is seen immediately.
        """
        state = self.states[node.id]
        if trigger is not None:
            for dep in self._deps_on(node, trigger):
                result = self._condition(dep, self.states[trigger])
                if result is not True:
                    return result, f"{trigger} {self.states[trigger].status}"
        deps = node.deps
        i = state.dep_cursor
        while i < len(deps):
            dep = deps[i]
            upstream = self.states[dep.node]
            if upstream.status not in TERMINAL:
                if upstream.status == PENDING and self.nodes[dep.node].on_demand:
                    self._demand(dep.node)
                state.dep_cursor = i
                return None
            result = self._condition(dep, upstream)
            if result is not True:
                return result, f"{dep.node} {upstream.status}"
            if dep.cond in FAILURE_CONDITIONS and upstream.status != SUCCEEDED:
                upstream.handled = True
            i += 1
        state.dep_cursor = i
        return True

    def _deps_on(self, node, upstream):
        index = self._dep_index.get(node.id)
        if index is None:
            index = self._dep_index[node.id] = {}
            for dep in node.deps:
                index.setdefault(dep.node, []).append(dep)
        return index.get(upstream, ())

    def _condition(self, dep, upstream):
        status, cond = upstream.status, dep.cond
        ignored = status in FAILURES and self.nodes[dep.node].ignore_failure
        if cond == COND_FINISHED:
            return True
        if cond == COND_OK:
            if status in (SUCCEEDED, SKIPPED) or ignored:
                return True
            return NOT_RUN
        if cond == COND_SUCCEEDED:
            if status == SUCCEEDED or ignored or (status == SKIPPED and upstream.reason == "operator"):
                return True
            return SKIPPED if status == SKIPPED else NOT_RUN
        ran = status in (SUCCEEDED, FAILED, TIMED_OUT)
        if cond == COND_FAILED:
            if status in FAILURES and not ignored and not upstream.errored:
                return True
            return SKIPPED if status in (SUCCEEDED, SKIPPED) or ignored or upstream.errored else NOT_RUN
        if cond == COND_EXIT:
            if ran and not upstream.errored and upstream.exit_code == dep.code:
                return True
            return SKIPPED if ran or status == SKIPPED else NOT_RUN
        if cond == COND_ERRORED:
            if upstream.errored and not ignored:
                return True
            return SKIPPED if ran or status == SKIPPED else NOT_RUN
        raise ValueError(f"unknown dependency condition {cond!r}")

    def _ready_up(self, nid):
        node = self.nodes[nid]
        if node.is_task and self.needs_approval(node) and self.states[nid].approval is None:
            self._set_status(nid, AWAITING_APPROVAL)
            self.approvals[nid] = time.time()
            approval = node.approval
            fields = [
                {"id": f.id, "prompt": f.prompt, "type": f.type, "choices": list(f.choices), "default": f.default, "required": f.required}
                for f in (approval.fields if approval else ())
            ]
            self.emit(ev.ApprovalRequested(nid, approval.prompt if approval else f"Run {nid}?", fields))
            return
        if node.action is None:
            self._start(nid)  # a plain group takes no slot
            return
        self._set_status(nid, QUEUED)
        heapq.heappush(self._ready, (self.order[nid], nid))

    def _pump(self):
        if self.paused or self.halt or self.finished:
            return
        ready, held = self._ready, []
        while ready and len(self.executions) + len(self.winding_down) < self.max_parallel:
            item = heapq.heappop(ready)
            nid = item[1]
            if nid in self.winding_down:
                held.append(item)
            elif self.states[nid].status == QUEUED:
                self._start(nid)
                if self.paused or self.halt:
                    break
        for item in held:
            heapq.heappush(ready, item)

    def _start(self, nid):
        node, state = self.nodes[nid], self.states[nid]
        self.forced.discard(nid)
        decision = self.runtime.before_start(node, state)
        if decision == SKIPPED:
            self._finish(nid, SKIPPED, reason="condition")
            return
        if decision == "pause":
            self._set_status(nid, QUEUED)
            heapq.heappush(self._ready, (self.order[nid], nid))
            self.pause(by=AUTO_PAUSE + nid)
            return
        state.started_at = time.time()
        state.finished_at = None
        if node.action is None:
            self._start_group(nid)
            return
        state.attempt += 1
        state.status = RUNNING
        state.exit_code = state.error = None
        state.errored = False
        self.emit(ev.TaskStarted(nid, state.attempt, state.iteration))
        execution = TaskExecution(self, node, state, self._action_done)
        self.executions[nid] = execution
        execution.start()

    def _action_done(self, execution, status, exit_code, output, error, errored):
        nid = execution.node.id
        if self.winding_down.get(nid) is execution:
            self._wound_down(execution, status, exit_code, error)
            return
        if self.executions.get(nid) is not execution:
            return
        del self.executions[nid]
        state = self.states[nid]
        state.exit_code, state.output, state.error, state.errored = exit_code, output, error, errored
        if status == SUCCEEDED and self.children[nid]:
            self._start_group(nid)
        else:
            self._finish(nid, status)
        self._pump()
        self._check_done()

    def _start_group(self, nid):
        state = self.states[nid]
        state.status = RUNNING
        if self.nodes[nid].action is None:
            self.emit(ev.GroupStarted(nid, state.iteration))
        children = self.children[nid]
        state.open_children = sum(1 for c in children if self.states[c].status not in TERMINAL)
        if not state.open_children:
            self._finish(nid, self._rollup(nid))
            return
        # Depth first, as a recursion would, but with a stack: groups nest thousands deep (sub-workflows).
        pending = iter(list(children))
        if self._opening is not None:  # a group started while its parent's children are activated
            self._opening.append(pending)
            return
        stack = self._opening = [pending]
        try:
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    stack.pop()
                else:
                    self._activate(child)
        finally:
            self._opening = None

    # -- finishing -----------------------------------------------------------------------------
    def _finish(self, nid, status, reason=None, notify=True):
        node, state = self.nodes[nid], self.states[nid]
        state.status = status
        state.finished_at = time.time()
        if reason is not None:
            state.reason = reason
        self.approvals.pop(nid, None)
        if self.children[nid]:
            self._end_subtree(nid, SKIPPED if status == SKIPPED else NOT_RUN)
        self._ended_with(nid, node, status, notify)

    def _end_subtree(self, nid, status):
        """A group that ends early takes its subtree with it: each node under it ends (after its own
        subtree) `status`, and what runs there is cancelled. A stack, not recursion (deep trees)."""
        stack = [iter(list(self.children[nid]))]
        parents = [(nid, None)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                ended, node = parents.pop()
                if stack:
                    self._ended_with(ended, node, status, notify=False)
                continue
            state = self.states[child]
            if state.status in TERMINAL:
                continue
            if child in self.executions:
                self.executions[child].cancel()
                continue
            state.status = status
            state.finished_at = time.time()
            state.reason = "parent"
            self.approvals.pop(child, None)
            stack.append(iter(list(self.children[child])))
            parents.append((child, self.nodes[child]))

    def _ended_with(self, nid, node, status, notify):
        """The rest of `_finish`: the runtime's say, the end told, then the dependents and the group."""
        state = self.states[nid]
        # The runtime may override the outcome (a Fluxor `when` error, an await mode): what it
        # emits meanwhile waits, so the end is told once, with the final outcome, and first.
        generation = state.generation
        outer = self.bus.hold()
        try:
            override = self.runtime.after_finish(node, state)
        finally:
            held = self.bus.release(outer)
        if override and state.generation == generation:
            state.status, state.error = override
            status = state.status
        self._emit_finished(nid, state, node)  # `node` may be gone: a reset drops nodes added at run time
        for event in held:
            self.bus.emit(event)
        if state.generation != generation:
            return  # the runtime re-armed this node (a loop): its next iteration is under way
        if status in FAILURES and node.fatal and not self.halt:
            self._halt("fatal", by=nid)
        if notify:
            self._ended.append((nid, node))
            if not self._telling:  # the outermost end tells everyone; nested ones only queue
                self._telling = True
                try:
                    while self._ended:
                        self._tell(*self._ended.popleft())
                finally:
                    self._telling = False

    def _tell(self, nid, node):
        """Dependents and the group of `nid` learn that it ended. A worklist, not recursion: one
        failure can leave thousands of chained tasks that now can never run, each ending in turn."""
        state = self.states[nid]
        unhandled = state.status in FAILURES and not state.handled
        for dependent in self.dependents.get(nid, ()):
            status = self.states[dependent].status
            if status == WAITING:
                self._activate(dependent, trigger=nid)
            elif unhandled and status not in _UNREACHED:
                # A join `any` that already started (a Floe `any` merge, a Fluxor `catch`) and
                # listens for this failure handles it too, whichever of its upstreams ended first.
                for dep in self._deps_on(self.nodes[dependent], nid):
                    if dep.cond in FAILURE_CONDITIONS and self._condition(dep, state) is True:
                        state.handled, unhandled = True, False
                        break
        parent = node.parent
        if parent is not None and self.states[parent].status == RUNNING:
            parent_state = self.states[parent]
            parent_state.open_children -= 1
            if parent_state.open_children <= 0:
                self._finish(parent, self._rollup(parent))

    def _wound_down(self, execution, status, exit_code, error):
        """An attempt a rerun cancelled has ended: its own end is recorded, then the next may start."""
        nid, old = execution.node.id, execution.state
        del self.winding_down[nid]
        old.status, old.exit_code, old.error, old.finished_at = status, exit_code, error, time.time()
        self.emit(ev.TaskFinished(nid, status, exit_code, old.attempt, old.iteration, old.duration(), error))
        self._pump()
        self._check_done()

    def _emit_finished(self, nid, state=None, node=None):
        node, state = node or self.nodes[nid], state or self.states[nid]
        if node.is_task:
            self.emit(ev.TaskFinished(
                nid, state.status, state.exit_code, state.attempt, state.iteration,
                state.duration(), state.error,
            ))
        else:
            self.emit(ev.GroupFinished(nid, state.status))

    def unhandled_failure(self, nid) -> bool:
        state = self.states[nid]
        return state.status in FAILURES and not state.handled and not self.nodes[nid].ignore_failure

    def _rollup(self, nid):
        """A group's outcome from its action and children."""
        statuses = [self.states[c].status for c in self.children[nid]]
        if any(self.unhandled_failure(c) for c in self.children[nid]):
            return FAILED
        if CANCELLED in statuses:
            return CANCELLED
        if NOT_RUN in statuses and (self.halt or any(
                self.states[c].status == NOT_RUN and self.states[c].reason == "halt" for c in self.children[nid])):
            return NOT_RUN  # a child an earlier stop left out stays out after a rerun reopened the run
        return SUCCEEDED

    def _check_done(self):
        if self.finished or self.status == RUN_PENDING:
            return
        if self.executions or self.winding_down:
            return
        if self.approvals and not self.halt:
            return
        if self.paused and self._ready and not self.halt:
            return
        if self._ready and not self.halt:
            self._pump()
            if self.executions:
                return
        for nid in self.nodes:  # whatever is left was never reached
            state = self.states[nid]
            if state.status not in TERMINAL:
                unneeded = self.nodes[nid].on_demand and state.status == PENDING and not self.halt
                state.status = SKIPPED if unneeded else NOT_RUN
                state.reason = state.reason or ("not needed" if unneeded else ("halt" if self.halt else "unreachable"))
                self._emit_finished(nid)
        self._ready.clear()
        self.finished = True
        self.finished_at = time.time()
        self.status = self._final_status()
        self.exit_code = EXIT_INTERRUPTED if self.interrupted else EXIT_CODES[self.status]
        self.emit(ev.RunFinished(self.status, self.exit_code))

    def _final_status(self):
        if self.halt == "cancel":
            return RUN_CANCELLED
        if self.halt == "stop":
            return RUN_STOPPED
        if self.outcome is not None:
            return RUN_SUCCEEDED if self.outcome else RUN_FAILED
        if self.halt == "fatal":
            return RUN_FAILED
        roots = self.flow.roots
        if any(self.unhandled_failure(r) for r in roots):
            return RUN_FAILED
        earlier = {"stop": RUN_STOPPED, "cancel": RUN_CANCELLED, "fatal": RUN_FAILED}.get(self.earlier_halt)
        if earlier and any(s.status == NOT_RUN and s.reason == "halt" for s in self.states.values()):
            return earlier  # rerunning one task of a stopped run does not make what the stop left out a success
        return RUN_SUCCEEDED

    def _halt(self, mode, by=None):
        self.halt = mode
        self.halted_by = by
        self.emit(ev.RunStopping(mode, by))
        for nid in list(self.approvals):
            self._finish(nid, NOT_RUN, reason="halt")
        for execution in list(self.executions.values()):
            if mode in ("cancel", "end"):
                execution.cancel()
            else:
                execution.abandon_retry()
        # Once the caller is done: a task whose failure halts the run has not yet told its group.
        self.reactor.call_soon(self._check_done)

    # -- run-time graph changes (runtimes) ------------------------------------------------------
    def add_nodes(self, parent, nodes):
        """Grow group `parent` with new nodes (ordered parent-first); starts them if it runs."""
        added = []
        base = max(self.order.values(), default=0) + 1
        for i, node in enumerate(nodes):
            self.nodes[node.id] = node
            self.children[node.id] = list(node.children)
            self.states[node.id] = NodeState()
            self.order[node.id] = base + i
            for dep in node.deps:
                self.dependents.setdefault(dep.node, []).append(node.id)
            if node.parent == parent:
                added.append(node.id)
        self.children[parent].extend(added)
        self.emit(ev.NodesAdded(parent, [node_json(n) for n in nodes]))
        parent_state = self.states[parent]
        if parent_state.status == RUNNING and parent not in self.executions:
            parent_state.open_children += len(added)
            for nid in added:
                self._activate(nid)
        return added

    def _drop_dynamic(self, nid):
        """Forget nodes a runtime added under `nid` (they are re-created on the next iteration), each
        with its whole subtree: a template copy's own subtasks go with it.

        A node's own children stay, also for a node added at run time (a group inside a
        sub-workflow or a template copy): only what was added under it later is dropped."""
        keep = set(self.nodes[nid].children)
        dropped = [c for c in self.children[nid] if c not in keep]
        if not dropped:
            return
        self.children[nid] = [c for c in self.children[nid] if c in keep]
        while dropped:  # the whole subtree under each goes (a stack, not recursion: deep trees)
            child = dropped.pop()
            dropped.extend(self.children[child])
            for dep in self.nodes[child].deps:
                users = self.dependents.get(dep.node)
                if users and child in users:
                    users.remove(child)
            del self.nodes[child], self.states[child], self.order[child], self.children[child]

    def reset(self, ids, *, loop=False):
        """Put nodes (with their subtrees) back to pending and start them again when they can.

        `loop` marks a new iteration (goto); otherwise it is a rerun. Returns an error text when
        the loop guard stops it.
        """
        ids = [nid for nid in ids if nid in self.nodes]
        if loop:
            for nid in ids:
                if self.states[nid].iteration >= self.max_iterations:
                    return f"loop guard: {nid} reached {self.max_iterations} iterations (raise --max-iterations)"
        if self.finished:
            self._reopen()
        for nid in ids:
            self._reset_subtree(nid, loop)
        for nid in ids:
            self._reopen_parents(nid)
        for nid in ids:
            if self._parent_open(nid):
                self._activate(nid)
        self._pump()
        self._check_done()
        return None

    def _reset_subtree(self, root, loop):
        stack = [root]
        while stack:  # pre-order, with a stack: groups nest thousands deep
            nid = stack.pop()
            old = self.states[nid]
            execution = self.executions.pop(nid, None)
            if execution is not None:
                self.winding_down[nid] = execution
                execution.cancel()
            self.approvals.pop(nid, None)
            self.skipping.pop(nid, None)
            self._drop_dynamic(nid)
            self.states[nid] = NodeState(
                attempt=old.attempt, iteration=old.iteration + (1 if loop else 0), generation=old.generation + 1
            )
            old.generation += 1
            self.emit(ev.TaskStatus(nid, PENDING))
            stack.extend(reversed(self.children[nid]))

    def _reopen_parents(self, nid):
        parent = self.nodes[nid].parent
        while parent is not None:
            state = self.states[parent]
            state.open_children = sum(1 for c in self.children[parent] if self.states[c].status not in TERMINAL)
            if state.status in TERMINAL:
                state.status = RUNNING
                state.finished_at = None
                self.emit(ev.TaskStatus(parent, RUNNING))
            parent = self.nodes[parent].parent

    def _reopen(self):
        self.finished = False
        self.earlier_halt = self.halt or self.earlier_halt
        self.halt = self.halted_by = None
        self.outcome = None
        self.interrupted = False
        self.status = RUN_PAUSED if self.paused else RUN_RUNNING
        self.exit_code = self.finished_at = None
        self.emit(ev.RunReopened(None))

    def end(self, good: bool, by: str):
        """An explicit end (Floe `end`): the run's verdict is `good`; whatever runs is cancelled."""
        if self.outcome is None:
            self.outcome = good
        self._halt("end", by=by)

    # -- controller operations -------------------------------------------------------------------
    # Each returns (ok, message). They run on the reactor thread (see controller.Controller).
    def pause(self, by=None):
        if self.finished:
            return False, "the run has finished"
        if self.paused:
            return False, "already paused"
        self.paused = True
        self.status = RUN_PAUSED
        self.emit(ev.RunPaused(by))
        return True, "paused: running tasks finish, nothing new starts"

    def resume(self, by=None):
        if not self.paused:
            return False, "not paused"
        self.paused = False
        if not self.finished:
            self.status = RUN_RUNNING
        self.emit(ev.RunResumed(by))
        self._pump()
        self._check_done()
        return True, "resumed"

    def stop(self, by=None):
        if self.finished:
            return False, "the run has finished"
        if self.halt in ("stop", "cancel"):
            return False, f"already {'stopping' if self.halt == 'stop' else 'cancelling'}"
        self._halt("stop", by=by)
        return True, "stopping: running tasks finish, nothing new starts"

    def cancel(self, by=None, interrupted=False):
        if self.finished:
            return False, "the run has finished"
        self.interrupted = self.interrupted or interrupted
        if self.halt == "cancel":
            return False, "already cancelling"
        self._halt("cancel", by=by)
        return True, "cancelling: running tasks are terminated, teardown hooks run"

    def _not_awaiting(self, nid):
        return f"no task {nid}" if nid not in self.nodes else f"{nid} is not awaiting approval"

    def approve(self, nid, by=None, reason=None, values=None):
        if nid not in self.approvals:
            return False, self._not_awaiting(nid)
        node = self.nodes[nid]
        try:
            values = check_values(node.approval.fields if node.approval else (), values or {})
        except ValueError as exc:
            return False, str(exc)
        state = self.states[nid]
        state.approval = {"decision": "approved", "by": by, "at": time.time(), "reason": reason}
        state.values = values
        del self.approvals[nid]
        self.emit(ev.ApprovalGranted(nid, by, reason, values))
        if self.halt:
            self._finish(nid, NOT_RUN, reason="halt")
        else:
            self._ready_up(nid)
            self._pump()
        self._check_done()
        return True, f"approved {nid}"

    def reject(self, nid, by=None, reason=None):
        if nid not in self.approvals:
            return False, self._not_awaiting(nid)
        state = self.states[nid]
        state.approval = {"decision": "rejected", "by": by, "at": time.time(), "reason": reason}
        state.error = f"rejected by {by or 'operator'}" + (f": {reason}" if reason else "")
        del self.approvals[nid]
        self.emit(ev.ApprovalRejected(nid, by, reason))
        self._finish(nid, REJECTED)
        self._pump()
        self._check_done()
        return True, f"rejected {nid}"

    def skip(self, nid, by=None, *, pump=True):
        """`pump=False` (a runtime skipping several at once, from inside the engine): start nothing
        yet, nor end the run; the engine does both once the change is made."""
        if nid not in self.nodes:
            return False, f"no task {nid}"
        state = self.states[nid]
        if state.status not in (PENDING, WAITING, QUEUED, AWAITING_APPROVAL):
            return False, f"{nid} is {state.status}: only a task that has not started can be skipped"
        if nid in self.skipping:
            return False, f"{nid} is already to be skipped when its turn comes"
        if self.halt in ("stop", "cancel") and state.status != AWAITING_APPROVAL:
            return False, f"the run is {'stopping' if self.halt == 'stop' else 'cancelling'}: {nid} will not run anyway"
        if state.status in (PENDING, WAITING):
            # Its turn has not come: it is skipped when it does, so what follows it keeps its
            # place in the order (the next action still waits for the one running now).
            self.skipping[nid] = by or "operator"
            self.emit(ev.Notice("info", f"{nid} is skipped when its turn comes", nid))
            return True, f"{nid} will be skipped when its turn comes"
        state.error = f"skipped by {by or 'operator'}"
        self._finish(nid, SKIPPED, reason="operator")
        if pump:
            self.settle()
        return True, f"skipped {nid}"

    def settle(self):
        """Start what may start, and end the run if nothing is left: after a runtime changed the
        graph from outside an engine callback (a timer of its own)."""
        self._pump()
        self._check_done()

    def rerun(self, nid, downstream=False, by=None):
        if nid not in self.nodes:
            return False, f"no task {nid}"
        if self.states[nid].status not in TERMINAL:
            return False, f"{nid} is {self.states[nid].status}: only a finished task can be rerun"
        ids = [nid] + (self.downstream_of(nid) if downstream else [])
        self.forced.add(nid)
        self.reset(ids)
        extra = f" and {len(ids) - 1} downstream" if len(ids) > 1 else ""
        return True, f"rerunning {nid}{extra}"

    def kill_all(self):
        """A second interrupt: SIGKILL what runs now and start no more hooks (no teardown either);
        the run then ends as cancelled, reports and all."""
        self.hurry = True
        if not self.halt:
            self._halt("cancel", by="kill")
        for execution in self.all_executions():
            ctx = execution.current
            for proc in ctx.processes if ctx else ():
                proc.kill()

    def all_executions(self):
        """Every attempt with something running: the current ones and those a rerun is ending."""
        return [*self.executions.values(), *self.winding_down.values()]

    def downstream_of(self, nid):
        """Every node that (transitively) depends on `nid` or on a group containing it."""
        seen, stack, out = {nid}, [nid], []
        while stack:
            current = stack.pop()
            sources = [current]
            parent = self.nodes[current].parent
            while parent is not None:  # depending on a group means depending on its members
                sources.append(parent)
                parent = self.nodes[parent].parent
            for source in sources:
                for dependent in self.dependents.get(source, ()):
                    if dependent not in seen:
                        seen.add(dependent)
                        out.append(dependent)
                        stack.append(dependent)
        return sorted(out, key=self.order.__getitem__)

    def send(self, nid, text):
        execution = self.executions.get(nid)
        if execution is None:
            return False, f"{nid} is not running"
        if self.stdin_null:
            return False, (f"{nid} reads no input: this run has no terminal (give it one, or "
                           f"--approval-timeout to wait for another terminal)")
        if not execution.send(text):
            return False, f"{nid} does not read input"
        return True, f"sent to {nid}"

    # -- views -----------------------------------------------------------------------------------
    def pending_approvals(self):
        return list(self.approvals)

    def snapshot(self) -> dict:
        """Everything a viewer needs to draw the run; events then keep it current."""
        return {
            "run_id": self.run_id, "status": self.status, "exit_code": self.exit_code,
            "started_at": self.started_at, "finished_at": self.finished_at, "paused": self.paused,
            "flow": {"name": self.flow.name, "format": self.flow.format, "file": self.flow.file},
            "roots": list(self.flow.roots),
            "nodes": [node_json(self.nodes[nid], self.children[nid]) for nid in self.tree_order()],
            "states": {nid: state.to_json() for nid, state in self.states.items()},
            "approvals": list(self.approvals),
        }

    def tree_order(self):
        """Node ids depth-first in definition order (dynamic nodes under their parent)."""
        out, stack = [], list(reversed(self.flow.roots))
        while stack:
            nid = stack.pop()
            out.append(nid)
            stack.extend(reversed(self.children[nid]))
        seen = set(out)
        out.extend(nid for nid in self.nodes if nid not in seen)  # unattached on-demand nodes
        return out


def run_for(flow, runtime, options, **settings) -> Run:
    """A Run with what the load options carry (Flow-CTRL gets --set as environment), as `flowtui
    run` builds it and as `flowtui resume` rebuilds it from the options it recorded."""
    sets = dict(options.get("sets") or {})
    return Run(flow, runtime, ask=options.get("ask") or (), pty=options.get("pty") or (), max_iterations=options.get("max_iterations") or 10000,
               env=sets if flow.format == "flowctrl" else None, **settings)


def _matches(nid, patterns) -> bool:
    """`nid` is one of the patterns, or matches one as a glob (`build/*`)."""
    from fnmatch import fnmatchcase

    return any(nid == pattern or fnmatchcase(nid, pattern) for pattern in patterns)


def node_json(node, children=None) -> dict:
    return {
        "id": node.id, "name": node.name, "parent": node.parent, "label": node.label,
        "children": list(node.children if children is None else children), "is_task": node.is_task,
        "deps": [{"node": d.node, "cond": d.cond, "code": d.code} for d in node.deps],
        "join": node.join, "estimate": node.estimate,
        "approval": None if node.approval is None else {
            "prompt": node.approval.prompt,
            "fields": [{"id": f.id, "prompt": f.prompt, "type": f.type, "choices": list(f.choices), "default": f.default} for f in node.approval.fields],
        },
        "action": None if node.action is None else node.action.kind,
        "hooks": sorted(node.hooks),
    }


_FDS_PER_TASK = 4  # stdin, stdout and stderr pipes and a pidfd, while it runs
_FDS_KEPT = 96  # the runner's own: store, journal, log files, sockets, clients
_ANY_LIMIT_ALLOWS = 32  # even macOS's default 256 open files leave room for 40 tasks


def _parallel_room():
    """How many tasks may run at once within the open-file limit: past it, pipes fail (EMFILE)
    and tasks that would have run fine fail to start."""
    try:
        import resource
    except ImportError:  # not Unix
        return 1 << 30
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 30
    return max(1, (soft - _FDS_KEPT) // _FDS_PER_TASK)


def check_values(fields, values) -> dict:
    """Answers to the declared fields, as strings: required ones present and not blank, bools "true"/"false",
    choices valid. Anything else given (e.g. every --set value) is not part of the answer."""
    missing = [f.id for f in fields if f.required and str(values.get(f.id, f.default) or "").strip() == ""]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise ValueError(f"missing value for field{'s' if len(missing) > 1 else ''} {names}")
    out = {}
    for field in fields:
        value = values.get(field.id, field.default)
        if value is None or value == "":
            out[field.id] = "" if value is None else value
            continue
        if field.type == "bool":
            text = str(value).strip().lower()
            if text in ("y", "yes", "true", "1", "on"):
                value = "true"
            elif text in ("n", "no", "false", "0", "off"):
                value = "false"
            else:
                raise ValueError(f"field {field.id!r} must be yes or no, not {value!r}")
        elif field.type == "choice" and str(value) not in field.choices:
            raise ValueError(f"field {field.id!r} must be one of {', '.join(field.choices)}")
        out[field.id] = str(value)
    return out
