"""The typed config: every mistake is one line naming the entry, the key and what is valid, before any model
exists; config loading and the command-line plumbing import no torch; the derived files stay current."""

import subprocess
import sys

import pytest
import yaml
from conftest import REPO, SMOKE, copy_workflow, smoke_config, snakemake, train_spec_for
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.methods import METHODS

CONFIGS = ["config/config.yaml", "config/smoke.yaml", "config/paper.yaml"]


def error_of(edit) -> str:
    with pytest.raises(ConfigError) as caught:
        smoke_config(edit)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda c: c["methods"]["mdgd_gm_0.5"].update(alhpa=0.5),
            "methods.mdgd_gm_0.5: unknown option 'alhpa' (did you mean 'alpha'? valid: label, "
            "training, align, scope, lv_reduction, lv_weight, schedule, alpha, mask)",
        ),
        (
            lambda c: c["methods"]["mdgd_gm_0.5"].update(alpha=0),
            "methods.mdgd_gm_0.5: alpha must be in (0, 1]; got 0",
        ),
        (
            lambda c: c["methods"]["mdgd_gm_0.5"].update(alpha=1.5),
            "methods.mdgd_gm_0.5: alpha must be in (0, 1]; got 1.5",
        ),
        (
            lambda c: c["training"].update(lr="1e-3"),
            "training: lr must be a number; got '1e-3' (a string) (YAML reads 1e-3 as text; write it "
            "with a decimal "
            "point, e.g. 1.0e-3)",
        ),
        (
            lambda c: c["training"].update(schedule="cosin"),
            "training: schedule must be one of 'constant', 'constant_with_warmup', 'linear', 'cosine', "
            "'cosine_with_restarts', 'polynomial', 'inverse_sqrt'; got 'cosin' (a string)",
        ),
        (
            lambda c: c["methods"]["mdgd"].update(schedule="lazy"),
            "methods.mdgd: schedule must be one of 'joint', 'sequential'; got 'lazy' (a string)",
        ),
        (
            lambda c: c["methods"]["finetune"].update(training={"stpes": 3}),
            "methods.finetune.training: unknown option 'stpes' (did you mean 'steps'? valid: batch_size, lr, "
            "weight_decay, warmup_steps, schedule, grad_clip, log_every, steps)",
        ),
        (
            lambda c: c["methods"]["lora"].update(type="lora2"),
            f"methods.lora: unknown method type 'lora2' (did you mean 'lora'? valid: {', '.join(METHODS)})",
        ),
        (lambda c: c["methods"]["lora"].update(r=0), "methods.lora: r must be >= 1; got 0"),
        (
            lambda c: c["backbones"]["tiny-llava"].update(architecture="llama"),
            "backbones.tiny-llava: unknown architecture 'llama' (did you mean 'llava'? valid: llava, "
            "idefics2, qwen2_vl)",
        ),
        (
            lambda c: c["backbones"]["tiny-llava"]["size"].update(vision_hiden=8),
            "backbones.tiny-llava.size: unknown option 'vision_hiden' (did you mean 'vision_hidden'? valid: "
            "vision_hidden, vision_layers, text_hidden, text_layers, heads, image_size, patch_size, "
            "max_positions)",
        ),
        (
            lambda c: c["backbones"]["tiny-llava"].update(prompt="wrods"),
            "backbones.tiny-llava: unknown prompt template 'wrods' (did you mean 'words'? valid: "
            "words, llava_1_5)",
        ),
        (
            lambda c: c["backbones"]["tiny-llava"].update(hub_id="llava-hf/llava-1.5-7b-hf"),
            "backbones.tiny-llava: a hub backbone (hub_id) takes no architecture, size, pretrain",
        ),
        (
            lambda c: c.update(targets=["flickr"]),
            "backbones.tiny-llava: unknown target 'flickr'; valid (data.target_tasks): caption, okvqa",
        ),
        (
            lambda c: c["data"].update(pretrain_tasks=["vqa", "gqaa"]),
            "data: pretrain_tasks: unknown task 'gqaa' for source 'generated'; valid: caption, classify, "
            "count, gqa, grounding, mmbench, ocr, okvqa, pope, sqa, textvqa, vizwiz, vqa",
        ),
        (
            lambda c: c["training"].pop("steps"),
            "training: missing required option 'steps' (optimizer steps per cell)",
        ),
        (
            lambda c: c.update(unknown_key=1),
            "config: unknown option 'unknown_key' (valid: data, backbones, targets, "
            "methods, training, evaluation, seeds, threads, checkpoint_every, results, mlflow, "
            "prompts, continual)",
        ),
        (
            lambda c: c["evaluation"].update(representation_layer=40),
            "evaluation.representation_layer 40 is outside backbones.tiny-llava's hidden states: -5..4 (the "
            "embeddings and 4 layers)",
        ),
        (
            lambda c: c["evaluation"]["erank"].update(variant="cov"),
            "evaluation.erank: variant must be one of 'singular', 'covariance'; got 'cov' (a string)",
        ),
        (
            lambda c: c["evaluation"].update(max_new_tokens={"opne": 3}),
            "evaluation.max_new_tokens: unknown option 'opne' (did you mean 'open'? valid: open, "
            "multiple_choice, yes_no, caption, vqa, pathvqa)",
        ),
        (
            lambda c: c["evaluation"].update(max_new_tokens={"caption": 0}),
            "evaluation.max_new_tokens: caption must be >= 1; got 0",
        ),
        (
            lambda c: c["evaluation"].update(max_new_tokens={"open": "test"}),
            "evaluation.max_new_tokens: open must be an integer or one of 'train'; got 'test' (a string)",
        ),
        (
            lambda c: c["backbones"]["tiny-llava"]["pretrain"].update(
                stages=[{"tasks": ["caption"], "steps": 1}]
            ),
            "backbones.tiny-llava.pretrain.stages[0]: tasks outside the pre-trained tasks: ['caption']",
        ),
        (
            lambda c: c["backbones"]["tiny-llava"]["pretrain"].update(steps=5),
            "backbones.tiny-llava.pretrain: give either steps (one stage on all pre-trained tasks) "
            "or stages, not both "
            "or neither",
        ),
    ],
)
def test_a_config_mistake_is_one_line_naming_entry_key_and_choices(edit, expected):
    assert error_of(edit) == expected


