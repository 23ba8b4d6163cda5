"""The autograd function shared by the sparse and matrix-free photorealism energies."""

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
