"""Child processes in their own process group, streamed line by line through the reactor."""

import errno
import os
import signal

# Characters and words that need a real shell. Anything else is exec'd directly, as make does:
# it saves a /bin/sh start per task and behaves the same.
_SHELL_CHARS = frozenset("|&;<>()$`\\\"'*?[]#~=%{}!\n\t")
_SHELL_WORDS = frozenset(
    "if then else elif fi case esac for while until do done function select time in ! { } [[ ]] "
    "cd export unset set exit exec eval source . alias unalias read readonly return shift trap "
    "ulimit umask wait command builtin type hash local declare typeset let break continue "
    ": times getopts jobs fg bg fc".split()
)
_READ_SIZE = 65536
_PIPE_MAX = 1 << 20  # what a pipe may hold: Linux's pipe-max-size, up to which a task may enlarge its own
_DRAWING_MAX = 4096  # an unfinished line longer than this (and with no \r) is not copied at every read
# Python ignores SIGPIPE (and SIGXFSZ); a child must get the defaults back, as Popen gives them.
_DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
_GROUPS = set()  # process groups started here and not yet known to be gone
_SEALED = []  # non-empty once inherited descriptors were made close-on-exec
_HOME = []  # [descriptor of the runner's working directory, or None when it cannot be opened]


def _home():
    """A descriptor to come back to the runner's directory after a chdir (O_PATH: even one it may
    not read), opened once; None if there is none: tasks with a directory then use subprocess."""
    if not _HOME:
        try:
            _HOME.append(os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC))
        except OSError:
            _HOME.append(None)
    return _HOME[0]


def kill_stragglers():
    """SIGKILL every process group that may still have a member (the runner is exiting): those
    waiting out their grace period, and those of tasks still running when the run loop died of a bug."""
    for pgid in list(_GROUPS):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _GROUPS.discard(pgid)


def _seal_inherited_fds():
    """Make the descriptors flowtui inherited close-on-exec, once: its tasks must not get them
    (what Popen's close_fds does per spawn). Descriptors Python opens are close-on-exec already."""
    _SEALED.append(True)
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd")]
    except OSError:
        return
    for fd in fds:
        try:
            if fd > 2 and os.get_inheritable(fd):
                os.set_inheritable(fd, False)
        except OSError:  # the listing's own descriptor, closed by now
            pass


def _resolve(program, env):
    """The file exec'd for `program`, searched on the task's PATH (as Popen does)."""
    if "/" in program:
        return program
    for directory in (env if env is not None else os.environ).get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, "No such file or directory", program)


def argv_for(cmd: str):
    """The argv that runs shell text `cmd`: direct exec when no shell feature is involved."""
    words = cmd.split()
    if words and not (_SHELL_CHARS.intersection(cmd) or words[0] in _SHELL_WORDS):
        return words
    return ["/bin/sh", "-c", cmd]


def _size_terminal(fd, env):
    """A pseudo-terminal's size: $COLUMNS x $LINES of the task's environment, else 80x24 (a new one
    is 0x0, which programs that lay out a progress bar or a table take literally)."""
    import fcntl
    import struct
    import termios

    def number(name, default):
        value = (env if env is not None else os.environ).get(name, "")
        return int(value) if value.isdigit() and 0 < int(value) < 10000 else default

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", number("LINES", 24), number("COLUMNS", 80), 0, 0))


def _controlling_terminal():
    """What makes the pty (stdin, after setsid) the task's controlling terminal: /dev/tty, where ssh,
    sudo and getpass ask, is then the pty. Not when nobody can answer (stdin is /dev/null): without
    a /dev/tty such a prompt reads stdin, gets end of input and fails, rather than wait for ever."""
    import fcntl
    import termios
    from functools import partial

    return partial(fcntl.ioctl, 0, termios.TIOCSCTTY, 0)


