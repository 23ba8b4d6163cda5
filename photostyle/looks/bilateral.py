r"""A bilateral grid of local affine colour transforms (HDRNet), photorealistic by construction.

A small CNN looks at a fixed low-resolution copy of the content and predicts a *bilateral grid*
:math:`\Gamma` of 3×4 affine colour transforms: ``grid_size × grid_size`` cells in space times
``depth`` cells in intensity. A learned per-pixel *guidance map* :math:`g(I(p)) \in [0, 1]` of
the full-resolution content says where in intensity each pixel reads the grid; trilinear
interpolation of the grid at :math:`(x_p, y_p, g(I(p)))` ("slicing") gives each pixel its
transform, which is applied to that pixel's colour:

.. math:: O(p) = A(p)\,I(p) + b(p), \qquad [A(p) \mid b(p)] = \Gamma\big(x_p, y_p, g(I(p))\big).

Every output pixel is therefore an affine function of the content's colour at that pixel, with
coefficients that vary smoothly in space and across the guidance's edges: the photorealism
prior of Luan et al. (a locally affine recolouring) holds by construction, with no matting term
to optimize. Only the grid depends on the low-resolution copy, so the network runs at any
resolution at a cost linear in the pixels (slicing and one 3×4 product per pixel).

Architecture (Gharbi et al. 2017, Fig. 2, with ``width`` = their 8): ``log2(low_res /
grid_size)`` stride-2 3×3 convolutions ("splat", channels ``width · 2^i``), then a local path
(two 3×3 convolutions) and a global path (two stride-2 convolutions and three fully connected
layers, ``32·width → 16·width → 8·width``) fused by a sum and a ReLU, and a 1×1 convolution
to ``12 · depth`` channels: the grid. No normalization layers, so each image is processed
independently of the others in a batch. The guidance map is a pointwise MLP of the colour
(1×1 convolutions 3 → ``guide_channels`` → 1, sigmoid), as HDRNet's per-pixel curves. The last
grid layer starts at zero weight and identity bias, so an untrained network returns its input.

References
----------
M. Gharbi, J. Chen, J. T. Barron, S. W. Hasinoff, F. Durand, "Deep Bilateral Learning for
Real-Time Image Enhancement", ACM TOG 36(4) (SIGGRAPH), 2017.
X. Xia, M. Zhang, T. Xue, Z. Sun, H. Fang, B. Kulis, J. Chen, "Joint Bilateral Learning for
Real-time Universal Photorealistic Style Transfer", ECCV 2020.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BilateralGridNet", "apply_affine", "low_res_for", "slice_grid"]

#: Pixels sliced and applied at once (the full-resolution work is cut into bands of rows of
#: at most this many pixels; every step is per pixel, so the result does not depend on it).
CHUNK_PIXELS = 1 << 20


def slice_grid(grid: Tensor, guide: Tensor, rows: tuple[int, int] | None = None) -> Tensor:
    r"""Trilinear slicing of a bilateral grid with a guidance map.

    .. math:: C(p) = \Gamma\big(x_p, y_p, g(p)\big)

    with :math:`x_p, y_p` the pixel's position scaled so that the image's first and last
    pixels fall on the grid's first and last cells (``align_corners=True``) and :math:`g(p) \in
    [0, 1]` mapped onto the depth the same way; beyond the grid the border cells are used.

    Parameters
    ----------
    grid : Tensor
        ``(B, K, D, Hg, Wg)`` coefficients (``K`` per cell; 12 for 3×4 affine transforms).
    guide : Tensor
        ``(B, 1, h, W)`` guidance values in [0, 1]: the full image (``rows=None``, ``h = H``) or
        the band of rows ``rows = (top, H)`` of an image ``H`` rows high.
    rows : tuple of int, optional
        ``(top, H)``: ``guide`` holds rows ``top .. top + h - 1`` of an image of ``H`` rows.

    Returns
    -------
    Tensor
        ``(B, K, h, W)``.
    """
    b, _, h, w = guide.shape
    top, height = (0, h) if rows is None else rows
    like = dict(device=guide.device, dtype=guide.dtype)
    ys = torch.linspace(-1.0, 1.0, height, **like)[top:top + h] if height > 1 \
        else torch.full((h,), -1.0, **like)
    xs = torch.linspace(-1.0, 1.0, w, **like) if w > 1 else torch.full((1,), -1.0, **like)
    coords = torch.stack(torch.broadcast_tensors(xs.view(1, 1, w), ys.view(1, h, 1),
                                                 guide[:, 0] * 2.0 - 1.0), dim=-1)
    sliced = F.grid_sample(grid, coords.unsqueeze(1), mode="bilinear", padding_mode="border",
                           align_corners=True)
    return sliced[:, :, 0]


def apply_affine(coefficients: Tensor, image: Tensor) -> Tensor:
    r"""Per-pixel affine colour transforms, :math:`O(p) = A(p)\,I(p) + b(p)`.

    Parameters
    ----------
    coefficients : Tensor
        ``(B, 12, H, W)``, row-major ``[A_00, A_01, A_02, b_0, A_10, …, b_2]`` (output channel =
        row; the layout of :func:`matting.local_affine_post`'s fit).
    image : Tensor
        ``(B, 3, H, W)``.

    Returns
    -------
    Tensor
        ``(B, 3, H, W)``, not clamped.
    """
    b, _, h, w = image.shape
    a = coefficients.view(b, 3, 4, h, w)
    return (a[:, :, 3] + a[:, :, 0] * image[:, 0:1] + a[:, :, 1] * image[:, 1:2]
            + a[:, :, 2] * image[:, 2:3])


def low_res_for(size: int, grid_size: int = 16, largest: int = 256) -> int:
    """The ``low_res`` of a network trained on ``size`` px crops: the largest ``grid_size ·
    2^k`` (``k >= 1``) up to ``min(size, largest)``.

    The grid is predicted from a ``low_res`` copy of the image; at training time that copy is
    the crop, resized. A crop smaller than ``low_res`` would be *upsampled* (blurred) in
    training and the full photo *downsampled* (sharp) when the look is applied, two inputs
    the network would see differently; with ``low_res <= size`` both are downsampled.
    """
    low = 2 * grid_size
    while low * 2 <= min(size, largest):
        low *= 2
    return low


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class BilateralGridNet(nn.Module):
    """HDRNet-style look: a low-resolution CNN predicts a bilateral grid of 3×4 affine colour
    transforms, sliced with a learned guidance map of the full-resolution content and applied
    to it per pixel (see the module docstring).

    Parameters
    ----------
    low_res : int
        Side of the square low-resolution copy the grid is predicted from (Gharbi et al.: 256).
    grid_size : int
        Spatial cells of the grid per side; ``low_res / grid_size`` must be a power of 2 and
        ``grid_size`` a multiple of 4.
    depth : int
        Intensity cells of the grid (Gharbi et al.: 8).
    width : int
        Channels of the first layer; the others are multiples of it (Gharbi et al.: 8).
    guide_channels : int
        Hidden channels of the pointwise guidance MLP.

    ``forward(image)`` takes ``(B,3,H,W)`` of any size and returns ``A(p) I(p) + b(p)``, not
    clamped; :meth:`coefficients` returns ``[A | b]`` per pixel.
    """

    def __init__(self, low_res: int = 256, grid_size: int = 16, depth: int = 8, width: int = 8,
                 guide_channels: int = 16) -> None:
        super().__init__()
        levels = math.log2(low_res / grid_size) if grid_size > 0 and low_res > 0 else -1
        if levels < 1 or levels != int(levels) or grid_size % 4:
            raise ValueError(f"BilateralGridNet: low_res / grid_size ({low_res} / {grid_size}) "
                             "must be a power of 2 >= 2 and grid_size a multiple of 4")
        if depth < 2 or width < 1 or guide_channels < 1:
            raise ValueError("BilateralGridNet: depth must be >= 2, width and guide_channels "
                             ">= 1")
        self.hparams = {"low_res": low_res, "grid_size": grid_size, "depth": depth,
                        "width": width, "guide_channels": guide_channels}
        self.low_res, self.depth = low_res, depth
        splat: list[nn.Module] = []
        cin = 3
        for i in range(int(levels)):
            cout = width * 2 ** min(i, 3)
            splat += [_conv(cin, cout, stride=2), nn.ReLU()]
            cin = cout
        c = 8 * width
        self.splat = nn.Sequential(*splat)
        self.local = nn.Sequential(_conv(cin, c), nn.ReLU(), _conv(c, c))
        self.global_conv = nn.Sequential(_conv(cin, c, stride=2), nn.ReLU(),
                                         _conv(c, c, stride=2), nn.ReLU())
        cells = (grid_size // 4) ** 2
        self.global_fc = nn.Sequential(nn.Linear(c * cells, 32 * width), nn.ReLU(),
                                       nn.Linear(32 * width, 16 * width), nn.ReLU(),
                                       nn.Linear(16 * width, c))
        self.to_grid = nn.Conv2d(c, 12 * depth, 1)
        self.guide = nn.Sequential(nn.Conv2d(3, guide_channels, 1), nn.ReLU(),
                                   nn.Conv2d(guide_channels, 1, 1), nn.Sigmoid())
        with torch.no_grad():  # start as the identity transform everywhere
            self.to_grid.weight.zero_()
            identity = torch.eye(3, 4).reshape(12, 1).expand(12, depth)
            self.to_grid.bias.copy_(identity.reshape(-1))

    def grid(self, image: Tensor) -> Tensor:
        """The bilateral grid ``(B, 12, depth, grid_size, grid_size)`` of ``image``
        ``(B,3,H,W)``, predicted from its ``low_res × low_res`` copy (antialiased bilinear)."""
        small = image
        if tuple(image.shape[-2:]) != (self.low_res, self.low_res):
            small = F.interpolate(image, size=(self.low_res, self.low_res), mode="bilinear",
                                  align_corners=False, antialias=True)
        x = self.splat(small)
        local = self.local(x)
        glob = self.global_fc(self.global_conv(x).flatten(1))
        fused = F.relu(local + glob[:, :, None, None])
        grid = self.to_grid(fused)
        b, _, gh, gw = grid.shape
        return grid.view(b, 12, self.depth, gh, gw)

    def _bands(self, image: Tensor) -> list[tuple[int, int]]:
        h, w = image.shape[-2:]
        rows = max(1, CHUNK_PIXELS // max(1, w))
        return [(top, min(h, top + rows)) for top in range(0, h, rows)]

    def coefficients(self, image: Tensor) -> Tensor:
        """Per-pixel ``[A | b]``, ``(B, 12, H, W)`` in :func:`apply_affine`'s layout."""
        grid = self.grid(image)
        h = image.shape[-2]
        return torch.cat([slice_grid(grid, self.guide(image[..., a:z, :]), (a, h))
                          for a, z in self._bands(image)], dim=-2)

    def forward(self, image: Tensor) -> Tensor:
        """``A(p) I(p) + b(p)`` for ``image`` ``(B,3,H,W)``; ``(B,3,H,W)``, not clamped."""
        grid = self.grid(image)
        h = image.shape[-2]
        out = []
        for a, z in self._bands(image):
            band = image[..., a:z, :]
            out.append(apply_affine(slice_grid(grid, self.guide(band), (a, h)), band))
        return out[0] if len(out) == 1 else torch.cat(out, dim=-2)
