#!/usr/bin/env python
"""Estimate GPU hours and peak memory per cell of a hub-backbone config (a cost model, not a measurement)."""

import argparse

from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--config", default="config/paper.yaml")
parser.add_argument(
    "--peak-tflops", type=float, default=312.0, help="GPU bf16 peak (A100: 312, H100 SXM: 989)"
)
parser.add_argument("--mfu", type=float, default=0.35, help="fraction of the peak a training step reaches")
args = parser.parse_args()


def main():
    from mllm_forgetting.config.settings import load_config
    from mllm_forgetting.config.yaml_files import read_yaml
    from mllm_forgetting.reporting.cost import PUBLISHED_SHAPES, cell_cost

    config = load_config(read_yaml(args.config))
    training, rate = config.training, args.peak_tflops * 1e12 * args.mfu
    print(
        f"{args.config}: {training.steps} steps x batch {training.batch_size}; "
        f"GPU at {args.peak_tflops:g} TFLOP/s x MFU {args.mfu:g}\n"
    )
    print("| backbone | method | train GPU h | evaluate GPU h | peak memory GB |")
    print("|---|---|---:|---:|---:|")
    for name, backbone in config.backbones.items():
        shape = PUBLISHED_SHAPES.get(backbone.hub_id)
        if shape is None:
            continue
        test_size = config.evaluation.max_test_examples or config.data.sizes.test
        eval_examples = (len(config.pretrain_tasks_of(name)) + 1) * test_size
        for method, method_config in config.methods.items():
            steps = training.with_overrides(method_config.training)
            cost = cell_cost(shape, method_config.method_type, steps.steps, steps.batch_size, eval_examples)
            print(
                f"| {name} | {method} | {cost.train_flops / rate / 3600:.2f} "
                f"| {cost.eval_flops / rate / 3600:.2f} "
                f"| {cost.memory_gb:.0f} |"
            )


run(main, "estimate_cost")
