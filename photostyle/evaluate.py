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
import csv
import io
import json
import os
import re
import statistics
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segment import align_masks, load_color_mask

from .config import STYLE_LAYERS
from .console import run_guarded
from .errors import InputError
from .images import OUTPUT_FORMATS, atomic_write, read_image, save_image
from .metrics import METRIC_KEYS, evaluate
from .report import check_report_path, make_contact_sheet
from .vgg import VGG19Features, deepest

PROG = "photostyle eval"

#: Extensions of image files looked at in ``--pairs`` and ``--outputs`` folders.
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(OUTPUT_FORMATS)

#: Column formats of the table printed by ``--pairs``.
_TABLE_FORMATS: dict[str, str] = {
    "photorealism": "{:.3e}",
    "structure": "{:.4f}",
    "style_distance": "{:.2f}",
    "style_distance_content": "{:.2f}",
    "vgg_style": "{:.4g}",
}

_STAGE_NAME = re.compile(r"\.stage\d")


@dataclass(frozen=True)
class Pair:
    """The input files of one pair of a ``--pairs`` folder.

    Attributes
    ----------
    number : int
        ``N`` of ``inN``/``tarN``.
    content, style : Path
        ``input/inN.*`` and ``style/tarN.*``.
    content_mask, style_mask : Path or None
        ``segmentation/inN.*`` and ``segmentation/tarN.*`` (both or neither).
    """

    number: int
    content: Path
    style: Path
    content_mask: Path | None
    style_mask: Path | None


@dataclass
class Loaded:
    """Images and aligned masks of one evaluation, as arrays."""

    content: np.ndarray
    style: np.ndarray
    output: np.ndarray
    content_labels: np.ndarray | None
    style_labels: np.ndarray | None
    colors: tuple[tuple[int, int, int], ...] | None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``photostyle eval`` (no side effects)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Quality metrics of photorealistic style transfer results (no network "
                    "weights needed): photorealism (matting-Laplacian residual, lower is "
                    "better), structure (SSIM of edge maps, 1 is best), style distance (Lab W2 "
                    "to the matching style regions, lower is closer; also given for the "
                    "content as the value before the transfer).",
        epilog="Output of pair N in --outputs: N.<ext>, inN.<ext> or bestN_t_1000.<ext>, else "
               "the one image whose name holds N as a separate number (see the module "
               "docstring of photostyle.evaluate).",
    )
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTENSIONS)


def _one_by_stem(files: Sequence[Path], stem: str) -> Path | None:
    """The file named ``stem.<ext>`` (``.png`` first if there are several)."""
    found = [p for p in files if p.stem == stem]
    found.sort(key=lambda p: (p.suffix.lower() != ".png", p.name))
    return found[0] if found else None


