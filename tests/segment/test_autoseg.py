"""Automatic masks: the ADE20K table, the semantic loading path (a small smp model saved by the
test), group remapping, co-segmentation, the colour-code round trip and the offline fallback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from segment import (
    ADE20K_CLASSES,
    GROUPS,
    MaskWarning,
    SegmentationWeightsError,
    automatic_masks,
    class_to_group,
    cosegment,
    load_color_mask,
    load_semantic_model,
    merge_small_regions,
    remap_groups,
    segment_semantic,
    semantic_aligned_masks,
)
from segment.ade20k import group_index, short_name

from ..cli_runner import run_cli
from ..conftest import SHARED
from ..synthetic import save_mask, scene, to_tensor, write_pair

FAST = ["--vgg-weights", "random", "--size", "64", "--iters", "2,2", "-q"]


# --------------------------------------------------------------------------- helpers


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sky over field in both images, in different shades and at different horizons/sizes."""
    content, c_truth = scene(96, 128, (0.55, 0.7, 0.95), (0.3, 0.55, 0.2), 0.45, seed=seed)
    style, s_truth = scene(112, 96, (0.95, 0.55, 0.3), (0.35, 0.3, 0.15), 0.6, seed=seed + 1)
    return content, style, c_truth, s_truth


def _class(name: str) -> int:
    """ADE20K class index by first synonym."""
    return next(i for i in range(len(ADE20K_CLASSES)) if short_name(i) == name)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _tiny_checkpoint(folder: Path, classes: int = 150, preprocessing: bool = True) -> Path:
    """A small UPerNet-ConvNeXt saved exactly as the smp-hub checkpoints are."""
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    model = smp.UPerNet(encoder_name="tu-convnext_atto", encoder_weights=None, classes=classes,
                        decoder_channels=16)
    model.save_pretrained(folder)
    if preprocessing:
        config = {"__version__": "2.0.0", "transform": {
            "__class_fullname__": "Compose", "p": 1.0, "transforms": [
                {"__class_fullname__": "Resize", "height": 96, "width": 96, "p": 1.0},
                {"__class_fullname__": "Normalize", "mean": [120.0, 110.0, 100.0],
                 "std": [60.0, 55.0, 50.0], "max_pixel_value": 1.0, "p": 1.0}]}}
        (folder / "albumentations_config_eval.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def pair_files(tmp_path: Path) -> dict[str, Path]:
    return write_pair(tmp_path, *_pair())


@pytest.fixture
def offline_hub(monkeypatch, tmp_path: Path) -> None:
    """No network and an empty Hugging Face cache, whatever the machine has."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


# --------------------------------------------------------------------------- ADE20K table


def test_merge_table_covers_the_150_classes_exactly_once():
    assert len(ADE20K_CLASSES) == 150
    listed = [name for group in GROUPS for name in group.classes]
    assert sorted(listed) == sorted(short_name(i) for i in range(150))
    table = class_to_group()
    assert table.shape == (150,) and table.min() >= 0 and table.max() < len(GROUPS)
    assert table[ADE20K_CLASSES.index("sky")] == group_index("sky")
    colors = [group.color for group in GROUPS]
    assert len(set(colors)) == len(colors)
    for group in GROUPS:
        assert group.name not in group.related
        for name in group.related:
            group_index(name)  # raises for an unknown group


def test_class_names_are_those_of_object_info_150():
    path = SHARED / "ade20k" / "objectInfo150.txt"
    if not path.is_file():
        pytest.skip("../shared/ade20k is absent")
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]
    assert [int(r[0]) for r in rows] == list(range(1, 151))
    assert tuple(r[4].strip() for r in rows) == ADE20K_CLASSES


# --------------------------------------------------------------------------- semantic path


def test_real_loading_path_with_a_small_saved_model(tmp_path):
    folder = _tiny_checkpoint(tmp_path / "ckpt")
    model = load_semantic_model(folder)
    assert model.size == 96 and model.mean == (120.0, 110.0, 100.0)
    assert model.std == (60.0, 55.0, 50.0) and not model.module.training
    image = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(1))
    before = image.clone()
    labels = segment_semantic(image, model)
    assert torch.equal(image, before)
    assert labels.shape == (70, 90) and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 150
    # Same as doing the preprocessing by hand: long side 96, sides multiples of 32.
    x = F.interpolate(image, size=(64, 96), mode="bilinear", align_corners=False,
                      antialias=True)
    x = (x * 255 - torch.tensor([120.0, 110.0, 100.0]).view(1, 3, 1, 1)) / torch.tensor(
        [60.0, 55.0, 50.0]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = F.interpolate(model.module(x), size=(70, 90), mode="bilinear",
                               align_corners=False)
    assert np.array_equal(labels, logits.argmax(1)[0].numpy())
    # And through the public entry point, by folder.
    content, style, _, _ = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)
        aligned = automatic_masks(to_tensor(content), to_tensor(style), "auto", model=str(folder))
    assert aligned.content_labels.shape == (96, 128) and aligned.style_labels.shape == (112, 96)


def test_checkpoint_without_preprocessing_uses_imagenet_statistics(tmp_path):
    model = load_semantic_model(_tiny_checkpoint(tmp_path / "ckpt", preprocessing=False))
    assert model.mean == (123.675, 116.28, 103.53) and model.size == 512


@pytest.mark.parametrize("case", ["missing", "file", "classes", "no_weights"])
def test_unusable_checkpoints_are_user_errors(tmp_path, case):
    folder = tmp_path / "ckpt"
    if case == "missing":
        folder = tmp_path / "nowhere" / "ckpt"
    elif case == "file":
        folder.write_text("not a folder")
    elif case == "classes":
        _tiny_checkpoint(folder, classes=19)
    else:
        _tiny_checkpoint(folder)
        (folder / "model.safetensors").unlink()
    with pytest.raises(SegmentationWeightsError) as info:
        load_semantic_model(folder)
    assert "\n" not in str(info.value) and str(folder.name) in str(info.value)


# --------------------------------------------------------------------------- groups


def test_remapping_properties():
    rng = np.random.default_rng(0)
    n = len(GROUPS)
    for _ in range(200):
        c_set = rng.choice(n, size=rng.integers(1, 5), replace=False)
        s_set = rng.choice(n, size=rng.integers(1, 5), replace=False)
        content = rng.choice(c_set, size=(6, 7))
        style = rng.choice(s_set, size=(5, 4))
        c_before, s_before = content.copy(), style.copy()
        new_c, new_s = remap_groups(content, style)
        assert np.array_equal(content, c_before) and np.array_equal(style, s_before)
        in_c, in_s = set(np.unique(new_c).tolist()), set(np.unique(new_s).tolist())
        for g in in_c - in_s:  # kept one-sided only when nothing related is there
            assert not {group_index(r) for r in GROUPS[g].related} & in_s
        for g in in_s - in_c:
            assert not {group_index(r) for r in GROUPS[g].related} & in_c
        for old, new in ((content, new_c), (style, new_s)):
            changed = old != new
            for a, b in zip(old[changed], new[changed], strict=True):
                assert GROUPS[b].name in GROUPS[a].related
        again = remap_groups(new_c, new_s)
        assert np.array_equal(again[0], new_c) and np.array_equal(again[1], new_s)


def test_semantic_masks_merge_small_regions_and_pair_related_groups():
    sky, grass, tree, car = (_class(n) for n in ("sky", "grass", "tree", "car"))
    content = np.full((100, 100), sky)
    content[50:] = grass
    content[10:14, 10:14] = car  # 0.16% of the image: merged into the sky around it
    style = np.full((80, 120), sky)
    style[30:] = tree
    aligned = semantic_aligned_masks(content, style)
    names = {GROUPS[i].color: GROUPS[i].name for i in range(len(GROUPS))}
    assert [names[c] for c in aligned.colors] == ["sky", "tree / plant"]
    assert aligned.content_only == () and aligned.style_only == ()
    sky_label = aligned.colors.index(GROUPS[group_index("sky")].color)
    assert (aligned.content_labels[:50] == sky_label).all()  # car gone, grass -> tree / plant
    assert (aligned.content_labels[50:] != sky_label).all()


def test_group_without_counterpart_is_global_and_warned():
    sky, floor, wall = _class("sky"), _class("floor"), _class("wall")
    content = np.full((60, 60), sky)
    content[30:] = floor
    style = np.full((60, 60), wall)
    style[40:] = floor
    with pytest.warns(MaskWarning, match="sky"):
        aligned = semantic_aligned_masks(content, style)
    assert [aligned.names[i] for i in aligned.content_only] == ["blue"]


def test_merge_small_regions():
    labels = np.zeros((40, 40), dtype=np.int32)
    labels[20:] = 1
    labels[5:8, 5:8] = 2  # 9 px island in label 0
    labels[30:32, 30:33] = 0  # 6 px island of 0 inside 1
    out = merge_small_regions(labels, 10)
    expected = np.zeros_like(labels)
    expected[20:] = 1
    assert np.array_equal(out, expected)
    assert labels[6, 6] == 2  # input untouched
    kept = merge_small_regions(labels, 10, protect=np.array([False, False, True]))
    assert kept[6, 6] == 2 and kept[31, 31] == 1


# --------------------------------------------------------------------------- clustering


def test_cluster_mode_aligns_sky_and_field_in_both_images():
    content, style, c_truth, s_truth = _pair()
    aligned = automatic_masks(to_tensor(content), to_tensor(style), "cluster")
    assert aligned.num_channels == len(aligned.colors) >= 2
    assert aligned.content_only == () and aligned.style_only == ()
    c_lab, s_lab = aligned.content_labels, aligned.style_labels
    # The label covering most of the content's sky also covers the style's sky, and so on.
    for region in (0, 1):
        label = np.bincount(c_lab[c_truth == region]).argmax()
        assert _iou(c_lab == label, c_truth == region) > 0.85
        assert _iou(s_lab == label, s_truth == region) > 0.85
    # Deterministic for a seed.
    again = automatic_masks(to_tensor(content), to_tensor(style), "cluster")
    assert np.array_equal(again.content_labels, c_lab)


def test_cluster_k_override_and_arrays():
    content, style, _, _ = _pair(seed=3)
    c_lab, s_lab = cosegment(content, style, k=3)
    assert c_lab.shape == content.shape[:2] and s_lab.shape == style.shape[:2]
    assert set(np.unique(c_lab)) == set(np.unique(s_lab))
    assert len(np.unique(c_lab)) <= 3
    with pytest.raises(ValueError):
        cosegment(content, style, k=0)


def test_cluster_uses_a_feature_extractor_when_given():
    content, style, c_truth, s_truth = _pair()
    calls = []

    def features(image: torch.Tensor) -> torch.Tensor:  # stands in for trained VGG features
        calls.append(tuple(image.shape))
        return F.avg_pool2d(torch.cat([image, image.mean(1, keepdim=True)], 1), 4)

    c_lab, s_lab = cosegment(to_tensor(content), to_tensor(style), features=features)
    assert len(calls) == 2 and calls[0][:2] == (1, 3)
    label = np.bincount(c_lab[c_truth == 0]).argmax()
    assert _iou(c_lab == label, c_truth == 0) > 0.85 and _iou(s_lab == label, s_truth == 0) > 0.85


def test_colour_code_write_then_parse_round_trip(tmp_path):
    content, style, _, _ = _pair(seed=5)
    auto = automatic_masks(to_tensor(content), to_tensor(style), "cluster")
    rng = np.random.default_rng(0)
    classes = np.kron(rng.integers(0, 150, size=(6, 8)), np.ones((12, 12), dtype=np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)
        semantic = semantic_aligned_masks(classes, classes[::-1, ::-1].copy())
    for aligned in (auto, semantic):
        for labels in (aligned.content_labels, aligned.style_labels):
            path = save_mask(labels, aligned.colors, tmp_path / "mask.png")
            parsed = load_color_mask(path, labels.shape)
            assert np.array_equal(np.asarray(parsed.colors)[parsed.labels],
                                  np.asarray(aligned.colors)[labels])


# --------------------------------------------------------------------------- fallback and CLI


def test_offline_fallback_warns_once_and_clusters(offline_hub):
    content, style, _, _ = _pair()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aligned = automatic_masks(to_tensor(content), to_tensor(style), "auto")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and issubclass(caught[0].category, MaskWarning)
    assert "unavailable" in messages[0] and "using --seg cluster instead" in messages[0]
    assert len(aligned.colors) >= 2


def test_cli_seg_auto_offline_completes_with_one_warning(pair_files, offline_hub, capsys):
    d = pair_files
    out, masks = d["dir"] / "out.png", d["dir"] / "masks"
    code, _, err = run_cli([d["content"], d["style"], "-o", out, "--seg", "auto", "--save-masks",
                           masks, *FAST], capsys)
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("photostyle: warning:")]
    assert len(warned) == 1, err
    assert "semantic segmentation weights" in warned[0]
    assert warned[0].endswith("using --seg cluster instead")
    assert out.exists()
    sizes = {"content": (128, 96), "style": (96, 112)}
    for kind, size in sizes.items():
        mask = load_color_mask(masks / f"{kind}_mask.png", size[::-1])
        assert mask.shape == size[::-1]
        assert Image.open(masks / f"{kind}_overlay.png").size == size
    # The saved masks can be passed back as they are.
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "again.png",
                           "--content-mask",
                           masks / "content_mask.png", "--style-mask", masks / "style_mask.png",
                           *FAST], capsys)
    assert code == 0 and "warning" not in err, err


def test_cli_explicit_masks_win_over_seg(pair_files, capsys):
    d = pair_files
    masks = d["dir"] / "masks"
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "out.png", "--seg",
                           "cluster",
                           "--content-mask", d["content_mask"], "--style-mask", d["style_mask"],
                           "--save-masks", masks, *FAST], capsys)
    assert code == 0, err
    assert "--seg cluster not used" in err
    saved = load_color_mask(masks / "content_mask.png", (96, 128))
    given = load_color_mask(d["content_mask"], (96, 128))
    assert np.array_equal(saved.labels, given.labels) and saved.colors == given.colors


@pytest.mark.parametrize("case", ["no_masks", "bad_k", "dir_is_file", "no_parent",
                                  "missing_checkpoint"])
def test_cli_seg_errors_give_one_line_and_exit_2(pair_files, capsys, case):
    d = pair_files
    extra, needle = [], ""
    if case == "no_masks":
        extra, needle = ["--save-masks", d["dir"] / "m"], "--save-masks needs masks"
    elif case == "bad_k":
        extra, needle = ["--seg", "cluster", "--seg-k", "0"], "--seg-k"
    elif case == "dir_is_file":
        (d["dir"] / "f").write_text("x")
        extra, needle = ["--seg", "cluster", "--save-masks", d["dir"] / "f"], "is a file"
    elif case == "no_parent":
        extra, needle = ["--seg", "cluster", "--save-masks", d["dir"] / "a" / "b"], "create it"
    else:
        extra, needle = ["--seg", "auto", "--seg-model", d["dir"] / "none"], "does not exist"
    before = sorted(p.name for p in d["dir"].iterdir())
    code, _, err = run_cli([d["content"], d["style"], "-o", d["dir"] / "out.png", *extra, *FAST],
                           capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("photostyle: error")]
    assert len(lines) == 1 and needle in lines[0], err
    assert sorted(p.name for p in d["dir"].iterdir()) == before
