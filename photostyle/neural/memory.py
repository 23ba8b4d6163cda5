"""Peak-memory estimate of a transfer, and the largest working size that fits a budget.

The model counts what one optimizer step keeps alive at the finest pyramid level (the coarser
levels need at most a quarter of it), in bytes per working-size pixel, plus fixed costs:

* **VGG activations saved for the backward pass**: every ReLU output, every pooling output
  and its argmax indices (int64), and the normalized input, up to the deepest layer used —
  summed layer by layer at the real feature sizes (about 1.5 KB per pixel in float32 up to
  ``relu5_1``); halved for the float tensors under ``autocast`` (bfloat16).
* **Backward transients**: the gradient flowing through the largest layer, the gradient
  arriving at it and the style term's gathered, masked features and their gradient — four
  tensors the size of ``relu1_1``.
* **L-BFGS**: ``2 × m`` history vectors of the image size (``m`` = ``history_size``, or the
  most steps one stage runs at that level if fewer: the history only fills as it goes), and
  six more image-sized vectors (image, gradient, direction, previous gradient, best image,
  scratch). Adam: three.
* **Matting term**: the sparse Laplacian (25 values and 25 int64 column indices per pixel
  plus the row pointers) or the matrix-free operator's window statistics (~20 maps); on the
  CPU its construction (scipy, float64) is a separate phase of about 1.3 KB per pixel.
* **Masks and targets**: the mask pyramid (one map per label per layer) and its support
  indices, the content target, the Gram matrices (``K·C²`` per style layer) and the network
  weights (12.9 M parameters up to ``relu5_1``).
* The post-process is a later phase (~0.3 KB per pixel at the working size; with
  ``fit_memory`` another ~0.1 KB per pixel at the requested size).
* Times an allocator overhead: 1.4 on the CPU, fitted to measured peak-RSS rises (freed
  activations are not all returned to the system while the L-BFGS history grows between
  them), 1.1 on CUDA (a guess: the caching allocator's rounding).

It is an estimate of what the run adds to the process, not of the interpreter and libraries
(about 0.4 GB of RSS for Python + torch on the CPU, already in use before the run). Checked
against measured RSS increases on the CPU (``benchmarks/bench.py --memory``; see
``benchmarks/RESULTS.md``); not validated on CUDA in the session that wrote it, where the
caching allocator's rounding adds some slack.
"""

from __future__ import annotations

import torch

from matting import resolve_operator

from ..classic.memory import host_available_memory
from ..config import Config
from ..errors import InputError
from ..io.images import MIN_SIDE, fit_long_side
from .histogram import DEFAULT_BINS
from .schedule import plan_levels
from .vgg import CONV_CHANNELS, deepest, layers_until

__all__ = ["OVERHEAD", "available_memory", "estimate_peak_memory", "largest_fitting_size",
           "matting_operator", "memory_phases"]

#: Bytes of an int64 index (max-pooling argmax, support indices, CSR columns).
_INDEX_BYTES = 8
#: Stored entries per pixel of the 3x3-window matting Laplacian (5x5 neighbourhood).
_LAPLACIAN_NNZ = 25
#: Host bytes per pixel while scipy builds the Laplacian (float64 window planes, banded values,
#: column indices, CSR copy), measured on the CPU.
_LAPLACIAN_BUILD = 1300
#: Image-sized maps held by the matrix-free operator (window statistics + matvec scratch).
_MATRIX_FREE_MAPS = 20
#: Image-sized vectors of the optimizer besides its history.
_OPT_VECTORS = {"lbfgs": 6, "adam": 3}
#: Bytes per pixel of the local-affine post-process at the size it runs.
_POST = 300
#: Bytes per pixel (requested size) of bringing a smaller result up with fit_memory.
_FIT_POST = 100
#: Tensors the size of the largest layer alive at once during the backward pass.
_BACKWARD_TRANSIENTS = 4
#: Measured peak over the live-tensor count above: allocator rounding and fragmentation (on
#: the CPU, glibc keeps freed activations' pages while the L-BFGS history grows between them).
#: CPU: fitted on RSS rises at 86x128 ... 342x512 (ratios 1.33-1.51, see
#: benchmarks/RESULTS.md); CUDA: a guess for the caching allocator's block rounding.
OVERHEAD = {"cpu": 1.4, "cuda": 1.1}


