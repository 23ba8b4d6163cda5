"""The catalogue, outputs: every file a run writes is checked against every input and for a
writable folder before any work; write errors are one line naming the path, the reason and
the fix, leaving any previous file intact; two runs writing one OUT leave a complete image."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle.io import files

from ..cli_runner import run_cli
from .catalogue import NEURAL, PREVIEW, check_error, check_success, snapshot, tiny_pair

ROOT = Path(__file__).resolve().parents[2]


# Each builder returns (arguments after CONTENT STYLE, needles of the one error line); OUT is
# out.png in the pair's folder unless the arguments give -o.
def _missing_folder(d):
    return ["-o", d["dir"] / "no" / "out.png"], ("no", "create it first")


def _out_is_a_folder(d):
    (d["dir"] / "result.png").mkdir()
    return ["-o", d["dir"] / "result.png"], ("result.png", "is a folder")


def _unknown_extension(d):
    return ["-o", d["dir"] / "out.xyz"], ("out.xyz", "use one of")


def _out_is_the_content(d):
    return ["-o", d["content"]], ("content.png", "also an input")


def _out_links_to_the_content(d):
    (d["dir"] / "link.png").symlink_to(d["content"])
    return ["-o", d["dir"] / "link.png"], ("link.png", "also an input")


def _out_is_a_hard_link_of_the_style(d):
    os.link(d["style"], d["dir"] / "hard.png")
    return ["-o", d["dir"] / "hard.png"], ("hard.png", "also an input")


def _stage_image_is_an_input(d):
    os.replace(d["content"], d["dir"] / "out.stage1.png")
    d["content"] = d["dir"] / "out.stage1.png"
    return ["--save-stages", *NEURAL], ("--save-stages", "out.stage1.png", "also an input")


def _numbered_image_is_an_input(d):
    os.replace(d["style"], d["dir"] / "out.L2_stage2_0004.png")
    d["style"] = d["dir"] / "out.L2_stage2_0004.png"
    return ["--save-every", "2", *NEURAL], ("--save-every", "out.L2_stage2_0004.png",
                                            "would replace an input")


def _report_is_an_input(d):
    return ["--report", d["style"]], ("--report", "style.png", "also an input")


def _report_is_out(d):
    return ["--report", d["dir"] / "out.png"], ("out.png", "the same file")


def _saved_mask_is_an_input(d):
    folder = d["dir"] / "masks"
    folder.mkdir()
    os.replace(d["content_mask"], folder / "content_mask.png")
    return ["--content-mask", folder / "content_mask.png", "--style-mask", d["style_mask"],
            "--save-masks", folder], ("--save-masks", "content_mask.png", "also an input")


def _save_masks_is_a_file(d):
    return ["--content-mask", d["content_mask"], "--style-mask", d["style_mask"],
            "--save-masks", d["style"]], ("--save-masks", "style.png", "give a folder")


def _out_in_proc(d):
    return ["-o", "/proc/photostyle_out.png"], ("/proc", "cannot be written to",
                                                "choose a folder you can write to")


def _out_in_sys(d):
    return ["-o", "/sys/photostyle_out.png"], ("/sys", "cannot be written to")


def _report_in_proc(d):
    return ["--report", "/proc/sheet.png"], ("--report", "/proc", "cannot be written to")


def _masks_in_proc(d):
    return ["--content-mask", d["content_mask"], "--style-mask", d["style_mask"],
            "--save-masks", "/proc/masks"], ("--save-masks", "/proc", "cannot be written to")


def _log_json_in_proc(d):
    return ["--log-json", "/proc/log.jsonl", *NEURAL], ("--log-json", "/proc",
                                                         "cannot be written to")


def _log_json_is_the_report(d):
    return ["--report", d["dir"] / "x.png", "--log-json", d["dir"] / "x.png", *NEURAL], (
        "--log-json", "x.png", "the same file")


def _out_is_the_init_image(d):
    (d["dir"] / "start.png").write_bytes(d["content"].read_bytes())
    return ["-o", d["dir"] / "start.png", "--init", d["dir"] / "start.png", *NEURAL], (
        "start.png", "also an input")


ERRORS = {
    "missing_folder": _missing_folder,
    "out_is_a_folder": _out_is_a_folder,
    "unknown_extension": _unknown_extension,
    "out_is_the_content": _out_is_the_content,
    "out_links_to_the_content": _out_links_to_the_content,
    "out_is_a_hard_link_of_the_style": _out_is_a_hard_link_of_the_style,
    "stage_image_is_an_input": _stage_image_is_an_input,
    "numbered_image_is_an_input": _numbered_image_is_an_input,
    "report_is_an_input": _report_is_an_input,
    "report_is_out": _report_is_out,
    "saved_mask_is_an_input": _saved_mask_is_an_input,
    "save_masks_is_a_file": _save_masks_is_a_file,
    "out_in_proc": _out_in_proc,
    "out_in_sys": _out_in_sys,
    "report_in_proc": _report_in_proc,
    "masks_in_proc": _masks_in_proc,
    "log_json_in_proc": _log_json_in_proc,
    "log_json_is_the_report": _log_json_is_the_report,
    "out_is_the_init_image": _out_is_the_init_image,
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_output_is_refused_before_any_work(tmp_path, capfd, monkeypatch, case):
    d = tiny_pair(tmp_path)
    options, needles = ERRORS[case](d)
    if "-o" not in options:
        options = ["-o", tmp_path / "out.png", *options]
    if "--vgg-weights" not in options:
        options += PREVIEW
    read = []
    monkeypatch.setattr("photostyle.io.images._decode", lambda *a: read.append(a))
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], *options], capfd)
    check_error(code, err, needles, tmp_path, before)
    assert not read, "no image may be decoded before the outputs are checked"


def _refuse_folder(folder: Path, error: int):
    """``tempfile.mkstemp`` failing with ``error`` in ``folder`` (a forbidden or read-only
    folder, as root cannot make one)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(error, os.strerror(error), str(Path(dir) / ".probe"))
        return real(*args, dir=dir, **kwargs)

    return mkstemp


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS])
def test_unwritable_folder_is_found_before_the_work(tmp_path, capfd, monkeypatch, error):
    d = tiny_pair(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(files.tempfile, "mkstemp", _refuse_folder(locked, error))
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", locked / "out.png", *PREVIEW], capfd)
    check_error(code, err, ("locked", os.strerror(error), "choose a folder you can write to"),
                tmp_path, before)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_read_only_folder_for_a_user(tmp_path, capfd):
    d = tiny_pair(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        before = snapshot(tmp_path)
        code, _, err = run_cli([d["content"], d["style"], "-o", locked / "out.png", *PREVIEW],
                               capfd)
        check_error(code, err, ("locked", "choose a folder you can write to"), tmp_path, before)
    finally:
        locked.chmod(0o755)


def _failing_save(error: int):
    real = Image.Image.save

    def save(self, fp, *args, **kwargs):
        real(self, fp, *args, **kwargs)  # some bytes reach the temporary file first
        raise OSError(error, os.strerror(error))

    return save


@pytest.mark.parametrize(("error", "fix"), [(errno.ENOSPC, "the disk is full"),
                                            (errno.EROFS, "read-only"),
                                            (errno.EDQUOT, "quota")])
def test_write_error_after_the_work_keeps_the_old_out(tmp_path, capfd, monkeypatch, error, fix):
    d = tiny_pair(tmp_path)
    out = tmp_path / "out.png"
    out.write_bytes(b"the previous result")
    monkeypatch.setattr(Image.Image, "save", _failing_save(error))
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", out, *PREVIEW], capfd)
    check_error(code, err, ("out.png", os.strerror(error), fix), tmp_path, before)
    assert out.read_bytes() == b"the previous result"


def test_report_write_error_leaves_a_complete_out(tmp_path, capfd, monkeypatch):
    d = tiny_pair(tmp_path)
    out, sheet = tmp_path / "out.png", tmp_path / "sheet.png"
    real = files.atomic_write

    def atomic_write(path, write):
        if Path(path) == sheet:
            raise files.OutputError(files.os_error_message(path, OSError(
                errno.ENOSPC, os.strerror(errno.ENOSPC))))
        return real(path, write)

    monkeypatch.setattr("photostyle.io.images.atomic_write", atomic_write)
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", out, "--report", sheet, *PREVIEW],
                           capfd)
    assert code == 2 and err.count("\n") == 1 and "sheet.png" in err, err
    check_success(code, err, tmp_path, before, (out,), status=2)


def test_a_stray_os_error_is_one_line(tmp_path, capfd, monkeypatch):
    d = tiny_pair(tmp_path)

    def vanish(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(d["style"]))

    monkeypatch.setattr("photostyle.classic.preview.regional_color_transfer", vanish)
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", tmp_path / "o.png", *PREVIEW], capfd)
    check_error(code, err, ("style.png", "No such file"), tmp_path, before)


def test_out_is_replaced_atomically(tmp_path, capfd):
    d = tiny_pair(tmp_path)
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", out, *PREVIEW], capfd)
    check_success(code, err, tmp_path, before, (out,))


def test_two_writers_to_one_out(tmp_path, capfd):
    """Two runs at once, different styles, the same OUT: both succeed and OUT is one of the
    two results, whole (the last rename wins), with no temporary file left."""
    d = tiny_pair(tmp_path)
    other = tmp_path / "other_style.png"
    Image.fromarray(255 - np.asarray(Image.open(d["style"]))).save(other)
    out = tmp_path / "out.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    before = snapshot(tmp_path)
    runs = [subprocess.Popen([sys.executable, "-m", "photostyle", str(d["content"]), str(s),
                              "-o", str(out), "--size", "400", "--quality", "preview", "-q"],
                             env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for s in (d["style"], other)]
    errs = [run.communicate(timeout=120)[1] for run in runs]
    for run, err in zip(runs, errs, strict=True):
        check_success(run.returncode, err, tmp_path, before, (out,))
    result = np.asarray(Image.open(out))
    singles = []
    for s, name in ((d["style"], "a.png"), (other, "b.png")):
        code, _, err = run_cli([d["content"], s, "-o", tmp_path / name, "--size", "400",
                                "--quality", "preview", "-q"], capfd)
        assert code == 0, err
        singles.append(np.asarray(Image.open(tmp_path / name)))
    assert any(np.array_equal(result, single) for single in singles)
