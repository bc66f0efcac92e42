"""config/paper.yaml: the paper's grid builds offline, with every cell of Tables 1 and 2."""

import itertools
import re

import pytest
import yaml
from conftest import REPO, copy_workflow, snakemake
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.methods.mdgd import MDGDConfig
from mllm_forgetting.methods.mdgd_gm import MDGDGradientMaskConfig

PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
# The paper's Tables 1-2 (Model Tailor's rows there are quoted from its own paper; here it runs)
TABLES = {
    "llava-1.5-7b": (
        ["flickr30k", "okvqa"],
        ["vqav2", "gqa", "vizwiz", "scienceqa", "textvqa", "pope", "mmbench"],
    ),
    "minicpm-v-2": (
        ["textcaps", "pathvqa"],
        ["vizwiz", "okvqa", "aokvqa", "textvqa", "iconqa", "pope", "mmbench"],
    ),
}
METHODS = ["zero_shot", "finetune", "lora", "mdgd", "mdgd_no_align", "mdgd_gm", "model_tailor"]
NO_NETWORK = """
import socket
def _refuse(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network access attempted while building the DAG: {address}")
    return _connect(self, address, *args, **kwargs)
_connect = socket.socket.connect
socket.socket.connect = _refuse
"""


def offline_dry_run(tmp_path_factory, configfile: str) -> str:
    """What `snakemake -n --configfile <configfile>` prints, every network connection refused."""
    work = copy_workflow(tmp_path_factory.mktemp("dry-run"))
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    proc = snakemake(
        ["-n", "--configfile", configfile],
        cwd=work,
        env={"PYTHONPATH": str(guard), "HF_HUB_OFFLINE": "1"},
    )
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    return offline_dry_run(tmp_path_factory, "config/paper.yaml")


def test_paper_backbones_follow_the_paper():
    llava, minicpm = PAPER["backbones"]["llava-1.5-7b"], PAPER["backbones"]["minicpm-v-2"]
    assert (llava["hub_id"], llava["trainable_last_layers"]) == ("llava-hf/llava-1.5-7b-hf", 6)
    assert (minicpm["hub_id"], minicpm["trainable_last_layers"]) == ("openbmb/MiniCPM-V-2", 8)
    assert all(b["dtype"] == "bfloat16" for b in PAPER["backbones"].values())
    for name, (targets, tasks) in TABLES.items():
        assert PAPER["backbones"][name]["targets"] == targets
        assert PAPER["backbones"][name]["pretrain_tasks"] == tasks
    # the typed config agrees: every key is valid, the backbones read LLaVA-1.5's evaluation wording, and
    # "w/o visual align" is MDGD with align off (no method type of its own)
    config = load_config(PAPER)
    for name, (targets, tasks) in TABLES.items():
        assert (config.targets_of(name), config.pretrain_tasks_of(name)) == (targets, tasks)
    assert all(b.prompt == "llava_1_5" and not b.built for b in config.backbones.values())
    assert list(config.methods) == METHODS
    assert type(config.methods["mdgd"]) is MDGDConfig and config.methods["mdgd"].align
    assert type(config.methods["mdgd_no_align"]) is MDGDConfig and not config.methods["mdgd_no_align"].align
    assert (
        type(config.methods["mdgd_gm"]) is MDGDGradientMaskConfig and config.methods["mdgd_gm"].alpha == 0.1
    )


def test_dry_run_lists_every_cell_of_tables_1_and_2_offline(dry_run):
    cells = set(re.findall(r"results/cells/([^/\s]+)/([^/\s]+)/([^/\s]+)/seed0/train\.json", dry_run))
    for name, (targets, _) in TABLES.items():
        for target, method in itertools.product(targets, METHODS):
            assert (name, target, method) in cells, (name, target, method)
    expected = sum(len(b.get("targets", PAPER["targets"])) for b in PAPER["backbones"].values()) * len(
        METHODS
    )
    assert len(cells) == expected
    assert "network access attempted" not in dry_run
    for name in PAPER["backbones"]:  # hub backbones are fetched, not pre-trained
        assert f"results/checkpoints/{name}" in dry_run
    assert "rule pretrain:" not in dry_run and "rule fetch_backbone:" in dry_run


def test_the_guard_would_catch_network_access(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(NO_NETWORK)
    import subprocess
    import sys

    probe = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    proc = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True
    )
    assert "network access attempted" in proc.stderr
