"""The server's embedded SQLite database (`<instance>/twin.sqlite3`): registered projects and jobs.

It lives in the instance folder next to the files it indexes (uploaded projects, GLBs, job
results), in WAL mode so the request threads read while a worker process writes its progress.
Every call opens its own short-lived connection: the store is shared by waitress threads and
by job worker processes, and sqlite3 connections must not cross either.

Schema (migrations-light: `CREATE TABLE IF NOT EXISTS` and `PRAGMA user_version`):

    projects(name PK, folder UNIQUE, created, source 'folder'|'upload')
    jobs(id PK, project, state, kind, params JSON, status, progress 0-1, message,
         result JSON, result_path, error, cancel_requested, created, started, finished, worker_pid)

A job's status is one of queued, running, done, failed, cancelled; the last three are final.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DATABASE_NAME = "twin.sqlite3"

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATUSES = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name    TEXT PRIMARY KEY,
    folder  TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    source  TEXT NOT NULL CHECK (source IN ('folder', 'upload'))
);
CREATE TABLE IF NOT EXISTS jobs (
    id               TEXT PRIMARY KEY,
    project          TEXT NOT NULL,
    state            TEXT NOT NULL,
    kind             TEXT NOT NULL,
    params           TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    progress         REAL NOT NULL DEFAULT 0,
    message          TEXT NOT NULL DEFAULT '',
    result           TEXT,
    result_path      TEXT,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created          TEXT NOT NULL,
    started          TEXT,
    finished         TEXT,
    worker_pid       INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (project, state, created);
"""


class StoreError(RuntimeError):
    """The database is from a newer server, or otherwise unusable."""


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. 2026-11-28T06:50:04.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_json(row: sqlite3.Row) -> dict[str, Any]:
    """A jobs row as the API shows it (params and result decoded)."""
    return {
        "id": row["id"], "project": row["project"], "state": row["state"], "kind": row["kind"],
        "params": json.loads(row["params"] or "{}"), "status": row["status"],
        "progress": row["progress"], "message": row["message"],
        "result": json.loads(row["result"]) if row["result"] else None,
        "resultPath": row["result_path"], "error": row["error"],
        "cancelRequested": bool(row["cancel_requested"]),
        "created": row["created"], "started": row["started"], "finished": row["finished"],
        "workerPid": row["worker_pid"],
    }


class Store:
    """Projects and jobs in one SQLite file; safe to use from threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    def _execute(self, sql: str, parameters: tuple | dict = ()) -> tuple[list[sqlite3.Row], int]:
        """(rows, rowcount) of one statement on a fresh connection."""
        with closing(self.connect()) as connection:
            cursor = connection.execute(sql, parameters)
            return cursor.fetchall(), cursor.rowcount

    def create_schema(self) -> None:
        """Create the tables if missing; refuse a database written by a newer schema."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self.connect()) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: database schema version {version} is newer than this "
                                 f"server's ({SCHEMA_VERSION}); upgrade the server or use another instance folder")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ------------------------------------------------------------------ projects

    def add_project(self, name: str, folder: str | Path, source: str) -> None:
        """Register a project; sqlite3.IntegrityError if its name or folder is already registered."""
        self._execute("INSERT INTO projects (name, folder, created, source) VALUES (?, ?, ?, ?)",
                      (name, str(folder), now_iso(), source))

    def projects(self) -> list[dict[str, Any]]:
        rows = self._execute("SELECT name, folder, created, source FROM projects ORDER BY created, name")[0]
        return [dict(row) for row in rows]

    # ------------------------------------------------------------------ jobs

    def create_job(self, *, project: str, state: str, kind: str, params: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex
        self._execute("INSERT INTO jobs (id, project, state, kind, params, created) VALUES (?, ?, ?, ?, ?, ?)",
                      (job_id, project, state, kind, json.dumps(params, ensure_ascii=False), now_iso()))
        return job_id

    def job(self, job_id: str) -> sqlite3.Row | None:
        rows = self._execute("SELECT * FROM jobs WHERE id = ?", (job_id,))[0]
        return rows[0] if rows else None

    def jobs(self, *, project: str | None = None, state: str | None = None) -> list[sqlite3.Row]:
        clauses, parameters = [], []
        if project is not None:
            clauses.append("project = ?")
            parameters.append(project)
        if state is not None:
            clauses.append("state = ?")
            parameters.append(state)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._execute(f"SELECT * FROM jobs {where} ORDER BY created, rowid", tuple(parameters))[0]

    def update_job(self, job_id: str, *, only_if_status: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Set columns of a job; with `only_if_status`, only when its status is one of those.
        Returns whether the row was changed."""
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"], ensure_ascii=False)
        assignments = ", ".join(f"{column} = ?" for column in fields)
        sql = f"UPDATE jobs SET {assignments} WHERE id = ?"
        parameters = [*fields.values(), job_id]
        if only_if_status:
            sql += f" AND status IN ({', '.join('?' for _ in only_if_status)})"
            parameters.extend(only_if_status)
        return self._execute(sql, tuple(parameters))[1] > 0

    def mark_interrupted(self, reason: str = "interrupted: server restarted") -> int:
        """Fail every job a previous server process left queued or running; returns how many."""
        return self._execute(
            "UPDATE jobs SET status = 'failed', error = ?, finished = ? WHERE status IN ('queued', 'running')",
            (reason, now_iso()))[1]
