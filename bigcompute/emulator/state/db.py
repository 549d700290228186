"""The SQLite store under every resource: WAL so a killed service loses nothing that was acknowledged."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS pools (id TEXT PRIMARY KEY COLLATE NOCASE, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY COLLATE NOCASE, state TEXT NOT NULL, pool_id TEXT, priority INTEGER NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL COLLATE NOCASE, id TEXT NOT NULL COLLATE NOCASE, seq INTEGER NOT NULL,
    state TEXT NOT NULL, waiting INTEGER NOT NULL DEFAULT 0, result TEXT, slots INTEGER NOT NULL DEFAULT 1,
    dep_ok INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL, PRIMARY KEY (job_id, id));
CREATE INDEX IF NOT EXISTS tasks_sched ON tasks (job_id, state, waiting, seq);
-- Covers task counts (GROUP BY state, result with slots): a poll reads this index, never the task docs.
CREATE INDEX IF NOT EXISTS tasks_counts ON tasks (job_id, state, result, slots);
CREATE TABLE IF NOT EXISTS jobschedules (id TEXT PRIMARY KEY COLLATE NOCASE, state TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Each node's life in its pool (state/usage.py): what pool usage metrics add up; ended NULL while it lives.
CREATE TABLE IF NOT EXISTS node_usage (
    pool_id TEXT NOT NULL COLLATE NOCASE, node_id TEXT NOT NULL, vm_size TEXT NOT NULL, started REAL NOT NULL,
    ended REAL, PRIMARY KEY (pool_id, node_id));
-- The account's applications and their package versions (state/applications.py).
CREATE TABLE IF NOT EXISTS applications (id TEXT PRIMARY KEY COLLATE NOCASE, doc TEXT NOT NULL);
"""


class Database:
    """One connection shared by the HTTP thread and the scheduler, serialized by `lock`.

    One lock keeps the rules simple: every public store method runs as one transaction under it.
    """

    def __init__(self, path: Path | None) -> None:
        self.lock = threading.RLock()
        target = str(path) if path else ":memory:"
        self.conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if path:
            self.conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (only an OS crash can lose the last commits).
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self._depth = 0
        self.view = ViewCache()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        """A unit inside the caller's transaction whose failure undoes its own writes only."""
        self.conn.execute("SAVEPOINT unit")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK TO unit")
            self.conn.execute("RELEASE unit")
            raise
        self.conn.execute("RELEASE unit")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def reset(self) -> None:
        with self.tx() as c:
            for table in ("pools", "jobs", "tasks", "jobschedules", "meta", "node_usage", "applications"):
                c.execute(f"DELETE FROM {table}")


class ViewCache:
    """`json.loads` memoized by the JSON text, for READ-ONLY use on hot paths: pool and job docs are read on
    every dispatch and task completion but change rarely, and looking a text up costs far less than parsing
    it. A changed row has a new text, so it is parsed afresh. Never mutate what this returns: load a private
    copy (the stores' `load`) to change a doc."""

    def __init__(self, limit: int = 1024) -> None:
        self._docs: dict[str, dict[str, Any]] = {}
        self._limit = limit

    def __call__(self, text: str) -> dict[str, Any]:
        doc = self._docs.get(text)
        if doc is None:
            if len(self._docs) >= self._limit:
                self._docs.clear()
            doc = self._docs[text] = json.loads(text)
        return doc


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps would build one per call with these options


def dumps(doc: Mapping[str, Any]) -> str:
    return _ENCODER.encode(doc)


def loads(text: str) -> dict[str, Any]:
    return json.loads(text)
