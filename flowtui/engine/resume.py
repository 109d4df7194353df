"""Continuing a recorded run that failed, was stopped, or whose runner died.

The flow is loaded again from its file (refused if the file changed, unless forced), under the
same run id. Tasks that succeeded keep their outcome and do not run again; everything else
(failed, timed out, cancelled, rejected, interrupted, never started) runs. Attempt and loop
counters continue, and the runtime gets its last checkpoint back (Fluxor state, Floe events).
"""

import os

from .model import SUCCEEDED
from .sha import file_sha256
from .store import StoreError, reap_orphans


class ResumeError(Exception):
    """The run cannot be resumed (still going, flow file gone or changed)."""


def load_for_resume(store, run_id, force=False):
    """(record, flow, runtime) for resuming `run_id`; its dead runner's processes are ended first."""
    from .loaders import LoadOptions, load

    reap_orphans(store.state_dir)  # a runner killed in its first moments is only recorded once reaped
    try:
        record = store.get_run(run_id)
    except StoreError as exc:
        raise ResumeError(str(exc)) from None
    rid = record["run_id"]
    _hold_resume_lock(store.state_dir, rid)
    if record["live"]:
        raise ResumeError(f"run {rid} is still going ({record['status']}): it cannot be resumed from the store")
    reap_orphans(store.state_dir, rid)  # its processes end; what it journaled reaches the store
    try:
        record = store.get_run(rid)
    except StoreError as exc:  # purged before the lock was ours
        raise ResumeError(str(exc)) from None
    if record["status"] == SUCCEEDED:
        raise ResumeError(f"run {rid} succeeded: nothing to resume")
    path = record["flow_file"]
    if not path or not os.path.isfile(path):
        raise ResumeError(f"run {rid}: its flow file {path} no longer exists")
    digest = file_sha256(path)
    if record["content_hash"] and digest != record["content_hash"]:
        if not force:
            raise ResumeError(
                f"{path} changed since run {rid} started: refusing to resume a different flow "
                f"(pass --force to resume it anyway)"
            )
        store.set_content_hash(rid, digest)
    options = LoadOptions(record["options"])
    options["state_dir"] = store.state_dir
    flow, runtime = load(path, record["format"], options)
    record["options"] = options
    return record, flow, runtime


_HELD = []  # descriptors of resume locks: held until this process exits


def _hold_resume_lock(state_dir, run_id):
    """One resumer per run: a second `resume` started at the same moment would run the same tasks
    (neither serves the run's socket yet). The lock is released when this process ends."""
    import fcntl

    from .store.logfiles import run_dir

    directory = run_dir(state_dir, run_id)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, "resume.lock"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ResumeError(f"run {run_id} is being resumed by another flowtui") from None
    _HELD.append(fd)


def restore(run, record):
    """Before `run.start()`: put back the recorded outcomes and the runtime checkpoint."""
    for task in record["tasks"]:
        state = run.states.get(task["id"])
        if state is None:  # a node a runtime added at run time: it is added again when it comes
            continue
        state.attempt = task["attempts"] or 0
        state.iteration = task["iteration"] or 1
        if task["status"] == SUCCEEDED:
            state.status = SUCCEEDED
            state.exit_code = task["exit_code"]
            state.started_at, state.finished_at = task["started_at"], task["finished_at"]
    if record["checkpoint"]:
        run.runtime.restore(record["checkpoint"])


def succeeded_tasks(record):
    return [t["id"] for t in record["tasks"] if t["status"] == SUCCEEDED and t["is_task"]]
