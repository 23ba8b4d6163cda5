"""CUDA paths against the CPU (run on a machine with a GPU: ``pytest -m cuda``; every test here
skips without one). Each compares a computation on the device with the same computation on the
CPU, in float32 with TF32 off, or a GPU-only option (autocast, channels-last) with plain
float32 on the device."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from matting import MattingRegularizer, local_affine_post
from photostyle import Config
from photostyle.neural.inputs import prepare_inputs
from photostyle.neural.objective import Objective
from photostyle.neural.transfer import run_stage
from photostyle.neural.vgg import VGG19Features

from ..synthetic import scene_pair, to_tensor

#: The device under test: CUDA; ``PHOTOSTYLE_TEST_DEVICE=cpu`` runs the same code paths on the
#: CPU against itself (a smoke test of this file on a machine without a GPU).
CUDA = torch.device(os.environ.get("PHOTOSTYLE_TEST_DEVICE", "cuda"))

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(CUDA.type == "cuda" and not torch.cuda.is_available(),
                                 reason="no CUDA device")]

#: The two loss forms: (Config, network options) on untrained weights.
FORMS = {
    "relative": (Config(size=None, vgg_weights="random", loss="relative"), {}),
    "paper": (Config(size=None, vgg_weights="random", vgg_format="caffe", loss="paper"),
              {"input_format": "caffe", "ceil_mode": True}),
}


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 off for the comparisons (cuDNN allows it by default); restored afterwards."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _inputs(device: torch.device):
    content, style, c_labels, s_labels = scene_pair()
    c, s, cm, sm, w = prepare_inputs(to_tensor(content).to(device), to_tensor(style).to(device),
                                     c_labels, s_labels, None)
    return c, s, cm, sm, w


def _objective(form: str, device: torch.device, matting: bool = True,
               channels_last: bool = False) -> tuple[Objective, torch.Tensor]:
    config, options = FORMS[form]
    model = VGG19Features("random", seed=0, **options).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    c, s, cm, sm, w = _inputs(device)
    objective = Objective(model, model, config, c, [s], cm, [sm], w, channels_last)
    if matting:
        objective.add_matting()
    return objective, c


def _probe(c: torch.Tensor) -> torch.Tensor:
    """An image near the content with noise: no ties in max pooling (their argmax may differ
    between memory formats and devices) and not a locally affine recolouring (whose matting
    energy is ~0)."""
    noise = torch.rand(c.shape, generator=torch.Generator().manual_seed(0), dtype=c.dtype)
    return (c * 0.8 + 0.1 + 0.05 * noise.to(c.device)).clamp(0, 1)


def _value_and_grad(objective: Objective, image: torch.Tensor):
    x = image.detach().clone().requires_grad_(True)
    total, terms = objective(x)
    total.backward()
    return (float(total.detach()), {k: float(v.detach()) for k, v in terms.items()},
            x.grad.detach().cpu())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_objective_and_gradient_equal_the_cpu(form):
    cpu, c = _objective(form, torch.device("cpu"))
    gpu, _ = _objective(form, CUDA)
    image = _probe(c)
    t_cpu, terms_cpu, g_cpu = _value_and_grad(cpu, image)
    t_gpu, terms_gpu, g_gpu = _value_and_grad(gpu, image.to(CUDA))
    assert t_gpu == pytest.approx(t_cpu, rel=1e-4)
    for name, value in terms_cpu.items():
        assert terms_gpu[name] == pytest.approx(value, rel=1e-3, abs=1e-6), name
    assert float((g_gpu - g_cpu).norm() / g_cpu.norm()) < 1e-3


def test_lbfgs_iterates_equal_the_cpu():
    results = []
    for device in (torch.device("cpu"), CUDA):
        objective, c = _objective("relative", device)
        results.append(run_stage(2, 1, 1, c, 4, objective, objective.config, 1, None, []).cpu())
    diff = float((results[1] - results[0]).abs().max())
    assert diff < 1e-3, diff


def test_matrix_free_and_sparse_laplacians_agree_on_the_device():
    c = _inputs(CUDA)[0]
    image = _probe(c).requires_grad_(True)
    values, grads = [], []
    for operator in ("sparse", "matrix_free"):
        image.grad = None
        energy = MattingRegularizer(c, operator=operator)(image)
        energy.backward()
        values.append(float(energy))
        grads.append(image.grad.detach().clone())
    assert values[1] == pytest.approx(values[0], rel=1e-4)
    assert float((grads[1] - grads[0]).norm() / grads[0].norm()) < 1e-4


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_post_process_equals_the_cpu(scale):
    c = _inputs(torch.device("cpu"))[0]
    output = (c.flip(1) * 0.6 + 0.2).clamp(0, 1)
    cpu = local_affine_post(output, c, scale=scale)
    gpu = local_affine_post(output.to(CUDA), c.to(CUDA), scale=scale).cpu()
    assert float((gpu - cpu).abs().max()) < 1e-4


def test_autocast_and_channels_last_stay_close_to_float32():
    plain, c = _objective("relative", CUDA, matting=False)
    image = _probe(c)
    t_plain, _, g_plain = _value_and_grad(plain, image)
    last, _ = _objective("relative", CUDA, matting=False, channels_last=True)
    t_last, _, g_last = _value_and_grad(last, image)
    assert t_last == pytest.approx(t_plain, rel=1e-4)
    assert float((g_last - g_plain).norm() / g_plain.norm()) < 1e-3
    bf16, _ = _objective("relative", CUDA, matting=False)
    bf16.config = bf16.config.replace(autocast=True)
    t_bf16, _, g_bf16 = _value_and_grad(bf16, image)
    assert t_bf16 == pytest.approx(t_plain, rel=5e-2)
    cosine = float((g_bf16 * g_plain).sum() / (g_bf16.norm() * g_plain.norm()))
    assert cosine > 0.95, cosine
    assert np.isfinite(t_bf16)
