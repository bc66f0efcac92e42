"""The continual methods on a real tiny model: EWC's penalty, LwF's distillation, WiSE-FT's interpolation,
replay's buffer, MDGD's phi policy, and the config checks of `continual`."""

import copy

import datasets
import pytest
import torch
from conftest import SMOKE
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.methods import StageStart, make_method
from mllm_forgetting.methods.lwf import distillation
from mllm_forgetting.steps.stage import replay_buffer
from test_methods import setup


def start(model, ctx, carried=None, phi="pretrained", pretrained=None):
    wanted = set(ctx.trainable_names)
    tensors = pretrained or {n: p.detach().clone() for n, p in model.named_parameters() if n in wanted}
    return StageStart(2 if carried else 1, tensors, carried or {}, phi)


def grads(method):
    return [p.grad.detach().clone() for p in method.params]


def test_ewc_adds_lambda_fisher_times_the_drift_to_the_task_gradient():
    model, ctx, data, batch, _ = setup()
    ewc = make_method("ewc")
    model = ewc.prepare(model, ctx)
    fisher = {"fisher." + n: torch.rand_like(p) for n, p in zip(ewc.names, ewc.params)}
    ewc.begin(model, ctx, start(model, ctx, carried=fisher))
    with torch.no_grad():  # move theta away from the anchor theta*
        drift = [0.01 * torch.randn_like(p) for p in ewc.params]
        for p, d in zip(ewc.params, drift):
            p.add_(d)
    values = ewc.step(model, batch, ctx)
    with_penalty = grads(ewc)
    finetune = make_method("finetune")
    finetune.params = ewc.params
    for p in ewc.params:
        p.grad = None
    finetune.step(model, batch, ctx)
    expected_penalty = 0.0
    for g, g_task, d, n in zip(with_penalty, grads(finetune), drift, ewc.names):
        f = fisher["fisher." + n]
        torch.testing.assert_close(
            g - g_task, ewc.config.weight * f * d, rtol=1e-4, atol=1e-4
        )  # float32 sums of ~50
        expected_penalty += float((f * d * d).sum())
    assert values["penalty"] == pytest.approx(0.5 * ewc.config.weight * expected_penalty, rel=1e-4)


def test_ewc_carries_an_online_fisher_sum_and_none_at_its_first_stage():
    model, ctx, data, batch, tok = setup()
    ewc = make_method("ewc")
    model = ewc.prepare(model, ctx)
    ewc.begin(model, ctx, start(model, ctx))
    assert ewc.fisher is None  # stage 1: nothing to consolidate, a fine-tuning step
    kwargs = {"batch_size": 3, "pad_id": tok.pad_token_id, "device": torch.device("cpu")}
    first = ewc.finish(model, ctx, data, carry=True, **kwargs)
    assert set(first) == {"fisher." + n for n in ewc.names}
    assert all((f >= 0).all() for f in first.values()) and any(f.sum() > 0 for f in first.values())
    assert ewc.finish(model, ctx, data, carry=False, **kwargs) == {}
    later = make_method("ewc")
    later.prepare(model, ctx)
    later.begin(model, ctx, start(model, ctx, carried=first))
    second = later.finish(model, ctx, data, carry=True, **kwargs)
    for n in later.names:  # gamma = 1: the earlier Fisher plus this stage's (the same data: twice)
        torch.testing.assert_close(second["fisher." + n], 2 * first["fisher." + n])


