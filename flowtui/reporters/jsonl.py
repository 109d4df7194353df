"""`--events PATH`: one JSON object per engine event, flushed as they happen."""

import json


class EventsWriter:
    """A write that fails (a full disk, a FIFO's reader gone) stops the writing, not the run: the
    OSError is kept in `error` for the caller to report when the run ends."""

    def __init__(self, bus, path):
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.error = None
        self._bus = bus
        bus.subscribe(self)

    def __call__(self, event):
        if event.type == "task_partial":  # the line comes whole in a task_output once it ends
            return
        write = self._file.write
        data = event.to_json()
        try:
            if event.type == "task_output":
                lines = data.pop("lines")
                for line in lines:
                    data["line"] = line
                    write(json.dumps(data) + "\n")
            else:
                write(json.dumps(data, default=str) + "\n")
            self._file.flush()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc):
        self.error = self.error or exc
        self._bus.unsubscribe(self)

    def close(self):
        try:
            self._file.close()
        except OSError as exc:  # what was still buffered could not be written
            self._fail(exc)
