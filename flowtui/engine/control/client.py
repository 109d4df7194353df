"""Talking to a live run's control socket: a blocking client, and the remote viewer source.

`RemoteSource` gives a viewer (the TUI under `flowtui attach`) the same interface as a local run:
`snapshot()`, `drain()`, `controller`, `close()`. Closing it leaves the run going.
"""

import json
import socket
import threading
from collections import deque

from ..who import current_user
from .sockets import PROTOCOL_VERSION, connect, live_runs, socket_path


class ControlError(Exception):
    """No such live run, several live runs and none named, or the runner went away."""

    def __init__(self, message, live=()):
        super().__init__(message)
        self.live = list(live)


def find_run(state_dir, run_id=None) -> str:
    """The live run to talk to: `run_id` (or a unique prefix), else the only live run."""
    live = live_runs(state_dir)
    if run_id:
        matches = [rid for rid in live if rid == run_id] or [rid for rid in live if rid.startswith(run_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ControlError(f"no live run {run_id!r}", live)
        raise ControlError(f"run id {run_id!r} is ambiguous", matches)
    if len(live) == 1:
        return live[0]
    raise ControlError("no live run" if not live else "several live runs: name one", live)


class Client:
    """One connection; `request(op, **fields)` sends a request and returns the reply dict."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            connect(self.sock, path)
        except OSError as exc:
            self.sock.close()
            raise ControlError(f"cannot reach the run at {path}: {exc.strerror or exc}") from None
        self._file = self.sock.makefile("rb")
        self._lock = threading.Lock()

    def request(self, op, **fields) -> dict:
        message = {"v": PROTOCOL_VERSION, "op": op, **{k: v for k, v in fields.items() if v is not None}}
        with self._lock:
            try:
                self.sock.sendall((json.dumps(message) + "\n").encode())
                return self.read()
            except OSError as exc:
                raise ControlError(f"the run went away: {exc.strerror or exc}") from None

    def read(self):
        """The next line from the server as a dict; ControlError once the runner closed the socket."""
        line = self._file.readline()
        if not line:
            raise ControlError("the run closed the connection (it has finished)")
        if not line.endswith(b"\n"):
            raise ControlError("the run closed the connection in the middle of a reply (its runner died?)")
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ControlError("the run sent a malformed reply (not a JSON object)")
        return data

    def close(self):
        self._file.close()
        self.sock.close()


class RemoteController:
    """The `Controller` API over the socket; each call returns a completed `Reply`."""

    def __init__(self, client, by=None):
        self._client, self.by = client, by or current_user()

    def _call(self, op, **fields):
        from ..controller import Reply

        try:
            reply = self._client.request(op, **fields)
        except ControlError as exc:
            return Reply(False, str(exc))
        return Reply(reply.get("ok", False), reply.get("message", ""))

    def pause(self, by=None):
        return self._call("pause", by=by or self.by)

    def resume(self, by=None):
        return self._call("resume", by=by or self.by)

    def stop(self, by=None):
        return self._call("stop", by=by or self.by)

    def cancel(self, by=None):
        return self._call("cancel", by=by or self.by)

    def approve(self, task, by=None, reason=None, values=None):
        return self._call("approve", task=task, by=by or self.by, reason=reason, values=values)

    def reject(self, task, by=None, reason=None):
        return self._call("reject", task=task, by=by or self.by, reason=reason)

    def skip(self, task, by=None):
        return self._call("skip", task=task, by=by or self.by)

    def rerun(self, task, downstream=False, by=None):
        return self._call("rerun", task=task, downstream=downstream, by=by or self.by)

    def send(self, task, text):
        return self._call("send", task=task, text=text)

    def oldest_approval(self):
        try:
            approvals = self._client.request("status").get("status", {}).get("approvals") or []
        except ControlError:
            return None
        return approvals[0] if approvals else None


class RemoteSource:
    """A run in another process, seen through its socket: the viewer interface of `LocalSource`.

    One connection subscribes (its reply holds the snapshot; a thread then reads events), a
    second carries controller requests so replies never queue behind event traffic.
    """

    remote = True  # the run lives elsewhere: a viewer quitting must leave it going, not cancel it

    def __init__(self, state_dir, run_id=None):
        self.run_id = find_run(state_dir, run_id)
        path = socket_path(state_dir, self.run_id)
        self._events_client = Client(path)  # a runner that never answers (stopped) fails like a command
        try:
            reply = self._events_client.request("subscribe")
        except ControlError:
            self._events_client.close()
            raise
        if not reply.get("ok"):
            self._events_client.close()
            raise ControlError(reply.get("message") or "subscribe refused")
        self._events_client.sock.settimeout(None)  # then events may be hours apart
        self._snapshot = reply["snapshot"]
        self._control_client = Client(path)
        self.controller = RemoteController(self._control_client)
        self._events = deque()
        self.ended = False  # the runner closed the stream: the run finished (or died)
        self._thread = threading.Thread(target=self._read, name="flowtui-attach", daemon=True)
        self._thread.start()

    def _read(self):
        from ..events import from_json

        while True:
            try:
                data = self._events_client.read()
            except (ControlError, OSError, ValueError):
                break
            if "type" in data:
                self._events.append(from_json(data))
        self.ended = True

    def snapshot(self) -> dict:
        """The run as it was when this source subscribed; `drain()` then gives every change since."""
        return self._snapshot

    def drain(self):
        events, pop = [], self._events.popleft
        while self._events:
            events.append(pop())
        return events

    def close(self):
        for client in (self._events_client, self._control_client):
            try:
                client.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._events_client.close()
        self._control_client.close()