def test_lwf_distills_nothing_while_the_model_is_its_teacher():
    model, ctx, data, batch, _ = setup()
    lwf = make_method("lwf")
    model = lwf.prepare(model, ctx)
    lwf.begin(model, ctx, start(model, ctx))
    values = lwf.step(model, batch, ctx)
    assert float(values["kd"]) == pytest.approx(0.0, abs=1e-6)
    kd_grads = grads(lwf)
    finetune = make_method("finetune")
    finetune.params = lwf.params
    for p in lwf.params:
        p.grad = None
    finetune.step(model, batch, ctx)
    for a, b in zip(kd_grads, grads(finetune)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_distillation_is_t_squared_kl_on_answer_positions_only():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    labels = torch.tensor([[-100, -100, 3, 1], [-100, 2, -100, -100]])
    T = 2.0
    got = distillation(student, teacher, labels, T)
    # positions t predict labels[t + 1]: (0, 1), (0, 2), (1, 0)
    rows = [(0, 1), (0, 2), (1, 0)]
    kl = 0.0
    for b, t in rows:
        p = torch.softmax(teacher[b, t] / T, -1)
        kl += float((p * (p.log() - torch.log_softmax(student[b, t] / T, -1))).sum())
    assert float(got) == pytest.approx(T**2 * kl / len(rows), rel=1e-5)


def test_wise_ft_interpolates_towards_the_pretrained_tensors():
    model, ctx, data, batch, tok = setup()
    wise = make_method("wise_ft")
    model = wise.prepare(model, ctx)
    first = start(model, ctx)
    wise.begin(model, ctx, first)
    with torch.no_grad():
        for p in wise.params:
            p.add_(1.0)
    tuned = [p.detach().clone() for p in wise.params]
    wise.finish(model, ctx, data, carry=False, batch_size=3, pad_id=0, device=torch.device("cpu"))
    alpha = wise.config.alpha
    for p, t, n in zip(wise.params, tuned, wise.names):
        torch.testing.assert_close(p.detach(), (1 - alpha) * first.pretrained[n] + alpha * t)


def test_replay_buffer_is_a_fixed_fraction_drawn_by_the_seed():
    rows = datasets.Dataset.from_dict({"id": [str(i) for i in range(50)]})
    a, b = replay_buffer(rows, 0.1, seed=3), replay_buffer(rows, 0.1, seed=3)
    assert len(a) == 5 and a["id"] == b["id"]
    assert replay_buffer(rows, 0.1, seed=4)["id"] != a["id"]
    assert len(replay_buffer(rows, 0.001, seed=3)) == 1  # never an empty buffer


@pytest.mark.parametrize("phi", ["pretrained", "previous"])
def test_mdgd_phi_is_the_pretrained_model_or_the_stage_start(phi):
    model, ctx, data, batch, _ = setup()
    mdgd = make_method("mdgd")
    model = mdgd.prepare(model, ctx)
    pretrained = {n: p.detach().clone() - 0.5 for n, p in model.named_parameters() if n in set(mdgd.names)}
    mdgd.begin(model, ctx, start(model, ctx, carried={"x": 1}, phi=phi, pretrained=pretrained))
    for name, phi_p, p in zip(mdgd.names, mdgd.phi_params, mdgd.params):
        expected = pretrained[name] if phi == "pretrained" else p.detach()
        torch.testing.assert_close(phi_p.detach(), expected)


# ------------------------------------------------------------------------------------ config checks


def continual_config(**changes):
    raw = copy.deepcopy(SMOKE)
    raw["continual"] = {
        "sequences": {"seq": ["okvqa", "caption"]},
        "methods": {"seq_ft": {"type": "finetune"}, "mdgd_prev": {"type": "mdgd", "phi": "previous"}},
        **changes,
    }
    return raw


def test_a_continual_config_lists_every_stage():
    config = load_config(continual_config(seeds=[0, 1]))
    assert len(config.sequence_runs()) == len(SMOKE["backbones"]) * 2 * 2
    stages = config.stages("tiny-llava", "seq", "mdgd_prev", 1)
    assert [(s.index, s.target) for s in stages] == [(1, "okvqa"), (2, "caption")]
    assert stages[1].name == "continual/tiny-llava/seq/mdgd_prev/seed1/stage2_caption"
    assert config.continual.methods["mdgd_prev"].phi == "previous"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"methods": {"ft": {"type": "finetune", "phi": "previous"}}}, "only the MDGD family has a phi"),
        ({"methods": {"zs": {"type": "zero_shot"}}}, "every stage of a sequence trains"),
        (
            {"methods": {"mt": {"type": "model_tailor", "base": "finetune"}}},
            "every stage of a sequence trains",
        ),
        ({"methods": {"m": {"type": "mdgd", "phi": "last"}}}, "phi must be pretrained or previous"),
        ({"sequences": {"seq": ["okvqa"]}}, "two or more different tasks"),
        ({"sequences": {"seq": ["okvqa", "vqa"]}}, "task 'vqa' is not prepared"),
        ({"backbones": ["tiny-lava"]}, "did you mean 'tiny-llava'"),
        ({"methods": {"e": {"type": "ewc", "weight": -1}}}, "weight"),
    ],
)
def test_continual_config_mistakes_are_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_config(continual_config(**changes))
