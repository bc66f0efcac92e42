import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())


def snakemake(args, cwd, check=True, env=None):
    """Run Snakemake with this interpreter's environment first on PATH (rules call `python`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def copy_workflow(dest: Path) -> Path:
    for item in ("workflow", "config", "scripts", "environment.yml", "data.dvc"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    return dest


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole DAG on config/smoke.yaml, run once per test session with 2 parallel jobs."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    snakemake(["--cores", "2", "--configfile", "config/smoke.yaml", "--replace-workflow-config"], cwd=work)
    return work


@pytest.fixture(scope="session")
def tiny_sizes():
    return {name: b["size"] for name, b in SMOKE["backbones"].items()}
