"""Jobs: long work run outside the request by a local process pool, its progress kept in the store.

A job kind is a plain function `kind(params, report_progress) -> result dict`, registered by
name in `JOB_KINDS` (engines plug in with `register_job_kind`). `params` holds the job's own
parameters plus `project`, `project_folder`, `state` and `instance_path`; the kind calls
`report_progress(fraction 0-1, message)`, which writes the jobs row and raises `JobCancelled`
once a cancel has been asked for. A result may name its main file as `result_path`.

The worker process opens its own database connection and writes every status change itself
(running, done, failed, cancelled), so the row is right even if the server dies meanwhile.
The server watches each future: a worker that dies mid-run (killed, out of memory) breaks the
pool; its running job is marked failed, jobs that had not started are resubmitted, and the
next submission gets a fresh pool — requests are answered throughout.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Protocol

from twin.errors import TwinError

from server.prepare import prepare_state
from server.store import Store, now_iso

log = logging.getLogger("server.jobs")


class ReportProgress(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


JobKind = Callable[[dict[str, Any], ReportProgress], dict[str, Any]]

JOB_KINDS: dict[str, JobKind] = {"prepare": prepare_state}
"""Job kinds by the name a client asks for. `prepare`: load a state, export its GLB and diff GLB."""

CONTEXT_PARAMS = ("project", "project_folder", "state", "instance_path")
"""Parameters the runner sets for every job; a client cannot give them."""

RESUBMISSIONS = 2
"""How many times a job that never started is resubmitted after its pool broke."""


def register_job_kind(name: str, function: JobKind) -> None:
    """Make `function` runnable as jobs of kind `name`. It must be importable by name (a module-level
    function): the pool's worker processes are spawned and receive it by reference."""
    JOB_KINDS[name] = function


def _register_engine_kinds() -> None:
    from server.sim_jobs import discover

    discover(register_job_kind)


_register_engine_kinds()


class JobCancelled(Exception):
    """Raised by report_progress in the worker when the job's cancel flag is set."""


class _Reporter:
    """report_progress for one job in the worker: writes progress at most every `interval` seconds
    and checks the cancel flag at the same pace."""

    def __init__(self, store: Store, job_id: str, interval: float = 0.1) -> None:
        self.store, self.job_id, self.interval = store, job_id, interval
        self._last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.interval and fraction < 1.0:
            return
        self._last = now
        self.store.update_job(self.job_id, only_if_status=("running",),
                              progress=min(max(float(fraction), 0.0), 1.0), message=message)
        row = self.store.job(self.job_id)
        # stop when cancelled, or when a restarted server has marked this orphaned job failed
        if row is None or row["cancel_requested"] or row["status"] != "running":
            raise JobCancelled()


def run_job(database: str, job_id: str, function: JobKind, params: dict[str, Any]) -> None:
    """The worker side of a job: mark it running, run the kind, write its outcome."""
    store = Store(database)
    if not store.update_job(job_id, only_if_status=("queued",), status="running", started=now_iso(),
                            worker_pid=os.getpid(), message="started"):
        return  # cancelled (or failed by a restart) before a worker picked it up
    # every outcome is written only if the job is still running: a server restarted meanwhile has
    # marked it failed, and that verdict stands
    running = ("running",)
    try:
        result = function(params, _Reporter(store, job_id))
    except JobCancelled:
        store.update_job(job_id, only_if_status=running, status="cancelled", finished=now_iso(),
                         message="cancelled while running")
    except TwinError as exc:
        store.update_job(job_id, only_if_status=running, status="failed", finished=now_iso(), error=str(exc))
    except Exception as exc:  # noqa: BLE001 — a bug in a job kind fails that job, never the pool
        log.exception("job %s failed", job_id)
        store.update_job(job_id, only_if_status=running, status="failed", finished=now_iso(),
                         error=f"{type(exc).__name__}: {exc}")
    else:
        result = dict(result or {})
        store.update_job(job_id, only_if_status=running, status="done", finished=now_iso(), progress=1.0,
                         message="done", result=result, result_path=result.get("result_path"))


