"""Back-of-the-envelope GPU cost of one cell: FLOPs from parameter counts, memory from tensor sizes.

A model of the cost, not a measurement: a transformer's forward pass costs 2 FLOPs per parameter
per token, backward twice that, split evenly between activation gradients (needed down to the
lowest trainable tensor: the connector, so through the whole LM) and weight gradients (only for the
trainable tensors). Gradient checkpointing adds one more LM forward to every backward pass. What a
method's step runs (models forward, backward passes, copies of the tuned tensors) is its class's `cost`:
MDGD runs theta and phi forward and four backward passes (g and h of each), as methods/mdgd.py does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..methods.base import StepCost


@dataclass(frozen=True)
class BackboneShape:
    total: float  # parameters
    lm: float  # parameters of the language model (what the backward pass traverses)
    trainable: float  # connector + last LM layers (fine-tune, MDGD)
    lora: float  # LoRA parameters (q_proj, k_proj)
    hidden: int
    layers: int
    vocab: int
    tokens: int  # sequence length of one example: image tokens + text


@dataclass(frozen=True)
class CellCost:
    train_flops: float
    eval_flops: float
    memory_gb: float


def step_cost(method_type: str) -> StepCost | None:
    """What a step of the method runs, as its class declares (None: it does not train)."""
    from ..methods import METHODS

    if method_type not in METHODS:
        raise ValueError(f"unknown method type {method_type!r}; valid: {', '.join(METHODS)}")
    return METHODS[method_type].method.cost


def train_step_flops(shape: BackboneShape, method_type: str, batch: int, checkpointing: bool = True) -> float:
    cost = step_cost(method_type)
    if cost is None:
        return 0.0
    tokens = batch * shape.tokens
    forward = 2 * shape.total
    recompute = 2 * shape.lm if checkpointing else 0.0
    backward = 2 * shape.lm + 2 * _tuned(shape, cost)  # activation grads through the LM + weight grads
    # each backward pass recomputes its activations under gradient checkpointing
    return tokens * (cost.forward_models * forward + cost.backward_passes * (recompute + backward))


def eval_flops(shape: BackboneShape, examples: int) -> float:
    """Greedy answers (prefill; a few decoded tokens are negligible) plus the representation pass."""
    return examples * 2 * (2 * shape.total * shape.tokens)


def memory_gb(shape: BackboneShape, method_type: str, batch: int, bytes_per_param: int = 2) -> float:
    """Peak GPU memory of a training step in bf16 with gradient checkpointing (GB = 1e9 bytes)."""
    cost = step_cost(method_type)
    weights = bytes_per_param * shape.total
    # checkpointed layer inputs + one layer's recomputed activations (~16 hidden-sized tensors) + fp32 logits
    layer_inputs = batch * shape.tokens * shape.hidden * bytes_per_param * shape.layers
    working = 16 * batch * shape.tokens * shape.hidden * bytes_per_param
    logits = batch * shape.tokens * shape.vocab * 4
    activations = layer_inputs + working + logits
    if cost is None:  # evaluation only: no graph kept
        return (weights + activations / shape.layers) / 1e9
    tuned = _tuned(shape, cost)
    grads_and_adam = 3 * bytes_per_param * tuned  # gradient + AdamW's two moments in the parameters' dtype
    extra = (
        cost.extra_copies * tuned * bytes_per_param
    )  # MDGD: phi's copy of the tuned tensors, g and h of both
    return (weights + grads_and_adam + extra + cost.forward_models * activations) / 1e9


def _tuned(shape: BackboneShape, cost: StepCost) -> float:
    return shape.lora if cost.tuned == "lora" else shape.trainable


def cell_cost(shape: BackboneShape, method_type: str, steps: int, batch: int, eval_examples: int) -> CellCost:
    return CellCost(
        train_flops=steps * train_step_flops(shape, method_type, batch),
        eval_flops=eval_flops(shape, eval_examples),
        memory_gb=memory_gb(shape, method_type, batch),
    )


# Shapes of the paper-scale backbones, from their published configs (config.json on the hub) and the
# MDGD paper's trainable counts; `tokens` = image tokens + ~64 text tokens; LoRA at config/paper.yaml's r=64.
PUBLISHED_SHAPES = {
    # CLIP ViT-L/336 (0.30B) + projector (21M) + Vicuna-7B (6.74B); 576 image tokens;
    # 6 x 202.4M + 21M trainable
    "llava-hf/llava-1.5-7b-hf": BackboneShape(
        total=7.06e9,
        lm=6.74e9,
        trainable=1.235e9,
        lora=33.6e6,
        hidden=4096,
        layers=32,
        vocab=32064,
        tokens=640,
    ),
    # SigLIP-400M + resampler + MiniCPM-2.4B; 64 tokens per slice, ~5 slices; 517M trainable (paper)
    "openbmb/MiniCPM-V-2": BackboneShape(
        total=2.8e9, lm=2.4e9, trainable=517e6, lora=23.6e6, hidden=2304, layers=40, vocab=122753, tokens=384
    ),
    # ViT (0.67B) + Qwen2-1.5B; 448x448 -> 256 tokens; 6 x 46.8M + merger 34.1M trainable
    "Qwen/Qwen2-VL-2B-Instruct": BackboneShape(
        total=2.21e9, lm=1.54e9, trainable=315e6, lora=8.7e6, hidden=1536, layers=28, vocab=151936, tokens=320
    ),
}
