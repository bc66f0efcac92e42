"""config/coin.yaml: CoIN's 8-task sequence on two real backbones builds offline, every stage listed."""

import re

import pytest
import yaml
from conftest import REPO
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.data.hub.coin import COIN_SEQUENCE
from test_paper_config import offline_dry_run

COIN = yaml.safe_load((REPO / "config" / "coin.yaml").read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    return offline_dry_run(tmp_path_factory, "config/coin.yaml")


def test_the_sequence_is_coins_order():
    config = load_config(COIN)
    assert config.continual.sequences["coin"] == list(COIN_SEQUENCE)
    assert list(COIN_SEQUENCE) == [
        "coin_scienceqa", "coin_textvqa", "coin_imagenet", "coin_gqa",
        "coin_vizwiz", "coin_grounding", "coin_vqav2", "coin_ocrvqa",
    ]  # fmt: skip


def test_dry_run_lists_every_stage_of_every_method_offline(dry_run):
    pattern = r"results/continual/([^/\s]+)/coin/([^/\s]+)/seed0/stage(\d+)_([a-z0-9_]+)/train\.json"
    stages = set(re.findall(pattern, dry_run))
    expected = {
        (backbone, method, str(i), task)
        for backbone in COIN["backbones"]
        for method in COIN["continual"]["methods"]
        for i, task in enumerate(COIN_SEQUENCE, 1)
    }
    assert stages == expected
    assert len(expected) == 2 * 10 * 8
    assert "network access attempted" not in dry_run
    assert dry_run.count("rule evaluate_stage0:") == 2 and "rule aggregate_continual:" in dry_run
    assert "rule fetch_backbone:" in dry_run and "rule pretrain:" not in dry_run
