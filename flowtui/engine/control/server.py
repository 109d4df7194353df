"""The control socket of a live run, served by the run's reactor (no threads, no asyncio).

Protocol: JSON Lines. A request is one object `{"v": 1, "op": ..., ...}` (an optional `"id"` is
echoed back); every request gets one reply `{"v": 1, "ok": bool, "message": str, ...}`.
Operations: `status`, `snapshot`, `subscribe` (the reply carries a snapshot, then every engine
event follows as one `event.to_json()` line), and the controller's `pause resume stop cancel
approve reject skip rerun send`. A malformed or unknown request gets `ok: false` and the
connection stays usable; one bad client never affects the others or the run.
"""

import json
import os
import socket

from ..controller import Controller
from ..statedir import private_subdir
from .sockets import PROTOCOL_VERSION, bind, socket_path

_READ = 65536
_MAX_LINE = 1 << 20  # a request longer than this is garbage: the client is dropped
_MAX_BACKLOG = 64 << 20  # a subscriber this far behind is dropped rather than eat memory
_NEEDS_TASK = ("approve", "reject", "skip", "rerun", "send")


class ControlServer:
    def __init__(self, run, state_dir):
        self.run, self.state_dir = run, state_dir
        self.path = socket_path(state_dir, run.run_id)
        self.controller = Controller(run)
        self._sock = None
        self._clients = {}  # fd -> _Client
        self._flush_due = False

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> "ControlServer":
        """Listen on `<state_dir>/sockets/<run-id>.sock` (0600). Call before the reactor runs or on its thread."""
        private_subdir(self.state_dir, "sockets")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        temp = f"{self.path}.{os.getpid()}.tmp"
        try:
            if os.path.exists(temp):
                os.unlink(temp)
            bind(sock, temp)
            os.chmod(temp, 0o600)
            sock.listen(64)
            # Appear under the real name only once listening: a socket that refuses connections
            # means a dead runner to everyone else (see store.orphans).
            os.replace(temp, self.path)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock
        self.run.bus.subscribe(self._on_event)
        self.run.reactor.add_reader(sock.fileno(), self._accept)
        return self

    def close(self):
        """Stop serving: subscribers get what is queued (the final events), then the socket goes."""
        if self._sock is None:
            return
        self.run.bus.unsubscribe(self._on_event)
        self.run.reactor.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        for client in list(self._clients.values()):
            if client.out:
                try:
                    client.sock.settimeout(1.0)
                    client.sock.sendall(client.out)
                except OSError:
                    pass
            self._drop(client)

    # -- connections -------------------------------------------------------------------------------
    def _accept(self):
        while self._sock is not None:
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            client = _Client(sock)
            self._clients[client.fd] = client
            self.run.reactor.add_reader(client.fd, lambda c=client: self._readable(c))

    def _readable(self, client):
        try:
            data = client.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbuf += data
        while client.fd in self._clients:
            line, sep, rest = client.inbuf.partition(b"\n")
            if not sep:
                if len(client.inbuf) > _MAX_LINE:
                    self._reply(client, {}, False, "request too long")
                    self._flush(client)
                    self._drop(client)
                return
            client.inbuf = rest
            if line.strip():
                self._handle(client, line)

    def _drop(self, client):
        if self._clients.pop(client.fd, None) is None:
            return
        self.run.reactor.remove_reader(client.fd)
        if client.wfd is not None:
            self.run.reactor.remove_reader(client.wfd)
            os.close(client.wfd)
        client.sock.close()

    # -- requests ----------------------------------------------------------------------------------
    def _handle(self, client, line):
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            self._reply(client, {}, False, "malformed request: not a JSON object")
            return
        if not isinstance(request, dict):
            self._reply(client, {}, False, "malformed request: not a JSON object")
            return
        if request.get("v") != PROTOCOL_VERSION:
            self._reply(client, request, False, f"unsupported protocol version {request.get('v')!r} (this run speaks {PROTOCOL_VERSION})")
            return
        op = request.get("op")
        handler = _OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            self._reply(client, request, False, f"unknown op {op!r}: use one of {', '.join(_OPS)}")
            return
        if op in _NEEDS_TASK and not isinstance(request.get("task"), str):
            self._reply(client, request, False, f"{op} needs a \"task\" (a task id)")
            return
        try:
            ok, message, extra = handler(self, client, request)
        except Exception as exc:  # a bad argument must not take the run down
            ok, message, extra = False, f"{op} failed: {exc}", {}
        self._reply(client, request, ok, message, **extra)

    def _reply(self, client, request, ok, message, **extra):
        reply = {"v": PROTOCOL_VERSION, "ok": bool(ok), "message": message}
        if "id" in request:
            reply["id"] = request["id"]
        reply.update(extra)
        self._send(client, (json.dumps(reply, default=str) + "\n").encode())

    def status(self) -> dict:
        """A summary of the run: status, counts per task status, what runs and what waits."""
        run = self.run
        counts, running = {}, []
        for nid, state in run.states.items():
            if run.nodes[nid].is_task:
                counts[state.status] = counts.get(state.status, 0) + 1
                if state.status == "running":
                    running.append(nid)
        return {
            "run_id": run.run_id, "status": run.status, "paused": run.paused, "exit_code": run.exit_code,
            "flow": {"name": run.flow.name, "format": run.flow.format, "file": run.flow.file},
            "pid": os.getpid(), "started_at": run.started_at, "counts": counts, "running": running,
            "approvals": run.pending_approvals(),
        }

    # -- events ------------------------------------------------------------------------------------
    def _on_event(self, event):
        subscribers = [c for c in self._clients.values() if c.subscribed]
        if not subscribers:
            return
        data = (json.dumps(event.to_json(), default=str) + "\n").encode()
        for client in subscribers:
            client.out += data
            if len(client.out) > _MAX_BACKLOG:
                self._drop(client)
        if not self._flush_due:
            self._flush_due = True
            self.run.reactor.call_soon(self._flush_all)

    def _flush_all(self):
        self._flush_due = False
        for client in list(self._clients.values()):
            if client.out and client.wfd is None:
                self._flush(client)

    def _send(self, client, data):
        client.out += data
        if len(client.out) > _MAX_BACKLOG:
            self._drop(client)
        elif client.wfd is None:
            self._flush(client)

    def _flush(self, client):
        if client.fd not in self._clients:
            return
        try:
            while client.out:
                sent = client.sock.send(client.out)
                del client.out[:sent]
        except (BlockingIOError, InterruptedError):
            if client.wfd is None:
                # A second descriptor for the same socket waits for writability: the reactor keys
                # its selector by fd and the first one is already registered for reading.
                client.wfd = os.dup(client.fd)
                self.run.reactor.add_writer(client.wfd, lambda: self._flush(client))
            return
        except OSError:
            self._drop(client)
            return
        if client.wfd is not None:
            self.run.reactor.remove_reader(client.wfd)
            os.close(client.wfd)
            client.wfd = None


