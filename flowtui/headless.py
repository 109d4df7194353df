"""`flowtui run --no-ui`: the run on the main thread, reporters attached, approvals decided.

Approvals: `--reject GLOB` and `--approve GLOB` / `--approve-all` decide at once; otherwise a TTY
prompt asks; otherwise the run waits for another terminal at most `--approval-timeout` (default 0:
reject at once, naming the flags), so CI never hangs on a prompt.
"""

import errno
import os
import signal
import sys
import threading

from .engine.controller import Controller
from .engine.events import Notice
from .engine.process import kill_stragglers
from .engine.run import AUTO_PAUSE as _AUTO_PAUSE
from .engine.who import current_user

EXIT_FAILED = 1


def _shell_quoted(text):
    """`text` in single quotes, as a shell reads it back (Python's repr switches to double quotes)."""
    return "'" + text.replace("'", "'\\''") + "'"


class ApprovalDecider:
    def __init__(self, run, *, approve=(), approve_all=False, reject=(), values=None, timeout=0.0,
                 interactive=False, out=sys.stderr):
        self.run, self.controller = run, Controller(run)
        self.approve, self.approve_all, self.reject = tuple(approve), approve_all, tuple(reject)
        self.values = dict(values or {})
        self.timeout, self.interactive, self.out = timeout, interactive, out
        self._asking = threading.Lock()
        self._pauses = 0  # autoPauses so far: an expiry only stops the pause it was set for
        run.bus.subscribe(self)

    def _matches(self, task, patterns):
        """The exact id, else a glob: fnmatch reads the `[0]` of `printOrders/printOne[0]` as a
        character class, so that id given as it is printed would match nothing."""
        from fnmatch import fnmatchcase

        return any(task == p or fnmatchcase(task, p) for p in patterns)

    def __call__(self, event):
        if event.type == "run_paused" and (event.by or "").startswith(_AUTO_PAUSE):
            self._auto_paused(event)
        if event.type != "approval_requested":
            return
        task = event.task
        if self._matches(task, self.reject):
            self.run.reactor.call_soon(self.run.reject, task, "--reject", "matched --reject")
        elif self.approve_all or self._matches(task, self.approve):
            self.run.reactor.call_soon(self._approve, task, "--approve-all" if self.approve_all else "--approve")
        elif self.interactive:
            threading.Thread(target=self._ask, args=(event,), daemon=True).start()
        else:
            self.run.reactor.call_later(self.timeout or 0.0, self._expire, task)

    def _auto_paused(self, event):
        """A Fluxor `autoPause` parks the run for an operator, as a gate does: asked on a terminal,
        else given `--approval-timeout` to be resumed from another terminal, then stopped, so CI
        never waits for ever."""
        self._pauses += 1
        if self.interactive:
            threading.Thread(target=self._ask_resume, args=(event,), daemon=True).start()
        else:
            self.run.reactor.call_later(self.timeout or 0.0, self._pause_expired, self._pauses, event.by)

    def _pause_expired(self, pause, by):
        if self.run.paused and pause == self._pauses:
            wait = f"waited {self.timeout:g}s; " if self.timeout else ""
            self.run.emit(Notice("warning", f"{by}: nobody resumed the run ({wait}no terminal to ask): stopping it; "
                                 f"pass {self._longer()}--approval-timeout and resume it from another terminal "
                                 "(flowtui resume)", None))
            self.run.stop(by="flowtui")

    def _ask_resume(self, event):
        with self._asking:
            if not self.run.paused:
                return
            answer = self._read(f"\n? {event.by}: resume? [Y/n/stop]: ")
            if answer is None:
                return
            answer = answer.strip().lower()
            if answer in ("", "y", "yes"):
                self.controller.resume(by=current_user()).wait()
            elif answer in ("s", "stop"):
                self.controller.stop(by=current_user()).wait()
            else:
                self.out.write("  still paused: resume or stop it from any terminal (flowtui resume / flowtui stop)\n")

    def _approve(self, task, by):
        ok, message = self.run.approve(task, by=by, values=self.values)
        if not ok:  # e.g. a required field has no --set value: nothing can answer it here
            if message.startswith("missing value"):
                approval = self.run.nodes[task].approval
                fields = approval.fields if approval is not None else ()
                wanted = [f.id for f in fields if f.required and f.id not in self.values and f.default is None]
                message += "; pass " + " ".join(f"--set {name}=VALUE" for name in wanted)
            self.run.reject(task, by=by, reason=message)

    def _expire(self, task):
        if task in self.run.approvals:
            wait = f"waited {self.timeout:g}s; " if self.timeout else ""
            self.run.reject(task, by="flowtui", reason=(
                f"no approval ({wait}no terminal to ask): pass --approve {_shell_quoted(task)}, --approve-all, "
                f"or {self._longer()}--approval-timeout and approve from another terminal"
            ))

    def _longer(self):
        """The hint's word for --approval-timeout: given already, it was too short."""
        return "a longer " if self.timeout else ""

    def _ask(self, event):
        with self._asking:  # one question at a time on the terminal
            if event.task not in self.run.approvals:
                return
            fields = event.fields or []
            self.out.write(f"\n? {event.prompt} [{event.task}]\n")
            values = dict(self.values)
            for field in fields:
                if field["id"] in values:
                    continue
                hint = f" [{field['default']}]" if field.get("default") else ""
                if field["type"] == "bool":
                    hint += " (y/n)"
                elif field["type"] == "choice":
                    hint += f" ({'/'.join(field['choices'])})"
                answer = self._read(f"  {field['prompt'] or field['id']}{hint}: ")
                if answer is None:
                    return
                if answer or field.get("default") is None:
                    values[field["id"]] = answer
            answer = self._read("  approve? [y/N/reason to reject]: ")
            if answer is None:
                return
            if answer.strip().lower() in ("y", "yes"):
                reply = self.controller.approve(event.task, by=current_user(), values=values).wait()
                if not reply.ok:
                    self.out.write(f"  {reply.message}\n")
            else:
                reason = answer.strip() if answer.strip().lower() not in ("", "n", "no") else None
                self.controller.reject(event.task, by=current_user(), reason=reason).wait()

    def _read(self, prompt):
        self.out.write(prompt)
        self.out.flush()
        line = sys.stdin.readline()
        return None if line == "" else line.rstrip("\n")


