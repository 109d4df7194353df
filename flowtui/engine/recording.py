"""What every run gets besides its viewer: the store writer and the control socket.

`Recording(run, state_dir, options)` after the run is built (and, on resume, restored) and before
it starts; `ended()` as soon as its event loop has stopped (before writing reports), `close()` once done with
it: the final events reach the store and subscribers, then the socket goes.
"""


class Recording:
    def __init__(self, run, state_dir, options=None):
        from .control.server import ControlServer
        from .store import StoreWriter, open_store

        self.store = open_store(state_dir)
        self._ended = False
        # The socket first: a runner killed a moment later leaves it (dead) beside its journal, and
        # a dead socket is how the next flowtui finds the run and ends what it started.
        self.server = ControlServer(run, state_dir).start()
        try:
            self.writer = StoreWriter(run, self.store, options)
        except BaseException:
            self.server.close()
            raise

    def ended(self):
        """The run is over and its event loop turns no more: record what is left, then stop serving
        the socket, before the reports are written and the process exits. A socket that accepts
        with nobody to answer kept `status` waiting 30 s and `attach` for ever. Idempotent."""
        if self._ended:
            return
        self._ended = True
        # The store first: once the socket is gone, `logs --follow` reads to the end and stops.
        self.writer.close()
        self.server.close()

    def close(self):
        self.ended()
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
