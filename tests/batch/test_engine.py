"""The batch library: items, the skip rule and partial files, the lock, the report, worker
processes that die, and a trained look's real batches through the engine."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle import Config
from photostyle.batch import (
    BatchLock,
    BatchOptions,
    Record,
    ReportWriter,
    check_items,
    folder_items,
    manifest_items,
    read_report,
    remove_partials,
    run_batch,
)
from photostyle.batch.pool import process_records
from photostyle.errors import InputError, WeightsError
from photostyle.methods import RunnerSpec

from ..synthetic import scene, write_png, write_shoot

PREVIEW = Config(quality="preview", size=64)


def test_folder_items_keep_the_stem_in_name_order(tmp_path):
    d = write_shoot(tmp_path, 3)
    (d["photos"] / ".hidden.png").write_bytes(b"x")
    (d["photos"] / "notes.txt").write_text("not a photo")
    items = folder_items(d["photos"], tmp_path / "out", [d["style"]], suffix=".jpg")
    assert [i.task.content.name for i in items] == ["c0.png", "c1.png", "c2.png"]
    assert [i.out for i in items] == [tmp_path / "out" / f"c{k}.jpg" for k in range(3)]
    assert all(i.task.styles == (d["style"],) for i in items)
    write_png(d["photos"] / "c1.jpg", np.zeros((40, 40, 3)))
    with pytest.raises(InputError, match="both write"):
        check_items(folder_items(d["photos"], tmp_path / "out", [d["style"]]))
    with pytest.raises(InputError, match="input folder"):
        folder_items(d["photos"], d["photos"], [d["style"]])


def test_manifest_paths_and_defaults(tmp_path):
    d = write_shoot(tmp_path, 2)
    manifest = tmp_path / "m.csv"
    manifest.write_text("content,style,out,seed\n"
                        'photos/c0.png,"style.png; photos/c1.png",x/y.png,3\n'
                        "photos/c1.png,,,\n\n")
    items = manifest_items(manifest, tmp_path / "out", [d["style"]])
    assert items[0].task.styles == (d["style"], d["photos"] / "c1.png")
    assert items[0].out == tmp_path / "out" / "x" / "y.png" and items[0].options == (("seed", "3"),)
    assert items[1].task.styles == (d["style"],) and items[1].out.name == "c1.png"
    manifest.write_text("style\nstyle.png\n")
    with pytest.raises(InputError, match="'content'"):
        manifest_items(manifest, tmp_path / "out")
    manifest.write_text("content,style_mask\nphotos/c0.png,style_mask.png\n")
    with pytest.raises(InputError, match="m.csv line 2"):
        manifest_items(manifest, tmp_path / "out", [d["style"]])


def test_remove_partials_touches_only_the_batch_temporaries(tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.jpg"]
    for name in (".a.abc_1234.png", ".b.zzzzzzzz.jpg", ".c.abc_1234.png", ".a.png", "a.png"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_partials(outs)
    assert sorted(p.name for p in removed) == [".a.abc_1234.png", ".b.zzzzzzzz.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.png", ".c.abc_1234.png", "a.png"]


def test_one_batch_per_output_folder(tmp_path):
    with BatchLock(tmp_path):
        with pytest.raises(InputError, match="another photostyle batch"):
            BatchLock(tmp_path).__enter__()
    with BatchLock(tmp_path):  # released
        pass


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_report_rows_in_item_order_and_a_cut_line_is_ignored(tmp_path, suffix):
    path = tmp_path / f"r{suffix}"
    rows = [Record(2, "c, 2.png", "s.png", "o2.png", "failed", 'bad "file"', "w", 0.5),
            Record(0, "c0.png", "s.png", "o0.png", "done", seconds=1.25)]
    writer = ReportWriter(path)
    writer.start()
    for row in rows:
        writer.add(row)
    assert read_report(path) == rows  # appended as they finish
    writer.finish(rows)
    assert read_report(path) == sorted(rows, key=lambda r: r.index)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('3,"c3.png,s' if suffix == ".csv" else '{"index": 3, "cont')
    assert len(read_report(path)) == 2
    with pytest.raises(InputError, match="report"):
        ReportWriter(tmp_path / "r.txt")


def test_a_dead_worker_costs_only_its_item(tmp_path):
    d = write_shoot(tmp_path, 8)
    big, _ = scene(900, 1200, (0.5, 0.6, 0.9), (0.3, 0.5, 0.2), 0.4, seed=1)
    write_png(d["photos"] / "a_big.png", big)  # first in name order, and slow
    items = folder_items(d["photos"], tmp_path / "out", [d["style"]])
    (tmp_path / "out").mkdir()
    spec = RunnerSpec(Config(quality="preview", size=None))
    records = process_records([[i] for i in items], spec, ["cpu", "cpu"], threads=1)
    got = [next(records)]
    for child in multiprocessing.active_children():
        if child.name.startswith("photostyle-batch"):
            os.kill(child.pid, signal.SIGKILL)
    got += list(records)
    assert sorted(r.index for r in got) == list(range(9))
    by_index = {r.index: r for r in got}
    assert by_index[0].status == "failed" and "killed by SIGKILL" in by_index[0].reason
    assert all(r.status == "done" or "worker process died" in r.reason for r in got)
    assert sum(r.status == "done" for r in got) >= 6  # replacements ran the rest
    assert not multiprocessing.active_children()


def test_a_worker_that_cannot_build_its_runner_stops_the_batch(tmp_path):
    d = write_shoot(tmp_path, 2)
    items = folder_items(d["photos"], tmp_path / "out", [d["style"]])
    spec = RunnerSpec(Config(vgg_weights=str(tmp_path / "gone.pth"), size=64))
    with pytest.raises(WeightsError, match="gone.pth"):
        list(process_records([[i] for i in items], spec, ["cpu"], threads=1))
    assert not multiprocessing.active_children()


class TinyLook(torch.nn.Module):
    """A "look": a 1x1 colour mix; it remembers the batch sizes it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.5, 0.2],
                                                [0.0, 0.2, 0.9]])[..., None, None])
            self.mix.bias.fill_(0.05)
        self.batches: list[int] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(images.shape[0])
        return self.mix(images).clamp(0, 1)


