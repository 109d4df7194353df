"""Where flowtui keeps its run store, logs and control sockets.

Hand-written rather than platformdirs: importing that costs half the headless cold-start budget.
The directory holds sockets that steer runs, so one writable by other users is refused.
"""

import os
import stat
import sys

PRIVATE_SUBDIRS = ("runs", "sockets")  # what steers or records runs: same rules as the state dir


class StateDirError(Exception):
    """The state directory cannot be used (unsafe permissions, not a directory, not creatable)."""


def default_dir() -> str:
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "flowtui")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(base, "flowtui")


def resolve(arg=None) -> str:
    """The state dir from `--state-dir`, else FLOWTUI_STATE_DIR, else the platform's; created 0700."""
    path = os.path.abspath(os.path.expanduser(arg or os.environ.get("FLOWTUI_STATE_DIR") or default_dir()))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise StateDirError(f"state dir {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"state dir {path}: not a directory")
    check_private(path, info)
    if not os.access(path, os.W_OK | os.X_OK):  # a read-only mount: the store and sockets need writes
        raise StateDirError(f"state dir {path} is not writable: pick another with --state-dir")
    for name in PRIVATE_SUBDIRS:  # checked now, not halfway through starting a run
        try:
            sub = os.stat(os.path.join(path, name))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StateDirError(f"state dir {path}/{name}: {exc.strerror or exc}") from None
        check_private(os.path.join(path, name), sub)
    return path


def check_private(path, info=None):
    """Raise StateDirError when `path` is writable by group or others, or owned by someone else."""
    info = info or os.stat(path)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateDirError(
            f"state dir {path} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}): "
            f"run `chmod go-w {path}` or pick another with --state-dir"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StateDirError(f"state dir {path} belongs to another user (uid {info.st_uid})")


def private_subdir(state_dir, name) -> str:
    """`state_dir/name`, created 0700 and checked like the state dir itself."""
    path = os.path.join(state_dir, name)
    os.makedirs(path, mode=0o700, exist_ok=True)
    check_private(path)
    return path
