"""Ending what a dead runner left behind: its tasks' process groups, its socket, its `running` row.

A runner killed with SIGKILL cannot clean up. Its socket file stays but refuses connections; that
is how the next flowtui finds it, cheaply (a directory listing and a connect, no SQLite unless
something is found). The processes are found two ways: on Linux by the FLOWTUI_RUN_ID every task
carries in its environment (this also finds processes that left their group), elsewhere by the
process-group ids the runner wrote to `runs/<id>/pgids` as it started them.
"""

import os
import signal
import time

from ..control.sockets import is_live, socket_path, socket_run_ids
from .logfiles import read_pgids

GRACE = 3.0


def reap_orphans(state_dir, run_id=None):
    """Terminate the processes of dead runs (or of `run_id` only) and mark those runs interrupted.

    Call it at start-up, before anything runs, and before resuming `run_id`. Returns the ids of
    the runs found dead. A run that is still live is never touched.
    """
    candidates = [run_id] if run_id else socket_run_ids(state_dir)
    dead = [rid for rid in candidates if not is_live(socket_path(state_dir, rid))]
    if not dead:
        return []
    for rid in dead:
        terminate_run_processes(state_dir, rid)
    from .runstore import RunStore

    store = RunStore(state_dir)
    try:
        for rid in dead:
            store.mark_interrupted(rid)
            try:
                os.unlink(socket_path(state_dir, rid))
            except FileNotFoundError:
                pass
    finally:
        store.close()
    return dead


def record_dead_runs(state_dir):
    """What `runs`, `show` and `logs` do first: a dead runner's run (its socket refuses
    connections) gets what its journal holds and reads `interrupted`. Its processes and socket are
    left to `reap_orphans` (the next `run`, `resume` or `purge`): reading history ends nothing.
    Costs a directory listing and a connect per socket unless a dead one is found."""
    dead = [rid for rid in socket_run_ids(state_dir) if not is_live(socket_path(state_dir, rid))]
    if dead:
        from .runstore import RunStore

        store = RunStore(state_dir)
        try:
            for rid in dead:
                store.mark_interrupted(rid)
        finally:
            store.close()
    return dead


def terminate_run_processes(state_dir, run_id, grace=GRACE):
    """SIGTERM every process (group) of `run_id`, SIGKILL what is left after `grace` seconds."""
    pids = _pids_with_run_id(run_id)
    if pids is None:  # no /proc: trust the recorded groups
        groups = read_pgids(state_dir, run_id)
        pids = []
    else:
        groups = sorted({pgid for pid in pids if (pgid := _pgid(pid)) is not None})
    if not pids and not groups:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal(groups, pids, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _any_alive(groups, pids):
            time.sleep(0.02)
        if not _any_alive(groups, pids):
            return


def _signal(groups, pids, sig):
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _any_alive(groups, pids) -> bool:
    if pids:
        return any(_alive(pid) for pid in pids)
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            continue
    return False


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _pids_with_run_id(run_id):
    """Pids of this user's processes whose environment names `run_id`; None without /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    marker = f"\0FLOWTUI_RUN_ID={run_id}\0".encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = b"\0" + handle.read()
        except OSError:
            continue
        if marker in environ:
            found.append(int(name))
    return found
