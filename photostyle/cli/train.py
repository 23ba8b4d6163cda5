"""``photostyle train STYLE --images DIR -o LOOK.pt``: train a look (a per-style feed-forward
network) on a folder of photos.

A thin layer over :func:`photostyle.looks.train.train`: it reads the folder (unreadable files
are skipped and counted), owns the progress bar, stylizes held-out photos into ``--previews``
at each checkpoint, and turns user errors into one line on stderr and exit status 2.

Before any work: the options, every file it may write (LOOK.pt, the previews) against every
input and for a writable folder (:func:`planned_outputs`,
:func:`photostyle.io.files.check_outputs`), the VGG-19 weights (:func:`training_weights`:
``auto`` is the Caffe network or a one-line error; no weight-free method stands in for
training) and the style photo's header. Photos are decoded at about the scale they are trained
at. Ctrl-C or SIGTERM keeps the last checkpoint (exit status 130 or 143); ``--resume``
continues it. Building the parser imports no torch.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import (
    CAFFE_FILE,
    CAFFE_URL,
    LOSS_FORMS,
    PRESETS,
    resolve_weights,
)
from ..errors import InputError, WeightsError
from ..interrupts import interrupt_status, interrupt_word
from ..io.files import PlannedOutput, check_outputs
from ..looks.options import ARCHS, MIN_PHOTOS, TrainOptions
from .console import run_guarded
from .options import DEVICES, ConfigOptions, add_vgg_options

if TYPE_CHECKING:
    from ..looks.checkpoint import Checkpoint
    from ..looks.train import TrainStep

NAME = "train"
PROG = "photostyle train"

#: Suffixes of a look file.
LOOK_SUFFIXES = (".pt", ".pth")

#: Long side of the held-out photos stylized into --previews (the working size of 'run').
PREVIEW_SIDE = 512

#: Prefix of the TrainOptions options' dest names (Config has fields of the same names).
TRAIN_PREFIX = "train_"

#: Names of the held-out photos stylized into --previews: ``<photo stem>_<step>.png``.
PREVIEW_NAMES = re.compile(r".+_\d{6,}\.png")


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle train`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="train a look: a network that stylizes any photo in one pass",
        description="Train a look (Johnson et al. 2016): a feed-forward network for one style "
                    "photo, trained on a folder of photos with the optimizer's perceptual "
                    "losses. The default 'bilateral' network predicts local affine colour "
                    "transforms (HDRNet), so its output is a photograph by construction. Apply "
                    "it with 'photostyle run CONTENT --model LOOK.pt -o OUT' or 'photostyle "
                    "batch DIR -o OUTDIR --model LOOK.pt'.")
    config_options = ConfigOptions()
    train_options = ConfigOptions(TrainOptions, prefix=TRAIN_PREFIX)
    p.set_defaults(handler=main_guarded, config_options=config_options,
                   train_options=train_options)
    p.add_argument("style", type=Path, help="style photo")
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="folder of training photos (its files; unreadable ones are skipped)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="LOOK.pt",
                   help="the look file (checkpoint), written atomically")

    g = p.add_argument_group("training")
    add = train_options.add
    add(g, "--arch", field="arch", choices=ARCHS,
        help="'bilateral': bilateral grid of local affine colour transforms (photorealistic); "
             "'johnson': Johnson et al.'s network (repaints)")
    add(g, "--steps", field="steps", type=int, metavar="N",
        help="total optimizer steps (with --resume: up to this count)")
    add(g, "--size", field="size", type=int, metavar="PX", help="side of the square random crops")
    add(g, "--batch", field="batch", type=int, metavar="B", help="crops per step")
    add(g, "--lr", field="lr", type=float, metavar="X", help="Adam learning rate")
    add(g, "--checkpoint-every", field="checkpoint_every", type=int, metavar="K",
        help="write LOOK.pt every K steps (and after the last)")
    g.add_argument("--resume", action="store_true",
                   help="continue training LOOK.pt up to --steps (settings not given are "
                        "taken from it)")
    g.add_argument("--previews", type=Path, default=None, metavar="DIR",
                   help="hold out the last --holdout photos of the folder (by name) and write "
                        f"them stylized (long side {PREVIEW_SIDE}) into DIR at each checkpoint, "
                        "as <photo>_<step>.png")
    g.add_argument("--holdout", type=int, default=3, metavar="N",
                   help="photos held out for --previews (default: 3)")

    g = p.add_argument_group("loss (the optimizer's terms; default: from the preset)")
    add = config_options.add
    add(g, "--loss", field="loss", choices=LOSS_FORMS,
        help="form of the terms: 'paper' = the Lua code's (raw means of Caffe VGG-19 "
             "activations), 'relative' = photostyle's dimensionless terms (if not given: paper "
             "with a Caffe network and the Gram loss, relative otherwise)", show_default=False)
    add(g, "--style-loss", field="style_loss", choices=("gram", "histogram", "both"),
        help="style statistics: Gram matrices, per-channel feature histograms, or both")
    add(g, "--style-scale", field="style_scale", type=float,
        help="style photo at this times --size (long side)")
    add(g, "--preset", field="preset", choices=sorted(PRESETS),
        help="weight preset (if not given: paper)", show_default=False)
    for flag, field, what in (("--content-weight", "content_weight", "content term"),
                              ("--style-weight", "style_weight", "Gram style term"),
                              ("--tv-weight", "tv_weight", "total-variation term"),
                              ("--histogram-weight", "histogram_weight", "histogram term")):
        add(g, flag, field=field, type=float, show_default=False,
            help=f"weight of the {what} (paper preset: {PRESETS['paper'][field]:g})")
    add(g, "--seed", field="seed", type=int,
        help="seed of the network's initialization, the crops and --vgg-weights random")

    g = p.add_argument_group("network and device")
    add_vgg_options(g, config_options, "an error saying how to get it (training has no "
                                       "weight-free method)")
    add(g, "--pooling", field="pooling", choices=("max", "avg"), help="VGG pooling")
    add(g, "--max-pixels", field="max_pixels", type=int, metavar="N",
        help="skip a training photo of more than N pixels, refuse such a style photo, before "
             "decoding either")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train (default: auto, CUDA when available)")
    add(g, "--progress-every", field="progress_every", type=int, metavar="K",
        help="read the loss back every K steps (if not given: 1 on the CPU, 20 on a GPU)",
        show_default=False)
    add(g, "--autocast", field="autocast", action="store_const", const=True,
        help="bfloat16 autocast for the VGG forward (GPUs)", show_default=False)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _check_look_path(out: Path, resume: bool) -> Path:
    """LOOK.pt's name and existence against ``--resume`` (the rest: :func:`planned_outputs`)."""
    if out.suffix.lower() not in LOOK_SUFFIXES:
        raise InputError(f"look file {out} must end in .pt (or .pth)")
    if resume and not out.is_file():
        raise InputError(f"--resume: {out} does not exist; train without --resume first")
    if not resume and out.exists():
        raise InputError(f"{out} exists; add --resume to continue training it, or choose "
                         "another name")
    return out


