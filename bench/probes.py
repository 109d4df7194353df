"""Measures that run inside a fresh Python process: `python bench/probes.py KIND ARGS...`.

parallel N MAX_PARALLEL CMD   run N independent tasks the way `run --no-ui` does (console printer
                              on stdout); the flow is built in process (see generate.py)
plan FILE STATE_DIR           load + validate + plan a flow file; prints JSON timings and peak RSS
floor N MAX_PARALLEL CMD      Python's own floor: posix_spawn + wait, no output capture, no engine
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


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    sys.exit({"parallel": parallel, "plan": plan, "floor": floor}[kind](*args))
