"""Where runs' control sockets live, and which runs are live (their socket accepts a connection)."""

import os
import socket

SUFFIX = ".sock"
PROTOCOL_VERSION = 1


def sockets_dir(state_dir) -> str:
    return os.path.join(state_dir, "sockets")


def socket_path(state_dir, run_id) -> str:
    return os.path.join(sockets_dir(state_dir), run_id + SUFFIX)


_MAX_PATH = 100  # sun_path holds 104 (macOS) or 108 (Linux) bytes


def _via_short_path(operation, path):
    """Call `operation(path)`, going through /proc/self/fd/N/NAME when `path` is too long for AF_UNIX."""
    if len(os.fsencode(path)) < _MAX_PATH or not os.path.isdir("/proc/self/fd"):
        return operation(path)
    fd = os.open(os.path.dirname(path), os.O_RDONLY | getattr(os, "O_PATH", 0))
    try:
        return operation(f"/proc/self/fd/{fd}/{os.path.basename(path)}")
    finally:
        os.close(fd)


def bind(sock, path):
    _via_short_path(sock.bind, path)


def connect(sock, path):
    _via_short_path(sock.connect, path)


def is_live(path) -> bool:
    """True when a runner serves `path`: a socket left by a dead runner refuses the connection.

    One this user may not connect to (EACCES: another user's run, `sudo flowtui run` with this
    HOME) is live too: its runner cannot be told dead, and must never be reaped as if it were."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connect(sock, path)
        return True
    except PermissionError:
        return True
    except OSError:
        return False
    finally:
        sock.close()


def socket_run_ids(state_dir):
    """Run ids that have a socket file, live or left behind by a dead runner, oldest name first."""
    try:
        names = os.listdir(sockets_dir(state_dir))
    except FileNotFoundError:
        return []
    return sorted(name[: -len(SUFFIX)] for name in names if name.endswith(SUFFIX))


def live_runs(state_dir):
    """Run ids whose runner is alive and serving its socket."""
    return [rid for rid in socket_run_ids(state_dir) if is_live(socket_path(state_dir, rid))]