def planned_outputs(args: argparse.Namespace) -> list[PlannedOutput]:
    """Every file ``photostyle train`` may write: LOOK.pt and, with ``--previews``, the
    held-out photos stylized at each checkpoint (its folder created if missing)."""
    plan = [PlannedOutput(args.output, "look file", image=False)]
    if args.previews is not None:
        plan.append(PlannedOutput(args.previews / "preview_000001.png", "--previews image",
                                  pattern=PREVIEW_NAMES, make_folder=True))
    return plan


def training_weights(spec: str, quiet: bool) -> str:
    """The VGG-19 weights to train with: ``auto`` and ``caffe`` are the Caffe network, fetched
    into torch's cache now (its download bar unless ``quiet``); any other spec as it is. A look
    is trained on VGG features, so no weight-free method stands in.

    Raises
    ------
    WeightsError
        The Caffe weights are neither cached nor downloadable; one line saying how to get them.
    """
    if spec not in ("auto", "caffe"):
        return spec
    from ..neural.vgg import cache_path, fetch_caffe_weights

    try:
        fetch_caffe_weights(progress=not quiet)
    except WeightsError:
        raise WeightsError(
            f"--vgg-weights {spec}: training a look needs VGG-19 weights, and the Caffe VGG-19 "
            f"({CAFFE_FILE}) is not in torch's cache and could not be downloaded; download "
            f"{CAFFE_URL} on a machine with internet access and copy it to "
            f"{cache_path(CAFFE_FILE)}, or pass --vgg-weights PATH or imagenet "
            "(random: for tests only)") from None
    return "caffe"


