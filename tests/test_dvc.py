"""data.dvc records the hash of the embedded benchmark exactly as prepare_data regenerates it."""
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

from mllm_forgetting.data import build_benchmark


def test_regenerated_data_hashes_to_what_data_dvc_records(tmp_path):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())["data"]
    recorded = yaml.safe_load((REPO / "data.dvc").read_text())["outs"][0]
    build_benchmark(tmp_path / recorded["path"], cfg["pretrain_tasks"] + cfg["target_tasks"], cfg["sizes"],
                    seed=cfg["seed"], image_size=cfg["image_size"], progress=False)
    dvc = [str(Path(sys.executable).parent / "dvc")]
    subprocess.run(dvc + ["init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run(dvc + ["add", "-q", recorded["path"]], cwd=tmp_path, check=True)
    fresh = yaml.safe_load((tmp_path / "data.dvc").read_text())["outs"][0]
    assert (fresh["md5"], fresh["nfiles"], fresh["size"]) == (recorded["md5"], recorded["nfiles"], recorded["size"])
