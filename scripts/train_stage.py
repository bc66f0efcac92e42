#!/usr/bin/env python
"""Train one stage of a continual sequence from the previous stage (stage 1: from the pre-trained model)."""

from mllm_forgetting.cli import parse_args, run, spec_context

args = parse_args(
    __doc__,
    "spec",
    "data",
    "pretrained",
    "previous",
    "out",
    "results",
    "threads",
    "checkpoint-every",
    "no-tracking",
)


def main():
    from mllm_forgetting.spec import StageTrainSpec, from_json
    from mllm_forgetting.steps.stage import train_stage

    train_stage(
        from_json(StageTrainSpec, args.spec),
        data_dir=args.data,
        pretrained_dir=args.pretrained,
        previous_dir=args.previous,
        out_dir=args.out,
        results_dir=args.results,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        track=not args.no_tracking,
    )


run(main, spec_context(args.spec, "train_stage"))