class LineSplitter:
    """Turns a byte stream into blocks of complete text lines; keeps the partial tail for the next chunk."""

    __slots__ = ("_tail",)

    def __init__(self):
        self._tail = []  # the chunks of a line not ended yet: joined once, when it ends

    def feed(self, chunk: bytes):
        """The complete lines of `chunk` as one text (joined by newlines), or None: decoded at once
        and never split here, so a flood costs a few C calls per read whatever its line count.
        A line spanning many reads (a progress bar, a minified file) is joined once, not re-copied
        at every read."""
        end = chunk.rfind(b"\n")
        if end < 0:
            if chunk:
                self._tail.append(chunk)
            return None
        data = chunk[:end]
        if self._tail:
            self._tail.append(data)
            data = b"".join(self._tail)
            self._tail = []
        if end + 1 < len(chunk):
            self._tail.append(chunk[end + 1:])
        return _without_cr(data.decode("utf-8", "replace"))

    def drawing(self):
        """The unfinished line as a terminal shows it now (its last drawing after a `\r`), or None:
        no such line, or one too long to copy at every read without a `\r` in the newest chunk."""
        tail = self._tail
        if not tail:
            return None
        last = tail[-1]
        if last.rfind(b"\r", 0, len(last) - 1) >= 0:
            data = last
        elif len(tail) <= 4 and sum(map(len, tail)) <= _DRAWING_MAX:
            data = b"".join(tail)
        else:
            return None
        data = data.rstrip(b"\r")  # a final \r only returns the cursor: the drawing stays on screen
        return data[data.rfind(b"\r") + 1:].decode("utf-8", "replace")

    @property
    def pending(self) -> bool:
        return bool(self._tail)

    def flush(self):
        tail, self._tail = b"".join(self._tail), []
        return _without_cr(tail.decode("utf-8", "replace")) if tail else None


def _without_cr(text):
    """CRLF line ends (and any carriage returns ending a line) dropped, as a terminal shows them."""
    return "\n".join(line.rstrip("\r") for line in text.split("\n")) if "\r" in text else text


