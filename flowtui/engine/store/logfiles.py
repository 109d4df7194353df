"""Per-run files: `runs/<run-id>/<task-id>.log` (task output) and `journal`.

The journal is written on the engine thread as things happen (one small append, no fsync), so it
survives a runner killed before the store's thread committed: the process groups it started
(`{"pgid": N}`), and each task start and end (`{"task", "status", "exit_code", "attempt", ...}`).
"""

import os

RUNS = "runs"
JOURNAL = "journal"


def run_dir(state_dir, run_id) -> str:
    return os.path.join(state_dir, RUNS, run_id)


def claim_run_id(state_dir, new_id) -> str:
    """An id from `new_id()` that no other run in `state_dir` has, its directory made at once: ids
    are the second and 16 random bits, and two runners starting in the same second (CI jobs sharing
    a state dir) would otherwise share a socket and a store row about once in 65 536 pairs."""
    os.makedirs(os.path.join(state_dir, RUNS), mode=0o700, exist_ok=True)
    while True:
        run_id = new_id()
        try:
            os.mkdir(run_dir(state_dir, run_id), 0o700)
        except FileExistsError:
            continue
        return run_id


_NAME_BYTES = 200  # file systems take 255 bytes per name


def log_name(task_id) -> str:
    """A file name for `task_id`: `/` (and `%`, so the mapping stays reversible) are %-escaped.
    An id too long for a file name keeps its start and gets a digest of the whole id instead."""
    name = task_id.replace("%", "%25").replace("/", "%2F").replace("\0", "%00")
    if len(name.encode("utf-8", "surrogateescape")) > _NAME_BYTES:
        from ..sha import sha256_hex

        head = name.encode("utf-8", "surrogateescape")[:_NAME_BYTES - 17].decode("utf-8", "ignore")
        name = f"{head}~{sha256_hex(task_id.encode('utf-8', 'surrogateescape'))[:16]}"
    return name + ".log"


def log_path(state_dir, run_id, task_id) -> str:
    return os.path.join(run_dir(state_dir, run_id), log_name(task_id))


def read_journal(state_dir, run_id):
    """The journal's entries in order; a line torn by a crash mid-write is skipped."""
    import json

    entries = []
    try:
        with open(os.path.join(run_dir(state_dir, run_id), JOURNAL), "rb") as handle:
            for line in handle:
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return entries


def read_pgids(state_dir, run_id):
    return sorted({entry["pgid"] for entry in read_journal(state_dir, run_id) if "pgid" in entry})
