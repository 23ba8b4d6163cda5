"""``photostyle run`` (the default command): one transfer from the command line.

A thin layer over the library: it owns argument parsing, progress bars, warnings on stderr,
intermediate saves, and turning user errors into one line on stderr and exit status 2. The
weight-free ``--quality preview`` never imports torch; the neural methods import it when they
run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import (
    ARTISTIC_QUALITY,
    PRESETS,
    PREVIEW,
    QUALITY,
    WEIGHTS_ENV,
    Config,
    resolve_weights,
)
from ..errors import InputError, require_both
from ..io.files import check_not_input, check_output_path
from ..io.images import fit_long_side, read_image, save_image, to_uint8
from .console import DEVICES, resolve_device, run_guarded
from .options import ConfigOptions, memory_budget, memory_fields, steps, weights_list

if TYPE_CHECKING:
    from segment import AlignedMasks

    from ..neural.transfer import StepInfo, TransferResult
    from ..neural.vgg import VGG19Features

NAME = "run"
PROG = "photostyle"

#: Segmentation choices of ``--seg`` (as :data:`segment.METHODS`, plus ``none``).
SEG_CHOICES = ("none", "auto", "cluster")

#: Files written by --save-masks, in its folder.
MASK_FILES = ("content_mask.png", "style_mask.png", "content_overlay.png", "style_overlay.png")


def _schedule_text(schedule: tuple[tuple[int, int], ...]) -> str:
    return " -> ".join(f"{a}+{b}" for a, b in schedule)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle run`` (no side effects beyond the parser)."""
    from segment.ade20k import DEFAULT_CHECKPOINT

    p = commands.add_parser(
        NAME, help="stylize a photo (the default command: 'photostyle CONTENT STYLE -o OUT')",
        description="Photorealistic style transfer (Luan et al., Deep Photo Style Transfer); "
                    "with --mode artistic, neural style (Gatys et al.).",
        epilog="Quality metrics and contact sheets of existing results: photostyle eval --help")
    options = ConfigOptions()
    add_field = options.add
    p.set_defaults(handler=main_guarded, config_options=options)
    p.add_argument("content", type=Path, help="content photo")
    p.add_argument("style", type=Path, nargs="*",
                   help="style photo; several are blended (see --style-blend-weights); none "
                        "with --model")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image (.png, .jpg …)")

    g = p.add_argument_group("trained look (photostyle train)")
    g.add_argument("--model", type=Path, default=None, metavar="LOOK.pt",
                   help="apply a look trained with 'photostyle train' (one forward pass, no "
                        "STYLE): a bilateral look at the content's full resolution (or "
                        "--size if given), a johnson look at --size; --post adds the "
                        "local-affine post-process; options of the optimization do not apply")

    g = p.add_argument_group("masks")
    g.add_argument("--content-mask", type=Path, help="colour-coded mask of the content photo")
    g.add_argument("--style-mask", type=Path, nargs="+",
                   help="colour-coded mask of the style photo (one per style photo)")
    g.add_argument("--seg", choices=SEG_CHOICES, default="none",
                   help="make the masks automatically: 'auto' = semantic segmentation (ADE20K "
                        "weights, falls back to 'cluster' when they cannot be had), 'cluster' "
                        "= co-segmentation, no weights; --content-mask/--style-mask win "
                        "(default: none)")
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
    add_field(g, "--mode", field="mode", choices=("photo", "artistic"),
              help="'photo': photorealistic (two stages, matting term, local-affine "
                   "post-process); 'artistic': Gatys et al.'s neural style (one stage, none of "
                   "those)")
    add_field(g, "--style-loss", field="style_loss", choices=("gram", "histogram", "both"),
              help="style statistics: Gram matrices (Gatys), per-channel feature histograms "
                   "(Risser et al.; steadier), or both")
    add_field(g, "--style-blend-weights", field="style_blend_weights", type=weights_list,
              metavar="W1,W2,...", help="mixing weights of several style photos (equal if "
                                        "not given)", show_default=False)
    add_field(g, "--style-scale", field="style_scale", type=float,
              help="size of the style photos relative to --size (larger: larger brush strokes "
                   "and structures)")
    add_field(g, "--original-colors", field="original_colors", action="store_const", const=True,
              help="keep the content's colours: transfer luminance only (YIQ)",
              show_default=False)

    g = p.add_argument_group("optimization")
    levels = "; ".join(f"{name}: {_schedule_text(s)}" for name, s in QUALITY.items())
    artistic = "; ".join(f"{name}: {_schedule_text(s)}" for name, s in ARTISTIC_QUALITY.items())
    add_field(g, "--quality", field="quality", choices=(PREVIEW, *QUALITY),
              help="'preview': regional colour transfer + local-affine post-process only, "
                   "well under a second, no VGG, no weights and no torch (optimization, "
                   "loss-weight and network options are then not used); the others are "
                   "coarse-to-fine schedules, stage-1+stage-2 steps per level, coarsest first, "
                   f"each level twice the size of the one before ({levels}; artistic mode: "
                   f"{artistic}); 'max' is the paper's single-scale run")
    add_field(g, "--size", field="size", type=int,
              help="long side of the working image in pixels (the finest level)")
    add_field(g, "--iters", field="iters", type=steps, metavar="N1,N2",
              help="total steps of stage 1 (style) and stage 2 (style + matting), spread over "
                   "the levels in the --quality schedule's proportions (with --quality max: "
                   "the single-scale counts); N alone: N,N (artistic mode: N steps of its one "
                   "stage); if not given: the schedule's own", show_default=False)
    add_field(g, "--optimizer", field="optimizer", choices=("lbfgs", "adam"),
              help="L-BFGS as the paper, or Adam")
    add_field(g, "--lr", field="lr", type=float, help="Adam learning rate")
    add_field(g, "--init", field="init", choices=("content", "noise", "transfer"),
              help="start of stage 1 ('transfer': the regional colour transfer of the content); "
                   "if not given: 'transfer' in photo mode, 'noise' in artistic mode",
              show_default=False)
    add_field(g, "--seed", field="seed", type=int, help="seed of the noise start and of "
                                                        "--vgg-weights random")

    g = p.add_argument_group("colour transfer (--quality preview, --init transfer)")
    add_field(g, "--transfer", field="transfer_method", choices=("linear", "histogram"),
              help="per-region map: mean and covariance (Monge-Kantorovich linear map) or "
                   "per-channel histogram matching")
    add_field(g, "--transfer-space", field="transfer_space", choices=("lab", "rgb"),
              help="colour space of the transfer")
    add_field(g, "--transfer-blend", field="transfer_blend", type=int, metavar="PX",
              help="half width in pixels of the soft blend across region borders")

    g = p.add_argument_group("loss weights (default: from the preset)")
    add_field(g, "--preset", field="preset", choices=sorted(PRESETS),
              help="weight preset (if not given: paper)", show_default=False)
    for flag, field, what in (("--content-weight", "content_weight", "content term"),
                              ("--style-weight", "style_weight", "Gram style term"),
                              ("--tv-weight", "tv_weight", "total-variation term"),
                              ("--lambda", "matting_weight",
                               "photorealism (matting Laplacian) term, the paper's λ"),
                              ("--histogram-weight", "histogram_weight",
                               "histogram style term (--style-loss histogram|both)")):
        preset = PRESETS["paper"][field]
        add_field(g, flag, field=field, type=float,
                  help=f"weight of the {what} (paper preset: {preset:g})", show_default=False)

    g = p.add_argument_group("network and device")
    g.add_argument("--vgg-weights", default=None, metavar="W",
                   help=f"'imagenet', 'random' (untrained, for tests) or a local state dict "
                        f"(default: ${WEIGHTS_ENV}, else imagenet)")
    add_field(g, "--pooling", field="pooling", choices=("max", "avg"),
              help="VGG pooling; Gatys et al. found average pooling gives smoother gradients")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to run (default: auto, CUDA when available)")
    g.add_argument("--max-memory", type=memory_budget, default=None, metavar="GiB|auto",
                   help="memory budget; if the estimated peak exceeds it, work at the largest "
                        "size that fits and bring the result up to --size through the "
                        "local-affine post-process ('auto': the memory available now). Without "
                        "it a run that would not fit the available memory stops first, naming "
                        "a --size that fits")
    add_field(g, "--progress-every", field="progress_every", type=int, metavar="K",
              help="read the loss back from the device every K steps (progress bars, "
                   "--save-every); if not given: 1 on the CPU, 20 on a GPU", show_default=False)
    add_field(g, "--autocast", field="autocast", action="store_const", const=True,
              help="bfloat16 autocast for the VGG forward (for GPUs; losses stay float32)",
              show_default=False)
    add_field(g, "--compile", field="compile", nargs="?", const=True, metavar="BACKEND",
              help="torch.compile the VGG forward (optionally naming the backend); pays off "
                   "for long runs", show_default=False)
    g.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="channels-last memory format (default: auto, on CUDA only)")
    add_field(g, "--no-tf32", field="tf32", action="store_const", const=False,
              help="on CUDA, keep float32 matmuls and convolutions exact (default: TF32)",
              show_default=False)
    add_field(g, "--matting-operator", field="matting_operator",
              choices=("auto", "sparse", "matrix_free"),
              help="apply the matting Laplacian as a sparse matrix or with box filters "
                   "('auto': the matting package's choice)")

    g = p.add_argument_group("output")
    add_field(g, "--post", field="post", action=argparse.BooleanOptionalAction,
              help="the local-affine post-process (if not given: on in photo mode, off in "
                   "artistic mode)", show_default=False)
    g.add_argument("--save-every", type=int, default=0, metavar="K",
                   help="also write the image every K steps as <stem>.stageS_NNNN<ext>")
    g.add_argument("--save-stages", action="store_true",
                   help="also write <stem>.stage1<ext> and <stem>.stage2<ext> (before post)")
    g.add_argument("--report", type=Path, default=None, metavar="PATH.png",
                   help="also write a contact sheet (inputs, masks, stage 1, final, metrics)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def _config(args: argparse.Namespace, weights: str) -> Config:
    """The Config of the options given; Config checks every value."""
    channels_last = {"auto": None, "on": True, "off": False}[args.channels_last]
    config = args.config_options.config(args, vgg_weights=weights, channels_last=channels_last,
                                        **memory_fields(args.max_memory))
    blend = config.style_blend_weights
    if blend is not None and len(blend) != len(args.style):
        raise InputError(f"--style-blend-weights has {len(blend)} weights for "
                         f"{len(args.style)} style photos; give one per style photo")
    return config


def sibling(out: Path, tag: str) -> Path:
    """``<stem>.<tag><ext>`` beside ``out`` (stage images)."""
    return out.with_name(f"{out.stem}.{tag}{out.suffix}")


class Progress:
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
                       sibling(self.out, f"{level}stage{info.stage}_{info.step:04d}"))
        self.last = info.step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _check_seg_options(args: argparse.Namespace, others: tuple[Path | None, ...]) -> None:
    """Validate --seg-k and --save-masks before any work (``others``: inputs and outputs)."""
    if args.seg_k is not None:
        from segment.cluster import MAX_K

        if not 1 <= args.seg_k <= MAX_K:
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
    for name in MASK_FILES:
        check_not_input(folder / name, others, "--save-masks file")