def say(text):
    """A line on stderr, which may be gone too (a closed terminal, `2>&1 | head`): what follows must
    happen all the same."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        quiet(sys.stderr)


def quiet(stream):
    """Point `stream`'s descriptor at /dev/null: what Python still holds for it goes there at exit
    instead of an `Exception ignored … BrokenPipeError` and exit 120."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # not a file (a StringIO), or closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def install_signals(run):
    """SIGINT/SIGTERM/SIGHUP: cancel (process groups terminated, teardown runs), exit 130. A second
    SIGINT or SIGTERM kills what runs and skips the hooks left, but the run still ends and its
    reports are written (CI cancels with SIGINT then SIGTERM); a third exits at once. A second
    SIGHUP changes nothing: a closed terminal can send two (the kernel's and the shell's)."""
    seen = []

    def handler(signum, frame):
        if signum == signal.SIGHUP and seen:
            return
        seen.append(signum)
        if len(seen) == 1:
            what = "hangup" if signum == signal.SIGHUP else "interrupted"
            again = "" if signum == signal.SIGHUP else " (again to kill)"
            say(f"\nflowtui: {what}: terminating running tasks{again}\n")
            run.reactor.call_threadsafe(run.cancel, signal.Signals(signum).name, True)
        elif len(seen) == 2:
            say("\nflowtui: killing running tasks, no more hooks (again to exit at once)\n")
            run.reactor.call_threadsafe(run.kill_all)
        else:
            for execution in run.all_executions():
                ctx = execution.current
                for proc in ctx.processes if ctx else ():
                    proc.kill()
            os._exit(130)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def stdout_lost(run, out):
    """What the printer does when `out` cannot be written (its reader went away, the terminal hung
    up): as for an interrupt, the run is cancelled (exit 130) and its reports still written."""

    def lost(exc):
        quiet(out)
        if run.finished or run.halt == "cancel":
            say(f"flowtui: cannot write stdout ({exc.strerror}): the rest of the output is dropped\n")
        else:
            say(f"flowtui: cannot write stdout ({exc.strerror}): cancelling the run (terminating running tasks)\n")
            run.reactor.call_soon(run.cancel, "lost stdout", True)

    return lost


def output_problem(args, make_dirs=False):
    """Why a --report/--junit/--events path cannot be written, else None: checked before the flow
    is even loaded, leaving nothing behind; `make_dirs` (once the run is about to start) creates
    the missing directories on the way, as pytest's --junitxml does."""
    for option in ("report", "junit", "events"):
        path = getattr(args, option, None)
        if not path:
            continue
        from .reporters.files import write_problem
        directory = os.path.dirname(os.path.abspath(path))
        try:
            made = _make_dirs(directory)
        except FileExistsError:  # a part of the path is a file
            return f"flowtui: cannot write --{option} {path}: {os.strerror(errno.ENOTDIR)}"
        except OSError as exc:
            return f"flowtui: cannot write --{option} {path}: {exc.strerror}"
        if made and not make_dirs:
            for name in reversed(made):  # they could be made: the run makes them once it starts
                os.rmdir(name)
            continue
        if os.path.isdir(path):
            return f"flowtui: cannot write --{option} {path}: is a directory"
        exc = write_problem(path, replace=option != "events")
        if exc is not None:
            return f"flowtui: cannot write --{option} {path}: {exc.strerror or exc}"
    return None


