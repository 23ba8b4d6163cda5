"""``loss="paper"`` is the Lua code's objective, term by term: parity in float64 on random
Caffe-layout weights against the independent transcription in lua_reference.py (content, each
style layer, TV, matting within 1e-6 relative), the gradient against autograd of the Lua total,
a finite-difference check of the matting term, and the pieces (network, masks, L-BFGS, start,
coarse levels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision

from matting import MattingRegularizer
from photostyle.config import Config
from photostyle.errors import InputError
from photostyle.neural.gram import MaskedGramLoss, paper_gram_labels
from photostyle.neural.objective import Objective
from photostyle.neural.optim import LBFGS
from photostyle.neural.transfer import run_stage, transfer
from photostyle.neural.vgg import VGG19_LAYERS, VGG19Features, from_caffe, layer_ops, to_caffe
from segment import lua_scale_matrix, mask_pyramid

from . import lua_reference as lr

STYLE = lr.STYLE_LAYERS
RTOL = 1e-6


def _relative(a: torch.Tensor | float, b: torch.Tensor | float) -> float:
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).norm() / b.norm())


def _smooth(h: int, w: int, seed: int) -> torch.Tensor:
    """A smooth random RGB image (1,3,h,w) in [0, 1], float64."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g, dtype=torch.float64)
    fine = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear",
                                           align_corners=False)
    return (0.8 * fine + 0.2 * torch.rand(1, 3, h, w, generator=g, dtype=torch.float64)
            ).clamp(0, 1)


