"""What every case of the bad-input catalogue checks, and the files the cases are made of.

For every case: the exit status; no traceback; on error, a single stderr line naming the file
(or option) and the fix; no file written except a complete OUT (no temporary file either);
every input's bytes unchanged. :func:`snapshot` before, :func:`check_error` or
:func:`check_success` after.
"""

from __future__ import annotations

import hashlib
import importlib
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ..synthetic import scene_pair, write_pair

#: Options that make a run fast where the method does not matter.
PREVIEW = ["--quality", "preview", "--size", "64", "-q"]
#: A neural run, as small as it gets.
NEURAL = ["--vgg-weights", "random", "--size", "64", "--iters", "2,2", "-q"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative name → SHA-256 of its bytes)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check_error(code: int, err: str, needles: tuple[str, ...], folder: Path,
                before: dict[str, str], status: int = 2) -> str:
    """An error: exit ``status``, one stderr line ``photostyle…: error: …`` holding every
    needle, no traceback, and ``folder`` exactly as it was. Returns the line."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("photostyle") and ": error: " in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    assert code == status, (code, line)
    assert snapshot(folder) == before, "nothing may be written, no input changed"
    return line


def check_success(code: int, err: str, folder: Path, before: dict[str, str],
                  written: tuple[Path, ...], status: int = 0) -> None:
    """Success (or a stop with ``status``): no traceback, no OpenCV log line, every input
    unchanged, and the only new or changed files are ``written``, each a complete image."""
    assert code == status, err
    assert "Traceback" not in err and "[ERROR" not in err, err
    after = snapshot(folder)
    names = {str(p.relative_to(folder)) for p in written}
    for name, digest in before.items():
        if name not in names:
            assert after.get(name) == digest, f"input {name} changed or vanished"
    assert set(after) - set(before) <= names, f"unexpected files: {set(after) - set(before)}"
    for path in written:
        with Image.open(path) as img:
            img.load()  # complete: decodes to the end


def diverge_from(monkeypatch, call: int) -> None:
    """Make the neural objective's loss NaN from its ``call``-th evaluation on (as a real
    divergence does), for the rest of the test."""
    # by name: the package's lazy ``transfer`` attribute is the function, not the module
    transfer_module = importlib.import_module("photostyle.neural.transfer")
    real = transfer_module.Objective.__call__
    calls = []

    def diverge(self, x):
        total, terms = real(self, x)
        calls.append(1)
        return (total * float("nan"), terms) if len(calls) >= call else (total, terms)

    monkeypatch.setattr(transfer_module.Objective, "__call__", diverge)


def tiny_pair(folder: Path) -> dict[str, Path]:
    """The 64x80 / 72x64 synthetic pair with its DPST masks, as PNGs in ``folder``."""
    return write_pair(folder, *scene_pair())


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random ``(h, w, 3)`` uint8 photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.dstack([yy, xx, 1 - yy]) * 200 + 30
    return np.clip(base + rng.normal(0, 8, (h, w, 1)), 0, 255).astype(np.uint8)


def exif_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def add_png_exif(path: Path, orientation: int) -> None:
    """Insert an ``eXIf`` chunk with ``orientation`` after a PNG's header (for 16-bit colour
    PNGs, which PIL cannot write)."""
    data = path.read_bytes()
    exif = exif_orientation(orientation).tobytes()
    exif = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    end = 8 + 8 + 13 + 4  # signature, then IHDR (length, type, 13 bytes, CRC)
    path.write_bytes(data[:end] + png_chunk(b"eXIf", exif) + data[end:])


def write_tiff16(path: Path, array: np.ndarray, orientation: int = 1) -> Path:
    """A minimal uncompressed little-endian 16-bit TIFF, ``(H,W)`` or ``(H,W,3)`` (PIL cannot
    write 16-bit colour TIFFs nor OpenCV an orientation tag)."""
    array = np.ascontiguousarray(array, "<u2")
    h, w = array.shape[:2]
    spp = 1 if array.ndim == 2 else array.shape[2]
    pixels = array.tobytes()
    count = 12
    extra_at = 8 + 2 + count * 12 + 4
    extra = struct.pack("<" + "H" * spp, *([16] * spp)) if spp > 1 else b""
    data_at = extra_at + len(extra)

    def entry(tag: int, kind: int, n: int, value: int) -> bytes:
        if kind == 3 and n == 1:
            return struct.pack("<HHIHH", tag, kind, n, value, 0)
        return struct.pack("<HHII", tag, kind, n, value)

    entries = [entry(256, 4, 1, w), entry(257, 4, 1, h),
               entry(258, 3, 1, 16) if spp == 1 else entry(258, 3, spp, extra_at),
               entry(259, 3, 1, 1), entry(262, 3, 1, 1 if spp == 1 else 2),
               entry(273, 4, 1, data_at), entry(274, 3, 1, orientation),
               entry(277, 3, 1, spp), entry(278, 4, 1, h), entry(279, 4, 1, len(pixels)),
               entry(284, 3, 1, 1), entry(339, 3, 1, 1)]
    ifd = struct.pack("<H", count) + b"".join(entries) + struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + extra + pixels)
    return path


def bomb_png(path: Path, side: int = 13400) -> Path:
    """A valid, tiny (~30 KB) 1-bit PNG of ``side x side`` pixels: a decompression bomb."""
    row = b"\x00" + bytes((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b""))
    return path
