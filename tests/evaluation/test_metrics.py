"""Quality metrics on constructed cases with known answers, and against pymatting."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from matting import matting_laplacian
from photostyle.errors import InputError
from photostyle.evaluation import metrics
from photostyle.evaluation.vgg_style import vgg_style_distance
from photostyle.io.images import read_image
from photostyle.io.tensors import resize
from photostyle.neural.vgg import VGG19Features
from segment import resize_labels

from ..conftest import SHARED
from ..synthetic import scene

DPST = SHARED / "dpst"


@pytest.fixture(scope="module")
def content() -> np.ndarray:
    img, _ = scene(60, 76, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    return img


@pytest.fixture(scope="module")
def content_labels() -> np.ndarray:
    return scene(60, 76, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)[1]


@pytest.fixture(scope="module")
def style() -> tuple[np.ndarray, np.ndarray]:
    return scene(70, 56, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)


def _resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return resize(t, size)[0].permute(1, 2, 0).numpy().astype(np.float64)


# --- photorealism and structure ------------------------------------------------------------

def test_output_equal_to_content(content):
    assert metrics.photorealism(content, content) < 1e-5
    assert metrics.structure(content, content) == pytest.approx(1.0, abs=1e-12)


def test_photorealism_is_the_mean_laplacian_energy_and_vanishes_with_eps(content):
    output = np.random.default_rng(1).random(content.shape)
    laplacian, v = matting_laplacian(content), output.reshape(-1, 3)
    assert metrics.photorealism(output, content) == pytest.approx(
        np.sum(v * (laplacian @ v)) / v.shape[0], rel=1e-12)
    gains = np.array([0.7, 1.2, 0.9])
    recoloured = content * gains + np.array([0.1, -0.05, 0.02])
    # The only non-zero part of an affine recolouring's residual is the eps shrinkage.
    assert metrics.photorealism(recoloured, content, eps=1e-7) <= 1e-7 * np.sum(gains**2)
    noisy = recoloured + 0.05 * np.random.default_rng(0).standard_normal(content.shape)
    assert metrics.photorealism(noisy, content) > 1e3 * metrics.photorealism(recoloured,
                                                                             content)
    with pytest.raises(InputError, match="shape"):
        metrics.photorealism(output[..., :2], content)


def test_per_channel_affine_recolouring_is_photorealistic(content):
    gain, offset = np.array([0.7, 0.5, 0.9]), np.array([0.2, 0.05, 0.08])
    recoloured = content * gain + offset
    assert recoloured.min() >= 0 and recoloured.max() <= 1
    assert metrics.photorealism(recoloured, content) < 1e-5
    mixed = content @ np.array([[0.6, 0.3, 0.0], [0.1, 0.5, 0.2], [0.0, 0.2, 0.7]]).T + 0.05
    assert metrics.photorealism(mixed, content) < 1e-5


def test_noise_raises_photorealism_and_lowers_structure(content):
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(content.shape)
    values = [metrics.photorealism(np.clip(content + s * noise, 0, 1), content)
              for s in (0.0, 0.01, 0.05)]
    assert values[0] < 1e-5 < values[1] < values[2]
    # about 15 sigma^2: 5 of the 9 values of each channel in a 3x3 window are left as residual
    assert 5 * 0.05**2 < values[2] < 30 * 0.05**2
    assert metrics.structure(np.clip(content + 0.05 * noise, 0, 1), content) < 0.9


def test_blur_lowers_structure(content):
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(content, sigma=(2, 2, 0))
    assert metrics.structure(blurred, content) < 0.95
    assert metrics.structure(content * 0.8 + 0.1, content) > 0.95


def test_content_is_resized_to_a_smaller_output(content):
    small = _resized(content, (30, 38))
    assert metrics.photorealism(small, content) < 1e-5
    assert metrics.structure(small, content) == pytest.approx(1.0, abs=1e-12)


def test_other_aspect_ratio_is_refused(content):
    with pytest.raises(InputError, match="aspect"):
        metrics.photorealism(content[:, :40], content)
    with pytest.raises(InputError, match="float"):
        metrics.structure((content * 255).astype(np.uint8), content)


def test_inputs_are_not_modified(content, content_labels, style):
    s_img, s_labels = style
    c_labels = content_labels.copy()
    c_labels.flags.writeable = False  # as segment.align_masks returns them
    before = [a.copy() for a in (content, s_img, s_labels)]
    metrics.evaluate(content * 0.9, content, s_img, c_labels, s_labels)
    for a, b in zip(before, (content, s_img, s_labels), strict=True):
        np.testing.assert_array_equal(a, b)


def _pymatting_residual(output: np.ndarray, content: np.ndarray) -> float:
    """Independent photorealism: pymatting's Laplacian, sum_c O_c^T L O_c / N."""
    from pymatting import cf_laplacian

    lap = cf_laplacian(np.ascontiguousarray(content, dtype=np.float64), epsilon=1e-7, radius=1)
    flat = output.reshape(-1, 3)
    return sum(float(flat[:, c] @ (lap @ flat[:, c])) for c in range(3)) / flat.shape[0]


