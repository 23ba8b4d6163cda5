"""Masks between the page and the library: the label-map payload, the canonical form the
command line reads unchanged, the legend, and masks at the photo's size.

The page paints a *label map* (one byte per pixel, an index into a colour table), never
colours blended by a canvas, so a stroke is exact DPST colours by construction. Each edit is
brought to canonical form: the label map painted in its colours and parsed back with
:func:`segment.parse_color_mask`, the parser of ``--content-mask``. Regions thinner than 3 px
and specks too small to be a label fold into their neighbours exactly as the command line
would fold them, and the page shows that. A canonical mask is a fixed point of the parser:
written as a PNG (:func:`segment.color_mask_image`) it loads back as the same labels.

Payload (JSON)::

    {"width": W, "height": H, "colors": [[r, g, b], ...], "labels": "<base64 of H*W bytes>"}

row-major, each byte an index into ``colors`` (at most 255 colours).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

from segment import (
    AlignedMasks,
    MaskError,
    ParsedMask,
    color_mask_image,
    color_name,
    parse_color_mask,
    resize_labels,
)

from ..errors import InputError
from ..io.images import fit_long_side

__all__ = ["MAX_COLORS", "canonical_mask", "decode_labels", "encode_labels", "legend",
           "mask_size", "one_region", "at_size"]

RGB = tuple[int, int, int]

#: Most colours a painted mask may use (one byte per pixel).
MAX_COLORS = 255


def mask_size(height: int, width: int, mask_side: int) -> tuple[int, int]:
    """``(h, w)`` of the painted mask of a ``height`` x ``width`` photo: the photo's own size,
    or scaled to ``mask_side`` on its long side when larger."""
    if max(height, width) <= mask_side:
        return int(height), int(width)
    return fit_long_side(height, width, mask_side)


def decode_labels(payload: Any, shape: tuple[int, int], name: str
                  ) -> tuple[np.ndarray, tuple[RGB, ...]]:
    """The label map and colours of a payload, checked against the expected ``(h, w)``.

    Raises
    ------
    InputError
        Not a payload, another size, bad colours, or labels outside the colour table.
    """
    if not isinstance(payload, Mapping):
        raise InputError(f"{name}: expected a mask payload (width, height, colors, labels)")
    try:
        width, height = int(payload["width"]), int(payload["height"])
        colors = tuple((int(c[0]), int(c[1]), int(c[2])) for c in payload["colors"])
        if any(len(c) != 3 for c in payload["colors"]):
            raise ValueError("colour with more than 3 channels")
        data = base64.b64decode(str(payload["labels"]), validate=True)
    except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as exc:
        raise InputError(f"{name}: malformed mask payload ({exc})") from None
    if (height, width) != tuple(shape):
        raise InputError(f"{name}: the mask is {width}x{height} but its photo's mask is "
                         f"{shape[1]}x{shape[0]}; reload the page")
    if not colors or len(colors) > MAX_COLORS or len(set(colors)) != len(colors) \
            or any(not 0 <= v <= 255 for c in colors for v in c):
        raise InputError(f"{name}: 1..{MAX_COLORS} distinct RGB colours in 0..255 expected")
    if len(data) != width * height:
        raise InputError(f"{name}: {len(data)} label bytes for a {width}x{height} mask")
    labels = np.frombuffer(data, dtype=np.uint8).reshape(height, width)
    if int(labels.max(initial=0)) >= len(colors):
        raise InputError(f"{name}: a label has no colour")
    return labels, colors


def encode_labels(mask: ParsedMask) -> dict[str, Any]:
    """The payload of a parsed mask."""
    if mask.num_labels > MAX_COLORS:
        raise InputError(f"the mask has {mask.num_labels} colours; at most {MAX_COLORS} can be "
                         "painted")
    height, width = mask.shape
    return {"width": width, "height": height, "colors": [list(c) for c in mask.colors],
            "labels": base64.b64encode(np.ascontiguousarray(mask.labels, dtype=np.uint8)
                                       .tobytes()).decode("ascii")}


def canonical_mask(labels: np.ndarray, colors: tuple[RGB, ...], name: str) -> ParsedMask:
    """A painted label map as the command line reads it: painted in its colours and parsed by
    :func:`segment.parse_color_mask` (idempotent on its own output).

    Raises
    ------
    MaskError
        No colour forms a region solid enough to be a label; the message names ``name``.
    """
    try:
        return parse_color_mask(color_mask_image(labels, colors))
    except MaskError as exc:
        raise MaskError(f"{name}: {exc}") from None


def at_size(mask: ParsedMask, size: tuple[int, int], name: str) -> ParsedMask:
    """A canonical mask brought to ``size`` (a photo's size): resized with nearest neighbour
    and parsed again, so that the file written from it loads back unchanged."""
    if mask.shape == tuple(size):
        return mask
    return canonical_mask(resize_labels(mask.labels, size), mask.colors, name)


def one_region(content: ParsedMask, style: ParsedMask) -> bool:
    """Whether both masks are one and the same colour everywhere: the same as no masks (the
    whole images are matched)."""
    return content.num_labels == 1 and style.num_labels == 1 \
        and content.colors == style.colors


def legend(aligned: AlignedMasks) -> list[dict[str, Any]]:
    """Each label of aligned masks: colour, name, share of each image, and where it is.

    ``where``: ``"both"``; ``"content"`` (no style region: matched to the whole style image);
    ``"style"`` (no content region: ignored).
    """
    c_share = np.bincount(aligned.content_labels.ravel(), minlength=len(aligned.colors)) \
        / max(aligned.content_labels.size, 1)
    s_share = np.bincount(aligned.style_labels.ravel(), minlength=len(aligned.colors)) \
        / max(aligned.style_labels.size, 1)
    rows = []
    for i, rgb in enumerate(aligned.colors):
        where = "content" if i in aligned.content_only else \
            "style" if i in aligned.style_only else "both"
        rows.append({"color": list(rgb), "name": color_name(rgb), "content": float(c_share[i]),
                     "style": float(s_share[i]), "where": where})
    return rows
