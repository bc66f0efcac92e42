#!/usr/bin/env python
"""Estimate GPU hours and peak memory per cell of a hub-backbone config (a model of the cost, not a measurement)."""

import argparse

import yaml
from mllm_forgetting.reporting.cost import PUBLISHED_SHAPES, cell_cost

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--config", default="config/paper.yaml")
parser.add_argument(
    "--peak-tflops", type=float, default=312.0, help="GPU bf16 peak (A100: 312, H100 SXM: 989)"
)
parser.add_argument("--mfu", type=float, default=0.35, help="fraction of the peak a training step reaches")
args = parser.parse_args()

cfg = yaml.safe_load(open(args.config))
steps, batch = cfg["training"]["steps"], cfg["training"]["batch_size"]
rate = args.peak_tflops * 1e12 * args.mfu
print(
    f"{args.config}: {steps} steps x batch {batch}; GPU at {args.peak_tflops:g} TFLOP/s x MFU {args.mfu:g}\n"
)
print("| backbone | method | train GPU h | evaluate GPU h | peak memory GB |")
print("|---|---|---:|---:|---:|")
for name, backbone in cfg["backbones"].items():
    shape = PUBLISHED_SHAPES.get(backbone.get("hub_id"))
    if shape is None:
        continue
    tasks = backbone.get("pretrain_tasks", cfg["data"]["pretrain_tasks"])
    eval_examples = (len(tasks) + 1) * (
        cfg["evaluation"].get("max_test_examples") or cfg["data"]["sizes"]["test"]
    )
    for method, spec in cfg["methods"].items():
        cost = cell_cost(shape, spec["type"], steps, batch, eval_examples)
        print(
            f"| {name} | {method} | {cost.train_flops / rate / 3600:.2f} | {cost.eval_flops / rate / 3600:.2f} "
            f"| {cost.memory_gb:.0f} |"
        )