def test_photorealism_agrees_with_pymatting(content):
    rng = np.random.default_rng(4)
    stylized = np.clip(content**1.7 * [1.1, 0.8, 0.6] + 0.03 * rng.standard_normal(content.shape),
                       0, 1)
    ours = metrics.photorealism(stylized, content)
    theirs = _pymatting_residual(stylized, content)
    assert ours == pytest.approx(theirs, rel=0.01)


@pytest.mark.skipif(not (DPST / "final_results").is_dir(), reason="../shared/dpst is absent")
def test_photorealism_agrees_with_pymatting_on_the_paper_result():
    content = read_image(DPST / "input" / "in11.png")[200:360, 150:350]
    output = read_image(DPST / "final_results" / "best11_t_1000.png")[200:360, 150:350]
    ours = metrics.photorealism(output, content)
    assert ours == pytest.approx(_pymatting_residual(output, content), rel=0.01)
    assert ours > 10 * metrics.photorealism(content, content)


# --- Gaussian W2 and style distance --------------------------------------------------------

def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_w2_of_identical_gaussians_is_zero():
    rng = np.random.default_rng(0)
    g = metrics.Gaussian(rng.standard_normal(3) * 20, _spd(rng, 3) * 50)
    assert metrics.gaussian_w2(g, g) == pytest.approx(0.0, abs=1e-5)


def test_w2_of_1d_gaussians_is_the_closed_form():
    # W2^2 = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    assert metrics.gaussian_w2((1.0, 4.0), (3.0, 9.0)) == pytest.approx(np.sqrt(4 + 1))
    assert metrics.gaussian_w2(([0.0], [[1.0]]), ([0.0], [[0.0]])) == pytest.approx(1.0)


def test_w2_matches_the_sqrtm_formula_and_is_symmetric():
    rng = np.random.default_rng(1)
    a = metrics.Gaussian(rng.standard_normal(3), _spd(rng, 3))
    b = metrics.Gaussian(rng.standard_normal(3), _spd(rng, 3))
    root_b = scipy.linalg.sqrtm(b.cov).real
    cross = scipy.linalg.sqrtm(root_b @ a.cov @ root_b).real
    expected = np.sqrt(np.sum((a.mean - b.mean) ** 2)
                       + np.trace(a.cov + b.cov - 2 * cross))
    assert metrics.gaussian_w2(a, b) == pytest.approx(expected, rel=1e-9)
    assert metrics.gaussian_w2(b, a) == pytest.approx(expected, rel=1e-9)


