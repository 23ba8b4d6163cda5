r"""Photorealism regularization of Deep Photo Style Transfer (the matting-Laplacian term).

Luan et al. penalize outputs that are not locally affine colour transforms of the content:

.. math::

    \mathcal{L}_m = \sum_{c=1}^{3} V_c[O]^\top \mathcal{M}_I V_c[O],

where :math:`V_c[O]` is channel :math:`c` of the output flattened to a vector and
:math:`\mathcal{M}_I` is the matting Laplacian of the content image :math:`I`
(:func:`matting.laplacian.matting_laplacian`).

Reference
---------
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017 (eq. 2-3).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse
import torch
from torch import Tensor, nn

from .laplacian import matting_laplacian
from .matrix_free import MatrixFreeLaplacian, matting_energy_matrix_free
from .quadratic import QuadraticEnergy, check_batch_image

_LAYOUTS = ("auto", "csr", "coo")
_OPERATORS = ("auto", "sparse", "matrix_free")


def _csr_matmul_supported(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``sparse_csr @ dense`` runs for ``dtype`` on ``device`` (tried on a 1x1 matrix)."""
    try:
        with warnings.catch_warnings():
            # torch labels sparse CSR "beta" on first use; it is the intended layout here.
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
            probe = torch.sparse_csr_tensor(
                torch.tensor([0, 1], device=device),
                torch.tensor([0], device=device),
                torch.ones(1, dtype=dtype, device=device),
                (1, 1),
                check_invariants=False,
            )
            probe @ torch.ones(1, 1, dtype=dtype, device=device)
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return True


def laplacian_to_torch(
    L: scipy.sparse.spmatrix,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    *,
    layout: str = "auto",
) -> Tensor:
    """Convert a scipy sparse matrix into a torch sparse tensor for ``L @ dense`` products.

    Parameters
    ----------
    L : scipy.sparse.spmatrix or sparray
        ``(N, N)`` matrix, e.g. from :func:`matting.laplacian.matting_laplacian`. Not modified.
    device : torch.device or str, optional
        Target device (default: CPU).
    dtype : torch.dtype, optional
        Floating dtype of the values (default float32).
    layout : {"auto", "csr", "coo"}, optional
        ``"auto"`` (default) gives a CSR tensor when ``CSR @ dense`` is implemented for
        ``dtype`` on ``device`` (float32 / float64 on CPU and CUDA) and a coalesced COO tensor
        otherwise (e.g. float16 on CPU). ``"csr"`` / ``"coo"`` force a layout.

    Returns
    -------
    torch.Tensor
        ``(N, N)`` sparse tensor (``torch.sparse_csr`` or ``torch.sparse_coo``) with int64
        indices, on ``device`` with ``dtype``.

    Raises
    ------
    ValueError
        If ``L`` is not a 2-D scipy sparse matrix, ``dtype`` is not floating, or ``layout`` is
        unknown.
    """
    if not scipy.sparse.issparse(L) or len(L.shape) != 2:
        raise ValueError(f"L must be a 2-D scipy sparse matrix, got {type(L)!r}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    device = torch.device("cpu") if device is None else torch.device(device)

    csr = scipy.sparse.csr_matrix(L, copy=True)  # own copy: the canonicalization is in place
    csr.sum_duplicates()  # also sorts the indices
    values = torch.from_numpy(np.asarray(csr.data)).to(device=device, dtype=dtype)
    if layout == "auto":
        layout = "csr" if _csr_matmul_supported(device, dtype) else "coo"
    if layout == "csr":
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)).to(device),
            torch.from_numpy(csr.indices.astype(np.int64)).to(device),
            values,
            csr.shape,
            check_invariants=False,
        )
    coo = csr.tocoo()
    indices = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64)).to(device)
    return torch.sparse_coo_tensor(
        indices, values, csr.shape, is_coalesced=True, check_invariants=False
    )


def _sparse_matvec(laplacian: Tensor) -> Callable[[Tensor], Tensor]:
    """``image (1,3,H,W) -> L`` applied to each channel, with one sparse product on ``(N, 3)``."""

    def matvec(image: Tensor) -> Tensor:
        v = image.reshape(3, -1).t().contiguous()  # (N, 3), channel c = column c
        return (laplacian @ v).t().reshape(image.shape)

    return matvec


