"""The run store's SQLite schema. WAL mode: readers (`flowtui runs`, `show`) never block the writer.

Every change is made inside a transaction, so a runner killed at any instant leaves either the
state before or after a batch of events, never half of one.
"""

import os

DB_NAME = "runs.sqlite3"
VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    flow_file TEXT,
    flow_name TEXT,
    format TEXT,
    content_hash TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    started_by TEXT,
    pid INTEGER,
    host TEXT,
    options TEXT,
    checkpoint TEXT,
    resumes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow_file, created_at);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    name TEXT,
    parent TEXT,
    position INTEGER,
    is_task INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    iteration INTEGER NOT NULL DEFAULT 1,
    exit_code INTEGER,
    started_at REAL,
    finished_at REAL,
    duration REAL,
    error TEXT,
    answers TEXT,
    PRIMARY KEY (run_id, task_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    iteration INTEGER,
    status TEXT,
    exit_code INTEGER,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (run_id, task_id, attempt)
);
CREATE TABLE IF NOT EXISTS approvals (
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    reason TEXT,
    answers TEXT
);
CREATE INDEX IF NOT EXISTS approvals_by_run ON approvals (run_id, task_id);
"""


def connect(state_dir):
    """A connection to the store in `state_dir`, schema created, WAL on; the file is owner-only."""
    import sqlite3

    path = os.path.join(state_dir, DB_NAME)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if conn.execute("PRAGMA user_version").fetchone()[0] < VERSION:
        conn.executescript(SCHEMA + f"PRAGMA user_version = {VERSION};")
    return conn
