"""Every `snakemake` command in README.md and docs/ runs as printed (as a dry run: `-n` added where it is
not there) and plans the jobs its target needs: Snakemake 9's `--configfile` and `--forcerun` take several
values and would swallow a target written after them."""

import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, SMOKE_RESULTS, copy_workflow, snakemake

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config/README.md"]


def documented_commands() -> list[tuple[str, str]]:
    """(page, command) for each snakemake command in a page's code blocks, its trailing comment removed."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.splitlines():
                line = re.split(r"\s+#", line)[0].strip()
                for part in line.split("&&"):
                    if part.strip().startswith("snakemake "):
                        found.append((page.relative_to(REPO).as_posix(), part.strip()))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_the_commands_a_newcomer_needs():
    commands = [c for _, c in COMMANDS]
    assert "snakemake --cores 2 --forceall" in commands
    assert any("--forcerun train" in c for c in commands) and any("--profile slurm" in c for c in commands)


def planned_jobs(stdout: str) -> Counter:
    table = stdout[stdout.index("Job stats:") :].split("total")[0]
    return Counter({m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the workflow and the installed `slurm` profile (scripts/install_slurm_profile.py)."""
    root = tmp_path_factory.mktemp("documented")
    (root / "wf").mkdir()
    work = copy_workflow(root / "wf")
    home = root / "xdg"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/install_slurm_profile.py"),
            "--account",
            "a",
            "--partition",
            "p",
        ],
        env={"XDG_CONFIG_HOME": str(home), "PATH": str(Path(sys.executable).parent)},
        check=True,
        capture_output=True,
    )
    return work, home


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_a_documented_command_plans_what_its_target_needs(workdir, page, command):
    work, home = workdir
    args = shlex.split(command)[1:]
    if "-n" not in args and "--dry-run" not in args:
        args.append("-n")
    proc = snakemake(args, cwd=work, check=False, env={"XDG_CONFIG_HOME": str(home)})
    assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    jobs = planned_jobs(proc.stdout)
    targets = [a for a in args if a.startswith("results/")]
    if any(t.endswith("/metrics.json") for t in targets):  # one cell: its train and evaluate, and inputs
        assert jobs["train"] == 1 and jobs["evaluate"] == 1, jobs
        assert set(jobs) <= {
            "prepare_data",
            "pretrain",
            "fetch_backbone",
            "init_tracking",
            "train",
            "evaluate",
        }
    elif any(t.startswith("results/tables/") for t in targets):
        assert jobs["aggregate"] == 1 and "all" not in jobs, jobs
    else:
        assert jobs["all"] == 1, jobs


def test_the_missing_data_hint_run_as_printed_restores_the_data(tmp_path):
    """An error's hint is a command that fixes the state: `snakemake prepare_data` alone would answer
    "Nothing to be done" for an existing data directory that lost a task."""
    import shutil

    import yaml
    from mllm_forgetting.data.benchmark import PREPARE_HINT

    work = copy_workflow(tmp_path)
    smoke = yaml.safe_load((work / "config/smoke.yaml").read_text())
    (work / "config/config.yaml").write_text((work / "config/smoke.yaml").read_text())  # the default here
    data = work / smoke["data"]["dir"]
    snakemake(["prepare_data", "--cores", "1"], cwd=work)
    shutil.rmtree(data / "okvqa")
    unforced = snakemake(["prepare_data", "--cores", "1"], cwd=work)
    assert "Nothing to be done" in unforced.stdout + unforced.stderr  # why the hint forces the rule
    [command] = re.findall(r"`(snakemake [^`]+)`", PREPARE_HINT)
    snakemake(shlex.split(command)[1:], cwd=work)
    assert (data / "okvqa" / "train").is_dir()


def test_the_venvs_snakemake_runs_jobs_without_the_venv_activated(tmp_path):
    """`.venv/bin/snakemake` from a shell whose PATH lacks the environment: the jobs' `python` must still be
    the interpreter running Snakemake (before, every job failed with `No module named 'mllm_forgetting'`)."""
    import os

    work = copy_workflow(tmp_path)
    marker = f"{SMOKE_RESULTS}/mlflow.ready"
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/bin:/bin"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "snakemake"),
            marker,
            "--cores",
            "1",
            "--configfile",
            "config/smoke.yaml",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / marker).read_text().startswith("sqlite:///")
