"""`flowtui runs | show | logs | purge`: the recorded history of runs."""

import argparse

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2


def pair_type(label):
    """An argparse `type` for LABEL=VALUE options (`--set`), giving (key, value)."""
    def pair(text):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected {label}=VALUE, got {text!r}")
        return key, value
    return pair


def state_dir_arg(parser):
    parser.add_argument("--state-dir", help="where runs, logs and sockets live (default: $FLOWTUI_STATE_DIR, "
                        "else the user state dir)")


def open_state(args, err, record_dead=False):
    """(state_dir, store) or None after printing why the state dir cannot be used.

    `record_dead`: first record the runs of runners that died (from their journals), so a runner
    killed before its store thread committed is known to `runs`, `show` and `logs`."""
    from ..engine.statedir import StateDirError, resolve
    from ..engine.store import open_store

    try:
        state_dir = resolve(args.state_dir)
    except StateDirError as exc:
        err.write(f"flowtui: {exc}\n")
        return None
    if record_dead:
        from ..engine.store import record_dead_runs

        record_dead_runs(state_dir)
    return state_dir, open_store(state_dir)


def _positive(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def _duration(text):
    from ..engine.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub):
    p = sub.add_parser("runs", help="list recorded runs, newest first")
    p.add_argument("--flow", metavar="FILE", help="only runs of this flow file")
    p.add_argument("--status", metavar="S", help="only runs with this status (succeeded, failed, interrupted…)")
    p.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N runs (default 50, 0: all)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("show", help="one run: tasks, attempts, durations, exit codes, approvals")
    p.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("logs", help="print a run's task output (all tasks, or one)")
    p.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    p.add_argument("task", metavar="TASK", nargs="?", help="only this task")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing while the run is live")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_logs)

    p = sub.add_parser("purge", help="delete old runs and their logs (never a run still going)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--keep", type=_positive, metavar="N", help="keep the newest N runs of each flow")
    which.add_argument("--older-than", type=_duration, metavar="DURATION", help="runs that ended this long ago (30m, 7d)")
    which.add_argument("--all", action="store_true", help="every run that is not going")
    state_dir_arg(p)
    p.set_defaults(handler=cmd_purge)


def cmd_runs(args, out, err):
    opened = open_state(args, err, record_dead=True)
    if opened is None:
        return EXIT_USAGE
    _, store = opened
    runs = store.list_runs(flow_file=args.flow, status=args.status, limit=args.limit)
    if not runs:  # with --json too: a script tells "none" by the exit code, as the docs say
        if args.json:
            out.write("[]\n")
        err.write("flowtui: no runs recorded" + (" for that filter" if args.flow or args.status else "") + "\n")
        return EXIT_NOTHING
    if args.json:
        import json

        out.write(json.dumps(runs, indent=2) + "\n")
        return EXIT_OK
    from .render import runs_table

    out.write(runs_table(runs))
    return EXIT_OK


def _stored_run(args, err):
    """(store, the run named by args.run), or None after saying why."""
    from ..engine.store import StoreError

    opened = open_state(args, err, record_dead=True)
    if opened is None:
        return None
    _, store = opened
    try:
        return store, store.get_run(args.run)
    except StoreError as exc:
        err.write(f"flowtui: {exc}\n")
        return None


def cmd_show(args, out, err):
    found = _stored_run(args, err)
    if found is None:
        return EXIT_USAGE
    _, run = found
    if args.json:
        import json

        out.write(json.dumps(run, indent=2) + "\n")
        return EXIT_OK
    from .render import show_text

    out.write(show_text(run))
    return EXIT_OK


