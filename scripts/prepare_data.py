#!/usr/bin/env python
"""Prepare every task (train/val/test) as Hugging Face datasets on disk: the generated benchmark or hub datasets."""

import argparse

from mllm_forgetting.cli import run

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--spec", required=True, help="the config's `data` block as JSON (what the rule passes)")
parser.add_argument("--out", required=True, help="datasets directory (the one DVC versions)")
args = parser.parse_args()


def main():
    from mllm_forgetting.spec import data_from_json
    from mllm_forgetting.steps.prepare import prepare_data

    prepare_data(data_from_json(args.spec), args.out)


run(main, "prepare_data")
