#!/usr/bin/env python
"""Forgetting table and figures for one backbone x target from its evaluated cells."""

import argparse
from pathlib import Path

from mllm_forgetting.cli import run
from mllm_forgetting.reporting import aggregate

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--backbone", required=True)
parser.add_argument("--target", required=True)
parser.add_argument("--cells", nargs="+", required=True, help="cell directories holding metrics.json")
parser.add_argument("--order", nargs="+", default=None, help="method names in table order")
parser.add_argument("--tables", default="results/tables")
parser.add_argument("--figures", default="results/figures")
args = parser.parse_args()
run(
    lambda: aggregate(
        [Path(c) for c in args.cells],
        Path(args.tables),
        Path(args.figures),
        args.backbone,
        args.target,
        order=args.order,
    ),
    f"aggregate {args.backbone}/{args.target}",
)
