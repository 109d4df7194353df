"""The one controller API: keys, the control socket and tests all steer a run through it.

Calls made on the reactor thread run at once; calls from another thread (the TUI) are handed to
the reactor and return a `Reply` to wait on.
"""

import threading

OPERATIONS = ("pause", "resume", "stop", "cancel", "approve", "reject", "skip", "rerun", "send")


class Reply:
    __slots__ = ("_event", "ok", "message")

    def __init__(self, ok=None, message=None):
        self._event = threading.Event()
        self.ok, self.message = ok, message
        if ok is not None:
            self._event.set()

    def _set(self, result):
        self.ok, self.message = result
        self._event.set()

    def wait(self, timeout=None) -> "Reply":
        self._event.wait(timeout)
        return self

    def __iter__(self):  # ok, message = controller.pause().wait()
        return iter((self.ok, self.message))


class Controller:
    def __init__(self, run):
        self.run = run

    def _call(self, name, *args, **kw) -> Reply:
        method = getattr(self.run, name)
        if self.run.reactor.in_loop_thread():
            return Reply(*method(*args, **kw))
        reply = Reply()
        self.run.reactor.call_threadsafe(lambda: reply._set(method(*args, **kw)))
        return reply

    def pause(self, by=None):
        return self._call("pause", by=by)

    def resume(self, by=None):
        return self._call("resume", by=by)

    def stop(self, by=None):
        return self._call("stop", by=by)

    def cancel(self, by=None):
        return self._call("cancel", by=by)

    def approve(self, task, by=None, reason=None, values=None):
        return self._call("approve", task, by=by, reason=reason, values=values)

    def reject(self, task, by=None, reason=None):
        return self._call("reject", task, by=by, reason=reason)

    def skip(self, task, by=None):
        return self._call("skip", task, by=by)

    def rerun(self, task, downstream=False, by=None):
        return self._call("rerun", task, downstream=downstream, by=by)

    def send(self, task, text):
        return self._call("send", task, text)

    def oldest_approval(self):
        approvals = self.run.pending_approvals()
        return approvals[0] if approvals else None
