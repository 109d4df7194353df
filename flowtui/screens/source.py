"""`LocalSource`: a run in this process, driven by its reactor in a background thread.

A `RunSource` is what the TUI draws: `snapshot()`, `drain()` (events since the last call),
`controller`, `close()`. The reactor keeps running after the run finished so that a rerun from
the TUI can reopen it; `close()` cancels a run that is still active and stops the thread.
"""

import threading
from collections import deque

from flowtui.engine import events as ev
from flowtui.engine.controller import Controller
from flowtui.engine.process import kill_stragglers

from .runview import RUN_ACTIVE

CLOSE_GRACE = 10.0  # seconds close() waits for a cancelled run's teardown before giving up


class LocalSource:
    def __init__(self, run):
        self.run = run
        self.controller = Controller(run)
        self._events = deque()
        self._done = threading.Event()
        if run.status not in RUN_ACTIVE:  # it ended already: close() has no end to wait for
            self._done.set()
        run.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._loop, name="flowtui-reactor", daemon=True)
        started = threading.Event()
        run.reactor.call_soon(started.set)  # runs once reactor.run() owns the thread
        if run.status == "pending":
            run.reactor.call_soon(run.start)
        self._thread.start()
        started.wait()

    def _on_event(self, event):
        self._events.append(event)
        if event.type == "run_finished":
            self._done.set()
        elif event.type == "run_reopened":
            self._done.clear()

    def _loop(self):
        try:
            self.run.reactor.run()
        except Exception as exc:  # an engine bug must not leave the UI waiting for a dead run
            kill_stragglers()  # nor its tasks running: no reactor is left to end them
            self._events.append(ev.Notice("error", f"the engine stopped: {type(exc).__name__}: {exc}", None))
            self._events.append(ev.RunFinished("failed", 1))
            self._done.set()

    def _on_loop(self, function):
        """Run `function` on the reactor thread and return its result."""
        if not self._thread.is_alive():
            return function()
        box, ready = [], threading.Event()

        def call():
            try:
                box.append(function())
            finally:
                ready.set()

        self.run.reactor.call_threadsafe(call)
        ready.wait()
        return box[0]

    def snapshot(self) -> dict:
        return self._on_loop(self.run.snapshot)

    def drain(self):
        events, pop = [], self._events.popleft
        try:
            while True:
                events.append(pop())
        except IndexError:
            return events

    def close(self):
        """Cancel the run if it is still active, wait for its teardown, stop the reactor thread."""
        if self._thread.is_alive():
            if not self._done.is_set():
                self.controller.cancel(by="tui").wait(CLOSE_GRACE)
                self._done.wait(self.run.kill_grace + CLOSE_GRACE)
            self.run.reactor.call_threadsafe(self.run.reactor.stop)
            self._thread.join(CLOSE_GRACE)
        self.run.bus.unsubscribe(self._on_event)
