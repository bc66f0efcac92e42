#!/usr/bin/env python
"""Tune the pre-trained backbone on a target task with one method: one cell of the grid."""

import argparse

from mllm_forgetting.cells import Cell
from mllm_forgetting.cli import json_arg, run
from mllm_forgetting.steps.tune import tune_cell

parser = argparse.ArgumentParser(description=__doc__)
for name in ("backbone", "target", "method", "data", "pretrained", "out"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--backbone-config", type=json_arg, required=True)
parser.add_argument("--method-config", type=json_arg, required=True)
parser.add_argument("--training", type=json_arg, required=True)
parser.add_argument("--layer", type=int, default=-1, help="hidden layer of the visual representation")
parser.add_argument("--results", default="results")
parser.add_argument(
    "--experiment", default="mllm-forgetting", help="MLflow experiment (made by init_tracking)"
)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument(
    "--checkpoint-every",
    type=int,
    default=50,
    help="checkpoint the training state every N steps (0: never); a rerun resumes from the last",
)
parser.add_argument("--no-tracking", action="store_true", help="log nothing to MLflow (local files only)")
args = parser.parse_args()
cell = Cell(args.backbone, args.target, args.method, args.seed)
run(
    lambda: tune_cell(
        cell,
        args.backbone_config,
        args.method_config,
        args.training,
        data_dir=args.data,
        pretrained_dir=args.pretrained,
        out_dir=args.out,
        representation_layer=args.layer,
        threads=args.threads,
        results_dir=args.results,
        experiment=args.experiment,
        checkpoint_every=args.checkpoint_every,
        track=not args.no_tracking,
    ),
    f"cell {cell.name}",
)
