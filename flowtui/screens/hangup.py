"""Leaving the TUI cleanly when its terminal goes away (the window closed, ssh dropped).

After a hangup every write to the terminal fails with EIO. Textual's writer thread dies on the
first one and the app then blocks for good on its full output queue, so the run was neither
cancelled nor reported. The driver here writes through a file that drops output once the
terminal is gone, and SIGHUP points the standard descriptors at /dev/null before leaving.
"""

import os
import signal

from textual.drivers.linux_driver import LinuxDriver


class _Forgiving:
    """The terminal as a file whose writes stop (silently) once it is gone."""

    def __init__(self, file):
        self._file, self._gone = file, False

    def write(self, text):
        if not self._gone:
            try:
                self._file.write(text)
            except OSError:
                self._gone = True

    def flush(self):
        if not self._gone:
            try:
                self._file.flush()
            except OSError:
                self._gone = True

    def fileno(self):
        return self._file.fileno()


class HangupSafeDriver(LinuxDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._file = _Forgiving(self._file)


def leave_on_signals(app):
    """SIGHUP and SIGTERM leave the app as `q` would, without asking (the caller then cancels the
    run, waits for its teardown and writes its reports). Returns the handlers to put back."""

    def leave(signum, frame):
        if signum == signal.SIGHUP:  # nobody reads or sees the terminal any more
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
        app.exit()

    return {signum: signal.signal(signum, leave) for signum in (signal.SIGHUP, signal.SIGTERM)}
