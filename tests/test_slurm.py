"""`snakemake --profile slurm`, as a user types it, against a real SLURM cluster on this machine.

scripts/local_slurm.sh starts a single-node cluster (munged, MariaDB, slurmdbd, slurmctld, slurmd) in a
temporary folder; scripts/install_slurm_profile.py installs the repository's profile into a temporary HOME;
the smoke DAG then runs through sbatch and must produce exactly what the local `--cores 2` run produces.
Needs root and `bash scripts/install_slurm.sh`: skipped without them, except where CI is set (there it fails).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, SMOKE_RESULTS, copy_workflow

pytestmark = pytest.mark.slurm
SCRIPTS = REPO / "scripts"
SMOKE_ARGS = ["--configfile", "config/smoke.yaml"]
# What a user types on the login node; nothing is added for the local cluster.
COMMAND = ["snakemake", "--profile", "slurm", *SMOKE_ARGS]
RUN_TIMEOUT_S = int(os.environ.get("SLURM_TEST_TIMEOUT_S", 1800))  # the smoke DAG takes ~4 minutes here
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
COMPARED = (f"{SMOKE_RESULTS}/cells/*/*/*/seed*/metrics.json", f"{SMOKE_RESULTS}/tables/*.csv")


def user_env(home: Path, **extra) -> dict:
    """A login shell's environment: the project's interpreter first on PATH, HOME elsewhere, no SLURM vars."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SNAKEMAKE_", "XDG_CONFIG_HOME", "MLFLOW_"))
    }
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def install_profile(env: dict, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "install_slurm_profile.py"), *args],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_snakemake(args, cwd, env, timeout=120):
    """`snakemake ARGS` with the console script a user calls (the project's, first on the PATH of `env`)."""
    snakemake = shutil.which("snakemake", path=env["PATH"])
    return subprocess.run(
        [snakemake, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def job_blocks(output: str) -> list[dict]:
    """The jobs Snakemake announced: rule, whether it ran locally, wildcards, threads and resources."""
    jobs = []
    for line in output.splitlines():
        if m := re.match(r"^(local)?(?:rule|checkpoint) (\w+):$", line.strip()):
            jobs.append(
                {
                    "rule": m.group(2),
                    "local": bool(m.group(1)),
                    "wildcards": "",
                    "threads": 1,
                    "resources": {},
                }
            )
        elif jobs and (m := re.match(r"^\s+(wildcards|threads|resources): (.*)$", line)):
            key, value = m.groups()
            if key == "resources":
                jobs[-1]["resources"] = dict(item.split("=", 1) for item in value.split(", "))
            elif key == "threads":
                jobs[-1]["threads"] = int(value)
            else:
                # the plugin's job comment joins the wildcard values with "_"
                jobs[-1]["wildcards"] = "_".join(item.split("=", 1)[1] for item in value.split(", "))
    return jobs


# --- the installed profile, resolved by a dry run (no cluster needed) ---------------------------------------


def test_installed_profile_takes_account_and_partition_from_env_or_arguments(tmp_path):
    home = tmp_path / "home"
    env = user_env(home)  # no XDG_CONFIG_HOME: the profile goes to ~/.config
    profile_dir = home / ".config" / "snakemake" / "slurm"
    profile_dir.mkdir(parents=True)
    (profile_dir / "config.yaml").write_text("executor: slurm\n")  # from the README's older `cp -r`
    out = install_profile(env)
    assert str(profile_dir / "profile.yaml") in out
    assert not (profile_dir / "config.yaml").exists(), (
        "a leftover config.yaml would compete with profile.yaml"
    )
    assert "unchanged" in install_profile(env)  # idempotent

    work = copy_workflow(tmp_path / "wf")
    dry = ["--profile", "slurm", "-n", *SMOKE_ARGS]

    proc = run_snakemake(dry, work, {**env, "SLURM_ACCOUNT": "acct-env", "SLURM_PARTITION": "part-env"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Using profile slurm" in proc.stdout + proc.stderr
    jobs = job_blocks(proc.stdout)
    assert {j["rule"] for j in jobs} >= {"prepare_data", "pretrain", "train", "evaluate", "aggregate"}
    for job in jobs:
        res = job["resources"]
        assert res["slurm_account"] == "acct-env" and res["slurm_partition"] == "part-env", job
        assert "runtime" in res and "mem_mb" in res, job
        assert int(res.get("gpu", 0)) == 0, (
            job
        )  # the CPU smoke config requests no GPU, and the profile adds none
        assert "cpus_per_task" not in res, job  # threads decide the CPUs

    # unset: no account or partition at all (SLURM's defaults apply) rather than a literal "${SLURM_ACCOUNT}"
    proc = run_snakemake(dry, work, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in job_blocks(proc.stdout):
        assert "slurm_account" not in job["resources"] and "slurm_partition" not in job["resources"], job

    # fixed at installation: the environment no longer matters
    assert "acct-arg" in install_profile(env, "--account", "acct-arg", "--partition", "part-arg")
    proc = run_snakemake(dry, work, {**env, "SLURM_ACCOUNT": "acct-env"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in job_blocks(proc.stdout):
        assert job["resources"]["slurm_account"] == "acct-arg", job
        assert job["resources"]["slurm_partition"] == "part-arg", job


# --- the real cluster ------------------------------------------------------------------------------------


@dataclass
class Cluster:
    root: Path
    start_s: float

    def log_tails(self, lines=30) -> str:
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A single-node SLURM cluster under a temporary folder, stopped at the end whatever happens."""
    missing = [d for d in DAEMONS if not shutil.which(d)]
    if missing:
        _unavailable(
            f"SLURM is not installed ({', '.join(missing)} missing); run: bash scripts/install_slurm.sh"
        )
    if os.geteuid() != 0:
        _unavailable("the local SLURM cluster needs root (slurmd, munged)")
    # under /tmp, not pytest's 0700 tmp folder: munged runs as user munge and must reach its files
    root = Path(tempfile.mkdtemp(prefix="local-slurm-", dir="/tmp"))
    cluster = Cluster(root, 0.0)
    try:
        start = time.monotonic()
        proc = subprocess.run(
            ["bash", str(SCRIPTS / "local_slurm.sh"), "start", str(root)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        cluster.start_s = time.monotonic() - start
        if proc.returncode != 0:
            pytest.fail(f"local SLURM cluster did not start:\n{proc.stdout}{proc.stderr}")
        yield cluster
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "local_slurm.sh"), "stop", str(root)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class SlurmRun:
    work: Path
    output: str
    run_id: str
    started: float
    seconds: float


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    """The smoke DAG submitted with exactly the user's command, from a copy of the repository."""
    base = tmp_path_factory.mktemp("slurm")
    env = user_env(
        base / "home",
        XDG_CONFIG_HOME=base / "xdg",
        # first status check after 5 s instead of 40: the smoke jobs take seconds
        SNAKEMAKE_SLURM_INIT_SECONDS=5,
    )
    assert str(base / "xdg" / "snakemake" / "slurm" / "profile.yaml") in install_profile(env)
    work = copy_workflow(base / "wf")
    started = time.time()
    try:
        proc = run_snakemake(COMMAND[1:], work, env, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        out = "".join(
            s.decode(errors="replace") if isinstance(s, bytes) else s for s in (e.stdout, e.stderr) if s
        )
        pytest.fail(
            f"`{' '.join(COMMAND)}` still running after {RUN_TIMEOUT_S} s:\n{out[-4000:]}\n"
            f"{slurm_cluster.log_tails()}"
        )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        job_logs = "\n".join(
            f"--- {p}\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted((work / SMOKE_RESULTS / "logs").rglob("*.log"))
            if "Error" in p.read_text(errors="replace")
        )
        pytest.fail(
            f"`{' '.join(COMMAND)}` failed (rc {proc.returncode}):\n{output[-5000:]}\n{job_logs[-5000:]}\n"
            f"{slurm_cluster.log_tails()}"
        )
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-3000:]
    return SlurmRun(work, output, run_id.group(1), started, time.time() - started)


def sacct_jobs(run: SlurmRun) -> list[dict]:
    """SLURM's accounting records of the run's jobs (the plugin names each job after the run ID)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(run.started - 60))
    fields = ["JobIDRaw", "Comment", "State", "AllocCPUS", "ReqMem", "Timelimit", "AllocTRES"]
    proc = subprocess.run(
        [
            "sacct",
            "-X",
            "-n",
            "-P",
            "--starttime",
            since,
            "--name",
            run.run_id,
            f"--format={','.join(fields)}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("SLURM_")},
    )
    assert proc.returncode == 0, proc.stderr
    return [dict(zip(fields, line.split("|"))) for line in proc.stdout.splitlines() if line.strip()]


def megabytes(req_mem: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMGT]?)n?", req_mem).groups()
    return int(number) * {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2}[unit]


def minutes(limit: str) -> int:
    days, _, clock = limit.rpartition("-")
    h, m, s = map(int, clock.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


@pytest.mark.slow
def test_every_cluster_job_went_through_sbatch_with_its_resources(slurm_run, slurm_cluster):
    jobs = job_blocks(slurm_run.output)
    stats = dict(
        re.findall(
            r"^(\w+)\s+(\d+)$", slurm_run.output.split("Job stats:", 1)[1].split("Select jobs", 1)[0], re.M
        )
    )
    local = {j["rule"] for j in jobs if j["local"]}
    expected = Counter({rule: int(n) for rule, n in stats.items() if rule != "total" and rule not in local})
    # the heavy rules must reach the cluster; what runs on the login node is the workflow's `localrules`
    assert {"pretrain", "train", "evaluate"} <= set(expected), (expected, local)

    records = sacct_jobs(slurm_run)
    assert all(r["State"] == "COMPLETED" for r in records), records
    rules = sorted(expected, key=len, reverse=True)  # rule names may contain "_": try the longest first

    def rule_of(comment):
        return next(
            (r for r in rules if comment == f"rule_{r}" or comment.startswith(f"rule_{r}_wildcards_")),
            comment,
        )

    assert Counter(rule_of(r["Comment"]) for r in records) == expected, records

    requested = {(j["rule"], j["wildcards"]): j for j in jobs if not j["local"]}
    for record in records:
        rule = rule_of(record["Comment"])
        wildcards = record["Comment"].removeprefix(f"rule_{rule}").removeprefix("_wildcards_")
        job = requested[(rule, wildcards)]
        assert int(record["AllocCPUS"]) == job["threads"], (record, job)
        assert megabytes(record["ReqMem"]) == int(job["resources"]["mem_mb"]), (record, job)
        assert minutes(record["Timelimit"]) == int(job["resources"]["runtime"]), (record, job)
        assert "gpu" not in record["AllocTRES"], record
        # SLURM's output of the job, kept under the profile's log folder
        log = slurm_run.work / "results/logs/slurm" / f"rule_{rule}" / wildcards / f"{record['JobIDRaw']}.log"
        assert log.is_file(), log
    print(
        f"\nlocal SLURM started in {slurm_cluster.start_s:.1f} s; `{' '.join(COMMAND)}` ran "
        f"{len(records)} SLURM jobs in {slurm_run.seconds:.0f} s"
    )


@pytest.mark.slow
def test_cluster_outputs_equal_a_local_run(slurm_run, smoke_run):
    for pattern in COMPARED:
        local = sorted(p.relative_to(smoke_run) for p in smoke_run.glob(pattern))
        cluster = sorted(p.relative_to(slurm_run.work) for p in slurm_run.work.glob(pattern))
        assert local and cluster == local, (pattern, local, cluster)
        for rel in local:
            a, b = (smoke_run / rel).read_bytes(), (slurm_run.work / rel).read_bytes()
            if a != b and rel.suffix == ".json":
                ja, jb = json.loads(a), json.loads(b)
                differing = sorted(k for k in ja.keys() | jb.keys() if ja.get(k) != jb.get(k))
                pytest.fail(f"{rel} differs between the local and the SLURM run in {differing}")
            assert a == b, f"{rel} differs between the local and the SLURM run"
