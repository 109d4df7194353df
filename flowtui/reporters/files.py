"""Report files, written through to what the path names.

A regular file (or a new name) is replaced atomically, so a reader never sees half a report; the
rename lands on a symlink's target, not on the link. A FIFO, a device or an already open file
(`/dev/stdout` is a link in /proc) is opened and written: renaming onto it would replace it.
"""

import contextlib
import errno
import os
import stat

_MAX_LINKS = 40  # as Linux: more links than this in one lookup is a loop


def _target(path):
    """The name a write to `path` lands on, its symlinks followed; None for a link in /proc (an
    open file's descriptor, e.g. /dev/stdout), which is no name to rename onto."""
    path = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if not os.path.islink(path):
            return path
        if path.startswith("/proc/"):
            return None
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def _kind(target):
    """'new', 'file', or 'other' (a FIFO, a device, a socket, or no name to replace)."""
    if target is None:
        return "other"
    try:
        return "file" if stat.S_ISREG(os.stat(target).st_mode) else "other"
    except FileNotFoundError:
        return "new"


def _new_temp(directory):
    """(name, fd) of a new empty file in `directory` (the rename stays on one file system), with a
    short name: a legal 255-byte report name must not fail because of it."""
    while True:
        name = os.path.join(directory, f".flowtui-{os.urandom(4).hex()}.tmp")
        try:
            return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def write_atomically(path, text):
    target = _target(path)
    if _kind(target) == "other":
        with open(path, "a", encoding="utf-8") as handle:  # append: /dev/stdout may be a log being written
            handle.write(text)
        return
    tmp, fd = _new_temp(os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_problem(path, replace=True):
    """The OSError writing `path` would raise, found before a run without changing anything; else None.

    `replace`: the file is replaced by a rename (a new file must fit beside it), else opened. A FIFO
    or a device is not opened here: a FIFO's reader may only come when the run ends.
    """
    try:
        target = _target(path)
        kind = _kind(target)
        if kind == "new":  # the name itself: too long, a read-only file system, no such directory…
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            os.unlink(target)
        elif kind == "file" and replace:
            try:
                tmp, fd = _new_temp(os.path.dirname(target))
            except OSError as exc:  # the report replaces the file by a rename: say why that cannot be
                return OSError(exc.errno, f"cannot create a file beside it to replace it ({exc.strerror})")
            os.close(fd)
            os.unlink(tmp)
        elif kind == "file":
            os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        return exc
    return None
