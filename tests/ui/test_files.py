"""What the editor reads: uploads (size limits, the command line's decoding) and the input
folder (no path outside it)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from photostyle.errors import InputError
from photostyle.io.images import read_image
from photostyle.ui.files import (
    list_images,
    read_mask_bytes,
    read_mask_file,
    read_photo_bytes,
    read_photo_file,
    resolve_inside,
)
from segment import MaskError, load_color_mask

from ..reliability.catalogue import bomb_png
from ..synthetic import color_mask, scene, write_png

LIMITS = {"max_bytes": 1 << 20, "max_pixels": 100_000}


def png_bytes(array: np.ndarray, **info) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **info)
    return buffer.getvalue()


@pytest.fixture
def photo() -> np.ndarray:
    image, _ = scene(48, 64, (0.5, 0.7, 0.9), (0.3, 0.5, 0.2), 0.5, seed=3)
    return (image * 255).round().astype(np.uint8)


def test_an_upload_decodes_as_the_command_line_reads_the_file(tmp_path, photo):
    # RGBA with transparent pixels: composited over white with a warning, as read_image does.
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:5, :5, 3] = 0
    data = png_bytes(rgba)
    (tmp_path / "ref.png").write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.warns(UserWarning, match="transparent"):
        got = read_photo_bytes(data, "cat.png", scratch, **LIMITS)
    with pytest.warns(UserWarning):
        expected = read_image(tmp_path / "ref.png")
    np.testing.assert_array_equal(got, expected)
    assert got[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert not any(scratch.iterdir())  # the staged file is gone


def test_an_oversized_upload_is_refused_before_decoding(tmp_path, photo):
    with pytest.raises(InputError, match=r"big\.png is 2\.0 MiB, above .* 1 MiB"):
        read_photo_bytes(b"\0" * (2 << 20), "big.png", tmp_path, **LIMITS)
    assert not any(tmp_path.iterdir())  # nothing was stored


def test_too_many_pixels_are_refused_from_the_header(tmp_path):
    data = png_bytes(np.zeros((400, 300, 3), np.uint8))
    with pytest.raises(InputError, match=r"wide\.png is 300x400 px, above .* 0\.1 megapixels"):
        read_photo_bytes(data, "wide.png", tmp_path, **LIMITS)


def test_a_decompression_bomb_is_over_the_limit_not_unreadable(tmp_path):
    """A 13400x13400 PNG (over PIL's own bomb limit) is named as too large, from its header;
    a mask file likewise."""
    bomb = bomb_png(tmp_path / "bomb.png")
    with pytest.raises(InputError, match=r"bomb\.png is 13400x13400 px, above the editor's"):
        read_photo_file(bomb, "bomb.png", max_pixels=10**6)
    with pytest.raises(InputError, match=r"bomb\.png is 13400x13400 px, above the editor's"):
        read_mask_file(bomb, "bomb.png", (64, 80), max_pixels=10**6)


@pytest.mark.parametrize("data", [b"GIF89a not really", b"%PDF-1.4 hello", b""])
def test_a_non_image_is_refused_naming_the_upload(tmp_path, data):
    with pytest.raises(InputError, match=r"^notes\.png is not an image") as err:
        read_photo_bytes(data, "notes.png", tmp_path, **LIMITS)
    assert str(tmp_path) not in str(err.value)  # the message names the upload, not a temp file


def test_a_photo_too_small_for_the_network_is_refused(tmp_path):
    data = png_bytes(np.zeros((20, 40, 3), np.uint8))
    with pytest.raises(InputError, match=r"tiny\.png is 40x20 px"):
        read_photo_bytes(data, "tiny.png", tmp_path, **LIMITS)


def test_an_uploaded_mask_is_parsed_like_a_mask_file(tmp_path):
    _, labels = scene(48, 64, (0.5, 0.7, 0.9), (0.3, 0.5, 0.2), 0.5, seed=3)
    path = write_png(tmp_path / "m.png", color_mask(labels))
    parsed = read_mask_bytes(path.read_bytes(), "m.png", tmp_path, (48, 64), **LIMITS)
    expected = load_color_mask(path, (48, 64))
    assert parsed.colors == expected.colors
    np.testing.assert_array_equal(parsed.labels, expected.labels)
    with pytest.warns(UserWarning, match=r"^mask m\.png is 64x48 but its image is 128x96"):
        read_mask_bytes(path.read_bytes(), "m.png", tmp_path, (96, 128), **LIMITS)
    with pytest.raises(MaskError, match=r"^mask m\.png is 64x48 but its image is 128x64"):
        read_mask_bytes(path.read_bytes(), "m.png", tmp_path, (64, 128), **LIMITS)


@pytest.fixture
def folder(tmp_path, photo):
    root = tmp_path / "inputs"
    (root / "sub").mkdir(parents=True)
    write_png(root / "a.png", photo)
    write_png(root / "sub" / "b.jpg", photo)
    write_png(root / ".hidden.png", photo)
    (root / "notes.txt").write_text("x")
    secret = write_png(tmp_path / "secret.png", photo)
    os.symlink(secret, root / "link.png")
    os.symlink(tmp_path, root / "up")
    return root


@pytest.mark.parametrize("path", ["../secret.png", "/etc/passwd", "sub/../../secret.png",
                                  "..\\secret.png", "~/x.png", "link.png", "up/secret.png", ""])
def test_paths_outside_the_input_folder_are_refused(folder, path):
    with pytest.raises(InputError):
        resolve_inside(folder, path)


def test_paths_inside_the_input_folder_open(folder, photo):
    path = resolve_inside(folder, "sub/b.jpg")
    assert path == folder / "sub" / "b.jpg"
    assert read_photo_file(path, "sub/b.jpg", max_pixels=10_000).shape == (48, 64, 3)
    with pytest.raises(InputError, match="no such file"):
        read_photo_file(resolve_inside(folder, "nothing.png"), "nothing.png", max_pixels=10)


def test_no_input_folder_means_uploads_only():
    with pytest.raises(InputError, match="--inputs"):
        resolve_inside(None, "a.png")
    assert list_images(None) == []


def test_the_listing_shows_images_inside_the_folder_only(folder):
    assert list_images(folder) == ["a.png", "sub/b.jpg"]
