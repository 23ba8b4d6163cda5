"""The paper's objective from the command line (--loss paper, --log-json, --init PATH,
--recipe paper) and the default's weight-free fallback: issue 12's "done when" checks."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from photostyle import cli
from photostyle.cli import run as run_command
from photostyle.config import CAFFE_FILE, CAFFE_URL

from ..cli_runner import folder_files, interrupt_at, run_cli
from ..neural import lua_reference as lr
from ..synthetic import color_mask, scene, write_png

ROOT = Path(__file__).resolve().parents[2]
#: Content, style, init image and masks of the "done when" command: 256×192, exact colours.
HEIGHT, WIDTH = 192, 256


def _read(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(array.transpose(2, 0, 1).copy())[None]


@pytest.fixture(scope="module")
def done_when(tmp_path_factory):
    """The files of the "done when" command (W.pth: random Caffe-layout weights) and the Lua
    objective at I.png, from the reference transcription in float64."""
    folder = tmp_path_factory.mktemp("done_when")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        feats = torchvision.models.vgg19(weights=None).features[:30]  # through relu5_1
        for m in feats:
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.normal_(m.weight, std=math.sqrt(2.0 / (9 * m.in_channels)))
                torch.nn.init.normal_(m.bias, std=0.1)
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, folder / "W.pth")
    content, c_labels = scene(HEIGHT, WIDTH, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=1)
    style, s_labels = scene(HEIGHT, WIDTH, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=2)
    init, _ = scene(HEIGHT, WIDTH, (0.6, 0.6, 0.8), (0.4, 0.45, 0.3), 0.5, seed=3)
    files = {"C": write_png(folder / "C.png", content), "S": write_png(folder / "S.png", style),
             "I": write_png(folder / "I.png", init),
             "CM": write_png(folder / "CM.png", color_mask(c_labels)),  # exact blue and green
             "SM": write_png(folder / "SM.png", color_mask(s_labels)), "W": folder / "W.pth"}
    reference = feats.double().eval().requires_grad_(False)
    c, s, i = (_read(files[k]) for k in ("C", "S", "I"))
    with torch.no_grad():
        lua = lr.lua_objective(
            lr.caffe_preprocess(i), lr.caffe_preprocess(c), lr.caffe_preprocess(s),
            lr.extract_masks(_read(files["CM"])[0]), lr.extract_masks(_read(files["SM"])[0]),
            reference, lr.matting_laplacian(c[0].permute(1, 2, 0).numpy()))
    return files, {k: float(v) for k, v in lua.items()}


@pytest.mark.parametrize(("iters", "stage"), [("1,0", 1), ("0,1", 2)])
def test_first_json_record_is_the_lua_objective_at_the_init_image(done_when, tmp_path, capsys,
                                                                   iters, stage):
    files, lua = done_when
    log = tmp_path / "L.jsonl"
    code, _, err = run_cli([files["C"], files["S"], "-o", tmp_path / "O.png",
                            "--content-mask", files["CM"], "--style-mask", files["SM"],
                            "--vgg-weights", files["W"], "--vgg-format", "caffe",
                            "--loss", "paper", "--quality", "max", "--iters", iters,
                            "--init", files["I"], "--size", "256", "--no-post",
                            "--log-json", log, "-q"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 1  # one step: its record is the start image's terms
    first = records[0]
    assert (first["level"], first["stage"], first["step"]) == (1, stage, 0)
    terms = ["content", "style", "tv"] + (["matting"] if stage == 2 else [])
    assert set(first) == {"level", "stage", "step", "total", "seconds", *terms}
    for term in terms:  # float32 against the float64 Lua objective
        assert math.isclose(first[term], lua[term], rel_tol=0.01), (term, first[term], lua[term])
    assert math.isclose(first["total"], sum(first[t] for t in terms), rel_tol=1e-6)


def test_offline_default_runs_the_weight_free_method_with_one_warning(tmp_path, capsys):
    """``make photo`` on a fresh offline clone: the Makefile's command, no weights anywhere."""
    out = tmp_path / "out" / "photo.png"
    out.parent.mkdir()
    data = ROOT / "data"
    code, _, err = run_cli([data / "rocket_content.png", data / "rocket_style.png",
                            "--content-mask", data / "rocket_content_mask.png",
                            "--style-mask", data / "rocket_style_mask.png", "-o", out,
                            "--save-stages"], capsys)
    assert code == 0, err
    assert max(Image.open(out).size) == 512  # the preview at the default size
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert "weight-free" in warnings[0] and CAFFE_URL in warnings[0]
    assert "error" not in err
    assert folder_files(out.parent) == ["photo.png"]


