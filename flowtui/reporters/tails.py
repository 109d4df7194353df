"""The last lines of every task's output, for failure summaries and JUnit."""

from collections import deque

TAIL_LINES = 50


class Tails:
    def __init__(self, bus, size=TAIL_LINES):
        self.size = size
        self._tails = {}
        bus.subscribe(self)

    def __call__(self, event):
        if event.type == "task_output":
            tail = self._tails.get(event.task)
            if tail is None:
                tail = self._tails[event.task] = deque(maxlen=self.size)
            tail.extend(event.text.rsplit("\n", self.size)[-self.size:])  # no split of a whole flood
        elif event.type == "task_started" and event.attempt > 1:
            self._tails.pop(event.task, None)  # show the attempt that counts

    def get(self, task, n=None):
        lines = list(self._tails.get(task, ()))
        return lines[-n:] if n else lines