class Process:
    """One running command. `on_output(stream, text)` streams output, complete lines joined by
    newlines; `on_exit(code)` ends it.

    Exit codes follow the shell: 128+N when killed by signal N, 127 when the program is missing.
    """

    def __init__(self, reactor, argv, *, env=None, cwd=None, pty=False, owns_cwd=False, stdin_null=False,
                 on_output, on_exit, on_partial=None):
        self.reactor, self.on_output, self.on_exit = reactor, on_output, on_exit
        self.on_partial = on_partial  # (stream, text): the unfinished line's drawing, after each read
        self.returncode = None
        self.popen = None  # only when spawned through subprocess (pty, working directory)
        self._status = None  # wait status of a posix_spawn'ed child
        self.stdin_fd = None
        self._unsent = b""  # input the process has not taken yet: written as it reads
        self._streams = {}
        self._kill_timer = None
        self._pidfd = None
        self._poll_timer = None
        self._stdin_null = stdin_null  # the child reads /dev/null: nothing will ever be sent to it
        try:
            self._start(argv, env, cwd, pty, owns_cwd)
        except OSError as exc:
            self.pid = None
            message = f"flowtui: {argv[0]}: {exc.strerror or exc}"
            code = 127 if isinstance(exc, FileNotFoundError) else 126  # as sh: missing 127, not executable 126
            if isinstance(exc, (NotADirectoryError,)) or (cwd and not os.path.isdir(cwd)):
                message, code = f"flowtui: working directory {cwd}: {exc.strerror}", 1
            reactor.call_soon(self._fail_to_start, message, code)

    def _start(self, argv, env, cwd, pty, owns_cwd):
        try:
            self._start_argv(argv, env, cwd, pty, owns_cwd)
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                raise
            # A script without a `#!` line: the shell runs it, as execvp, sh and make do.
            self._start_argv(["/bin/sh", _resolve(argv[0], env), *argv[1:]], env, cwd, pty, owns_cwd)
        _GROUPS.add(self.pid)
        try:
            self._pidfd = os.pidfd_open(self.pid)
            self.reactor.add_reader(self._pidfd, self._reap)
        except (AttributeError, OSError):  # no pidfd (not Linux): poll for the exit instead
            self._poll_timer = self.reactor.call_later(0.01, self._poll)

    def _start_argv(self, argv, env, cwd, pty, owns_cwd):
        if pty or (cwd and not (owns_cwd and _home() is not None)) or not hasattr(os, "posix_spawn"):
            self._popen(argv, env, cwd, pty)
        elif cwd:
            self._spawn_in(cwd, argv, env)
        else:
            self._spawn(argv, env)

    def _spawn(self, argv, env):
        """posix_spawn: a vfork and exec done in C, a fraction of Popen's cost per task.

        Pipes are close-on-exec, so the child gets only its stdin, stdout and stderr.
        """
        if not _SEALED:
            _seal_inherited_fds()
        program = _resolve(argv[0], env)
        fds = []
        try:
            for _ in range(2 if self._stdin_null else 3):
                fds.extend(os.pipe())
            if self._stdin_null:
                out_r, out_w, err_r, err_w = fds
                stdin = (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)
            else:
                in_r, in_w, out_r, out_w, err_r, err_w = fds
                stdin = (os.POSIX_SPAWN_DUP2, in_r, 0)
            self.pid = os.posix_spawn(
                program, argv, os.environ if env is None else env,
                file_actions=[stdin, (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)],
                setsid=True, setsigdef=_DEFAULT_SIGNALS,
            )
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        for fd in (out_w, err_w) if self._stdin_null else (in_r, out_w, err_w):
            os.close(fd)
        self.stdin_fd = None if self._stdin_null else in_w
        if self.stdin_fd is not None:
            os.set_blocking(self.stdin_fd, False)
        self._watch(out_r, "stdout")
        self._watch(err_r, "stderr")

    def _spawn_in(self, cwd, argv, env):
        """posix_spawn in `cwd` (Python's has no chdir action): the runner itself changes directory
        around the spawn, as Ruby's posix-spawn does. Only for callers whose process has no other
        thread resolving relative paths meanwhile (`owns_cwd`); the rest go through subprocess."""
        os.chdir(cwd)
        try:
            self._spawn(argv, env)
        finally:
            os.fchdir(_home())

    def _popen(self, argv, env, cwd, pty):
        import subprocess

        if pty:
            master, slave = os.openpty()
            try:
                _size_terminal(slave, env)
                self.popen = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL if self._stdin_null else slave, stdout=slave, stderr=slave,
                    env=env, cwd=cwd, start_new_session=True, close_fds=True,
                    preexec_fn=None if self._stdin_null else _controlling_terminal(),
                )
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            self.stdin_fd = None if self._stdin_null else os.dup(master)  # its own fd: watched for writing
            self._watch(master, "pty")
        else:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL if self._stdin_null else subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True, close_fds=True,
            )
            self.stdin_fd = None if self._stdin_null else self.popen.stdin.fileno()
            if self.stdin_fd is not None:
                os.set_blocking(self.stdin_fd, False)
            self._watch(self.popen.stdout.fileno(), "stdout")
            self._watch(self.popen.stderr.fileno(), "stderr")
        self.pid = self.popen.pid

    def _watch(self, fd, stream):
        os.set_blocking(fd, False)
        self._streams[fd] = (stream, LineSplitter())
        self.reactor.add_reader(fd, lambda: self._read(fd))

    def _read(self, fd) -> int:
        """Read one chunk; its size, 0 when nothing was there (would block, or end of stream)."""
        entry = self._streams.get(fd)
        if entry is None:  # closed earlier in the same loop turn: the exit was reaped first
            return 0
        stream, splitter = entry
        try:
            chunk = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return 0
        except OSError:  # EIO: the pty's other side closed
            chunk = b""
        if not chunk:
            self._close_stream(fd)
            self._output_ended()
            return 0
        text = splitter.feed(chunk)
        if text is not None:
            self.on_output(stream, text)
        if self.on_partial is not None and splitter.pending:
            drawing = splitter.drawing()
            if drawing is not None:
                self.on_partial(stream, drawing)
        return len(chunk)

    def _drain(self, fd):
        """Read what `fd` holds now (to its end, if it ended), not what is written meanwhile: a child
        left in the background (`yes &`) may write faster than flowtui reads, for ever. A pipe
        holds at most `_PIPE_MAX` bytes, so reading that much has read what it held."""
        left = _PIPE_MAX
        while fd in self._streams and left > 0:
            got = self._read(fd)
            if not got:  # nothing there now, or its end
                return
            left -= got

    def _output_ended(self):
        """One stream ended: most likely the process exited, which closes all of them at once, so
        read what the others hold now and reap it, rather than wake up once per descriptor."""
        for fd in list(self._streams):
            self._drain(fd)
        if not self._streams and self._pidfd is not None and self._exit_code(block=False) is not None:
            self._finish()  # it closed its output by exiting: no need to wait for the pidfd

    def _close_stream(self, fd):
        stream, splitter = self._streams.pop(fd)
        self.reactor.remove_reader(fd)
        tail = splitter.flush()
        if tail is not None:
            self.on_output(stream, tail)
        if stream == "pty":
            os.close(fd)
            self._close_stdin()
        elif self.popen is None:
            os.close(fd)

    def _exit_code(self, block):
        """The child's exit code (negative: killed by that signal), or None while it runs."""
        if self.popen is not None:
            return self.popen.wait() if block else self.popen.poll()
        if self._status is None:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def _poll(self):
        if self._exit_code(block=False) is None:
            self._poll_timer = self.reactor.call_later(0.01, self._poll)
        else:
            self._finish()

    def _reap(self):
        if self._pidfd is None:  # already finished when its output ended
            return
        self._exit_code(block=True)
        self._finish()

    def _finish(self):
        if self._pidfd is not None:
            self.reactor.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        # Drain what the leader wrote before exiting; stragglers left in its group are ended so
        # a finished task leaves no process behind.
        for fd in list(self._streams):
            self._drain(fd)
        if self._signal_group(signal.SIGTERM) and self._kill_timer is None:
            self._kill_timer = self.reactor.call_later(3.0, lambda: self._signal_group(signal.SIGKILL))
        for fd in list(self._streams):
            self._close_stream(fd)
        self._close_stdin()
        if self.popen is not None:
            for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
                if pipe is not None:
                    pipe.close()
        code = self._exit_code(block=True)
        self.returncode = 128 - code if code < 0 else code
        self.on_exit(self.returncode)

    def _fail_to_start(self, message, code):
        self.returncode = code
        self.on_output("stderr", message)
        self.on_exit(code)

    # -- control --------------------------------------------------------------------------
    def _signal_group(self, sig):
        if self.pid is None:
            return False
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            _GROUPS.discard(self.pid)
            return False
        if sig == signal.SIGKILL:
            _GROUPS.discard(self.pid)
        return True

    def terminate(self, grace=3.0):
        """SIGTERM the whole process group, then SIGKILL whatever is left after `grace` seconds."""
        if self.returncode is None and self._signal_group(signal.SIGTERM) and self._kill_timer is None:
            self._kill_timer = self.reactor.call_later(grace, lambda: self._signal_group(signal.SIGKILL))

    def kill(self):
        """SIGKILL the whole process group now (a second Ctrl-C: no more waiting)."""
        self._signal_group(signal.SIGKILL)

    def write(self, text: str) -> bool:
        """Send a line to the process's stdin (or pty). It is written as the process reads it:
        a task that does not read, or a line longer than the pipe holds, never blocks the engine.
        False when it no longer reads."""
        if self.stdin_fd is None or self.returncode is not None:
            return False
        data = text.encode() + (b"" if text.endswith("\n") else b"\n")
        if self._unsent:
            self._unsent += data
            return True
        try:
            sent = os.write(self.stdin_fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:  # it closed its stdin
            return False
        if sent < len(data):
            self._unsent = data[sent:]
            self.reactor.add_writer(self.stdin_fd, self._send_unsent)
        return True

    def _send_unsent(self):
        try:
            sent = os.write(self.stdin_fd, self._unsent)
        except BlockingIOError:
            return
        except OSError:  # it closed its stdin: the rest is dropped
            sent = len(self._unsent)
        self._unsent = self._unsent[sent:]
        if not self._unsent:
            self.reactor.remove_reader(self.stdin_fd)  # unregisters the descriptor, whichever way it was watched

    def _close_stdin(self):
        """No more input: what the process did not take is dropped."""
        fd, self.stdin_fd = self.stdin_fd, None
        if fd is None:
            return
        if self._unsent:
            self.reactor.remove_reader(fd)
            self._unsent = b""
        if self.popen is None or self.popen.stdin is None:  # ours (a pipe, the pty's dup), not Popen's
            os.close(fd)

    @property
    def running(self):
        return self.returncode is None
