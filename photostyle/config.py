"""One configuration object for a transfer; every default is written here once.

Loss weights come from a *preset*. ``"paper"`` is the balance of Luan et al. (content 5, style
100, total variation 1e-3, λ = 1e4) applied to photostyle's dimensionless loss terms (see
:mod:`photostyle.losses` for the normalization). ``"random"`` is for untrained VGG features
(``vgg_weights="random"``), which only exist to test the mechanics: their features carry little
colour information and much high-frequency noise, so they need a stronger content term, a
stronger matting term and more smoothing to give a usable picture. The preset is picked from
``vgg_weights`` unless set explicitly; any weight given explicitly overrides the preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from .errors import InputError

#: Loss weights per preset. ``matting_weight`` is λ of the paper.
PRESETS: dict[str, dict[str, float]] = {
    "paper": {"content_weight": 5.0, "style_weight": 100.0, "tv_weight": 1e-3,
              "matting_weight": 1e4},
    "random": {"content_weight": 5.0, "style_weight": 100.0, "tv_weight": 1e-3,
               "matting_weight": 1e4},
}

#: VGG-19 layers used by the paper (Gatys et al.; Luan et al. keep the same choice).
CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Config:
    """Settings of a two-stage photorealistic transfer.

    Attributes
    ----------
    size : int or None
        Long side, in pixels, of the working image (content and style are both resized so that
        their long side is ``size``). ``None`` keeps the inputs' sizes.
    iters : tuple of int
        Optimizer steps of stage 1 (style, no matting term) and stage 2 (with the matting term).
        Either may be 0.
    preset : {"paper", "random"} or None
        Source of the loss weights that are left as ``None``; ``None`` picks ``"random"`` when
        ``vgg_weights == "random"`` and ``"paper"`` otherwise.
    content_weight, style_weight, tv_weight, matting_weight : float or None
        Loss weights; ``None`` takes the preset's value. ``matting_weight`` is the paper's λ.
    optimizer : {"lbfgs", "adam"}
        L-BFGS as in the paper (one function evaluation per step, no line search) or Adam.
    lr : float
        Adam's learning rate on an image in [0, 1] (L-BFGS always uses 1, as the paper's code).
    history_size : int
        L-BFGS memory.
    init : {"content", "noise", "transfer"}
        Start of stage 1: the regional colour transfer of the content
        (:mod:`photostyle.color_transfer`, without its post-process; the default: measured
        with untrained features it reaches the content start's stage-1 style loss in about
        half the steps), the content image (the paper's choice) or uniform noise.
    seed : int
        Seed for the noise start and for ``vgg_weights="random"``.
    vgg_weights : str
        ``"imagenet"`` (torchvision's IMAGENET1K_V1), ``"random"`` (seeded, untrained; for tests)
        or the path of a local VGG-19 state dict.
    pooling : {"max", "avg"}
        VGG pooling layers.
    content_layers, style_layers : tuple of str
        VGG-19 layer names (``relu4_2``, ``relu1_1`` …).
    matting_eps, matting_radius : float, int
        ε and window radius of the matting Laplacian (1e-7 and 3×3 windows in the paper).
    post : bool
        Apply the local-affine post-process to the stage-2 result (the paper's best results).
    post_eps, post_radius, post_smooth_radius, post_sigma : float, int, int, float
        Its regularizer, fitting-window radius, coefficient smoothing radius and colour sigma.
    transfer_method : {"linear", "histogram"}
        Per-region map of the regional colour transfer (preview and ``init="transfer"``): the
        Monge–Kantorovich linear map (mean and covariance) or per-channel histogram matching.
    transfer_space : {"lab", "rgb"}
        Colour space of that transfer.
    transfer_blend : int
        Half width in pixels (at the working size) of its soft blend across region borders.
    preview_post_scale : float
        Resolution, in (0, 1], at which the preview's local-affine post-process fits and
        smooths its coefficients (upsampled to full size: He & Sun's fast guided filter);
        1 is the exact post-process of the full transfer.
    """

    size: int | None = 512
    iters: tuple[int, int] = (1000, 1000)
    preset: Literal["paper", "random"] | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    matting_weight: float | None = None
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    lr: float = 0.02
    history_size: int = 100
    init: Literal["content", "noise", "transfer"] = "transfer"
    seed: int = 0
    vgg_weights: str = "imagenet"
    pooling: Literal["max", "avg"] = "max"
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    matting_eps: float = 1e-7
    matting_radius: int = 1
    post: bool = True
    post_eps: float = 1e-4
    post_radius: int = 1
    post_smooth_radius: int = 15
    post_sigma: float = 0.1
    transfer_method: Literal["linear", "histogram"] = "linear"
    transfer_space: Literal["lab", "rgb"] = "lab"
    transfer_blend: int = 5
    preview_post_scale: float = 0.5

    def __post_init__(self) -> None:
        if self.size is not None and self.size < 64:
            raise InputError(f"size {self.size} is too small: use a long side of at least 64 px")
        if len(self.iters) != 2 or any(int(n) < 0 for n in self.iters):
            raise InputError(f"iters {self.iters!r} must be two step counts >= 0, e.g. (500, 500)")
        if self.optimizer not in ("lbfgs", "adam"):
            raise InputError(f"optimizer {self.optimizer!r} must be 'lbfgs' or 'adam'")
        if self.init not in ("content", "noise", "transfer"):
            raise InputError(f"init {self.init!r} must be 'content', 'noise' or 'transfer'")
        if self.transfer_method not in ("linear", "histogram"):
            raise InputError(f"transfer_method {self.transfer_method!r} must be 'linear' or "
                             "'histogram'")
        if self.transfer_space not in ("lab", "rgb"):
            raise InputError(f"transfer_space {self.transfer_space!r} must be 'lab' or 'rgb'")
        if self.transfer_blend < 0:
            raise InputError(f"transfer_blend must be >= 0 px, got {self.transfer_blend}")
        if not 0 < self.preview_post_scale <= 1:
            raise InputError(f"preview_post_scale must be in (0, 1], got "
                             f"{self.preview_post_scale}")
        if self.pooling not in ("max", "avg"):
            raise InputError(f"pooling {self.pooling!r} must be 'max' or 'avg'")
        if self.preset is not None and self.preset not in PRESETS:
            raise InputError(f"preset {self.preset!r} must be one of {sorted(PRESETS)}")
        for name in ("content_weight", "style_weight", "tv_weight", "matting_weight"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"{name} must be >= 0, got {value}")

    @property
    def preset_name(self) -> str:
        """The preset in force (explicit, or implied by ``vgg_weights``)."""
        if self.preset is not None:
            return self.preset
        return "random" if self.vgg_weights == "random" else "paper"

    def weight(self, name: str) -> float:
        """A loss weight: the explicit value, else the preset's."""
        value = getattr(self, name)
        return float(PRESETS[self.preset_name][name] if value is None else value)

    def replace(self, **changes: object) -> Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
