"""DVC versions the prepared datasets: data.dvc matches a regeneration, a remote round trip is lossless."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.data.benchmark import build_benchmark
from mllm_forgetting.steps.prepare import prepare_data


def test_regenerated_data_hashes_to_what_data_dvc_records(tmp_path):
    data = load_config(yaml.safe_load((REPO / "config/config.yaml").read_text())).data
    recorded = yaml.safe_load((REPO / "data.dvc").read_text())["outs"][0]
    assert recorded["path"] == data.dir
    assert data.probes is not None  # the versioned data holds the probe sets too
    prepare_data(data, str(tmp_path / recorded["path"]))
    dvc = [str(Path(sys.executable).parent / "dvc")]
    subprocess.run(dvc + ["init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run(dvc + ["add", "-q", recorded["path"]], cwd=tmp_path, check=True)
    fresh = yaml.safe_load((tmp_path / "data.dvc").read_text())["outs"][0]
    assert (fresh["md5"], fresh["nfiles"], fresh["size"]) == (
        recorded["md5"],
        recorded["nfiles"],
        recorded["size"],
    )


def test_round_trip_through_a_local_remote(tmp_path):
    """What a team does with the prepared data: dvc add, push to a shared remote, delete, pull back."""
    work = tmp_path / "work"
    build_benchmark(
        work / "data", ["vqa", "okvqa"], {"train": 8, "val": 4, "test": 4}, seed=0, progress=False
    )
    before = file_hashes(work / "data")
    dvc = [str(Path(sys.executable).parent / "dvc")]

    def run(*args):
        subprocess.run(dvc + list(args), cwd=work, check=True, capture_output=True, text=True)

    run("init", "--no-scm", "-q")
    run("remote", "add", "-d", "team", str(tmp_path / "remote"))
    run("add", "-q", "data")
    run("push", "-q")
    shutil.rmtree(work / "data")
    shutil.rmtree(work / ".dvc" / "cache")  # nothing local is left: the pull must come from the remote
    run("pull", "-q")
    assert file_hashes(work / "data") == before
    assert len(before) == 2 * (1 + 3 * 3) + 2  # per task: dataset_dict.json + 3 splits x (shard, info, state)


def file_hashes(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
