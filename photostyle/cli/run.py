"""``photostyle run`` (the default command): one transfer from the command line.

A thin layer over the library: it owns argument parsing, progress bars, warnings on stderr,
intermediate saves, the JSON loss log, and turning user errors into one line on stderr and exit
status 2. The weight-free ``--quality preview`` never imports torch; the neural methods import
it when they run. With ``--vgg-weights auto`` (the default) and no weights to be had, the
weight-free method runs instead (:func:`weights_or_fallback`), with one warning line.

Before any work: the options (Config), every file the run may write against every input
(:func:`planned_outputs`, :func:`photostyle.io.files.check_outputs`) and every input's header
(the runner's ``inspect``). A run that stops keeps what it can: Ctrl-C or SIGTERM writes the
best image so far (also between pyramid levels and during the post-process), a divergence
writes it too and exits 2, and a stop while the report is made leaves OUT complete.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import (
    ARTISTIC_QUALITY,
    INITS,
    LOSS_FORMS,
    PRESETS,
    PREVIEW,
    QUALITY,
    RECIPES,
    VARIABLES,
    Config,
    resolve_weights,
)
from ..errors import InputError, OutputError, WeightsError, require_both
from ..interrupts import deferred_signals, interrupt_status, interrupt_word
from ..io.files import PlannedOutput, check_outputs, os_error_message
from ..io.images import save_image, to_uint8
from ..methods import Output, Runner, RunnerSpec, Segmentation, Task, runner_class
from ..methods.base import SEGMENTATIONS, Prepared
from .console import run_guarded
from .options import (
    DEVICES,
    ConfigOptions,
    add_vgg_options,
    memory_budget,
    memory_fields,
    steps,
    weights_list,
)

if TYPE_CHECKING:

    from ..neural.transfer import StepInfo

NAME = "run"
PROG = "photostyle"

#: Files written by --save-masks, in its folder.
MASK_FILES = ("content_mask.png", "style_mask.png", "content_overlay.png", "style_overlay.png")


def _schedule_text(schedule: tuple[tuple[int, int], ...]) -> str:
    return " -> ".join(f"{a}+{b}" for a, b in schedule)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle run`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="stylize a photo (the default command: 'photostyle CONTENT STYLE -o OUT')",
        description="Photorealistic style transfer (Luan et al., Deep Photo Style Transfer); "
                    "with --mode artistic, neural style (Gatys et al.).",
        epilog="Quality metrics and contact sheets of existing results: photostyle eval --help")
    options = ConfigOptions()
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
    add_segmentation_options(g)
    g.add_argument("--save-masks", type=Path, default=None, metavar="DIR",
                   help="also write the masks in use as DIR/content_mask.png and "
                        "DIR/style_mask.png (DPST colour code, editable) and "
                        "DIR/content_overlay.png, DIR/style_overlay.png")
    groups = add_method_options(p, options)
    groups["network and device"].add_argument(
        "--device", choices=DEVICES, default="auto",
        help="where to run (default: auto, CUDA when available)")

    g = groups["output"]
    g.add_argument("--save-every", type=int, default=0, metavar="K",
                   help="also write the image every K steps as <stem>.stageS_NNNN<ext>")
    g.add_argument("--save-stages", action="store_true",
                   help="also write <stem>.stage1<ext> and <stem>.stage2<ext> (before post)")
    g.add_argument("--report", type=Path, default=None, metavar="PATH.png",
                   help="also write a contact sheet (inputs, masks, stage 1, final, loss "
                        "curves, metrics)")
    g.add_argument("--log-json", type=Path, default=None, metavar="FILE",
                   help="also write one JSON line per reported step (level, stage, step, each "
                        "weighted loss term, total, seconds); a stage's step 0 holds the terms "
                        "of its start image")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def add_segmentation_options(g: argparse._ArgumentGroup) -> None:
    """``--seg``, ``--seg-model`` and ``--seg-k`` (``run`` and ``batch``)."""
    from segment.ade20k import DEFAULT_CHECKPOINT

    g.add_argument("--seg", choices=SEGMENTATIONS, default="none",
                   help="make the masks automatically: 'auto' = semantic segmentation (ADE20K "
                        "weights, falls back to 'cluster' when they cannot be had), 'cluster' "
                        "= co-segmentation, no weights; --content-mask/--style-mask win "
                        "(default: none)")
    g.add_argument("--seg-model", default=None, metavar="ID_OR_DIR",
                   help=f"--seg auto: segmentation_models_pytorch ADE20K checkpoint, a Hugging "
                        f"Face Hub id or a local folder (default {DEFAULT_CHECKPOINT})")
    g.add_argument("--seg-k", type=int, default=None, metavar="K",
                   help="--seg cluster: number of clusters (default: chosen in 2..6)")


def add_method_options(p: argparse.ArgumentParser, options: ConfigOptions,
                       ) -> dict[str, argparse._ArgumentGroup]:
    """The options of the methods' settings (Config fields, ``--vgg-weights`` and the
    network's), shared by ``run`` and ``batch``; returns the groups by title so that a
    command can add its own options to them."""
    add_field = options.add
    groups: dict[str, argparse._ArgumentGroup] = {}

    g = groups["mode and style"] = p.add_argument_group("mode and style")
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

    g = groups["optimization"] = p.add_argument_group("optimization")
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
    add_field(g, "--variable", field="variable", choices=VARIABLES,
              help="what the optimizer updates: the image in [0, 1], or the image in Caffe "
                   "units (BGR, 256*v - mean) as the Lua code; L-BFGS's first step depends on "
                   "it")
    add_field(g, "--init", field="init", metavar="|".join((*INITS, "PATH")),
              help="start of stage 1: 'transfer' (the regional colour transfer of the "
                   "content), 'content', 'noise', 'mean' (the Lua code's start: randn*1e-4 in "
                   "Caffe units, the mean colour) or an image file, resized to the working "
                   "size (with --iters 0,N: stage 2's start); if not given: 'transfer' in "
                   "photo mode, 'noise' in artistic mode", show_default=False)
    add_field(g, "--seed", field="seed", type=int, help="seed of the noise start and of "
                                                        "--vgg-weights random")

    g = groups["colour transfer"] = p.add_argument_group(
        "colour transfer (--quality preview, --init transfer)")
    add_field(g, "--transfer", field="transfer_method", choices=("linear", "histogram"),
              help="per-region map: mean and covariance (Monge-Kantorovich linear map) or "
                   "per-channel histogram matching")
    add_field(g, "--transfer-space", field="transfer_space", choices=("lab", "rgb"),
              help="colour space of the transfer")
    add_field(g, "--transfer-blend", field="transfer_blend", type=int, metavar="PX",
              help="half width in pixels of the soft blend across region borders")

    g = groups["loss"] = p.add_argument_group("loss (weights: from the preset)")
    g.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="set many options at once; 'paper': the authors' run (Caffe VGG-19, "
                        "--loss paper, --quality max (1000+1000 L-BFGS steps), --init mean, "
                        "--variable caffe, --size 700, post-process radius 15, edge 0.01); "
                        "options given explicitly override it")
    add_field(g, "--loss", field="loss", choices=LOSS_FORMS,
              help="form of the loss terms: 'paper' = the Lua code's objective term by term "
                   "(raw means of Caffe VGG-19 activations), 'relative' = photostyle's "
                   "dimensionless terms (if not given: paper with a Caffe network, relative "
                   "otherwise)", show_default=False)
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

    g = groups["network and device"] = p.add_argument_group("network and device")
    add_vgg_options(g, options, "the weight-free colour transfer runs instead, with a warning")
    add_field(g, "--pooling", field="pooling", choices=("max", "avg"),
              help="VGG pooling; Gatys et al. found average pooling gives smoother gradients")
    g.add_argument("--max-memory", type=memory_budget, default=None, metavar="GiB|auto",
                   help="memory budget; if the estimated peak exceeds it, work at the largest "
                        "size that fits and bring the result up to --size through the "
                        "local-affine post-process ('auto': the memory available now). Without "
                        "it a run that would not fit the available memory stops first, naming "
                        "a --size that fits")
    add_field(g, "--max-pixels", field="max_pixels", type=int, metavar="N",
              help="refuse an input image of more than N pixels before decoding it (a larger "
                   "photo, or a file that decodes to gigabytes)")
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

    g = groups["output"] = p.add_argument_group("output")
    add_field(g, "--post", field="post", action=argparse.BooleanOptionalAction,
              help="the local-affine post-process (if not given: on in photo mode, off in "
                   "artistic mode)", show_default=False)
    return groups


def method_config(args: argparse.Namespace, **changes: Any) -> Config:
    """The Config of the method options given (:func:`add_method_options`) over the recipe's
    (``--recipe``), and of ``changes`` (fields); Config checks every value. The weights:
    ``--vgg-weights``, else ``$PHOTOSTYLE_VGG_WEIGHTS``, else the recipe's, else Config's."""
    recipe = RECIPES[args.recipe] if args.recipe is not None else {}
    weights = resolve_weights(args.vgg_weights, recipe.get("vgg_weights"))
    channels_last = {"auto": None, "on": True, "off": False}[args.channels_last]
    return args.config_options.config(args, recipe, vgg_weights=weights,
                                      channels_last=channels_last,
                                      **memory_fields(args.max_memory), **changes)


def weights_or_fallback(config: Config, *, several: bool = False, quiet: bool = False,
                        ) -> Config:
    """``--vgg-weights auto`` resolved: the Caffe network if it is cached or can be downloaded
    (``vgg_weights="caffe"``), else the weight-free method (``quality="preview"``) after one
    warning line that says what runs instead and how to get the weights. The one place that
    chooses that method. Other settings are returned as they are.

    Raises
    ------
    WeightsError
        No weights, and no weight-free method stands in for these settings (artistic mode,
        several styles, original colours).
    """
    if config.vgg_weights != "auto" or config.quality == PREVIEW:
        return config
    from ..config import CAFFE_FILE, CAFFE_URL
    from ..neural.vgg import cache_path, fetch_caffe_weights

    try:
        fetch_caffe_weights(progress=not quiet)
    except WeightsError:
        if config.mode != "photo" or several or config.original_colors:
            raise
        print(f"{PROG}: warning: no VGG-19 weights ({CAFFE_FILE} is not cached and could not be "
              f"downloaded), so the weight-free colour transfer (--quality preview) runs instead "
              f"of the neural method; for that, download {CAFFE_URL} and copy it to "
              f"{cache_path(CAFFE_FILE)} or pass --vgg-weights PATH --vgg-format caffe",
              file=sys.stderr)
        return config.replace(quality=PREVIEW)
    return config.replace(vgg_weights="caffe")


def segmentation(args: argparse.Namespace) -> Segmentation:
    """The automatic masks of ``--seg``, ``--seg-model``, ``--seg-k`` (checked)."""
    return Segmentation(args.seg, args.seg_model, args.seg_k)


def random_weights_note(config: Config) -> None:
    """Say on stderr that untrained weights are in use (never silently)."""
    if config.vgg_weights == "random" and config.quality != PREVIEW:
        print(f"{PROG}: using untrained random VGG-19 weights (seed {config.seed}): results are "
              "for testing the mechanics only", file=sys.stderr)


def plan_text(prepared: Prepared) -> str:
    """The neural method's pyramid, one line: what will run at each level."""
    config, levels = prepared.config, prepared.levels or ()
    if config.mode == "artistic":
        text = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}" for lv in levels)
        what = "artistic mode, steps per level"
    else:
        text = "; ".join(f"{lv.width}x{lv.height}: {lv.iters[0]}+{lv.iters[1]}"
                         for lv in levels)
        what = "steps per level (stage 1 + stage 2)"
    return f"--quality {config.quality}, {what}: {text}"