def _automatic_masks(args: argparse.Namespace, config: Config, content: Any, style: Any,
                     ) -> tuple[AlignedMasks, VGG19Features | None]:
    """--seg auto|cluster. With trained VGG weights (and not a preview) the network is built
    here, its relu4_1 features help the clustering, and it is returned for the transfer."""
    from segment import automatic_masks

    model = features = None
    if config.quality != PREVIEW and config.vgg_weights != "random":
        model = _network(config).to(device=content.device, dtype=content.dtype)

        def features(image: Any) -> Any:
            return model(image, ["relu4_1"])["relu4_1"]

    aligned = automatic_masks(content, style, args.seg, model=args.seg_model, k=args.seg_k,
                              features=features, seed=config.seed)
    return aligned, model


def _network(config: Config) -> VGG19Features:
    from ..neural.vgg import VGG19Features, deepest

    return VGG19Features(config.vgg_weights, last=deepest(config.feature_layers),
                         pooling=config.pooling, seed=config.seed)


def _save_masks(folder: Path, aligned: AlignedMasks, content: np.ndarray, style: np.ndarray,
                quiet: bool) -> None:
    """--save-masks: the two colour masks (at the images' sizes) and their overlays."""
    from segment import color_mask_image

    from ..evaluation.report import mask_overlay

    folder.mkdir(exist_ok=True)
    names = iter(MASK_FILES)
    for labels in (aligned.content_labels, aligned.style_labels):
        save_image(color_mask_image(labels, aligned.colors), folder / next(names))
    for image, labels in ((content, aligned.content_labels), (style, aligned.style_labels)):
        save_image(mask_overlay(image, labels, aligned.colors, alpha=0.5), folder / next(names))
    if not quiet:
        print(f"{PROG}: wrote {', '.join(str(folder / n) for n in MASK_FILES)}",
              file=sys.stderr)


