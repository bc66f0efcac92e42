"""model_tailor: Model Tailor (Zhu et al., ICML 2024), applied after the fact to the fine-tune cell's model.

It trains nothing. The fine-tuned model of the same backbone, target and seed (the `base` entry's cell)
is calibrated on batches of the target's training split. Each Linear weight among the tuned tensors
keeps a patch: the fraction `keep` of its entries with the best fused score of change magnitude and
Hessian sensitivity. Every other entry goes back to phi's value, and the kept entries compensate for
that (OBS). The arithmetic is in methods/tailoring.py. As in the official code
(didizhu-zju/Model-Tailor, `main_model_tailor.py`), the tuned parts are visited in forward order (the
connector, then each tuned layer), each calibrated on the inputs the parts tailored before it give.
Tensors that are not Linear weights (norms, biases, resampler latents, a Linear its parent applies
without calling it) have no input Hessian: they stay fine-tuned, as the official code leaves its layer
norms (`others`).

#Params is the patch: the tuned elements that differ from phi afterwards.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar, Literal

from ..config.typed import option
from .base import Method, MethodConfig, register


@dataclass(frozen=True, kw_only=True)
class ModelTailorConfig(MethodConfig):
    """Model Tailor on a fine-tune entry's models; the defaults are the official code's but the
    compensation's sign."""

    base: str = option(
        "the fine-tune method entry whose cell (same backbone, target and seed) is tailored", "finetune"
    )
    keep: float = option(
        "fraction of each weight block's entries kept fine-tuned: the patch (official: sparsity 0.9 restores "
        "the other 90%)",
        0.1,
        exclusive_min=0,
        max=1,
    )
    change_weight: float = option(
        "weight of the standardised change abs(w_ft - w_phi) in the score; 1 - it weighs the standardised "
        "Hessian sensitivity (0.8 in llava/train/sparsegpt.py, which main_model_tailor.py runs; 0.5 in "
        "llava/sparsegpt.py)",
        0.8,
        min=0,
        max=1,
    )
    sensitivity: Literal["weight", "change"] = option(
        "the sensitivity r^2/[H^-1]_qq of an entry: r its current value (weight, the official code's "
        "SparseGPT score) or its distance from phi (change: the OBS cost of restoring it)",
        "weight",
    )
    compensation: Literal["obs", "reversed", "none"] = option(
        "obs: the later columns absorb each restored entry (OBS, SparseGPT); reversed: the official code's "
        "sign, away from the OBS optimum (a larger layer error than none's); none: the plain sparse patch",
        "obs",
    )
    calibration_batches: int = option(
        "batches of the target's training split (training.batch_size rows each) that estimate the "
        "Hessians (official: 128 samples)",
        128,
        min=1,
    )
    sequential: bool = option(
        "calibrate each tuned part on the inputs the parts tailored before it give (the official code; "
        "one pass over the calibration batches per part); false: all from the fine-tuned model in one pass",
        True,
    )
    block_size: int = option(
        "columns scored and compensated together; each block keeps its own fraction (official: 128)",
        128,
        min=1,
    )
    damp: float = option(
        "added to the Hessian's diagonal, times its mean (official percdamp: 0.01)", 0.01, exclusive_min=0
    )
    connector: Literal["patch", "restore"] = option(
        "patch: the connector's Linear weights get a patch like the layers'; restore: the connector goes "
        "back to phi (the official LLaVA script resets the projector)",
        "patch",
    )
    others: Literal["finetuned", "pretrained"] = option(
        "tuned tensors without an input Hessian (norms, biases, latents): kept fine-tuned (the official "
        "code) or restored to phi",
        "finetuned",
    )

    base_types: ClassVar[tuple[str, ...]] = ("finetune",)

    def base_entry(self) -> str | None:
        return self.base