def test_a_look_runs_in_real_batches_through_the_engine(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, h in enumerate((48, 48, 0, 50, 48, 48, 50)):  # photo 2 is unreadable
        if h:
            write_png(photos / f"c{i}.png", scene(h, 64, (0.5, 0.6, 0.9), (0.3, 0.5, 0.2),
                                                  0.4, seed=i)[0])
        else:
            (photos / f"c{i}.png").write_bytes(b"not a picture")
    items = folder_items(photos, tmp_path / "out", ())
    look = TinyLook()
    spec = RunnerSpec(Config(), look=look, batch_size=4, device="cpu")
    summary = run_batch(items, spec, tmp_path / "out")
    assert [r.status for r in summary.records] == ["done"] * 2 + ["failed"] + ["done"] * 4
    assert summary.report == tmp_path / "out" / "batch_report.csv"
    # Chunks of 4 photos (c0–c3, c4–c6): photos of one size share a forward pass.
    assert sorted(look.batches) == [1, 1, 2, 2]
    for item in items[:2] + items[3:]:
        alone = TinyLook()
        alone.load_state_dict(look.state_dict())
        with Image.open(item.task.content) as img:
            x = torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255)
        expected = alone(x.permute(2, 0, 1)[None])[0].permute(1, 2, 0)
        got = np.asarray(Image.open(item.out), np.float32) / 255
        assert np.abs(got - expected.detach().numpy()).max() <= 1 / 255 + 1e-6, item.out


def test_batch_options_are_checked():
    with pytest.raises(InputError, match="--workers"):
        BatchOptions(workers=0)
    assert BatchOptions(workers=0, ray=True).backend == "ray"
    assert BatchOptions(devices=("cuda:0", "cuda:1")).backend == "processes"
    assert BatchOptions(devices=("cpu",)).backend == "inline"


def test_an_output_folder_inside_the_photos_is_fine(tmp_path):
    d = write_shoot(tmp_path, 2)
    out = d["photos"] / "styled"
    summary = run_batch(folder_items(d["photos"], out, [d["style"]]), RunnerSpec(PREVIEW), out)
    assert summary.done == 2 and Path(out / "c0.png").is_file()
    again = run_batch(folder_items(d["photos"], out, [d["style"]]), RunnerSpec(PREVIEW), out)
    assert again.skipped == 2 and again.done == 0
