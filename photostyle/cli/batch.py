"""``photostyle batch``: many photos, one command; restartable, parallel, on Ray.

A thin layer over :mod:`photostyle.batch`: it parses the options (the method's are
``photostyle run``'s), turns a manifest's per-row options into settings, and owns the progress
bars (one over the items with its ETA; with one worker, the running item's beneath it), the
per-item lines and the summary. Exit status: 0 when every item is done or skipped, 1 when any
failed, 2 for bad options or inputs (nothing run), 130 on Ctrl-C, 143 on SIGTERM (a rerun
continues).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from ..batch.engine import BatchOptions, BatchStarted, ItemEvent, ItemFinished, run_batch
from ..batch.items import COLUMNS, Item, folder_items, manifest_items
from ..batch.report import FORMATS, REPORT_NAME
from ..config import PREVIEW, Config
from ..errors import InputError, require_both
from ..interrupts import interrupt_word
from ..io.files import OUTPUT_FORMATS
from ..methods import RunnerSpec
from ..methods.base import LOOK_BATCH_SIZE, Prepared
from .console import run_guarded
from .options import ConfigOptions
from .run import (
    LOOK_FIELDS,
    Progress,
    add_method_options,
    add_segmentation_options,
    check_look_options,
    load_look_file,
    method_config,
    random_weights_note,
    segmentation,
    weights_or_fallback,
)

NAME = "batch"
PROG = "photostyle batch"

_OPTION_DEFAULTS = {f.name: f.default for f in dataclasses.fields(BatchOptions)}

EPILOG = f"""\
INPUT is a folder of photos (every image in it, in name order, with --style) or a
manifest: a CSV file whose header names the columns
  {', '.join(COLUMNS)}