@register("model_tailor", ModelTailorConfig)
class ModelTailor(Method):
    trains = False
    post_hoc = True
    cost = None  # no training step (its calibration passes: docs/methods.md)

    def __init__(self, config: ModelTailorConfig):
        super().__init__(config)
        self.patch_size: int | None = None

    def prepare(self, model, ctx):
        raise NotImplementedError("model_tailor trains nothing: it tailors its base cell's model (`tailor`)")

    def trainable_count(self):
        return self.patch_size

    def tailor(self, model, phi, data, ctx, *, batch_size, seed, pad_id, device):
        import torch

        config = self.config
        if ctx.connector is None:
            raise ValueError(
                "model_tailor needs the tuned modules' paths (TuneContext.connector, tuned_layers)"
            )
        params = dict(model.named_parameters())
        missing = sorted(set(ctx.trainable_names) - set(params))
        if missing:
            raise ValueError(f"the model to tailor lacks tuned tensors of phi: {', '.join(missing[:3])}")
        calibration = _Calibration(model, data, config.calibration_batches, batch_size, seed, pad_id, device)
        parts = list(ctx.tuned_layers)
        if config.connector == "patch":
            parts.insert(0, ctx.connector)
        report = {}
        model.eval()
        with torch.no_grad():
            if config.connector == "restore":  # before calibrating: the layers see the restored connector
                for name in _under(ctx.trainable_names, ctx.connector):
                    params[name].copy_(phi[name])
            linears = {part: _linears(model, part, ctx.trainable_names) for part in parts}
            if not config.sequential:
                hessians = calibration.hessians(linears, ctx.connector)
            for part in parts:
                if config.sequential:
                    hessians = calibration.hessians({part: linears[part]}, ctx.connector)
                report.update(self._tailor_part(params, phi, linears[part], hessians))
                if config.others == "pretrained":
                    for name in set(_under(ctx.trainable_names, part)) - set(report):
                        params[name].copy_(phi[name])
        self.patch_size = sum(int((params[n] != phi[n]).sum()) for n in ctx.trainable_names)
        return {
            "patch": self.patch_size,
            "tuned": sum(params[n].numel() for n in ctx.trainable_names),
            "tensors": report,
        }

    def _tailor_part(self, params, phi, linears, hessians) -> dict:
        """Tailor the part's Linear weights in place; per weight, its patch and its output error over the
        calibration tokens (tailoring.output_error) for the plain patch and for the tailored weight."""
        import torch

        from .tailoring import output_error, tailor_weight

        c = self.config
        report = {}
        for module_name in linears:
            name, hessian = f"{module_name}.weight", hessians[module_name]
            if hessian is None:  # no input reached it: left to `others`
                continue
            tuned = params[name].detach().clone()
            tailored, kept = tailor_weight(
                tuned,
                phi[name],
                hessian,
                keep=c.keep,
                change_weight=c.change_weight,
                sensitivity=c.sensitivity,
                compensation=c.compensation,
                block_size=c.block_size,
                damp=c.damp,
            )
            plain = torch.where(kept, tuned, phi[name])
            params[name].copy_(tailored)
            report[name] = {
                "kept": int(kept.sum()),
                "size": kept.numel(),
                "output_error": {
                    "patch": output_error(plain - tuned.float(), hessian),
                    "tailored": output_error(tailored.float() - tuned.float(), hessian),
                },
            }
        return report


def _under(names: list[str], module: str) -> list[str]:
    return [n for n in names if n.startswith(module + ".")]


def _linears(model, part: str, names: list[str]) -> dict:
    """The part's Linear modules whose weight is tuned, by module path."""
    import torch.nn as nn

    tuned = set(_under(names, part))
    return {
        path: m for path, m in model.named_modules() if isinstance(m, nn.Linear) and f"{path}.weight" in tuned
    }


class _Calibration:
    """The same calibration batches at every pass: a permutation of the training rows, seeded by the cell."""

    def __init__(self, model, data, batches: int, batch_size: int, seed: int, pad_id: int, device):
        batch_size = min(batch_size, len(data))
        self.model, self.data, self.batches = model, data, batches
        self.batch_size, self.seed, self.pad_id, self.device = batch_size, seed, pad_id, device

    def __iter__(self):
        import numpy as np

        from ..training.batches import to_device, training_batch
        from ..training.loop import BatchOrder

        rng = np.random.default_rng(self.seed)
        order = BatchOrder(len(self.data), self.batch_size, rng)
        for _ in range(self.batches):
            yield to_device(training_batch(self.data, next(order), rng, self.pad_id), self.device)

    def hessians(self, linears_by_part: dict, connector: str) -> dict:
        """{module path: H or None} of the parts' Linears, from one forward pass per calibration batch."""
        from .tailoring import InputHessians

        collectors = [
            InputHessians(mods, skip_padding=part != connector) for part, mods in linears_by_part.items()
        ]
        with ExitStack() as stack:
            for collector in collectors:
                stack.enter_context(collector.collecting())
            for batch in self:
                for collector in collectors:
                    collector.mask = batch["attention_mask"].bool()
                self.model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False)
        return {name: c.hessian(name) for c in collectors for name in c.modules}
