#!/usr/bin/env python
"""Prepare every task (train/val/test) as Hugging Face datasets on disk: the generated benchmark or hub datasets."""

import argparse

from mllm_forgetting.cli import json_arg, run
from mllm_forgetting.steps.prepare import SOURCES, prepare_data

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", required=True, help="datasets directory (the one DVC versions)")
parser.add_argument("--tasks", nargs="+", required=True)
parser.add_argument(
    "--sizes",
    type=json_arg,
    required=True,
    help='rows per split, e.g. \'{"train": 2000, "val": 100, "test": 200}\' (null = all; hub only)',
)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--image-size", type=int, default=32, help="image side of the generated benchmark")
parser.add_argument("--source", choices=SOURCES, default="generated")
args = parser.parse_args()
run(
    lambda: prepare_data(args.out, args.tasks, args.sizes, args.seed, args.image_size, args.source),
    "prepare_data",
)
