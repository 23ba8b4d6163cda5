r"""The image transformation network of Johnson, Alahi & Fei-Fei (2016).

Layers (their supplementary material, Table 1, with ``width`` = their 32): a 9×9 convolution
(``width`` channels), two stride-2 3×3 convolutions (``2·width``, ``4·width``), five residual
blocks (two 3×3 convolutions each), two ×2 upsampling 3×3 convolutions (``2·width``,
``width``) and a 9×9 convolution to RGB, each convolution but the last followed by instance
normalization (Ulyanov et al. 2016, as their later code) and a ReLU, the output through their
scaled tanh, here onto [0, 1]: :math:`O = (\tanh(y) + 1) / 2`.

Differences from the paper, all common practice since (e.g. the PyTorch examples'
``fast_neural_style``): reflection padding instead of zero padding (no dark borders), and each
upsampling is a nearest-neighbour ×2 resize followed by a 3×3 convolution rather than a
fractionally strided convolution (no checkerboard artefacts, Odena et al. 2016). Images whose
sides are not multiples of 4 are reflection-padded to the next multiple and the output cropped
back, so any size comes out at its own size.

Unlike :class:`photostyle.looks.bilateral.BilateralGridNet` this network repaints every pixel:
its output is not tied to the content's colours, and it runs at a working size
(``--size``), as the optimization does.

References
----------
J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution", ECCV 2016.
D. Ulyanov, A. Vedaldi, V. Lempitsky, "Instance Normalization: The Missing Ingredient for Fast
Stylization", arXiv:1607.08022, 2016.
A. Odena, V. Dumoulin, C. Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["JohnsonNet"]

#: The network halves the resolution twice.
MULTIPLE = 4


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2),
                         nn.Conv2d(cin, cout, kernel, stride=stride))


def _conv_norm_relu(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [_conv(cin, cout, kernel, stride), nn.InstanceNorm2d(cout, affine=True), nn.ReLU()]


class _Residual(nn.Module):
    """Two 3×3 convolutions with instance normalization, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_norm_relu(channels, channels, 3),
                                  _conv(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class JohnsonNet(nn.Module):
    """Johnson et al.'s image transformation network (see the module docstring).

    Parameters
    ----------
    width : int
        Channels of the first layer (the paper's 32); the others are 2× and 4× it.
    blocks : int
        Residual blocks (the paper's 5).

    ``forward(image)`` takes ``(B,3,H,W)`` in [0, 1], any size of at least 8 px a side, and
    returns ``(B,3,H,W)`` in [0, 1].
    """

    def __init__(self, width: int = 32, blocks: int = 5) -> None:
        super().__init__()
        if width < 1 or blocks < 0:
            raise ValueError("JohnsonNet: width must be >= 1 and blocks >= 0")
        self.hparams = {"width": width, "blocks": blocks}
        w = width
        self.encode = nn.Sequential(*_conv_norm_relu(3, w, 9),
                                    *_conv_norm_relu(w, 2 * w, 3, stride=2),
                                    *_conv_norm_relu(2 * w, 4 * w, 3, stride=2))
        self.residual = nn.Sequential(*(_Residual(4 * w) for _ in range(blocks)))
        self.decode = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                    *_conv_norm_relu(4 * w, 2 * w, 3),
                                    nn.Upsample(scale_factor=2, mode="nearest"),
                                    *_conv_norm_relu(2 * w, w, 3),
                                    _conv(w, 3, 9))

    def forward(self, image: Tensor) -> Tensor:
        h, w = image.shape[-2:]
        pad_h, pad_w = -h % MULTIPLE, -w % MULTIPLE
        x = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else image
        y = self.decode(self.residual(self.encode(x)))[..., :h, :w]
        return (torch.tanh(y) + 1.0) * 0.5
