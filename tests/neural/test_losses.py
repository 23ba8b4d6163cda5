"""Loss terms: gradients, invariances and bad input."""

from __future__ import annotations

import pytest
import torch

from photostyle.neural.losses import (
    ContentLoss,
    StyleLoss,
    content_loss,
    gram_matrix,
    style_loss,
    style_targets,
    tv_loss,
)


def _feats(seed: int, c: int = 4, h: int = 6, w: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, c, h, w, generator=g, dtype=torch.float64)


def test_content_loss_gradcheck_and_zero_at_target():
    x = _feats(0).requires_grad_(True)
    t = _feats(1)
    assert torch.autograd.gradcheck(lambda a: content_loss(a, t), (x,))
    assert content_loss(t, t).item() == 0.0


def test_style_loss_gradcheck_masked():
    x = _feats(0).requires_grad_(True)
    masks = torch.zeros(2, 6, 5, dtype=torch.float64)
    masks[0, :3] = 1
    masks[1, 3:] = 1
    masks[:, 2:4] = 0.5  # soft border, as after the mask pyramid
    targets = style_targets(_feats(1), masks)
    assert torch.autograd.gradcheck(lambda a: style_loss(a, targets, masks), (x,))


def test_tv_loss_gradcheck_and_constant_image():
    x = _feats(3, c=3).requires_grad_(True)
    assert torch.autograd.gradcheck(tv_loss, (x,))
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0


def test_full_image_mask_equals_no_mask():
    style, out = _feats(1), _feats(2)
    ones = torch.ones(1, 6, 5, dtype=torch.float64)
    masked = style_loss(out, style_targets(style, ones), ones)
    plain = style_loss(out, style_targets(style, None), None)
    torch.testing.assert_close(masked, plain)


def test_gram_is_mean_outer_product():
    f = _feats(4)
    flat = f[0].reshape(4, -1)
    torch.testing.assert_close(gram_matrix(f), flat @ flat.T / flat.shape[1])


def test_style_loss_zero_when_features_are_the_styles():
    f = _feats(5)
    masks = torch.zeros(2, 6, 5, dtype=torch.float64)
    masks[0, :, :2] = 1
    masks[1, :, 2:] = 1
    assert style_loss(f, style_targets(f, masks), masks).item() < 1e-20


def test_masked_style_loss_only_sees_its_region():
    style, out = _feats(1), _feats(2)
    mask = torch.zeros(1, 6, 5, dtype=torch.float64)
    mask[0, :3] = 1
    targets = style_targets(style, mask)
    changed = out.clone()
    changed[..., 3:, :] += 5.0  # outside the region
    torch.testing.assert_close(style_loss(out, targets, mask), style_loss(changed, targets, mask))


def test_losses_are_scale_invariant():
    """Scaling every activation (another network's range) leaves each term unchanged."""
    style, out, content = _feats(1), _feats(2), _feats(3)
    mask = torch.ones(1, 6, 5, dtype=torch.float64)
    for s in (0.01, 58.0):
        torch.testing.assert_close(content_loss(s * out, s * content), content_loss(out, content))
        torch.testing.assert_close(style_loss(s * out, style_targets(s * style, mask), mask),
                                   style_loss(out, style_targets(style, mask), mask))


def test_region_weights_weight_each_label():
    style, out = _feats(1), _feats(2)
    masks = torch.zeros(2, 6, 5, dtype=torch.float64)
    masks[0, :2] = 1
    masks[1, 2:] = 1
    targets = style_targets(style, masks)
    w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    only_first = style_loss(out, targets[:1], masks[:1], w[:1])
    torch.testing.assert_close(style_loss(out, targets, masks, w), only_first)


def test_modules_keep_constant_targets():
    t = _feats(1)
    loss = ContentLoss(t)
    t.add_(1.0)  # the caller's tensor changes; the module kept a copy
    assert loss(_feats(1)).item() == 0.0
    s = StyleLoss(style_targets(_feats(2), None))
    assert s(_feats(2)).item() < 1e-20


@pytest.mark.parametrize("bad", [torch.rand(2, 3, 4, 4), torch.rand(4, 4)])
def test_bad_shapes_raise(bad):
    with pytest.raises(ValueError):
        gram_matrix(bad)
    with pytest.raises(ValueError):
        tv_loss(torch.rand(3, 4))
    with pytest.raises(ValueError):
        content_loss(torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 4))