def _vgg(height: int, width: int, last: str, pooling: str, act: int,
         ) -> tuple[int, int, int, list[tuple[int, int, int]]]:
    """Saved-for-backward bytes, the largest layer (elements), the parameter count, and the
    ``(C, h, w)`` of every ReLU output, walking VGG-19 up to ``last``."""
    c, h, w = 3, height, width
    saved = 3 * h * w * act  # the normalized input, saved by conv1_1
    largest = 0
    params = 0
    shapes = []
    for name in layers_until(last):
        if name.startswith("conv"):
            cin, c = CONV_CHANNELS[name]
            params += cin * c * 9 + c
        elif name.startswith("relu"):
            saved += c * h * w * act
            shapes.append((c, h, w))
        else:  # pool: halves, floor, like nn.MaxPool2d(2, 2)
            h, w = h // 2, w // 2
            saved += c * h * w * act
            if pooling == "max":
                saved += c * h * w * _INDEX_BYTES
        largest = max(largest, c * h * w)
    return saved, largest, params, shapes


def memory_phases(height: int, width: int, config: Config | None = None,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, *,
                  labels: int = 4, steps: tuple[int, int] | None = None,
                  requested: tuple[int, int] | None = None) -> dict[str, int]:
    """Bytes of each part of the estimate at working size ``height × width``.

    Parameters
    ----------
    height, width : int
        Working size of the content (the finest level).
    config : Config, optional
        Settings (layers, optimizer, history, autocast, matting operator, schedule).
    device : torch.device or str
        Where the run happens (``"cuda"``: the Laplacian's construction is host memory and
        not counted).
    dtype : torch.dtype
        Dtype of the work (the content's).
    labels : int
        Number of mask labels (1 without masks).
    steps : (int, int), optional
        Steps of stage 1 and stage 2 at this level (bounds the L-BFGS history); default: the
        finest level of ``config``'s schedule.
    requested : (int, int), optional
        With ``fit_memory``: the size the result is brought up to.

    Returns
    -------
    dict of str to int
        ``vgg_saved``, ``backward``, ``optimizer``, ``matting``, ``histogram``,
        ``matting_build``, ``masks``,
        ``fixed`` (weights, Gram targets), ``post``, ``fit_post`` and the phase totals
        ``steps_phase``, ``build_phase``, ``post_phase`` and ``peak``.
    """
    config = config or Config()
    device = torch.device(device)
    elem = torch.empty((), dtype=dtype).element_size()
    act = 2 if config.autocast else elem
    n = height * width
    last = deepest(config.feature_layers)
    saved, largest, params, shapes = _vgg(height, width, last, config.pooling, act)
    if steps is None:
        steps = config.level_steps[-1]
    if config.optimizer == "lbfgs":
        history = min(config.history_size, max(steps))
        optimizer = (2 * history + _OPT_VECTORS["lbfgs"]) * 3 * n * elem
    else:
        optimizer = _OPT_VECTORS["adam"] * 3 * n * elem
    if steps[1] == 0:
        matting = build = 0
    elif matting_operator(config, dtype) == "matrix_free":
        matting, build = _MATRIX_FREE_MAPS * n * elem, 0
    else:
        matting = _LAPLACIAN_NNZ * n * (elem + _INDEX_BYTES) + (n + 1) * _INDEX_BYTES
        build = _LAPLACIAN_BUILD * n if device.type == "cpu" else 0
    # Mask pyramid: one (K, h, w) map per conv and pool layer; support indices per style layer.
    masks = 0
    if labels > 1:
        masks = sum(labels * h * w * elem for _, h, w in shapes)
        masks += sum(h * w * _INDEX_BYTES for _, h, w in shapes)
    grams = sum(labels * c * c * elem for c, _, _ in shapes)
    histogram = _histogram_bytes(config, last, shapes, labels, elem)
    fixed = params * elem + grams + 4 * 3 * n * elem  # weights, targets, content/style/start
    backward = _BACKWARD_TRANSIENTS * largest * elem
    post = _POST * n * elem // 4
    fit_post = 0
    if requested is not None and requested != (height, width):
        fit_post = _FIT_POST * requested[0] * requested[1] * elem // 4
    overhead = OVERHEAD.get(device.type, 1.2)
    steps_phase = int(overhead * (fixed + masks + saved + backward + optimizer + matting
                                  + histogram))
    build_phase = int(overhead * (fixed + masks + matting)) + build
    post_phase = int(overhead * (fixed + post + fit_post))
    return {
        "vgg_saved": saved, "backward": backward, "optimizer": optimizer, "matting": matting,
        "histogram": histogram,
        "matting_build": build, "masks": masks, "fixed": fixed, "post": post,
        "fit_post": fit_post, "steps_phase": steps_phase, "build_phase": build_phase,
        "post_phase": post_phase, "peak": max(steps_phase, build_phase, post_phase),
    }


