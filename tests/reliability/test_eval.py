"""The catalogue, ``photostyle eval``: bad inputs and outputs are one line naming the file and
the fix, exit 2, nothing written; its reports and tables are checked against every input
(also the results it measures) and for a writable folder before any work."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from ..cli_runner import run_cli
from ..synthetic import write_png
from .catalogue import check_error, check_success, exif_orientation, photo, snapshot, tiny_pair


def _pairs_folder(d):
    """A DPST-style folder with one pair (1) and a results folder holding its output."""
    root = d["dir"] / "dpst"
    for sub in ("input", "style", "segmentation"):
        (root / sub).mkdir(parents=True)
    shutil.copy(d["content"], root / "input" / "in1.png")
    shutil.copy(d["style"], root / "style" / "tar1.png")
    shutil.copy(d["content_mask"], root / "segmentation" / "in1.png")
    shutil.copy(d["style_mask"], root / "segmentation" / "tar1.png")
    results = d["dir"] / "results"
    results.mkdir()
    shutil.copy(d["content"], results / "pair1.png")  # named like the report's sheet
    return root, results


# (arguments after "eval", needles of the one error line)
def _missing_output(d):
    return [d["content"], d["style"], d["dir"] / "nope.png"], ("nope.png", "check the path")


def _output_not_an_image(d):
    (d["dir"] / "out.png").write_text("no")
    return [d["content"], d["style"], d["dir"] / "out.png"], ("out.png", "not an image")


def _output_of_another_picture(d):
    write_png(d["dir"] / "out.png", photo(30, 90))
    return [d["content"], d["style"], d["dir"] / "out.png"], ("out.png", "aspect")


def _mask_wrong_size(d):
    write_png(d["dir"] / "m.png", np.zeros((10, 10, 3), np.uint8))
    return [d["content"], d["style"], d["content"], "--content-mask", d["dir"] / "m.png",
            "--style-mask", d["style_mask"]], ("m.png", "draw the mask at the image's size")


def _report_is_an_input(d):
    return [d["content"], d["style"], d["content"], "--report", d["style"]], (
        "--report", "style.png", "also an input")


def _report_is_the_stage1_image(d):
    write_png(d["dir"] / "out.png", np.asarray(Image.open(d["content"])))
    write_png(d["dir"] / "out.stage1.png", np.asarray(Image.open(d["content"])))
    return [d["content"], d["style"], d["dir"] / "out.png", "--report",
            d["dir"] / "out.stage1.png"], ("out.stage1.png", "also an input")


def _report_in_proc(d):
    return [d["content"], d["style"], d["content"], "--report", "/proc/sheet.png"], (
        "--report", "/proc", "cannot be written to")


def _over_max_pixels(d):
    return [d["content"], d["style"], d["content"], "--max-pixels", "100"], (
        "content.png", "--max-pixels")


def _csv_in_proc(d):
    root, results = _pairs_folder(d)
    return ["--pairs", root, "--outputs", results, "--csv", "/proc/table.csv"], (
        "--csv", "/proc", "cannot be written to")


def _report_sheet_is_a_result(d):
    root, results = _pairs_folder(d)
    return ["--pairs", root, "--outputs", results, "--report", results], (
        "pair1.png", "also an input")


ERRORS = {
    "missing_output": _missing_output,
    "output_not_an_image": _output_not_an_image,
    "output_of_another_picture": _output_of_another_picture,
    "mask_wrong_size": _mask_wrong_size,
    "report_is_an_input": _report_is_an_input,
    "report_is_the_stage1_image": _report_is_the_stage1_image,
    "report_in_proc": _report_in_proc,
    "over_max_pixels": _over_max_pixels,
    "csv_in_proc": _csv_in_proc,
    "report_sheet_is_a_result": _report_sheet_is_a_result,
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_eval_bad_input_is_one_line(tmp_path, capfd, case):
    d = tiny_pair(tmp_path)
    args, needles = ERRORS[case](d)
    before = snapshot(tmp_path)
    code, _, err = run_cli(["eval", *args, "-q"], capfd)
    check_error(code, err, needles, tmp_path, before)


def test_eval_of_a_large_turned_photo(tmp_path, capfd):
    """A content photo 10x the output's size, turned by EXIF, with its mask drawn as shown:
    decoded small, the mask brought along, measured; the report is the only file written."""
    d = tiny_pair(tmp_path)
    shown = np.asarray(Image.open(d["content"]).resize((800, 640)))
    big = np.rot90(shown, 1)  # stored turned a quarter left; orientation 6 turns it back
    Image.fromarray(np.ascontiguousarray(big)).save(tmp_path / "big.jpg", quality=95,
                                                    exif=exif_orientation(6))
    mask = Image.open(d["content_mask"]).resize((800, 640), Image.Resampling.NEAREST)
    mask.save(tmp_path / "big_mask.png")
    sheet = tmp_path / "sheet.png"
    before = snapshot(tmp_path)
    code, out, err = run_cli(["eval", tmp_path / "big.jpg", d["style"], d["content"],
                              "--content-mask", tmp_path / "big_mask.png", "--style-mask",
                              d["style_mask"], "--report", sheet, "-q"], capfd)
    check_success(code, err, tmp_path, before, (sheet,))
    structure = float(next(line.split()[1] for line in out.splitlines()
                           if line.startswith("structure")))
    assert structure > 0.8  # the right way up: the output is the content itself


def test_eval_ctrl_c_is_one_line(tmp_path, capfd, monkeypatch):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("photostyle.evaluation.pairs.evaluate", stop)
    d = tiny_pair(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = run_cli(["eval", d["content"], d["style"], d["content"], "--report",
                            tmp_path / "s.png"], capfd)
    assert code == 130 and err.strip() == "photostyle eval: interrupted", err
    assert snapshot(tmp_path) == before
    assert not os.path.exists(tmp_path / "s.png")
