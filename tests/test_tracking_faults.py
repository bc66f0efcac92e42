"""Tracking faults: an unreachable or failing MLflow never costs a cell its results, warns once per stage,
leaves tracking.json unsynced, and scripts/sync_mlflow.py later puts exactly one run per cell in MLflow.

Real tiny cells run in-process (train + evaluate, as the pipeline's two steps) into one results directory:
  offline   MLFLOW_TRACKING_URI at a closed local port: no run at all
  mid_train the store fails on the first step metric, after the run opened
  at_eval   the store fails when evaluate uploads metrics.json (train tracked fine)
  healthy   nothing fails (sync must leave it alone)
The train stage hands its outcome to evaluate in train.json (mlflow_run_id, mlflow_error); tracking.json is
the cell's sync state, which sync_mlflow.py reads.
"""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from conftest import REPO, SMOKE, evaluate_spec_for, smoke_config, train_spec_for
from mllm_forgetting.cells import Cell
from mllm_forgetting.data.benchmark import build_benchmark, read_vocabulary
from mllm_forgetting.models.registry import build_backbone
from mllm_forgetting.steps.evaluate import evaluate_cell
from mllm_forgetting.steps.tune import tune_cell
from mllm_forgetting.tracking import CellTracker, init_store, read_state
from mllm_forgetting.tracking.safe import HTTP_BOUNDS

pytestmark = pytest.mark.faults

CONFIG = smoke_config()
BACKBONE = CONFIG.backbones["tiny-llava"]
TRAINING = {"steps": 3, "batch_size": 8, "lr": 1e-3, "log_every": 1}
EVALUATION = {
    "batch_size": 8,
    "representation_layer": -1,
    "erank": {"centre": False, "variant": "singular"},
    "max_test_examples": 8,
}
USERS_HTTP_SETTINGS = {k: os.environ.get(k) for k in HTTP_BOUNDS}
CELLS = {
    case: Cell("tiny-llava", "okvqa", "finetune", seed)
    for seed, case in enumerate(["offline", "mid_train", "at_eval", "healthy"])
}


def data_digest(results) -> str:
    from mllm_forgetting.files import tree_digest

    return tree_digest(results.parent / "data")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cell_dir(results, cell):
    return results / "cells" / cell.backbone / cell.target / cell.method / f"seed{cell.seed}"


def mlflow_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "MLflow" in str(w.message)]


