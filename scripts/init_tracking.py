#!/usr/bin/env python
"""Create the MLflow store and experiment once, before the cells fan out. A store that cannot be used warns
and the marker is written all the same: the cells then run untracked and sync_mlflow.py replays them."""

import argparse
from pathlib import Path

from mllm_forgetting.cli import run
from mllm_forgetting.tracking import init_store_or_warn, tracking_uri

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument(
    "--results", required=True, help="results directory (the SQLite store unless MLFLOW_TRACKING_URI)"
)
parser.add_argument("--experiment", required=True, help="MLflow experiment (the config's mlflow.experiment)")
parser.add_argument("--marker", required=True, help="file written when the store is ready")
args = parser.parse_args()


def main():
    experiment_id = init_store_or_warn(args.results, args.experiment)
    state = f"id {experiment_id}" if experiment_id else "not created (the store was not usable)"
    Path(args.marker).write_text(f"{tracking_uri(args.results)}\nexperiment {args.experiment} {state}\n")


run(main, "init_tracking")
