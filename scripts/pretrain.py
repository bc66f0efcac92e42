#!/usr/bin/env python
"""Build a backbone from its config and pre-train it on the pre-trained tasks (the paper's phi)."""

import argparse
import json

from mllm_forgetting.cli import json_arg, run
from mllm_forgetting.steps.pretrain import pretrain

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--backbone", required=True)
parser.add_argument("--backbone-config", type=json_arg, required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--tasks", nargs="+", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument(
    "--state-dir", help="where each stage checkpoints (a rerun resumes from it; removed on success)"
)
parser.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (0: never)")
args = parser.parse_args()
run(
    lambda: print(
        json.dumps(
            pretrain(
                args.backbone,
                args.backbone_config,
                args.data,
                args.out,
                args.tasks,
                seed=args.seed,
                threads=args.threads,
                state_dir=args.state_dir,
                checkpoint_every=args.checkpoint_every,
            )
        )
    ),
    f"pretrain {args.backbone}",
)
