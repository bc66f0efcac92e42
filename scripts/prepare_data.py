#!/usr/bin/env python
"""Prepare every task (train/val/test) as Hugging Face datasets on disk: generated, or hub datasets."""

from mllm_forgetting.cli import parse_args, run

args = parse_args(__doc__, "spec", "out")


def main():
    from mllm_forgetting.spec import data_from_json
    from mllm_forgetting.steps.prepare import prepare_data

    prepare_data(data_from_json(args.spec), args.out)


run(main, "prepare_data")
