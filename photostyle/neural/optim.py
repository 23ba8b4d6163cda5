"""L-BFGS for one image tensor, without host-device synchronization.

The paper's code runs Torch7's ``optim.lbfgs`` with one function evaluation per step and no
line search; photostyle used ``torch.optim.LBFGS(max_iter=1, line_search_fn=None)``, which does
the same thing but reads several scalars back to the host at every step (the loss, the
curvature test ``yᵀs > 1e-10``, and every ``alpha`` of the two-loop recursion, 2 × history of
them), each a synchronization that stalls a GPU queue. :class:`LBFGS` computes the same
iterates with every scalar kept on the device.

One difference: a pair whose curvature ``yᵀs`` is not above 1e-10 is not dropped from the
history but stored with weight ``ρ = 0`` (it then contributes nothing to the direction, which is
unchanged), so it occupies a slot until it ages out.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["LBFGS"]


class LBFGS:
    """``torch.optim.LBFGS(lr=1, max_iter=1, line_search_fn=None, tolerance_grad=-1,
    tolerance_change=-1)`` for a single tensor, sync-free.

    Parameters
    ----------
    param : Tensor
        The tensor being optimized (a leaf; updated in place by :meth:`step`).
    history_size : int
        Number of ``(s, y)`` pairs kept.
    lr : float
        Step length (1 in the paper's code; the first step is ``min(1, 1/‖g‖₁)·lr``).
    """

    def __init__(self, param: Tensor, history_size: int = 100, lr: float = 1.0) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        self.param = param
        self.history_size = history_size
        self.lr = lr
        self.steps: list[Tensor] = []  # s_i
        self.dirs: list[Tensor] = []  # y_i
        self.rho: list[Tensor] = []  # 1 / (y_iᵀ s_i), or 0 for a rejected pair
        self.h_diag: Tensor | None = None
        self.prev_grad: Tensor | None = None
        self.direction: Tensor | None = None
        self.t: Tensor | float = lr
        self.n_iter = 0

    @torch.no_grad()
    def step(self, grad: Tensor) -> None:
        """One L-BFGS update of ``param`` from its gradient ``grad`` (same shape)."""
        g = grad.reshape(-1)
        self.n_iter += 1
        if self.n_iter == 1:
            d = g.neg()
            self.h_diag = torch.ones((), dtype=g.dtype, device=g.device)
        else:
            y = g - self.prev_grad
            s = self.direction * self.t
            ys = y.dot(s)
            accept = ys > 1e-10
            if len(self.dirs) == self.history_size:
                self.dirs.pop(0)
                self.steps.pop(0)
                self.rho.pop(0)
            self.dirs.append(y)
            self.steps.append(s)
            self.rho.append(torch.where(accept, ys.reciprocal(), torch.zeros_like(ys)))
            self.h_diag = torch.where(accept, ys / y.dot(y), self.h_diag)
            # Two-loop recursion (Nocedal & Wright, alg. 7.4), scalars as 0-dim tensors.
            q = g.neg()
            alphas = [None] * len(self.dirs)
            for i in range(len(self.dirs) - 1, -1, -1):
                alphas[i] = self.steps[i].dot(q) * self.rho[i]
                q.addcmul_(self.dirs[i], alphas[i], value=-1)
            d = q.mul_(self.h_diag)
            for i in range(len(self.dirs)):
                beta = self.dirs[i].dot(d) * self.rho[i]
                d.addcmul_(self.steps[i], alphas[i] - beta)
        if self.prev_grad is None:
            self.prev_grad = g.clone()
        else:
            self.prev_grad.copy_(g)
        if self.n_iter == 1:
            t = g.abs().sum().reciprocal().clamp(max=1.0) * self.lr
        else:
            t = self.lr
        # torch skips the update (but keeps d and t) when the directional derivative g·d is
        # above -tolerance_change = 1; as a factor instead of a branch.
        move = (g.dot(d) <= 1.0).to(g.dtype)
        self.param.view(-1).add_(d * (t * move))
        self.direction = d
        self.t = t