def matting_energy(
    image: Tensor, laplacian: Tensor, weight: float = 1.0, normalize: bool = True
) -> Tensor:
    r"""Photorealism regularization :math:`\lambda \sum_c V_c^\top L V_c` (Luan et al. eq. 2).

    .. math::

        E = \frac{\lambda}{Z} \sum_{c=1}^{3} V_c^\top L V_c, \qquad
        \frac{\partial E}{\partial V_c} = \frac{2\lambda}{Z} L V_c,

    with :math:`Z = N = HW` if ``normalize`` else :math:`Z = 1`. Normalizing makes ``weight``
    independent of the resolution (the sum grows like :math:`N`).

    Implemented as a :class:`torch.autograd.Function`: the forward pass does one sparse
    product :math:`L V` on the ``(N, 3)`` matrix of channels and saves it; the backward pass
    returns the exact gradient from it (no second sparse product). Only first derivatives
    are supported.

    Parameters
    ----------
    image : torch.Tensor
        ``(1, 3, H, W)`` floating image (the output being optimized), nominally in [0, 1].
        Not modified.
    laplacian : torch.Tensor
        ``(N, N)`` symmetric sparse (CSR or COO) or dense tensor, ``N = H * W``, pixel index
        ``y * W + x`` (see :func:`laplacian_to_torch`). If its device or dtype differ from
        ``image``'s it is converted on every call; convert it once beforehand for speed.
    weight : float, optional
        :math:`\lambda` (default 1).
    normalize : bool, optional
        Divide by ``N`` (default True).

    Returns
    -------
    torch.Tensor
        0-dim tensor, dtype and device of ``image``; non-negative up to rounding.

    Raises
    ------
    ValueError
        If ``image`` is not a floating ``(1, 3, H, W)`` tensor or ``laplacian`` is not
        ``(H*W, H*W)``.
    """
    check_batch_image(image, "image")
    num = image.shape[2] * image.shape[3]
    if not isinstance(laplacian, Tensor) or tuple(laplacian.shape) != (num, num):
        shape = tuple(laplacian.shape) if isinstance(laplacian, Tensor) else type(laplacian)
        raise ValueError(
            f"laplacian must be a ({num}, {num}) tensor for a {image.shape[2]}x{image.shape[3]} "
            f"image, got {shape}"
        )
    if laplacian.dtype != image.dtype or laplacian.device != image.device:
        laplacian = laplacian.to(device=image.device, dtype=image.dtype)
    scale = float(weight) / num if normalize else float(weight)
    return QuadraticEnergy.apply(image, _sparse_matvec(laplacian), scale)


def resolve_operator(operator: str, dtype: torch.dtype) -> str:
    """The operator :class:`MattingRegularizer` uses for ``operator`` and content ``dtype``:
    ``"auto"`` is the matrix-free one from 32-bit floats up, the sparse matrix below."""
    if operator not in _OPERATORS:
        raise ValueError(f"operator must be one of {_OPERATORS}, got {operator!r}")
    if operator != "auto":
        return operator
    return "sparse" if torch.finfo(dtype).bits < 32 else "matrix_free"


