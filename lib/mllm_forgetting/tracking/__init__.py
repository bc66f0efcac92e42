"""MLflow tracking: one run per cell, a SQLite store under results/ unless MLFLOW_TRACKING_URI says otherwise.
A cell tracks through CellTracker, which never fails the cell; sync_results replays unsynced cells later."""

from .mlflow_store import (
    DEFAULT_EXPERIMENT,
    CellRun,
    data_version,
    dataset_inputs,
    init_store,
    score_metrics,
    tracking_uri,
)
from .safe import CellTracker, init_store_or_warn, read_state
from .sync import sync_results

__all__ = [
    "DEFAULT_EXPERIMENT",
    "CellRun",
    "CellTracker",
    "data_version",
    "dataset_inputs",
    "init_store",
    "init_store_or_warn",
    "read_state",
    "score_metrics",
    "sync_results",
    "tracking_uri",
]