class _Client:
    __slots__ = ("sock", "fd", "wfd", "inbuf", "out", "subscribed")

    def __init__(self, sock):
        self.sock, self.fd, self.wfd = sock, sock.fileno(), None
        self.inbuf, self.out, self.subscribed = b"", bytearray(), False


def _by(request):
    by = request.get("by")
    return str(by) if by else "socket"


def _op_status(server, client, request):
    status = server.status()
    return True, status["status"], {"status": status}


def _op_snapshot(server, client, request):
    return True, "snapshot", {"snapshot": server.run.snapshot()}


def _op_subscribe(server, client, request):
    client.subscribed = True
    return True, "subscribed", {"snapshot": server.run.snapshot()}


def _reply(result):
    ok, message = result
    return ok, message, {}


def _run_op(name):
    def op(server, client, request):
        return _reply(getattr(server.controller, name)(by=_by(request)))
    return op


def _op_approve(server, client, request):
    values = request.get("values") or {}
    if not isinstance(values, dict):
        return False, "values must be an object of field: value", {}
    return _reply(server.controller.approve(request["task"], by=_by(request), reason=request.get("reason"), values=values))


def _op_reject(server, client, request):
    return _reply(server.controller.reject(request["task"], by=_by(request), reason=request.get("reason")))


def _op_skip(server, client, request):
    return _reply(server.controller.skip(request["task"], by=_by(request)))


def _op_rerun(server, client, request):
    return _reply(server.controller.rerun(request["task"], downstream=bool(request.get("downstream")), by=_by(request)))


def _op_send(server, client, request):
    text = request.get("text")
    if not isinstance(text, str):
        return False, "send needs a \"text\"", {}
    return _reply(server.controller.send(request["task"], text))


_OPS = {
    "status": _op_status, "snapshot": _op_snapshot, "subscribe": _op_subscribe,
    "pause": _run_op("pause"), "resume": _run_op("resume"), "stop": _run_op("stop"), "cancel": _run_op("cancel"),
    "approve": _op_approve, "reject": _op_reject, "skip": _op_skip, "rerun": _op_rerun, "send": _op_send,
}
