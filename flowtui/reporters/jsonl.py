"""`--events PATH`: one JSON object per engine event, flushed as they happen."""

import json


class EventsWriter:
    def __init__(self, bus, path):
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        bus.subscribe(self)

    def __call__(self, event):
        if event.type == "task_partial":  # the line comes whole in a task_output once it ends
            return
        write = self._file.write
        data = event.to_json()
        if event.type == "task_output":
            lines = data.pop("lines")
            for line in lines:
                data["line"] = line
                write(json.dumps(data) + "\n")
        else:
            write(json.dumps(data, default=str) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()
