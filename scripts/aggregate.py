#!/usr/bin/env python
"""Forgetting table and figures for one backbone x target from its evaluated cells."""

import argparse
from pathlib import Path

from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--backbone", required=True)
parser.add_argument("--target", required=True)
parser.add_argument("--cells", nargs="+", required=True, help="cell directories holding metrics.json")
parser.add_argument("--order", nargs="+", required=True, help="method names in table order")
parser.add_argument("--tables", required=True, help="directory of the tables")
parser.add_argument("--figures", required=True, help="directory of the figures")
args = parser.parse_args()


def main():
    from mllm_forgetting.reporting.aggregate import aggregate

    aggregate(
        [Path(c) for c in args.cells],
        Path(args.tables),
        Path(args.figures),
        args.backbone,
        args.target,
        order=args.order,
    )


run(main, f"aggregate {args.backbone}/{args.target}")
