#!/usr/bin/env python
"""Tune the pre-trained backbone on a target task with one method: one cell of the grid."""

from mllm_forgetting.cli import parse_args, run, spec_context

args = parse_args(
    __doc__, "spec", "data", "pretrained", "out", "results", "threads", "checkpoint-every", "no-tracking"
)


def main():
    from mllm_forgetting.spec import TrainSpec, from_json
    from mllm_forgetting.steps.tune import tune_cell

    tune_cell(
        from_json(TrainSpec, args.spec),
        data_dir=args.data,
        pretrained_dir=args.pretrained,
        out_dir=args.out,
        results_dir=args.results,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        track=not args.no_tracking,
    )


run(main, spec_context(args.spec, "train"))