(only content is required; paths relative to the manifest, 'out' relative to OUTDIR,
several styles separated by ';') and, in further columns, per-row options of the method's
settings named without the dashes (size, iters, seed, style-weight, lambda, transfer,
post …; flags take 1/0). Outputs are OUTDIR/<content stem>.png unless 'out' names them; an
output that exists is skipped (--overwrite redoes it). Report: OUTDIR/{REPORT_NAME}.
On a Ray cluster every path must be on a file system all nodes share."""


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle batch`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="stylize a folder of photos or a manifest: restartable, parallel, on Ray",
        description="Run many transfers: a folder of photos with one style, or a manifest of "
                    "rows. A bad photo is reported and the batch goes on; a rerun skips what "
                    "is done.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    options = ConfigOptions()
    p.set_defaults(handler=main_guarded, config_options=options)
    p.add_argument("input", type=Path, metavar="INPUT",
                   help="a folder of content photos, or a manifest (.csv)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR",
                   help="output folder (created if needed)")

    g = p.add_argument_group("style and masks")
    g.add_argument("--style", type=Path, nargs="+", default=None,
                   help="style photo of every photo (several are blended); a manifest row "
                        "without a style takes it")
    g.add_argument("--content-masks", type=Path, default=None, metavar="DIR",
                   help="folder of the content masks (a folder INPUT): each photo's mask is "
                        "the image with the photo's stem")
    g.add_argument("--style-mask", type=Path, nargs="+", default=None,
                   help="colour-coded mask of the style photo (one per style)")
    add_segmentation_options(g)
    g.add_argument("--model", type=Path, default=None, metavar="LOOK.pt",
                   help="apply a trained look (photostyle train) instead of a style photo")
    g.add_argument("--batch-size", type=int, default=LOOK_BATCH_SIZE, metavar="B",
                   help=f"--model: photos per forward pass (default {LOOK_BATCH_SIZE})")
    groups = add_method_options(p, options)
    groups["output"].add_argument(
        "--format", choices=sorted(f.lstrip(".") for f in OUTPUT_FORMATS), default="png",
        help="image type of the outputs that the manifest does not name (default: png)")

    g = p.add_argument_group("running")
    g.add_argument("--workers", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="worker processes, each loading the method once and using its share "
                        "of the CPU threads; with --ray, Ray workers (default: "
                        f"{_OPTION_DEFAULTS['workers']}; with --ray: as many as the cluster "
                        "holds)")
    g.add_argument("--devices", default=None, metavar="DEV1,DEV2,...",
                   help="one worker per device, e.g. cuda:0,cuda:1, or cpu (default: CUDA "
                        "when available, else the CPU, for every worker)")
    g.add_argument("--threads", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="compute threads per worker process (default: the CPUs divided "
                        "among the workers)")
    g.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the items as Ray tasks on the cluster at ADDRESS ('auto', "
                        "HOST:6379, ray://HOST:10001), or on a new local Ray without ADDRESS "
                        "(pip install 'photostyle[ray]')")
    g.add_argument("--num-cpus", type=float, default=argparse.SUPPRESS, metavar="X",
                   help=f"--ray: CPUs of each worker (default {_OPTION_DEFAULTS['num_cpus']:g})")
    g.add_argument("--num-gpus", type=float, default=argparse.SUPPRESS, metavar="X",
                   help=f"--ray: GPUs of each worker (default {_OPTION_DEFAULTS['num_gpus']:g})")
    g.add_argument("--overwrite", action="store_true",
                   help="redo items whose output exists (default: skip them)")
    g.add_argument("--report", type=Path, default=None, metavar="PATH",
                   help=f"the report, .csv or .jsonl (default: OUTDIR/{REPORT_NAME})")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars (failures and the summary are still printed)")
    return p


def _items(args: argparse.Namespace, suffix: str) -> list[Item]:
    """The items of INPUT (a folder or a manifest)."""
    look = args.model is not None
    if look and (args.style or args.style_mask or args.content_masks or args.seg != "none"):
        raise InputError("--model applies a trained look: give no --style, masks or --seg")
    if args.input.is_dir():
        if not look and not args.style:
            raise InputError(f"{args.input} is a folder: give the style with --style S (or a "
                             "trained look with --model LOOK.pt)")
        require_both(args.content_masks, args.style_mask, ("--content-masks", "--style-mask"))
        return folder_items(args.input, args.output, args.style or (),
                            content_masks=args.content_masks, style_masks=args.style_mask,
                            suffix=suffix)
    if args.input.suffix.lower() != ".csv":
        if not args.input.exists():
            raise InputError(f"{args.input}: no such folder or file; check the path")
        raise InputError(f"{args.input}: give a folder of photos or a manifest (.csv)")
    if args.content_masks is not None:
        raise InputError("--content-masks is for a folder INPUT; name the masks in the "
                         "manifest's content_mask and style_mask columns")
    return manifest_items(args.input, args.output, args.style or (),
                          style_masks=args.style_mask, suffix=suffix)


def _with_options(args: argparse.Namespace, items: list[Item]) -> list[Item]:
    """Items whose manifest row has options get their own Config (checked now, before any
    work; the message names the row)."""
    resolved = []
    for item in items:
        if item.options:
            try:
                parsed = [(name, args.config_options.parse_text(name, text))
                          for name, text in item.options]
                unused = [name for name, (field, _) in parsed if field not in LOOK_FIELDS]
                if args.model is not None and unused:
                    raise InputError(f"{', '.join(unused)}: not used with --model (a look is "
                                     "one forward pass, trained with its own settings); drop "
                                     "those columns")
                fields = dict(pair for _, pair in parsed)
                config = method_config(args, **fields)
            except InputError as exc:
                raise InputError(f"{item.source}: {exc}") from None
            item = dataclasses.replace(item, config=config)
        resolved.append(item)
    return resolved


def _resolved(item: Item, resolved: Config) -> Item:
    """An item whose own settings say ``--vgg-weights auto``, with what ``auto`` resolved to
    for the batch (the Caffe network, or the weight-free method)."""
    if item.config is None or item.config.vgg_weights != "auto":
        return item
    if resolved.quality == PREVIEW:
        return dataclasses.replace(item, config=item.config.replace(quality=PREVIEW))
    return dataclasses.replace(item, config=item.config.replace(vgg_weights="caffe"))


def _options(args: argparse.Namespace) -> BatchOptions:
    given = {name: getattr(args, name) for name in ("workers", "threads", "num_cpus",
                                                     "num_gpus") if hasattr(args, name)}
    if args.ray is None and ("num_cpus" in given or "num_gpus" in given):
        raise InputError("--num-cpus and --num-gpus are resources of Ray workers; add --ray")
    if args.ray is not None and "workers" not in given:
        given["workers"] = 0  # as many as the cluster holds
    devices = None
    if args.devices is not None:
        devices = tuple(d.strip() for d in args.devices.split(",") if d.strip())
        if "workers" in given and args.ray is None and given["workers"] != len(devices):
            raise InputError(f"--workers {given['workers']} and {len(devices)} --devices: one "
                             "worker runs per device; drop --workers")
        if args.ray is not None:
            raise InputError("--devices is for this machine; on Ray give --num-gpus")
    return BatchOptions(devices=devices, overwrite=args.overwrite, ray=args.ray is not None,
                        ray_address=args.ray or None, **given)


class BatchProgress:
    """The batch's bars and lines, driven by :func:`run_batch`'s callback: one bar over the
    items to run (skipped ones are counted, not timed, so the ETA holds) and, when the items
    run in this process, the running item's steps beneath it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.item: Progress | None = None
        self.counts = {"done": 0, "skipped": 0, "failed": 0}

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def __call__(self, event: Any) -> None:
        if isinstance(event, BatchStarted):
            self.started(event)
        elif isinstance(event, ItemFinished):
            self.finished(event)
        elif isinstance(event, ItemEvent) and not self.quiet:
            if isinstance(event.event, Prepared):
                self.close_item()
                self.item = Progress(None, 0, self.quiet, position=1, leave=False)
            elif self.item is not None:
                self.item(event.event)

    def started(self, event: BatchStarted) -> None:
        if event.removed:
            self.write(f"{PROG}: removed {len(event.removed)} partial file(s) a killed run "
                       "left behind")
        if self.quiet:
            return
        from tqdm import tqdm

        where = {"inline": "1 worker", "processes": f"{event.workers} worker processes",
                 "ray": "Ray"}[event.backend]
        self.write(f"{PROG}: {event.total} photos, {event.skipped} already done, "
                   f"{event.total - event.skipped} to run on {where}")
        self.bar = tqdm(total=event.total - event.skipped, desc="batch", unit="photo",
                        dynamic_ncols=True, file=sys.stderr, position=0)

    def finished(self, event: ItemFinished) -> None:
        record = event.record
        self.counts[record.status] += 1
        if record.status == "skipped":
            return
        self.close_item()
        if record.status == "failed":
            where = "" if record.content in record.reason else f"{record.content}: "
            self.write(f"{PROG}: failed: {where}{record.reason}")
        elif record.warnings and not self.quiet:
            self.write(f"{PROG}: warning: {record.content}: {record.warnings}")
        if self.bar is not None:
            self.bar.set_postfix(done=self.counts["done"], failed=self.counts["failed"],
                                 refresh=False)
            self.bar.update(1)

    def close_item(self) -> None:
        if self.item is not None:
            self.item.close()
            self.item = None

    def close(self) -> None:
        self.close_item()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    """Run a batch from parsed arguments; returns the exit status."""
    config = method_config(args)
    spec = RunnerSpec(config, segmentation(args), look=None if args.model is None
                      else str(args.model.absolute()),
                      look_size=getattr(args, "size", None), batch_size=args.batch_size)
    if args.model is not None:
        if not args.model.is_file():
            raise InputError(f"--model {args.model}: no such file; give a look trained with "
                             "photostyle train")
        check_look_options(args, {
            "--recipe": args.recipe, "--vgg-weights": args.vgg_weights,
            "--max-memory": args.max_memory,
            "--channels-last": None if args.channels_last == "auto" else args.channels_last})
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.report is not None and args.report.suffix.lower() not in FORMATS:
        raise InputError(f"--report {args.report}: use a .csv or .jsonl file")
    options = _options(args)
    items = _with_options(args, _items(args, f".{args.format}"))
    if spec.method == "look":  # loaded once here: a bad file stops the batch before any item
        spec = spec.replace(look=load_look_file(args.model, PROG))
    if spec.method == "neural":
        resolved = weights_or_fallback(config, quiet=args.quiet)
        spec = spec.replace(config=resolved)
        items = [_resolved(item, resolved) for item in items]
        random_weights_note(resolved)
    progress = BatchProgress(args.quiet)
    try:
        summary = run_batch(items, spec, args.output, options=options, report=args.report,
                            callback=progress)
    finally:
        progress.close()
    line = (f"{summary.done} done, {summary.skipped} skipped, {summary.failed} failed "
            f"(report: {summary.report})")
    if summary.interrupted:
        left = len(items) - len(summary.records)
        print(f"{PROG}: {interrupt_word(summary.signal_status)}: {line}; {left} not run: run "
              "the same command again to continue", file=sys.stderr)
        return summary.signal_status
    print(f"{PROG}: {line}", file=sys.stderr)
    return 1 if summary.failed else 0


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle batch`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "interrupted")