def run_cell(cell, data, pretrained, results) -> dict:
    """Train then evaluate one cell; the MLflow warnings of each stage and the seconds it all took."""
    out, start, warned = cell_dir(results, cell), time.perf_counter(), {}
    threads = torch.get_num_threads()  # the steps pin them for the cell; later tests keep theirs
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tune_cell(
                train_spec_for(
                    cell.backbone, cell.method, target=cell.target, seed=cell.seed, training=TRAINING
                ),
                data_dir=str(data),
                pretrained_dir=str(pretrained),
                out_dir=str(out),
                results_dir=str(results),
                threads=1,
                checkpoint_every=50,
            )
        warned["train"] = mlflow_warnings(caught)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            evaluate_cell(
                evaluate_spec_for(
                    cell.backbone,
                    cell.method,
                    target=cell.target,
                    seed=cell.seed,
                    pretrain_tasks=["vqa"],
                    evaluation=EVALUATION,
                ),
                data_dir=str(data),
                pretrained_dir=str(pretrained),
                model_dir=str(out / "model"),
                train_json=str(out / "train.json"),
                out_dir=str(out),
                results_dir=str(results),
                threads=1,
            )
        warned["evaluate"] = mlflow_warnings(caught)
    finally:
        torch.set_num_threads(threads)
    return {"warned": warned, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """The four cells above, run into one results directory whose SQLite store works (init_store)."""
    root = tmp_path_factory.mktemp("tracking_faults")
    data, pretrained, results = root / "data", root / "pretrained", root / "results"
    build_benchmark(
        data,
        ["vqa", "okvqa"],
        {"train": 16, "test": 8},
        seed=0,
        progress=False,
        probe_sizes={"train": 8, "test": 4},
    )
    torch.manual_seed(0)
    model, processor = build_backbone(
        BACKBONE.architecture, BACKBONE.size, read_vocabulary(data) + CONFIG.prompt_of("tiny-llava").words()
    )
    model.save_pretrained(pretrained)
    processor.save_pretrained(pretrained)
    init_store(results)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    real_log_batch, real_log_artifact, calls = MlflowClient.log_batch, MlflowClient.log_artifact, []

    def failing_step_metrics(
        self, run_id, metrics=(), **kw
    ):  # a store that breaks once training is under way
        calls.append(run_id)
        if metrics:
            raise MlflowException("INTERNAL_ERROR: database is locked")
        return real_log_batch(self, run_id, metrics=metrics, **kw)

    def failing_upload(self, *args, **kw):
        raise MlflowException("RESOURCE_EXHAUSTED: artifact store full")

    done = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
        done["offline"] = run_cell(CELLS["offline"], data, pretrained, results)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setattr(MlflowClient, "log_batch", failing_step_metrics)
        done["mid_train"] = run_cell(CELLS["mid_train"], data, pretrained, results)
        done["mid_train"]["store_calls"] = len(calls)
        mp.setattr(MlflowClient, "log_batch", real_log_batch)
        mp.setattr(MlflowClient, "log_artifact", failing_upload)
        done["at_eval"] = run_cell(CELLS["at_eval"], data, pretrained, results)
        mp.setattr(MlflowClient, "log_artifact", real_log_artifact)
        done["healthy"] = run_cell(CELLS["healthy"], data, pretrained, results)
    return results, done


def read(results, case, name):
    import json

    return json.loads((cell_dir(results, CELLS[case]) / name).read_text())


def assert_local_results_complete(results, case):
    metrics = read(results, case, "metrics.json")
    assert set(metrics["tasks"]) == {"vqa", "okvqa"}
    assert all(0 <= t["score"] <= 1 and t["erank_pooled"] > 0 for t in metrics["tasks"].values())
    assert (cell_dir(results, CELLS[case]) / "train_log.csv").read_text().count("\n") == 1 + TRAINING["steps"]


def test_unreachable_server_costs_nothing_but_warns_once_per_stage(cells):
    results, done = cells
    assert_local_results_complete(results, "offline")
    summary = read(results, "offline", "train.json")
    assert summary["mlflow_run_id"] is None and "127.0.0.1" in summary["mlflow_error"]
    state = read(results, "offline", "tracking.json")
    assert state["run_id"] is None and state["synced"] is False and state["failed_stage"] == "train"
    assert "127.0.0.1" in state["error"]
    name = CELLS["offline"].name
    for stage in ("train", "evaluate"):
        [message] = done["offline"]["warned"][stage]  # exactly one
        assert message.startswith(f"{name}: MLflow unavailable") and "scripts/sync_mlflow.py" in message
    assert done["offline"]["seconds"] < 30, done["offline"]["seconds"]
    assert {k: os.environ.get(k) for k in HTTP_BOUNDS} == USERS_HTTP_SETTINGS  # the bounds were lifted again


def test_store_failing_mid_training_keeps_the_run_id_and_stops_trying(cells):
    results, done = cells
    assert_local_results_complete(results, "mid_train")
    state = read(results, "mid_train", "tracking.json")
    assert (
        state["synced"] is False
        and state["failed_stage"] == "train"
        and "database is locked" in state["error"]
    )
    summary = read(results, "mid_train", "train.json")
    assert state["run_id"] and state["run_id"] == summary["mlflow_run_id"]
    assert "database is locked" in summary["mlflow_error"]  # evaluate learns it from here: stays offline
    assert [len(w) for w in done["mid_train"]["warned"].values()] == [1, 1]
    assert "the train stage was not tracked" in done["mid_train"]["warned"]["evaluate"][0]
    assert (
        done["mid_train"]["store_calls"] == 2
    )  # params, then the first step metric; nothing after it failed


def test_store_failing_at_evaluate_marks_the_evaluate_stage(cells):
    results, done = cells
    assert_local_results_complete(results, "at_eval")
    state = read(results, "at_eval", "tracking.json")
    assert (
        state["synced"] is False
        and state["failed_stage"] == "evaluate"
        and "artifact store full" in state["error"]
    )
    summary = read(results, "at_eval", "train.json")
    assert state["run_id"] == summary["mlflow_run_id"] and summary["mlflow_error"] is None
    assert [len(w) for w in done["at_eval"]["warned"].values()] == [0, 1]
    assert [len(w) for w in done["healthy"]["warned"].values()] == [0, 0]
    assert read(results, "healthy", "tracking.json")["synced"] is True
    assert read(results, "healthy", "train.json")["mlflow_error"] is None


class ServerError(BaseHTTPRequestHandler):
    """An MLflow server that answers 503 to everything and counts the requests."""

    requests = []

    def fail(self):
        ServerError.requests.append(self.path)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = fail

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("server", ["closed_port", "erroring"])
def test_tracker_gives_up_within_seconds(server, tmp_path, monkeypatch):
    # MLflow's own defaults retry 7 times with backoff: minutes per call against either server
    httpd = None
    if server == "erroring":
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), ServerError)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "MLFLOW_TRACKING_URI", f"http://127.0.0.1:{httpd.server_port if httpd else free_port()}"
    )
    ServerError.requests.clear()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = CellTracker(CELLS["offline"], tmp_path, "train")
        tracker.log_params({"lr": 0.1})
        tracker.log_step({"step": 0, "loss": 1.0})
        tracker.close()
    seconds = time.perf_counter() - start
    if httpd:
        httpd.shutdown()
        assert len(ServerError.requests) == 1 + int(
            HTTP_BOUNDS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        )  # then offline
    assert seconds < 10, seconds
    assert len(mlflow_warnings(caught)) == 1
    assert read_state(tmp_path)["synced"] is False


