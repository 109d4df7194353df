"""`--report PATH`: the run as JSON, per the contract, written when the run ends."""

import json
import os

from .files import write_atomically
from .timefmt import iso


def task_entries(run):
    entries = []
    for nid in run.tree_order():
        node = run.nodes[nid]
        if not node.is_task:
            continue
        state = run.states[nid]
        entry = {
            "id": nid, "name": node.name, "group": node.parent, "status": state.status,
            "exit_code": state.exit_code, "attempts": state.attempt, "iteration": state.iteration,
            "started_at": iso(state.started_at), "finished_at": iso(state.finished_at),
            "duration_s": state.duration(),
            "hooks": [{"kind": kind, "exit_code": code} for kind, code in state.hooks],
        }
        entry["error"] = state.error or None  # always there, null when none (as in --events)
        if state.approval:
            entry["approval"] = dict(state.approval, at=iso(state.approval.get("at")))
            if state.values:
                entry["approval"]["values"] = state.values
        entries.append(entry)
    return entries


def report(run) -> dict:
    flow = run.flow
    data = {
        "flow": {"name": flow.name, "format": flow.format, "file": flow.file},
        "run_id": run.run_id,
        "status": run.status,
        "exit_code": run.exit_code,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_s": round(run.finished_at - run.started_at, 3) if run.finished_at and run.started_at else None,
        "tasks": task_entries(run),
    }
    data.update(run.runtime.report())
    return data


def write_report(run, path):
    write_atomically(path, json.dumps(report(run), indent=2, default=str) + os.linesep)
