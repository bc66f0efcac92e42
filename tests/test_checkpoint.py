"""Checkpoint files and the resumable data order, without a model."""

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mllm_forgetting.training.checkpoint import Checkpointer, CheckpointError
from mllm_forgetting.training.loop import BatchOrder

FINGERPRINT = {"backbone": "tiny-llava", "training": {"lr": 0.001}}


def epoch_permutations(n, batch_size, rng):
    """The order the loop had before it was made resumable: a fresh permutation per epoch, drop-last."""
    while True:
        perm = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def test_batch_order_is_the_epoch_permutation_order():
    ours, reference = (
        BatchOrder(10, 3, np.random.default_rng(5)),
        epoch_permutations(10, 3, np.random.default_rng(5)),
    )
    for _ in range(20):
        assert np.array_equal(next(ours), next(reference))


def test_batch_order_resumes_from_its_state():
    rng = np.random.default_rng(1)
    order = BatchOrder(10, 3, rng)
    for _ in range(7):
        next(order)
    state, rng_state = order.state_dict(), rng.bit_generator.state
    expected = [next(order) for _ in range(6)]
    restored_rng = np.random.default_rng(99)
    restored_rng.bit_generator.state = rng_state
    restored = BatchOrder(10, 3, restored_rng)
    restored.load_state_dict(state)
    assert all(np.array_equal(a, b) for a, b in zip(expected, [next(restored) for _ in range(6)]))


def state(step):
    return {"step": step, "params": [torch.full((2, 2), float(step))]}


def test_keeps_the_newest_two_and_ignores_a_half_written_one(tmp_path):
    ckpt = Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT)
    for step in (2, 4, 6):
        ckpt.save(step, state(step))
    assert sorted(p.name for p in tmp_path.glob("step-*")) == [
        "step-000004.json",
        "step-000004.pt",
        "step-000006.json",
        "step-000006.pt",
    ]
    (tmp_path / "step-000008.pt").write_bytes(b"payload renamed, manifest never written")
    (tmp_path / "step-000008.json.tmp").write_text("{")
    with pytest.warns(UserWarning, match="resuming from checkpoint step-000006.pt"):
        assert ckpt.load_latest()["step"] == 6


@pytest.mark.faults
def test_a_full_disk_during_a_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch, record_property):
    ckpt = Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT)
    ckpt.save(2, state(2))

    def full_disk(obj, path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left on device while writing .*step-000004.pt"):
        ckpt.save(4, state(4))
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "step-000004.pt").exists()
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="step-000002.pt"):
        resumed = ckpt.load_latest()
    lost = int(resumed is None or not torch.equal(resumed["params"][0], state(2)["params"][0]))
    record_property("results_lost", lost)
    assert lost == 0


def test_another_backbone_is_an_error_and_another_configuration_is_discarded(tmp_path):
    Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT).save(2, state(2))
    with pytest.raises(CheckpointError, match="written for backbone 'tiny-llava', not 'tiny-resampler'"):
        Checkpointer(
            tmp_path, every=2, fingerprint={**FINGERPRINT, "backbone": "tiny-resampler"}
        ).load_latest()
    changed = Checkpointer(tmp_path, every=2, fingerprint={**FINGERPRINT, "training": {"lr": 0.01}})
    with pytest.warns(UserWarning, match=r"another configuration \(differs in training\.lr\)"):
        assert changed.load_latest() is None
    assert not list(tmp_path.glob("step-*"))


def test_notes_travel_with_the_checkpoint(tmp_path):
    ckpt = Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT, notes={"mlflow_run_id": "abc"})
    ckpt.save(2, state(2))
    assert Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT).latest_notes() == {"mlflow_run_id": "abc"}
    assert json.loads((tmp_path / "step-000002.json").read_text())["step"] == 2


@pytest.mark.faults
def test_a_checkpoint_whose_intact_payload_does_not_load_falls_back_to_the_previous(tmp_path):
    """Bytes that match their checksum but do not unpickle (an object weights_only refuses, another torch)."""
    import hashlib

    ckpt = Checkpointer(tmp_path, every=2, fingerprint=FINGERPRINT)
    for step in (2, 4):
        ckpt.save(step, state(step))
    newest = tmp_path / "step-000004.pt"
    torch.save({"step": 4, "odd": Path("x")}, newest)  # a class weights_only=True will not load
    manifest = json.loads((tmp_path / "step-000004.json").read_text())
    manifest["sha256"] = hashlib.sha256(newest.read_bytes()).hexdigest()
    (tmp_path / "step-000004.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning) as caught:
        assert ckpt.load_latest()["step"] == 2
    messages = [str(w.message) for w in caught]
    assert any(
        "checkpoint step-000004.pt cannot be loaded (" in m and "trying the previous one" in m
        for m in messages
    )
    assert any("resuming from checkpoint step-000002.pt" in m for m in messages)


@pytest.mark.faults
def test_a_damaged_dvc_file_tags_the_data_version_unreadable(tmp_path):
    from mllm_forgetting.tracking import data_version

    (tmp_path / "data.dvc").write_text("outs: [md5: {{\n")  # not YAML
    with pytest.warns(UserWarning, match=r"data\.dvc is unreadable"):
        assert data_version(tmp_path / "data") == "unreadable"
    (tmp_path / "data.dvc").write_text("just a tag\n")  # YAML, but not a .dvc file
    with pytest.warns(UserWarning):
        assert data_version(tmp_path / "data") == "unreadable"
