"""The autograd function shared by the sparse and matrix-free photorealism energies, and the
check of their image argument."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, autograd
from torch.autograd.function import FunctionCtx, once_differentiable


class QuadraticEnergy(autograd.Function):
    r"""``scale * sum_c V_c^T L V_c`` with the analytic gradient ``2 * scale * L V``.

    ``apply(image, matvec, scale)``: ``matvec`` maps an image ``(1, 3, H, W)`` to ``L`` applied
    to each channel, same shape; it is called once, in the forward pass, and its result is
    reused by the backward pass. The gradient assumes ``L`` symmetric (true for a matting
    Laplacian). Only first derivatives.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, image: Tensor, matvec: Callable[[Tensor], Tensor],
                scale: float) -> Tensor:
        lv = matvec(image)
        ctx.save_for_backward(lv)
        ctx.scale = scale
        return (image * lv).sum() * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor, None, None]:
        (lv,) = ctx.saved_tensors
        return lv * (grad_output * (2.0 * ctx.scale)), None, None


def check_batch_image(image: Tensor, name: str) -> None:
    """Raise ValueError unless ``image`` is a floating ``(1, 3, H, W)`` tensor."""
    if not isinstance(image, Tensor):
        raise ValueError(f"{name} must be a (1, 3, H, W) torch.Tensor, got {type(image)!r}")
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(
            f"{name} must have shape (1, 3, H, W) (a batch of one RGB image), "
            f"got {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor in [0, 1], got dtype {image.dtype}")