def _photo_files(folder: Path) -> list[Path]:
    """The folder's files, by name (hidden files left out)."""
    if not folder.is_dir():
        raise InputError(f"--images {folder} is not a folder; give the folder of training "
                         "photos")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _from_checkpoint(args: argparse.Namespace, checkpoint: Checkpoint) -> None:
    """--resume: the settings not given on the command line, from the checkpoint."""
    train_given = args.train_options.given(args)
    for field in ("arch", "size", "batch", "lr", "checkpoint_every"):
        if field not in train_given and field in checkpoint.options:
            setattr(args, TRAIN_PREFIX + field, checkpoint.options[field])
    if "arch" not in train_given:
        setattr(args, TRAIN_PREFIX + "arch", checkpoint.arch)
    given = args.config_options.given(args)
    loss = checkpoint.loss
    recorded = {"loss": loss.get("form"), "vgg_format": loss.get("vgg_format"),
                "style_loss": loss.get("style_loss"), "pooling": loss.get("pooling"),
                "style_scale": loss.get("style_scale"), "seed": checkpoint.options.get("seed")}
    for term, value in (loss.get("weights") or {}).items():
        recorded[f"{term}_weight"] = value
    for field, value in recorded.items():
        if field not in given and value is not None and field in args.config_options.defaults:
            setattr(args, field, value)
    if args.vgg_weights is None:
        args.vgg_weights = checkpoint.vgg_weights


def _read_photos(files: list[Path], size: int, max_pixels: int | None,
                 ) -> tuple[list[Any], list[Path], list[Path]]:
    """The readable photos (prepared for training: short side ``size``), their files, and the
    files skipped (unreadable, under 32 px, over ``max_pixels``). Each header is read first,
    and a large photo is decoded at a reduced scale that keeps its short side above
    ``size``."""
    from ..io.images import check_min_side, image_info, read_image
    from ..looks.train import prepare_photo

    photos, names, skipped = [], [], []
    for path in files:
        try:
            info = image_info(path, max_pixels=max_pixels)
            short, long = sorted((info.height, info.width))
            image = read_image(path, long_side=math.ceil(size * long / max(short, 1)),
                               max_pixels=max_pixels)
            check_min_side(path, image.shape)
        except InputError:
            skipped.append(path)
            continue
        photos.append(prepare_photo(image, size))
        names.append(path)
    return photos, names, skipped


class TrainProgress:
    """The progress bar (each weighted loss term) and the held-out previews, driven by the
    library's callback."""

    def __init__(self, start: int, previews: list[tuple[str, Any]], folder: Path | None,
                 quiet: bool) -> None:
        self.last = start
        self.previews = previews
        self.folder = folder
        self.quiet = quiet
        self.bar = None
        self.saved: list[Path] = []

    def __call__(self, info: TrainStep) -> None:
        if self.bar is None and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=info.steps, initial=self.last, unit="step",
                            desc=f"training ({info.look.arch})", dynamic_ncols=True,
                            file=sys.stderr)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items()},
                                 refresh=False)
            self.bar.update(info.step - self.last)
        self.last = info.step
        if info.checkpoint is not None and self.folder is not None:
            self.write_previews(info)

    def write_previews(self, info: TrainStep) -> None:
        import torch

        from ..io.images import save_image

        with torch.no_grad():
            for stem, image in self.previews:
                path = self.folder / f"{stem}_{info.step:06d}.png"
                save_image(info.look(image), path)
                self.saved.append(path)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _preview_images(paths: list[Path], device: Any, max_pixels: int | None,
                    ) -> list[tuple[str, Any]]:
    """The held-out photos at :data:`PREVIEW_SIDE` (decoded at about that scale)."""
    from ..io.images import fit_long_side, read_image, resize_image
    from ..io.tensors import from_array

    out = []
    for path in paths:
        image = read_image(path, long_side=PREVIEW_SIDE, max_pixels=max_pixels)
        if max(image.shape[:2]) > PREVIEW_SIDE:
            image = resize_image(image, fit_long_side(*image.shape[:2], PREVIEW_SIDE))
        out.append((path.stem, from_array(image, device=device)))
    return out


