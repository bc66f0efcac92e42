"""moe_lora: a mixture of LoRA experts with a dense softmax router, as CoIN's MoELoRA (Chen et al. 2024,
"CoIN: A Benchmark of Continual Instruction tuNing for Multimodal Large Language Models", arXiv
2403.08350).

Each adapted linear layer W (the backbone entry's lora_target_modules, matched as peft matches
target_modules) gets n experts (A_e: r x in, B_e: out x r) and a router R (n x in, no bias):

    y = W x + sum_e g_e(x) (lora_alpha / r) B_e A_e dropout(x),    g(x) = softmax(R x) over the experts

B_e starts at zero, so the tuned model starts equal to the pre-trained one; A_e and R start as peft's
LoRA A and an nn.Linear do (uniform in +-1/sqrt(in)). With one expert the gate is 1: plain LoRA. `r` is
each expert's rank (the MOELoRA lineage splits one total rank over the experts instead: set r to
total / experts for its parameter count). The gate depends on x, so the adapters cannot be merged into W:
model/ holds the adapters (moe_lora.safetensors, moe_lora.json), and `load_moe_lora` puts them on the
pre-trained model again.

The module imports torch inside its functions (the Snakefile loads MoELoRAConfig and stays torch-free).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..config.typed import option
from .base import Method, MethodConfig, StepCost, register

MOE_LORA_FILE = (
    "moe_lora.json"  # in a cell's model/: the adapters' config (evaluate detects the format by it)
)
MOE_LORA_WEIGHTS = "moe_lora.safetensors"  # their tensors, by module name
FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class MoELoRAConfig(MethodConfig):
    """Mixture of LoRA experts with a dense softmax router (CoIN's MoELoRA) on the backbone entry's
    lora_target_modules."""

    experts: int = option("LoRA experts per adapted linear layer (1: plain LoRA)", 4, min=1)
    r: int = option("rank of each expert", 8, min=1)
    lora_alpha: float = option(
        "scale numerator: each expert's update is (lora_alpha / r) B_e A_e", 16, exclusive_min=0
    )
    lora_dropout: float = option(
        "dropout on the experts' input (the router sees it undropped)", 0.0, min=0, max=1
    )


@cache
def _layer_class():
    """MoELoRALinear, defined on first use: torch is imported here, not when the config is loaded."""
    import math

    import torch
    import torch.nn as nn

    class MoELoRALinear(nn.Module):
        """A frozen nn.Linear plus `experts` LoRA experts mixed by a softmax router on its input."""

        def __init__(
            self, base_layer: nn.Linear, experts: int, r: int, lora_alpha: float, lora_dropout: float
        ):
            super().__init__()
            self.base_layer = base_layer
            self.experts, self.r, self.lora_alpha = experts, r, lora_alpha
            self.scaling = lora_alpha / r
            n_in, n_out = base_layer.in_features, base_layer.out_features
            device = base_layer.weight.device
            kw = {"device": device, "dtype": torch.float32}  # master weights (training/precision.py)
            self.lora_A = nn.Parameter(torch.empty(experts, r, n_in, **kw))
            self.lora_B = nn.Parameter(torch.zeros(experts, n_out, r, **kw))
            self.router = nn.Linear(n_in, experts, bias=False, **kw)
            self.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
            bound = 1 / math.sqrt(n_in)  # peft's LoRA A (kaiming_uniform, a=sqrt(5)) per expert
            with torch.no_grad():
                self.lora_A.uniform_(-bound, bound)
                self.router.weight.uniform_(-bound, bound)

        # what code that reads a projection's attributes (dtype checks, shapes) finds on the wrapped layer
        @property
        def weight(self):
            return self.base_layer.weight

        @property
        def bias(self):
            return self.base_layer.bias

        @property
        def in_features(self):
            return self.base_layer.in_features

        @property
        def out_features(self):
            return self.base_layer.out_features

        def adapter_parameters(self) -> list[nn.Parameter]:
            return [self.lora_A, self.lora_B, self.router.weight]

        def gates(self, x: torch.Tensor) -> torch.Tensor:
            """The router's softmax over the experts, (..., experts), in fp32."""
            logits = self.router(x.to(self.router.weight.dtype))
            return torch.softmax(logits.float(), dim=-1)

        def delta(self, x: torch.Tensor) -> torch.Tensor:
            """sum_e g_e(x) (lora_alpha / r) B_e A_e dropout(x), in the adapters' dtype."""
            dtype = self.lora_A.dtype
            h = torch.einsum("...i,eri->...er", self.lora_dropout(x).to(dtype), self.lora_A)
            h = h * self.gates(x).to(h.dtype).unsqueeze(-1)
            return torch.einsum("...er,eor->...o", h, self.lora_B) * self.scaling

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            result = self.base_layer(x)
            return result + self.delta(x).to(result.dtype)

        def extra_repr(self) -> str:
            return f"experts={self.experts}, r={self.r}, lora_alpha={self.lora_alpha}"

    MoELoRALinear.__qualname__ = "MoELoRALinear"  # as the module-level name `__getattr__` gives
    return MoELoRALinear


def __getattr__(name: str):
    """`from mllm_forgetting.methods.moe_lora import MoELoRALinear` imports torch then, not before."""
    if name == "MoELoRALinear":
        return _layer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def target_names(model, target_modules) -> list[str]:
    """Qualified names of the nn.Linear modules `target_modules` picks, as peft picks them (a str: a regex
    the whole name matches; a list: names or name suffixes). A layer already wrapped counts once, by its
    own name; a matched module that is no nn.Linear, or no match at all, is an error."""
    import torch.nn as nn
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    if not target_modules:
        raise ValueError("moe_lora needs the backbone entry's lora_target_modules")
    wrapper = _layer_class()
    matcher = LoraConfig(target_modules=target_modules)
    wrapped = [n for n, m in model.named_modules() if isinstance(m, wrapper)]
    names = []
    for name, module in model.named_modules():
        if any(name.startswith(w + ".") for w in wrapped) or not check_target_module_exists(matcher, name):
            continue
        if not isinstance(module, (nn.Linear, wrapper)):
            raise ValueError(
                f"lora_target_modules {target_modules!r} matches {name}, a {type(module).__name__}; "
                "moe_lora adapts nn.Linear layers only"
            )
        names.append(name)
    if not names:
        raise ValueError(f"lora_target_modules {target_modules!r} matches no module of the model")
    return names


def wrap(model, names: list[str], experts: int, r: int, lora_alpha: float, lora_dropout: float) -> list:
    """Put a MoELoRALinear around each named nn.Linear, in place (a layer already wrapped stays as it is);
    the MoELoRALinear modules, in `names` order."""
    import torch.nn as nn

    wrapper = _layer_class()
    layers = []
    for name in names:
        module = model.get_submodule(name)
        if not isinstance(module, wrapper):
            parent, _, child = name.rpartition(".")
            module = wrapper(module, experts, r, lora_alpha, lora_dropout)
            setattr(model.get_submodule(parent) if parent else model, child, module)
        elif (module.experts, module.r, module.lora_alpha) != (experts, r, lora_alpha):
            raise ValueError(
                f"{name} already holds MoE-LoRA adapters with experts={module.experts}, r={module.r}, "
                f"lora_alpha={module.lora_alpha}; this method has experts={experts}, r={r}, "
                f"lora_alpha={lora_alpha}"
            )
        else:  # a reloaded layer (no dropout) tuned further: this method's dropout
            module.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        layers.append(module)
    return layers


@register("moe_lora", MoELoRAConfig)
class MoELoRA(Method):
    cost = StepCost(tuned="lora")  # the cost model's LoRA size: each layer's experts and router are more

    def prepare(self, model, ctx):
        from ..training.precision import to_master_weights

        for p in model.parameters():
            p.requires_grad_(False)
        c = self.config
        self.names = target_names(model, ctx.lora_target_modules)
        layers = wrap(model, self.names, c.experts, c.r, c.lora_alpha, c.lora_dropout)
        self.params = [p for layer in layers for p in layer.adapter_parameters()]
        for p in self.params:
            p.requires_grad_(True)
        to_master_weights(self.params)  # new tensors are fp32 already; a reloaded bf16 adapter is not
        return model

    def export(self, model):
        return MoELoRAAdapter(model, self.names, self.config)


class MoELoRAAdapter:
    """What the train step saves for a MoE-LoRA cell: `save_pretrained(dir)` writes the adapters and router
    (moe_lora.safetensors, by module name) and their config (moe_lora.json); `load_moe_lora` reads them."""

    def __init__(self, model, names: list[str], config: MoELoRAConfig):
        self.model, self.names, self.config = model, names, config

    def state_dict(self) -> dict:
        tensors = {}
        for name in self.names:
            layer = self.model.get_submodule(name)
            tensors[f"{name}.lora_A"] = layer.lora_A
            tensors[f"{name}.lora_B"] = layer.lora_B
            tensors[f"{name}.router.weight"] = layer.router.weight
        return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def save_pretrained(self, path, **_):
        from safetensors.torch import save_file

        from ..files import atomic_output, write_json

        path = Path(path)
        with atomic_output(path / MOE_LORA_WEIGHTS) as tmp:
            save_file(self.state_dict(), str(tmp), metadata={"format": "pt"})
        c = self.config
        write_json(  # written last: its presence says the directory is complete
            path / MOE_LORA_FILE,
            {
                "method": "moe_lora",
                "format": FORMAT,
                "experts": c.experts,
                "r": c.r,
                "lora_alpha": c.lora_alpha,
                "lora_dropout": c.lora_dropout,
                "modules": list(self.names),
            },
        )


def load_moe_lora(model_dir, base_model):
    """`base_model` (the pre-trained model the adapters were trained on) with model_dir's MoE-LoRA adapters
    put on its layers, in place, in the layers' dtype and device; frozen, in eval mode."""
    import json

    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / MOE_LORA_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{model_dir / MOE_LORA_FILE}: format {meta.get('format')!r}, expected {FORMAT}")
    layers = wrap(base_model, meta["modules"], meta["experts"], meta["r"], meta["lora_alpha"], 0.0)
    tensors = load_file(str(model_dir / MOE_LORA_WEIGHTS))
    expected = {f"{n}.{k}" for n in meta["modules"] for k in ("lora_A", "lora_B", "router.weight")}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ValueError(f"{model_dir / MOE_LORA_WEIGHTS}: missing {missing[:3]}, unexpected {extra[:3]}")
    import torch

    with torch.no_grad():
        for name, layer in zip(meta["modules"], layers, strict=True):
            base = layer.base_layer.weight
            for key, p in zip(("lora_A", "lora_B", "router.weight"), layer.adapter_parameters()):
                saved = tensors[f"{name}.{key}"]
                if saved.shape != p.shape:
                    raise ValueError(
                        f"{model_dir / MOE_LORA_WEIGHTS}: {name}.{key} has shape {tuple(saved.shape)}, "
                        f"the layer's is {tuple(p.shape)}"
                    )
                p.data = saved.to(device=base.device, dtype=base.dtype)
    for p in base_model.parameters():
        p.requires_grad_(False)
    return base_model.eval()
