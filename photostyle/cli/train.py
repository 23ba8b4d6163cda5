"""``photostyle train STYLE --images DIR -o LOOK.pt``: train a look (a per-style feed-forward
network) on a folder of photos.

A thin layer over :func:`photostyle.looks.train.train`: it reads the folder (unreadable files
are skipped and counted), owns the progress bar, stylizes held-out photos into ``--previews``
at each checkpoint, and turns user errors into one line on stderr and exit status 2. Ctrl-C
keeps the last checkpoint (exit status 130); ``--resume`` continues it. Building the parser
imports no torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import PRESETS, WEIGHTS_ENV, resolve_weights
from ..errors import InputError
from ..io.files import check_not_input
from ..looks.options import ARCHS, MIN_PHOTOS, TrainOptions
from .console import DEVICES, resolve_device, run_guarded
from .options import ConfigOptions

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


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle train`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="train a look: a network that stylizes any photo in one pass",
        description="Train a look (Johnson et al. 2016): a feed-forward network for one style "
                    "photo, trained on a folder of photos with the optimizer's perceptual "
                    "losses. The default 'bilateral' network predicts local affine colour "
                    "transforms (HDRNet), so its output is a photograph by construction. Apply "
                    "it with 'photostyle run CONTENT --model LOOK.pt -o OUT'.")
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
    g.add_argument("--vgg-weights", default=None, metavar="W",
                   help=f"'imagenet', 'random' (untrained: for tests only) or a local state "
                        f"dict (default: ${WEIGHTS_ENV}, else imagenet)")
    add(g, "--pooling", field="pooling", choices=("max", "avg"), help="VGG pooling")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train (default: auto, CUDA when available)")
    add(g, "--progress-every", field="progress_every", type=int, metavar="K",
        help="read the loss back every K steps (if not given: 1 on the CPU, 20 on a GPU)",
        show_default=False)
    add(g, "--autocast", field="autocast", action="store_const", const=True,
        help="bfloat16 autocast for the VGG forward (GPUs)", show_default=False)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _check_look_path(out: Path, resume: bool, inputs: tuple[Path, ...]) -> Path:
    """Validate LOOK.pt before any work."""
    if out.suffix.lower() not in LOOK_SUFFIXES:
        raise InputError(f"look file {out} must end in .pt (or .pth)")
    if not out.parent.is_dir():
        raise InputError(f"output folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise InputError(f"look file {out} is a folder; give a file name such as "
                         f"{out / 'look.pt'}")
    check_not_input(out, inputs)
    if resume and not out.is_file():
        raise InputError(f"--resume: {out} does not exist; train without --resume first")
    if not resume and out.exists():
        raise InputError(f"{out} exists; add --resume to continue training it, or choose "
                         "another name")
    return out


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
    recorded = {"style_loss": loss.get("style_loss"), "pooling": loss.get("pooling"),
                "style_scale": loss.get("style_scale"), "seed": checkpoint.options.get("seed")}
    for term, value in (loss.get("weights") or {}).items():
        recorded[f"{term}_weight"] = value
    for field, value in recorded.items():
        if field not in given and value is not None and field in args.config_options.defaults:
            setattr(args, field, value)
    if args.vgg_weights is None:
        args.vgg_weights = checkpoint.vgg_weights


def _read_photos(files: list[Path], size: int) -> tuple[list[Any], list[Path], list[Path]]:
    """The readable photos (prepared for training), their files, and the files skipped."""
    from ..io.images import check_min_side, read_image
    from ..looks.train import prepare_photo

    photos, names, skipped = [], [], []
    for path in files:
        try:
            image = read_image(path)
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


def _preview_images(paths: list[Path], device: Any) -> list[tuple[str, Any]]:
    from ..io.images import fit_long_side, read_image, resize_image
    from ..io.tensors import from_array

    out = []
    for path in paths:
        image = read_image(path)
        if max(image.shape[:2]) > PREVIEW_SIDE:
            image = resize_image(image, fit_long_side(*image.shape[:2], PREVIEW_SIDE))
        out.append((path.stem, from_array(image, device=device)))
    return out


def run(args: argparse.Namespace) -> int:
    """Train a look from parsed arguments; returns the exit status."""
    out = _check_look_path(args.output, args.resume, (args.style,))
    if args.holdout < 1:
        raise InputError(f"--holdout must be >= 1, got {args.holdout}")
    if args.previews is not None:
        folder = args.previews
        if folder.exists() and not folder.is_dir():
            raise InputError(f"--previews {folder} is a file; give a folder")
        if not folder.exists() and not folder.parent.is_dir():
            raise InputError(f"--previews folder {folder.parent} does not exist; create it "
                             "first")
        if folder.exists() and args.images.exists() and folder.resolve() == \
                args.images.resolve():
            raise InputError(f"--previews {folder} is the training folder; choose another")
    files = _photo_files(args.images)
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
    weights = resolve_weights(args.vgg_weights)
    config = args.config_options.config(args, vgg_weights=weights)
    options = args.train_options.config(args)

    from ..io.tensors import load_image
    from ..looks.train import TrainInterrupted, check_steps_left, train

    if checkpoint is not None:
        check_steps_left(checkpoint, options.steps)

    device = resolve_device(args.device)
    style = load_image(args.style, device=device)
    photos, names, skipped = _read_photos(files, options.size)
    keep = max(0, len(photos) - held)
    previews = _preview_images(names[keep:], device) if held and keep else []
    photos, names = photos[:keep], names[:keep]
    if skipped:
        shown = ", ".join(p.name for p in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        print(f"{PROG}: skipped {len(skipped)} of {len(files)} files in {args.images} (not "
              f"readable images of at least 32 px: {shown})", file=sys.stderr)
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
              f"{options.size} px crops, batch {options.batch}, {options.steps} steps; {what} "
              f"every {options.checkpoint_every} steps", file=sys.stderr)
    progress = TrainProgress(checkpoint.steps if checkpoint else 0, previews, args.previews,
                             args.quiet)
    try:
        result = train(photos, style, config=config, options=options, checkpoint=out,
                       resume=checkpoint, callback=progress, style_name=args.style.name)
    except TrainInterrupted as exc:
        progress.close()
        print(f"{PROG}: {exc} in {out}; continue with --resume", file=sys.stderr)
        return 130
    progress.close()
    if not args.quiet:
        previews_text = f"; previews in {args.previews}" if args.previews is not None else ""
        print(f"{PROG}: wrote {out} ({result.steps} steps, {result.elapsed:.1f}s"
              f"{previews_text})", file=sys.stderr)
    return 0


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle train`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "interrupted; nothing written")
