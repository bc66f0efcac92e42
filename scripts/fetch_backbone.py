#!/usr/bin/env python
"""Download a hub backbone (weights, config, processor, remote code) into its checkpoint directory."""

import argparse
import json

from mllm_forgetting.cli import run
from mllm_forgetting.steps.fetch import fetch_backbone

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--hub-id", required=True, help="e.g. llava-hf/llava-1.5-7b-hf")
parser.add_argument("--revision", required=True, help="branch, tag or commit to fetch (the entry's revision)")
parser.add_argument("--out", required=True)
args = parser.parse_args()
run(lambda: print(json.dumps(fetch_backbone(args.hub_id, args.out, args.revision))), f"fetch {args.hub_id}")
