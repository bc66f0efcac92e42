#!/usr/bin/env python
"""Build a backbone from its config and pre-train it on the pre-trained tasks (the paper's phi)."""

import argparse
import json

from mllm_forgetting.cli import run, spec_context

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--spec", required=True, help="the backbone's PretrainSpec as JSON (what the pretrain rule passes)")
parser.add_argument("--data", required=True, help="prepared datasets directory")
parser.add_argument("--out", required=True, help="checkpoint directory to write")
parser.add_argument("--state-dir", required=True, help="where each stage checkpoints (a rerun resumes from it)")
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--checkpoint-every", type=int, required=True, help="steps between checkpoints (0: never)")
args = parser.parse_args()


def main():
    from mllm_forgetting.spec import PretrainSpec, from_json
    from mllm_forgetting.steps.pretrain import pretrain

    spec = from_json(PretrainSpec, args.spec)
    summary = pretrain(spec, data_dir=args.data, out_dir=args.out, threads=args.threads, state_dir=args.state_dir,
                       checkpoint_every=args.checkpoint_every)
    print(json.dumps(summary))


run(main, spec_context(args.spec, "pretrain"))
