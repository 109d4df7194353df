"""Floe run-time semantics on the engine: event opts along edges, the workspace, locks, `end`.

Opts travel as in Floe (§7.4): the trigger's opts reach the nodes listening to `trigger.good`,
a merge passes on what it collected, exec-type nodes see the event's opts under their own.
"""

import os

from ..events import Notice, RunFinished
from ..model import SUCCEEDED, TERMINAL
from ..run import Runtime
from . import workspace as wsp
from .actions import ACTIONS
from .opts import merge_opts


class FloeRuntime(Runtime):
    actions = ACTIONS

    def __init__(self, flow, state_dir=None):
        self.flow = flow
        self.info = flow.extra.get("floe", {})
        self.state_dir = state_dir
        self.git_key = self.info.get("git_key", "")
        self.workspace = self.cache_dir = self.locks = None

    def attach(self, run):
        super().attach(run)
        info = self.info
        if self.state_dir:
            base = self.state_dir
        else:
            import tempfile

            base = tempfile.mkdtemp(prefix="flowtui-floe-")
        root = wsp.expand_root(info["workspace_root"]) if info.get("workspace_root") else base
        self.workspace = wsp.workspace_path(root, info["flow_id"], run.run_id, info.get("reuse_space"))
        store = wsp.expand_root(info["store_root"]) if info.get("store_root") else root
        self.cache_dir = os.path.join(os.path.abspath(store), "fetch_cache")
        names = wsp.lock_names(info["flow_id"], info.get("resource_tags", ()), info.get("reuse_space"))
        holder = f"run {run.run_id} of flow {info['flow_id']}, pid {os.getpid()}"
        self.locks = wsp.Locks(os.path.join(base, "floe-locks"), names, holder)
        run.bus.subscribe(self._on_event)

    def _on_event(self, event):
        if isinstance(event, RunFinished):
            self.locks.release()

    def make_workspace(self):
        wsp.fresh(self.workspace)

    # -- opts along the edges -----------------------------------------------------------------------
    def event_opts(self, node):
        """What the event(s) that started `node` carried: the upstream outputs, merged."""
        out = {}
        for dep in node.deps:
            state = self.run.states.get(dep.node)
            if state is not None and state.status in TERMINAL and isinstance(state.output, dict):
                out = merge_opts(out, state.output)
        return out

    def in_opts(self, node, event=None):
        """An exec-type node's input (`prepareForExec` + `MergeOpts`): the flow env, then the event's, then the node's."""
        event = dict(self.event_opts(node) if event is None else event)
        if self.git_key:
            for key in ("key-file", "git-key"):
                event.setdefault(key, self.git_key)
        event_env = event.get("env") if isinstance(event.get("env"), list) else []
        event["env"] = list(self.info.get("env", ())) + event_env
        return merge_opts(event, node.action.params.get("opts", {}))

    # -- hooks ----------------------------------------------------------------------------------------
    def after_finish(self, node, state):
        if state.status == SUCCEEDED and node.action is not None and node.action.kind == "floe-end":
            running = [nid for nid in self.run.executions if nid != node.id]
            if running:
                self.run.emit(Notice("info", f"`{node.id}` ends the run: cancelling {', '.join(running)}", node.id))
            self.run.end(bool(node.action.params.get("good", True)), by=node.id)
            return None
        self._answer_from_event(node, state)
        return None

    def _answer_from_event(self, node, state):
        """A data task whose fields are all in its listen event's string opts completes at once (§8.6)."""
        if not isinstance(state.output, dict):
            return
        for dependent in self.run.dependents.get(node.id, ()):
            target = self.run.nodes[dependent]
            if target.approval is None or target.action is None or target.action.kind != "floe-data":
                continue
            given = {k: v for k, v in state.output.items() if isinstance(v, str)}
            fields = target.approval.fields
            if fields and all(f.id in given for f in fields):
                target_state = self.run.states[dependent]
                target_state.approval = {"decision": "approved", "by": f"event from {node.id}", "at": None, "reason": None}
                target_state.values = given

    def checkpoint(self):
        """The workspace and every node's output opts: the event history later nodes read."""
        return {"workspace": self.workspace, "outputs": {
            nid: state.output for nid, state in self.run.states.items() if isinstance(state.output, dict)
        }}

    def restore(self, data):
        self.workspace = data.get("workspace") or self.workspace
        for nid, output in (data.get("outputs") or {}).items():
            if nid in self.run.states:
                self.run.states[nid].output = output

    def report(self):
        trigger = self.run.states.get(self.info.get("trigger"))
        return {"floe": {
            "flow": self.info.get("flow_id"), "trigger": self.info.get("trigger"), "workspace": self.workspace,
            "opts": trigger.output if trigger is not None else None,
        }}