def _masks(args: argparse.Namespace, config: Config, content: Any, styles: list[Any],
           ) -> tuple[AlignedMasks | None, list[np.ndarray] | None, VGG19Features | None]:
    """The masks of the run: drawn (--content-mask/--style-mask, one per style) or automatic
    (--seg); the aligned masks, each style's label map, and a network built for --seg auto."""
    from segment import align_masks, load_color_mask

    if args.content_mask is not None:
        if args.seg != "none":
            print(f"{PROG}: --content-mask/--style-mask given; --seg {args.seg} not used",
                  file=sys.stderr)
        c_parsed = load_color_mask(args.content_mask, _hw(content))
        # Each style mask is matched to the content's colours; the content's labels do not
        # depend on the style, so all styles share the first alignment's label set.
        alignments = [align_masks(c_parsed, load_color_mask(path, _hw(s)))
                      for path, s in zip(args.style_mask, styles, strict=True)]
        return alignments[0], [a.style_labels for a in alignments], None
    if args.seg != "none":
        aligned, model = _automatic_masks(args, config, content, styles[0])
        return aligned, [aligned.style_labels], model
    return None, None, None


def _hw(image: Any) -> tuple[int, int]:
    """``(H, W)`` of an ``(H,W,3)`` array or a ``(1,3,H,W)`` tensor."""
    shape = tuple(image.shape)
    return (int(shape[0]), int(shape[1])) if len(shape) == 3 else (int(shape[-2]),
                                                                    int(shape[-1]))


