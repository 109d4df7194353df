"""Measures that run inside a fresh Python process: `python bench/probes.py KIND ARGS...`.

parallel N MAX_PARALLEL CMD   run N independent tasks the way `run --no-ui` does (console printer
                              on stdout); the flow is built in process (see generate.py)
plan FILE STATE_DIR           load + validate + plan a flow file; prints JSON timings and peak RSS
floor N MAX_PARALLEL CMD      Python's own floor: posix_spawn + wait, no output capture, no engine
capture N MAX_PARALLEL CMD    the floor of a runner that captures output: as `floor`, plus what any
                              such runner must do per task (two pipes, stdin from /dev/null, its
                              own session, a pidfd, epoll until both pipes end and the pidfd fires)
"""

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def parallel(count, max_parallel, cmd):
    from generate import parallel_flow

    from flowtui.engine.run import Run
    from flowtui.reporters.console import ConsolePrinter
    from flowtui.reporters.tails import Tails

    run = Run(parallel_flow(int(count), cmd), max_parallel=int(max_parallel))
    tails = Tails(run.bus)
    ConsolePrinter(run, sys.stdout, tails)
    return run.run_to_end()


def plan(path, state_dir):
    """Load (read, detect, schema-validate, build) then plan: the run's graph and its snapshot."""
    start = time.perf_counter()
    from flowtui.engine.loaders import LoadOptions, load

    flow, runtime = load(path, None, LoadOptions(state_dir=state_dir))
    loaded = time.perf_counter()
    from flowtui.engine.run import Run

    run = Run(flow, runtime)
    snapshot = run.snapshot()
    planned = time.perf_counter()
    print(json.dumps({
        "tasks": len(flow.tasks()), "nodes": len(snapshot["nodes"]),
        "load_s": loaded - start, "plan_s": planned - loaded, "total_s": planned - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    return 0


def floor(count, max_parallel, cmd):
    """What any Python runner pays at least: start each command and reap it, nothing else."""
    count, limit, argv = int(count), int(max_parallel), cmd.split()
    started = running = 0
    while started < count or running:
        while running < limit and started < count:
            os.posix_spawn(argv[0], argv, os.environ)
            started += 1
            running += 1
        os.wait()
        running -= 1
    return 0


def capture(count, max_parallel, cmd):
    """The least a Python runner that captures each task's output does: no engine, no events,
    no output shown or stored (what the tasks print is read and dropped)."""
    import select

    count, limit, argv = int(count), int(max_parallel), cmd.split()
    poller = select.epoll()
    pipes, pidfds, open_fds = {}, {}, {}  # pipe -> pid, pidfd -> pid, pid -> descriptors not ended
    started = finished = 0

    def ended(fd, pid):
        poller.unregister(fd)
        os.close(fd)
        open_fds[pid] -= 1
        return open_fds[pid] == 0

    while finished < count:
        while len(open_fds) < limit and started < count:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            pid = os.posix_spawn(argv[0], argv, os.environ, setsid=True, file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
            os.close(out_w)
            os.close(err_w)
            pidfd = os.pidfd_open(pid)
            for fd in (out_r, err_r):
                os.set_blocking(fd, False)
                pipes[fd] = pid
            pidfds[pidfd] = pid
            for fd in (out_r, err_r, pidfd):
                poller.register(fd, select.EPOLLIN)
            open_fds[pid] = 3
            started += 1
        for fd, _ in poller.poll():
            if fd in pidfds:
                pid = pidfds.pop(fd)
                os.waitpid(pid, 0)
            elif fd in pipes:
                try:
                    if os.read(fd, 65536):
                        continue
                except BlockingIOError:
                    continue
                pid = pipes.pop(fd)
            else:
                continue
            if ended(fd, pid):
                del open_fds[pid]
                finished += 1
    return 0


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    sys.exit({"parallel": parallel, "plan": plan, "floor": floor, "capture": capture}[kind](*args))
