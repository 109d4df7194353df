"""Helpers for the Floe tests: local bare git repos standing in for `git@…` URLs, and running flows."""

import subprocess

from flowtui.engine.loaders import LoadOptions
from flowtui.engine.loaders import load as load_file
from flowtui.engine.run import Run


def bare_repo(root, files, branch="main"):
    """A bare repository at root/NAME.git whose `branch` holds `files` ({path: text})."""
    work = root / "work"
    work.mkdir(parents=True)
    for path, text in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=" + branch]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "."], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=work, check=True)
    bare = root / "repo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def redirect_git(monkeypatch, mapping):
    """Make git fetch {url: local bare repo} through `url.<local>.insteadOf` (no network)."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", str(len(mapping)))
    for i, (url, local) in enumerate(mapping.items()):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{i}", f"url.{local}.insteadOf")
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{i}", url)


def run_flow(path, state_dir, record, approve=None, **options):
    """Load and run `path`; `approve` is {task: values} granted when asked. Returns (run, recorder)."""
    flow, runtime = load_file(str(path), "floe", LoadOptions(state_dir=str(state_dir), **options))
    run = Run(flow, runtime)
    recorder = record(run)
    if approve is not None:
        def grant(event):
            if event.type == "approval_requested":
                run.reactor.call_soon(run.approve, event.task, "test", None, approve[event.task])
        run.bus.subscribe(grant)
    run.run_to_end()
    return run, recorder


def statuses(run):
    return {nid: state.status for nid, state in run.states.items()}
