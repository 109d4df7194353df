"""Per-run workspaces (§9.1) and the machine-wide locks behind `resource-tags` and `reuse-space` (§10.4).

A lock is one file per tag under the state dir, held with `fcntl.flock` for the whole run, so
concurrent flowtui runs (any process) sharing a state dir exclude each other. A run takes all
its locks or none, so two runs never deadlock.
"""

import os


def expand_root(path):
    """Floe's `path.Expand` for workspace-root / store-root: `~`, and `%tmp` (a new temp dir)."""
    if len(path) < 2 or path == "~/":
        raise ValueError(f"workspace path {path!r} is too short")
    if path.startswith("~"):
        return os.path.expanduser("~") + path[1:]
    if path.startswith("%tmp"):
        import tempfile

        return tempfile.mkdtemp(prefix="floe-") + path[4:]
    return path


def workspace_path(root, flow_id, run_id, reuse_space):
    return os.path.join(os.path.abspath(root), "spaces", flow_id, "ws", "single" if reuse_space else run_id)


def fresh(path):
    """Delete and recreate the workspace: Floe wipes it at every run start, `single` included.
    A new run's workspace does not exist yet: shutil (~3 ms to import) is needed only to reuse one."""
    if os.path.lexists(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def lock_names(flow_id, resource_tags, reuse_space):
    """(file stem, description) of each lock the run needs; reuse-space excludes runs of the same flow."""
    names = [(f"resource-{_safe(tag)}", f"resource tag `{tag}`") for tag in sorted(set(resource_tags))]
    if reuse_space:
        names.append((f"reuse-space-{_safe(flow_id)}", f"the reused workspace of flow `{flow_id}`"))
    return names


def _safe(text):
    return "".join(c if c.isalnum() or c in "-_." else f"%{ord(c):02x}" for c in text)


class Locks:
    """All-or-nothing, non-blocking acquisition of a run's lock files."""

    def __init__(self, lock_dir, names, holder):
        self.lock_dir, self.names, self.holder = lock_dir, names, holder
        self.held = []

    def try_acquire(self):
        """[] when every lock is now held; else [(description, holder text)] of the busy ones."""
        import fcntl

        os.makedirs(self.lock_dir, exist_ok=True)
        busy = []
        for stem, what in self.names:
            path = os.path.join(self.lock_dir, stem + ".lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy.append((what, os.pread(fd, 512, 0).decode("utf-8", "replace").strip()))
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.holder.encode(), 0)
            self.held.append(fd)
        if busy:
            self.release()
        return busy

    def release(self):
        import fcntl

        for fd in self.held:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.held = []
