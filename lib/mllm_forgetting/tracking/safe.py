"""Tracking that never costs a result: a cell's MLflow calls through CellTracker cannot raise or hang.

The first failure of a stage warns once, marks the cell unsynced in <cell dir>/tracking.json and turns the
tracker off for the rest of the stage; `python scripts/sync_mlflow.py` later rebuilds the run from the
cell's local files (tracking/sync.py).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from ..files import write_json
from .mlflow_store import DEFAULT_EXPERIMENT, CellRun, init_store, tracking_uri

STATE_FILE = "tracking.json"
PARAMS_FILE = "params.json"  # written by tune_cell: {"tags": ..., "params": ...}
UNFINISHED = "the stage did not finish"  # tracking.json's error while a stage runs


def resync_hint(results_dir) -> str:
    """The command that replays unsynced cells, for the results directory they are in."""
    return f"resync later with `python scripts/sync_mlflow.py --results {results_dir}`"


# MLflow's HTTP client retries 7 times with exponential backoff and a 120 s timeout: minutes before a cell
# could learn that the server is gone. These bounds give up within seconds; a user's own settings win.
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}


@contextmanager
def bounded_http():
    """HTTP_BOUNDS for the calls inside (MLflow reads them per request), unset again afterwards."""
    added = {k: v for k, v in HTTP_BOUNDS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def one_line(err: BaseException) -> str:
    """An error's message on one line, cut at 300 characters (MLflow's carry whole HTTP bodies)."""
    return " ".join(str(err).split())[:300]


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def write_state(cell_dir, run_id, error: str | None = None, failed_stage: str | None = None) -> None:
    state = {"run_id": run_id, "synced": error is None}
    if error is not None:
        state.update(failed_stage=failed_stage, error=error)
    write_json(Path(cell_dir) / STATE_FILE, state)


def read_state(cell_dir) -> dict | None:
    return read_json(Path(cell_dir) / STATE_FILE)


class CellTracker:
    """One stage ("train" or "evaluate") of a cell's MLflow run; every method is safe to call in any state."""

    def __init__(
        self,
        cell,
        out_dir,
        stage: str,
        *,
        results_dir="results",
        experiment=DEFAULT_EXPERIMENT,
        run_id=None,
        tags=None,
        offline_cause: str | None = None,
    ):
        self.cell, self.out_dir, self.stage, self.results_dir = cell, Path(out_dir), stage, results_dir
        self.run, self.run_id, self.error = None, run_id, offline_cause
        if offline_cause is not None:  # known to be unsynced already: say so once, try nothing
            self._warn(offline_cause)
            return
        previous = (read_state(self.out_dir) or {}).get("run_id") if stage == "train" else None
        self.run = self._attempt(
            CellRun, cell, results_dir=results_dir, experiment=experiment, run_id=run_id, tags=tags
        )
        self.run_id = self.run.run_id if self.run else run_id
        if self.run is not None and stage == "train":
            if previous and previous != self.run_id:  # an attempt killed before it could close its run
                self._attempt(self.run.end_abandoned, previous)
            # on disk at once: if this attempt dies too, the next one finds its run to end
            write_state(self.out_dir, self.run_id, UNFINISHED, stage)

    @classmethod
    def reopen(cls, cell, out_dir, train_run_id, train_error: str | None, *, results_dir="results"):
        """The evaluate stage's tracker for the train stage's run (from train.json); None when the cell was
        trained untracked. If the train stage went offline it stays offline: sync_mlflow.py rebuilds that
        run whole."""
        if train_error is not None:
            return cls(
                cell,
                out_dir,
                "evaluate",
                results_dir=results_dir,
                run_id=train_run_id,
                offline_cause=f"the train stage was not tracked: {train_error}",
            )
        return (
            cls(cell, out_dir, "evaluate", results_dir=results_dir, run_id=train_run_id)
            if train_run_id
            else None
        )

    def log_params(self, params: dict):
        self._call("log_params", params)

    def log_dataset(self, record: dict, context: str):
        self._call("log_dataset", record, context)

    def log_step(self, row: dict):
        self._call("log_step", row)

    def log_metrics(self, metrics: dict):
        self._call("log_metrics", metrics)

    def log_artifact(self, path):
        self._call("log_artifact", path)

    def close(self, status: str = "FINISHED"):
        self._call("close", status)
        if self.error is None:
            write_state(self.out_dir, self.run_id)

    def _call(self, method: str, *args):
        if self.run is not None:
            self._attempt(getattr(self.run, method), *args)

    def _attempt(self, fn, *args, **kwargs):
        try:
            with bounded_http():
                return fn(*args, **kwargs)
        except Exception as err:  # tracking must never cost a result
            self._go_offline(f"{type(err).__name__}: {one_line(err)}")
            return None

    def _go_offline(self, cause: str):
        self.error, self.run = cause, None
        self._warn(cause)
        write_state(self.out_dir, self.run_id, cause, self.stage)

    def _warn(self, cause: str):
        warnings.warn(
            f"{self.cell.name}: MLflow unavailable ({cause}); local results are complete, "
            f"{resync_hint(self.results_dir)}",
            stacklevel=3,
        )


def init_store_or_warn(results_dir, experiment: str = DEFAULT_EXPERIMENT) -> str | None:
    """init_store under the cells' outage policy: bounded retries, and for any failure (no server, a
    damaged SQLite file, an unknown URI scheme) one warning line and None instead of an error, so the cells
    still run (offline) and sync_mlflow.py replays them once the store works."""
    try:
        with bounded_http():
            return init_store(results_dir, experiment)
    except Exception as err:
        print(
            f"warning: MLflow at {tracking_uri(results_dir)} is not usable ({type(err).__name__}: "
            f"{one_line(err)}); the cells run untracked: "
            f"{resync_hint(results_dir)}",
            file=sys.stderr,
        )
        return None