def _histogram_bytes(config: Config, last: str, shapes: list[tuple[int, int, int]],
                     labels: int, elem: int) -> int:
    """The histogram loss (``style_loss`` ``"histogram"``/``"both"``): its targets (at most
    ``DEFAULT_BINS`` quantiles per channel and label), the residual each layer saves for the
    backward pass, and the transients of matching the largest layer (gathered values, sorted
    values and order, interpolation indices, matched and scattered values, residual; fitted
    on RSS rises at 171x256 and 342x512, benchmarks/RESULTS.md)."""
    relus = [name for name in layers_until(last) if name.startswith("relu")]
    by_name = dict(zip(relus, shapes, strict=True))
    used = [by_name[name] for name in config.histogram_loss_layers if name in by_name]
    if not used:
        return 0
    sizes = [c * h * w for c, h, w in used]
    targets = sum(labels * c * min(DEFAULT_BINS, h * w) * elem for c, h, w in used)
    return targets + sum(sizes) * elem + max(sizes) * (5 * elem + 2 * _INDEX_BYTES)


def matting_operator(config: Config, dtype: torch.dtype) -> str:
    """The Laplacian operator a run uses: ``config.matting_operator``, with ``"auto"`` resolved
    as :class:`matting.MattingRegularizer` does (:func:`matting.resolve_operator`)."""
    return resolve_operator(config.matting_operator, dtype)


def estimate_peak_memory(height: int, width: int, config: Config | None = None,
                         device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                         *, labels: int = 4, requested: tuple[int, int] | None = None) -> int:
    """Estimated peak bytes a transfer adds at working size ``height × width``.

    The maximum over the pyramid's levels (:func:`photostyle.neural.schedule.plan_levels`, content
    and style taken to be the same size) and over each level's phases (steps, Laplacian
    construction, post-process) of :func:`memory_phases`. See the module docstring for the
    model and its accuracy.
    """
    config = config or Config()
    levels = plan_levels(config.replace(size=max(height, width)), (height, width))
    peak = 0
    for i, level in enumerate(levels):
        last = i == len(levels) - 1
        phases = memory_phases(level.height, level.width, config, device, dtype, labels=labels,
                               steps=level.iters, requested=requested if last else None)
        peak = max(peak, phases["peak"])
    return peak


def available_memory(device: torch.device | str) -> int | None:
    """Bytes a new allocation can get now: on CUDA the free memory plus what PyTorch's caching
    allocator holds unused; on the CPU ``MemAvailable`` of ``/proc/meminfo`` (else the free
    physical pages). ``None`` when it cannot be told."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, _ = torch.cuda.mem_get_info(index)
        cached = torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index)
        return int(free + cached)
    if device.type != "cpu":
        return None
    return host_available_memory()


def largest_fitting_size(height: int, width: int, budget: int, config: Config | None = None,
                         device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                         *, labels: int = 4, requested: tuple[int, int] | None = None,
                         ) -> int | None:
    """The largest long side (a multiple of 8, at most ``max(height, width)``) at which an image
    of aspect ``height:width`` fits ``budget`` bytes; ``None`` if not even the smallest does."""
    config = config or Config()
    long_side = max(height, width)

    def fits(side: int) -> bool:
        h, w = fit_long_side(height, width, side)
        if min(h, w) < MIN_SIDE:
            return False
        return estimate_peak_memory(h, w, config, device, dtype, labels=labels,
                                    requested=requested) <= budget

    low, high = 0, long_side // 8  # in units of 8 px
    if not fits(8 * max(high, 1)) and not fits(64):
        return None
    if fits(long_side):
        return long_side
    while low < high:  # largest k with fits(8k)
        mid = (low + high + 1) // 2
        if mid > 0 and fits(8 * mid):
            low = mid
        else:
            high = mid - 1
    return 8 * low if low > 0 else None


def check_memory(height: int, width: int, config: Config, device: torch.device,
                 dtype: torch.dtype, labels: int) -> int | None:
    """Before a run at working size ``height × width``: ``None`` if it fits the budget
    (``config.memory_limit`` or the available memory; also when neither can be told), else
    the long side to run at (with ``config.fit_memory``).

    Raises
    ------
    InputError
        The estimate exceeds the budget (and not ``fit_memory``, or nothing fits): names the
        largest ``--size`` that fits.
    """
    budget = config.memory_limit
    if budget is None:
        budget = available_memory(device)
        if budget is None:
            return None
    need = estimate_peak_memory(height, width, config, device, dtype, labels=labels)
    if need <= budget:
        return None
    requested = (height, width) if config.fit_memory else None
    side = largest_fitting_size(height, width, budget, config, device, dtype, labels=labels,
                                requested=requested)
    gib = 2**30
    where = "the memory limit" if config.memory_limit is not None else \
        f"the {device.type.upper()} memory available"
    if side is None:
        raise InputError(f"a {width}x{height} transfer needs about {need / gib:.1f} GiB, more "
                         f"than {where} ({budget / gib:.1f} GiB), and no working size fits")
    if config.fit_memory:
        return side
    raise InputError(f"a {width}x{height} transfer needs about {need / gib:.1f} GiB but "
                     f"{where} is {budget / gib:.1f} GiB; use --size {side} (or --max-memory to "
                     "work at that size and upsample the result through the post-process)")