def sibling(out: Path, tag: str) -> Path:
    """``<stem>.<tag><ext>`` beside ``out`` (stage images)."""
    return out.with_name(f"{out.stem}.{tag}{out.suffix}")


def save_every_pattern(out: Path) -> re.Pattern[str]:
    """Names of every image ``--save-every`` may write beside ``out``:
    ``<stem>.stageS_NNNN<ext>`` and ``<stem>.L<l>_stageS_NNNN<ext>`` (see :class:`Progress`)."""
    return re.compile(rf"{re.escape(out.stem)}\.(?:L\d+_)?stage\d+_\d+{re.escape(out.suffix)}")


def intermediate_outputs(out: Path, save_stages: bool, save_every: int) -> list[PlannedOutput]:
    """The intermediate images a run writing ``out`` may write (``--save-stages``,
    ``--save-every``), for :func:`photostyle.io.files.check_outputs`."""
    plan = []
    if save_stages:
        plan += [PlannedOutput(sibling(out, f"stage{s}"), "--save-stages image") for s in (1, 2)]
    if save_every:
        plan.append(PlannedOutput(sibling(out, "stage1_0001"), "--save-every image",
                                  pattern=save_every_pattern(out)))
    return plan


def planned_outputs(args: argparse.Namespace, config: Config) -> list[PlannedOutput]:
    """Every file ``photostyle run`` may write with these arguments: OUT, the intermediate
    images (not for a preview, which has none), the report, the loss log and the masks."""
    plan = [PlannedOutput(args.output, "output")]
    if config.quality != PREVIEW:
        plan += intermediate_outputs(args.output, args.save_stages, args.save_every)
    if args.report is not None:
        plan.append(PlannedOutput(args.report, "--report"))
    if args.log_json is not None:
        plan.append(PlannedOutput(args.log_json, "--log-json file", image=False))
    if args.save_masks is not None:
        plan += [PlannedOutput(args.save_masks / name, "--save-masks", make_folder=True)
                 for name in MASK_FILES]
    return plan


