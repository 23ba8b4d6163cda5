"""``photostyle eval``: quality metrics of transfer results, for one result or a folder of pairs.

One result::

    photostyle eval CONTENT STYLE OUTPUT [--content-mask M --style-mask M] [--json]
                    [--report SHEET.png] [--stage1 IMAGE] [--vgg-weights W]

A folder of pairs laid out like the DPST examples (``input/inN.*``, ``style/tarN.*``,
``segmentation/inN.*`` and ``segmentation/tarN.*``) against a folder of outputs::

    photostyle eval --pairs DIR --outputs DIR [--csv TABLE.csv] [--report FOLDER]

Output of pair ``N`` in ``--outputs`` (image files only, hidden files ignored), first match wins:

1. ``N.<ext>``, then ``inN.<ext>``, then ``bestN_t_1000.<ext>`` (the paper's final_results);
2. otherwise the one file whose name (without extension) contains ``N`` as a separate number,
   i.e. not next to another digit (``out_7``, ``7-final`` and ``res7`` match 7; ``17``, ``70``
   and ``in71`` do not), leaving out photostyle's intermediate images ``*.stageS*``.

A pair with no output, or with several candidates under rule 2, is reported on stderr and
skipped. Stage 1 for the contact sheet is ``--stage1``, else ``<output stem>.stage1<ext>`` when
it exists (``photostyle --save-stages`` writes it).

Metrics (:mod:`photostyle.metrics`) need no network weights; ``vgg_style`` is measured only
when ``--vgg-weights`` is given. Errors in the user's input are one line on stderr, exit status
2, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import MAX_PIXELS, STYLE_LAYERS
from ..errors import InputError
from .console import run_guarded

if TYPE_CHECKING:
    import numpy as np

    from ..neural.vgg import VGG19Features

NAME = "eval"
PROG = "photostyle eval"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``photostyle eval`` (no side effects beyond the parser)."""
    p = commands.add_parser(
        NAME, help="quality metrics and contact sheets of existing results",
        description="Quality metrics of photorealistic style transfer results (no network "
                    "weights needed): photorealism (matting-Laplacian residual, lower is "
                    "better), structure (SSIM of edge maps, 1 is best), style distance (Lab W2 "
                    "to the matching style regions, lower is closer; also given for the "
                    "content as the value before the transfer).",
        epilog="Output of pair N in --outputs: N.<ext>, inN.<ext> or bestN_t_1000.<ext>, else "
               "the one image whose name holds N as a separate number (see the module "
               "docstring of photostyle.evaluation.pairs).",
    )
    p.set_defaults(handler=main_guarded)
    p.add_argument("content", type=Path, nargs="?", help="content photo")
    p.add_argument("style", type=Path, nargs="?", help="style photo")
    p.add_argument("output", type=Path, nargs="?", help="result to measure")
    p.add_argument("--content-mask", type=Path, help="colour-coded mask of the content photo")
    p.add_argument("--style-mask", type=Path, help="colour-coded mask of the style photo")
    p.add_argument("--stage1", type=Path, default=None,
                   help="stage-1 image for the contact sheet (default: <output "
                        "stem>.stage1<ext> if it exists)")
    p.add_argument("--pairs", type=Path, metavar="DIR",
                   help="folder with input/inN, style/tarN, segmentation/inN and tarN")
    p.add_argument("--outputs", type=Path, metavar="DIR",
                   help="folder of outputs named by pair number (with --pairs)")
    p.add_argument("--csv", type=Path, metavar="F", help="write the --pairs table as CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--report", type=Path, metavar="PATH",
                   help="write a contact sheet PNG (with --pairs: an existing folder, one "
                        "pairN.png per pair)")
    p.add_argument("--vgg-weights", default=None, metavar="W",
                   help="also measure the VGG style loss with these weights: 'imagenet', "
                        "'random' (untrained, for tests) or a local state dict (default: "
                        "skipped)")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, metavar="N",
                   help="refuse an image of more than N pixels before decoding it (default: "
                        f"{MAX_PIXELS})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _check_max_pixels(args: argparse.Namespace) -> None:
    if args.max_pixels < 1:
        raise InputError(f"--max-pixels {args.max_pixels}: expected a number of pixels >= 1")


def _model(weights: str | None) -> VGG19Features | None:
    if weights is None:
        return None
    from ..neural.vgg import VGG19Features, deepest  # torch: only for the VGG metric

    return VGG19Features(weights, last=deepest(STYLE_LAYERS), pooling="max", seed=0)


def _progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {text}", file=sys.stderr)


def _run_single(args: argparse.Namespace) -> int:
    from ..evaluation.pairs import load_inputs, measure, render_report, stage1_path
    from ..io.files import check_output_path
    from ..io.images import read_image, save_image

    if args.csv is not None or args.outputs is not None:
        raise InputError("--csv and --outputs go with --pairs DIR")
    _check_max_pixels(args)
    stage1_file = stage1_path(args.stage1, args.output)
    if args.report is not None:
        check_output_path(args.report, (args.content, args.style, args.output,
                                        args.content_mask, args.style_mask, stage1_file),
                          what="--report")
    loaded = load_inputs(args.content, args.style, args.output, args.content_mask,
                         args.style_mask, max_pixels=args.max_pixels)
    stage1 = None
    if stage1_file is not None and args.report is not None:
        # a bad --stage1 fails before anything is written
        stage1 = read_image(stage1_file, max_pixels=args.max_pixels)
    model = _model(args.vgg_weights)
    metrics = measure(loaded, args.output, model)
    sheet = None
    if args.report is not None:
        sheet = render_report(loaded, metrics, stage1=stage1, stage1_name=stage1_file or "",
                              model=model, title=f"{args.output.name}   (content "
                                                 f"{args.content.name}, style {args.style.name})")
    if args.json:
        print(json.dumps(metrics))
    else:
        print(format_metrics_block(metrics))
    if sheet is not None:
        save_image(sheet, args.report)
        _progress(args, f"wrote {args.report}")
    return 0


