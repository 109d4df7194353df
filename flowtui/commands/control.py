"""Steering live runs from another terminal: status, pause/resume/stop/cancel, approvals, attach.

`resume` has two meanings: a live, paused run is resumed through its socket; a run that has
ended (failed, stopped, or its runner died) is resumed from the store and runs here.
"""

import argparse

from .history import EXIT_NOTHING, EXIT_OK, EXIT_USAGE, pair_type, state_dir_arg


def add_parsers(sub):
    p = sub.add_parser("status", help="the live tree of a running flow")
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
    p.add_argument("--json", action="store_true", help="status and snapshot as JSON")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_status)

    for op, text in (("pause", "pause a live run: running tasks finish, nothing new starts"),
                     ("stop", "stop a live run: running tasks finish, nothing new starts, the run ends"),
                     ("cancel", "cancel a live run: running tasks are terminated")):
        p = sub.add_parser(op, help=text)
        p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
        state_dir_arg(p)
        p.set_defaults(handler=cmd_simple, op=op)

    p = sub.add_parser("resume", help="resume a paused live run, or continue an ended run from the store")
    p.add_argument("run", metavar="RUN", nargs="?",
                   help="run id (default: the only live run); name an ended run to continue it")
    p.add_argument("--force", action="store_true", help="resume even though the flow file changed")
    p.add_argument("--no-ui", action="store_true", help="continue an ended run headless")
    p.add_argument("--approve", action="append", metavar="GLOB", help="approve matching tasks (repeatable)")
    p.add_argument("--approve-all", action="store_true", help="approve every gated task")
    p.add_argument("--reject", action="append", metavar="GLOB", help="reject matching tasks (repeatable)")
    p.add_argument("--max-parallel", type=int, metavar="N",
                   help="concurrent tasks of an ended run continued (default: what it was started with)")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_resume)

    for op in ("approve", "reject"):
        p = sub.add_parser(op, help=f"{op} a task waiting for approval")
        p.add_argument("task", metavar="TASK")
        p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
        p.add_argument("--reason", help="why (recorded with who and when)")
        if op == "approve":
            p.add_argument("--set", dest="values", action="append", type=pair_type("FIELD"), default=[], metavar="FIELD=VALUE",
                           help="answer a field of the approval form (repeatable)")
        state_dir_arg(p)
        p.set_defaults(handler=cmd_task_op, op=op)

    p = sub.add_parser("rerun", help="run a finished task again (and what depends on it, with --downstream)")
    p.add_argument("task", metavar="TASK")
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
    p.add_argument("--downstream", action="store_true", help="also rerun every task that depends on it")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_task_op, op="rerun")

    p = sub.add_parser("skip", help="skip a task that has not started")
    p.add_argument("task", metavar="TASK")
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_task_op, op="skip")

    p = sub.add_parser("send", help="write a line to a running task's stdin (answer its prompt)")
    p.add_argument("task", metavar="TASK")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_task_op, op="send")

    p = sub.add_parser("attach", help="open the TUI on a live run started elsewhere (quitting leaves it going)")
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (default: the only live run)")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_attach)


def _state_dir(args, err):
    from ..engine.statedir import StateDirError, resolve

    try:
        return resolve(args.state_dir)
    except StateDirError as exc:
        err.write(f"flowtui: {exc}\n")
        return None


def _connect(args, err):
    """(run_id, Client) for the run named by `args.run` or the only live one, else None (printed why)."""
    from ..engine.control.client import Client, ControlError, find_run
    from ..engine.control.sockets import socket_path

    state_dir = _state_dir(args, err)
    if state_dir is None:
        return None
    try:
        run_id = find_run(state_dir, args.run)
        return run_id, Client(socket_path(state_dir, run_id))
    except ControlError as exc:
        _explain(exc, err)
        return None


def _explain(exc, err):
    err.write(f"flowtui: {exc}\n")
    if exc.live:
        err.write("live runs:\n" + "".join(f"  {rid}\n" for rid in exc.live))


def _request(args, out, err, op, **fields):
    connected = _connect(args, err)
    if connected is None:
        return EXIT_USAGE
    from ..engine.control.client import ControlError

    run_id, client = connected
    try:
        reply = client.request(op, **fields)
    except ControlError as exc:
        err.write(f"flowtui: {run_id}: {exc}\n")
        return EXIT_NOTHING
    finally:
        client.close()
    (out if reply.get("ok") else err).write(f"{run_id}: {reply.get('message')}\n")
    return EXIT_OK if reply.get("ok") else EXIT_NOTHING


