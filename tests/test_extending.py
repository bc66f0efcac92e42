"""Adding a method takes exactly the steps README.md lists: a module, its name in METHOD_MODULES, a config
entry, and rewriting the derived config files. A toy method goes through those steps alone and runs as a
cell."""

import json
import os
import re
import shutil

import pytest
import yaml
from conftest import REPO, SMOKE_RESULTS, snakemake

pytestmark = pytest.mark.slow

TOY_MODULE = '''"""scaled_finetune: fine-tuning with the task loss scaled by a constant (a toy method)."""

from dataclasses import dataclass

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, register


@dataclass(frozen=True, kw_only=True)
class ScaledFineTuneConfig(MethodConfig):
    """Fine-tuning with a scaled task loss."""

    scale: float = option("factor on the task loss", 0.5, exclusive_min=0)


@register("scaled_finetune", ScaledFineTuneConfig)
class ScaledFineTune(Method):
    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        return model

    def step(self, model, batch, ctx):
        from ..training.forward import forward_vl

        loss, _ = forward_vl(model, batch, ctx.image_token_id, ctx.representation_layer, need_visual=False)
        (self.config.scale * loss).backward()
        return {"loss": loss.detach()}
'''


def readme_method_steps() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("### Adding a method")
    return text[start : text.index("\n### ", start + 1)]


def test_the_readme_names_every_place_the_toy_method_touches():
    steps = readme_method_steps()
    for place in (
        "lib/mllm_forgetting/methods/",
        "@register",
        "METHOD_MODULES",
        "methods:",
        "python -m mllm_forgetting.config.reference --write",
    ):
        assert place in steps, place


def test_a_toy_method_added_by_the_readme_steps_runs_as_a_cell(smoke_run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(smoke_run, work, symlinks=True)  # its data and phi: only the new cell trains
    for store in ("mlflow.db", "mlartifacts", "mlflow.ready"):  # the copy's cells log to a store of its own
        path = work / SMOKE_RESULTS / store
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(REPO / "lib", work / "lib")
    env = {"PYTHONPATH": str(work / "lib")}  # this copy of the package, not the installed one

    # 1. the method's module
    (work / "lib/mllm_forgetting/methods/scaled_finetune.py").write_text(TOY_MODULE)
    # 2. its name in METHOD_MODULES
    registry = work / "lib/mllm_forgetting/methods/__init__.py"
    text, n = re.subn(r"METHOD_MODULES = \(", 'METHOD_MODULES = ("scaled_finetune", ', registry.read_text())
    assert n == 1
    registry.write_text(text)
    # 3. an entry under methods:
    config = yaml.safe_load((work / "config/smoke.yaml").read_text())
    config["methods"]["toy"] = {"type": "scaled_finetune", "label": "Toy", "scale": 0.25}
    (work / "config/toy.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    # 4. the derived config files
    proc = subprocess_run(["-m", "mllm_forgetting.config.reference", "--write"], work, env)
    assert "rewrote: config/schema.yaml" in proc.stdout, proc.stdout + proc.stderr
    assert "scaled_finetune" in (work / "config/schema.yaml").read_text()
    assert "methods.NAME (type: scaled_finetune)" in (work / "config/README.md").read_text()

    cell = f"{SMOKE_RESULTS}/cells/tiny-llava/okvqa/toy/seed0"
    snakemake([f"{cell}/metrics.json", "--cores", "2", "--configfile", "config/toy.yaml"], cwd=work, env=env)
    summary = json.loads((work / cell / "train.json").read_text())
    assert summary["method_type"] == "scaled_finetune" and summary["options"] == {"scale": 0.25}
    assert summary["steps"] == config["training"]["steps"]
    metrics = json.loads((work / cell / "metrics.json").read_text())
    assert set(metrics["tasks"]) == set(config["data"]["pretrain_tasks"]) | {"okvqa"}
    assert (work / cell / "model/model.safetensors").exists()

    config["methods"]["toy"]["scael"] = 1.0  # its options are checked like every other method's
    (work / "config/toy.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    proc = snakemake(["-n", "--configfile", "config/toy.yaml"], cwd=work, env=env, check=False)
    assert proc.stderr.strip() == (
        "error: methods.toy: unknown option 'scael' (did you mean 'scale'? valid: label, training, scale)"
    )


def subprocess_run(args, cwd, env):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True
    )
