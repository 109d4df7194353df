"""`make bench`: flowtui against its baselines, measured in the same run, with the budgets.

Every measure prints flowtui's figure, the baseline's, the ratio and the budget, and all of it
goes to bench/results.json. flowtui and its baseline are run alternately, so a change of load
during the run hits both. See docs/benchmarks.md for what each measure means.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402
import harness  # noqa: E402

PYTHON = sys.executable
FLOWTUI = os.path.join(os.path.dirname(PYTHON), "flowtui")


class Bench:
    def __init__(self, workdir, repeat_scale):
        self.workdir = workdir
        self.scale = repeat_scale
        self.rows = []
        self.results = {}

    def path(self, name, text=None):
        path = os.path.join(self.workdir, name)
        if text is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        return path

    def state_dir(self):
        """A fresh, empty --state-dir: nothing cached from an earlier measure."""
        return tempfile.mkdtemp(prefix="state-", dir=self.workdir)

    def repeats(self, n):
        return max(1, round(n * self.scale))

    def flowtui_run(self, flow_file, state_dir):
        return [FLOWTUI, "run", flow_file, "--no-ui", "--state-dir", state_dir]

    def record(self, name, title, value, unit, baseline=None, budget=None, budget_text=None, stats=None, **details):
        """One row: flowtui's figure, the baseline's (same run), ratio and whether the budget holds.

        `budget` is a maximum ratio when there is a baseline, else a maximum value. `stats` is
        (flowtui Stats, baseline Stats): adds their CPU ratio (a busy machine skews it less than wall) and best-run ratio.
        """
        ratio = value / baseline if baseline else None
        cpu_ratio = stats[0].cpu / stats[1].cpu if stats and stats[1].cpu else None
        best_ratio = stats[0].best / stats[1].best if stats else None
        checked = ratio if baseline else value
        ok = None if budget is None or checked is None else checked <= budget
        self.results[name] = {
            "title": title, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "budget": budget, "budget_text": budget_text, "ok": ok, "cpu_ratio": cpu_ratio,
            "best_ratio": best_ratio, **details,
        }
        self.rows.append(name)
        shown = _fmt(value, unit)
        base = _fmt(baseline, unit) if baseline is not None else "—"
        rat = f"{ratio:.2f}x" if ratio is not None else "—"
        verdict = {True: "ok", False: "OVER", None: ""}[ok]
        cpu_text = f"{cpu_ratio:.2f}x" if cpu_ratio is not None else "—"
        print(f"  {title:<62} {shown:>10} {base:>10} {rat:>7} {cpu_text:>7}  {budget_text or '—':<10} {verdict}", flush=True)


def _fmt(value, unit):
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.3f} ms"
    return f"{value:.1f} {unit}"


def _load():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def alternate(repeat, *commands):
    """Run each (argv-or-callable, kwargs) in turn, `repeat` times; a Stats per command."""
    samples = [[] for _ in commands]
    for i in range(repeat):
        for k, (argv, kw) in enumerate(commands):
            samples[k].append(harness.run_once(argv(i) if callable(argv) else argv, **kw))
    return [harness.Stats(s) for s in samples]


# -- measures --------------------------------------------------------------------------------------
def cold_start(b):
    flow = b.path("one.json", generate.flowctrl_sequential(1, name="bench-one"))
    warm_dir = b.state_dir()
    harness.run_once(b.flowtui_run(flow, warm_dir))  # leaves the validation cache warm
    fluxor = b.path("one.fluxor.yaml", generate.fluxor_one())
    floe = b.path("one.floe.yml", generate.floe_parallel(1))
    for other in (fluxor, floe):
        harness.run_once(b.flowtui_run(other, warm_dir))
    base, warm, cold, fluxor_run, floe_run = alternate(
        b.repeats(15),
        ([PYTHON, "-c", "pass"], {}),
        (b.flowtui_run(flow, warm_dir), {}),
        (lambda i: b.flowtui_run(flow, b.state_dir()), {}),
        (b.flowtui_run(fluxor, warm_dir), {}),
        (b.flowtui_run(floe, warm_dir), {}),
    )
    b.record("cold_start_warm_cache", "cold start, 1-task flow (validation cache warm)", warm.median, "s",
             base.median, 3.0, "≤ 3x", stats=(warm, base), flowtui=warm.to_json(), python=base.to_json())
    b.record("cold_start_cold_cache", "cold start, 1-task flow (first run of the file)", cold.median, "s",
             base.median, 3.0, "≤ 3x", stats=(cold, base), flowtui=cold.to_json(), python=base.to_json())
    b.record("cold_start_fluxor", "cold start, 1-task Fluxor workflow (YAML 1.2 nodes)", fluxor_run.median, "s",
             base.median, 3.0, "≤ 3x", stats=(fluxor_run, base), flowtui=fluxor_run.to_json())
    b.record("cold_start_floe", "cold start, 1-task Floe flow (YAML: PyYAML)", floe_run.median, "s",
             base.median, 3.0, "≤ 3x", stats=(floe_run, base), flowtui=floe_run.to_json())


def parallel(b, tasks):
    """Independent tasks, two at a time: a Floe flow through the CLI, and the bare engine."""
    makefile = b.path("Makefile.parallel", generate.makefile_parallel(tasks))
    floe = b.path("parallel.floe.yml", generate.floe_parallel(tasks))
    make = shutil.which("make")
    state = b.state_dir()
    cli = b.flowtui_run(floe, state) + ["--max-parallel", "2"]
    engine = [PYTHON, os.path.join(HERE, "probes.py"), "parallel", str(tasks), "2", "/bin/true"]
    if make is None:
        print("  (make is not installed: the parallel measures have no baseline)")
    base_cmd = [make, "-s", "-j2", "-f", makefile] if make else [PYTHON, "-c", "pass"]
    floor = [PYTHON, os.path.join(HERE, "probes.py"), "floor", str(tasks), "2", "/bin/true"]
    capture = [PYTHON, os.path.join(HERE, "probes.py"), "capture", str(tasks), "2", "/bin/true"]
    base, ours, bare, least, capturing = alternate(
        b.repeats(7), (base_cmd, {}), (cli, {}), (engine, {}), (floor, {}), (capture, {}))
    baseline = base.median if make else None
    b.record("parallel", f"{tasks} independent tasks (Floe flow), -j2 vs make -j2", ours.median, "s",
             baseline, 1.5, "≤ 1.5x", stats=(ours, base) if make else None,
             flow="Floe flow file through `flowtui run`", flowtui=ours.to_json(),
             make=base.to_json() if make else None)
    b.record("parallel_engine", f"{tasks} independent tasks (engine only), -j2 vs make -j2", bare.median, "s",
             baseline, 1.5, "≤ 1.5x", stats=(bare, base) if make else None,
             flow="FlowDef built in process (bench/probes.py parallel)",
             flowtui=bare.to_json())
    b.record("parallel_floor", "  Python's floor: posix_spawn + wait only, -j2 vs make -j2", least.median, "s",
             baseline, stats=(least, base) if make else None, flowtui=least.to_json())
    b.record("parallel_capture_floor", "  the floor with output capture (pipes, pidfd, epoll), -j2", capturing.median,
             "s", baseline, stats=(capturing, base) if make else None, flowtui=capturing.to_json())
    gnu = shutil.which("parallel")
    if gnu is not None:  # GNU parallel at its own game: a list of commands, two at a time
        commands = b.path("commands.txt", generate.command_lines(tasks))
        theirs, ours_again = alternate(b.repeats(3), ([gnu, "--will-cite", "-j2"], {"stdin": commands}), (cli, {}))
        b.record("parallel_gnu", f"{tasks} independent tasks (Floe flow), -j2 vs GNU parallel -j2", ours_again.median,
                 "s", theirs.median, 1.0, "≤ 1x", stats=(ours_again, theirs), flowtui=ours_again.to_json(),
                 gnu_parallel=theirs.to_json())
    else:
        print("  (GNU parallel is not installed: no comparison with it)")
    return bare


def sequential(b, tasks):
    flow = b.path("sequential.json", generate.flowctrl_sequential(tasks))
    script = b.path("sequential.sh", generate.shell_script(tasks))
    state = b.state_dir()
    harness.run_once(b.flowtui_run(flow, state))  # warm the validation cache: measure running
    floor = [PYTHON, os.path.join(HERE, "probes.py"), "floor", str(tasks), "1", "/bin/true"]
    capture = [PYTHON, os.path.join(HERE, "probes.py"), "capture", str(tasks), "1", "/bin/true"]
    base, ours, least, capturing = alternate(
        b.repeats(7), (["/bin/sh", script], {}), (b.flowtui_run(flow, state), {}), (floor, {}), (capture, {}))
    b.record("sequential", f"{tasks} sequential tasks vs a shell script", ours.median, "s",
             base.median, 1.5, "≤ 1.5x", stats=(ours, base), flowtui=ours.to_json(), shell=base.to_json())
    b.record("sequential_floor", "  Python's floor: posix_spawn + wait only, vs the shell script", least.median, "s",
             base.median, stats=(least, base), flowtui=least.to_json())
    b.record("sequential_capture_floor", "  the floor with output capture (pipes, pidfd, epoll)", capturing.median, "s",
             base.median, stats=(capturing, base), flowtui=capturing.to_json())
    return ours


def flood(b, lines, kind):
    """One task printing `lines` lines, run headless into a file, vs the command piped into a file."""
    cmd = generate.flood_command(lines, kind)
    flow = b.path(f"flood-{kind}.json", generate.flowctrl_sequential(1, cmd=cmd, name="bench-flood"))
    state = b.state_dir()
    harness.run_once(b.flowtui_run(flow, state))
    out_ours, out_base = b.path("flood.flowtui.out"), b.path("flood.shell.out")
    base, ours = alternate(
        b.repeats(3),
        (["/bin/sh", "-c", f"{cmd} | cat"], {"stdout": out_base}),
        (b.flowtui_run(flow, state), {"stdout": out_ours}),
    )
    with open(out_ours, "rb") as handle:
        printed = sum(1 for _ in handle)
    what = "log lines (awk)" if kind == "log" else "short lines (seq: worst case)"
    b.record(f"flood_{kind}", f"1 task printing {lines} {what}, > file vs | cat", ours.median, "s",
             base.median, 2.0, "≤ 2x", stats=(ours, base), command=cmd, lines_in_file=printed,
             flowtui=ours.to_json(), shell=base.to_json())


def large(b, tasks):
    per_stage = 100 if tasks >= 100 else tasks
    flow = b.path("large.json", generate.flowctrl_large(max(1, tasks // per_stage), per_stage))
    probe = os.path.join(HERE, "probes.py")
    out = b.path("plan.json")

    def plan(state_dir):
        harness.run_once([PYTHON, probe, "plan", flow, state_dir], stdout=out)
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)

    cold = [plan(b.state_dir()) for _ in range(b.repeats(3))]
    warm_dir = b.state_dir()
    plan(warm_dir)
    warm = [plan(warm_dir) for _ in range(b.repeats(3))]
    for name, runs, what in (("large_plan_cold", cold, "cache cold"), ("large_plan_warm", warm, "cache warm")):
        best = min(runs, key=lambda r: r["total_s"])
        b.record(name, f"{best['tasks']}-task flow: load+validate+plan ({what})", best["total_s"], "s",
                 budget=1.0, budget_text="< 1 s", load_s=best["load_s"], plan_s=best["plan_s"], runs=len(runs))
        b.record(name + "_rss", f"{best['tasks']}-task flow: peak RSS ({what})",
                 max(r["peak_rss_mb"] for r in runs), "MB", budget=200.0, budget_text="< 200 MB")


def cpu_per_task(b, name, title, stats, tasks):
    if stats is None or stats.self_cpu is None:
        b.record(name, title + " (not measurable here)", None, "ms")
        return
    b.record(name, title, stats.self_cpu / tasks * 1000, "ms", budget=1.0, budget_text="≤ 1 ms",
             self_cpu_s=stats.self_cpu, tasks=tasks)


def tui(b, tasks, lines):
    """The TUI measures run in their own processes (bench/tui_probe.py)."""
    probe = os.path.join(HERE, "tui_probe.py")

    def measure(*args):
        out, err = b.path("tui.json"), b.path("tui.err")
        try:
            harness.run_once([PYTHON, probe, *args], stdout=out, stderr=err)
        except RuntimeError:
            with open(err, encoding="utf-8", errors="replace") as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
            return {"error": lines[-1] if lines else "failed"}
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)

    state = b.state_dir()
    for name, what in (("tui_first_paint_cold", "cache cold"), ("tui_first_paint_warm", "cache warm")):
        data = measure("paint", str(tasks), state)
        if "error" in data:
            b.record(name, f"TUI first paint: not measured ({data['error'][:50]})", None, "s")
            continue
        b.record(name, f"TUI: {data['tasks']}-task flow, first paint ({what})", data["first_paint_s"], "s",
                 budget=2.0, budget_text="< 2 s", **{k: v for k, v in data.items() if k != "first_paint_s"})
        b.record(name.replace("first_paint", "scroll"), f"TUI: `end` in the tree to its repaint ({what})",
                 data["scroll_s"], "s")
    data = measure("flood", str(lines))
    if "error" in data:
        b.record("tui_flood", f"TUI flood: not measured ({data['error'][:50]})", None, "s")
        return
    latencies = sorted(data.pop("key_latency_s"))
    data["key_latency_median_s"] = latencies[len(latencies) // 2] if latencies else None
    b.record("tui_key_latency", f"TUI: key handled while flooding ({data['key_presses']} keys, worst)",
             data.pop("key_latency_max_s"), "s", budget=0.1, budget_text="≤ 100 ms", **data)
    b.record("tui_rss_growth", f"TUI: RSS growth over a {lines}-line flood", data["rss_growth_mb"], "MB",
             budget=50.0, budget_text="≤ 50 MB")


def _users_defaults():
    """Measure what users run: byte-compiled modules and Python's default buffering. With
    PYTHONDONTWRITEBYTECODE set (as in some shells and CI images) every module edited since its .pyc
    was written is recompiled at each start; PYTHONUNBUFFERED changes how stdout is written."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.pop("PYTHONUNBUFFERED", None)
    compileall.compile_dir(os.path.join(os.path.dirname(HERE), "flowtui"), quiet=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the parallel/sequential measures")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines printed by the flood measure")
    parser.add_argument("--large", type=int, default=10_000, help="tasks in the generated large flow")
    parser.add_argument("--repeat-scale", type=float, default=1.0, help="multiply every repeat count")
    parser.add_argument("--only", action="append", help="run only these measures (repeatable)")
    parser.add_argument("--no-tui", action="store_true", help="skip the TUI measures")
    parser.add_argument("--results", default=os.path.join(HERE, "results.json"))
    args = parser.parse_args(argv)
    wanted = set(args.only or ["cold", "parallel", "sequential", "flood", "large", "cpu", "tui"])
    if args.no_tui:
        wanted.discard("tui")
    _users_defaults()
    workdir = tempfile.mkdtemp(prefix="flowtui-bench-")
    b = Bench(workdir, args.repeat_scale)
    started = time.perf_counter()
    load_before = _load()
    if load_before is not None and load_before > (os.cpu_count() or 1) / 2:
        print(f"note: load average {load_before:.1f} on {os.cpu_count()} CPUs: other work skews the figures")
    print(f"  {'measure':<62} {'flowtui':>10} {'baseline':>10} {'ratio':>7} {'cpu':>7}  {'budget':<10}")
    try:
        if "cold" in wanted:
            cold_start(b)
        par = parallel(b, args.tasks) if "parallel" in wanted else None
        seq = sequential(b, args.tasks) if "sequential" in wanted else None
        if "flood" in wanted:
            flood(b, args.lines, "log")
            flood(b, args.lines, "seq")
        if "large" in wanted:
            large(b, args.large)
        if "cpu" in wanted:
            if seq is not None:
                cpu_per_task(b, "cpu_per_task_sequential", "engine CPU per task (sequential run)", seq, args.tasks)
            if par is not None:
                cpu_per_task(b, "cpu_per_task_parallel", "engine CPU per task (parallel run)", par, args.tasks)
        if "tui" in wanted:
            tui(b, args.large, args.lines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    took = time.perf_counter() - started
    over = [n for n in b.rows if b.results[n]["ok"] is False]
    print(f"\n{len(b.rows)} figures in {took:.0f} s; " + (f"over budget: {', '.join(over)}" if over else "all within budget"))
    with open(args.results, "w", encoding="utf-8") as handle:
        json.dump({
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "took_s": round(took, 1),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "load_average_before": load_before, "load_average_after": _load()},
            "sizes": {"tasks": args.tasks, "lines": args.lines, "large": args.large},
            "measures": b.results,
        }, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
