"""The catalogue through ``photostyle batch``: the runners' checks (headers before decoding,
the pixel limit, masks parsed at the working scale, the preview's memory estimate, a
divergence) fail the item alone, in one line of the report, and write nothing for it; the
output folder is checked for writing before any work; SIGTERM stops a batch as Ctrl-C does,
with its own exit status."""

from __future__ import annotations

import errno
import importlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle.batch import read_report
from photostyle.cli import batch as batch_command
from photostyle.interrupts import Terminated
from photostyle.io import files

from ..cli_runner import folder_files, run_cli
from ..synthetic import BLUE, GREEN, write_png, write_shoot
from .catalogue import NEURAL, PREVIEW, bomb_png, check_error, diverge_from, photo, snapshot


def _run(shoot: dict, out: Path, capfd, *options) -> tuple[int, str, list]:
    code, _, err = run_cli(["batch", shoot["photos"], "-o", out, "--style", shoot["style"],
                            *options], capfd)
    assert "Traceback" not in err, err
    return code, err, read_report(out / "batch_report.csv")


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png") if not p.name.startswith("."))


def test_a_bomb_and_a_photo_over_max_pixels_fail_alone_before_decoding(tmp_path, capfd,
                                                                        monkeypatch):
    shoot = write_shoot(tmp_path, 3)
    bomb_png(shoot["photos"] / "c1.png")
    out = tmp_path / "out"
    decoded = []
    images = importlib.import_module("photostyle.io.images")
    real = images._decode
    monkeypatch.setattr(images, "_decode", lambda path, *a: decoded.append(path.name)
                        or real(path, *a))
    code, err, rows = _run(shoot, out, capfd, *PREVIEW)
    assert code == 1, err
    assert [r.status for r in rows] == ["done", "failed", "done"]
    assert "13400x13400" in rows[1].reason and "--max-pixels" in rows[1].reason
    assert "\n" not in rows[1].reason
    assert "c1.png" not in decoded, "the bomb is refused from its header"
    assert _outputs(out) == ["c0.png", "c2.png"]
    # An explicit limit: c0 is 64x48 and the style 64x64 (4096 px); c2 becomes 100x80.
    Image.fromarray(photo(80, 100)).save(shoot["photos"] / "c2.png")
    code, err, rows = _run(shoot, tmp_path / "limited", capfd, *PREVIEW, "--max-pixels",
                           "5000")
    assert [r.status for r in rows] == ["done", "failed", "failed"]
    assert "c2.png" in rows[2].reason and "--max-pixels 8000" in rows[2].reason


def test_preview_memory_estimate_refuses_each_item(tmp_path, capfd):
    shoot = write_shoot(tmp_path, 2)
    out = tmp_path / "out"
    code, err, rows = _run(shoot, out, capfd, "--quality", "preview", "--size", "4000",
                           "--max-memory", "0.5", "-q")
    assert code == 1, err
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("needs about" in r.reason and "use --size" in r.reason for r in rows)
    assert _outputs(out) == []


def test_a_large_photo_and_its_mask_are_read_at_the_working_scale(tmp_path, capfd,
                                                                  monkeypatch):
    import segment.io

    shoot = write_shoot(tmp_path, 1)
    Image.fromarray(photo(640, 800)).save(shoot["photos"] / "c0.png")
    mask = np.empty((640, 800, 3), np.uint8)
    mask[:320], mask[320:] = BLUE, GREEN  # the style mask's colours
    write_png(shoot["masks"] / "c0.png", mask)
    parsed = []
    real = segment.io.parse_color_mask
    monkeypatch.setattr(segment.io, "parse_color_mask",
                        lambda pixels, **kw: parsed.append(pixels.shape) or real(pixels, **kw))
    out = tmp_path / "out"
    code, err, rows = _run(shoot, out, capfd, "--content-masks", shoot["masks"],
                           "--style-mask", shoot["style_mask"], *PREVIEW)
    assert code == 0 and [r.status for r in rows] == ["done"], (err, rows)
    assert parsed[0][:2] == (205, 256)  # at most 4x --size 64, not 640x800
    with Image.open(out / "c0.png") as img:
        assert img.size == (64, 51)


def test_divergence_fails_the_item_and_writes_nothing_for_it(tmp_path, capfd, monkeypatch):
    """In a batch a diverged item is a failure (a rerun redoes it): its best image is not
    written as the output, which would then count as complete."""
    diverge_from(monkeypatch, 1)
    shoot = write_shoot(tmp_path, 2)
    out = tmp_path / "out"
    code, err, rows = _run(shoot, out, capfd, *NEURAL)
    assert code == 1, err
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("diverged" in r.reason and "nan" in r.reason for r in rows)
    assert _outputs(out) == []


def _refuse(folder: Path):
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(Path(dir) / ".probe"))
        return real(*args, dir=dir, **kwargs)

    return mkstemp


def test_an_unwritable_output_folder_is_found_before_any_work(tmp_path, capfd, monkeypatch):
    shoot = write_shoot(tmp_path, 2)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(files.tempfile, "mkstemp", _refuse(locked))
    before = snapshot(tmp_path)
    code, _, err = run_cli(["batch", shoot["photos"], "-o", locked, "--style", shoot["style"],
                            *PREVIEW], capfd)
    check_error(code, err, ("locked", "Read-only", "choose a folder you can write to"),
                tmp_path, before)
    assert folder_files(locked) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capfd):
    shoot = write_shoot(tmp_path, 1)
    before = snapshot(tmp_path)
    code, _, err = run_cli(["batch", shoot["photos"], "-o", "/proc/photostyle_batch",
                            "--style", shoot["style"], *PREVIEW], capfd)
    check_error(code, err, ("/proc/photostyle_batch", "cannot create"), tmp_path, before)


def test_sigterm_stops_a_batch_like_ctrl_c_with_status_143(tmp_path, capfd, monkeypatch):
    shoot = write_shoot(tmp_path, 4)
    out = tmp_path / "out"
    original = batch_command.BatchProgress.finished

    def terminate_after_one(self, event):
        original(self, event)
        if self.counts["done"] == 1:
            raise Terminated("terminated (SIGTERM)")

    monkeypatch.setattr(batch_command.BatchProgress, "finished", terminate_after_one)
    code, _, err = run_cli(["batch", shoot["photos"], "-o", out, "--style", shoot["style"],
                            *PREVIEW], capfd)
    assert code == 143, err
    assert err.strip().splitlines()[-1].startswith("photostyle batch: terminated (SIGTERM)")
    assert "run the same command again" in err
    assert _outputs(out) == ["c0.png"]
