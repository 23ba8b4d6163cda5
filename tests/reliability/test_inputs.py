"""The catalogue, inputs: files, image modes, EXIF, sizes and masks, through the command line.

Errors: exit 2, one line naming the file and the fix, nothing written, inputs unchanged.
Documented handling: exit 0, a complete OUT the only new file, inputs unchanged.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ..cli_runner import run_cli
from ..synthetic import BLUE, GREEN, write_png
from .catalogue import (
    NEURAL,
    PREVIEW,
    add_png_exif,
    bomb_png,
    check_error,
    check_success,
    exif_orientation,
    photo,
    snapshot,
    tiny_pair,
    write_tiff16,
)


def _halves(h: int, w: int) -> np.ndarray:
    """A two-region DPST mask: blue top half, green bottom half."""
    mask = np.empty((h, w, 3), np.uint8)
    mask[: h // 2], mask[h // 2:] = BLUE, GREEN
    return mask


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# Each builder makes its files in the pair's folder and returns (arguments before -o, extra
# options, needles that the one error line must hold).
def _missing_content(d):
    return [d["dir"] / "nope.png", d["style"]], [], ("nope.png", "check the path")


def _content_is_folder(d):
    (d["dir"] / "photos").mkdir()
    return [d["dir"] / "photos", d["style"]], [], ("photos", "give an image file")


def _empty_file(d):
    (d["dir"] / "empty.png").write_bytes(b"")
    return [d["dir"] / "empty.png", d["style"]], [], ("empty.png", "use PNG, JPEG or TIFF")


def _text_file(d):
    (d["dir"] / "notes.png").write_text("not a picture")
    return [d["dir"] / "notes.png", d["style"]], [], ("notes.png", "use PNG, JPEG or TIFF")


def _truncated_png(d):
    Image.fromarray(photo(200, 300)).save(d["dir"] / "cut.png")
    _cut(d["dir"] / "cut.png", 0.5)
    return [d["dir"] / "cut.png", d["style"]], [], ("cut.png", "cannot be read", "re-save")


def _truncated_jpeg(d):
    Image.fromarray(photo(200, 300)).save(d["dir"] / "cut.jpg", quality=90)
    _cut(d["dir"] / "cut.jpg", 0.4)
    return [d["dir"] / "cut.jpg", d["style"]], [], ("cut.jpg", "cannot be read", "re-save")


def _missing_style(d):
    return [d["content"], d["dir"] / "gone.jpg"], [], ("gone.jpg", "check the path")


def _bomb(d):
    bomb_png(d["dir"] / "bomb.png")
    return [d["dir"] / "bomb.png", d["style"]], [], ("bomb.png", "13400x13400", "megapixels",
                                                     "--max-pixels")


def _bomb_mask(d):
    bomb_png(d["dir"] / "bomb_mask.png")
    return [d["content"], d["style"]], ["--content-mask", d["dir"] / "bomb_mask.png",
                                        "--style-mask", d["style_mask"]], (
        "mask", "bomb_mask.png", "--max-pixels")


def _over_max_pixels(d):  # content 80x64 = 5120 px
    return [d["content"], d["style"]], ["--max-pixels", "5000"], ("content.png",
                                                                 "--max-pixels 5120")


def _tiny_image(d):
    write_png(d["dir"] / "tiny.png", photo(16, 16))
    return [d["content"], d["dir"] / "tiny.png", *NEURAL], [], ("tiny.png", "at least 32 px")


def _thin_image(d):
    write_png(d["dir"] / "thin.png", photo(40, 1000))
    return [d["dir"] / "thin.png", d["style"], *NEURAL], ["--size", "512"], (
        "thin.png", "1000x40", "use --size 800")


def _preview_over_memory_budget(d):
    return [d["content"], d["style"]], ["--size", "4000", "--max-memory", "0.5"], (
        "content.png", "needs about", "--max-memory", "use --size 1")


def _mask_missing(d):
    return [d["content"], d["style"]], ["--content-mask", d["dir"] / "nomask.png",
                                        "--style-mask", d["style_mask"]], (
        "nomask.png", "check the path")


def _mask_not_an_image(d):
    (d["dir"] / "text_mask.png").write_text("blue sky")
    return [d["content"], d["style"]], ["--content-mask", d["content_mask"], "--style-mask",
                                        d["dir"] / "text_mask.png"], ("text_mask.png", "PNG")


def _mask_wrong_size(d):
    write_png(d["dir"] / "big_mask.png", _halves(200, 30))
    return [d["content"], d["style"]], ["--content-mask", d["dir"] / "big_mask.png",
                                        "--style-mask", d["style_mask"]], (
        "big_mask.png", "draw the mask at the image's size")


def _mask_without_colours(d):
    noise = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    write_png(d["dir"] / "noise_mask.png", noise)
    return [d["content"], d["style"]], ["--content-mask", d["dir"] / "noise_mask.png",
                                        "--style-mask", d["style_mask"]], (
        "noise_mask.png", "paint the regions in flat")


def _mask_float(d):
    Image.fromarray(np.zeros((64, 80), np.float32)).save(d["dir"] / "float_mask.tif")
    return [d["content"], d["style"]], ["--content-mask", d["dir"] / "float_mask.tif",
                                        "--style-mask", d["style_mask"]], (
        "float_mask.tif", "8-bit RGB PNG")


def _one_mask_only(d):
    return [d["content"], d["style"]], ["--content-mask", d["content_mask"]], (
        "--content-mask", "--style-mask")


def _mask_per_style(d):
    return [d["content"], d["style"], d["style"], *NEURAL], [
        "--content-mask", d["content_mask"], "--style-mask", d["style_mask"]], (
        "--style-mask", "one mask per style photo")


def _exif_mask_at_stored_size(d):
    img = Image.fromarray(photo(48, 64))  # stored 64 wide, shown 48 wide (orientation 6)
    img.save(d["dir"] / "turned.jpg", exif=exif_orientation(6), quality=95)
    write_png(d["dir"] / "stored_mask.png", _halves(48, 64))
    return [d["dir"] / "turned.jpg", d["style"]], [
        "--content-mask", d["dir"] / "stored_mask.png", "--style-mask", d["style_mask"]], (
        "stored_mask.png", "64x48 but its image is 48x64", "draw the mask at the image's size")


ERRORS = {
    "missing_content": _missing_content,
    "content_is_folder": _content_is_folder,
    "empty_file": _empty_file,
    "text_file": _text_file,
    "truncated_png": _truncated_png,
    "truncated_jpeg": _truncated_jpeg,
    "missing_style": _missing_style,
    "bomb": _bomb,
    "bomb_mask": _bomb_mask,
    "over_max_pixels": _over_max_pixels,
    "tiny_image": _tiny_image,
    "thin_image": _thin_image,
    "preview_over_memory_budget": _preview_over_memory_budget,
    "mask_missing": _mask_missing,
    "mask_not_an_image": _mask_not_an_image,
    "mask_wrong_size": _mask_wrong_size,
    "mask_without_colours": _mask_without_colours,
    "mask_float": _mask_float,
    "one_mask_only": _one_mask_only,
    "mask_per_style": _mask_per_style,
    "exif_mask_at_stored_size": _exif_mask_at_stored_size,
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_is_one_line_and_nothing_written(tmp_path, capfd, case):
    d = tiny_pair(tmp_path)
    positional, options, needles = ERRORS[case](d)
    before = snapshot(tmp_path)
    quick = [] if "--vgg-weights" in map(str, positional) else PREVIEW
    code, _, err = run_cli([*positional, "-o", tmp_path / "out.png", *quick, *options], capfd)
    check_error(code, err, needles, tmp_path, before)


# Documented handling: each builder returns (content, style, options, expected OUT (h, w),
# a warning the run must print or None).
def _ok_greyscale(d):
    Image.fromarray(photo()[..., 0]).save(d["dir"] / "grey.png")
    return d["dir"] / "grey.png", d["style"], [], (48, 64), None


def _ok_one_bit(d):
    Image.fromarray(photo()[..., 0] > 128).save(d["dir"] / "bw.png")
    return d["dir"] / "bw.png", d["style"], [], (48, 64), None


def _ok_palette(d):
    Image.fromarray(photo()).convert("P").save(d["dir"] / "pal.png")
    return d["dir"] / "pal.png", d["style"], [], (48, 64), None


def _ok_palette_transparency(d):
    img = Image.fromarray(photo()).convert("P")
    img.info["transparency"] = 0
    img.save(d["dir"] / "palt.png", transparency=int(np.asarray(img)[0, 0]))
    return d["dir"] / "palt.png", d["style"], [], (48, 64), "composited over white"


def _ok_rgba_transparent(d):
    rgba = np.dstack([photo(), np.full((48, 64), 255, np.uint8)])
    rgba[:10, :, 3] = 0
    Image.fromarray(rgba).save(d["dir"] / "rgba.png")
    return d["dir"] / "rgba.png", d["style"], [], (48, 64), "composited over white"


def _ok_grey_alpha(d):
    Image.fromarray(photo()[..., 0]).convert("LA").save(d["dir"] / "la.png")
    return d["dir"] / "la.png", d["style"], [], (48, 64), None


def _ok_cmyk_jpeg(d):
    Image.fromarray(photo()).convert("CMYK").save(d["dir"] / "cmyk.jpg")
    return d["dir"] / "cmyk.jpg", d["style"], [], (48, 64), None


def _ok_16bit_grey_png(d):
    Image.fromarray(photo()[..., 0].astype(np.uint16) * 257).save(d["dir"] / "g16.png")
    return d["dir"] / "g16.png", d["style"], [], (48, 64), None


def _ok_16bit_rgb_png(d):
    cv2.imwrite(str(d["dir"] / "c16.png"), photo()[..., ::-1].astype(np.uint16) * 257)
    return d["dir"] / "c16.png", d["style"], [], (48, 64), None


def _ok_float_tiff(d):
    Image.fromarray(photo()[..., 0].astype(np.float32) / 255).save(d["dir"] / "f.tif")
    return d["dir"] / "f.tif", d["style"], [], (48, 64), None


def _ok_webp_bmp_gif(d):
    Image.fromarray(photo()).save(d["dir"] / "c.webp")
    frames = [Image.fromarray(photo(seed=i)).convert("P") for i in range(3)]
    frames[0].save(d["dir"] / "s.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(photo()).save(d["dir"] / "c.bmp")
    return d["dir"] / "c.webp", d["dir"] / "s.gif", [], (48, 64), None


def _mask_for_turned_photo(d, suffix):
    write_png(d["dir"] / f"shown_mask{suffix}.png", _halves(64, 48))  # as displayed
    return ["--content-mask", d["dir"] / f"shown_mask{suffix}.png", "--style-mask",
            d["style_mask"]]


def _ok_exif_jpeg_with_mask(d):
    Image.fromarray(photo()).save(d["dir"] / "turned.jpg", exif=exif_orientation(6))
    return d["dir"] / "turned.jpg", d["style"], _mask_for_turned_photo(d, ""), (64, 48), None


def _ok_exif_16bit_png_with_mask(d):
    path = d["dir"] / "turned16.png"
    cv2.imwrite(str(path), photo()[..., ::-1].astype(np.uint16) * 257)
    add_png_exif(path, 6)
    return path, d["style"], _mask_for_turned_photo(d, "16"), (64, 48), None


def _ok_exif_16bit_tiff_with_mask(d):
    path = write_tiff16(d["dir"] / "turned16.tif", photo().astype(np.uint16) * 257, 6)
    return path, d["style"], _mask_for_turned_photo(d, "t"), (64, 48), None


def _ok_mask_a_row_short(d):
    labels = np.asarray(Image.open(d["content_mask"]).convert("RGB"))[:-1]
    write_png(d["dir"] / "short_mask.png", labels)
    return d["content"], d["style"], ["--content-mask", d["dir"] / "short_mask.png",
                                      "--style-mask", d["style_mask"]], (51, 64), "resized"


def _ok_max_pixels_raised(d):
    return d["content"], d["style"], ["--max-pixels", "6000"], (51, 64), None


def _ok_large_photo_decoded_small(d):
    Image.fromarray(photo(600, 800)).save(d["dir"] / "large.jpg", quality=90)
    return d["dir"] / "large.jpg", d["style"], [], (48, 64), None


SUCCESSES = {
    "greyscale": _ok_greyscale,
    "one_bit": _ok_one_bit,
    "palette": _ok_palette,
    "palette_transparency": _ok_palette_transparency,
    "rgba_transparent": _ok_rgba_transparent,
    "grey_alpha": _ok_grey_alpha,
    "cmyk_jpeg": _ok_cmyk_jpeg,
    "16bit_grey_png": _ok_16bit_grey_png,
    "16bit_rgb_png": _ok_16bit_rgb_png,
    "float_tiff": _ok_float_tiff,
    "webp_bmp_gif": _ok_webp_bmp_gif,
    "exif_jpeg_with_mask": _ok_exif_jpeg_with_mask,
    "exif_16bit_png_with_mask": _ok_exif_16bit_png_with_mask,
    "exif_16bit_tiff_with_mask": _ok_exif_16bit_tiff_with_mask,
    "mask_a_row_short": _ok_mask_a_row_short,
    "max_pixels_raised": _ok_max_pixels_raised,
    "large_photo_decoded_small": _ok_large_photo_decoded_small,
}


@pytest.mark.parametrize("case", sorted(SUCCESSES))
def test_documented_handling_writes_only_a_complete_out(tmp_path, capfd, case):
    d = tiny_pair(tmp_path)
    content, style, options, shape, warning = SUCCESSES[case](d)
    out = tmp_path / "out.png"
    before = snapshot(tmp_path)
    code, _, err = run_cli([content, style, "-o", out, *options, *PREVIEW], capfd)
    check_success(code, err, tmp_path, before, (out,))
    assert np.asarray(Image.open(out)).shape == (*shape, 3)
    if warning is not None:
        assert warning in err and err.startswith("photostyle: warning"), err


def test_exif_turn_and_16_bits_reach_the_neural_method(tmp_path, capfd):
    d = tiny_pair(tmp_path)
    content, style, options, shape, _ = _ok_exif_16bit_tiff_with_mask(d)
    out = tmp_path / "out.png"
    before = snapshot(tmp_path)
    code, _, err = run_cli([content, style, "-o", out, *options, *NEURAL], capfd)
    check_success(code, err, tmp_path, before, (out,))
    assert np.asarray(Image.open(out)).shape == (*shape, 3)


def test_address_space_limit_is_refused_with_a_size_that_fits(tmp_path):
    """Under ``ulimit -v`` the preview's estimate meets the room left, and the run stops
    before any work with the size that fits, instead of dying of MemoryError mid-way."""
    d = tiny_pair(tmp_path)
    before = snapshot(tmp_path)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, resource.RLIM_INFINITY))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "photostyle", str(d["content"]),
                           str(d["style"]), "-o", str(tmp_path / "out.png"), "--quality",
                           "preview", "--size", "3000", "-q"], preexec_fn=limit, env=env,
                          capture_output=True, text=True, timeout=120)
    check_error(done.returncode, done.stderr, ("content.png", "needs about",
                                               "the memory available", "use --size"),
                tmp_path, before)


def test_large_photo_and_its_mask_are_read_at_the_working_scale(tmp_path, capfd, monkeypatch):
    """A photo and mask ten times the working size: both decoded small (the mask shrunk with
    nearest neighbour before it is parsed), the run as with small files."""
    import segment.io

    d = tiny_pair(tmp_path)
    Image.fromarray(photo(640, 800)).save(tmp_path / "large.png")
    write_png(tmp_path / "large_mask.png", _halves(640, 800))
    parsed = []
    real = segment.io.parse_color_mask
    monkeypatch.setattr(segment.io, "parse_color_mask",
                        lambda pixels, **kw: parsed.append(pixels.shape) or real(pixels, **kw))
    out = tmp_path / "out.png"
    before = snapshot(tmp_path)
    code, _, err = run_cli([tmp_path / "large.png", d["style"], "-o", out, "--content-mask",
                            tmp_path / "large_mask.png", "--style-mask", d["style_mask"],
                            *PREVIEW], capfd)
    check_success(code, err, tmp_path, before, (out,))
    assert parsed[0][:2] == (205, 256)  # at most 4x --size 64, not 640x800
    assert np.asarray(Image.open(out)).shape == (51, 64, 3)