def cmd_logs(args, out, err):
    found = _stored_run(args, err)
    if found is None:
        return EXIT_USAGE
    store, run = found
    run_id = run["run_id"]
    task_ids = [t["id"] for t in run["tasks"]]
    # A live run may add the task yet (a template copy, a sub-workflow's task): --follow waits for it.
    if args.task and args.task not in task_ids and not (args.follow and run["live"]):
        err.write(f"flowtui: run {run_id} has no task {args.task!r}\n")
        return EXIT_USAGE
    follower = _LogFollower(store, run_id, args.task, task_ids)
    printed = follower.pump(out, refresh=run["live"])
    if args.follow:
        printed += follower.follow(out)
        if args.task and args.task not in store.task_ids(run_id):
            err.write(f"flowtui: run {run_id} ended without a task {args.task!r}\n")
            return EXIT_USAGE
    elif not printed:
        err.write(f"flowtui: no output recorded for {args.task or 'run ' + run_id}\n")
        return EXIT_NOTHING
    return EXIT_OK


class _LogFollower:
    """Reads task log files from where it left off; `follow` keeps going until the run is over.

    With `task` None it reads every task's log, `[task]`-prefixed; `follow` then reads the task
    list again as it goes, since a runtime adds tasks while the run goes (template copies…)."""

    def __init__(self, store, run_id, task, task_ids):
        self.store, self.run_id, self.task = store, run_id, task
        self.task_ids = [task] if task else task_ids
        self.offsets = {}

    def pump(self, out, refresh=False) -> int:
        """Print what the logs gained; `refresh`: of the tasks recorded now, not only those known."""
        gained = self._settled() if refresh and self.task is None else self._gained(self.task_ids)
        count = 0
        for task_id, end, data in gained:
            self.offsets[task_id] = end
            for line in data.decode("utf-8", "replace").split("\n")[:-1]:
                out.write(line + "\n" if self.task else f"[{task_id}] {line}\n")
                count += 1
        out.flush()
        return count

    def _gained(self, task_ids):
        """(task id, offset after, whole lines) of each log that grew; a partial last line is
        read once the writer ends it."""
        gained = []
        for task_id in task_ids:
            start = self.offsets.get(task_id, 0)
            try:
                with open(self.store.task_log_path(self.run_id, task_id), "rb") as handle:
                    handle.seek(start)
                    data = handle.read()
            except FileNotFoundError:
                continue
            complete = data.rfind(b"\n") + 1
            if complete:
                gained.append((task_id, start + complete, data[:complete]))
        return gained

    def follow(self, out) -> int:
        """Print what the run's log files gain, as they gain it (file-change notifications, not
        polling), until the run's socket stops answering."""
        import os

        from watchfiles import watch

        from ..engine.store.logfiles import run_dir

        count = self.pump(out, refresh=True)
        directory = run_dir(self.store.state_dir, self.run_id)
        if os.path.isdir(directory) and self._live():
            # rust_timeout: how often liveness is checked when nothing is written
            for _ in watch(directory, debounce=50, step=20, rust_timeout=500, yield_on_timeout=True):
                count += self.pump(out, refresh=True)
                if not self._live():
                    break
        # The writer has committed everything once the socket is gone (Recording.close).
        return count + self.pump(out, refresh=True)

    def _settled(self):
        """What the logs gained, read while no task was added. The writer commits added tasks
        before any output that follows them, so a log that grew while copies were being added
        (`last`, after a template's copies) is printed after those copies, in tree order."""
        while True:
            task_ids = self.store.task_ids(self.run_id)
            gained = self._gained(task_ids)
            if self.store.task_ids(self.run_id) == task_ids:
                self.task_ids = task_ids
                return gained

    def _live(self) -> bool:
        from ..engine.control.sockets import is_live, socket_path

        return is_live(socket_path(self.store.state_dir, self.run_id))


def cmd_purge(args, out, err):
    opened = open_state(args, err)
    if opened is None:
        return EXIT_USAGE
    state_dir, store = opened
    from ..engine.store import reap_orphans

    reap_orphans(state_dir)  # a dead runner's processes end, and its run is recorded, before it is forgotten
    removed = store.purge(keep=args.keep, older_than=args.older_than, everything=args.all)
    if not removed:
        err.write("flowtui: nothing to purge\n")
        return EXIT_NOTHING
    out.write(f"purged {len(removed)} run{'s' if len(removed) != 1 else ''}\n")
    return EXIT_OK