def sync(results):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sync_mlflow.py"), "--results", str(results)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()


def test_sync_puts_exactly_one_complete_run_per_cell_in_mlflow(cells):
    results, _ = cells
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    found = client.get_experiment_by_name(SMOKE["mlflow"]["experiment"])
    experiment = found.experiment_id
    assert found.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI's training view
    before = {case: read(results, case, "tracking.json")["run_id"] for case in CELLS}
    outputs = sorted(results.rglob("train.json")) + sorted(results.rglob("metrics.json"))
    digests = [hashlib.md5(p.read_bytes()).hexdigest() for p in outputs]

    lines = sync(results)
    assert len(lines) == 4 and lines[-1].startswith("3 cell(s) synced"), lines
    runs = client.search_runs([experiment])
    assert len(runs) == 4
    by_seed = {int(r.data.tags["seed"]): r for r in runs}
    for case, cell in CELLS.items():
        run, state = by_seed[cell.seed], read(results, case, "tracking.json")
        assert state == {"run_id": run.info.run_id, "synced": True}
        if before[case]:  # a run the cell already had is completed, not duplicated
            assert run.info.run_id == before[case]
        assert run.info.status == "FINISHED"
        assert {k: run.data.tags[k] for k in ("backbone", "target", "method", "seed")} == {
            k: str(v) for k, v in cell.as_dict().items()
        }
        assert run.data.tags["data_version"] == "untracked"
        assert (
            run.data.params["training.steps"] == str(TRAINING["steps"]) and run.data.params["backbone.prompt"]
        )
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(
            range(TRAINING["steps"])
        )
        metrics = read(results, case, "metrics.json")
        assert run.data.metrics["okvqa.score"] == metrics["tasks"]["okvqa"]["score"]
        assert run.data.metrics["vqa.erank_pooled"] == pytest.approx(metrics["tasks"]["vqa"]["erank_pooled"])
        assert run.data.metrics["trainable_params"] == read(results, case, "train.json")["trainable_params"]
        assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == [
            "metrics.json",
            "predictions.jsonl",
        ]
        # the UI's Dataset column: the prepared data, once as trained on and once as evaluated on
        inputs = run.inputs.dataset_inputs
        assert sorted((i.dataset.name, i.tags[0].value) for i in inputs) == [
            ("data/test", "eval"),
            ("data/train", "train"),
        ], case
        assert {i.dataset.digest for i in inputs} == {data_digest(results)[:32]}
    assert [hashlib.md5(p.read_bytes()).hexdigest() for p in outputs] == digests  # Snakemake sees no change

    again = sync(results)
    assert again == [again[-1]] and again[-1].startswith("0 cell(s) synced")
    assert len(client.search_runs([experiment])) == 4
    assert all(len(client.get_metric_history(r.info.run_id, "loss")) == TRAINING["steps"] for r in runs)


