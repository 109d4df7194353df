"""The run store: every run recorded in SQLite (WAL) under the state dir, logs beside it.

`open_store(state_dir)` reads it; `StoreWriter(run, store)` records a run as it goes;
`reap_orphans(state_dir)` ends what dead runners left behind. sqlite3 is imported only when a
query runs or in the writer's thread, never on the cold-start path.
"""

from .orphans import reap_orphans, record_dead_runs
from .runstore import INTERRUPTED, RunStore, StoreError
from .writer import StoreWriter

__all__ = ["INTERRUPTED", "RunStore", "StoreError", "StoreWriter", "open_store", "reap_orphans", "record_dead_runs"]


def open_store(state_dir, keep=None) -> RunStore:
    """The store in `state_dir` (from `statedir.resolve`); `keep` runs per flow (default 100)."""
    return RunStore(state_dir, keep=keep)