def format_metrics_block(metrics: dict[str, float]) -> str:
    """One line per metric: name, value, explanation."""
    from ..evaluation.metrics import METRICS, format_metric

    width = max(len(k) for k in metrics)
    return "\n".join(f"{k.ljust(width)}  {format_metric(k, v, table=True):>10}  "
                     f"({METRICS[k].legend if k in METRICS else ''})"
                     for k, v in metrics.items())


def _run_pairs(args: argparse.Namespace) -> int:
    from ..evaluation.metrics import METRIC_KEYS
    from ..evaluation.pairs import (
        find_output,
        find_pairs,
        format_table,
        load_inputs,
        measure,
        render_report,
        stage1_path,
        summarize,
        write_csv,
    )
    from ..io.files import PlannedOutput, check_outputs
    from ..io.images import read_image, save_image

    if any(a is not None for a in (args.content, args.style, args.output)):
        raise InputError("give either CONTENT STYLE OUTPUT or --pairs DIR --outputs DIR, "
                         "not both")
    if args.outputs is None:
        raise InputError("--pairs needs --outputs DIR, the folder of results to measure")
    if args.content_mask is not None or args.style_mask is not None or args.stage1 is not None:
        raise InputError("--content-mask, --style-mask and --stage1 are for one result; "
                         "--pairs reads segmentation/ itself")
    if not args.outputs.is_dir():
        raise InputError(f"--outputs {args.outputs} is not a folder; give the folder of results")
    _check_max_pixels(args)
    if args.csv is not None and args.csv.suffix.lower() != ".csv":
        raise InputError(f"--csv {args.csv} must end in .csv")
    if args.report is not None and not args.report.is_dir():
        raise InputError(f"--report {args.report}: with --pairs give an existing folder (one "
                         "pairN.png per pair is written there)")
    pairs = find_pairs(args.pairs)
    # Every file written (the table, one sheet per pair) against every input and output.
    plan = [] if args.csv is None else [PlannedOutput(args.csv, "--csv", image=False)]
    if args.report is not None:
        plan += [PlannedOutput(args.report / f"pair{pair.number}.png", "--report")
                 for pair in pairs]
    read = [path for pair in pairs for path in (pair.content, pair.style, pair.content_mask,
                                                 pair.style_mask)]
    check_outputs(plan, [*read, *(p for p in args.outputs.iterdir() if p.is_file())])
    model = _model(args.vgg_weights)
    keys = [k for k in METRIC_KEYS if k != "vgg_style" or model is not None]
    rows: list[dict] = []
    skipped: list[int] = []
    sheets: list[tuple[Path, np.ndarray]] = []
    for pair in pairs:
        found = find_output(args.outputs, pair.number)
        if len(found) != 1:
            why = ("no output" if not found else
                   "several outputs (" + ", ".join(p.name for p in found) + ")")
            print(f"{PROG}: pair {pair.number}: {why} in {args.outputs} (looked for "
                  f"{pair.number}.png, in{pair.number}.png, best{pair.number}_t_1000.png or one "
                  f"name with {pair.number} as a separate number); skipped", file=sys.stderr)
            skipped.append(pair.number)
            continue
        output = found[0]
        _progress(args, f"pair {pair.number}: {output.name}")
        if pair.content_mask is None:
            _progress(args, f"pair {pair.number}: no masks in segmentation/; whole images "
                            "compared")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = load_inputs(pair.content, pair.style, output, pair.content_mask,
                                 pair.style_mask, max_pixels=args.max_pixels)
            metrics = measure(loaded, output, model)
        for item in caught:
            print(f"{PROG}: pair {pair.number}: warning: {item.message}", file=sys.stderr)
        rows.append({"pair": pair.number, **metrics, "output": str(output)})
        if args.report is not None:
            stage1_file = stage1_path(None, output)
            stage1 = None if stage1_file is None else read_image(stage1_file,
                                                                 max_pixels=args.max_pixels)
            title = (f"pair {pair.number}: {output.name}   (content {pair.content.name}, style "
                     f"{pair.style.name})")
            sheets.append((args.report / f"pair{pair.number}.png",
                           render_report(loaded, metrics, stage1=stage1,
                                         stage1_name=stage1_file or "", model=model,
                                         title=title)))
    if not rows:
        raise InputError(f"--outputs {args.outputs}: no output found for any of the "
                         f"{len(pairs)} pairs of {args.pairs}; name them N.png or inN.png")
    if args.json:
        print(json.dumps({"pairs": rows, **summarize(rows, keys), "skipped": skipped}))
    else:
        print(format_table(rows, keys))
    if args.csv is not None:
        write_csv(args.csv, rows, keys)
        _progress(args, f"wrote {args.csv}")
    for path, sheet in sheets:
        save_image(sheet, path)
    if sheets:
        _progress(args, f"wrote {len(sheets)} contact sheets to {args.report}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``photostyle eval`` from parsed arguments; returns the exit status."""
    if args.pairs is not None:
        return _run_pairs(args)
    if args.content is None or args.style is None or args.output is None:
        raise InputError("give CONTENT STYLE OUTPUT, or --pairs DIR --outputs DIR")
    return _run_single(args)


def main_guarded(args: argparse.Namespace) -> int:
    """Run ``photostyle eval`` from parsed arguments, user errors as one line (exit 2)."""
    return run_guarded(PROG, run, args, "interrupted")
