#!/usr/bin/env python
"""Continual table, accuracy matrices and figures for one backbone x sequence from its evaluated stages."""

import argparse
from pathlib import Path

from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--backbone", required=True)
parser.add_argument("--sequence", required=True)
parser.add_argument("--stage0", required=True, help="the pre-trained model's metrics.json on the sequence")
parser.add_argument("--stages", nargs="+", required=True, help="stage directories holding metrics.json")
parser.add_argument("--order", nargs="+", required=True, help="method entries in table order")
parser.add_argument("--tables", required=True, help="directory of the tables")
parser.add_argument("--figures", required=True, help="directory of the figures")
args = parser.parse_args()


def main():
    from mllm_forgetting.reporting.continual import aggregate_continual

    aggregate_continual(
        args.stage0,
        args.stages,
        Path(args.tables),
        Path(args.figures),
        args.backbone,
        args.sequence,
        order=args.order,
    )


run(main, f"aggregate_continual {args.backbone}/{args.sequence}")
