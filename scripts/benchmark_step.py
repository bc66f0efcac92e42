#!/usr/bin/env python
"""Step time, peak memory and passes of every training method of a config, on each of its built backbones.

Prints a table per backbone and, last, one JSON line with each method's ratios to the reference method.
--methods adds entries (YAML, as under `methods:`), e.g.
'{mdgd_sequential: {type: mdgd, schedule: sequential}}'.
"""

import argparse
import json
import warnings

import yaml
from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument(
    "--config", default="config/config.yaml", help="backbones (built ones), methods and data dir"
)
parser.add_argument("--backbones", nargs="*", help="default: every built backbone of the config")
parser.add_argument(
    "--methods", type=yaml.safe_load, default={}, help="more method entries to time (YAML mapping)"
)
parser.add_argument(
    "--continual",
    action="store_true",
    help="also time the config's continual.methods entries (a later stage)",
)
parser.add_argument("--reference", default="finetune", help="the method the ratios are taken against")
parser.add_argument("--task", help="the training split timed (default: each backbone's last target)")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--steps", type=int, default=20, help="timed steps per method (after 3 warm-up steps)")
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()


def main():
    from mllm_forgetting.config.settings import load_config
    from mllm_forgetting.config.yaml_files import read_yaml
    from mllm_forgetting.steps.benchmark import benchmark_backbone, format_table, ratios

    warnings.filterwarnings("ignore")
    raw = read_yaml(args.config)
    config = load_config({**raw, "methods": {**raw["methods"], **args.methods}})
    names = args.backbones or [n for n, b in config.backbones.items() if b.built]
    methods = dict(config.methods)
    if args.continual and config.continual is not None:
        methods.update({f"continual.{n}": e.config for n, e in config.continual.methods.items()})
    summary = []
    for name in names:
        result = benchmark_backbone(
            name,
            config.backbones[name],
            config.prompt_of(name),
            methods,
            config.data.dir,
            task=args.task or config.targets_of(name)[-1],
            representation_layer=config.evaluation.representation_layer,
            batch_size=args.batch_size,
            steps=args.steps,
            threads=args.threads,
        )
        print(format_table(result, args.reference) + "\n", flush=True)
        summary.append(ratios(result, args.reference))
    print(json.dumps(summary))


run(main, "benchmark_step")
