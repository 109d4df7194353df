"""Timing of one command: wall time, CPU of the process itself and of all it waited for, peak RSS.

Commands are started with `os.posix_spawnp` and reaped with `os.wait4`, so the figures are the
child's own (no Python `subprocess` overhead in the wall time). On Linux the child is first waited
for with `WNOWAIT`, which leaves it a zombie whose `/proc` entry still holds its own CPU (without
the tasks it ran) and its peak RSS; elsewhere those fall back to `wait4`'s totals.
"""

import os
import statistics
import time

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Sample:
    """One run. `cpu` is user+sys of the process and everything it reaped; `self_cpu` its own."""

    __slots__ = ("wall", "cpu", "self_cpu", "rss_kb", "code")

    def __init__(self, wall, cpu, self_cpu, rss_kb, code):
        self.wall, self.cpu, self.self_cpu, self.rss_kb, self.code = wall, cpu, self_cpu, rss_kb, code


class Stats:
    """Several runs of one command; `median` and `best` are wall seconds."""

    def __init__(self, samples):
        self.samples = samples
        walls = [s.wall for s in samples]
        self.median = statistics.median(walls)
        self.best = min(walls)
        self.cpu = statistics.median(s.cpu for s in samples)
        own = [s.self_cpu for s in samples if s.self_cpu is not None]
        self.self_cpu = statistics.median(own) if own else None
        self.rss_kb = max(s.rss_kb for s in samples)

    def to_json(self):
        return {
            "median_s": round(self.median, 6), "best_s": round(self.best, 6), "runs": len(self.samples),
            "cpu_s": round(self.cpu, 6), "self_cpu_s": None if self.self_cpu is None else round(self.self_cpu, 6),
            "peak_rss_mb": round(self.rss_kb / 1024, 1),
        }


def _own_cpu(pid):
    """User+sys seconds of zombie `pid` itself (not its children) from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15
    except (OSError, IndexError, ValueError):
        return None


def run_once(argv, *, stdout=os.devnull, stderr=os.devnull, env=None, cwd=None, stdin=os.devnull) -> Sample:
    """Run `argv` (PATH lookup) with stdout/stderr sent to files; raise if it exits non-zero."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    old_cwd = None
    if cwd is not None:
        old_cwd = os.getcwd()
        os.chdir(cwd)
    try:
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], list(argv), dict(os.environ if env is None else env), file_actions=actions)
    finally:
        if old_cwd is not None:
            os.chdir(old_cwd)
    self_cpu = None
    if hasattr(os, "waitid") and hasattr(os, "WNOWAIT"):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        self_cpu = _own_cpu(pid)
        _, status, usage = os.wait4(pid, 0)
    else:
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, self_cpu, usage.ru_maxrss, code)


def measure(argv, repeat, *, warmup=0, before=None, **kw) -> Stats:
    """`repeat` timed runs after `warmup` untimed ones; `before(i)` may return a fresh argv per run."""
    for i in range(warmup):
        run_once(before(-1 - i) if before else argv, **kw)
    samples = []
    for i in range(repeat):
        samples.append(run_once(before(i) if before else argv, **kw))
    return Stats(samples)
