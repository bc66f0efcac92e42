#!/usr/bin/env python
"""Where the last run's time went: job-seconds per rule (training per method) from results/benchmarks."""

import argparse

from mllm_forgetting.cli import run
from mllm_forgetting.reporting.run_profile import format_profile, job_table, profile

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--benchmarks", default="results/benchmarks", help="the benchmark: files' directory")
parser.add_argument("--cores", type=int, default=2, help="cores the run had (prints the wall-time floor)")
args = parser.parse_args()

run(lambda: print(format_profile(profile(job_table(args.benchmarks)), args.cores)), "run_profile")
