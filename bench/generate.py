"""Flows for the benchmarks and the equivalent baseline inputs (Makefile, shell script).

Flow-CTRL runs stages in file order and actions one after another, so it expresses sequential
work only; independent tasks come as a Floe flow file (what a user would write) and, to time the
engine without any loader, as a `FlowDef` of unconnected root tasks built in process.
"""

import json


def flood_command(lines, kind="log") -> str:
    """A command printing `lines` lines. `log`: build-log-like lines of ~60 bytes from mawk/awk, a
    producer about as fast as a chatty real tool; `seq`: short numbers from the fastest producer
    there is, so the figure is nearly all per-line overhead of the runner (the worst case)."""
    if kind == "seq":
        return f"seq {lines}"
    line = r'"2026-11-24T02:00:00Z INFO build step %d: compiled src/module_%d.c\n", i, i % 977'
    return "awk 'BEGIN { for (i = 1; i <= " + str(lines) + "; i++) printf " + line + " }'"


def flowctrl_sequential(count, cmd="/bin/true", name="bench-sequential") -> str:
    """One stage of `count` actions running `cmd` one after another."""
    actions = [{"name": f"t{i:05d}", "cmd": cmd} for i in range(count)]
    return json.dumps({"name": name, "run": actions}, indent=1)


def fluxor_one(cmd="/bin/true") -> str:
    """A Fluxor workflow of one system/exec task."""
    return f"pipeline:\n  one:\n    action: system/exec:execute\n    input:\n      commands:\n        - {cmd}\n"


def flowctrl_large(stages, per_stage, cmd="/bin/true") -> str:
    """`stages` stages of `per_stage` actions each, with a timeout and an estimate on every action."""
    data = {"name": f"bench-{stages * per_stage}"}
    for s in range(stages):
        data[f"stage{s:04d}"] = [
            {"name": f"step{a:04d}", "cmd": f"{cmd} {s} {a}", "timeout": "5m", "time": "1s"}
            for a in range(per_stage)
        ]
    return json.dumps(data, indent=1)


def makefile_parallel(count, cmd="/bin/true") -> str:
    """A Makefile whose default goal needs `count` independent targets, each running `cmd`."""
    names = [f"t{i:05d}" for i in range(count)]
    lines = [".PHONY: all " + " ".join(names), "all: " + " ".join(names)]
    lines += [f"{n}:\n\t@{cmd}" for n in names]
    return "\n".join(lines) + "\n"


def command_lines(count, cmd="/bin/true") -> str:
    """GNU parallel's input: one command per line."""
    return f"{cmd}\n" * count


def shell_script(count, cmd="/bin/true") -> str:
    """A POSIX shell script running `cmd` `count` times, one after another, stopping at a failure."""
    return "set -e\n" + f"{cmd}\n" * count


def floe_parallel(count, cmd="/bin/true") -> str:
    """A Floe flow file: `count` exec tasks all listening to the trigger, joined by a merge that
    ends the run (the Floe way to say "run these side by side, then finish")."""
    lines = ["id: bench-parallel", "ver: 1", "tasks:"]
    for i in range(count):
        lines += [f"  - name: t{i:05d}", "    listen: trigger.good", "    type: exec", "    opts:", f"      cmd: {cmd}"]
    lines += ["  - name: all done", "    class: merge", "    type: all", "    wait:"]
    lines += [f"      - task.t{i:05d}.good" for i in range(count)]
    lines += ["  - name: finished", "    listen: merge.all-done.good", "    type: end"]
    return "\n".join(lines) + "\n"


def parallel_flow(count, cmd="/bin/true"):
    """A FlowDef of `count` independent tasks (roots without dependencies) running `cmd`."""
    from flowtui.engine.model import Action, FlowDef, Node

    nodes = {}
    for i in range(count):
        tid = f"t{i:05d}"
        nodes[tid] = Node(id=tid, name=tid, action=Action(kind="shell", params={"cmd": cmd}))
    return FlowDef(name="bench-parallel", format="flowctrl", file=None, nodes=nodes, roots=tuple(nodes))
