"""Command line: `flowtui run | validate | graph` and the store/control commands.

Only argparse is imported up front; each command imports what it needs, so `run --no-ui` never
loads Textual, YAML or jsonschema unless the flow calls for them.
"""

import argparse
import functools
import os
import sys

from . import __version__
from .commands.history import pair_type

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _seconds(text):
    from .engine.durations import parse_duration

    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _format_args(p):
    p.add_argument("--format", default="auto", choices=["auto", "flowctrl", "fluxor", "floe"],
                   help="file format (default: detect)")
    p.add_argument("--set", dest="sets", action="append", type=pair_type("KEY"), default=[], metavar="KEY=VALUE",
                   help="Fluxor initial state / Floe form values / environment for Flow-CTRL tasks (repeatable)")
    p.add_argument("--flow", help="Floe: the flow to run when the config holds several")
    p.add_argument("--trigger", help="Floe: the trigger that starts the run")
    p.add_argument("--policy", choices=["auto", "ask", "deny"], help="Fluxor approval policy for every task")
    p.add_argument("--state-dir", help="where runs, logs and sockets live (default: $FLOWTUI_STATE_DIR, "
                   "else the user state dir)")


@functools.cache
def _columns():
    """The terminal's width as `shutil.get_terminal_size` reads it: $COLUMNS, else stdout's, else 80.
    Read once: every add_argument builds a formatter."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, given the width: without it, HelpFormatter imports shutil (and with it
    bz2, lzma and zlib), ~3 ms of every start, since each add_argument builds a formatter."""

    def __init__(self, prog, **kwargs):
        kwargs.setdefault("width", _columns() - 2)
        super().__init__(prog, **kwargs)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (and subcommand parsers, which take the parser's class) using `_Formatter`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


class _OnlyOne:
    """Subparsers that define only the command being run. Building every subcommand's parser costs
    ~8 ms at each start (argparse looks up a translation for each of them), a third of Python's own
    start-up; `--help` and unknown commands still get the full parser."""

    def __init__(self, sub, name):
        self.sub, self.name, self.found = sub, name, False

    def add_parser(self, name, **kwargs):
        if name != self.name:
            return _Ignored()
        self.found = True
        return self.sub.add_parser(name, **kwargs)


class _Ignored:
    """What a parser not being built answers to: every definition call is a no-op."""

    def __getattr__(self, _name):
        return lambda *args, **kwargs: self


def build_parser(only=None):
    """The whole command line, or (`only`) just that command's; None when `only` is no command."""
    parser = _Parser(
        prog="flowtui", description="Run Flow-CTRL, Fluxor and Floe workflows in a terminal UI or headless.",
        epilog="Exit codes: 0 succeeded, 1 failed, 2 usage error or invalid flow, 3 stopped or cancelled, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"flowtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if only is not None:
        sub = _OnlyOne(sub, only)

    run = sub.add_parser("run", help="run a flow (TUI when stdin and stdout are terminals, else headless)")
    run.add_argument("file")
    run.add_argument("--no-ui", action="store_true", help="headless: attributed output, exit codes, reports")
    _format_args(run)
    run.add_argument("--max-parallel", type=int, default=None, metavar="N", help="concurrent tasks (default: the CPUs it may use, as nproc counts)")
    run.add_argument("--approve", action="append", metavar="GLOB", help="approve matching tasks (repeatable)")
    run.add_argument("--approve-all", action="store_true", help="approve every gated task")
    run.add_argument("--reject", action="append", metavar="GLOB", help="reject matching tasks (repeatable)")
    run.add_argument("--ask", action="append", default=[], metavar="GLOB", help="require approval before matching tasks (repeatable)")
    run.add_argument("--pty", action="append", default=[], metavar="GLOB",
                     help="run matching tasks in a pseudo-terminal (colours, progress bars, prompts as in a terminal; "
                          "repeatable)")
    run.add_argument("--approval-timeout", type=_seconds, default=0.0, metavar="DURATION",
                     help="headless without a TTY: how long another terminal has to approve a gate or resume an "
                          "autoPause, tasks' stdin kept open for flowtui send (default 0: reject, stop, and tasks "
                          "read /dev/null)")
    run.add_argument("--max-iterations", type=int, default=10000, metavar="N", help="loop guard: iterations of a Fluxor goto loop (default 10000)")
    run.add_argument("--report", metavar="PATH", help="write the JSON report here")
    run.add_argument("--junit", metavar="PATH", help="write JUnit XML here")
    run.add_argument("--events", metavar="PATH", help="write every engine event as JSON Lines here")
    run.add_argument("--resume", action="store_true",
                     help="continue the latest unfinished run of FILE with its recorded options: what succeeded "
                          "does not run again")
    run.add_argument("--force", action="store_true", help="with --resume: even though the file changed")

    validate = sub.add_parser("validate", help="check a flow file: a summary, or every problem (exit 2)")
    validate.add_argument("file")
    _format_args(validate)

    graph = sub.add_parser("graph", help="print the flow's DAG as Graphviz dot or Mermaid")
    graph.add_argument("file")
    _format_args(graph)
    style = graph.add_mutually_exclusive_group()
    style.add_argument("--dot", dest="style", action="store_const", const="dot", help="Graphviz (default)")
    style.add_argument("--mermaid", dest="style", action="store_const", const="mermaid", help="Mermaid flowchart")

    from .commands import add_parsers

    add_parsers(sub)
    return None if only is not None and not sub.found else parser


def _options(args):
    from .engine.loaders import LoadOptions

    return LoadOptions(
        sets=dict(args.sets), flow=args.flow, trigger=args.trigger, policy=args.policy,
        max_iterations=getattr(args, "max_iterations", None), state_dir=args.state_dir_path,
        ask=getattr(args, "ask", []), pty=getattr(args, "pty", []), max_parallel=getattr(args, "max_parallel", None),
    )


def _load(args, err, pick=None):
    """(flow, runtime) or an exit code after printing the problems.

    `pick(exc)` may answer a NeedsChoice (the TUI's flow picker); headless lists the choices.
    """
    from .engine.diagnostics import FlowError, NeedsChoice
    from .engine.loaders import load

    options = args.load_options = _options(args)
    try:
        return load(args.file, args.format, options)
    except FlowError as exc:
        for diagnostic in exc.diagnostics:
            err.write(f"{diagnostic}\n")
        return EXIT_USAGE
    except NeedsChoice as exc:
        choice = pick(exc) if pick else None
        if choice:
            setattr(args, exc.kind, choice)
            return _load(args, err, pick)
        err.write(f"{exc}\n")
        for cid, name in exc.choices:
            err.write(f"  {cid}" + (f"  ({name})" if name and name != cid else "") + "\n")
        return EXIT_USAGE


def _load_every_choice(args):
    """([flow], [diagnostic]) of the whole file: where a run needs --flow or --trigger, `validate`
    loads every choice, since the choice matters for a run, not for checking the file."""
    from .engine.diagnostics import FlowError, NeedsChoice
    from .engine.loaders import load

    try:
        return [load(args.file, args.format, _options(args))[0]], []
    except FlowError as exc:
        return [], exc.diagnostics
    except NeedsChoice as exc:
        flows, problems = [], []
        for choice, _ in exc.choices:
            more_flows, more_problems = _load_every_choice(argparse.Namespace(**{**vars(args), exc.kind: choice}))
            flows += more_flows
            problems += [p for p in more_problems if p not in problems]
        return flows, problems


def cmd_validate(args, out, err):
    flows, problems = _load_every_choice(args)
    if problems:
        for diagnostic in problems:
            err.write(f"{diagnostic}\n")
        return EXIT_USAGE
    from .engine.diagnostics import condensed

    summaries, shown = [], set()  # a flow loaded once per trigger has one summary; a config's warnings show once
    for flow in flows:
        summary = _summary(flow)
        if summary not in summaries:
            summaries.append(summary)
            out.write("".join(f"{line}\n" for line in summary))
        new = [w for w in flow.warnings if str(w) not in shown]
        shown.update(map(str, new))
        out.write("".join(f"{line}\n" for line in condensed(new)))
    return EXIT_OK


def _summary(flow):
    from .engine.durations import format_duration
    from .engine.loaders import FORMAT_NAMES

    tasks = flow.tasks()
    groups = [n for n in flow.nodes.values() if n.is_group]
    estimate = sum(t.estimate or 0 for t in tasks)
    lines = [f"{flow.file}: {FORMAT_NAMES.get(flow.format, flow.format)} {flow.name!r} is valid"]
    counts = f"  {len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    if groups:
        counts += f" in {len(groups)} group{'s' if len(groups) != 1 else ''}"
    gated = sum(1 for t in tasks if t.approval)
    hooked = sum(1 for t in tasks if t.hooks)
    if hooked:
        counts += f", {hooked} with hooks"
    if gated:
        counts += f", {gated} gated by approval"
    if estimate:
        counts += f", estimated {format_duration(estimate)}"
    lines.append(counts)
    floe = flow.extra.get("floe") or {}
    if floe.get("hosts"):
        lines.append(f"  hosts: {', '.join(floe['hosts'])} (shown only: flowtui runs the flow on this machine)")
    for key, label in (("host_tags", "host tags"), ("resource_tags", "resource tags")):
        if floe.get(key):
            lines.append(f"  {label}: {', '.join(floe[key])}")
    return lines


def cmd_graph(args, out, err):
    loaded = _load(args, err)
    if isinstance(loaded, int):
        return loaded
    from .engine.graphviz import to_dot, to_mermaid

    out.write(to_mermaid(loaded[0]) if args.style == "mermaid" else to_dot(loaded[0]))
    return EXIT_OK


def _ask_inputs(form, missing, err):
    """Prompt on the terminal for the start form's unanswered fields; None if stdin closes."""
    err.write(f"{form.prompt}\n")
    answers = {}
    for field in form.fields:
        if field.id not in missing:
            continue
        default = f" [{field.default}]" if field.default not in (None, "") else ""
        hint = " (y/n)" if field.type == "bool" else (f" ({'/'.join(field.choices)})" if field.choices else "")
        err.write(f"  {field.prompt or field.id}{hint}{default}: ")
        err.flush()
        line = sys.stdin.readline()
        if not line:
            return None
        answer = line.rstrip("\n")
        if field.type == "bool" and answer:
            answer = "true" if answer.strip().lower() in ("y", "yes", "true", "1") else "false"
        answers[field.id] = answer or (field.default or "")
    return answers


def _tui_pick(exc):
    from .screens.prerun import FlowPicker

    return FlowPicker(exc.path, exc.choices, exc.kind).run()


def _resume(args, state_dir, out, err):
    """`run FILE --resume`: continue the newest run of FILE that did not succeed."""
    from .commands.control import _resume_from_store
    from .engine.store import open_store

    store = open_store(state_dir)
    try:
        args.run = store.latest_unfinished(os.path.abspath(args.file)) or store.latest_unfinished(args.file)
    finally:
        store.close()
    if args.run is None:
        err.write(f"flowtui: no unfinished run of {args.file} to resume (see flowtui runs)\n")
        return EXIT_USAGE
    return _resume_from_store(args, state_dir, out, err)


def _start_form(flow, missing, use_tui, err):
    """Values for the trigger's fields `missing` from `--set`: the TUI's form, else a prompt on a
    terminal; None (said why on `err`) when cancelled or when nobody can answer."""
    if use_tui:
        from .screens.prerun import InputForm

        answers = InputForm(flow.extra["inputs"], missing).run()
        if answers is None:
            err.write("flowtui: start form cancelled; nothing was run\n")
        return answers
    if not sys.stdin.isatty():
        err.write(f"flowtui: {flow.file}: the run needs values for: {', '.join(missing)} (pass --set FIELD=VALUE)\n")
        return None
    return _ask_inputs(flow.extra["inputs"], missing, err)


def cmd_run(args, out, err):
    for option, value in (("--max-parallel", args.max_parallel), ("--max-iterations", args.max_iterations)):
        if value is not None and value < 1:
            err.write(f"flowtui: {option} must be at least 1\n")
            return EXIT_USAGE
    from .headless import output_problem

    problem = output_problem(args)
    if problem:
        err.write(problem + "; nothing was run\n")
        return EXIT_USAGE
    from .engine.statedir import StateDirError, resolve

    try:
        state_dir = args.state_dir_path = resolve(args.state_dir)
    except StateDirError as exc:
        err.write(f"flowtui: {exc}\n")
        return EXIT_USAGE
    from .engine.store.orphans import reap_orphans

    reap_orphans(state_dir)  # a runner killed earlier may have left processes: end them first
    if args.resume:
        ignored = [option for option, value in (("--set", args.sets), ("--flow", args.flow), ("--trigger", args.trigger),
                                                ("--policy", args.policy), ("--ask", args.ask), ("--pty", args.pty))
                   if value]
        if ignored:
            err.write(f"flowtui: warning: --resume continues the run with the options it started with: "
                      f"{', '.join(ignored)} ignored\n")
        return _resume(args, state_dir, out, err)
    use_tui = not args.no_ui and sys.stdout.isatty() and sys.stdin.isatty()
    loaded = _load(args, err, pick=_tui_pick if use_tui else None)
    if isinstance(loaded, int):
        return loaded
    flow, runtime = loaded
    if flow.warnings:
        from .engine.diagnostics import condensed

        err.write("".join(f"{line}\n" for line in condensed(flow.warnings)))
    missing = flow.extra.get("missing_inputs")
    if missing:
        answers = _start_form(flow, missing, use_tui, err)
        if answers is None:
            return EXIT_USAGE
        args.sets.update(answers)
        loaded = _load(args, err)
        if isinstance(loaded, int):
            return loaded
        flow, runtime = loaded
    if args.pty and flow.format == "fluxor":
        err.write("flowtui: warning: --pty does not apply to Fluxor exec tasks: each command's stdout and "
                  "stderr are read apart, which a terminal would merge\n")
    problem = output_problem(args, make_dirs=True)  # the flow is good: now its report directories
    if problem:
        err.write(problem + "; nothing was run\n")
        return EXIT_USAGE
    from .engine.run import new_run_id, run_for
    from .engine.store.logfiles import claim_run_id
    from .engine.who import current_user

    run = run_for(flow, runtime, args.load_options, run_id=claim_run_id(state_dir, new_run_id),
                  max_parallel=args.max_parallel, by=current_user())
    if not args.no_ui and not use_tui:
        err.write("flowtui: not a terminal: running headless (pass --no-ui to say so)\n")
    from .engine.recording import Recording

    with Recording(run, state_dir, args.load_options) as recording:
        if use_tui:
            code = _run_tui(run, args, state_dir, recording.ended)
        else:
            from .headless import run_headless

            code = run_headless(run, args, out, ended=recording.ended)
    if recording.writer.error:
        err.write(f"flowtui: warning: the run store could not record this run: {recording.writer.error}\n")
    return code


def _run_tui(run, args, state_dir, ended):
    from .engine.process import kill_stragglers
    from .headless import events_outcome, write_reports
    from .reporters.tails import Tails
    from .screens.app import main as tui_main
    from .screens.source import LocalSource

    tails = Tails(run.bus)
    events = None
    if args.events:
        from .reporters.jsonl import EventsWriter

        events = EventsWriter(run.bus, args.events)
    try:
        code = tui_main(LocalSource(run), state_dir=state_dir)
    finally:
        kill_stragglers()  # as headless: what waits out its grace period goes when flowtui does
        ended()  # the reactor has stopped: nobody answers the socket any more
        if events:
            events.close()
    return write_reports(run, args, tails, events_outcome(events, args.events, code))


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "graph": cmd_graph}


def _open_closed_std_streams():
    """stdin, stdout or stderr closed (`flowtui run … <&-`): /dev/null in its place, as a daemon
    does. Python leaves such a stream None, and the descriptor number would go to the next file
    opened (the run store), where a task's output or a `print` could land."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False, errors="replace"))  # noqa: SIM115


def main(argv=None, out=None, err=None) -> int:
    _open_closed_std_streams()
    out = out or sys.stdout
    err = err or sys.stderr
    if getattr(out, "errors", None) == "strict" and hasattr(out, "reconfigure"):
        # A stdout that cannot encode ▶ ✔ or a task's output (an ASCII or Latin-1 locale): `?` for
        # what it cannot show, rather than a traceback that leaves the tasks running.
        out.reconfigure(errors="replace")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = (argv and not argv[0].startswith("-") and build_parser(only=argv[0])) or build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(err)
        return EXIT_USAGE
    args.sets = dict(getattr(args, "sets", None) or [])
    args.state_dir_path = getattr(args, "state_dir", None) or os.environ.get("FLOWTUI_STATE_DIR")
    handler = COMMANDS.get(args.command) or args.handler
    try:
        code = handler(args, out, err)
        out.flush()  # now, not at exit: a reader gone is an error Python would report as exit 120
        return code
    except BrokenPipeError:  # `flowtui runs | head`: a run's own printer handles this and cancels
        from .headless import quiet

        quiet(out)
        return EXIT_FAILED