def _by():
    from ..engine.who import current_user

    return current_user()


def cmd_simple(args, out, err):
    return _request(args, out, err, args.op, by=_by())


def cmd_task_op(args, out, err):
    fields = {"task": args.task}
    if args.op in ("approve", "reject"):
        fields.update(by=_by(), reason=args.reason)
        if args.op == "approve" and args.values:
            fields["values"] = dict(args.values)
    elif args.op == "rerun":
        fields.update(by=_by(), downstream=args.downstream)
    elif args.op == "skip":
        fields["by"] = _by()
    elif args.op == "send":
        fields["text"] = args.text
    return _request(args, out, err, args.op, **fields)


def cmd_status(args, out, err):
    connected = _connect(args, err)
    if connected is None:
        return EXIT_USAGE
    from ..engine.control.client import ControlError

    run_id, client = connected
    try:
        status = client.request("status")["status"]
        snapshot = client.request("snapshot")["snapshot"]
    except ControlError as exc:
        err.write(f"flowtui: {run_id}: {exc}\n")
        return EXIT_NOTHING
    finally:
        client.close()
    if args.json:
        import json

        out.write(json.dumps({"status": status, "snapshot": snapshot}, indent=2) + "\n")
    else:
        from .render import status_text

        out.write(status_text(status, snapshot))
    return EXIT_OK


def cmd_resume(args, out, err):
    from ..engine.control.client import ControlError, find_run

    state_dir = _state_dir(args, err)
    if state_dir is None:
        return EXIT_USAGE
    try:
        find_run(state_dir, args.run)
    except ControlError as exc:
        if args.run:  # not live: continue it from the store
            return _resume_from_store(args, state_dir, out, err)
        _explain(exc, err)
        if not exc.live:
            err.write("to continue a run that has ended, name it: flowtui resume RUN (see flowtui runs)\n")
        return EXIT_USAGE
    return _request(args, out, err, "resume", by=_by())


def _resume_from_store(args, state_dir, out, err):
    import sys

    from ..engine.diagnostics import FlowError
    from ..engine.recording import Recording
    from ..engine.resume import ResumeError, load_for_resume, restore, succeeded_tasks
    from ..engine.run import run_for
    from ..engine.store import open_store

    store = open_store(state_dir)
    try:
        record, flow, runtime = load_for_resume(store, args.run, force=args.force)
    except ResumeError as exc:
        err.write(f"flowtui: {exc}\n")
        return EXIT_USAGE
    except FlowError as exc:
        err.write("".join(f"{d}\n" for d in exc.diagnostics))
        return EXIT_USAGE
    finally:
        store.close()
    options = record["options"]
    sets = dict(options.get("sets") or {})
    max_parallel = getattr(args, "max_parallel", None)
    if max_parallel is not None and max_parallel < 1:
        err.write("flowtui: --max-parallel must be at least 1\n")
        return EXIT_USAGE
    run = run_for(flow, runtime, options, run_id=record["run_id"], by=_by(),
                  max_parallel=max_parallel or options.get("max_parallel"))
    restore(run, record)
    done = succeeded_tasks(record)
    err.write(f"flowtui: resuming {run.run_id} ({flow.file}): {len(done)} task{'s' if len(done) != 1 else ''} "
              f"already succeeded and will not run again\n")
    continued = argparse.Namespace(  # `run FILE --resume` brings its own reports and timeout
        approve=args.approve, approve_all=args.approve_all, reject=args.reject, sets=sets,
        approval_timeout=getattr(args, "approval_timeout", 0.0), events=getattr(args, "events", None),
        report=getattr(args, "report", None), junit=getattr(args, "junit", None),
    )
    with Recording(run, state_dir, options) as recording:
        if not args.no_ui and sys.stdout.isatty() and sys.stdin.isatty():
            from ..cli import _run_tui

            return _run_tui(run, continued, state_dir, recording.ended)
        from ..headless import run_headless

        return run_headless(run, continued, out, ended=recording.ended)


def cmd_attach(args, out, err):
    from ..engine.control.client import ControlError, RemoteSource

    state_dir = _state_dir(args, err)
    if state_dir is None:
        return EXIT_USAGE
    try:
        source = RemoteSource(state_dir, args.run)
    except ControlError as exc:
        _explain(exc, err)
        return EXIT_USAGE
    from ..screens.app import main as tui_main

    try:
        return tui_main(source, state_dir=state_dir, detach=True)
    finally:
        source.close()
