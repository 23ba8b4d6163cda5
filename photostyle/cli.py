"""The ``photostyle`` command line: a thin layer over :func:`photostyle.transfer`.

It owns everything the library does not do: argument parsing, progress bars, warnings on
stderr, intermediate saves, and turning user errors into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from segment import (
    DEFAULT_CHECKPOINT,
    MAX_K,
    AlignedMasks,
    align_masks,
    automatic_masks,
    load_color_mask,
    overlay_labels,
    save_color_mask,
)

from .config import ARTISTIC_QUALITY, PRESETS, QUALITY, Config
from .console import run_guarded
from .errors import InputError
from .images import check_output_path, load_image, read_image, save_image, to_uint8
from .preview import preview
from .report import check_report_path
from .transfer import StepInfo, TransferInterrupted, TransferResult, plan_levels, transfer
from .vgg import WEIGHTS_ENV, VGG19Features, deepest, resolve_weights

PROG = "photostyle"
_DEFAULTS = Config()


def _iters(text: str) -> tuple[int, int]:
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N1,N2 such as 500,500") from None
    if len(values) not in (1, 2) or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or N1,N2 (counts >= 0) such as "
                                         "500,500")
    return values  # type: ignore[return-value]


def _weights(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers such as 3,7") from None
    if min(values) < 0 or not sum(values) > 0 or not all(map(math.isfinite, values)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected weights >= 0 with a positive sum")
    return values


def _memory(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected GiB such as 6 or 'auto'") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of GiB")
    return value


def _schedule_text(steps: tuple[tuple[int, int], ...]) -> str:
    return " -> ".join(f"{a}+{b}" for a, b in steps)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the main command (no side effects)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Photorealistic style transfer (Luan et al., Deep Photo Style Transfer); "
                    "with --mode artistic, neural style (Gatys et al.).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Quality metrics and contact sheets of existing results: photostyle eval --help",
    )
    p.add_argument("content", type=Path, help="content photo")
    p.add_argument("style", type=Path, nargs="+",
                   help="style photo; several are blended (see --style-blend-weights)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image (.png, .jpg …)")

    g = p.add_argument_group("masks")
    g.add_argument("--content-mask", type=Path, help="colour-coded mask of the content photo")
    g.add_argument("--style-mask", type=Path, nargs="+",
                   help="colour-coded mask of the style photo (one per style photo)")
    g.add_argument("--seg", choices=("none", "auto", "cluster"), default="none",
                   help="make the masks automatically: 'auto' = semantic segmentation (ADE20K "
                        "weights, falls back to 'cluster' when they cannot be had), 'cluster' "
                        "= co-segmentation, no weights; --content-mask/--style-mask win")
    g.add_argument("--seg-model", default=None, metavar="ID_OR_DIR",
                   help=f"--seg auto: segmentation_models_pytorch ADE20K checkpoint, a Hugging "
                        f"Face Hub id or a local folder (default {DEFAULT_CHECKPOINT})")
    g.add_argument("--seg-k", type=int, default=None, metavar="K",
                   help="--seg cluster: number of clusters (default: chosen in 2..6)")
    g.add_argument("--save-masks", type=Path, default=None, metavar="DIR",
                   help="also write the masks in use as DIR/content_mask.png and "
                        "DIR/style_mask.png (DPST colour code, editable) and "
                        "DIR/content_overlay.png, DIR/style_overlay.png")

    g = p.add_argument_group("mode and style")
    g.add_argument("--mode", choices=("photo", "artistic"), default=_DEFAULTS.mode,
                   help="'photo': photorealistic (two stages, matting term, local-affine "
                        "post-process); 'artistic': Gatys et al.'s neural style (one stage, "
                        "none of those)")
    g.add_argument("--style-loss", choices=("gram", "histogram", "both"),
                   default=_DEFAULTS.style_loss,
                   help="style statistics: Gram matrices (Gatys), per-channel feature "
                        "histograms (Risser et al.; steadier), or both")
    g.add_argument("--style-blend-weights", type=_weights, default=None, metavar="W1,W2,...",
                   help="mixing weights of several style photos (default: equal)")
    g.add_argument("--style-scale", type=float, default=_DEFAULTS.style_scale,
                   help="size of the style photos relative to --size (larger: larger brush "
                        "strokes and structures)")
    g.add_argument("--original-colors", action="store_true",
                   help="keep the content's colours: transfer luminance only (YIQ)")

    g = p.add_argument_group("optimization")
    levels = "; ".join(f"{name}: {_schedule_text(steps)}" for name, steps in QUALITY.items())
    artistic = "; ".join(f"{name}: {_schedule_text(steps)}"
                         for name, steps in ARTISTIC_QUALITY.items())
    g.add_argument("--quality", choices=("preview", *QUALITY), default=_DEFAULTS.quality,
                   help="'preview': regional colour transfer + local-affine post-process only, "
                        "about a second, no VGG and no weights (optimization, loss-weight and "
                        "network options are then not used); the others are coarse-to-fine "
                        "schedules, stage-1+stage-2 steps per level, coarsest first, each "
                        f"level twice the size of the one before ({levels}; artistic mode: "
                        f"{artistic}); 'max' is the paper's single-scale run")
    g.add_argument("--size", type=int, default=_DEFAULTS.size,
                   help="long side of the working image in pixels (the finest level)")
    g.add_argument("--iters", type=_iters, default=_DEFAULTS.iters, metavar="N1,N2",
                   help="total steps of stage 1 (style) and stage 2 (style + matting), spread "
                        "over the levels in the --quality schedule's proportions (with --quality "
                        "max: the single-scale counts); N alone: N,N (artistic mode: N steps of "
                        "its one stage); default: the schedule's own")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default=_DEFAULTS.optimizer)
    g.add_argument("--lr", type=float, default=_DEFAULTS.lr, help="Adam learning rate")
    g.add_argument("--init", choices=("content", "noise", "transfer"), default=_DEFAULTS.init,
                   help="start of stage 1 ('transfer': the regional colour transfer of the "
                        "content); default: 'transfer' in photo mode, 'noise' in artistic mode")
    g.add_argument("--seed", type=int, default=_DEFAULTS.seed)

    g = p.add_argument_group("colour transfer (--quality preview, --init transfer)")
    g.add_argument("--transfer", dest="transfer_method", choices=("linear", "histogram"),
                   default=_DEFAULTS.transfer_method,
                   help="per-region map: mean and covariance (Monge-Kantorovich linear map) or "
                        "per-channel histogram matching")
    g.add_argument("--transfer-space", choices=("lab", "rgb"), default=_DEFAULTS.transfer_space,
                   help="colour space of the transfer")
    g.add_argument("--transfer-blend", type=int, default=_DEFAULTS.transfer_blend, metavar="PX",
                   help="half width in pixels of the soft blend across region borders")

    g = p.add_argument_group("loss weights (default: from the preset)")
    g.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="weight preset; default 'random' with --vgg-weights random, else 'paper'")
    g.add_argument("--content-weight", type=float, default=None)
    g.add_argument("--style-weight", type=float, default=None)
    g.add_argument("--tv-weight", type=float, default=None)
    g.add_argument("--lambda", dest="matting_weight", type=float, default=None,
                   help="weight λ of the photorealism (matting Laplacian) term")
    g.add_argument("--histogram-weight", type=float, default=None,
                   help="weight of the histogram style loss (--style-loss histogram|both)")

    g = p.add_argument_group("network and device")
    g.add_argument("--vgg-weights", default=None, metavar="W",
                   help=f"'imagenet', 'random' (untrained, for tests) or a local state dict "
                        f"(default: ${WEIGHTS_ENV}, else imagenet)")
    g.add_argument("--pooling", choices=("max", "avg"), default=_DEFAULTS.pooling,
                   help="VGG pooling; Gatys et al. found average pooling gives smoother "
                        "gradients")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    g.add_argument("--max-memory", type=_memory, default=None, metavar="GiB|auto",
                   help="memory budget; if the estimated peak exceeds it, work at the largest "
                        "size that fits and bring the result up to --size through the "
                        "local-affine post-process ('auto': the memory available now). Without "
                        "it a run that would not fit the available memory stops first, naming "
                        "a --size that fits")
    g.add_argument("--progress-every", type=int, default=_DEFAULTS.progress_every, metavar="K",
                   help="read the loss back from the device every K steps (progress bars, "
                        "--save-every); default 1 on the CPU, 20 on a GPU")
    g.add_argument("--autocast", action="store_true",
                   help="bfloat16 autocast for the VGG forward (for GPUs; losses stay float32)")
    g.add_argument("--compile", nargs="?", const=True, default=False, metavar="BACKEND",
                   help="torch.compile the VGG forward (optionally naming the backend); pays "
                        "off for long runs")
    g.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="channels-last memory format ('auto': on CUDA only)")
    g.add_argument("--no-tf32", action="store_true",
                   help="on CUDA, keep float32 matmuls and convolutions exact (default: TF32)")
    g.add_argument("--matting-operator", choices=("auto", "sparse", "matrix_free"),
                   default=_DEFAULTS.matting_operator,
                   help="apply the matting Laplacian as a sparse matrix or with box filters "
                        "('auto': the matting package's choice)")

    g = p.add_argument_group("output")
    g.add_argument("--post", action=argparse.BooleanOptionalAction, default=None,
                   help="the local-affine post-process (default: on in photo mode, off in "
                        "artistic mode)")
    g.add_argument("--save-every", type=int, default=0, metavar="K",
                   help="also write the image every K steps as <stem>.stageS_NNNN<ext>")
    g.add_argument("--save-stages", action="store_true",
                   help="also write <stem>.stage1<ext> and <stem>.stage2<ext> (before post)")
    g.add_argument("--report", type=Path, default=None, metavar="PATH.png",
                   help="also write a contact sheet (inputs, masks, stage 1, final, metrics)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def _device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device(choice)


def _config(args: argparse.Namespace, weights: str) -> Config:
    if args.progress_every is not None and args.progress_every < 1:
        raise InputError("--progress-every must be >= 1")
    if args.quality == "preview" and args.mode == "artistic":
        raise InputError("--quality preview is a photographic colour transfer; with --mode "
                         "artistic use --quality draft")
    if args.quality == "preview" and args.original_colors:
        raise InputError("--original-colors keeps the content's colours, and colours are all "
                         "--quality preview changes; drop one of them")
    iters = args.iters
    if iters is not None and len(iters) == 1:
        iters = (iters[0], 0 if args.mode == "artistic" else iters[0])
    elif iters is not None and args.mode == "artistic" and iters[1] != 0:
        raise InputError(f"--iters {iters[0]},{iters[1]}: artistic mode has one stage; give "
                         f"--iters {iters[0]}")
    blend = args.style_blend_weights
    if blend is not None and len(blend) != len(args.style):
        raise InputError(f"--style-blend-weights has {len(blend)} weights for "
                         f"{len(args.style)} style photos; give one per style photo")
    memory = args.max_memory
    return Config(
        mode=args.mode, style_loss=args.style_loss, histogram_weight=args.histogram_weight,
        style_blend_weights=blend, style_scale=args.style_scale,
        original_colors=args.original_colors,
        size=args.size, quality=_DEFAULTS.quality if args.quality == "preview" else args.quality,
        iters=iters, preset=args.preset,
        content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, matting_weight=args.matting_weight,
        optimizer=args.optimizer, lr=args.lr, init=args.init, seed=args.seed,
        vgg_weights=weights, pooling=args.pooling, post=args.post,
        transfer_method=args.transfer_method, transfer_space=args.transfer_space,
        transfer_blend=args.transfer_blend, progress_every=args.progress_every,
        autocast=args.autocast, compile=args.compile,
        channels_last={"auto": None, "on": True, "off": False}[args.channels_last],
        tf32=not args.no_tf32, matting_operator=args.matting_operator,
        fit_memory=memory is not None,
        memory_limit=None if memory in (None, "auto") else int(memory * 2**30),
    )


def _sibling(out: Path, tag: str) -> Path:
    return out.with_name(f"{out.stem}.{tag}{out.suffix}")


class _Progress:
    """tqdm bars (one per stage and level) and intermediate saves, driven by the library's
    callback (called every --progress-every steps)."""

    def __init__(self, out: Path, save_every: int, quiet: bool) -> None:
        self.out = out
        self.save_every = save_every
        self.quiet = quiet
        self.bar = None
        self.key = (0, 0)
        self.last = 0

    def __call__(self, info: StepInfo) -> None:
        if (info.level, info.stage) != self.key:
            self.close()
            self.key = (info.level, info.stage)
            self.last = 0
            if not self.quiet:
                from tqdm import tqdm

                h, w = info.image.shape[-2:]
                where = f"level {info.level}/{info.levels} ({w}x{h}) " if info.levels > 1 else ""
                self.bar = tqdm(total=info.steps, desc=f"{where}stage {info.stage}",
                                unit="step", dynamic_ncols=True, file=sys.stderr)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items()}, refresh=False)
            self.bar.update(info.step - self.last)
        # The first read at or after each multiple of --save-every (reads come every K steps).
        if self.save_every and info.step // self.save_every > self.last // self.save_every:
            level = f"L{info.level}_" if info.levels > 1 else ""
            save_image(info.image.clamp(0, 1),
                       _sibling(self.out, f"{level}stage{info.stage}_{info.step:04d}"))
        self.last = info.step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


#: Files written by --save-masks, in its folder.
_MASK_FILES = ("content_mask.png", "style_mask.png", "content_overlay.png", "style_overlay.png")


def _check_seg_options(args: argparse.Namespace, others: tuple[Path | None, ...]) -> None:
    """Validate --seg-k and --save-masks before any work (``others``: inputs and outputs)."""
    if args.seg_k is not None and not 1 <= args.seg_k <= MAX_K:
        raise InputError(f"--seg-k must be in 1..{MAX_K}, got {args.seg_k}")
    folder = args.save_masks
    if folder is None:
        return
    if args.seg == "none" and args.content_mask is None:
        raise InputError("--save-masks needs masks: add --seg auto, --seg cluster or "
                         "--content-mask/--style-mask")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--save-masks {folder} is a file; give a folder")
    if not folder.exists() and not folder.parent.is_dir():
        raise InputError(f"--save-masks folder {folder.parent} does not exist; create it first")
    for name in _MASK_FILES:
        target = (folder / name).resolve()
        for item in others:
            if item is not None and target == Path(item).resolve():
                raise InputError(f"--save-masks would overwrite {item}; choose another folder")


def _automatic_masks(args: argparse.Namespace, config: Config, weights: str,
                     content: torch.Tensor, style: torch.Tensor,
                     ) -> tuple[AlignedMasks, VGG19Features | None]:
    """--seg auto|cluster. With trained VGG weights (and not a preview) the network is built
    here, its relu4_1 features help the clustering, and it is returned for the transfer."""
    model = features = None
    if args.quality != "preview" and weights != "random":
        model = VGG19Features(weights, last=deepest(config.feature_layers),
                              pooling=config.pooling, seed=config.seed)
        model = model.to(device=content.device, dtype=content.dtype)

        def features(image: torch.Tensor) -> torch.Tensor:
            return model(image, ["relu4_1"])["relu4_1"]

    aligned = automatic_masks(content, style, args.seg, model=args.seg_model, k=args.seg_k,
                              features=features, seed=config.seed)
    return aligned, model


def _save_masks(folder: Path, aligned: AlignedMasks, content: torch.Tensor,
                style: torch.Tensor, quiet: bool) -> None:
    """--save-masks: the two colour masks (at the images' sizes) and their overlays."""
    folder.mkdir(exist_ok=True)
    names = iter(_MASK_FILES)
    for labels in (aligned.content_labels, aligned.style_labels):
        save_color_mask(labels, aligned.colors, folder / next(names))
    for image, labels in ((content, aligned.content_labels), (style, aligned.style_labels)):
        save_image(overlay_labels(image, labels, aligned.colors), folder / next(names))
    if not quiet:
        print(f"{PROG}: wrote {', '.join(str(folder / n) for n in _MASK_FILES)}",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run a transfer from parsed arguments; returns the exit status."""
    weights = resolve_weights(args.vgg_weights)
    config = _config(args, weights)
    if args.save_every < 0:
        raise InputError("--save-every must be >= 0")
    if (args.content_mask is None) != (args.style_mask is None):
        raise InputError("give both --content-mask and --style-mask, or neither")
    several = len(args.style) > 1
    if args.style_mask is not None and len(args.style_mask) != len(args.style):
        raise InputError(f"{len(args.style_mask)} --style-mask files for {len(args.style)} "
                         "style photos; give one mask per style photo, in the same order")
    if several and args.quality == "preview":
        raise InputError("--quality preview takes one style photo; give one, or use "
                         "--quality draft to blend several")
    if several and args.seg != "none" and args.content_mask is None:
        raise InputError(f"--seg {args.seg} takes one style photo; draw masks for each "
                         "(--content-mask and one --style-mask per style) or give one style")
    inputs = (args.content, *args.style, args.content_mask, *(args.style_mask or ()))
    out = check_output_path(args.output, inputs)
    if args.report is not None:
        check_report_path(args.report, (*inputs, out))
    _check_seg_options(args, (*inputs, out, args.report))
    device = _device(args.device)
    content = load_image(args.content, device=device)
    styles = [load_image(path, device=device) for path in args.style]
    style = styles[0]
    c_labels = s_labels = colors = aligned = model = None
    style_labels: list[np.ndarray] | None = None
    if args.content_mask is not None:
        if args.seg != "none":
            print(f"{PROG}: --content-mask/--style-mask given; --seg {args.seg} not used",
                  file=sys.stderr)
        c_parsed = load_color_mask(args.content_mask, tuple(content.shape[-2:]))
        # Each style mask is matched to the content's colours; the content's labels do not
        # depend on the style, so all styles share the first alignment's label set.
        alignments = [align_masks(c_parsed, load_color_mask(path, tuple(s.shape[-2:])))
                      for path, s in zip(args.style_mask, styles, strict=True)]
        aligned = alignments[0]
        style_labels = [a.style_labels for a in alignments]
    elif args.seg != "none":
        aligned, model = _automatic_masks(args, config, weights, content, style)
        style_labels = [aligned.style_labels]
    if aligned is not None:
        c_labels, s_labels = aligned.content_labels, aligned.style_labels
        colors = aligned.colors
        if args.save_masks is not None:
            _save_masks(args.save_masks, aligned, content, style, args.quiet)
    if args.quality == "preview":
        return _run_preview(args, config, content, style, c_labels, s_labels, colors, out)
    if weights == "random":
        print(f"{PROG}: using untrained random VGG-19 weights (seed {config.seed}): results are "
              "for testing the mechanics only", file=sys.stderr)
    if model is None:
        model = VGG19Features(weights, last=deepest(config.feature_layers),
                              pooling=config.pooling, seed=config.seed)
    progress = _Progress(out, args.save_every, args.quiet)
    if not args.quiet:
        levels = plan_levels(config, content.shape[-2:], [s.shape[-2:] for s in styles])
        if config.mode == "artistic":
            steps = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}" for lv in levels)
            what = "artistic mode, steps per level"
        else:
            steps = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}+{lv.iters[1]}"
                              for lv in levels)
            what = "steps per level (stage 1 + stage 2)"
        print(f"{PROG}: --quality {args.quality}, {what}: {steps}", file=sys.stderr)
    try:
        result = transfer(content, styles if several else style, c_labels,
                          style_labels if several else s_labels, config=config,
                          callback=progress, model=model)
    except TransferInterrupted as exc:
        progress.close()
        if exc.image is not None:
            save_image(exc.image, out)
            print(f"{PROG}: {exc}; best image so far written to {out}", file=sys.stderr)
        else:
            print(f"{PROG}: interrupted before the first step; nothing written", file=sys.stderr)
        return 130
    progress.close()
    ran = result.levels[-1] if result.levels else None
    if not args.quiet and ran is not None and (ran.height, ran.width) != \
            tuple(result.image.shape[-2:]):
        h, w = result.image.shape[-2:]
        print(f"{PROG}: worked at {ran.width}x{ran.height} to fit the memory budget; the "
              f"result was brought up to {w}x{h} through the local-affine post-process",
              file=sys.stderr)
    if args.save_stages:
        save_image(result.stage1, _sibling(out, "stage1"))
        if result.stage2 is not None:
            save_image(result.stage2, _sibling(out, "stage2"))
    save_image(result.image, out)
    if args.report is not None:
        _write_report(args, result, c_labels, s_labels, colors, model)
    if not args.quiet:
        spent = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()
                          if not k.startswith("level"))
        print(f"{PROG}: wrote {out} ({spent})", file=sys.stderr)
    return 0


def _run_preview(args: argparse.Namespace, config: Config, content: torch.Tensor,
                 style: torch.Tensor, c_labels: np.ndarray | None, s_labels: np.ndarray | None,
                 colors: tuple[tuple[int, int, int], ...] | None, out: Path) -> int:
    """``--quality preview``: no network is built, so no weights are ever needed."""
    start = time.perf_counter()
    image = preview(content, style, c_labels, s_labels, config=config)
    spent = time.perf_counter() - start
    save_image(image, out)
    if args.report is not None:
        result = TransferResult(image, None, None, [], {"preview": spent})
        _write_report(args, result, c_labels, s_labels, colors, None)
    if not args.quiet:
        print(f"{PROG}: wrote {out} (preview {spent:.2f}s)", file=sys.stderr)
    return 0


def _write_report(args: argparse.Namespace, result: TransferResult,
                  c_labels: np.ndarray | None, s_labels: np.ndarray | None,
                  colors: tuple[tuple[int, int, int], ...] | None,
                  model: VGG19Features | None) -> None:
    """Metrics of the final image and stage 1 (as saved, 8-bit) and the contact sheet (no
    stage 1 when ``result.stage1`` is None, as for a preview; no VGG metric without a model)."""
    from .metrics import evaluate
    from .report import save_contact_sheet

    content, style = read_image(args.content), read_image(args.style[0])
    final = to_uint8(result.image) / 255.0
    stage1 = stage1_metrics = None
    if result.stage1 is not None:
        stage1 = to_uint8(result.stage1) / 255.0
        stage1_metrics = evaluate(stage1, content, style, c_labels, s_labels, model=model)
    metrics = evaluate(final, content, style, c_labels, s_labels, model=model)
    save_contact_sheet(args.report, content, style, final, content_mask=c_labels,
                       style_mask=s_labels, colors=colors, stage1=stage1, metrics=metrics,
                       stage1_metrics=stage1_metrics,
                       title=f"{args.output.name}   (content {args.content.name}, style "
                             f"{args.style[0].name}"
                             f"{' and others' if len(args.style) > 1 else ''})")
    if not args.quiet:
        print(f"{PROG}: wrote {args.report}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``photostyle`` console script (``photostyle eval …``: the metrics)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "eval":
        from .evaluate import main as eval_main

        return eval_main(argv[1:])
    args = build_parser().parse_args(argv)
    return run_guarded(PROG, run, args, "interrupted; nothing written")


if __name__ == "__main__":
    sys.exit(main())
