"""Fluxor's built-in services (printer, nop, system/exec, workflow) and the dispatcher that runs them.

An action kind is `service:method`. The dispatcher expands the task's input against its scope
(session + template/emit item + init), applies the approval policy's `deny`, then calls the
method as `method(ctx, input)`; methods finish with `ctx.done(code, output=...)`.
"""

import os

from .execsvc import execute
from .expr import ExprError
from .inputs import bool_field, field, text_field


def _print(ctx, data):
    message = text_field(data, "message")
    ctx.output("stdout", message.split("\n"))
    ctx.done(0, output={})


def _nop(ctx, data):
    ctx.done(0, output={})


def _workflow_run(ctx, data):
    runtime = ctx.run.runtime
    if bool_field(data, "async") or bool_field(data, "wait"):
        ctx.done(1, error="workflow:run with async/wait: true is not supported: a sub-workflow runs as a subtree of its task and is always awaited", errored=True)
        return
    location, source = text_field(data, "location"), text_field(data, "source")
    if not location and not source:
        ctx.done(1, error="location is required", errored=True)
        return
    context = field(data, "context")
    if context is None:
        context = field(data, "parameters")
    ignore = bool_field(data, "ignoreError") or bool_field(data, "throwError")
    runtime.start_child(ctx, location, source, context if isinstance(context, dict) else {}, ignore)


def _process_output(ctx, data, full):
    runtime = ctx.run.runtime
    pid = text_field(data, "processID")
    record = runtime.processes.get(pid)
    if record is None:
        known = ", ".join(runtime.processes) or "none yet"
        ctx.done(1, error=f"unknown process {pid!r} (processes: {known})", errored=True)
        return
    if full:
        ctx.done(0, output={**record, "Timeout": False})
    else:
        ctx.done(0, output={"ProcessID": pid, "State": record["State"]})


BUILTIN = {
    "printer": {"print": _print},
    "nop": {"nop": _nop},
    "system/exec": {"execute": execute},
    "system/executor": {"execute": execute},  # the README's legacy name
    "workflow": {
        "run": _workflow_run,
        "wait": lambda ctx, data: _process_output(ctx, data, True),
        "status": lambda ctx, data: _process_output(ctx, data, False),
    },
}


def custom_method(function):
    """Wrap a Python callable `function(input) -> output` registered through options["services"]."""

    def method(ctx, data):
        ctx.done(0, output=function(data))

    return method


def services(options) -> dict:
    """service -> {method: implementation}: the built-ins plus options["services"]."""
    table = {name: dict(methods) for name, methods in BUILTIN.items()}
    for name, methods in (options.get("services") or {}).items():
        table[name] = {method: custom_method(function) for method, function in methods.items()}
    return table


def dispatcher(method):
    """The engine action implementation for one Fluxor method."""

    def run_action(ctx):
        runtime = ctx.run.runtime
        params = ctx.params
        if ctx.node.id in runtime.emit_done:  # an emit driver with items: they run instead (spec §2.13)
            ctx.done(0)
            return
        if runtime.policy == "deny":
            name = f"{params['service'].lower()}.{params['method'].lower()}"
            ctx.done(1, error=f"action {name} denied by policy", errored=True)
            return
        try:
            data = runtime.task_input(ctx.node)
        except ExprError as exc:
            ctx.done(1, error=f"input: {exc}", errored=True)
            return
        method(ctx, data if data is not None else {})

    return run_action


def new_process_id(name) -> str:
    return f"{name}/{os.urandom(8).hex()}"
