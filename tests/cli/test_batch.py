"""``photostyle batch`` end to end: a shoot with a corrupt photo, reruns, --overwrite, a kill
mid-run, Ctrl-C, several workers, a manifest, masks, the neural method, and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photostyle.batch import read_report
from photostyle.cli import batch as batch_command
from photostyle.cli import build_parser
from photostyle.errors import InputError

from ..cli_runner import folder_files, run_cli
from ..synthetic import write_shoot

PREVIEW = ["--quality", "preview", "--size", "64", "-q"]
ROOT = Path(__file__).resolve().parents[2]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: pixels(p) for p in sorted(folder.glob("*.png"))
            if not p.name.startswith(".")}


def no_partials(folder: Path) -> bool:
    return not [n for n in folder_files(folder) if n.startswith(".") and n.endswith(".png")]


@pytest.fixture
def shoot(tmp_path):
    return write_shoot(tmp_path, 6, corrupt=3)


def test_a_corrupt_photo_is_reported_and_the_batch_goes_on(shoot, capsys):
    out = shoot["dir"] / "out"
    code, _, err = run_cli(["batch", shoot["photos"], "-o", out, "--style", shoot["style"],
                            *PREVIEW], capsys)
    assert code == 1, err
    assert sorted(outputs(out)) == ["c0.png", "c1.png", "c2.png", "c4.png", "c5.png"]
    assert outputs(out)["c0.png"].shape == (48, 64, 3)  # the input's stem, at --size
    rows = read_report(out / "batch_report.csv")
    assert [r.status for r in rows] == ["done"] * 3 + ["failed"] + ["done"] * 2
    failed = rows[3]
    assert failed.content.endswith("c3.png") and "c3.png" in failed.reason
    assert "\n" not in failed.reason
    assert "5 done, 0 skipped, 1 failed" in err.strip().splitlines()[-1]
    assert no_partials(out)


def test_a_rerun_recomputes_nothing_and_overwrite_recomputes_all(shoot, capsys):
    out = shoot["dir"] / "out"
    args = ["batch", shoot["photos"], "-o", out, "--style", shoot["style"], *PREVIEW]
    assert run_cli(args, capsys)[0] == 1
    before = {p.name: os.stat(p) for p in out.glob("*.png")}
    code, _, err = run_cli(args, capsys)
    assert code == 1  # the corrupt photo is tried again, and fails again
    after = {p.name: os.stat(p) for p in out.glob("*.png")}
    assert {n: (s.st_ino, s.st_mtime_ns) for n, s in before.items()} == \
        {n: (s.st_ino, s.st_mtime_ns) for n, s in after.items()}
    assert [r.status for r in read_report(out / "batch_report.csv")].count("skipped") == 5
    assert "0 done, 5 skipped, 1 failed" in err
    code, _, err = run_cli([*args, "--overwrite"], capsys)
    assert code == 1 and "5 done, 0 skipped, 1 failed" in err
    renewed = {p.name: os.stat(p).st_ino for p in out.glob("*.png")}
    assert all(renewed[n] != before[n].st_ino for n in before)  # each replaced atomically


def test_two_workers_give_the_same_outputs_as_one(shoot, capsys):
    one, two = shoot["dir"] / "one", shoot["dir"] / "two"
    base = ["batch", shoot["photos"], "--style", shoot["style"], *PREVIEW]
    assert run_cli([*base, "-o", one], capsys)[0] == 1
    assert run_cli([*base, "-o", two, "--workers", "2"], capsys)[0] == 1
    a, b = outputs(one), outputs(two)
    assert sorted(a) == sorted(b) and len(a) == 5
    for name in a:
        assert np.array_equal(a[name], b[name]), name  # bitwise: the method is deterministic
    rows_a, rows_b = (read_report(d / "batch_report.csv") for d in (one, two))
    assert [(r.content, r.status, r.reason) for r in rows_a] == \
        [(r.content, r.status, r.reason) for r in rows_b]


def test_kill_mid_run_then_rerun_completes_with_no_partial_files(tmp_path, capsys):
    d = write_shoot(tmp_path, 40, side=160)
    out = tmp_path / "out"
    args = ["batch", str(d["photos"]), "-o", str(out), "--style", str(d["style"]),
            "--quality", "preview", "--size", "160", "-q"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "photostyle", *args], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(out.glob("c*.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.stderr.close()
    done_before = len(list(out.glob("c*.png")))
    assert done_before < 40, "the batch finished before the kill; make it longer"
    # What SIGKILL during a write leaves: atomic_write's temporary file of an output.
    (out / ".c39.k3j_x9q2.png").write_bytes(b"half a PNG")
    (out / ".notes.k3j_x9q2.png").write_bytes(b"not ours")  # not an output of this batch
    code, _, err = run_cli(["batch", *args[1:]], capsys)
    assert code == 0, err
    rows = read_report(out / "batch_report.csv")
    assert len(rows) == 40 and {r.status for r in rows} <= {"done", "skipped"}
    assert sum(r.status == "skipped" for r in rows) >= done_before
    assert not (out / ".c39.k3j_x9q2.png").exists() and (out / ".notes.k3j_x9q2.png").exists()
    assert "partial file" in err
    for name, image in outputs(out).items():  # every output decodes in full
        assert image.shape[1] == 160, name
    assert [n for n in folder_files(out) if n.startswith(".")] == \
        [".notes.k3j_x9q2.png", ".photostyle-batch.lock"]


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(shoot, capsys, monkeypatch):
    out = shoot["dir"] / "out"
    args = ["batch", shoot["photos"], "-o", out, "--style", shoot["style"], *PREVIEW]
    original = batch_command.BatchProgress.finished

    def interrupt_after_two(self, event):
        original(self, event)
        if self.counts["done"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(batch_command.BatchProgress, "finished", interrupt_after_two)
    code, _, err = run_cli(args, capsys)
    assert code == 130 and "run the same command again" in err
    assert [r.status for r in read_report(out / "batch_report.csv")] == ["done", "done"]
    assert sorted(outputs(out)) == ["c0.png", "c1.png"] and no_partials(out)
    monkeypatch.undo()
    code, _, err = run_cli(args, capsys)
    assert code == 1 and "3 done, 2 skipped, 1 failed" in err


def test_manifest_with_named_outputs_options_and_masks(shoot, capsys):
    d = shoot
    manifest = d["dir"] / "jobs.csv"
    manifest.write_text(
        "content,style,content_mask,style_mask,out,size,transfer,post\n"
        "photos/c0.png,style.png,masks/c0.png,style_mask.png,,,,\n"
        "photos/c1.png,,,,looks/one.jpg,96,histogram,0\n"
        "photos/c2.png,style.png,masks/c9.png,style_mask.png,,,,\n")
    out = d["dir"] / "out"
    code, _, err = run_cli(["batch", manifest, "-o", out, "--style", d["style"], *PREVIEW],
                           capsys)
    assert code == 1, err
    rows = read_report(out / "batch_report.csv")
    assert [r.status for r in rows] == ["done", "done", "failed"]
    assert "c9.png" in rows[2].reason  # the missing mask, named
    assert pixels(out / "c0.png").shape == (48, 64, 3)
    assert pixels(out / "looks" / "one.jpg").shape == (75, 96, 3)  # row option --size 96
    code, _, err = run_cli(["batch", manifest, "-o", d["dir"] / "other", *PREVIEW], capsys)
    assert code == 1  # the second row has no style of its own and none was given
    assert "give a style photo" in read_report(d["dir"] / "other" / "batch_report.csv")[1].reason


def test_content_masks_folder(shoot, capsys):
    d = shoot
    (d["masks"] / "c5.png").unlink()
    out = d["dir"] / "out"
    code, _, err = run_cli(["batch", d["photos"], "-o", out, "--style", d["style"],
                            "--content-masks", d["masks"], "--style-mask", d["style_mask"],
                            *PREVIEW], capsys)
    rows = read_report(out / "batch_report.csv")
    assert code == 1 and [r.status for r in rows].count("done") == 4
    assert "c5.png" in rows[5].reason and rows[5].status == "failed"


def test_neural_batch_matches_photostyle_run(tmp_path, capsys):
    d = write_shoot(tmp_path, 2)
    fast = ["--vgg-weights", "random", "--size", "64", "--iters", "3,2", "-q"]
    out = tmp_path / "out"
    code, _, err = run_cli(["batch", d["photos"], "-o", out, "--style", d["style"], *fast],
                           capsys)
    assert code == 0, err
    assert "untrained random VGG-19 weights" in err
    single = tmp_path / "single.png"
    code, _, err = run_cli([d["photos"] / "c1.png", d["style"], "-o", single, *fast], capsys)
    assert code == 0, err
    assert np.array_equal(pixels(out / "c1.png"), pixels(single))


def test_a_trained_look_runs_in_batches_as_run_applies_it(shoot, capsys):
    """``batch --model`` with a look trained by ``photostyle train`` (random VGG-19, two steps):
    each readable photo at its own size (a bilateral look), the corrupt one reported, the
    note about random weights on stderr, pixels identical to ``run --model``'s."""
    d = shoot
    look = d["dir"] / "look.pt"
    code, _, err = run_cli(["train", d["style"], "--images", d["photos"], "-o", look,
                            "--steps", "2", "--size", "40", "--batch", "2",
                            "--vgg-weights", "random", "-q"], capsys)
    assert code == 0, err
    out = d["dir"] / "out"
    code, _, err = run_cli(["batch", d["photos"], "-o", out, "--model", look,
                            "--batch-size", "4", "-q"], capsys)
    assert code == 1, err  # c3.png is not an image
    assert "trained with untrained random VGG-19 weights" in err
    rows = read_report(out / "batch_report.csv")
    assert [r.status for r in rows] == ["done"] * 3 + ["failed"] + ["done"] * 2
    for name, image in outputs(out).items():
        assert image.shape == pixels(d["photos"] / name).shape, name  # its own size
    single = d["dir"] / "single.png"
    code, _, err = run_cli([d["photos"] / "c1.png", "--model", look, "-o", single], capsys)
    assert code == 0, err
    assert "bilateral look at 64x50" in err
    assert np.array_equal(pixels(out / "c1.png"), pixels(single))

    for extra, needle in ((["--quality", "draft", "--lambda", "3"], "--quality, --lambda"),
                          (["--style", d["style"]], "--style"),
                          (["--vgg-weights", "random"], "--vgg-weights")):
        code, _, err = run_cli(["batch", d["photos"], "-o", d["dir"] / "o2", "--model", look,
                                *extra, "-q"], capsys)
        lines = [line for line in err.splitlines() if "error" in line]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (extra, err)
    manifest = d["dir"] / "jobs.csv"
    manifest.write_text("content,size,iters\nphotos/c0.png,64,\nphotos/c1.png,,5\n")
    before = folder_files(d["dir"])
    code, _, err = run_cli(["batch", manifest, "-o", d["dir"] / "o3", "--model", look, "-q"],
                           capsys)
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(lines) == 1 and "iters: not used with --model" in lines[0], err
    assert folder_files(d["dir"]) == before


