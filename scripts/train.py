#!/usr/bin/env python
"""Tune the pre-trained backbone on a target task with one method: one cell of the grid."""

import argparse

from mllm_forgetting.cli import run, spec_context

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--spec", required=True, help="the cell's TrainSpec as JSON (what the train rule passes)")
parser.add_argument("--data", required=True, help="prepared datasets directory")
parser.add_argument("--pretrained", required=True, help="the backbone's pre-trained checkpoint (phi)")
parser.add_argument("--out", required=True, help="the cell's directory")
parser.add_argument("--results", required=True, help="results directory (the MLflow store unless MLFLOW_TRACKING_URI)")
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--checkpoint-every", type=int, required=True, help="checkpoint every N steps (0: never)")
parser.add_argument("--no-tracking", action="store_true", help="log nothing to MLflow (local files only)")
args = parser.parse_args()


def main():
    from mllm_forgetting.spec import TrainSpec, from_json
    from mllm_forgetting.steps.tune import tune_cell

    spec = from_json(TrainSpec, args.spec)
    tune_cell(spec, data_dir=args.data, pretrained_dir=args.pretrained, out_dir=args.out, results_dir=args.results,
              threads=args.threads, checkpoint_every=args.checkpoint_every, track=not args.no_tracking)


run(main, spec_context(args.spec, "train"))
