"""lwf: learning without forgetting (Li & Hoiem 2017, TPAMI, Eq. 2): the task loss plus the distillation
of the stage's starting model on the current inputs, as the knowledge distillation the MoDE paper adds
to its baselines.

L = L_vl + weight * T^2 * KL(softmax(z_teacher / T) || softmax(z / T)), averaged over the answer
tokens (the positions the task loss scores), the teacher being the model as the stage began (the
previous stage's; a single-target cell's: the pre-trained model). The teacher differs from the model
only in the tuned tensors, so it is a copy of those run through the same module (methods/shared.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, StepCost, register


@dataclass(frozen=True, kw_only=True)
class LwFConfig(MethodConfig):
    """Distillation of the stage's starting model on the fine-tuning scope."""

    temperature: float = option("T: softmax temperature of both distributions", 2.0, exclusive_min=0)
    weight: float = option("factor on the distillation term", 1.0, min=0)


@register("lwf", LwFConfig)
class LwF(Method):
    # the teacher's forward (no graph) beside the model's; a copy of the tuned tensors
    cost = StepCost(forward_models=2, extra_copies=1)

    def prepare(self, model, ctx):
        from .shared import FrozenOutputs

        self.params = select_trainable(model, ctx.trainable_names)
        wanted = set(ctx.trainable_names)
        self.names = [n for n, _ in model.named_parameters() if n in wanted]
        self.teacher = [p.detach().clone() for p in self.params]
        self.frozen = FrozenOutputs(model)
        return model

    def step(self, model, batch, ctx):
        import torch

        from ..training.forward import task_loss
        from .shared import phi_weights

        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with self.phase("forward"), self.frozen.record():
            logits = model(**inputs, use_cache=False).logits
        with self.phase("forward teacher"), torch.no_grad(), self.frozen.replay():
            with phi_weights(model, self.names, self.teacher):
                teacher = model(**inputs, use_cache=False).logits
        loss = task_loss(logits, batch["labels"])
        kd = distillation(logits, teacher, batch["labels"], self.config.temperature)
        with self.phase("backward"):
            (loss + self.config.weight * kd).backward()
        return {"loss": loss.detach(), "kd": kd.detach()}


def distillation(logits, teacher_logits, labels, temperature: float):
    """T^2 KL(teacher || student) at the positions predicting answer tokens (labels != -100)."""
    import torch.nn.functional as F

    scored = labels[:, 1:] != -100
    student = logits[:, :-1][scored].float() / temperature
    teacher = teacher_logits[:, :-1][scored].float() / temperature
    kl = F.kl_div(
        F.log_softmax(student, -1), F.log_softmax(teacher, -1), log_target=True, reduction="batchmean"
    )
    return kl * temperature**2
