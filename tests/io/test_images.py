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


def _shown(arr: np.ndarray, orientation: int) -> np.ndarray:
    """What PIL shows for ``arr`` stored with EXIF ``orientation`` (the reference)."""
    from PIL import ImageOps

    img = Image.fromarray(arr)
    img.getexif()[0x0112] = orientation
    exif = img.getexif()
    img.info["exif"] = exif.tobytes()
    return np.asarray(ImageOps.exif_transpose(img))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_in_every_depth(tmp_path, orientation):
    from photostyle.io.images import orient

    from ..reliability.catalogue import add_png_exif, exif_orientation, write_tiff16

    arr = _rgb(30, 50)
    assert np.array_equal(orient(arr, orientation), _shown(arr, orientation))
    expected = orient(arr, orientation) / 255.0
    for name in ("o.png", "o.tif", "o.webp"):
        Image.fromarray(arr).save(tmp_path / name, exif=exif_orientation(orientation),
                                  **({"lossless": True} if name.endswith("webp") else {}))
        np.testing.assert_allclose(read_image(tmp_path / name), expected, atol=1e-12)
    Image.fromarray(arr).save(tmp_path / "o.jpg", exif=exif_orientation(orientation))
    assert read_image(tmp_path / "o.jpg").shape == expected.shape
    deep = arr.astype(np.uint16) * 257 + 3  # low bytes that 8-bit reading would lose
    expected16 = orient(deep, orientation) / 65535.0
    write_tiff16(tmp_path / "c16.tif", deep, orientation)
    np.testing.assert_allclose(read_image(tmp_path / "c16.tif"), expected16, atol=1e-12)
    write_tiff16(tmp_path / "g16.tif", deep[..., 1], orientation)
    np.testing.assert_allclose(read_image(tmp_path / "g16.tif")[..., 0], expected16[..., 1],
                               atol=1e-12)
    import cv2

    cv2.imwrite(str(tmp_path / "c16.png"), deep[..., ::-1])
    add_png_exif(tmp_path / "c16.png", orientation)
    np.testing.assert_allclose(read_image(tmp_path / "c16.png"), expected16, atol=1e-12)
    Image.fromarray(deep[..., 0]).save(tmp_path / "g16.png", exif=exif_orientation(orientation))
    np.testing.assert_allclose(read_image(tmp_path / "g16.png")[..., 0], expected16[..., 0],
                               atol=1e-12)


def test_opencv_prints_nothing_for_a_turned_16bit_tiff(tmp_path, capfd):
    from ..reliability.catalogue import write_tiff16

    write_tiff16(tmp_path / "t.tif", _rgb().astype(np.uint16) * 257, 6)
    assert read_image(tmp_path / "t.tif").shape == (48, 40, 3)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_large_images_are_decoded_at_a_reduced_scale(tmp_path):
    """Four or more times the working size: decoded at 2-4x it (JPEG DCT scaling, then a box
    filter), and after the final resize within a few levels of a full decode's."""
    from photostyle.io.images import REDUCING_GAP, image_info, resize_image

    yy, xx = np.mgrid[0:960, 0:1280] / 1280
    arr = (np.dstack([yy, xx, 0.5 + 0.4 * np.sin(9 * xx)]) * 255).astype(np.uint8)
    for name in ("big.png", "big.jpg"):
        Image.fromarray(arr).save(tmp_path / name, quality=95)
        small = read_image(tmp_path / name, long_side=100)
        assert REDUCING_GAP * 100 <= max(small.shape[:2]) < 2 * REDUCING_GAP * 100, name
        assert small.shape[1] / small.shape[0] == pytest.approx(4 / 3, rel=0.01)
        full = read_image(tmp_path / name)
        assert full.shape == (960, 1280, 3)
        a, b = resize_image(small, (75, 100)), resize_image(full, (75, 100))
        assert np.abs(a - b).max() < 4 / 255, name
        assert image_info(tmp_path / name).pixels == 960 * 1280
    assert read_image(tmp_path / "big.png", long_side=400).shape == (960, 1280, 3)  # < 4x


def test_pixel_limit_is_checked_from_the_header(tmp_path, monkeypatch):
    from photostyle.io import images
    from photostyle.io.images import image_info

    from ..reliability.catalogue import bomb_png

    bomb_png(tmp_path / "bomb.png")
    from PIL import ImageFile

    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
        info = image_info(tmp_path / "bomb.png", max_pixels=None)  # the header only
    assert (info.width, info.height) == (13400, 13400)
    decoded = []
    monkeypatch.setattr(images, "_decode", lambda *a: decoded.append(a))
    with pytest.raises(InputError, match=r"bomb.png is 13400x13400 \(179.6 megapixels\), over "
                                         r"the limit of 160 megapixels.*--max-pixels 179560000"):
        read_image(tmp_path / "bomb.png")
    assert not decoded
    with pytest.raises(InputError, match="--max-pixels 1920"):
        Image.fromarray(_rgb()).save(tmp_path / "a.png")
        read_image(tmp_path / "a.png", max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS is not None  # PIL's own check is back on after reading


def test_float_images_in_zero_one_are_kept(tmp_path):
    Image.fromarray(np.full((40, 48), 0.5, np.float32)).save(tmp_path / "f.tif")
    assert read_image(tmp_path / "f.tif").max() == pytest.approx(0.5)


def test_thin_image_names_the_file_and_a_size_that_works():
    from photostyle.io.images import check_working_size

    with pytest.raises(InputError, match=r"thin.png is 1000x40 px: at --size 512 it would be "
                                         r"512x20.*use --size 800 or more"):
        check_working_size("thin.png", 40, 1000, 512)
    check_working_size("thin.png", 40, 1000, 800)
    with pytest.raises(InputError, match="tiny.png is 20x20 px"):
        check_working_size("tiny.png", 20, 20, 512)


def test_png_exif_after_the_pixels_is_found(tmp_path):
    from photostyle.io.images import image_info, orient

    from ..reliability.catalogue import exif_orientation, png_chunk

    arr = _rgb(30, 50)
    Image.fromarray(arr).save(tmp_path / "late.png")
    data = (tmp_path / "late.png").read_bytes()
    exif = exif_orientation(8).tobytes()
    exif = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    end = data.rindex(b"IEND") - 4  # before the IEND chunk's length field
    (tmp_path / "late.png").write_bytes(data[:end] + png_chunk(b"eXIf", exif) + data[end:])
    assert image_info(tmp_path / "late.png").orientation == 8
    np.testing.assert_allclose(read_image(tmp_path / "late.png"), orient(arr, 8) / 255.0)
