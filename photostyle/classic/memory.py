"""Peak-memory estimate of the weight-free preview, and its refusal before a run that would not
fit (numpy only; the neural estimate is :mod:`photostyle.neural.memory`).

The model, in bytes, from the image headers (nothing decoded), phase by phase:

* **Reading** an image (:func:`photostyle.io.images.read_image` with the working size): PIL's
  buffer at the decoded scale (JPEG decodes at 1/2, 1/4 or 1/8 when the image is that much
  larger; PNG and TIFF decode in full), about 4 bytes per pixel (16-bit colour through OpenCV:
  16), plus ~60 bytes per pixel of the reduced image (its float64 RGB and temporaries).
  The images read earlier are held meanwhile (24 bytes per pixel).
* **The preview** at the working size: :data:`PREVIEW_BYTES` per content pixel plus
  :data:`LABEL_BYTES` per content pixel and label (region masks and the blend across their
  borders), and :data:`STYLE_BYTES` per style pixel, with both images held.

Fitted on peak-RSS rises of :func:`photostyle.classic.preview` at 1024 to 3072 px, 1 to 8
labels (320-400 B per pixel measured; the constants round up), and checked end to end on a
12000 x 9000 photo (``benchmarks/huge_image_memory.py``, ``benchmarks/RESULTS.md``). The
interpreter and libraries (~0.2 GB) are not counted.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..io.images import REDUCING_GAP, ImageInfo, fit_long_side

__all__ = ["LABEL_BYTES", "PREVIEW_BYTES", "STYLE_BYTES", "check_preview_memory",
           "estimate_preview_memory", "host_available_memory", "read_memory"]

#: Bytes per working-size content pixel of the preview (one label).
PREVIEW_BYTES = 360
#: Bytes per working-size content pixel and extra label.
LABEL_BYTES = 26
#: Bytes per working-size style pixel (its statistics and masks).
STYLE_BYTES = 80
#: Bytes per decoded pixel in PIL's buffer (8-bit RGB is stored as 4 bytes), and through
#: OpenCV for 16-bit colour (its array, the 8-bit check, the channel reorder).
_PIL_BYTES = 4
_DEEP_BYTES = 16
#: Bytes per pixel of a reduced image while it becomes float64 RGB (and while held).
_REDUCED_BYTES = 60
_HELD_BYTES = 24
#: Allocator slack over the live arrays.
_OVERHEAD = 1.1


def host_available_memory() -> int | None:
    """Bytes a new allocation can get now on this machine: the least of ``MemAvailable``
    (``/proc/meminfo``; else the free physical pages), the room left under a cgroup-v2 memory
    limit (containers) and under an address-space limit (``ulimit -v``); ``None`` when none
    can be told."""
    limits = [_meminfo_available(), _cgroup_room(), _address_space_room()]
    known = [value for value in limits if value is not None]
    return max(0, min(known)) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """Room under this process's cgroup memory limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``), if it has one: the limit minus the usage."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, where = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            files = (Path("/sys/fs/cgroup"), "memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            files = (Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes",
                     "memory.usage_in_bytes")
        else:
            continue
        root, limit_name, usage_name = files
        for folder in (root / where.lstrip("/"), root):  # as seen from inside a namespace
            try:
                limit = (folder / limit_name).read_text().strip()
                usage = int((folder / usage_name).read_text())
            except (OSError, ValueError):
                continue
            if limit != "max" and int(limit) < 2**60:  # v1 writes "no limit" as ~2**63
                return int(limit) - usage
            break
    return None


def _address_space_room() -> int | None:
    """Room under ``RLIMIT_AS`` (``ulimit -v``): the limit minus the address space in use."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return soft - int(line.split()[1]) * 1024
    except (ImportError, OSError, ValueError, IndexError):
        return None
    return None


def _reduced(info: ImageInfo, long_side: int | None) -> tuple[int, int]:
    """Pixels decoded and pixels kept by ``read_image(…, long_side=long_side)``."""
    full = info.pixels
    factor = 1 if long_side is None else max(1, int(max(info.width, info.height)
                                                    / (REDUCING_GAP * long_side)))
    decoded = full
    if info.format == "JPEG" and factor > 1:
        scale = 1
        while scale * 2 <= min(factor, 8):
            scale *= 2
        decoded = full // (scale * scale)
    return decoded, max(1, full // (factor * factor))


def read_memory(info: ImageInfo, long_side: int | None) -> tuple[int, int]:
    """Peak bytes of reading an image for working size ``long_side``, and the bytes of the
    array it returns (held afterwards)."""
    decoded, kept = _reduced(info, long_side)
    per_pixel = _DEEP_BYTES if info.deep and info.mode in ("RGB", "RGBA", "LA") else _PIL_BYTES
    return decoded * per_pixel + kept * _REDUCED_BYTES, kept * _HELD_BYTES


def estimate_preview_memory(content: ImageInfo, style: ImageInfo, size: int | None,
                            labels: int = 1) -> int:
    """Estimated peak bytes of a preview of ``content`` in ``style`` at long side ``size``
    (``None``: the content's own size) with ``labels`` mask labels: the largest of its phases
    (module docstring)."""
    c_read, c_held = read_memory(content, size)
    s_read, s_held = read_memory(style, size)
    ch, cw = fit_long_side(content.height, content.width, size)
    sh, sw = fit_long_side(style.height, style.width, size)
    work = ch * cw * (PREVIEW_BYTES + LABEL_BYTES * max(0, labels - 1)) + sh * sw * STYLE_BYTES
    phases = (c_read, c_held + s_read, c_held + s_held + work)
    return int(_OVERHEAD * max(phases))


def _largest_size(content: ImageInfo, style: ImageInfo, labels: int, budget: int,
                  size: int) -> int | None:
    """The largest long side (a multiple of 8, under ``size``) whose estimate fits."""
    low, high = 0, size // 8
    while low < high:
        mid = (low + high + 1) // 2
        if estimate_preview_memory(content, style, 8 * mid, labels) <= budget:
            low = mid
        else:
            high = mid - 1
    return 8 * low if low * 8 >= 64 else None


def check_preview_memory(content: ImageInfo, style: ImageInfo, size: int | None,
                         labels: int = 1, budget: int | None = None) -> None:
    """Before a preview: refuse one whose estimate exceeds ``budget`` bytes (``None``: the
    memory available now; nothing is checked when that cannot be told).

    Raises
    ------
    InputError
        Names the estimate, the budget and the largest ``--size`` that fits.
    """
    where = "the memory limit (--max-memory)" if budget is not None else "the memory available"
    if budget is None:
        budget = host_available_memory()
        if budget is None:
            return
    need = estimate_preview_memory(content, style, size, labels)
    if need <= budget:
        return
    gib = 2**30
    side = size if size is not None else max(content.width, content.height)
    fits = _largest_size(content, style, labels, budget, side)
    h, w = fit_long_side(content.height, content.width, size)
    advice = f"use --size {fits} or less" if fits is not None else \
        "free some memory first; not even --size 64 fits"
    raise InputError(f"a {w}x{h} preview of {content.path} needs about {need / gib:.1f} GiB but "
                     f"{where} is {budget / gib:.1f} GiB; {advice}")

