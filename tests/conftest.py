"""Shared fixtures: the read-only corpus beside the repo, and running flows for real."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _no_forced_colour(monkeypatch):
    """FORCE_COLOR in the tester's environment would colour every headless run's piped output."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def corpus():
    """Path to ../shared/corpus; tests using it skip cleanly when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture
def state_dir(tmp_path):
    """A private state dir, resolved (made, checked) as `flowtui` does."""
    from flowtui.engine.statedir import resolve

    return resolve(str(tmp_path / "state"))


@pytest.fixture
def flowtui_cmd():
    """argv prefix that runs this checkout's CLI in a subprocess."""
    return [sys.executable, "-m", "flowtui"]


class Recorder:
    """Subscribes to a run's bus; keeps every event for assertions."""

    def __init__(self, run):
        self.events = []
        run.bus.subscribe(self.events.append)

    def types(self, *names):
        return [e for e in self.events if e.type in names]

    def output(self, task=None):
        return [line for e in self.events if e.type == "task_output" and (task is None or e.task == task) for line in e.lines]

    def order(self, type_name="task_started"):
        return [e.task for e in self.events if e.type == type_name]


@pytest.fixture
def record():
    return Recorder