def test_every_shipped_config_loads():
    for path in CONFIGS:
        load_config(yaml.safe_load((REPO / path).read_text()))


def test_defaults_fill_what_an_entry_leaves_out():
    config = smoke_config()
    assert config.methods["mdgd"].align is True and config.methods["mdgd"].scope == "tensor"
    assert (
        config.methods["mdgd_no_align"].align is False
        and config.methods["mdgd_no_align"].method_type == "mdgd"
    )
    assert config.methods["lora"].lora_dropout == 0.0
    assert config.checkpoint_every == 2 and config.training.grad_clip == 1.0


def test_a_method_override_changes_only_that_methods_training():
    spec = train_spec_for(method="finetune", entry={"type": "finetune", "training": {"steps": 3}})
    assert spec.training.steps == 3 and spec.training.lr == SMOKE["training"]["lr"]
    assert train_spec_for(method="lora").training.steps == SMOKE["training"]["steps"]


def test_the_workflow_stops_on_a_config_mistake_with_that_one_line(tmp_path):
    work = copy_workflow(tmp_path)
    raw = yaml.safe_load((work / "config/smoke.yaml").read_text())
    raw["methods"]["mdgd_gm_0.5"]["alhpa"] = 0.5
    (work / "config/bad.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    proc = snakemake(["-n", "--configfile", "config/bad.yaml"], cwd=work, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: methods.mdgd_gm_0.5: unknown option 'alhpa' (did you mean 'alpha'? valid: label, "
        "training, align, scope, lv_reduction, lv_weight, schedule, alpha, mask)"
    ]


