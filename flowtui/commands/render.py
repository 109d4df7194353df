"""Plain-text views of runs for the history and control commands (tables, trees, detail)."""

import time

from ..engine.durations import format_duration

MARKS = {
    "succeeded": "ok", "failed": "FAIL", "timed_out": "TIME", "cancelled": "CANC", "rejected": "REJ",
    "skipped": "skip", "not_run": "--", "interrupted": "INT", "running": "run", "retrying": "retry",
    "awaiting_approval": "ASK", "queued": "queue", "waiting": "wait", "pending": "..",
}


def when(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def table(rows, headers) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in [headers, *rows]]
    return "\n".join(lines) + "\n"


def runs_table(runs) -> str:
    rows = []
    for run in runs:
        counts = run["tasks"]
        done = counts.get("succeeded", 0) + counts.get("skipped", 0)
        rows.append((
            run["run_id"], run["status"], run["flow_name"] or "-", when(run["started_at"] or run["created_at"]),
            format_duration(run["duration"]), f"{done}/{counts['total']}", run["flow_file"] or "-",
        ))
    return table(rows, ("RUN", "STATUS", "FLOW", "STARTED", "DURATION", "DONE", "FILE"))


def show_text(run) -> str:
    out = [
        f"run {run['run_id']}: {run['status']}" + (f" (exit {run['exit_code']})" if run["exit_code"] is not None else ""),
        f"  flow     {run['flow_name']} ({run['format']}) {run['flow_file']}",
        f"  started  {when(run['started_at'])} by {run['started_by'] or '-'}"
        + (f", resumed {run['resumes']}x" if run["resumes"] else ""),
        f"  finished {when(run['finished_at'])}  duration {format_duration(run['duration'])}",
        "",
    ]
    depth = {}
    rows = []
    for task in run["tasks"]:
        depth[task["id"]] = depth.get(task["parent"], -1) + 1 if task["parent"] else 0
        codes = ",".join(str(c) for c in task["exit_codes"]) or ("-" if task["exit_code"] is None else str(task["exit_code"]))
        rows.append((
            "  " * depth[task["id"]] + task["id"], task["status"], task["attempts"] or "-",
            format_duration(task["duration"]), codes,
        ))
    out.append(table(rows, ("TASK", "STATUS", "ATTEMPTS", "DURATION", "EXIT")).rstrip("\n"))
    for task in run["tasks"]:
        for approval in task["approvals"]:
            line = f"  {task['id']}: {approval['decision']} by {approval['by'] or '-'} at {when(approval['at'])}"
            if approval["reason"]:
                line += f": {approval['reason']}"
            if approval["values"]:
                line += " " + " ".join(f"{k}={v}" for k, v in sorted(approval["values"].items()))
            out.append(line)
        if task["error"] and task["status"] not in ("succeeded", "skipped"):
            out.append(f"  {task['id']}: {task['error']}")
    return "\n".join(out) + "\n"


def status_text(status, snapshot) -> str:
    """The live tree: one line per node, indented under its group, with status and duration."""
    flow = status["flow"]
    header = f"run {status['run_id']}: {status['status']}  {flow['name']} ({flow['format']}) {flow['file'] or ''}".rstrip()
    lines = [header]
    states, depth = snapshot["states"], {}
    now = time.time()
    for node in snapshot["nodes"]:
        parent = node["parent"]
        depth[node["id"]] = depth.get(parent, -1) + 1 if parent else 0
        state = states[node["id"]]
        started, finished = state["started_at"], state["finished_at"]
        took = (finished or now) - started if started else None
        mark = MARKS.get(state["status"], state["status"])
        extra = f" exit {state['exit_code']}" if state["exit_code"] not in (None, 0) else ""
        lines.append(f"  {mark:<5} {'  ' * depth[node['id']]}{node['id']}  {state['status']} {format_duration(took)}{extra}")
    if status["approvals"]:
        lines.append(f"awaiting approval: {', '.join(status['approvals'])} (flowtui approve TASK)")
    return "\n".join(lines) + "\n"