class MattingRegularizer(nn.Module):
    r"""Matting-Laplacian photorealism term for a fixed content image (Luan et al. 2017).

    ``forward(image)`` returns :math:`\frac{\lambda}{Z} \sum_c V_c^\top L V_c` and its exact
    gradient (:func:`matting_energy`), with :math:`L` the matting Laplacian of the content,
    either

    - ``"matrix_free"``: a :class:`matting.matrix_free.MatrixFreeLaplacian` (window statistics
      from box filters, He et al. 2010; about 13 maps of the image size), or
    - ``"sparse"``: the CSR matrix of :func:`matting.laplacian.matting_laplacian` (built in
      float64 on the CPU, then moved), the reference.

    Both give the same energy and gradient (float64: within 1e-9 relative, measured 1e-15 to
    1e-10; float32: about 2e-5 on photo-like content, up to 2e-4 on near-constant content with
    sub-8-bit noise, against 1e-7 to 1e-5 for the float32 CSR product; see
    ``tests/test_matrix_free.py``). The operator's tensors are non-persistent buffers on the
    content's device with its dtype, so ``module.to(...)`` moves them.

    ``operator="auto"`` (the default) picks ``"matrix_free"`` for float32 / float64 content and
    ``"sparse"`` for 16-bit content (whose rounding the matrix-free cancellations would
    amplify; the sparse entries are bounded). Measured with ``benchmarks/bench_matting.py`` on a
    shared 2-core CPU, one thread, float32, 256 to 1024 px long side: the matrix-free setup is
    8-14x faster (0.005-0.06 s against 0.04-0.7 s), its tensors 6x smaller (35 MB against 205 MB
    at 1024x683) and its build peak 2-12x lower (66 MB against 771 MB at 1024x683), while one
    energy + gradient is 1.2-1.35x slower (18 ms against 15 ms at 700x467): about 0.03% of a
    VGG-19 forward + backward at that size (9 s). On CUDA (not measured here) the choice holds
    more so: the sparse build still runs in numpy on the CPU, and its ~12 bytes per stored entry
    (~200 MB at 1024 px) buy a CSR product that, like the ~80 element-wise kernels of the
    matrix-free one, costs well under a millisecond next to tens of ms for VGG-19.

    Parameters
    ----------
    content : torch.Tensor
        ``(1, 3, H, W)`` floating content image in [0, 1]. Not modified; the matrix-free
        operator keeps a copy.
    eps : float, optional
        Regularization of the Laplacian (default 1e-7, as in DPST).
    radius : int, optional
        Window radius (default 1: 3x3 windows).
    weight : float, optional
        :math:`\lambda` (default 1).
    normalize : bool, optional
        Divide the energy by ``N = H * W`` (default True).
    operator : {"auto", "sparse", "matrix_free"}, optional
        How :math:`L` is applied (default ``"auto"``, see above).

    Attributes
    ----------
    operator : str
        The operator in use, ``"sparse"`` or ``"matrix_free"``.
    matrix_free : MatrixFreeLaplacian or None
        The matrix-free operator (``None`` for ``"sparse"``).
    laplacian : torch.Tensor
        ``(N, N)`` sparse Laplacian. With ``"matrix_free"`` it is built on first access (from
        the kept copy of the content; seconds and hundreds of MB at 1024 px) and then kept.
    num_pixels : int
        ``N = H * W``.

    Raises
    ------
    ValueError
        If ``content`` is not a floating ``(1, 3, H, W)`` tensor, or ``operator`` is unknown.
    """

    matrix_free: MatrixFreeLaplacian | None

    def __init__(
        self,
        content: Tensor,
        eps: float = 1e-7,
        radius: int = 1,
        weight: float = 1.0,
        normalize: bool = True,
        operator: str = "auto",
    ) -> None:
        super().__init__()
        check_batch_image(content, "content")
        operator = resolve_operator(operator, content.dtype)
        self.operator = operator
        self.height, self.width = int(content.shape[2]), int(content.shape[3])
        self.eps = float(eps)
        self.radius = int(radius)
        self.weight = float(weight)
        self.normalize = bool(normalize)
        if operator == "sparse":
            self.matrix_free = None
            self.register_buffer("_laplacian", self._sparse(content), persistent=False)
        else:
            self.matrix_free = MatrixFreeLaplacian(content, eps=eps, radius=radius)
            self.register_buffer("_laplacian", None, persistent=False)

    def _sparse(self, content: Tensor) -> Tensor:
        """The sparse Laplacian of ``content`` on its device with its dtype."""
        rgb = content.detach()[0].permute(1, 2, 0).to(device="cpu", dtype=torch.float64, copy=True)
        L = matting_laplacian(rgb.numpy(), eps=self.eps, radius=self.radius)
        return laplacian_to_torch(L, device=content.device, dtype=content.dtype)

    @property
    def laplacian(self) -> Tensor:
        """``(N, N)`` sparse Laplacian (built on first access with ``"matrix_free"``)."""
        if self._laplacian is None:
            assert self.matrix_free is not None
            self._laplacian = self._sparse(self.matrix_free.guide)
        return self._laplacian

    @property
    def num_pixels(self) -> int:
        """Number of pixels ``N = H * W`` of the content image."""
        return self.height * self.width

    def forward(self, image: Tensor) -> Tensor:
        """Energy of ``image``, ``(1, 3, H, W)`` at the content's size (:func:`matting_energy`
        or :func:`matting.matrix_free.matting_energy_matrix_free`)."""
        if self.matrix_free is not None:
            return matting_energy_matrix_free(image, self.matrix_free, self.weight, self.normalize)
        return matting_energy(image, self.laplacian, self.weight, self.normalize)

    def extra_repr(self) -> str:
        return (
            f"size={self.height}x{self.width}, eps={self.eps:g}, radius={self.radius}, "
            f"weight={self.weight:g}, normalize={self.normalize}, operator={self.operator!r}"
        )