class Progress:
    """tqdm bars (one per stage and level) and intermediate saves, driven by the library's
    callback (called every --progress-every steps)."""

    def __init__(self, out: Path | None, save_every: int, quiet: bool, *, position: int = 0,
                 leave: bool = True) -> None:
        self.out = out
        self.save_every = save_every
        self.quiet = quiet
        self.position = position
        self.leave = leave
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
                                unit="step", dynamic_ncols=True, file=sys.stderr,
                                position=self.position, leave=self.leave)
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


class JsonLog:
    """``--log-json``: one JSON object per line and per reported step, written and flushed as
    it comes (an interrupted run keeps every line so far); the file is created at the first
    record. ``step`` counts the updates before the image the terms belong to (0: the stage's
    start image); ``seconds`` is the time since the stage started (at this level). A line
    log, not an atomic write; an OS error (a full disk) is an
    :class:`~photostyle.errors.OutputError` naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def __call__(self, info: StepInfo) -> None:
        record = {"level": info.level, "stage": info.stage, "step": info.step - 1,
                  **info.losses, "total": info.total, "seconds": round(info.elapsed, 4)}
        try:
            if self.handle is None:
                self.handle = self.path.open("w", encoding="utf-8")
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()
        except OSError as exc:
            raise OutputError(os_error_message(self.path, exc)) from exc

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _check_save_masks(args: argparse.Namespace) -> None:
    """Validate --save-masks before any work (its files: :func:`planned_outputs`)."""
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


def _save_masks(folder: Path, prepared: Prepared, quiet: bool) -> None:
    """--save-masks: the two colour masks (at the images' sizes) and their overlays."""
    from segment import color_mask_image

    from ..classic.preview import as_array
    from ..evaluation.report import mask_overlay

    aligned = prepared.masks
    content, style = as_array(prepared.content, "content"), as_array(prepared.style, "style")
    folder.mkdir(exist_ok=True)
    names = iter(MASK_FILES)
    for labels in (aligned.content_labels, aligned.style_labels):
        save_image(color_mask_image(labels, aligned.colors), folder / next(names))
    for image, labels in ((content, aligned.content_labels), (style, aligned.style_labels)):
        save_image(mask_overlay(image, labels, aligned.colors, alpha=0.5), folder / next(names))
    if not quiet:
        print(f"{PROG}: wrote {', '.join(str(folder / n) for n in MASK_FILES)}",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run a transfer from parsed arguments; returns the exit status.

    Before any work (decoding a photo, fetching weights, building a network): the options
    (Config), every file the run may write against every input (:func:`planned_outputs`,
    :func:`photostyle.io.files.check_outputs`) and every input's header (the runner's
    ``inspect``: pixel limit, readability, sizes VGG-19 can take). With ``--model``: a
    trained look (:func:`_run_look`).
    """
    if args.model is not None:
        return _run_look(args)
    if not args.style:
        raise InputError("give a STYLE photo after the content, or --model LOOK.pt to apply a "
                         "look trained with 'photostyle train'")
    config = method_config(args)
    blend = config.style_blend_weights
    if blend is not None and len(blend) != len(args.style):
        raise InputError(f"--style-blend-weights has {len(blend)} weights for "
                         f"{len(args.style)} style photos; give one per style photo")
    if args.save_every < 0:
        raise InputError(f"--save-every {args.save_every}: expected a step count >= 0 (0: off)")
    require_both(args.content_mask, args.style_mask, ("--content-mask", "--style-mask"))
    if args.style_mask is not None and len(args.style_mask) != len(args.style):
        raise InputError(f"{len(args.style_mask)} --style-mask files for {len(args.style)} "
                         "style photos; give one mask per style photo, in the same order")
    task = Task(args.content, tuple(args.style), args.content_mask,
                None if args.style_mask is None else tuple(args.style_mask))
    spec = RunnerSpec(config, segmentation(args), device=args.device)
    runner_class(spec.method).check(task, config, spec.segmentation)
    if args.log_json is not None and config.quality == PREVIEW:
        raise InputError("--log-json logs the optimization's losses and --quality preview "
                         "runs none; drop --log-json or choose draft, default or max")
    _check_save_masks(args)
    init = config.init if config.init is not None and config.init not in INITS else None
    out = args.output
    check_outputs(planned_outputs(args, config), (*task.inputs, init))
    # The headers, before the weights are fetched; with --vgg-weights auto the method is
    # known only then, and its own checks (the sizes VGG-19 takes) come when it runs.
    (Runner if config.vgg_weights == "auto" else runner_class(spec.method)).inspect(task,
                                                                                   config)
    if args.content_mask is not None and args.seg != "none":
        print(f"{PROG}: --content-mask/--style-mask given; --seg {args.seg} not used",
              file=sys.stderr)
    config = weights_or_fallback(config, several=len(args.style) > 1, quiet=args.quiet)
    spec = spec.replace(config=config)
    random_weights_note(config)
    runner = spec.build()
    progress = Progress(out, args.save_every, args.quiet)
    log = JsonLog(args.log_json) if args.log_json is not None and \
        config.quality != PREVIEW else None

    def callback(event: Any) -> None:
        if isinstance(event, Prepared):
            if event.masks is not None and args.save_masks is not None:
                _save_masks(args.save_masks, event, args.quiet)
            if event.levels is not None and not args.quiet:
                print(f"{PROG}: {plan_text(event)}", file=sys.stderr)
        else:
            if log is not None:  # first: the log keeps every reported step, even on Ctrl-C
                log(event)
            progress(event)

    if spec.method == "preview":
        output = runner(task, callback=callback)
        save_image(output.image, out)
        if args.report is not None:
            stopped = _finish_report(args, output)
            if stopped is not None:
                return stopped
        if not args.quiet:
            print(f"{PROG}: wrote {out} (preview {output.seconds:.2f}s)", file=sys.stderr)
        return 0
    try:
        return _run_neural(args, runner, task, out, callback, progress)
    finally:
        if log is not None:
            log.close()


#: Config fields a trained look takes (``--model``); with them only -o, --device and -q.
LOOK_FIELDS = ("size", "post", "max_pixels")


def check_look_options(args: argparse.Namespace, others: dict[str, Any]) -> None:
    """``--model``: refuse the options of the optimization (a look carries its own settings):
    the Config options given besides :data:`LOOK_FIELDS`, and ``others`` (the command's own
    options by flag, ``None`` when not given).

    Raises
    ------
    InputError
        One line naming every such option given.
    """
    options = args.config_options
    given = [options.flags[f] for f in options.given(args) if f not in LOOK_FIELDS]
    given += [flag for flag, value in others.items() if value is not None]
    if given:
        raise InputError(f"{', '.join(given)}: not used with --model (a look is one forward "
                         "pass, trained with its own settings); drop them")


def load_look_file(path: Path, prog: str = PROG) -> Any:
    """``--model``: the trained look in ``path`` (one-line error for a bad file), and, for a
    look trained on untrained random VGG-19 weights, a note saying so on stderr."""
    from ..looks.look import Look

    look = Look.load(path)
    if getattr(look, "for_tests_only", False):
        print(f"{prog}: {path} was trained with untrained random VGG-19 weights: for testing "
              "the mechanics only", file=sys.stderr)
    return look


def _run_look(args: argparse.Namespace) -> int:
    """``--model LOOK.pt``: one forward pass of a trained look (the look runner,
    :class:`photostyle.methods.look.LookRunner`, as ``photostyle batch --model``), no VGG."""
    if args.style:
        raise InputError(f"--model {args.model} carries its style; drop the STYLE photo "
                         f"{args.style[0]}")
    check_look_options(args, {
        "--content-mask": args.content_mask, "--style-mask": args.style_mask,
        "--seg": None if args.seg == "none" else args.seg, "--seg-model": args.seg_model,
        "--seg-k": args.seg_k, "--save-masks": args.save_masks,
        "--save-every": args.save_every or None, "--save-stages": args.save_stages or None,
        "--report": args.report, "--log-json": args.log_json, "--recipe": args.recipe,
        "--vgg-weights": args.vgg_weights, "--max-memory": args.max_memory,
        "--channels-last": None if args.channels_last == "auto" else args.channels_last})
    config = args.config_options.config(args)
    task = Task(args.content, ())
    out = args.output
    check_outputs(planned_outputs(args, config), (*task.inputs, args.model))
    runner_class("look").inspect(task, config)
    look = load_look_file(args.model)
    size = config.size if "size" in args.config_options.given(args) else None
    runner = RunnerSpec(config, device=args.device, look=look, look_size=size).build()
    output = runner(task)
    save_image(output.image, out)
    if not args.quiet:
        h, w = output.image.shape[-2:]
        post = " + post-process" if config.post else ""
        arch = getattr(runner.look, "arch", "trained")
        print(f"{PROG}: wrote {out} ({arch} look at {w}x{h}, forward{post} "
              f"{output.seconds:.2f}s)", file=sys.stderr)
    return 0


def _keep_best(image: Any, out: Path, what: str) -> None:
    """Write the best image so far of a run that stops, with any further Ctrl-C or SIGTERM
    ignored until it is complete (the process ends next), and say so in one line."""
    if image is None:
        print(f"{PROG}: {what} before the first step; {out} not written", file=sys.stderr)
        return
    with deferred_signals(redeliver=False):
        save_image(image, out)
        print(f"{PROG}: {what}; best image so far written to {out}", file=sys.stderr)


def _run_neural(args: argparse.Namespace, runner: Runner, task: Task, out: Path,
                callback: Any, progress: Progress) -> int:
    """The neural methods (torch): Ctrl-C or SIGTERM (in a stage, between levels, in the
    post-process, while the stages are saved) and a divergence write the best image so far."""
    from ..neural.transfer import TransferDiverged, TransferInterrupted

    try:
        output = runner(task, callback=callback)
    except TransferInterrupted as exc:
        progress.close()
        status = interrupt_status(exc)
        _keep_best(exc.image, out, f"{interrupt_word(status)} {exc.where}")
        return status
    except TransferDiverged as exc:
        progress.close()
        save_image(exc.image, out)
        print(f"{PROG}: error: {exc}; the best image so far was written to {out}",
              file=sys.stderr)
        return 2
    progress.close()
    result = output.details
    ran = result.levels[-1] if result.levels else None
    if not args.quiet and ran is not None and (ran.height, ran.width) != \
            tuple(result.image.shape[-2:]):
        h, w = result.image.shape[-2:]
        print(f"{PROG}: worked at {ran.width}x{ran.height} to fit the memory budget; the "
              f"result was brought up to {w}x{h} through the local-affine post-process",
              file=sys.stderr)
    try:
        if args.save_stages:
            save_image(result.stage1, sibling(out, "stage1"))
            if result.stage2 is not None:
                save_image(result.stage2, sibling(out, "stage2"))
        save_image(result.image, out)
    except KeyboardInterrupt as exc:  # the result is complete: write it before stopping
        status = interrupt_status(exc)
        _keep_best(result.image, out, f"{interrupt_word(status)} while saving the stages")
        return status
    if args.report is not None:
        stopped = _finish_report(args, output)
        if stopped is not None:
            return stopped
    if not args.quiet:
        spent = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()
                          if not k.startswith("level"))
        print(f"{PROG}: wrote {out} ({spent})", file=sys.stderr)
    return 0


def _finish_report(args: argparse.Namespace, output: Output) -> int | None:
    """--report, once OUT is written; an interrupt here leaves OUT complete, says so and
    returns the exit status (``None`` when the report was written)."""
    try:
        _write_report(args, output)
    except KeyboardInterrupt as exc:
        status = interrupt_status(exc)
        print(f"{PROG}: {interrupt_word(status)} while making the report; {args.output} is "
              f"complete, {args.report} not written", file=sys.stderr)
        return status
    return None


def _write_report(args: argparse.Namespace, output: Output) -> None:
    """Metrics of the final image and stage 1 (as saved, 8-bit) and the contact sheet (no
    stage 1 for a preview; no VGG metric without a network), on the photos as the run decoded
    them (so that the masks' label maps fit them)."""
    from ..classic.preview import as_array
    from ..evaluation.metrics import evaluate
    from ..evaluation.report import save_contact_sheet

    result, aligned, model = output.details, output.masks, output.network
    s_labels = None if output.style_labels is None else output.style_labels[0]
    content, style = as_array(output.content, "content"), as_array(output.style, "style")
    c_labels = None if aligned is None else aligned.content_labels
    colors = None if aligned is None else aligned.colors
    final = to_uint8(output.image) / 255.0
    stage1 = stage1_metrics = None
    if result is not None and result.stage1 is not None:
        stage1 = to_uint8(result.stage1) / 255.0
        stage1_metrics = evaluate(stage1, content, style, c_labels, s_labels, model=model)
    metrics = evaluate(final, content, style, c_labels, s_labels, model=model)
    save_contact_sheet(args.report, content, style, final, content_mask=c_labels,
                       style_mask=s_labels, colors=colors, stage1=stage1, metrics=metrics,
                       stage1_metrics=stage1_metrics,
                       history=None if result is None else result.history,
                       title=f"{args.output.name}   (content {args.content.name}, style "
                             f"{args.style[0].name}"
                             f"{' and others' if len(args.style) > 1 else ''})")
    if not args.quiet:
        print(f"{PROG}: wrote {args.report}", file=sys.stderr)


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle run`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, f"interrupted; {args.output} not written")