@dataclass
class _Submitted:
    function: JobKind
    params: dict[str, Any]
    future: Future | None = None
    resubmissions: int = 0


class JobRunner:
    """Queues jobs on a spawn-context process pool created on first use and recreated if it breaks."""

    def __init__(self, store: Store, *, instance_path: str | Path, max_workers: int = 1) -> None:
        if max_workers < 1:
            raise ValueError(f"JOB_WORKERS must be at least 1, not {max_workers}")
        self.store = store
        self.instance_path = str(instance_path)
        self.max_workers = max_workers
        self._pool: ProcessPoolExecutor | None = None
        self._submitted: dict[str, _Submitted] = {}
        self._lock = threading.RLock()

    def start(self, *, project: str, project_folder: str | Path, state: str, kind: str,
              params: dict[str, Any] | None = None) -> str:
        """Record a queued job and submit it; returns its id. KeyError for an unknown kind."""
        function = JOB_KINDS[kind]
        params = dict(params or {})
        job_id = self.store.create_job(project=project, state=state, kind=kind, params=params)
        full = {**params, "project": project, "project_folder": str(project_folder), "state": state,
                "instance_path": self.instance_path}
        with self._lock:
            self._submitted[job_id] = _Submitted(function, full)
            self._submit(job_id)
        return job_id

    def _submit(self, job_id: str) -> None:
        with self._lock:
            entry = self._submitted[job_id]
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.max_workers,
                                                 mp_context=multiprocessing.get_context("spawn"))
            pool = self._pool
            entry.future = pool.submit(run_job, str(self.store.path), job_id, entry.function, entry.params)
        entry.future.add_done_callback(partial(self._finished, job_id, pool))

    def _finished(self, job_id: str, pool: ProcessPoolExecutor, future: Future) -> None:
        """Runs in the pool's management thread when a job's future completes."""
        if future.cancelled():
            with self._lock:
                self._submitted.pop(job_id, None)
            return
        error = future.exception()
        if error is None:
            with self._lock:
                self._submitted.pop(job_id, None)
            return
        if isinstance(error, BrokenProcessPool):
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next submission makes a new pool
                entry = self._submitted.get(job_id)
            row = self.store.job(job_id)
            if (entry is not None and row is not None and row["status"] == "queued"
                    and not row["cancel_requested"] and entry.resubmissions < RESUBMISSIONS):
                entry.resubmissions += 1
                # not from this thread: it belongs to the broken pool, which is shutting down
                threading.Thread(target=self._resubmit, args=(job_id,), daemon=True).start()
                return
            pid = row["worker_pid"] if row is not None else None
            message = (f"worker process {pid} ended unexpectedly (killed or out of memory)" if pid
                       else "worker process ended unexpectedly (killed or out of memory)")
        else:  # run_job itself failed: the kind could not be sent to the worker, or the database
            message = f"{type(error).__name__}: {error}"
        self.store.update_job(job_id, only_if_status=("queued", "running"), status="failed",
                              finished=now_iso(), error=message)
        with self._lock:
            self._submitted.pop(job_id, None)

    def _resubmit(self, job_id: str) -> None:
        try:
            self._submit(job_id)
        except Exception as exc:  # noqa: BLE001 — e.g. the runner was shut down meanwhile
            self.store.update_job(job_id, only_if_status=("queued",), status="failed", finished=now_iso(),
                                  error=f"could not be resubmitted after its worker pool broke: {exc}")

    def cancel(self, job_id: str) -> str:
        """Cancel a job: a queued one at once, a running one by setting the flag its progress
        callback checks. Returns the status after the call."""
        if self.store.update_job(job_id, only_if_status=("queued",), status="cancelled", finished=now_iso(),
                                 message="cancelled before it started", cancel_requested=1):
            with self._lock:
                entry = self._submitted.get(job_id)
            if entry is not None and entry.future is not None:
                entry.future.cancel()
            return "cancelled"
        self.store.update_job(job_id, only_if_status=("running",), cancel_requested=1)
        row = self.store.job(job_id)
        return row["status"]

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the pool: queued jobs are dropped (a restart marks them interrupted), running ones
        finish if `wait`."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
