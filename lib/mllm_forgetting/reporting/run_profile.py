"""Where a pipeline run's time went, from the `benchmark:` files Snakemake writes (results/benchmarks/).

Each heavy rule writes results/benchmarks/<rule>/<wildcards...>.tsv with the job's wall seconds (`s`),
peak memory and CPU time; the profile sums the wall seconds. Jobs are grouped by rule, and training
jobs also by method (the path's third wildcard after backbone and target), since methods differ in
cost by integer factors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def job_table(bench_dir) -> pd.DataFrame:
    """One row per job: its benchmark path, group (the rule, or train/<method>) and wall seconds."""
    bench_dir = Path(bench_dir)
    rows = []
    for path in sorted(bench_dir.rglob("*.tsv")):
        parts = path.relative_to(bench_dir).with_suffix("").parts
        group = f"train/{parts[3]}" if parts[0] == "train" and len(parts) >= 5 else parts[0]
        last = pd.read_csv(path, sep="\t").iloc[-1]  # a repeated benchmark appends rows: the newest run
        rows.append({"job": "/".join(parts), "group": group, "seconds": float(last["s"])})
    if not rows:
        raise ValueError(f"no benchmark files under {bench_dir}; run the pipeline first")
    return pd.DataFrame(rows)


def profile(jobs: pd.DataFrame) -> pd.DataFrame:
    """Job-seconds per group, largest first: jobs, total, share of all job-seconds, mean and max per job."""
    out = jobs.groupby("group")["seconds"].agg(jobs="count", seconds="sum", mean="mean", max="max")
    out["share"] = out["seconds"] / out["seconds"].sum()
    return out.sort_values("seconds", ascending=False)[["jobs", "seconds", "share", "mean", "max"]]


def format_profile(table: pd.DataFrame, cores: int | None = None) -> str:
    total = table["seconds"].sum()
    lines = ["| jobs of | count | job-seconds | share | mean s | max s |", "|---|---:|---:|---:|---:|---:|"]
    for group, r in table.iterrows():
        lines.append(
            f"| {group} | {int(r['jobs'])} | {r['seconds']:.0f} | {100 * r['share']:.1f}% | "
            f"{r['mean']:.1f} | {r['max']:.1f} |"
        )
    lines.append(f"| all | {int(table['jobs'].sum())} | {total:.0f} | 100% | | |")
    if cores:
        lines.append(
            f"\n{total:.0f} job-seconds over {cores} cores: "
            f"at least {total / cores / 60:.1f} min of wall time"
        )
    return "\n".join(lines)