def test_the_weight_free_batch_never_imports_torch(shoot):
    out = shoot["dir"] / "out"
    args = ["batch", str(shoot["photos"]), "-o", str(out), "--style", str(shoot["style"]),
            *PREVIEW, "--workers", "2"]
    code = ("import sys; from photostyle.cli import main; "
            f"code = main({args!r}); assert code == 1, code; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
    assert len(outputs(out)) == 5
    # What each worker runs (its runner and the per-item rule), in a fresh interpreter:
    code = ("import sys; from pathlib import Path; from photostyle import Config; "
            "from photostyle.batch import Worker, folder_items; "
            "from photostyle.methods import RunnerSpec; "
            f"items = folder_items({str(shoot['photos'])!r}, {str(out / 'w')!r}, "
            f"[{str(shoot['style'])!r}]); Path({str(out / 'w')!r}).mkdir(); "
            "spec = RunnerSpec(Config(quality='preview', size=64)); "
            "records = Worker(spec, threads=1).process(items); "
            "assert [r.status for r in records].count('done') == 5, records; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("case", ["outdir_is_input", "out_is_input", "duplicate_out",
                                  "no_style", "bad_option", "unknown_option", "not_csv",
                                  "bad_report", "weights"])
def test_bad_input_gives_one_line_and_exit_2(shoot, capsys, case):
    d = shoot
    manifest = d["dir"] / "jobs.csv"
    args = ["batch", d["photos"], "-o", d["dir"] / "out", "--style", d["style"], *PREVIEW]
    needle = ""
    if case == "outdir_is_input":
        args[3], needle = d["photos"], "input folder"
    elif case == "out_is_input":
        manifest.write_text("content,style,out\nphotos/c0.png,style.png,../style.png\n")
        args[1], needle = manifest, "also an input"
    elif case == "duplicate_out":
        manifest.write_text("content,style,out\nphotos/c0.png,style.png,a.png\n"
                            "photos/c1.png,style.png,a.png\n")
        args[1], needle = manifest, "both write"
    elif case == "no_style":
        args, needle = args[:4] + PREVIEW, "--style"
    elif case == "bad_option":
        manifest.write_text("content,style,size\nphotos/c0.png,style.png,huge\n")
        args[1], needle = manifest, "jobs.csv line 2: --size 'huge'"
    elif case == "unknown_option":
        manifest.write_text("content,style,vgg-weights\nphotos/c0.png,style.png,x.pth\n")
        args[1], needle = manifest, "'vgg-weights' is not an option"
    elif case == "not_csv":
        (d["dir"] / "list.txt").write_text("c0.png\n")
        args[1], needle = d["dir"] / "list.txt", "manifest (.csv)"
    elif case == "bad_report":
        args, needle = [*args, "--report", d["dir"] / "r.txt"], "r.txt"
    elif case == "weights":
        args = ["batch", d["photos"], "-o", d["dir"] / "out", "--style", d["style"],
                "--vgg-weights", d["dir"] / "missing.pth", "--size", "64", "-q"]
        needle = "missing.pth"
    before = folder_files(d["dir"])
    code, _, err = run_cli(args, capsys)
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    if case == "weights":  # the runner is built once the output folder is taken
        assert folder_files(d["dir"] / "out") == [".photostyle-batch.lock"]
    else:
        assert folder_files(d["dir"]) == before, "nothing may be written on error"


def test_per_row_options_are_converted_and_checked_as_on_the_command_line():
    parser = build_parser()
    args = parser.parse_args(["batch", "in", "-o", "out", "--style", "s.png"])
    options = args.config_options
    assert options.parse_text("size", "256") == ("size", 256)
    assert options.parse_text("--iters", "5,6") == ("iters", (5, 6))
    assert options.parse_text("lambda", "1e3") == ("matting_weight", 1000.0)
    assert options.parse_text("post", "0") == ("post", False)
    assert options.parse_text("no-post", "yes") == ("post", False)
    assert options.parse_text("original-colors", "1") == ("original_colors", True)
    assert options.parse_text("original-colors", "off") == ("original_colors", False)
    for name, text, needle in (("size", "big", "--size 'big'"), ("transfer", "cubic", "choose"),
                               ("post", "maybe", "1 or 0"), ("device", "cpu", "not an option")):
        with pytest.raises(InputError, match=needle):
            options.parse_text(name, text)