def run(args: argparse.Namespace) -> int:
    """Run a transfer from parsed arguments; returns the exit status."""
    if args.model is not None:
        return _run_look(args)
    if not args.style:
        raise InputError("give a STYLE photo after the content, or --model LOOK.pt to apply a "
                         "look trained with 'photostyle train'")
    weights = resolve_weights(args.vgg_weights)
    config = _config(args, weights)
    if args.save_every < 0:
        raise InputError("--save-every must be >= 0")
    require_both(args.content_mask, args.style_mask, ("--content-mask", "--style-mask"))
    several = len(args.style) > 1
    if args.style_mask is not None and len(args.style_mask) != len(args.style):
        raise InputError(f"{len(args.style_mask)} --style-mask files for {len(args.style)} "
                         "style photos; give one mask per style photo, in the same order")
    if several and config.quality == PREVIEW:
        raise InputError("--quality preview takes one style photo; give one, or use "
                         "--quality draft to blend several")
    if several and args.seg != "none" and args.content_mask is None:
        raise InputError(f"--seg {args.seg} takes one style photo; draw masks for each "
                         "(--content-mask and one --style-mask per style) or give one style")
    inputs = (args.content, *args.style, args.content_mask, *(args.style_mask or ()))
    out = check_output_path(args.output, inputs)
    if args.report is not None:
        check_output_path(args.report, (*inputs, out), what="report")
    _check_seg_options(args, (*inputs, out, args.report))
    if config.quality == PREVIEW:
        return _run_preview(args, config, out)
    return _run_neural(args, config, out, several)


#: Options of ``run`` that a look takes (``--model``): besides these, only -o, --device, -q.
LOOK_FIELDS = ("size", "post")


def _check_look_options(args: argparse.Namespace) -> None:
    """--model: refuse STYLE and the options of the optimization (a look carries its own)."""
    if args.style:
        raise InputError(f"--model {args.model} carries its style; drop the STYLE photo "
                         f"{args.style[0]}")
    options = args.config_options
    given = [options.flags[f] for f in options.given(args) if f not in LOOK_FIELDS]
    others = {"--content-mask": args.content_mask, "--style-mask": args.style_mask,
              "--seg": None if args.seg == "none" else args.seg, "--seg-model": args.seg_model,
              "--seg-k": args.seg_k, "--save-masks": args.save_masks,
              "--save-every": args.save_every or None, "--save-stages": args.save_stages or None,
              "--report": args.report, "--vgg-weights": args.vgg_weights,
              "--max-memory": args.max_memory,
              "--channels-last": None if args.channels_last == "auto" else args.channels_last}
    given += [flag for flag, value in others.items() if value is not None]
    if given:
        raise InputError(f"{', '.join(given)}: not used with --model (a look is one forward "
                         "pass, trained with its own settings); drop them")