def _make_dirs(directory):
    """Create `directory` and its missing parents; the ones created, outermost first."""
    missing = []
    while not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), directory)
        missing.append(directory)
        directory = os.path.dirname(directory)
    made = []
    try:
        for name in reversed(missing):
            os.mkdir(name)
            made.append(name)
    except OSError:
        for name in reversed(made):
            os.rmdir(name)
        raise
    return made


def run_headless(run, args, out=sys.stdout, ended=None) -> int:
    """Drive `run` to its end printing its output; `ended()` is called once its loop has stopped,
    before the reports are written (`Recording.ended`: the socket must not outlive the loop)."""
    from .reporters.console import ConsolePrinter
    from .reporters.tails import Tails

    problem = output_problem(args, make_dirs=True)
    if problem:
        sys.stderr.write(problem + "; nothing was run\n")
        return 2
    tails = Tails(run.bus)
    ConsolePrinter(run, out, tails, on_lost=stdout_lost(run, out))
    events = None
    if args.events:
        from .reporters.jsonl import EventsWriter

        try:
            events = EventsWriter(run.bus, args.events)
        except OSError as exc:  # a socket, say: what is not a file is only opened now
            sys.stderr.write(f"flowtui: cannot write --events {args.events}: {exc.strerror}; nothing was run\n")
            return 2
    interactive = sys.stdin.isatty()
    ApprovalDecider(
        run, approve=args.approve or (), approve_all=args.approve_all, reject=args.reject or (),
        values=args.sets, timeout=args.approval_timeout, interactive=interactive,
    )
    install_signals(run)
    run.owns_cwd = True  # the store thread uses absolute paths only; nothing else runs meanwhile
    # No terminal and no wait for another one (CI): a task's prompt gets end of input, not a hang.
    run.stdin_null = not interactive and not args.approval_timeout
    try:
        code = run.run_to_end()
    except Exception as exc:  # a bug in flowtui (a reporter, the engine): the run cannot go on
        kill_stragglers()
        say(internal_error(exc, args))
        return EXIT_FAILED
    finally:
        kill_stragglers()
        if ended:
            ended()
        if events:
            events.close()
    code = events_outcome(events, args.events, code)
    return write_reports(run, args, tails, code)


def internal_error(exc, args):
    """The one line that reports a bug which ended the run loop: what was raised and where it was
    raised (a traceback's last lines), not a traceback in the middle of CI's log. The run never
    ended, so there is no outcome for the reports to give."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    where = f" (at {os.path.basename(code.co_filename)}:{tb.tb_lineno} in {code.co_name})" if code else ""
    unwritten = [f"--{option}" for option in ("report", "junit") if getattr(args, option)]
    reports = f", {' and '.join(unwritten)} not written" if unwritten else ""
    what = " ".join(str(exc).split("\n"))
    return (f"flowtui: internal error: {type(exc).__name__}: {what}{where}; running tasks were killed"
            f"{reports}; this is a bug in flowtui, please report it\n")


def events_outcome(events, path, code):
    """The exit code once --events is closed: 1, not 0, when it could not be written all through
    (a full disk), said in one line, as for a report."""
    if events is None or events.error is None:
        return code
    then = "" if code else " (exit 1, though the run succeeded)"
    say(f"flowtui: cannot write --events {path}: {events.error.strerror or events.error}{then}\n")
    return code or EXIT_FAILED


def write_reports(run, args, tails, code):
    """Write --report and --junit; returns the exit code: 1, not 0, when one could not be written,
    so CI does not pass without the report it asked for (the run's own failure code is kept)."""
    for option, path in (("report", args.report), ("junit", args.junit)):
        if not path:
            continue
        try:
            if option == "report":
                from .reporters.json_report import write_report

                write_report(run, path)
            else:  # imported only when asked for: xml.sax.saxutils loads urllib, email, ssl…
                from .reporters.junit import write_junit

                write_junit(run, tails, path)
        except OSError as exc:  # e.g. the disk filled up during the run
            then = "" if code else " (exit 1, though the run succeeded)"
            say(f"flowtui: cannot write --{option} {path}: {exc.strerror or exc}{then}\n")
            code = code or EXIT_FAILED
    return code
