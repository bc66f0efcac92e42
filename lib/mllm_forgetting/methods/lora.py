"""lora: peft LoRA adapters on the LM's query and key projections, as in the paper's LoRA baseline
(Hu et al. 2022, W + (lora_alpha / r) B A with B zero-initialised)."""

from dataclasses import dataclass

from ..config.typed import option
from .base import Method, MethodConfig, StepCost, register


@dataclass(frozen=True, kw_only=True)
class LoRAConfig(MethodConfig):
    """peft LoRA on the backbone entry's lora_target_modules."""

    r: int = option("rank of the adapters", 8, min=1)
    lora_alpha: float = option("scale numerator: the update is (lora_alpha / r) B A", 16, exclusive_min=0)
    lora_dropout: float = option("dropout on the adapters' input", 0.0, min=0, max=1)


@register("lora", LoRAConfig)
class LoRA(Method):
    cost = StepCost(tuned="lora")

    def prepare(self, model, ctx):
        from peft import LoraConfig, get_peft_model

        from ..training.precision import to_master_weights

        for p in model.parameters():
            p.requires_grad_(False)
        peft_config = LoraConfig(
            r=self.config.r,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=ctx.lora_target_modules,
            bias="none",
        )
        model = get_peft_model(model, peft_config)
        self.params = [p for p in model.parameters() if p.requires_grad]
        to_master_weights(self.params)  # peft does so for a bf16 base already; said here, not assumed
        return model

    def export(self, model):
        return model  # save_pretrained on a PeftModel writes the adapter; evaluation merges it into the base
