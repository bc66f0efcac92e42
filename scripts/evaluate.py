#!/usr/bin/env python
"""Score a tuned cell on every pre-trained task and its target; effective ranks and representations too."""

import argparse

from mllm_forgetting.cli import run, spec_context

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--spec", required=True, help="the cell's EvaluateSpec as JSON (what the evaluate rule passes)")
parser.add_argument("--data", required=True, help="prepared datasets directory")
parser.add_argument("--pretrained", required=True, help="the backbone's pre-trained checkpoint (phi)")
parser.add_argument("--model", required=True, help="the cell's model/ directory (written by train)")
parser.add_argument("--train-json", required=True, help="the cell's train.json")
parser.add_argument("--out", required=True, help="the cell's directory")
parser.add_argument("--results", required=True, help="results directory (the MLflow store unless MLFLOW_TRACKING_URI)")
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--no-tracking", action="store_true", help="log nothing to MLflow (local files only)")
args = parser.parse_args()


def main():
    from mllm_forgetting.spec import EvaluateSpec, from_json
    from mllm_forgetting.steps.evaluate import evaluate_cell

    spec = from_json(EvaluateSpec, args.spec)
    evaluate_cell(spec, data_dir=args.data, pretrained_dir=args.pretrained, model_dir=args.model,
                  train_json=args.train_json, out_dir=args.out, results_dir=args.results, threads=args.threads,
                  track=not args.no_tracking)


run(main, spec_context(args.spec, "evaluate"))