@pytest.mark.parametrize("store", ["closed_port", "damaged_sqlite", "unknown_scheme"])
def test_init_tracking_warns_and_writes_its_marker_when_the_store_is_unusable(store, tmp_path):
    """Without the marker every cell would be blocked; with it they run untracked and are resynced later."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if store == "closed_port":
        env["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{free_port()}"
    elif store == "unknown_scheme":
        env["MLFLOW_TRACKING_URI"] = "foo://bar"
    else:
        (tmp_path / "mlflow.db").write_bytes(b"not a database")
    marker = tmp_path / "mlflow.ready"
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/init_tracking.py"),
            "--results",
            str(tmp_path),
            "--experiment",
            "e",
            "--marker",
            str(marker),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and time.perf_counter() - start < 60, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: MLflow at ") and "Traceback" not in proc.stderr
    assert "sync_mlflow.py" in lines[0] and marker.read_text().splitlines()[1] == (
        "experiment e not created (the store was not usable)"
    )


def test_sync_recreates_a_run_the_store_no_longer_knows(cells, tmp_path):
    """A cell whose run lived in a store since wiped or replaced gets a new run, not a failure for good."""
    import json
    import shutil

    from mlflow import MlflowClient

    results, _ = cells
    moved = tmp_path / "results"
    shutil.copytree(cell_dir(results, CELLS["at_eval"]), cell_dir(moved, CELLS["at_eval"]))
    old_run = read(results, "at_eval", "train.json")["mlflow_run_id"]
    state = {"run_id": old_run, "synced": False, "failed_stage": "evaluate", "error": "lost"}
    (cell_dir(moved, CELLS["at_eval"]) / "tracking.json").write_text(json.dumps(state))
    init_store(moved, SMOKE["mlflow"]["experiment"])  # a fresh store: it has never seen old_run

    lines = sync(moved)
    assert lines[-1].startswith("1 cell(s) synced"), lines
    client = MlflowClient(f"sqlite:///{moved / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name(SMOKE["mlflow"]["experiment"]).experiment_id])
    assert run.info.run_id != old_run and run.info.status == "FINISHED"
    assert json.loads((cell_dir(moved, CELLS["at_eval"]) / "tracking.json").read_text())["run_id"] == (
        run.info.run_id
    )


def test_a_cell_finding_the_store_wiped_creates_the_experiment_again(tmp_path):
    """Before, the cell warned "run the init_tracking rule first", which a plain rerun never does. Each step
    runs in its own process, as the pipeline's jobs do (MLflow caches an open store per process)."""
    from mlflow import MlflowClient

    results, cell = tmp_path / "results", tmp_path / "cell"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}

    def python(code):
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )

    python(f"from mllm_forgetting.tracking import init_store; init_store({str(results)!r}, 'wiped')")
    (results / "mlflow.db").unlink()  # the store is wiped after init_tracking ran
    proc = python(
        "from mllm_forgetting.cells import Cell\n"
        "from mllm_forgetting.tracking import CellTracker\n"
        f"t = CellTracker(Cell('tiny-llava', 'okvqa', 'finetune', 0), {str(cell)!r}, 'train', "
        f"results_dir={str(results)!r}, experiment='wiped')\n"
        "t.close()\n"
        "print(t.run_id)"
    )
    assert "MLflow unavailable" not in proc.stderr and read_state(cell)["synced"] is True, proc.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("wiped").experiment_id])
    assert run.info.run_id == proc.stdout.strip() and run.info.status == "FINISHED"


def test_a_rerun_ends_the_run_a_killed_attempt_left_running(tmp_path):
    """A train attempt killed before its first checkpoint left its MLflow run RUNNING for ever while the
    rerun opened a second one. Now the rerun marks it KILLED, tagged with the run that replaced it; a
    finished run of an earlier complete attempt is left as it is."""
    from mlflow import MlflowClient

    results, cell = tmp_path / "results", tmp_path / "cell"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    open_tracker = (
        "from mllm_forgetting.cells import Cell\n"
        "from mllm_forgetting.tracking import CellTracker\n"
        f"t = CellTracker(Cell('tiny-llava', 'okvqa', 'finetune', 0), {str(cell)!r}, 'train', "
        f"results_dir={str(results)!r}, experiment='attempts')\n"
        "print(t.run_id, flush=True)\n"
    )

    def attempt(then: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", open_tracker + then], env=env, capture_output=True, text=True
        )
        assert proc.stdout.strip(), proc.stderr[-2000:]
        return proc.stdout.split()[0]

    init_store(results, "attempts")
    killed = attempt("import os; os._exit(9)")  # the process dies, its run open
    finished = attempt("t.close()")
    rerun = attempt("t.close()")  # a forced rerun of the finished cell
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    status = {r: client.get_run(r).info.status for r in (killed, finished, rerun)}
    assert status == {killed: "KILLED", finished: "FINISHED", rerun: "FINISHED"}
    assert client.get_run(killed).data.tags["mllmf.superseded_by"] == finished
    assert "mllmf.superseded_by" not in client.get_run(finished).data.tags
