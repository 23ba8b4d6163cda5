"""``photostyle train`` and ``photostyle run --model`` end to end, and every bad input."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle.cli import train as train_command
from photostyle.config import CAFFE_FILE, CAFFE_URL
from photostyle.looks.checkpoint import read_checkpoint
from photostyle.neural.vgg import VGG19Features

from ..cli_runner import assert_clean_error, folder_files, run_cli
from ..synthetic import scene, write_png

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--vgg-weights", "random", "--size", "48", "--batch", "2", "--checkpoint-every", "2",
        "-q"]


@pytest.fixture
def folder(tmp_path: Path) -> dict[str, Path]:
    """Six photos, a text file and a too-small image in ``tmp_path/photos``; a style photo."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        sky, ground = rng.random(3), rng.random(3)
        image, _ = scene(56 + 4 * i, 72, tuple(sky), tuple(ground), 0.4, seed=i)
        write_png(photos / f"p{i}.png", image)
    (photos / "notes.txt").write_text("not a photo")
    write_png(photos / "tiny.png", np.zeros((16, 16, 3)))
    style, _ = scene(60, 64, (0.95, 0.5, 0.25), (0.2, 0.15, 0.35), 0.55, seed=9)
    return {"photos": photos, "style": write_png(tmp_path / "style.png", style),
            "dir": tmp_path}


def test_train_resume_and_apply(folder, capsys):
    d = folder
    look, previews = d["dir"] / "look.pt", d["dir"] / "previews"
    code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o", look,
                            "--steps", "4", "--previews", previews, "--holdout", "1", *FAST],
                           capsys)
    assert code == 0, err
    assert "skipped 2 of 8 files" in err and "notes.txt" in err
    assert "for testing the mechanics only" in err
    assert sorted(p.name for p in previews.iterdir()) == ["p5_000002.png", "p5_000004.png"]
    info = read_checkpoint(look)
    assert (info.steps, info.arch, info.for_tests_only) == (4, "bilateral", True)
    assert info.options["batch"] == 2 and info.options["size"] == 48

    code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o", look,
                            "--steps", "6", "--resume", "-q"], capsys)  # settings from the file
    assert code == 0, err
    info = read_checkpoint(look)
    assert info.steps == 6 and [r["step"] for r in info.history] == [1, 2, 3, 4, 5, 6]

    out = d["dir"] / "out.png"
    code, _, err = run_cli([d["photos"] / "p0.png", "--model", look, "-o", out], capsys)
    assert code == 0, err
    assert "trained with untrained random VGG-19 weights" in err and "bilateral look" in err
    assert Image.open(out).size == Image.open(d["photos"] / "p0.png").size  # full resolution
    assert not any(n.startswith(".") for n in folder_files(d["dir"]))


def test_johnson_look_runs_at_size_with_post(folder, capsys):
    d = folder
    look = d["dir"] / "j.pt"
    code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o", look,
                            "--arch", "johnson", "--steps", "2", *FAST], capsys)
    assert code == 0, err
    out = d["dir"] / "j.png"
    code, _, err = run_cli(["run", d["photos"] / "p0.png", "--model", look, "-o", out,
                            "--size", "64", "--post", "-q"], capsys)
    assert code == 0, err
    assert max(Image.open(out).size) == 64


@pytest.mark.parametrize(("sig", "status", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143,
                                                      "terminated (SIGTERM)")])
def test_ctrl_c_or_sigterm_keeps_the_last_checkpoint(folder, capsys, monkeypatch, sig, status,
                                                     word):
    d = folder
    look = d["dir"] / "look.pt"
    original = train_command.TrainProgress.__call__

    def interrupt(self, info):
        original(self, info)
        if info.step == 3:
            os.kill(os.getpid(), sig)  # a real signal, to the command's own handlers

    monkeypatch.setattr(train_command.TrainProgress, "__call__", interrupt)
    code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o", look,
                            "--steps", "10", *FAST], capsys)
    assert code == status, err
    assert f"{word} after step 3; the checkpoint of step 2 is kept" in err
    assert "--resume" in err and read_checkpoint(look).steps == 2
    assert "Traceback" not in err and not any(n.startswith(".") for n in folder_files(d["dir"]))


def _caffe_layout_weights(path: Path) -> Path:
    """Untrained VGG-19 weights saved as the Caffe file is (``N.weight`` keys)."""
    net = VGG19Features("random", seed=3)
    torch.save({k.split(".", 1)[1]: v for k, v in net.state_dict().items()
                if k.startswith("layers.")}, path)
    return path