def run(args: argparse.Namespace) -> int:
    """Train a look from parsed arguments; returns the exit status."""
    out = _check_look_path(args.output, args.resume)
    if args.holdout < 1:
        raise InputError(f"--holdout must be >= 1, got {args.holdout}")
    if args.previews is not None:
        folder = args.previews
        if folder.exists() and not folder.is_dir():
            raise InputError(f"--previews {folder} is a file; give a folder")
        if folder.exists() and args.images.exists() and folder.resolve() == \
                args.images.resolve():
            raise InputError(f"--previews {folder} is the training folder; choose another")
    files = _photo_files(args.images)
    check_outputs(planned_outputs(args), (args.style, *files))
    held = args.holdout if args.previews is not None else 0
    if len(files) < MIN_PHOTOS + held:
        extra = f" plus {held} held out for --previews" if held else ""
        raise InputError(f"--images {args.images} has {len(files)} files; training needs at "
                         f"least {MIN_PHOTOS} photos{extra}; add photos")
    checkpoint = None
    if args.resume:
        from ..looks.checkpoint import read_checkpoint

        checkpoint = read_checkpoint(out)
        _from_checkpoint(args, checkpoint)
    spec = resolve_weights(args.vgg_weights)
    args.config_options.config(args, vgg_weights=spec)  # checked before weights are fetched
    options = args.train_options.config(args)
    weights = training_weights(spec, args.quiet)
    config = args.config_options.config(args, vgg_weights=weights)

    from ..io.images import image_info
    from ..io.tensors import load_image
    from ..looks.train import TrainInterrupted, check_steps_left, train
    from ..methods.base import resolve_device

    if checkpoint is not None:
        check_steps_left(checkpoint, options.steps)
    image_info(args.style, max_pixels=config.max_pixels)
    device = resolve_device(args.device)
    style_side = max(32, round(options.size * config.style_scale))
    style = load_image(args.style, device=device, long_side=style_side,
                       max_pixels=config.max_pixels)
    photos, names, skipped = _read_photos(files, options.size, config.max_pixels)
    keep = max(0, len(photos) - held)
    previews = _preview_images(names[keep:], device, config.max_pixels) if held and keep else []
    photos, names = photos[:keep], names[:keep]
    if skipped:
        shown = ", ".join(p.name for p in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        print(f"{PROG}: skipped {len(skipped)} of {len(files)} files in {args.images} (not "
              f"readable images of at least 32 px within --max-pixels: {shown})",
              file=sys.stderr)
    if len(photos) < MIN_PHOTOS:
        extra = f" (and {held} held out for --previews)" if held else ""
        raise InputError(f"--images {args.images} has {len(photos)} readable photos to train "
                         f"on{extra}; training needs at least {MIN_PHOTOS}; add photos")
    if args.previews is not None:
        args.previews.mkdir(exist_ok=True)
    if weights == "random":
        print(f"{PROG}: training with untrained random VGG-19 weights (seed {config.seed}): "
              "the look is for testing the mechanics only, and says so in its file",
              file=sys.stderr)
    if not args.quiet:
        what = f"resuming {out} at step {checkpoint.steps}" if checkpoint else f"writing {out}"
        print(f"{PROG}: {options.arch} look of {args.style.name} on {len(photos)} photos, "
              f"{options.size} px crops, batch {options.batch}, {options.steps} steps, "
              f"{config.loss_form} loss; {what} every {options.checkpoint_every} steps",
              file=sys.stderr)
    progress = TrainProgress(checkpoint.steps if checkpoint else 0, previews, args.previews,
                             args.quiet)
    try:
        result = train(photos, style, config=config, options=options, checkpoint=out,
                       resume=checkpoint, callback=progress, style_name=args.style.name)
    except TrainInterrupted as exc:
        progress.close()
        status = interrupt_status(exc)
        text = str(exc).replace("interrupted", interrupt_word(status), 1)
        print(f"{PROG}: {text} in {out}; continue with --resume", file=sys.stderr)
        return status
    progress.close()
    if not args.quiet:
        previews_text = f"; previews in {args.previews}" if args.previews is not None else ""
        print(f"{PROG}: wrote {out} ({result.steps} steps, {result.elapsed:.1f}s"
              f"{previews_text})", file=sys.stderr)
    return 0


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle train`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "interrupted; nothing written")
