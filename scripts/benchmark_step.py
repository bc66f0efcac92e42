#!/usr/bin/env python
"""Step time and peak memory of finetune, lora, mdgd, mdgd_no_align and mdgd_gm on each backbone of a config.

Prints a table per backbone and, last, one JSON line with the ratios against fine-tuning.
"""

import argparse
import json
import warnings

import yaml
from mllm_forgetting.cli import run
from mllm_forgetting.steps.benchmark import benchmark_backbone, format_table, ratios

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--config", default="config/config.yaml", help="backbones (built ones) and data dir")
parser.add_argument("--backbones", nargs="*", help="default: every built backbone of the config")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--steps", type=int, default=20, help="timed steps per method (after 3 warm-up steps)")
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()


def main():
    warnings.filterwarnings("ignore")
    cfg = yaml.safe_load(open(args.config))
    names = args.backbones or [n for n, b in cfg["backbones"].items() if "architecture" in b]
    summary = []
    for name in names:
        result = benchmark_backbone(
            name,
            cfg["backbones"][name],
            cfg["data"]["dir"],
            batch_size=args.batch_size,
            steps=args.steps,
            threads=args.threads,
        )
        print(format_table(result) + "\n", flush=True)
        summary.append(ratios(result))
    print(json.dumps(summary))


run(main, "benchmark_step")
