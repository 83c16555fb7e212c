"""Persistence of a LocalSigstore: keys, log entries and a few settings, in SQLite.

Owns: one SQLite file (``state.sqlite3`` in the state directory) and the three
tables in it. Its methods are synchronous and short; the stack calls them in
worker threads (``anyio.to_thread``), one at a time under a lock here.
Without a directory the store keeps nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["StateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tuf (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    log TEXT NOT NULL,
    idx INTEGER NOT NULL,
    body BLOB NOT NULL,
    integrated_time INTEGER NOT NULL,
    PRIMARY KEY (log, idx)
);
"""


class StateStore:
    """A SQLite file, or nothing (``path=None``)."""

    FILENAME = "state.sqlite3"

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            # Used from worker threads, one call at a time under the lock.
            self._db = sqlite3.connect(directory / self.FILENAME, check_same_thread=False)
            with self._db:
                self._db.executescript(_SCHEMA)

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def load_keys(self) -> dict[str, bytes]:
        if self._db is None:
            return {}
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM keys").fetchall()
        return {str(name): bytes(value) for name, value in rows}

    def save_keys(self, records: dict[str, bytes]) -> None:
        if self._db is None:
            return
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO keys (name, value) VALUES (?, ?)", records.items()
            )

    def get_meta(self, name: str) -> str | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        if self._db is None:
            return
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value)
            )

    def load_tuf(self) -> dict[str, bytes]:
        """The TUF repository's state (``LocalTufRepository.export_state``), or nothing."""
        if self._db is None:
            return {}
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM tuf").fetchall()
        return {str(name): bytes(value) for name, value in rows}

    def save_tuf(self, records: dict[str, bytes]) -> None:
        """Replace the TUF repository's state, in one transaction."""
        if self._db is None:
            return
        with self._lock, self._db:
            self._db.execute("DELETE FROM tuf")
            self._db.executemany("INSERT INTO tuf (name, value) VALUES (?, ?)", records.items())

    def load_entries(self, log: str) -> list[tuple[bytes, int]]:
        """(body, integrated time) of every entry of ``log``, in index order.

        Raises:
            ValueError: the stored indices have a gap.
        """
        if self._db is None:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, body, integrated_time FROM entries WHERE log = ? ORDER BY idx",
                (log,),
            ).fetchall()
        for expected, (idx, _, _) in enumerate(rows):
            if idx != expected:
                raise ValueError(f"state store: log {log} has a gap at index {expected}")
        return [(bytes(body), int(t)) for _, body, t in rows]

    def append_entries(self, log: str, entries: list[tuple[int, bytes, int]]) -> None:
        """Store (index, body, integrated time) rows of ``log``."""
        if self._db is None or not entries:
            return
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO entries (log, idx, body, integrated_time) VALUES (?, ?, ?, ?)",
                [(log, i, body, t) for i, body, t in entries],
            )
