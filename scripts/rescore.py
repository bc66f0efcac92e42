#!/usr/bin/env python
"""Score a cell's predictions.jsonl again with the task kinds' metrics, without its model; prints JSON."""

import argparse

from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("predictions", help="a cell's predictions.jsonl (written by evaluate)")
parser.add_argument(
    "--field",
    default="prediction",
    choices=["prediction", "likelihood_prediction"],
    help="the generated answers, or the answers the likelihood ranks first (closed-answer tasks)",
)
parser.add_argument("--out", help="also write the scores to this JSON file")
args = parser.parse_args()


def main():
    import json

    from mllm_forgetting.evaluation.predictions import read_predictions, rescore

    scores = rescore(read_predictions(args.predictions), field=args.field)
    summary = {task: {k: v for k, v in r.items() if k not in ("per_question",)} for task, r in scores.items()}
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


run(main, "rescore")
