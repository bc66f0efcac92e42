"""The cell cost model: FLOPs and memory follow from parameter counts as its docstring states."""

import pytest
from mllm_forgetting.reporting.cost import (
    PUBLISHED_SHAPES,
    BackboneShape,
    cell_cost,
    memory_gb,
    train_step_flops,
)

TOY = BackboneShape(total=10.0, lm=8.0, trainable=2.0, lora=0.5, hidden=4, layers=2, vocab=10, tokens=3)


def test_fine_tune_step_flops_by_hand():
    # per token: forward 2*10 + recompute 2*8 + activation grads 2*8 + weight grads 2*2 = 56; 2 x 3 tokens
    assert train_step_flops(TOY, "finetune", batch=2) == 6 * 56
    assert train_step_flops(TOY, "finetune", batch=2, checkpointing=False) == 6 * 40
    # LoRA: forward 20 + recompute 16 + activation grads 16 + weight grads 1 = 53
    assert train_step_flops(TOY, "lora", batch=2) == 6 * 53
    assert train_step_flops(TOY, "zero_shot", batch=2) == 0


def test_mdgd_costs_two_forwards_and_four_backwards():
    # 2 * 20 + 4 * (recompute 16 + activation grads 16 + weight grads 4) = 184 per token
    assert train_step_flops(TOY, "mdgd", batch=1) == 3 * 184
    assert train_step_flops(TOY, "mdgd", batch=1, checkpointing=False) == 3 * (40 + 4 * 20)
    with pytest.raises(
        ValueError,
        match="unknown method type .sgd.; valid: zero_shot, finetune, lora, mdgd, mdgd_gm, model_tailor",
    ):
        train_step_flops(TOY, "sgd", batch=1)


def test_memory_orders_methods_as_their_state_does():
    shape = PUBLISHED_SHAPES["llava-hf/llava-1.5-7b-hf"]
    by_method = {m: memory_gb(shape, m, batch=16) for m in ("zero_shot", "lora", "finetune", "mdgd")}
    assert by_method["zero_shot"] < by_method["lora"] < by_method["finetune"] < by_method["mdgd"]
    assert 14 <= by_method["zero_shot"] < 16  # 7.06B bf16 weights
    cost = cell_cost(shape, "finetune", steps=10, batch=16, eval_examples=100)
    assert cost.train_flops == 10 * train_step_flops(shape, "finetune", 16)
    assert cost.eval_flops == 100 * 4 * shape.total * shape.tokens
