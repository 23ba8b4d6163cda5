"""One configuration object for a transfer; every default is written here once.

Two modes share the features, losses, optimizer and pyramid: ``"photo"`` (Luan et al.: two
stages, the matting term, the local-affine post-process) and ``"artistic"`` (Gatys, Ecker &
Bethge: one stage, no matting term, no post-process; see :data:`MODE_DEFAULTS`).

Loss weights come from a *preset*. ``"paper"`` is the balance of Luan et al. (content 5, style
100, total variation 1e-3, λ = 1e4); any weight given explicitly overrides the preset's. Both
forms of the loss use these numbers (:data:`LOSS_FORMS`): ``"paper"``, the objective of the
authors' Lua code term by term (raw means of Caffe VGG-19 activations of 0–255 images, where
the numbers were chosen), and ``"relative"``, photostyle's dimensionless terms (each divided by
its target's energy; see :mod:`photostyle.neural.losses`), where they are photostyle's choice.
The same weights are used with untrained (``vgg_weights="random"``) features, which only test
the mechanics: never tune a default to them.

A *recipe* (:data:`RECIPES`, :meth:`Config.recipe`) sets many fields at once: ``"paper"`` is the
paper's run as its code ran it.

This module imports no torch: the command line reads its defaults and choices at start-up.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from typing import Literal

from .errors import InputError

#: Loss weights per preset. ``matting_weight`` is λ of the paper. ``histogram_weight`` weighs
#: Risser et al.'s histogram loss (``style_loss="histogram"`` or ``"both"``), a dimensionless
#: relative squared error like the Gram term, summed over its layers with weight 1 each; it
#: gets the style weight so that ``"histogram"`` alone has the Gram loss's place in the balance.
PRESETS: dict[str, dict[str, float]] = {
    "paper": {"content_weight": 5.0, "style_weight": 100.0, "tv_weight": 1e-3,
              "matting_weight": 1e4, "histogram_weight": 100.0},
}

#: Environment variable naming a local VGG-19 weights file (used when none is given).
WEIGHTS_ENV = "PHOTOSTYLE_VGG_WEIGHTS"

#: The Caffe VGG-19 of the paper (Simonyan & Zisserman's ILSVRC model, as loadcaffe reads it),
#: converted to a PyTorch state dict with torchvision's ``features.N`` keys by the author of
#: jcjohnson/neural-style and used by ProGamerGov/neural-style-pt. ``d01eb7cb`` is the start of
#: its SHA-256 (checked on download, torch.hub's convention).
CAFFE_FILE = "vgg19-d01eb7cb.pth"
CAFFE_URL = "https://web.eecs.umich.edu/~justincj/models/" + CAFFE_FILE

#: Named sources of ``Config.vgg_weights`` (anything else is the path of a local state dict).
#: ``"auto"``: the Caffe weights if they are cached or can be downloaded; without them the
#: command line runs the weight-free method instead (the library raises WeightsError).
VGG_SOURCES = ("auto", "caffe", "imagenet", "random")

#: Input conventions of a VGG-19 state dict (``Config.vgg_format``): ``"caffe"`` (BGR,
#: 256·v − (103.939, 116.779, 123.68), v in [0, 1], the Lua ``preprocess``) or
#: ``"torchvision"`` (RGB in [0, 1], ImageNet mean and std).
VGG_FORMATS = ("caffe", "torchvision")

#: The two forms of the loss (``Config.loss``). ``"paper"``: the Lua code's objective, term
#: by term (content 5·mean((F − F_c)²); per style layer and label 100·μ·mean((G − S)²) with
#: the Gram normalized by C·h·w·μ; TV on the 0–255 image; λ·Σ_c V_cᵀLV_c with V in [0, 1]);
#: ``"relative"``: photostyle's dimensionless terms, which keep their balance on any network.
LOSS_FORMS = ("paper", "relative")

#: Units of the variable the optimizer updates (``Config.variable``): the image in [0, 1], or
#: Caffe units (BGR, 256·v − mean; the Lua code's ``img``). L-BFGS is not invariant to this
#: choice: its first step is min(1, 1/‖g‖₁)·g.
VARIABLES = ("image", "caffe")

#: Named starts of stage 1 (``Config.init``; anything else is the path of an image file).
#: ``"mean"`` is the Lua code's start: ``randn · 1e-4`` in Caffe units, i.e. the Caffe mean
#: colour (123.68, 116.779, 103.939)/256 with imperceptible noise.
INITS = ("content", "noise", "transfer", "mean")

#: ``Config.quality`` of the weight-free colour transfer (:func:`photostyle.classic.preview`):
#: not an optimization schedule.
PREVIEW = "preview"

#: What each mode changes when ``init`` and ``post`` are left as ``None``: the start of the
#: optimization and the local-affine post-process. Artistic mode starts from noise as Gatys et
#: al. and jcjohnson/neural-style do (``init="content"`` keeps more of the content's layout).
MODE_DEFAULTS: dict[str, dict[str, object]] = {
    "photo": {"init": "transfer", "post": True},
    "artistic": {"init": "noise", "post": False},
}

#: Coarse-to-fine schedules of ``Config.quality``: per pyramid level, coarsest first, the
#: ``(stage-1 steps, stage-2 steps)`` run there. Each level has twice the long side of the one
#: before it and the last one is the working size (``Config.size``), so ``"default"`` at 512 px
#: runs 128 → 256 → 512. A level starts from the result of the level below, upsampled;
#: ``"max"`` is the paper's single-scale schedule (1000 + 1000 steps at the working size).
#: Stage 1 (no matting term) runs only at the coarsest level: it moves the colours and the
#: style statistics, which a quarter-size image carries at 1/16 of the cost; every level then
#: runs stage 2, whose matting term (built from that level's content) restores the edges the
#: upsampling blurred and keeps the result a photograph.
QUALITY: dict[str, tuple[tuple[int, int], ...]] = {
    "draft": ((150, 75), (0, 25), (0, 8)),
    "default": ((300, 150), (0, 50), (0, 20)),
    "max": ((1000, 1000),),
}

#: Schedules of artistic mode (one stage: the second number of each level is 0). Painterly
#: texture lives at the fine scales, so the finer levels get more steps than in photo mode;
#: ``"max"`` is jcjohnson/neural-style's 1000 steps at the working size.
ARTISTIC_QUALITY: dict[str, tuple[tuple[int, int], ...]] = {
    "draft": ((150, 0), (50, 0), (15, 0)),
    "default": ((300, 0), (100, 0), (40, 0)),
    "max": ((1000, 0),),
}

#: Settings of each recipe (:meth:`Config.recipe`; the command line's ``--recipe``); fields given
#: explicitly override them. ``"paper"``: the run of the authors' code (neuralstyle_seg.lua,
#: deepmatting_seg.lua, gen_all.py): the Caffe network and the paper's loss, 1000 + 1000 L-BFGS
#: steps at one scale (history 100, step 1, no line search) on the image in Caffe units, stage 1
#: from the mean colour, stage 2 from stage 1's result, at the 700 px of the paper's examples,
#: and the post-process as gen_all.py ran it (-f_radius 15 -f_edge 0.01; the CUDA kernel's ridge
#: 1e-3 on the unnormalized 3×3 system is ε = 1e-3/9 on the window covariance).
RECIPES: dict[str, dict[str, object]] = {
    "paper": {"mode": "photo", "vgg_weights": "caffe", "loss": "paper", "quality": "max",
              "optimizer": "lbfgs", "history_size": 100, "init": "mean", "variable": "caffe",
              "size": 700, "post": True, "post_radius": 1, "post_smooth_radius": 15,
              "post_sigma": 0.01, "post_eps": 1e-3 / 9},
}

#: Largest image, in pixels, photostyle reads unless told otherwise (``Config.max_pixels``,
#: ``--max-pixels``): 160 megapixels covers every camera sensor of 2026 (the largest, 151 MP,
#: is 14204 x 10652) and stops a "decompression bomb" (a small file that decodes to gigabytes)
#: before it is decoded. PIL's own limit (89 MP warning, 179 MP error) is replaced by it.
MAX_PIXELS = 160_000_000

#: Bounds of the numeric settings (Config checks every one; see ``Config.__post_init__``).
MAX_SIDE = 65535
MAX_STEPS = 1_000_000
MAX_WEIGHT = 1e12
MAX_SEED = 2**63 - 1

#: VGG-19 layers used by the paper (Gatys et al.; Luan et al. keep the same choice).
CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Layers of the histogram loss: the style layers (Risser et al. apply it at fewer layers;
#: ``Config.histogram_layers`` selects a subset).
HISTOGRAM_LAYERS: tuple[str, ...] = STYLE_LAYERS


@dataclass(frozen=True)
class Config:
    """Settings of a transfer: photorealistic (two stages) or artistic (one stage).

    Attributes
    ----------
    mode : {"photo", "artistic"}
        ``"photo"``: Luan et al.'s two stages with the matting term and the local-affine
        post-process. ``"artistic"``: Gatys et al.'s neural style, one stage (stage 1 only),
        no matting term and, unless ``post=True``, no post-process; schedules from
        :data:`ARTISTIC_QUALITY`.
    size : int or None
        Long side, in pixels, of the working image (content and style are both resized so that
        their long side is ``size``). ``None`` keeps the inputs' sizes.
    quality : {"draft", "default", "max", "preview"}
        Coarse-to-fine schedule from :data:`QUALITY` (pyramid levels and the steps of each
        stage at each level). ``"max"`` is the paper's single-scale 1000 + 1000 steps.
        ``"preview"`` is no optimization at all: the weight-free colour transfer
        (:func:`photostyle.classic.preview`); photo mode only.
    iters : tuple of int or None
        Total steps of stage 1 (style, no matting term) and of stage 2 (with the matting term)
        (one number ``(N,)`` means ``(N, N)`` in photo mode and ``(N, 0)`` in artistic mode),
        summed over the levels; ``None`` takes the schedule's own counts. Given, each stage's
        total is spread over the levels in the schedule's proportions (largest remainder), so
        with ``quality="max"`` (one level) it is the paper's ``N1, N2`` at the working size.
        Either may be 0. In artistic mode the second must be 0.
    schedule : tuple of (int, int) or None
        An explicit schedule in the form of :data:`QUALITY` (coarsest level first), instead of
        ``quality``'s.
    min_level_side : int
        A coarse level whose short side (content or style) would be under this many pixels is
        not run; its steps are added to the coarsest level that runs. Small images therefore
        get fewer levels (a 64 x 80 image is single-scale).
    progress_every : int or None
        Read the loss back from the device (for the callback, ``history`` and the check for
        non-finite values) every this many steps and at the last step of each stage. ``None``:
        1 on the CPU, where the loss is already on the host, and 20 on other devices, where
        each read waits for the queued work (a host-device sync). The best image is tracked
        on the device at every step either way.
    autocast : bool
        Run the VGG forward (and its backward) under bfloat16 autocast; losses, Gram matrices
        and the image stay in the input's dtype. Meant for CUDA (works, slowly, on the CPU).
    compile : bool or str
        ``torch.compile`` the VGG forward (``True``: the default backend, inductor; a string
        names the backend). Pays off for long runs: each level's image size compiles once.
    channels_last : bool or None
        Channels-last memory format for the network and the image; ``None``: on CUDA only.
    tf32 : bool
        On CUDA, allow TF32 matmuls and convolutions (and cuDNN autotuning) during the run;
        the previous global settings are restored afterwards. No effect on the CPU.
    memory_limit : int or None
        Memory budget in bytes for the run (``None``: what the device has available now:
        ``MemAvailable`` on the CPU, free memory on CUDA). Before any work the peak is
        estimated (:func:`photostyle.memory.estimate_peak_memory`); if it exceeds the budget,
        :class:`InputError` names the largest size that fits, unless ``fit_memory``.
    fit_memory : bool
        When the estimate exceeds the budget, run at the largest size that fits and bring the
        result to the requested size through the local-affine post-process (its colours mapped
        onto the full-size content) instead of raising.
    matting_operator : {"auto", "sparse", "matrix_free"}
        How the matting term applies the Laplacian (``matting.MattingRegularizer``'s
        ``operator``): an explicit sparse matrix (the paper's) or box filters; ``"auto"``
        leaves the choice to :mod:`matting`.
    preset : {"paper"} or None
        Source of the loss weights that are left as ``None`` (:data:`PRESETS`; ``None``:
        ``"paper"``).
    loss : {"paper", "relative"} or None
        Form of the loss terms (:data:`LOSS_FORMS`). ``"paper"``: the objective of the
        authors' Lua code, term by term (:mod:`photostyle.neural.losses`); its weights are
        the paper's on the Caffe network. ``"relative"``: photostyle's dimensionless terms.
        ``None``: ``"paper"`` on a Caffe-format network (with the Gram style loss), else
        ``"relative"`` (:meth:`loss_for`).
    content_weight, style_weight, tv_weight, matting_weight : float or None
        Loss weights; ``None`` takes the preset's value. ``matting_weight`` is the paper's λ.
    style_loss : {"gram", "histogram", "both"}
        Style statistics matched: the (masked) Gram matrices of Gatys et al., the per-channel
        histograms of Risser et al. (:mod:`photostyle.histogram`), or both terms.
    histogram_weight : float or None
        Weight of the histogram loss; ``None`` takes the preset's.
    histogram_layers : tuple of str
        VGG-19 layers of the histogram loss, weight 1 each.
    style_blend_weights : tuple of float or None
        Mixing weights of several style images (normalized to sum 1; ``None``: equal). The
        Gram targets are the blend of each style's Gram matrices (as jcjohnson/neural-style);
        the histogram targets are quantiles of the blended distribution.
    style_scale : float
        Size of the style images relative to the working size (``--style-scale`` of
        neural-style): larger values match larger style structures (brush strokes).
    original_colors : bool
        Keep the content's colours: the result's luminance with the content's chrominance
        (YIQ; Gatys et al. 2016, "Preserving color in neural artistic style transfer"), as
        the last step.
    optimizer : {"lbfgs", "adam"}
        L-BFGS as in the paper (one function evaluation per step, no line search) or Adam.
    variable : {"image", "caffe"}
        What the optimizer updates (:data:`VARIABLES`): the image in [0, 1] or the image in
        Caffe units (BGR, 256·v − mean), as the Lua code; the losses are the same, the L-BFGS
        steps are not (its first step is min(1, 1/‖g‖₁)·g, and ‖g‖₁ depends on the units).
        Adam's ``lr`` is in the variable's units.
    lr : float
        Adam's learning rate on an image in [0, 1] (L-BFGS always uses 1, as the paper's code).
    history_size : int
        L-BFGS memory.
    init : str or None
        Start of stage 1; ``None``: the mode's (:data:`MODE_DEFAULTS`). ``"transfer"`` is
        the regional colour transfer of the content (:mod:`photostyle.classic.regional`,
        without its post-process; photo mode's default: measured with untrained features it
        reaches the content start's stage-1 style loss in about half the steps; with several
        styles, the one with the largest blend weight), ``"content"`` the content image,
        ``"noise"`` uniform noise (artistic mode's default), ``"mean"`` the Lua code's start
        (``randn·1e-4`` in Caffe units: the Caffe mean colour), or the path of an image file,
        resized to each start's size (with ``iters=(0, N)`` it is stage 2's start, as
        ``deepmatting_seg.lua -init_image``).
    seed : int
        Seed for the noise start and for ``vgg_weights="random"``.
    vgg_weights : str
        ``"auto"`` (the Caffe VGG-19 if cached or downloadable; the command line falls back to
        the weight-free method without it), ``"caffe"`` (the paper's network,
        :data:`CAFFE_FILE`), ``"imagenet"`` (torchvision's IMAGENET1K_V1), ``"random"``
        (seeded, untrained; for tests) or the path of a local VGG-19 state dict.
    vgg_format : {"caffe", "torchvision"} or None
        Input convention of a local or random state dict (:data:`VGG_FORMATS`); ``None``:
        ``"caffe"`` for a file named :data:`CAFFE_FILE`, else ``"torchvision"``. The named
        sources have their own (``"caffe"``/``"auto"``: caffe, ``"imagenet"``: torchvision).
    pooling : {"max", "avg"}
        VGG pooling layers.
    content_layers, style_layers : tuple of str
        VGG-19 layer names (``relu4_2``, ``relu1_1`` …).
    matting_eps, matting_radius : float, int
        ε and window radius of the matting Laplacian (1e-7 and 3×3 windows in the paper).
    post : bool or None
        Apply the local-affine post-process to the result (the paper's best results);
        ``None``: the mode's (on in photo mode, off in artistic mode).
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
    max_pixels : int or None
        Largest input image, in pixels (:data:`MAX_PIXELS`): a larger file is refused before it
        is decoded (:func:`photostyle.io.images.read_image`); ``None``: no limit.

    Every number is checked when the Config is made (finite, an integer where a count is
    meant, within its bounds: sizes up to :data:`MAX_SIDE`, steps up to :data:`MAX_STEPS`,
    loss weights in [0, :data:`MAX_WEIGHT`], seeds in [0, :data:`MAX_SEED`]); a bad value
    raises :class:`InputError` naming the field.
    """

    mode: Literal["photo", "artistic"] = "photo"
    size: int | None = 512
    quality: Literal["draft", "default", "max", "preview"] = "default"
    iters: tuple[int, int] | None = None
    schedule: tuple[tuple[int, int], ...] | None = None
    min_level_side: int = 64
    preset: Literal["paper"] | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    matting_weight: float | None = None
    style_loss: Literal["gram", "histogram", "both"] = "gram"
    histogram_weight: float | None = None
    histogram_layers: tuple[str, ...] = HISTOGRAM_LAYERS
    style_blend_weights: tuple[float, ...] | None = None
    style_scale: float = 1.0
    original_colors: bool = False
    loss: Literal["paper", "relative"] | None = None
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    lr: float = 0.02
    history_size: int = 100
    variable: Literal["image", "caffe"] = "image"
    init: str | None = None
    seed: int = 0
    vgg_weights: str = "auto"
    vgg_format: Literal["caffe", "torchvision"] | None = None
    pooling: Literal["max", "avg"] = "max"
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    matting_eps: float = 1e-7
    matting_radius: int = 1
    post: bool | None = None
    post_eps: float = 1e-4
    post_radius: int = 1
    post_smooth_radius: int = 15
    post_sigma: float = 0.1
    transfer_method: Literal["linear", "histogram"] = "linear"
    transfer_space: Literal["lab", "rgb"] = "lab"
    transfer_blend: int = 5
    preview_post_scale: float = 0.5
    progress_every: int | None = None
    autocast: bool = False
    compile: bool | str = False
    channels_last: bool | None = None
    tf32: bool = True
    memory_limit: int | None = None
    fit_memory: bool = False
    matting_operator: Literal["auto", "sparse", "matrix_free"] = "auto"
    max_pixels: int | None = MAX_PIXELS

    def __post_init__(self) -> None:
        self._check_numbers()
        if self.mode not in MODE_DEFAULTS:
            raise InputError(f"mode {self.mode!r} must be 'photo' or 'artistic'")
        if self.iters is not None and len(self.iters) == 1:  # N: both stages, or artistic's one
            n = int(self.iters[0])
            object.__setattr__(self, "iters", (n, 0 if self.mode == "artistic" else n))
        if self.mode == "artistic" and self.iters is not None and len(self.iters) == 2 \
                and int(self.iters[1]) != 0:
            raise InputError(f"iters {self.iters[0]},{self.iters[1]}: artistic mode has one "
                             f"stage; give one count ({self.iters[0]})")
        if self.mode == "artistic" and self.schedule is not None \
                and any(level[1] for level in self.schedule):
            raise InputError("schedule: artistic mode has one stage; give (N, 0) per level")
        if self.style_loss not in ("gram", "histogram", "both"):
            raise InputError(f"style_loss {self.style_loss!r} must be 'gram', 'histogram' or "
                             "'both'")
        if self.style_blend_weights is not None and (
                not self.style_blend_weights or min(self.style_blend_weights) < 0
                or not sum(self.style_blend_weights) > 0):
            raise InputError(f"style_blend_weights {self.style_blend_weights!r} must be >= 0 "
                             "with a positive sum, one per style image")
        if self.quality not in (*QUALITY, PREVIEW):
            raise InputError(f"quality {self.quality!r} must be one of "
                             f"{', '.join((*QUALITY, PREVIEW))}")
        if self.quality == PREVIEW and self.mode == "artistic":
            raise InputError("quality 'preview' is a photographic colour transfer; in artistic "
                             "mode use quality 'draft'")
        if self.quality == PREVIEW and self.original_colors:
            raise InputError("original_colors keeps the content's colours, and colours are all "
                             "quality 'preview' changes; drop one of them")
        if self.iters is not None and (len(self.iters) != 2
                                       or any(int(n) < 0 for n in self.iters)):
            raise InputError(f"iters {self.iters!r} must be two step counts >= 0, e.g. (500, 500)")
        if self.schedule is not None:
            if not self.schedule or any(len(level) != 2 or min(level) < 0
                                        for level in self.schedule):
                raise InputError(f"schedule {self.schedule!r} must be one or more (stage-1, "
                                 "stage-2) step pairs >= 0, coarsest level first")
        if self.matting_operator not in ("auto", "sparse", "matrix_free"):
            raise InputError(f"matting_operator {self.matting_operator!r} must be 'auto', "
                             "'sparse' or 'matrix_free'")
        if self.optimizer not in ("lbfgs", "adam"):
            raise InputError(f"optimizer {self.optimizer!r} must be 'lbfgs' or 'adam'")
        if self.init is not None and str(self.init) not in INITS \
                and not os.path.isfile(self.init):
            raise InputError(f"init {self.init}: no such image file; give an image or one of "
                             f"{', '.join(INITS)}")
        if self.loss is not None and self.loss not in LOSS_FORMS:
            raise InputError(f"loss {self.loss!r} must be 'paper' or 'relative'")
        if self.loss == "paper" and self.style_loss != "gram":
            raise InputError(f"loss 'paper' is the Lua code's Gram objective; style_loss "
                             f"{self.style_loss!r} has only the relative form (loss 'relative')")
        if self.variable not in VARIABLES:
            raise InputError(f"variable {self.variable!r} must be 'image' or 'caffe'")
        if not str(self.vgg_weights):
            raise InputError("vgg_weights is empty; give auto, caffe, imagenet, random or a "
                             "file")
        if self.vgg_format is not None:
            if self.vgg_format not in VGG_FORMATS:
                raise InputError(f"vgg_format {self.vgg_format!r} must be 'caffe' or "
                                 "'torchvision'")
            fixed = {"auto": "caffe", "caffe": "caffe", "imagenet": "torchvision"}
            own = fixed.get(str(self.vgg_weights))
            if own is not None and own != self.vgg_format:
                raise InputError(f"vgg_format {self.vgg_format} does not fit vgg_weights "
                                 f"{self.vgg_weights} (a {own} network); vgg_format is for a "
                                 "local file or random weights")
        if self.transfer_method not in ("linear", "histogram"):
            raise InputError(f"transfer_method {self.transfer_method!r} must be 'linear' or "
                             "'histogram'")
        if self.transfer_space not in ("lab", "rgb"):
            raise InputError(f"transfer_space {self.transfer_space!r} must be 'lab' or 'rgb'")
        if self.pooling not in ("max", "avg"):
            raise InputError(f"pooling {self.pooling!r} must be 'max' or 'avg'")
        if self.preset is not None and self.preset not in PRESETS:
            raise InputError(f"preset {self.preset!r} must be one of {sorted(PRESETS)}")

    def _check_numbers(self) -> None:
        """Every numeric field: finite, integral where a count is meant, within bounds."""
        for name, low, high in (("min_level_side", 32, MAX_SIDE), ("history_size", 1, 10_000),
                                ("seed", 0, MAX_SEED), ("matting_radius", 1, 32),
                                ("post_radius", 1, 32), ("post_smooth_radius", 0, 1000),
                                ("transfer_blend", 0, MAX_SIDE)):
            _integer(name, getattr(self, name), low, high)
        for name, low, high in (("size", 64, MAX_SIDE), ("progress_every", 1, MAX_STEPS),
                                ("memory_limit", 1, 2**62), ("max_pixels", 1, 2**40)):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), low, high)
        for name in ("content_weight", "style_weight", "tv_weight", "matting_weight",
                     "histogram_weight"):
            if getattr(self, name) is not None:
                _real(name, getattr(self, name), 0.0, MAX_WEIGHT)
        for name, high in (("style_scale", 16.0), ("lr", 1000.0), ("matting_eps", 1.0),
                           ("post_eps", 1.0), ("post_sigma", 10.0),
                           ("preview_post_scale", 1.0)):
            _real(name, getattr(self, name), 0.0, high, open_low=True)
        for name in ("iters", "style_blend_weights"):
            values = getattr(self, name)
            if values is not None and (not isinstance(values, (tuple, list)) or not values):
                raise InputError(f"{name} must be a list of numbers, got {values!r}")
        for n in self.iters or ():
            _integer("iters", n, 0, MAX_STEPS)
        for level in self.schedule or ():
            for n in level if isinstance(level, (tuple, list)) else (level,):
                _integer("schedule", n, 0, MAX_STEPS)
        for w in self.style_blend_weights or ():
            _real("style_blend_weights", w, 0.0, MAX_WEIGHT)

    @property
    def start(self) -> str:
        """The start of the optimization in force (``init``, else the mode's)."""
        return str(self.init if self.init is not None else MODE_DEFAULTS[self.mode]["init"])

    @property
    def network_format(self) -> str:
        """Input convention of the network ``vgg_weights`` names (:data:`VGG_FORMATS`)."""
        weights = str(self.vgg_weights)
        if weights in ("auto", "caffe"):
            return "caffe"
        if weights == "imagenet":
            return "torchvision"
        if self.vgg_format is not None:
            return self.vgg_format
        return "caffe" if os.path.basename(weights) == CAFFE_FILE else "torchvision"

    def loss_for(self, network_format: str) -> str:
        """The loss form in force on a network of ``network_format``: ``loss``, else
        ``"paper"`` on a Caffe network with the Gram style loss, else ``"relative"``."""
        if self.loss is not None:
            return self.loss
        return "paper" if network_format == "caffe" and self.style_loss == "gram" \
            else "relative"

    @property
    def loss_form(self) -> str:
        """The loss form in force on the network ``vgg_weights`` names."""
        return self.loss_for(self.network_format)

    @classmethod
    def recipe(cls, name: str, **fields: object) -> Config:
        """A Config with a recipe's settings (:data:`RECIPES`); ``fields`` override them."""
        if name not in RECIPES:
            raise InputError(f"recipe {name!r} must be one of {', '.join(RECIPES)}")
        return cls(**{**RECIPES[name], **fields})

    @property
    def use_post(self) -> bool:
        """Whether the local-affine post-process runs (``post``, else the mode's)."""
        return bool(self.post if self.post is not None else MODE_DEFAULTS[self.mode]["post"])

    @property
    def gram_layers(self) -> tuple[str, ...]:
        """Layers of the Gram style loss in force (none with ``style_loss="histogram"``)."""
        return () if self.style_loss == "histogram" else self.style_layers

    @property
    def histogram_loss_layers(self) -> tuple[str, ...]:
        """Layers of the histogram loss in force (none with ``style_loss="gram"``)."""
        return () if self.style_loss == "gram" else self.histogram_layers

    @property
    def feature_layers(self) -> tuple[str, ...]:
        """Every VGG-19 layer a step reads (content, Gram, histogram), each once."""
        return tuple(dict.fromkeys(self.content_layers + self.gram_layers
                                   + self.histogram_loss_layers))

    @property
    def preset_name(self) -> str:
        """The preset in force (explicit, else ``"paper"``)."""
        return self.preset if self.preset is not None else "paper"

    def weight(self, name: str) -> float:
        """A loss weight: the explicit value, else the preset's."""
        value = getattr(self, name)
        return float(PRESETS[self.preset_name][name] if value is None else value)

    @property
    def level_steps(self) -> tuple[tuple[int, int], ...]:
        """The schedule in force: per level, coarsest first, (stage-1, stage-2) steps.

        ``schedule`` or the mode's table (:data:`QUALITY`, :data:`ARTISTIC_QUALITY`), with
        each stage's total rescaled to ``iters``
        when given (largest-remainder rounding; a stage the schedule never runs goes to the
        finest level). Levels too small for an image are dropped later
        (:func:`photostyle.transfer.plan_levels`).
        """
        if self.quality == PREVIEW and self.schedule is None:
            raise InputError("quality 'preview' runs no optimization (photostyle.preview); "
                             "choose draft, default or max")
        table = ARTISTIC_QUALITY if self.mode == "artistic" else QUALITY
        base = self.schedule if self.schedule is not None else table[self.quality]
        if self.iters is None:
            return tuple((int(a), int(b)) for a, b in base)
        columns = [_spread(int(total), [level[s] for level in base])
                   for s, total in enumerate(self.iters)]
        return tuple(zip(*columns, strict=True))

    def replace(self, **changes: object) -> Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _integer(name: str, value: object, low: int, high: int) -> None:
    """Raise :class:`InputError` unless ``value`` is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not low <= value <= high:
        raise InputError(f"{name} {value!r}: expected a whole number from {low} to {high}")


def _real(name: str, value: object, low: float, high: float, open_low: bool = False) -> None:
    """Raise :class:`InputError` unless ``value`` is a finite number in ``[low, high]``
    (``(low, high]`` with ``open_low``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (low < value if open_low else low <= value) \
        and value <= high
    if not ok:
        bracket = "(" if open_low else "["
        raise InputError(f"{name} {value!r}: expected a finite number in {bracket}{low:g}, "
                         f"{high:g}]")


def _spread(total: int, shares: list[int]) -> list[int]:
    """``total`` split in proportion to ``shares`` (largest remainder; ties to the coarser
    level); all of it on the last level when the shares are all 0."""
    weight = sum(shares)
    if weight == 0:
        return [0] * (len(shares) - 1) + [total]
    exact = [total * s / weight for s in shares]
    counts = [int(e) for e in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def resolve_weights(spec: str | os.PathLike | None, default: str | None = None) -> str:
    """The VGG weights source in force: ``spec``, else ``$PHOTOSTYLE_VGG_WEIGHTS``, else
    ``default`` (e.g. a recipe's), else Config's default (``"auto"``)."""
    if spec is None or str(spec) == "":
        spec = os.environ.get(WEIGHTS_ENV) or default or Config.vgg_weights
    return str(spec)
