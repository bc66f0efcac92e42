#!/usr/bin/env python
"""Score a tuned cell on every pre-trained task and its target (a continual stage: every task of its
sequence); effective ranks and representations too."""

from mllm_forgetting.cli import parse_args, run, spec_context

args = parse_args(
    __doc__, "spec", "data", "pretrained", "model", "train-json", "out", "results", "threads", "no-tracking"
)


def main():
    from mllm_forgetting.spec import evaluate_spec_from_json
    from mllm_forgetting.steps.evaluate import evaluate_cell

    evaluate_cell(
        evaluate_spec_from_json(args.spec),
        data_dir=args.data,
        pretrained_dir=args.pretrained,
        model_dir=args.model,
        train_json=args.train_json,
        out_dir=args.out,
        results_dir=args.results,
        threads=args.threads,
        track=not args.no_tracking,
    )


run(main, spec_context(args.spec, "evaluate"))
