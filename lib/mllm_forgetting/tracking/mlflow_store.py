"""MLflow glue. The store and experiment are created once, before cells fan out (MLflow's SQLite
schema creation races when several fresh processes create it at once); cells then only open runs.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

DEFAULT_EXPERIMENT = "mllm-forgetting"


def tracking_uri(results_dir: str | Path = "results") -> str:
    """MLFLOW_TRACKING_URI if set, else a SQLite store at <results_dir>/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(results_dir).resolve() / 'mlflow.db'}"


def init_store(results_dir: str | Path = "results", experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Create the store (schema) and the experiment; return the experiment id. Idempotent."""
    import mlflow

    shared = bool(os.environ.get("MLFLOW_TRACKING_URI"))  # read first: set_tracking_uri exports it
    mlflow.set_tracking_uri(tracking_uri(results_dir))
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    if shared:  # a shared server keeps artifacts in its own artifact store
        return mlflow.create_experiment(experiment)
    artifacts = (Path(results_dir).resolve() / "mlartifacts").as_uri()
    return mlflow.create_experiment(experiment, artifact_location=artifacts)


def data_version(data_dir: str | Path = "data") -> str:
    """The md5 that <data_dir>.dvc records for the prepared datasets, or 'untracked'."""
    path = Path(f"{data_dir}.dvc")
    if not path.exists():
        return "untracked"
    outs = yaml.safe_load(path.read_text()).get("outs", [])
    return outs[0].get("md5", "untracked") if outs else "untracked"


class CellRun:
    """One MLflow run per cell; the train step opens it, the evaluate step reopens it by id."""

    def __init__(self, cell, *, results_dir="results", experiment=DEFAULT_EXPERIMENT, run_id=None, tags=None):
        import mlflow

        self.mlflow = mlflow
        mlflow.set_tracking_uri(tracking_uri(results_dir))
        if run_id is None:
            exp = mlflow.get_experiment_by_name(experiment)
            if exp is None:
                raise RuntimeError(f"MLflow experiment {experiment!r} missing: run the init_tracking rule first")
            run = mlflow.start_run(experiment_id=exp.experiment_id, run_name=cell.name,
                                   tags={**cell.as_dict(), **(tags or {})})
        else:
            run = mlflow.start_run(run_id=run_id)
        self.run_id = run.info.run_id

    def log_params(self, params: dict):
        flat = _flatten(params)
        self.mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})

    def log_step(self, row: dict):
        step = int(row["step"])
        self.mlflow.log_metrics({k: float(v) for k, v in row.items() if k != "step" and v == v}, step=step)

    def log_metrics(self, metrics: dict):
        self.mlflow.log_metrics({k: float(v) for k, v in _flatten(metrics).items() if isinstance(v, (int, float))})

    def log_artifact(self, path):
        self.mlflow.log_artifact(str(path))

    def close(self, status: str = "FINISHED"):
        self.mlflow.end_run(status=status)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
