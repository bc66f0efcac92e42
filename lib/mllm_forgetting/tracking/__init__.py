"""MLflow tracking: one run per cell, a local SQLite store under results/ unless MLFLOW_TRACKING_URI says otherwise."""
from .mlflow_store import DEFAULT_EXPERIMENT, CellRun, data_version, init_store, tracking_uri

__all__ = ["DEFAULT_EXPERIMENT", "CellRun", "data_version", "init_store", "tracking_uri"]
