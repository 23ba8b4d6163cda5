"""The command line end to end: a tiny pair with random weights, and every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle import __version__, cli

from ..cli_runner import assert_clean_error, folder_files, interrupt_at, run_cli
from ..synthetic import write_png

FAST = ["--vgg-weights", "random", "--size", "64", "--iters", "4,4", "-q"]


def test_end_to_end_with_masks_and_stages(tiny_pair, capsys):
    d = tiny_pair
    out = d["dir"] / "out.png"
    code, _, err = run_cli([d["content"], d["style"], "-o", out, "--content-mask",
                           d["content_mask"],
                           "--style-mask", d["style_mask"], "--save-stages", "--save-every", "2",
                           *FAST], capsys)
    assert code == 0, err
    assert "untrained random VGG-19 weights" in err
    img = np.asarray(Image.open(out))
    assert img.shape == (51, 64, 3)  # content 64x80 at long side 64
    for name in ("out.stage1.png", "out.stage2.png", "out.stage1_0002.png",
                 "out.stage2_0004.png"):
        assert (d["dir"] / name).exists(), name
    assert not any(n.startswith(".") for n in folder_files(d["dir"]))  # no temp files left


def test_console_script_runs(tiny_pair):
    d = tiny_pair
    out = d["dir"] / "o.jpg"
    exe = Path(sys.executable).with_name("photostyle")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "photostyle"]
    proc = subprocess.run([*cmd, str(d["content"]), str(d["style"]), "-o", str(out),
                           "--no-post", *FAST[:-1], "--iters", "2,0"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "stage 1" in proc.stderr  # tqdm progress
    assert Image.open(out).size == (64, 51)


@pytest.mark.parametrize("case", ["missing_content", "not_an_image", "missing_out_dir",
                                  "out_is_input", "mask_size", "mask_without_colours",
                                  "one_mask_only", "tiny_image", "bad_weights", "bad_extension"])
def test_bad_input_gives_one_line_and_exit_2(tiny_pair, capsys, case):
    d = tiny_pair
    folder = d["dir"]
    out = folder / "out.png"
    content, style = d["content"], d["style"]
    masks = ["--content-mask", d["content_mask"], "--style-mask", d["style_mask"]]
    extra: list = []
    needle = ""
    if case == "missing_content":
        content, needle = folder / "nope.png", "nope.png"
    elif case == "not_an_image":
        (folder / "text.png").write_text("hello")
        content, needle = folder / "text.png", "text.png"
    elif case == "missing_out_dir":
        out, needle = folder / "no" / "out.png", "does not exist"
    elif case == "out_is_input":
        out, needle = d["style"], "also an input"
    elif case == "mask_size":
        write_png(folder / "big_mask.png", np.zeros((200, 30, 3), np.uint8))
        masks[1], needle = folder / "big_mask.png", "big_mask.png"
    elif case == "mask_without_colours":
        rng = np.random.default_rng(0)
        write_png(folder / "noise_mask.png", rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
        masks[1], needle = folder / "noise_mask.png", "noise_mask.png"
    elif case == "one_mask_only":
        masks, needle = masks[:2], "--style-mask"
    elif case == "tiny_image":
        write_png(folder / "tiny.png", np.zeros((16, 16, 3), np.uint8))
        style, needle = folder / "tiny.png", "tiny.png"
    elif case == "bad_weights":
        extra, needle = ["--vgg-weights", folder / "weights.pth"], "weights.pth"
    elif case == "bad_extension":
        out, needle = folder / "out.xyz", "out.xyz"
    before = folder_files(folder)
    args = [content, style, "-o", out, *masks, *FAST, *extra]
    code, _, err = run_cli(args, capsys)
    assert_clean_error(code, err, needle, folder, before)


def test_ctrl_c_writes_best_result_so_far(tiny_pair, capsys, monkeypatch):
    d = tiny_pair
    out = d["dir"] / "out.png"
    interrupt_at(monkeypatch, stage=1, step=3)
    code, _, err = run_cli([d["content"], d["style"], "-o", out, *FAST], capsys)
    assert code == 130
    assert "best image so far" in err
    assert Image.open(out).size == (64, 51)
    assert not any(n.startswith(".") for n in folder_files(d["dir"]))


def test_env_var_names_weights(tiny_pair, capsys, monkeypatch):
    d = tiny_pair
    monkeypatch.setenv("PHOTOSTYLE_VGG_WEIGHTS", os.fspath(d["dir"] / "missing.pth"))
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "o.png", "--size", "64",
                           "-q"],
                           capsys)
    assert code == 2 and "missing.pth" in err


def test_help_lists_option_groups(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--content-mask", "--iters", "--lambda", "--vgg-weights", "--no-post",
                   "--save-every", "--save-stages", "--device", "--seed", "--size"):
        assert option in text


def test_subcommands_version_and_the_default_command(tiny_pair, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0 and "run" in text and "eval" in text
    assert cli.main([]) == 2 and "COMMAND" in capsys.readouterr().err
    d = tiny_pair
    args = [d["content"], d["style"], "--quality", "preview", "--size", "64", "-q"]
    # 'photostyle CONTENT STYLE …' is 'photostyle run CONTENT STYLE …': the same picture.
    code, _, err = run_cli([*args, "-o", d["dir"] / "a.png"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["run", *args, "-o", d["dir"] / "b.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(d["dir"] / "a.png")),
                          np.asarray(Image.open(d["dir"] / "b.png")))


def test_config_errors_name_the_option(tiny_pair, capsys):
    d = tiny_pair
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "x.png", "--size", "10",
                            "--vgg-weights", "random"], capsys)
    assert code == 2 and err.startswith("photostyle: error: --size 10") and err.count("\n") == 1