def test_a_repeated_yaml_key_stops_the_workflow_naming_both_lines(tmp_path):
    """YAML lets the last of two `finetune:` entries win: the cell named finetune would run LoRA."""
    work = copy_workflow(tmp_path)
    text = (work / "config/smoke.yaml").read_text()
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  finetune:"))
    lines.insert(first + 2, "  finetune: {type: lora, label: LoRA}")  # after the lora entry
    (work / "config/twice.yaml").write_text("\n".join(lines) + "\n")
    proc = snakemake(["-n", "--configfile", "config/twice.yaml"], cwd=work, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: config/twice.yaml:{first + 3}: key 'finetune' repeats the one on line {first + 1} of the "
        "same mapping (YAML would keep only the last); remove one"
    ]


def test_cli_and_config_loading_import_no_torch():
    code = (
        "import sys, yaml\n"
        "import mllm_forgetting.cli\n"
        "assert 'torch' not in sys.modules\n"
        "from mllm_forgetting.config.settings import load_config\n"
        "from mllm_forgetting.spec import to_json, train_spec\n"
        "from mllm_forgetting.cells import Cell\n"
        f"for path in {CONFIGS!r}:\n"
        "    config = load_config(yaml.safe_load(open(path)))\n"
        "    b, t = config.grid()[0]\n"
        "    to_json(train_spec(config, Cell(b, t, list(config.methods)[-1], 0)))\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', "
        "'datasets', 'peft'})\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_schema_and_reference_are_derived_from_the_code():
    proc = subprocess.run(
        [sys.executable, "-m", "mllm_forgetting.config.reference"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{proc.stdout}run: python -m mllm_forgetting.config.reference --write"


def test_the_schema_accepts_what_the_typed_config_accepts_and_names_the_method_types():
    import jsonschema
    from mllm_forgetting.methods import METHODS

    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    for path in CONFIGS:
        jsonschema.validate(yaml.safe_load((REPO / path).read_text()), schema)
    assert schema["properties"]["methods"]["additionalProperties"]["properties"]["type"]["enum"] == list(
        METHODS
    )


def test_every_schedule_is_one_transformers_builds():
    import typing

    import torch
    from mllm_forgetting.training.settings import Schedule
    from transformers import get_scheduler

    for name in typing.get_args(Schedule):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = get_scheduler(name, optimizer, num_warmup_steps=1, num_training_steps=4)
        optimizer.step()
        scheduler.step()


def test_every_size_key_says_where_it_lands_in_config_json():
    import dataclasses

    from mllm_forgetting.models.registry import ARCHITECTURES

    for name, architecture in ARCHITECTURES.items():
        keys = {f.name for f in dataclasses.fields(architecture.size)}
        mapped = set(architecture.size.CHECKPOINT_FIELDS)
        assert mapped <= keys, name
        assert keys - mapped <= {"image_size"}, (
            name,
            keys - mapped,
        )  # Qwen2-VL: the processor's pixel budget


def test_a_spec_survives_its_json_and_leaves_out_resources():
    from mllm_forgetting.cells import Cell
    from mllm_forgetting.spec import EvaluateSpec, TrainSpec, evaluate_spec, from_json, to_json, train_spec

    config = smoke_config()
    cell = Cell("tiny-resampler", "okvqa", "mdgd_gm_0.5", 0)
    for make, cls in ((train_spec, TrainSpec), (evaluate_spec, EvaluateSpec)):
        spec = make(config, cell)
        assert from_json(cls, to_json(spec)) == spec
    more = smoke_config(lambda c: c["backbones"]["tiny-resampler"].update(resources={"mem_mb": 99, "gpu": 1}))
    assert to_json(train_spec(more, cell)) == to_json(train_spec(config, cell))
    with pytest.raises(ConfigError, match=r"spec\.method: alpha must be in \(0, 1\]; got 2"):
        from_json(TrainSpec, to_json(train_spec(config, cell)).replace('"alpha":0.5', '"alpha":2'))