def test_offline_explicit_weights_stay_strict(capsys, tiny_pair):
    d = tiny_pair
    before = folder_files(d["dir"])
    for weights, url in (("caffe", CAFFE_URL), ("imagenet", "vgg19-dcbb9e9d.pth")):
        code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "o.png",
                                "--vgg-weights", weights, "--size", "64", "-q"], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("photostyle: error"), err
        assert url in lines[0] and "--vgg-weights PATH" in lines[0]
    assert folder_files(d["dir"]) == before


def test_cached_caffe_weights_are_used_by_default(capsys, tiny_pair, offline, done_when):
    files, _ = done_when
    cache = offline / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copy(files["W"], cache / CAFFE_FILE)
    d = tiny_pair
    log = d["dir"] / "log.jsonl"
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "o.png", "--size", "64",
                            "--iters", "2,1", "--log-json", log, "-q"], capsys)
    assert code == 0, err
    assert "warning" not in err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["level"], r["stage"], r["step"]) for r in records] == [
        (1, 1, 0), (1, 1, 1), (1, 2, 0)]
    assert "matting" in records[-1] and "matting" not in records[0]


def test_log_json_and_init_are_checked_before_any_work(tiny_pair, capsys):
    d = tiny_pair
    before = folder_files(d["dir"])
    base = [d["content"], d["style"], "-o", d["dir"] / "o.png", "--vgg-weights", "random",
            "--size", "64", "-q"]
    for extra, needle in ((["--log-json", d["dir"] / "no" / "log.jsonl"], "does not exist"),
                          (["--log-json", d["content"]], "also an input"),
                          (["--log-json", d["dir"]], "is a folder"),
                          (["--init", d["dir"] / "missing.png"], "--init"),
                          (["--quality", "preview", "--log-json", d["dir"] / "l.jsonl"],
                           "--log-json")):
        code, _, err = run_cli([*base, *extra], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0], (extra, err)
    assert folder_files(d["dir"]) == before


def test_log_json_survives_ctrl_c_and_the_report_plots_the_losses(tiny_pair, capsys,
                                                                   monkeypatch):
    d = tiny_pair
    log, sheet = d["dir"] / "log.jsonl", d["dir"] / "sheet.png"
    args = [d["content"], d["style"], "-o", d["dir"] / "o.png", "--vgg-weights", "random",
            "--size", "64", "--iters", "2,1", "--log-json", log, "-q"]
    code, _, err = run_cli([*args, "--report", sheet], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in records] == [(1, 0), (1, 1), (2, 0)]
    assert sheet.is_file()
    interrupt_at(monkeypatch, stage=1, step=2)
    code, _, err = run_cli(args, capsys)
    assert code == 130
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [0, 1]
    # the sheet's loss-curve tile: wider than the same sheet without it
    from photostyle.evaluation.report import make_contact_sheet

    content = np.asarray(Image.open(d["content"]))
    without = make_contact_sheet(content, content, content)
    with_plot = make_contact_sheet(content, content, content, history=[
        {"level": 1, "stage": 1, "step": 1, "elapsed": 0.1, "total": 3.0, "content": 1.0,
         "style": 2.0}])
    assert with_plot.shape[1] > without.shape[1]


def test_recipe_paper_sets_the_paper_run_and_options_override(tiny_pair):
    d = tiny_pair
    parser = cli.build_parser()
    base = ["run", str(d["content"]), str(d["style"]), "-o", str(d["dir"] / "o.png")]
    config = run_command.method_config(parser.parse_args([*base, "--recipe", "paper"]))
    assert (config.vgg_weights, config.loss, config.quality, config.init, config.variable,
            config.size) == ("caffe", "paper", "max", "mean", "caffe", 700)
    assert config.level_steps == ((1000, 1000),) and config.history_size == 100
    assert (config.post_smooth_radius, config.post_sigma) == (15, 0.01)
    config = run_command.method_config(parser.parse_args(
        [*base, "--recipe", "paper", "--size", "256", "--init", "content",
         "--vgg-weights", "random"]))
    assert (config.size, config.init, config.vgg_weights, config.loss) == (
        256, "content", "random", "paper")
    default = run_command.method_config(parser.parse_args(base))
    assert (default.vgg_weights, default.loss_form) == ("auto", "paper")