def find_pairs(folder: str | os.PathLike) -> list[Pair]:
    """The pairs of a folder laid out like ``../shared/dpst``, sorted by number.

    Raises
    ------
    InputError
        Not a folder, no ``input/inN.*`` image, or a pair without its style image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--pairs {folder} is not a folder; give a folder with input/, style/ "
                         "and segmentation/")
    inputs_dir = folder / "input"
    if not inputs_dir.is_dir():
        raise InputError(f"--pairs {folder} has no input/ folder; lay it out as input/inN.png, "
                         "style/tarN.png, segmentation/inN.png and segmentation/tarN.png")
    numbers = sorted({int(m.group(1)) for p in _image_files(inputs_dir)
                      if (m := re.fullmatch(r"in(\d+)", p.stem))})
    if not numbers:
        raise InputError(f"{inputs_dir} holds no inN image (e.g. in1.png); check the folder")
    style_files = _image_files(folder / "style") if (folder / "style").is_dir() else []
    seg_dir = folder / "segmentation"
    seg_files = _image_files(seg_dir) if seg_dir.is_dir() else []
    pairs = []
    input_files = _image_files(inputs_dir)
    for n in numbers:
        content = _one_by_stem(input_files, f"in{n}")
        style = _one_by_stem(style_files, f"tar{n}")
        if style is None:
            raise InputError(f"pair {n}: no style image {folder / 'style' / f'tar{n}.png'}; "
                             f"add it or remove {content}")
        c_mask = _one_by_stem(seg_files, f"in{n}")
        s_mask = _one_by_stem(seg_files, f"tar{n}")
        if c_mask is None or s_mask is None:
            c_mask = s_mask = None
        pairs.append(Pair(n, content, style, c_mask, s_mask))  # type: ignore[arg-type]
    return pairs


def find_output(folder: str | os.PathLike, number: int) -> list[Path]:
    """Candidates for the output of pair ``number`` in ``folder`` (rule in the module docstring).

    Returns
    -------
    list of Path
        One path when the output is found, none when it is missing, several when ambiguous.
    """
    files = _image_files(Path(folder))
    for stem in (f"{number}", f"in{number}", f"best{number}_t_1000"):
        found = _one_by_stem(files, stem)
        if found is not None:
            return [found]
    token = re.compile(rf"(?<!\d){number}(?!\d)")
    return [p for p in files if token.search(p.stem) and not _STAGE_NAME.search(p.stem)]


def load_inputs(content: Path, style: Path, output: Path, content_mask: Path | None,
                style_mask: Path | None) -> Loaded:
    """Read the images and parse and align the masks of one evaluation.

    Raises
    ------
    InputError, MaskError
        Unreadable files, masks of the wrong size, only one mask.
    """
    if (content_mask is None) != (style_mask is None):
        raise InputError("give both --content-mask and --style-mask, or neither")
    c_img = read_image(content)
    s_img = read_image(style)
    o_img = read_image(output)
    c_labels = s_labels = colors = None
    if content_mask is not None:
        c_parsed = load_color_mask(content_mask, c_img.shape[:2])
        s_parsed = load_color_mask(style_mask, s_img.shape[:2])
        aligned = align_masks(c_parsed, s_parsed)
        c_labels, s_labels, colors = (aligned.content_labels, aligned.style_labels,
                                      aligned.colors)
    return Loaded(c_img, s_img, o_img, c_labels, s_labels, colors)


def measure(loaded: Loaded, output_name: str | os.PathLike,
            model: VGG19Features | None = None) -> dict[str, float]:
    """:func:`photostyle.metrics.evaluate` on loaded inputs; errors name ``output_name``."""
    try:
        return evaluate(loaded.output, loaded.content, loaded.style, loaded.content_labels,
                        loaded.style_labels, model=model)
    except InputError as exc:
        raise InputError(f"{output_name}: {exc}") from exc


def _stage1_path(explicit: Path | None, output: Path) -> Path | None:
    if explicit is not None:
        return explicit
    sibling = output.with_name(f"{output.stem}.stage1{output.suffix}")
    return sibling if sibling.is_file() else None


def render_report(loaded: Loaded, metrics: dict[str, float], *,
                  stage1: np.ndarray | None = None, stage1_name: str | os.PathLike = "stage 1",
                  model: VGG19Features | None = None, title: str | None = None) -> np.ndarray:
    """Contact sheet ``(H,W,3)`` uint8 of one evaluation (stage 1 is measured too when given)."""
    s1_metrics = None
    if stage1 is not None:
        s1_metrics = measure(Loaded(loaded.content, loaded.style, stage1, loaded.content_labels,
                                    loaded.style_labels, loaded.colors), stage1_name, model)
    return make_contact_sheet(loaded.content, loaded.style, loaded.output,
                              content_mask=loaded.content_labels,
                              style_mask=loaded.style_labels, colors=loaded.colors,
                              stage1=stage1, metrics=metrics, stage1_metrics=s1_metrics,
                              title=title)


def _atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def summarize(rows: Sequence[dict[str, float]], keys: Sequence[str]) -> dict[str, dict]:
    """Mean and median of each metric over the rows."""
    return {
        "mean": {k: statistics.fmean(r[k] for r in rows) for k in keys},
        "median": {k: statistics.median(r[k] for r in rows) for k in keys},
    }


def format_table(rows: Sequence[dict], keys: Sequence[str]) -> str:
    """Fixed-width text table: one row per pair, then the mean and median rows."""
    summary = summarize(rows, keys)
    header = ["pair", *keys]
    body = [[str(r["pair"]), *(_TABLE_FORMATS.get(k, "{:.4g}").format(r[k]) for k in keys)]
            for r in rows]
    for name in ("mean", "median"):
        body.append([name, *(_TABLE_FORMATS.get(k, "{:.4g}").format(summary[name][k])
                             for k in keys)])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    for j, row in enumerate(body):
        if j == len(rows):
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def write_csv(path: str | os.PathLike, rows: Sequence[dict], keys: Sequence[str]) -> Path:
    """Write the table (pair rows, then ``mean`` and ``median``) as CSV, atomically."""
    path = Path(path)
    summary = summarize(rows, keys)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["pair", *keys, "output"])
    for r in rows:
        writer.writerow([r["pair"], *(f"{r[k]:.6g}" for k in keys), r["output"]])
    for name in ("mean", "median"):
        writer.writerow([name, *(f"{summary[name][k]:.6g}" for k in keys), ""])
    return _atomic_write_text(path, buffer.getvalue())


def _check_csv_path(path: Path) -> None:
    if path.suffix.lower() != ".csv":
        raise InputError(f"--csv {path} must end in .csv")
    if not path.parent.is_dir():
        raise InputError(f"--csv folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise InputError(f"--csv {path} is a folder; give a file name such as "
                         f"{path / 'metrics.csv'}")


def _model(weights: str | None) -> VGG19Features | None:
    if weights is None:
        return None
    return VGG19Features(weights, last=deepest(STYLE_LAYERS), pooling="max", seed=0)


def _progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {text}", file=sys.stderr)


def _run_single(args: argparse.Namespace) -> int:
    if args.csv is not None or args.outputs is not None:
        raise InputError("--csv and --outputs go with --pairs DIR")
    if args.report is not None:
        check_report_path(args.report, (args.content, args.style, args.output,
                                        args.content_mask, args.style_mask, args.stage1))
    loaded = load_inputs(args.content, args.style, args.output, args.content_mask,
                         args.style_mask)
    stage1_path = _stage1_path(args.stage1, args.output)
    stage1 = None
    if stage1_path is not None and args.report is not None:
        stage1 = read_image(stage1_path)  # a bad --stage1 fails before anything is written
    model = _model(args.vgg_weights)
    metrics = measure(loaded, args.output, model)
    sheet = None
    if args.report is not None:
        sheet = render_report(loaded, metrics, stage1=stage1, stage1_name=stage1_path or "",
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


#: One line of explanation per metric, for the plain-text output of one result.
_EXPLAIN: dict[str, str] = {
    "photorealism": "matting-Laplacian residual; lower = more photorealistic",
    "structure": "SSIM of edge maps; 1 = same edges as the content",
    "style_distance": "Lab W2 to the style regions; lower = closer",
    "style_distance_content": "the same for the content (before the transfer)",
    "vgg_style": "masked Gram style loss (unweighted)",
}


def format_metrics_block(metrics: dict[str, float]) -> str:
    """One line per metric: name, value, explanation."""
    width = max(len(k) for k in metrics)
    return "\n".join(f"{k.ljust(width)}  {_TABLE_FORMATS.get(k, '{:.4g}').format(v):>10}  "
                     f"({_EXPLAIN.get(k, '')})" for k, v in metrics.items())


def _run_pairs(args: argparse.Namespace) -> int:
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
    if args.csv is not None:
        _check_csv_path(args.csv)
    if args.report is not None and not args.report.is_dir():
        raise InputError(f"--report {args.report}: with --pairs give an existing folder (one "
                         "pairN.png per pair is written there)")
    pairs = find_pairs(args.pairs)
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
                                 pair.style_mask)
            metrics = measure(loaded, output, model)
        for item in caught:
            print(f"{PROG}: pair {pair.number}: warning: {item.message}", file=sys.stderr)
        rows.append({"pair": pair.number, **metrics, "output": str(output)})
        if args.report is not None:
            stage1_path = _stage1_path(None, output)
            stage1 = None if stage1_path is None else read_image(stage1_path)
            title = (f"pair {pair.number}: {output.name}   (content {pair.content.name}, style "
                     f"{pair.style.name})")
            sheets.append((args.report / f"pair{pair.number}.png",
                           render_report(loaded, metrics, stage1=stage1,
                                         stage1_name=stage1_path or "", model=model,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``photostyle eval`` (``argv`` without the leading ``eval``)."""
    args = build_parser().parse_args(argv)
    return run_guarded(PROG, run, args, "interrupted")


if __name__ == "__main__":
    sys.exit(main())
