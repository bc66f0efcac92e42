"""lora: peft LoRA adapters on the LM's query and key projections, as in the paper's LoRA baseline."""

from peft import LoraConfig, get_peft_model

from .base import Method


class LoRA(Method):
    def prepare(self, model, ctx):
        for p in model.parameters():
            p.requires_grad_(False)
        config = LoraConfig(
            r=self.options.get("r", 8),
            lora_alpha=self.options.get("lora_alpha", 16),
            lora_dropout=self.options.get("lora_dropout", 0.0),
            target_modules=ctx.lora_target_modules,
            bias="none",
        )
        model = get_peft_model(model, config)
        self.params = [p for p in model.parameters() if p.requires_grad]
        return model

    def export(self, model):
        return model  # save_pretrained on a PeftModel writes the adapter; evaluation merges it into the base
