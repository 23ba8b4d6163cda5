"""Image reading conversions, bad files, output-path checks and atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle.errors import InputError
from photostyle.io.files import check_output_path
from photostyle.io.images import read_image, save_image
from photostyle.io.tensors import load_image


def _rgb(h=40, w=48):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_png_round_trip(tmp_path):
    arr = _rgb()
    Image.fromarray(arr).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.shape == (1, 3, 40, 48) and img.dtype == torch.float32
    np.testing.assert_allclose(img[0].permute(1, 2, 0).numpy() * 255, arr, atol=1e-3)


def test_greyscale_becomes_rgb(tmp_path):
    Image.fromarray(_rgb()[..., 0]).save(tmp_path / "g.png")
    arr = read_image(tmp_path / "g.png")
    assert arr.shape == (40, 48, 3)
    assert np.array_equal(arr[..., 0], arr[..., 2])


def test_rgba_composited_over_white_with_warning(tmp_path):
    rgba = np.dstack([_rgb(), np.full((40, 48), 255, np.uint8)])
    rgba[:10, :, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="transparent"):
        arr = read_image(tmp_path / "a.png")
    assert np.allclose(arr[:10], 1.0)
    assert np.allclose(arr[10:] * 255, rgba[10:, :, :3])


def test_16bit_greyscale_keeps_precision(tmp_path):
    ramp = (np.linspace(0, 65535, 48)[None, :].repeat(40, 0)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "d.png")
    arr = read_image(tmp_path / "d.png")
    np.testing.assert_allclose(arr[..., 1], ramp / 65535.0, atol=1e-9)


def test_16bit_rgb_keeps_precision(tmp_path):
    import cv2

    rgb = (np.random.default_rng(1).random((40, 48, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), rgb[..., ::-1])
    arr = read_image(tmp_path / "d.png")
    np.testing.assert_allclose(arr, rgb / 65535.0, atol=1e-9)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    arr = read_image(tmp_path / "c.jpg")
    assert arr.shape == (40, 48, 3) and 0 <= arr.min() and arr.max() <= 1


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :30] = 255  # left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "r.jpg", exif=exif, quality=98)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (60, 40, 3)
    assert out[:25].mean() > 0.9 and out[35:].mean() < 0.1  # white side now on top


def test_missing_unreadable_and_tiny_files(tmp_path):
    with pytest.raises(InputError, match="nope.png: no such file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"hello")
    with pytest.raises(InputError, match="bad.png is not an image"):
        load_image(tmp_path / "bad.png")
    Image.fromarray(_rgb(20, 200)).save(tmp_path / "small.png")
    with pytest.raises(InputError, match="small.png is 200x20 px"):
        load_image(tmp_path / "small.png")


def test_output_path_checks(tmp_path):
    (tmp_path / "in.png").write_bytes(b"x")
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "o.png")
    with pytest.raises(InputError, match="unknown image type"):
        check_output_path(tmp_path / "o.txt")
    with pytest.raises(InputError, match="also an input"):
        check_output_path(tmp_path / "in.png", (tmp_path / "in.png",))
    with pytest.raises(InputError, match="also an input"):
        check_output_path(tmp_path / "." / "in.png", (tmp_path / "in.png",))
    assert check_output_path(tmp_path / "o.jpg", (tmp_path / "in.png",)).name == "o.jpg"


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "o.png"
    save_image(torch.zeros(1, 3, 8, 8), target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_image(torch.ones(1, 3, 8, 8), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]