@pytest.fixture(scope="module")
def caffe(tmp_path_factory):
    """A random Caffe-layout state dict (torchvision ``features.N`` keys) on disk, the
    reference's network made from it by torchvision, and photostyle's loaded from the file."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        feats = torchvision.models.vgg19(weights=None).features[:30]
        for m in feats:
            if isinstance(m, torch.nn.Conv2d):  # activations of Caffe-like size on 0-255 input
                torch.nn.init.normal_(m.weight, std=math.sqrt(2.0 / (9 * m.in_channels)))
                torch.nn.init.normal_(m.bias, std=0.1)
    path = tmp_path_factory.mktemp("caffe") / "vgg19-random-caffe.pth"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    reference = feats.double().eval().requires_grad_(False)
    model = VGG19Features(str(path), input_format="caffe", ceil_mode=True).double()
    return path, reference, model


@pytest.fixture(scope="module")
def scene():
    """Odd sizes (ceil-mode pooling matters); label 0 in both images, label 1 only in the
    content (its style target is 0), label 2 only in the style (it adds nothing)."""
    content, style, image = _smooth(37, 45, 1), _smooth(33, 41, 2), _smooth(37, 45, 3)
    cm = torch.zeros(3, 37, 45, dtype=torch.float64)
    cm[0, :, :17] = 1
    cm[1, :, 17:] = 1
    sm = torch.zeros(3, 33, 41, dtype=torch.float64)
    sm[0, :20] = 1
    sm[2, 20:] = 1
    return content, style, image, cm, sm


def _objective(model, config, content, style, cm, sm) -> Objective:
    return Objective(model, model, config, content, [style], cm, [sm], None, False)


def _lua(reference, content, style, image, cm, sm, grad: bool, **options):
    laplacian = lr.matting_laplacian(content[0].permute(1, 2, 0).numpy())
    x = lr.caffe_preprocess(image).requires_grad_(grad)
    out = lr.lua_objective(x, lr.caffe_preprocess(content), lr.caffe_preprocess(style), cm, sm,
                           reference, laplacian, **options)
    return x, out


@pytest.mark.parametrize("operator", ["sparse", "matrix_free"])
def test_every_term_equals_the_lua_objective(caffe, scene, operator):
    path, reference, model = caffe
    content, style, image, cm, sm = scene
    config = Config(vgg_weights=str(path), vgg_format="caffe", loss="paper",
                    matting_operator=operator)
    objective = _objective(model, config, content, style, cm, sm)
    objective.add_matting()
    with torch.no_grad():
        total, terms = objective(image)
        feats = model(image, STYLE)
        _, lua = _lua(reference, content, style, image, cm, sm, grad=False)
    assert set(terms) == {"content", "style", "tv", "matting"}
    for name in ("content", "style", "tv", "matting", "total"):
        got = total if name == "total" else terms[name]
        assert _relative(got, lua[name]) < RTOL, (name, float(got), float(lua[name]))
    for layer in STYLE:  # each style layer on its own
        got = 100.0 * MaskedGramLoss.apply(feats[layer], objective.style_terms[layer])
        assert _relative(got, lua[f"style:{layer}"]) < RTOL, layer
        assert float(lua[f"style:{layer}"]) > 0
    assert objective.form == "paper"


def test_the_gradient_is_autograd_of_the_lua_total(caffe, scene):
    path, reference, model = caffe
    content, style, image, cm, sm = scene
    config = Config(vgg_weights=str(path), vgg_format="caffe", loss="paper")
    objective = _objective(model, config, content, style, cm, sm)
    objective.add_matting()
    v = image.clone().requires_grad_(True)
    total, _ = objective(v)
    (grad_v,) = torch.autograd.grad(total, v)
    x, lua = _lua(reference, content, style, image, cm, sm, grad=True, lua_mask_grad=False)
    (grad_x,) = torch.autograd.grad(lua["total"], x)
    # x = 256·v[BGR] − mean, so dE/dv = 256 · dE/dx with the channels back in RGB order
    assert _relative(grad_v, 256.0 * grad_x.flip(1)) < RTOL
    # The Lua code's own style gradient (no mask factor on M⊙F) is another field here: the
    # carried masks are fractional at borders and label edges.
    x, lua = _lua(reference, content, style, image, cm, sm, grad=True, lua_mask_grad=True)
    (lua_grad_x,) = torch.autograd.grad(lua["total"], x)
    assert _relative(256.0 * lua_grad_x.flip(1), grad_v) > 1e-3


def test_style_gradient_equals_the_lua_gradient_where_masks_are_0_or_1():
    g = torch.Generator().manual_seed(0)
    c, h, w = 6, 7, 9
    feats = torch.rand(1, c, h, w, generator=g, dtype=torch.float64)
    style_feats = torch.rand(c, h, w, generator=g, dtype=torch.float64)
    binary = (torch.rand(2, h, w, generator=g, dtype=torch.float64) > 0.5).double()
    soft = torch.rand(2, h, w, generator=g, dtype=torch.float64)
    for masks, agree in ((binary, True), (soft, False)):
        targets = torch.stack([lr.masked_gram(style_feats, m, False)[0] for m in masks])
        f = feats.clone().requires_grad_(True)
        loss = 100.0 * MaskedGramLoss.apply(f, paper_gram_labels(targets, masks, (h, w)))
        (ours,) = torch.autograd.grad(loss, f)
        theirs = lr.lua_style_grad(feats[0], masks, list(targets), 100.0)
        assert torch.allclose(ours[0], theirs, rtol=1e-10, atol=1e-14) == agree


def test_matting_term_finite_differences_and_the_cuda_kernel():
    content, image = _smooth(9, 11, 4), _smooth(9, 11, 5)
    lam = 1e4
    term = MattingRegularizer(content, weight=lam, normalize=False, operator="sparse")
    v = image.clone().requires_grad_(True)
    (grad_v,) = torch.autograd.grad(term(v), v)
    eps = 1e-6
    for c, i, j in [(0, 0, 0), (1, 4, 5), (2, 8, 10), (0, 3, 9)]:
        up, down = image.clone(), image.clone()
        up[0, c, i, j] += eps
        down[0, c, i, j] -= eps
        numeric = (term(up) - term(down)).item() / (2 * eps)
        assert math.isclose(numeric, grad_v[0, c, i, j].item(), rel_tol=1e-5, abs_tol=1e-6)
    # what deepmatting_seg.lua adds to the gradient w.r.t. x: the CUDA kernel on the authors'
    # column-major triplets, (2λ/256) L v
    colmajor = lr.matting_laplacian(content[0].permute(1, 2, 0).numpy(), colmajor=True)
    x = lr.caffe_preprocess(image)
    kernel = lr.lua_matting_grad(x[0], lr.lua_triplets(colmajor), 9, 11, lam)
    assert _relative(grad_v[0] / 256.0, kernel.flip(0)) < 1e-9


def test_caffe_network_is_the_lua_network(caffe):
    _, reference, model = caffe
    image = _smooth(21, 19, 6)  # odd sides: ceil-mode pooling keeps the last row/column
    assert torch.allclose(to_caffe(image), lr.caffe_preprocess(image))
    assert torch.allclose(from_caffe(to_caffe(image)), image)
    names = (*STYLE, "relu4_2")
    with torch.no_grad():
        ours = model(image, names)
        theirs = lr.vgg_features(lr.caffe_preprocess(image), reference, names)
    for name in names:
        assert ours[name].shape == theirs[name].shape
        assert _relative(ours[name], theirs[name]) < 1e-10, name
    assert ours["relu5_1"].shape[-2:] == (2, 2)  # floor mode would give 1x1


@pytest.mark.parametrize("size", [(37, 45), (32, 48), (21, 19)])
def test_lua_mask_pyramid_matches_the_reference(size):
    masks = torch.rand(3, *size, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    names = VGG19_LAYERS[:30]
    ours = dict(zip(names, mask_pyramid(masks, layer_ops(names), mode="lua"), strict=True))
    theirs = lr.lua_masks(masks)
    for name, mask in theirs.items():
        assert torch.allclose(ours[name], mask, rtol=1e-12, atol=1e-14), name
    for src in range(1, 24):
        for dst in range(1, 24):  # torch/image's 1-D pass, shrinking and enlarging
            assert np.allclose(lua_scale_matrix(src, dst), lr.torch_image_scale_weights(src, dst),
                               atol=1e-6)


def test_lbfgs_takes_the_steps_of_optim_lbfgs():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(12, 12, generator=g, dtype=torch.float64)
    a = q @ q.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, generator=g, dtype=torch.float64)

    def value_and_grad(z: torch.Tensor) -> tuple[float, torch.Tensor]:
        z = z.detach().requires_grad_(True)
        f = 0.5 * z @ a @ z - b @ z + 0.1 * (z**4).sum()
        (grad,) = torch.autograd.grad(f, z)
        return f.item(), grad

    x_lua, values, _ = lr.lua_lbfgs(value_and_grad, torch.zeros(12, dtype=torch.float64), 15)
    x = torch.zeros(12, dtype=torch.float64)
    opt = LBFGS(x, history_size=100)
    ours = []
    for _ in range(15):
        f, grad = value_and_grad(x)
        ours.append(f)
        opt.step(grad)
    assert np.allclose(ours, values, rtol=1e-10)  # the 15 evaluations of optim.lbfgs
    assert torch.allclose(x, x_lua, rtol=1e-10, atol=1e-12)  # and its 15th, unevaluated step


def test_coarse_levels_scale_lambda_by_the_pixel_ratio(caffe, scene):
    path, _, model = caffe
    content, style, image, cm, sm = scene
    config = Config(vgg_weights=str(path), vgg_format="caffe", loss="paper")
    objective = _objective(model, config, content, style, cm, sm)
    with torch.no_grad():
        objective.add_matting()
        plain = objective(image)[1]["matting"]
        objective.add_matting(reference_pixels=4 * 37 * 45)
        scaled = objective(image)[1]["matting"]
    assert math.isclose(float(scaled), 4 * float(plain), rel_tol=1e-12)


def test_caffe_variable_takes_the_lua_first_step(caffe):
    path, _, model = caffe
    content, style = _smooth(48, 64, 7), _smooth(50, 60, 8)
    config = Config(vgg_weights=str(path), vgg_format="caffe", loss="paper", variable="caffe",
                    init="mean", size=None, post=False)
    objective = Objective(model, model, config, content, [style], None, None, None, False)
    start = transfer(content, style, model=model, config=config.replace(iters=(0, 0))).stage1
    mean = torch.tensor(lr.CAFFE_MEAN_BGR[::-1], dtype=torch.float64).view(1, 3, 1, 1) / 256
    assert (start - mean).abs().max() < 1e-5  # the Lua start: the Caffe mean colour
    result = run_stage(1, 1, 1, start, 1, objective, config, 1, None, [])
    x = to_caffe(start).requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(from_caffe(x))[0], x)
    step = min(1.0, 1.0 / float(grad.abs().sum()))  # optim.lbfgs's first step, in Caffe units
    assert torch.allclose(result, from_caffe(x.detach() - step * grad), rtol=0, atol=1e-12)


def test_loss_form_follows_the_network_and_the_recipe_sets_the_paper_run(tmp_path):
    assert Config().loss_form == "paper"  # auto: the Caffe network
    assert Config(vgg_weights="imagenet").loss_form == "relative"
    assert Config(vgg_weights="random").loss_form == "relative"
    assert Config(vgg_weights="random", vgg_format="caffe").loss_form == "paper"
    assert Config(vgg_weights="/w/vgg19-d01eb7cb.pth").network_format == "caffe"
    assert Config(style_loss="histogram").loss_form == "relative"
    assert Config(vgg_weights="imagenet", loss="paper").loss_form == "paper"
    with pytest.raises(InputError, match="histogram"):
        Config(loss="paper", style_loss="histogram")
    with pytest.raises(InputError, match="vgg_format"):
        Config(vgg_weights="imagenet", vgg_format="caffe")
    with pytest.raises(InputError, match="no such image file"):
        Config(init=str(tmp_path / "missing.png"))
    paper = Config.recipe("paper", size=256)
    assert (paper.vgg_weights, paper.loss, paper.quality, paper.init, paper.variable) == (
        "caffe", "paper", "max", "mean", "caffe")
    assert paper.level_steps == ((1000, 1000),) and paper.size == 256
    assert (paper.post_smooth_radius, paper.post_sigma) == (15, 0.01)