def test_w2_of_a_flat_region_has_no_warning():
    flat = metrics.fit_gaussian(np.full((50, 3), 40.0))
    other = metrics.Gaussian(np.array([40.0, 0.0, 0.0]), np.diag([4.0, 0.0, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = metrics.gaussian_w2(flat, other)
    assert value == pytest.approx(np.sqrt(2 * 40.0**2 + 4.0))  # |(0, 40, 40)|^2 + tr(diag(4))


def _resampled_output(content_labels, style_img, style_labels, rng):
    """Each output region gets colours drawn (with replacement) from its style region."""
    out = np.zeros(content_labels.shape + (3,))
    for k in (0, 1):
        pool = style_img[style_labels == k]
        pick = rng.integers(0, len(pool), size=int((content_labels == k).sum()))
        out[content_labels == k] = pool[pick]
    return out


def test_resampled_style_colours_give_style_distance_near_zero(content, content_labels, style):
    s_img, s_labels = style
    out = _resampled_output(content_labels, s_img, s_labels, np.random.default_rng(5))
    after = metrics.style_distance(out, s_img, content_labels, s_labels)
    before = metrics.style_distance(content, s_img, content_labels, s_labels)
    assert after < 1.5 and before > 20
    swapped = metrics.style_distance(out, s_img, content_labels, 1 - s_labels)
    assert swapped > 10 * after  # regions are matched by label


def test_style_distance_of_the_style_itself_is_zero(style):
    s_img, s_labels = style
    assert metrics.style_distance(s_img, s_img, s_labels, s_labels) == pytest.approx(0, abs=1e-4)
    assert metrics.style_distance(s_img, s_img) == pytest.approx(0, abs=1e-4)


def test_masks_of_other_sizes_are_resized(content, content_labels, style):
    s_img, s_labels = style
    out = _resampled_output(content_labels, s_img, s_labels, np.random.default_rng(6))
    full = metrics.style_distance(out, s_img, content_labels, s_labels)
    half_c = content_labels[::2, ::2]  # 30x38: same aspect ratio as the 60x76 image
    half_s = s_labels[::2, ::2]
    # a few border pixels change region, so the match is close, not exact
    assert full < 1.0 and metrics.style_distance(out, s_img, half_c, half_s) < 3.0
    # an output smaller than its mask (e.g. 512 px result, 700 px mask)
    small_labels = resize_labels(content_labels, (30, 38))
    small_out = _resampled_output(small_labels, s_img, s_labels, np.random.default_rng(7))
    assert metrics.style_distance(small_out, s_img, content_labels, s_labels) < 3.0
    with pytest.raises(InputError, match="aspect"):
        metrics.style_distance(out, s_img, content_labels[:, :30], s_labels)


def test_style_distance_uses_shared_labels_only(content, content_labels, style):
    s_img, s_labels = style
    only_sky = np.where(s_labels == 1, 2, s_labels)  # style's ground becomes a style-only label
    value = metrics.style_distance(content, s_img, content_labels, only_sky)
    sky = metrics.style_distance(content[content_labels == 0][None], s_img[s_labels == 0][None])
    assert value == pytest.approx(sky, rel=1e-9)
    with pytest.raises(InputError, match="share no label"):
        metrics.style_distance(content, s_img, content_labels, s_labels + 5)
    with pytest.raises(InputError, match="both"):
        metrics.style_distance(content, s_img, content_labels, None)


# --- VGG style and evaluate ----------------------------------------------------------------

def test_vgg_style_and_evaluate(content, content_labels, style):
    s_img, s_labels = style
    model = VGG19Features("random", seed=0)
    assert vgg_style_distance(s_img, s_img, s_labels, s_labels,
                                      model=model) == pytest.approx(0.0, abs=1e-6)
    result = metrics.evaluate(content, content, s_img, content_labels, s_labels, model=model)
    assert list(result) == list(metrics.METRIC_KEYS)
    assert result["photorealism"] < 1e-5 and result["structure"] == pytest.approx(1.0)
    assert result["style_distance"] == pytest.approx(result["style_distance_content"])
    assert result["vgg_style"] > 0
    plain = metrics.evaluate(content, content, s_img)
    assert set(plain) == set(metrics.METRIC_KEYS) - {"vgg_style"}
