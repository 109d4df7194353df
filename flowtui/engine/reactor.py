"""A small single-threaded event loop: fd readiness, timers, thread-safe calls.

Why not asyncio: importing it costs ~55 ms, five times `python -c pass`, and the headless cold
start budget is 3x. This loop does only what the engine needs; the TUI runs it in a thread.
It uses epoll directly where there is one (the `selectors` layer costs an import and a few
microseconds per registration, and a task registers three descriptors).
"""

import heapq
import os
import time
from _thread import get_ident
from collections import deque

try:
    from select import EPOLLIN, EPOLLOUT, epoll
except ImportError:  # not Linux
    epoll = None


_LONGEST_WAIT = 86400.0


class Timer:
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when, callback):
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self):
        self.cancelled = True

    def __lt__(self, other):
        return self.when < other.when


class _Selector:
    """The part of `selectors` the reactor uses, over `selectors.DefaultSelector` (no epoll)."""

    def __init__(self):
        import selectors

        self._selectors = selectors
        self._selector = selectors.DefaultSelector()

    def register(self, fd, write, callback):
        self._selector.register(fd, self._selectors.EVENT_WRITE if write else self._selectors.EVENT_READ, callback)

    def unregister(self, fd):
        self._selector.unregister(fd)

    def poll(self, timeout):
        """The callbacks of the ready descriptors, looked up as they are called."""
        registered = self._selector.get_map()
        for key, _ in self._selector.select(timeout):
            current = registered.get(key.fd)
            if current is not None:
                yield current.data

    def close(self):
        self._selector.close()


class _Epoll:
    """fd -> callback over one epoll object. Callbacks are looked up as they are called, so one
    unregistered by an earlier callback of the same batch is not called."""

    def __init__(self):
        self._epoll = epoll()
        self._callbacks = {}

    def register(self, fd, write, callback):
        if fd in self._callbacks:
            raise KeyError(f"{fd} is already registered")
        self._epoll.register(fd, EPOLLOUT if write else EPOLLIN)
        self._callbacks[fd] = callback

    def unregister(self, fd):
        del self._callbacks[fd]
        self._epoll.unregister(fd)

    def poll(self, timeout):
        callbacks = self._callbacks
        for fd, _ in self._epoll.poll(-1 if timeout is None else timeout):
            callback = callbacks.get(fd)
            if callback is not None:
                yield callback

    def close(self):
        self._epoll.close()


class Reactor:
    def __init__(self):
        self._selector = _Epoll() if epoll is not None else _Selector()
        self._timers = []
        self._soon = deque()
        self._threadsafe = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, False, self._drain_wakeups)
        self._stopped = False
        self.thread_id = None

    # -- scheduling -------------------------------------------------------------------------
    def call_soon(self, callback, *args):
        self._soon.append((callback, args))

    def call_later(self, delay, callback, *args) -> Timer:
        timer = Timer(time.monotonic() + max(0.0, delay), (lambda: callback(*args)) if args else callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_threadsafe(self, callback, *args):
        """Run `callback` on the loop thread; safe from any thread (and from signal handlers)."""
        self._threadsafe.append((callback, args))
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # pipe full: a wake-up is already pending

    def in_loop_thread(self) -> bool:
        return self.thread_id is None or self.thread_id == get_ident()

    # -- file descriptors ---------------------------------------------------------------------
    def add_reader(self, fd, callback):
        self._selector.register(fd, False, callback)

    def remove_reader(self, fd):
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    def add_writer(self, fd, callback):
        self._selector.register(fd, True, callback)

    def _drain_wakeups(self):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    # -- running ------------------------------------------------------------------------------
    def run(self, until=None):
        """Process events until stop() is called or `until()` returns true."""
        self.thread_id = get_ident()
        self._stopped = False
        poll = self._selector.poll
        soon, threadsafe, timers = self._soon, self._threadsafe, self._timers
        while not self._stopped:
            while threadsafe:
                soon.append(threadsafe.popleft())
            while soon:
                callback, args = soon.popleft()
                callback(*args)
                if self._stopped:
                    return
            if until is not None and until():
                return
            now = time.monotonic()
            while timers and (timers[0].cancelled or timers[0].when <= now):
                timer = heapq.heappop(timers)
                if not timer.cancelled:
                    soon.append((timer.callback, ()))
            if soon:
                continue
            timeout = None
            if threadsafe:
                timeout = 0
            elif timers:  # at most a day at a time: poll() refuses 2**31 ms and more (a 30d timeout)
                timeout = min(max(0.0, timers[0].when - now), _LONGEST_WAIT)
            for callback in poll(timeout):
                callback()

    def stop(self):
        self._stopped = True

    def close(self):
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
