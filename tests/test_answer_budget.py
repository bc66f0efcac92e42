"""The greedy answer budget (max_new_tokens) is set in the config or by the train split, never by the test."""

import dataclasses

import pytest
import yaml
from conftest import REPO
from mllm_forgetting.config.settings import AnswerBudget, load_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.metrics import KINDS
from mllm_forgetting.steps import scoring


def words(text, add_special_tokens):  # a word-level tokenizer, as the tiny backbones' is
    assert add_special_tokens is False
    return {"input_ids": text.split()}


def test_longest_answer_counts_tokens_and_the_end_of_sequence():
    rows = {"answers": [["red"], ["red circle", "a big red circle"], ["no"]]}
    assert scoring.longest_answer_tokens(rows, words) == 4 + 1


def test_a_train_budget_reads_the_train_split_only(monkeypatch):
    read = []

    def load_rows(data_dir, task, split, limit=None):
        read.append(split)
        return {"answers": [["one two three"]] if split == "train" else [["a much longer test answer"]]}

    monkeypatch.setattr(scoring, "load_rows", load_rows)
    assert scoring.answer_budget("train", "data", "gqa", words) == 3 + 1
    assert scoring.answer_budget(7, "data", "gqa", words) == 7
    assert read == ["train"]


def test_there_is_a_budget_for_every_task_kind():
    assert [f.name for f in dataclasses.fields(AnswerBudget)] == list(KINDS)


def test_a_train_budget_for_a_dataset_without_train_split_is_a_config_error():
    raw = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    raw["evaluation"]["max_new_tokens"]["vqa"] = "train"
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    assert str(caught.value) == (
        "evaluation.max_new_tokens.vqa is 'train' but task 'vqav2' has no train split; "
        "give a number of tokens"
    )
    raw["evaluation"]["max_new_tokens"] = {"caption": "train"}  # Flickr30k and TextCaps have train splits
    with pytest.raises(ConfigError, match="max_new_tokens.vqa is 'train' but task 'vqav2'"):
        load_config(raw)  # a kind left out is 'train' too
