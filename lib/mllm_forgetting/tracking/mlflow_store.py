"""MLflow glue. The store and experiment are created once, before cells fan out (MLflow's SQLite
schema creation races when several fresh processes create it at once); cells then only open runs.
"""

from __future__ import annotations

import os
import time
import warnings
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
        experiment_id = found.experiment_id
        if found.tags.get(EXPERIMENT_KIND[0]) == EXPERIMENT_KIND[1]:
            return experiment_id
    elif shared:  # a shared server keeps artifacts in its own artifact store
        experiment_id = mlflow.create_experiment(experiment)
    else:
        artifacts = (Path(results_dir).resolve() / "mlartifacts").as_uri()
        experiment_id = mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.MlflowClient(tracking_uri(results_dir)).set_experiment_tag(experiment_id, *EXPERIMENT_KIND)
    return experiment_id


# split -> the context MLflow shows it in
DATA_CONTEXTS = {"train": "train", "test": "eval"}


def dataset_inputs(data_dir, content: str | None = None) -> dict[str, dict]:
    """The prepared data's train and test splits as MLflow dataset inputs, by context: named
    `<directory>/<split>`, with the md5 its .dvc file records as digest (the first 32 hex digits of its
    content's SHA-256 when it is not versioned) and the content hash in the profile. content: the
    directory's tree_digest when the caller has it already."""
    from ..files import tree_digest

    content = content or tree_digest(data_dir)
    version = data_version(data_dir)
    return {
        context: {
            "name": f"{Path(data_dir).name}/{split}",
            "digest": version if version not in ("untracked", "unreadable") else content[:32],
            "source": Path(data_dir).resolve().as_uri(),
            "profile": {"sha256": content, "dvc_md5": version},
        }
        for split, context in DATA_CONTEXTS.items()
    }


# The UI opens an experiment of this kind in its model-training view (runs, metrics, datasets), not the
# GenAI overview of traces it shows by default.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def data_version(data_dir: str | Path = "data") -> str:
    """The md5 that <data_dir>.dvc records for the prepared datasets, or 'untracked'."""
    path = Path(f"{data_dir}.dvc")
    if not path.exists():
        return "untracked"
    try:
        outs = yaml.safe_load(path.read_text()).get("outs", [])
        return str(outs[0].get("md5", "untracked")) if outs else "untracked"
    except (OSError, yaml.YAMLError, AttributeError, TypeError, IndexError, KeyError) as err:
        # a tag for tracking, not an input of the result: a damaged file must not stop the cell
        warnings.warn(
            f"{path} is unreadable ({type(err).__name__}); data_version tagged 'unreadable'", stacklevel=2
        )
        return "unreadable"


class CellRun:
    """One MLflow run per cell; the train step opens it, evaluate (or sync_mlflow.py) reopens it by id.
    MlflowClient, not mlflow's module-level active run: a run left open by a failing server must not
    block the next run opened in the same process."""

    def __init__(
        self,
        cell,
        *,
        results_dir="results",
        experiment=DEFAULT_EXPERIMENT,
        run_id=None,
        tags=None,
        recreate_missing=False,
    ):
        """recreate_missing: a run id the store does not know (it was wiped or replaced) gets a new run
        instead of an error (sync_mlflow.py)."""
        from mlflow import MlflowClient
        from mlflow.tracking.context.registry import resolve_tags

        self.client = MlflowClient(tracking_uri(results_dir))
        if run_id is not None and recreate_missing and not self._known(run_id):
            run_id = None
        if run_id is None:
            exp = self.client.get_experiment_by_name(experiment)
            # a store wiped since init_tracking ran gets the experiment again
            experiment_id = exp.experiment_id if exp else init_store(results_dir, experiment)
            tags = resolve_tags(
                {**cell.as_dict(), **(tags or {})}
            )  # + user, source, git commit, as start_run adds
            run_id = self.client.create_run(experiment_id, run_name=cell.name, tags=tags).info.run_id
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def _known(self, run_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_run(run_id)
            return True
        except MlflowException as err:
            if err.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise

    def end_abandoned(self, run_id: str) -> bool:
        """Mark an earlier attempt's run KILLED if it is still RUNNING (its process died before closing it;
        this run replaces it), tagged with the run that superseded it. True when it was ended."""
        if not self._known(run_id) or self.client.get_run(run_id).info.status != "RUNNING":
            return False
        self.client.set_tag(run_id, "mllmf.superseded_by", self.run_id)
        self.client.set_terminated(run_id, "KILLED")
        return True

    def log_dataset(self, record: dict, context: str):
        """One dataset input (a record of dataset_inputs) used in `context`; logging it again adds nothing."""
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(
            name=record["name"],
            digest=record["digest"],
            source_type="local",
            source=json.dumps({"uri": record["source"]}),
            profile=json.dumps(record["profile"]),
        )
        tag = InputTag(key="mlflow.data.context", value=context)
        self.client.log_inputs(self.run_id, datasets=[DatasetInput(dataset=dataset, tags=[tag])])

    def log_params(self, params: dict):
        from mlflow.entities import Param

        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)[:500]) for k, v in _flatten(params).items()]
        )

    def log_step(self, row: dict):
        self._log({k: v for k, v in row.items() if k != "step"}, step=int(row["step"]))

    def log_metrics(self, metrics: dict):
        self._log({k: v for k, v in _flatten(metrics).items() if isinstance(v, (int, float))})

    def _log(self, values: dict, step: int = 0):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items() if v == v]  # NaN: not logged
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_artifact(self, path):
        self.client.log_artifact(self.run_id, str(path))

    def close(self, status: str = "FINISHED"):
        self.client.set_terminated(self.run_id, status)


def score_metrics(metrics: dict) -> dict:
    """The final metrics a cell's run gets from its metrics.json: per task the score, effective ranks and
    numeric task metrics, as `<task>.<name>`; likelihood scores as `<task>.likelihood_score` and probe
    accuracies as `probe.<attribute>`."""
    flat = {}
    for task, t in metrics["tasks"].items():
        flat[f"{task}.score"] = t["score"]
        flat[f"{task}.erank_per_image"] = t["erank_per_image"]
        flat[f"{task}.erank_pooled"] = t["erank_pooled"]
        flat.update({f"{task}.{k}": v for k, v in t["metrics"].items() if isinstance(v, (int, float))})
        if "likelihood" in t:
            flat[f"{task}.likelihood_score"] = t["likelihood"]["score"]
    for attribute, probe in metrics.get("probes", {}).items():
        flat[f"probe.{attribute}"] = probe["score"]
    return flat


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