def test_auto_weights_are_the_caffe_network_or_a_clear_error(folder, capsys, offline):
    """``--vgg-weights auto`` (the default): offline and not cached, one line saying how to
    get the Caffe file, nothing written (no weight-free stand-in for training); cached, the
    Caffe network and the paper's loss form, recorded in the look file."""
    d = folder
    look = d["dir"] / "look.pt"
    args = ["train", d["style"], "--images", d["photos"], "-o", look, "--steps", "1",
            "--size", "40", "--batch", "2", "-q"]
    for weights in ([], ["--vgg-weights", "caffe"]):
        before = folder_files(d["dir"])
        code, _, err = run_cli([*args, *weights], capsys)
        assert_clean_error(code, err, CAFFE_URL, d["dir"], before)
        assert "--vgg-weights PATH" in err and "preview" not in err
    cache = offline / "hub" / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    _caffe_layout_weights(cache / CAFFE_FILE)
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    info = read_checkpoint(look)
    assert (info.vgg_weights, info.vgg_kind, info.for_tests_only) == ("caffe", "caffe", False)
    assert info.loss["form"] == "paper" and info.loss["vgg_format"] == "caffe"
    assert all(math.isfinite(v) for row in info.history for v in row.values())
    code, _, err = run_cli([*args[:6], "--steps", "2", "--resume", "-q"], capsys)
    assert code == 0, err  # the form and the weights taken from the file
    assert read_checkpoint(look).steps == 2


@pytest.mark.parametrize("case", ["no_folder", "too_few", "empty", "exists", "nothing_to_resume",
                                  "suffix", "previews_file", "unreadable_style", "holdout",
                                  "steps", "resume_other_style"])
def test_train_bad_input_gives_one_line_and_exit_2(folder, capsys, case):
    d = folder
    look, style, photos = d["dir"] / "look.pt", d["style"], d["photos"]
    extra: list = []
    if case in ("exists", "nothing_to_resume", "resume_other_style"):
        code, _, err = run_cli(["train", style, "--images", photos, "-o", look, "--steps", "2",
                                *FAST], capsys)
        assert code == 0, err
    needle = ""
    if case == "no_folder":
        photos, needle = d["dir"] / "nope", "nope"
    elif case == "too_few":
        for name in ("p0.png", "p1.png", "p2.png"):
            (photos / name).unlink()
        needle = "3 readable photos"
    elif case == "empty":
        photos = d["dir"] / "empty"
        photos.mkdir()
        needle = "0 files"
    elif case == "exists":
        needle = "--resume"
    elif case == "nothing_to_resume":
        look, extra, needle = d["dir"] / "other.pt", ["--resume"], "does not exist"
    elif case == "suffix":
        look, needle = d["dir"] / "look.png", ".pt"
    elif case == "previews_file":
        extra, needle = ["--previews", style], "is a file"
    elif case == "unreadable_style":
        (d["dir"] / "bad.png").write_text("no")
        style, needle = d["dir"] / "bad.png", "bad.png"
    elif case == "holdout":
        extra, needle = ["--previews", d["dir"] / "pv", "--holdout", "3"], "held out"
        for name in ("p0.png", "p1.png"):
            (photos / name).unlink()
    elif case == "steps":
        extra, needle = ["--steps", "0"], "--steps"
    elif case == "resume_other_style":
        other, _ = scene(60, 64, (0.1, 0.5, 0.9), (0.2, 0.6, 0.1), 0.5, seed=3)
        style = write_png(d["dir"] / "other_style.png", other)
        extra, needle = ["--resume", "--steps", "4"], "another style photo"
    before = folder_files(d["dir"])
    steps = [] if any(str(e) == "--steps" for e in extra) else ["--steps", "2"]
    code, _, err = run_cli(["train", style, "--images", photos, "-o", look, *steps, *extra,
                            *FAST], capsys)
    assert_clean_error(code, err, needle, d["dir"], before)


@pytest.mark.parametrize("case", ["style_given", "optimization_option", "no_style", "not_a_look",
                                  "missing_look"])
def test_run_model_bad_input(folder, capsys, case):
    d = folder
    content, out = d["photos"] / "p0.png", d["dir"] / "out.png"
    args = [content, "--model", d["dir"] / "look.pt", "-o", out, "-q"]
    if case in ("style_given", "optimization_option"):
        code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o",
                                d["dir"] / "look.pt", "--steps", "1", *FAST], capsys)
        assert code == 0, err
    if case == "style_given":
        args, needle = [content, d["style"], *args[1:]], "drop the STYLE photo"
    elif case == "optimization_option":
        args, needle = [*args, "--quality", "draft", "--lambda", "3"], "--quality, --lambda"
    elif case == "no_style":
        args, needle = [content, "-o", out], "--model LOOK.pt"
    elif case == "not_a_look":
        args[2], needle = d["style"], "is not a photostyle look"
    elif case == "missing_look":
        needle = "does not exist"
    before = folder_files(d["dir"])
    code, _, err = run_cli(args, capsys)
    assert_clean_error(code, err, needle, d["dir"], before)


def test_applying_a_look_imports_neither_torchvision_nor_the_optimizer(folder, tmp_path):
    d = folder
    look = d["dir"] / "look.pt"
    from photostyle.looks.checkpoint import Checkpoint, write_checkpoint
    from photostyle.looks.look import new_look

    net = new_look("bilateral").network
    write_checkpoint(look, Checkpoint("bilateral", net.hparams, net.state_dict(), 0, "", "",
                                      "random", "random", True, {}, {}))
    out = tmp_path / "o.png"
    code = ("import sys; from photostyle.cli import main; "
            f"assert main([{str(d['photos'] / 'p0.png')!r}, '--model', {str(look)!r}, '-o', "
            f"{str(out)!r}, '-q']) == 0; "
            "heavy = [m for m in ('torchvision', 'photostyle.neural.vgg', 'scipy.sparse', "
            "'segment.semantic') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
    assert out.is_file()