def _run_look(args: argparse.Namespace) -> int:
    """--model LOOK.pt: one forward pass of a trained look (torch, no VGG)."""
    _check_look_options(args)
    out = check_output_path(args.output, (args.content, args.model))
    config = args.config_options.config(args)
    import torch

    from ..io.tensors import load_image, resize
    from ..looks.look import Look

    look = Look.load(args.model)
    if look.for_tests_only:
        print(f"{PROG}: {args.model} was trained with untrained random VGG-19 weights: for "
              "testing the mechanics only", file=sys.stderr)
    device = resolve_device(args.device)
    content = load_image(args.content, device=device)
    if look.arch == "johnson" or "size" in args.config_options.given(args):
        content = resize(content, fit_long_side(*content.shape[-2:], config.size))
    start = time.perf_counter()
    with torch.inference_mode():
        image = look(content, post=bool(config.post), config=config)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    spent = time.perf_counter() - start
    save_image(image, out)
    if not args.quiet:
        h, w = image.shape[-2:]
        post = " + post-process" if config.post else ""
        print(f"{PROG}: wrote {out} ({look.arch} look at {w}x{h}, forward{post} "
              f"{spent:.2f}s)", file=sys.stderr)
    return 0


def _run_preview(args: argparse.Namespace, config: Config, out: Path) -> int:
    """``--quality preview``: numpy only, no network, no weights, no torch."""
    from ..classic.preview import preview

    content, style = read_image(args.content), read_image(args.style[0])
    aligned, style_labels, _ = _masks(args, config, content, [style])
    c_labels = None if aligned is None else aligned.content_labels
    s_labels = None if style_labels is None else style_labels[0]
    if aligned is not None and args.save_masks is not None:
        _save_masks(args.save_masks, aligned, content, style, args.quiet)
    start = time.perf_counter()
    image = preview(content, style, c_labels, s_labels, config=config)
    spent = time.perf_counter() - start
    save_image(image, out)
    if args.report is not None:
        _write_report(args, image, None, aligned, s_labels, None)
    if not args.quiet:
        print(f"{PROG}: wrote {out} (preview {spent:.2f}s)", file=sys.stderr)
    return 0


def _run_neural(args: argparse.Namespace, config: Config, out: Path, several: bool) -> int:
    """The neural methods (torch)."""
    from ..io.tensors import load_image, to_array
    from ..neural.schedule import plan_levels
    from ..neural.transfer import TransferInterrupted, transfer

    device = resolve_device(args.device)
    content = load_image(args.content, device=device)
    styles = [load_image(path, device=device) for path in args.style]
    aligned, style_labels, model = _masks(args, config, content, styles)
    c_labels = None if aligned is None else aligned.content_labels
    if aligned is not None and args.save_masks is not None:
        _save_masks(args.save_masks, aligned, to_array(content), to_array(styles[0]),
                    args.quiet)
    if config.vgg_weights == "random":
        print(f"{PROG}: using untrained random VGG-19 weights (seed {config.seed}): results are "
              "for testing the mechanics only", file=sys.stderr)
    if model is None:
        model = _network(config)
    progress = Progress(out, args.save_every, args.quiet)
    if not args.quiet:
        levels = plan_levels(config, content.shape[-2:], [s.shape[-2:] for s in styles])
        if config.mode == "artistic":
            text = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}" for lv in levels)
            what = "artistic mode, steps per level"
        else:
            text = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}+{lv.iters[1]}"
                             for lv in levels)
            what = "steps per level (stage 1 + stage 2)"
        print(f"{PROG}: --quality {config.quality}, {what}: {text}", file=sys.stderr)
    s_labels = None if style_labels is None else (style_labels if several else style_labels[0])
    try:
        result = transfer(content, styles if several else styles[0], c_labels, s_labels,
                          config=config, callback=progress, model=model)
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
        save_image(result.stage1, sibling(out, "stage1"))
        if result.stage2 is not None:
            save_image(result.stage2, sibling(out, "stage2"))
    save_image(result.image, out)
    if args.report is not None:
        _write_report(args, result.image, result, aligned,
                      None if style_labels is None else style_labels[0], model)
    if not args.quiet:
        spent = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()
                          if not k.startswith("level"))
        print(f"{PROG}: wrote {out} ({spent})", file=sys.stderr)
    return 0


def _write_report(args: argparse.Namespace, final_image: Any, result: TransferResult | None,
                  aligned: AlignedMasks | None, s_labels: np.ndarray | None,
                  model: VGG19Features | None) -> None:
    """Metrics of the final image and stage 1 (as saved, 8-bit) and the contact sheet (no
    stage 1 for a preview; no VGG metric without a model)."""
    from ..evaluation.metrics import evaluate
    from ..evaluation.report import save_contact_sheet

    content, style = read_image(args.content), read_image(args.style[0])
    c_labels = None if aligned is None else aligned.content_labels
    colors = None if aligned is None else aligned.colors
    final = to_uint8(final_image) / 255.0
    stage1 = stage1_metrics = None
    if result is not None and result.stage1 is not None:
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


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle run`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "interrupted; nothing written")
