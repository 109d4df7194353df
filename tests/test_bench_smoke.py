"""The benchmark suite works: generators give valid flows and baselines, the harness measures.

No timing is asserted; `make bench` is where the budgets are checked.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowtui.engine.loaders import LoadOptions, load
from flowtui.engine.run import Run

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import generate
    import harness

    return generate, harness


def test_generated_sketches_load_with_the_expected_tasks(bench, tmp_path):
    generate, _ = bench
    sequential = tmp_path / "seq.json"
    sequential.write_text(generate.flowctrl_sequential(4, cmd="echo hi"))
    flow, _ = load(str(sequential), None, LoadOptions(state_dir=str(tmp_path)))
    assert [t.id for t in flow.tasks()] == ["run/t00000", "run/t00001", "run/t00002", "run/t00003"]
    large = tmp_path / "large.json"
    large.write_text(generate.flowctrl_large(3, 5))
    flow, _ = load(str(large), None, LoadOptions(state_dir=str(tmp_path)))
    assert len(flow.tasks()) == 15
    assert flow.nodes["stage0002/step0004"].timeout == 300


def test_parallel_flow_runs_every_task_and_the_baselines_run_the_same_commands(bench, tmp_path):
    generate, _ = bench
    marker = tmp_path / "ran"
    cmd = f"touch {marker}"
    run = Run(generate.parallel_flow(5, cmd=f"sh -c 'echo x >> {marker}'"), max_parallel=2)
    assert run.run_to_end() == 0
    assert marker.read_text() == "x\n" * 5
    script = tmp_path / "s.sh"
    script.write_text(generate.shell_script(3, cmd=f"echo y >> {marker}"))
    subprocess.run(["/bin/sh", str(script)], check=True)
    assert marker.read_text().count("y") == 3
    if shutil.which("make"):
        makefile = tmp_path / "Makefile"
        makefile.write_text(generate.makefile_parallel(3, cmd=cmd))
        marker.unlink()
        subprocess.run(["make", "-s", "-j2", "-f", str(makefile)], check=True, cwd=tmp_path)
        assert marker.exists()


def test_flood_commands_print_the_requested_lines(bench):
    generate, _ = bench
    for kind in ("log", "seq"):
        out = subprocess.run(["/bin/sh", "-c", generate.flood_command(7, kind)], capture_output=True, text=True, check=True)
        assert len(out.stdout.splitlines()) == 7


def test_harness_times_a_command_and_rejects_a_failing_one(bench, tmp_path):
    _, harness = bench
    out = tmp_path / "out.txt"
    stats = harness.measure([sys.executable, "-c", "print('hello')"], 2, stdout=str(out))
    assert len(stats.samples) == 2 and stats.best <= stats.median
    assert out.read_text() == "hello\n"
    assert stats.to_json()["runs"] == 2 and stats.rss_kb > 0
    with pytest.raises(RuntimeError, match="exited 3"):
        harness.run_once([sys.executable, "-c", "raise SystemExit(3)"])


def test_bench_run_writes_every_measure_to_results(tmp_path):
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--tasks", "3", "--lines", "20", "--large", "30",
         "--repeat-scale", "0.01", "--no-tui", "--results", str(results)],
        check=True, capture_output=True, text=True,
    )
    measures = json.loads(results.read_text())["measures"]
    assert {"cold_start_warm_cache", "cold_start_cold_cache", "parallel", "parallel_engine", "parallel_floor",
            "parallel_capture_floor", "sequential", "sequential_floor", "sequential_capture_floor", "flood_log", "flood_seq", "large_plan_cold", "large_plan_warm", "cpu_per_task_sequential"} <= set(measures)
    assert measures["flood_log"]["lines_in_file"] == 20 + 4  # the lines, start, finish, blank, summary
    for name in ("cold_start_warm_cache", "sequential", "sequential_floor", "flood_seq"):
        assert measures[name]["value"] > 0 and measures[name]["baseline"] > 0 and measures[name]["ratio"] > 0
    assert measures["large_plan_cold"]["value"] > 0


def test_capture_floor_probe_reaps_every_task_whatever_it_prints(tmp_path):
    """The capture floor runs each task to its end (pipes ended and process reaped), two at a time,
    whether a task prints (its pipes end after data) or not."""
    marks = tmp_path / "ran"
    script = tmp_path / "task.sh"
    script.write_text(f"echo out; echo err >&2; echo ran >> {marks}\n")
    for cmd in (f"/bin/sh {script}", "/bin/true"):
        proc = subprocess.run([sys.executable, str(BENCH / "probes.py"), "capture", "7", "2", cmd],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert marks.read_text().count("ran") == 7


def _probe(*args):
    proc = subprocess.run([sys.executable, str(BENCH / "tui_probe.py"), *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_tui_probe_measures_a_small_flow_and_a_small_flood(tmp_path):
    data = _probe("paint", "20", str(tmp_path))
    assert data["tasks"] == 20 and data["rows"] == 21 and data["first_paint_s"] > 0
    data = _probe("flood", "2000")
    assert data["lines_received"] == 2000 and data["rss_after_mb"] > 0
