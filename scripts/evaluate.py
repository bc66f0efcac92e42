#!/usr/bin/env python
"""Score a tuned cell on every pre-trained task and its target; effective ranks and representations too."""

import argparse

from mllm_forgetting.cells import Cell
from mllm_forgetting.cli import json_arg, run
from mllm_forgetting.steps.evaluate import evaluate_cell

parser = argparse.ArgumentParser(description=__doc__)
for name in ("backbone", "target", "method", "data", "train-json", "out"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--backbone-config", type=json_arg, required=True)
parser.add_argument("--evaluation", type=json_arg, required=True)
parser.add_argument("--pretrain-tasks", nargs="+", required=True)
parser.add_argument("--results", default="results")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-tracking", action="store_true", help="log nothing to MLflow (local files only)")
args = parser.parse_args()
cell = Cell(args.backbone, args.target, args.method, args.seed)
run(
    lambda: evaluate_cell(
        cell,
        args.train_json,
        args.backbone_config,
        args.evaluation,
        data_dir=args.data,
        pretrain_tasks=args.pretrain_tasks,
        out_dir=args.out,
        threads=args.threads,
        results_dir=args.results,
        track=not args.no_tracking,
    ),
    f"cell {cell.name}",
)
