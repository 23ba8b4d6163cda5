"""``photostyle eval`` and ``photostyle --report`` end to end on tiny synthetic files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle import cli
from photostyle.evaluation.pairs import find_output

from ..cli_runner import folder_files, run_cli
from ..conftest import SHARED
from ..synthetic import color_mask, scene, write_png

DPST = SHARED / "dpst"
KEYS = ["photorealism", "structure", "style_distance", "style_distance_content"]


def _masks(d: dict) -> list:
    return ["--content-mask", d["content_mask"], "--style-mask", d["style_mask"]]


def test_eval_json_keys_and_known_values(tiny_pair, capsys):
    d = tiny_pair
    code, out, err = run_cli(["eval", d["content"], d["style"], d["content"], *_masks(d), "--json"],
                             capsys)
    assert code == 0, err
    result = json.loads(out)
    assert list(result) == KEYS
    assert result["photorealism"] < 1e-5 and result["structure"] == pytest.approx(1.0)
    assert result["style_distance"] == pytest.approx(result["style_distance_content"])


def test_eval_plain_text_and_vgg(tiny_pair, capsys):
    d = tiny_pair
    code, out, err = run_cli(["eval", d["content"], d["style"], d["style"], "--vgg-weights",
                             "random"], capsys)
    assert code != 0 and "aspect" in err  # the style is not a picture of the content
    code, out, err = run_cli(["eval", d["content"], d["style"], d["content"], "--vgg-weights",
                             "random"], capsys)
    assert code == 0, err
    assert [line.split()[0] for line in out.strip().splitlines()] == [*KEYS, "vgg_style"]


def _sheet_width(tile_sizes: list[tuple[int, int]], height: int = 256) -> int:
    """Width of a contact sheet with tiles of these (w, h) sizes (margins 12, gaps 8)."""
    return 2 * 12 + sum(round(w * height / h) for w, h in tile_sizes) + 8 * (len(tile_sizes) - 1)


def test_eval_report_layout(tiny_pair, capsys):
    d = tiny_pair
    out_img = d["dir"] / "out.png"
    content = np.asarray(Image.open(d["content"]))
    write_png(out_img, content[:, :, ::-1].copy())  # channels swapped: a colour change
    write_png(d["dir"] / "out.stage1.png", content)  # found as stage 1 next to the output
    report = d["dir"] / "sheet.png"
    code, _, err = run_cli(["eval", d["content"], d["style"], out_img, *_masks(d), "--report",
                           report], capsys)
    assert code == 0, err
    sheet = np.asarray(Image.open(report))
    # content 80x64 | style 64x72 | content mask | style mask | stage 1 | final
    assert sheet.shape[1] == _sheet_width([(80, 64), (64, 72), (80, 64), (64, 72), (80, 64),
                                           (80, 64)])
    assert sheet.shape[0] > 256 + 100  # captions and metric lines under the tiles
    # the content-mask tile is tinted blue at the top (sky) and green at the bottom (ground)
    x0 = 12 + 320 + 8 + 228 + 8
    top, bottom = sheet[20, x0 + 150].astype(int), sheet[250, x0 + 150].astype(int)
    assert top[2] > top[1] and bottom[1] > bottom[2]
    assert not any(n.startswith(".") for n in folder_files(d["dir"]))


def test_eval_report_without_masks_or_stage1(tiny_pair, capsys):
    d = tiny_pair
    report = d["dir"] / "sheet.png"
    code, _, err = run_cli(["eval", d["content"], d["style"], d["content"], "--report", report],
                           capsys)
    assert code == 0, err
    assert Image.open(report).size[0] == _sheet_width([(80, 64), (64, 72), (80, 64)])


def _pairs_folder(root: Path) -> Path:
    """input/inN, style/tarN, segmentation/inN and tarN for pairs 1 and 2."""
    for sub in ("input", "style", "segmentation"):
        (root / sub).mkdir(parents=True)
    for n, seed in ((1, 1), (2, 3)):
        c, cl = scene(48, 64, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=seed)
        s, sl = scene(56, 48, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=seed + 1)
        write_png(root / "input" / f"in{n}.png", c)
        write_png(root / "style" / f"tar{n}.png", s)
        write_png(root / "segmentation" / f"in{n}.png", color_mask(cl))
        write_png(root / "segmentation" / f"tar{n}.png", color_mask(sl))
    return root


def test_pairs_table_csv_and_missing_output(tmp_path, capsys):
    pairs = _pairs_folder(tmp_path / "pairs")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    content = np.asarray(Image.open(pairs / "input" / "in1.png"))
    write_png(outputs / "result_1.png", content)  # found by the "separate number" rule
    write_png(outputs / "result_12.png", content)  # not pair 1 (nor 2)
    table = tmp_path / "table.csv"
    report_dir = tmp_path / "sheets"
    report_dir.mkdir()
    code, out, err = run_cli(["eval", "--pairs", pairs, "--outputs", outputs, "--csv", table,
                             "--report", report_dir], capsys)
    assert code == 0, err
    assert "pair 2: no output" in err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["pair", *KEYS]
    assert [line.split()[0] for line in lines[1:] if not line.startswith("-")] == \
        ["1", "mean", "median"]
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["pair"] for r in rows] == ["1", "mean", "median"]
    assert float(rows[0]["structure"]) == pytest.approx(1.0)
    assert float(rows[0]["photorealism"]) < 1e-5
    assert rows[0]["output"].endswith("result_1.png")
    assert folder_files(report_dir) == ["pair1.png"]


def test_find_output_rule(tmp_path):
    for name in ("best7_t_1000.png", "out_17.png", "in71.png", "run_3.png", "run_3.stage1.png",
                 "a5.png", "b5.jpg", ".hidden_9.png", "notes_9.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in find_output(tmp_path, 7)] == ["best7_t_1000.png"]
    assert [p.name for p in find_output(tmp_path, 17)] == ["out_17.png"]
    assert [p.name for p in find_output(tmp_path, 3)] == ["run_3.png"]
    assert [p.name for p in find_output(tmp_path, 5)] == ["a5.png", "b5.jpg"]  # ambiguous
    assert find_output(tmp_path, 9) == [] and find_output(tmp_path, 1) == []
    (tmp_path / "7.png").write_bytes(b"")
    assert [p.name for p in find_output(tmp_path, 7)] == ["7.png"]


def test_main_command_report(tiny_pair, capsys):
    d = tiny_pair
    out, report = d["dir"] / "out.png", d["dir"] / "out_report.png"
    code, _, err = run_cli([d["content"], d["style"], "-o", out, *_masks(d), "--vgg-weights",
                           "random", "--size", "64", "--iters", "3,3", "-q", "--report", report],
                           capsys)
    assert code == 0, err
    # content | style | content mask | style mask | stage 1 (64x51) | final (64x51) |
    # loss curves (1.5 x the tile height)
    assert Image.open(report).size[0] == _sheet_width([(80, 64), (64, 72), (80, 64), (64, 72),
                                                       (64, 51), (64, 51), (384, 256)])


def test_help_mentions_eval(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "eval" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "photostyle eval --help" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    text = capsys.readouterr().out
    for option in ("--pairs", "--outputs", "--csv", "--json", "--report", "--vgg-weights"):
        assert option in text


@pytest.mark.parametrize("case", ["missing_output", "missing_content", "missing_mask",
                                  "one_mask", "not_an_image", "report_dir", "report_is_input",
                                  "pairs_missing", "outputs_missing", "csv_dir", "bad_weights",
                                  "no_arguments"])
def test_bad_paths_exit_2_with_one_line(tiny_pair, capsys, case):
    d = tiny_pair
    folder = d["dir"]
    content, style, output = d["content"], d["style"], d["content"]
    extra: list = []
    needle = ""
    args = None
    if case == "missing_output":
        output, needle = folder / "nope.png", "nope.png"
    elif case == "missing_content":
        content, needle = folder / "gone.png", "gone.png"
    elif case == "missing_mask":
        extra, needle = ["--content-mask", folder / "m.png", "--style-mask",
                         d["style_mask"]], "m.png"
    elif case == "one_mask":
        extra, needle = ["--content-mask", d["content_mask"]], "--style-mask"
    elif case == "not_an_image":
        (folder / "text.png").write_text("hello")
        output, needle = folder / "text.png", "text.png"
    elif case == "report_dir":
        extra, needle = ["--report", folder / "no" / "r.png"], str(folder / "no")
    elif case == "report_is_input":
        extra, needle = ["--report", d["style"]], "style.png"
    elif case == "pairs_missing":
        args, needle = ["eval", "--pairs", folder / "nodir", "--outputs", folder], "nodir"
    elif case == "outputs_missing":
        _pairs_folder(folder / "p")
        args = ["eval", "--pairs", folder / "p", "--outputs", folder / "o"]
        needle = str(folder / "o")
    elif case == "csv_dir":
        _pairs_folder(folder / "p")
        args, needle = ["eval", "--pairs", folder / "p", "--outputs", folder, "--csv",
                        folder / "x" / "t.csv"], str(folder / "x")
    elif case == "bad_weights":
        extra, needle = ["--vgg-weights", folder / "w.pth"], "w.pth"
    elif case == "no_arguments":
        args, needle = ["eval"], "CONTENT STYLE OUTPUT"
    before = folder_files(folder)
    if args is None:
        args = ["eval", content, style, output, *extra]
    code, out, err = run_cli(args, capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if "error" in line]
    assert len(lines) == 1 and needle in lines[0], err
    assert out == ""
    assert folder_files(folder) == before, "nothing may be written on error"


@pytest.mark.skipif(not (DPST / "final_results").is_dir(), reason="../shared/dpst is absent")
def test_paper_result_is_photorealistic_and_closer_to_the_style(capsys):
    n = 11
    code, out, err = run_cli(["eval", DPST / "input" / f"in{n}.png", DPST / "style" / f"tar{n}.png",
                             DPST / "final_results" / f"best{n}_t_1000.png", "--content-mask",
                             DPST / "segmentation" / f"in{n}.png", "--style-mask",
                             DPST / "segmentation" / f"tar{n}.png", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["photorealism"] < 1e-3
    assert result["style_distance"] < 0.5 * result["style_distance_content"]
    assert 0.5 < result["structure"] < 1.0
