"""How well ``--seg cluster`` (or ``--seg auto``) agrees with the hand-drawn DPST masks.

Usage::

    python benchmarks/autoseg_dpst.py [--method cluster] [--size 320] [--k K] [--pairs 1 3 7]
                                      [--seg-model ID_OR_DIR] [--json PATH]

For each pair in ../shared/dpst the automatic masks of ``inN.png`` and ``tarN.png`` are compared
with ``segmentation/inN.png`` and ``segmentation/tarN.png`` at the images' full size. Automatic
labels are arbitrary, so they are matched one-to-one to the hand-drawn labels first (Hungarian
assignment maximizing the summed IoU, ``scipy.optimize.linear_sum_assignment``):

* ``aligned``: one matching for both images (automatic label k must be the same hand-drawn
  label in the content and in the style, which is what the transfer needs);
* ``separate``: each image matched on its own (the quality of the regions alone).

The score of an image is the mean IoU over its hand-drawn labels (a label left unmatched scores
0, so tiny labels such as eyes count fully). Prints a table, then the same numbers as JSON.
Skips (exit 0) when ../shared/dpst is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from dpst import DPST, pair_numbers
from scipy.optimize import linear_sum_assignment

from photostyle.io.tensors import load_image
from segment import ClusterParams, align_masks, automatic_masks, load_color_mask


def iou_matrix(pred: np.ndarray, truth: np.ndarray, k_pred: int, k_true: int) -> np.ndarray:
    """``(k_pred, k_true)`` IoU of every automatic label with every hand-drawn label."""
    inter = np.bincount(pred.ravel().astype(np.int64) * k_true + truth.ravel(),
                        minlength=k_pred * k_true).reshape(k_pred, k_true).astype(np.float64)
    union = inter.sum(1, keepdims=True) + inter.sum(0, keepdims=True) - inter
    return inter / np.maximum(union, 1.0)


def matched_miou(iou: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 present: np.ndarray) -> float:
    """Mean IoU over the hand-drawn labels ``present`` under the matching ``rows -> cols``."""
    best = np.zeros(iou.shape[1])
    best[cols] = iou[rows, cols]
    return float(best[present].mean())


def score_pair(c_pred: np.ndarray, s_pred: np.ndarray, c_true: np.ndarray,
               s_true: np.ndarray, k_true: int) -> dict[str, float]:
    k_pred = int(max(c_pred.max(), s_pred.max())) + 1
    ic = iou_matrix(c_pred, c_true, k_pred, k_true)
    is_ = iou_matrix(s_pred, s_true, k_pred, k_true)
    pc, ps = np.unique(c_true), np.unique(s_true)
    rows, cols = linear_sum_assignment(-(ic + is_))
    rc, cc = linear_sum_assignment(-ic)
    rs, cs = linear_sum_assignment(-is_)
    return {
        "aligned_content": matched_miou(ic, rows, cols, pc),
        "aligned_style": matched_miou(is_, rows, cols, ps),
        "separate_content": matched_miou(ic, rc, cc, pc),
        "separate_style": matched_miou(is_, rs, cs, ps),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dpst", type=Path, default=DPST)
    p.add_argument("--method", choices=("cluster", "auto"), default="cluster")
    p.add_argument("--size", type=int, default=ClusterParams().size,
                   help="working long side of the clustering")
    p.add_argument("--k", type=int, default=None, help="fixed number of clusters")
    p.add_argument("--seg-model", default=None, help="--method auto: checkpoint")
    p.add_argument("--pairs", type=int, nargs="*")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if not (args.dpst / "input").is_dir():
        print(f"{args.dpst} not found; nothing to do")
        return 0
    params = replace(ClusterParams(), size=args.size)
    rows = []
    header = (f"{'pair':>4} {'K':>2} {'hand':>4} | {'aligned content':>15} {'style':>6} | "
              f"{'separate content':>16} {'style':>6} | {'time s':>6}")
    print(f"--seg {args.method}, working size {args.size}, DPST pairs at full size")
    print(header)
    print("-" * len(header))
    for n in args.pairs or pair_numbers(args.dpst):
        content = load_image(args.dpst / "input" / f"in{n}.png")
        style = load_image(args.dpst / "style" / f"tar{n}.png")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            truth = align_masks(
                load_color_mask(args.dpst / "segmentation" / f"in{n}.png", content.shape[-2:]),
                load_color_mask(args.dpst / "segmentation" / f"tar{n}.png", style.shape[-2:]))
            start = time.perf_counter()
            auto = automatic_masks(content, style, args.method, model=args.seg_model, k=args.k,
                                   params=params)
            spent = time.perf_counter() - start
        scores = score_pair(auto.content_labels, auto.style_labels, truth.content_labels,
                            truth.style_labels, len(truth.colors))
        row = {"pair": n, "k": len(auto.colors), "hand_labels": len(truth.colors), **scores,
               "seconds": spent}
        rows.append(row)
        print(f"{n:>4} {row['k']:>2} {row['hand_labels']:>4} | "
              f"{scores['aligned_content']:>15.3f} {scores['aligned_style']:>6.3f} | "
              f"{scores['separate_content']:>16.3f} {scores['separate_style']:>6.3f} | "
              f"{spent:>6.2f}")
        sys.stdout.flush()
    keys = ("aligned_content", "aligned_style", "separate_content", "separate_style", "seconds")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    print("-" * len(header))
    print(f"{'mean':>4} {'':>2} {'':>4} | {mean['aligned_content']:>15.3f} "
          f"{mean['aligned_style']:>6.3f} | {mean['separate_content']:>16.3f} "
          f"{mean['separate_style']:>6.3f} | {mean['seconds']:>6.2f}")
    report = {"method": args.method, "size": args.size, "k": args.k, "pairs": rows,
              "mean": mean}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
