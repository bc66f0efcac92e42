"""Resync: replay the cells whose MLflow tracking failed into the tracking store, from their local files.

A cell whose run was opened before the failure gets that run completed; one that never got a run gets a
new one. train.json and metrics.json are only read (Snakemake would rerun a cell whose outputs changed).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..cells import cell_from_dict
from .mlflow_store import DEFAULT_EXPERIMENT, CellRun, init_store, score_metrics, tracking_uri
from .safe import PARAMS_FILE, bounded_http, one_line, read_json, read_state, write_state

# train.json's keys that name a cell, and a stage's besides
CELL_KEYS, STAGE_KEYS = ["backbone", "target", "method", "seed"], ["sequence", "index"]


def unsynced_cells(results_dir) -> list[Path]:
    """Cell and continual-stage directories whose run is not (fully) in MLflow: tracking.json says so, or
    the cell was trained without tracking (no tracking.json, no run id)."""
    found = []
    train_jsons = [
        *Path(results_dir, "cells").rglob("train.json"),
        *Path(results_dir, "continual").rglob("train.json"),
    ]
    for train_json in sorted(train_jsons):
        state = read_state(train_json.parent)
        if (not state["synced"]) if state else read_json(train_json).get("mlflow_run_id") is None:
            found.append(train_json.parent)
    return found


def sync_results(results_dir="results", experiment: str = DEFAULT_EXPERIMENT, echo=print) -> tuple[int, int]:
    """Sync every unsynced, evaluated cell; echo one line per cell and a total; return (synced, failed)."""
    uri = tracking_uri(results_dir)
    try:
        with bounded_http():
            init_store(results_dir, experiment)  # a new or wiped server gets the experiment first
    except Exception as err:
        raise ConnectionError(f"MLflow at {uri} not usable: {one_line(err)}") from err
    synced = failed = 0
    for cell_dir in unsynced_cells(results_dir):
        name = cell_dir.relative_to(Path(results_dir)).as_posix()
        if not (
            cell_dir / "metrics.json"
        ).exists():  # evaluate still to run: it stays offline, a later sync takes it
            echo(f"skipped {name}: not evaluated yet")
            continue
        try:
            echo(f"synced {name}: run {sync_cell(cell_dir, results_dir, experiment)}")
            synced += 1
        except Exception as err:  # one bad cell does not stop the others
            echo(f"failed {name}: {type(err).__name__}: {one_line(err)}")
            failed += 1
    echo(f"{synced} cell(s) synced to {uri}" + (f", {failed} failed" if failed else ""))
    return synced, failed


def sync_cell(cell_dir: Path, results_dir, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Complete (or create) one cell's run from train.json, params.json, train_log.csv and metrics.json."""
    summary = read_json(cell_dir / "train.json")
    cell = cell_from_dict({k: summary[k] for k in CELL_KEYS + STAGE_KEYS if k in summary})
    state = read_state(cell_dir) or {"run_id": None, "failed_stage": "train", "error": "trained untracked"}
    recorded = read_json(cell_dir / PARAMS_FILE) or {"tags": {}, "params": {}}
    with bounded_http():
        run = CellRun(
            cell,
            results_dir=results_dir,
            experiment=experiment,
            run_id=state["run_id"],
            tags=recorded["tags"],
            recreate_missing=True,
        )
        # the run id goes on disk first: a sync cut short resumes this run instead of making a second one
        write_state(cell_dir, run.run_id, state["error"], state["failed_stage"])
        run.log_params(recorded["params"])  # MLflow accepts a param again with the same value
        for context, record in recorded.get("datasets", {}).items():  # the same input again adds nothing
            run.log_dataset(record, context)
        logged_steps = {m.step for m in run.client.get_metric_history(run.run_id, "loss")}
        for row in read_train_log(cell_dir / "train_log.csv"):
            if row["step"] not in logged_steps:  # the train stage may have logged some before it failed
                run.log_step(row)
        final = {
            "trainable_params": summary["trainable_params"] or 0,
            **score_metrics(read_json(cell_dir / "metrics.json")),
        }
        present = run.client.get_run(run.run_id).data.metrics
        run.log_metrics({k: v for k, v in final.items() if present.get(k) != v})
        run.log_artifact(cell_dir / "metrics.json")
        if (cell_dir / "predictions.jsonl").exists():  # written by evaluations since it was added
            run.log_artifact(cell_dir / "predictions.jsonl")
        run.close()
    write_state(cell_dir, run.run_id)
    return run.run_id


def read_train_log(path: Path) -> list[dict]:
    """train_log.csv rows as {column: float}, step an int; an empty cell (NaN: the method logs no such value)
    is left out, as CellRun leaves out NaN."""
    with path.open(newline="") as f:
        return [
            {"step": int(float(r["step"])), **{k: float(v) for k, v in r.items() if k != "step" and v}}
            for r in csv.DictReader(f)
        ]
