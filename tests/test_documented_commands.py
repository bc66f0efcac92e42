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
from conftest import REPO, copy_workflow, snakemake

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
