#!/usr/bin/env python
"""Resync to MLflow the cells whose tracking failed (tracking.json "synced": false), from their local files.

Honours MLFLOW_TRACKING_URI like the pipeline (default: the SQLite store <results>/mlflow.db); running it
again creates no duplicate runs.
"""

import argparse
import sys

from mllm_forgetting.cli import run
from mllm_forgetting.tracking import DEFAULT_EXPERIMENT, sync_results

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument(
    "--results", default="results", help="the results directory (cells under <results>/cells)"
)
parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="MLflow experiment of new runs")
args = parser.parse_args()


def main():
    _, failed = sync_results(args.results, args.experiment)
    if failed:
        sys.exit(1)


run(main, "sync_mlflow")
