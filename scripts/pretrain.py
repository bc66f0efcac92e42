#!/usr/bin/env python
"""Build a backbone from its config and pre-train it on the pre-trained tasks (the paper's phi).

Each stage checkpoints under --state-dir, so a killed run resumes from it; the state is removed once phi
is saved."""

import json

from mllm_forgetting.cli import parse_args, run, spec_context

args = parse_args(__doc__, "spec", "data", "out", "state-dir", "threads", "checkpoint-every")


def main():
    from mllm_forgetting.spec import PretrainSpec, from_json
    from mllm_forgetting.steps.pretrain import pretrain

    summary = pretrain(
        from_json(PretrainSpec, args.spec),
        data_dir=args.data,
        out_dir=args.out,
        threads=args.threads,
        state_dir=args.state_dir,
        checkpoint_every=args.checkpoint_every,
    )
    print(json.dumps(summary))


run(main, spec_context(args.spec, "pretrain"))
