"""Semantic masks for Deep Photo Style Transfer: parsing the DPST colour code, matching content
and style labels, reading/writing mask files, and following the VGG feature pyramid."""

from .align import AlignedMasks, align_masks, mask_tensors, onehot_masks, resize_labels
from .errors import MaskError, MaskWarning
from .io import ASPECT_SLACK, SIZE_SLACK, load_color_mask, read_mask_pixels, save_color_mask
from .palette import (
    DEFAULT_MIN_FRACTION,
    DEFAULT_OTHER_MIN_FRACTION,
    DEFAULT_TOLERANCE,
    PALETTE,
    ParsedMask,
    color_name,
    color_sort_key,
    parse_color_mask,
)
from .pyramid import MASK_OPS, mask_pyramid

__all__ = [
    "ASPECT_SLACK",
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_OTHER_MIN_FRACTION",
    "DEFAULT_TOLERANCE",
    "MASK_OPS",
    "PALETTE",
    "SIZE_SLACK",
    "AlignedMasks",
    "MaskError",
    "MaskWarning",
    "ParsedMask",
    "align_masks",
    "color_name",
    "color_sort_key",
    "load_color_mask",
    "mask_pyramid",
    "mask_tensors",
    "onehot_masks",
    "parse_color_mask",
    "read_mask_pixels",
    "resize_labels",
    "save_color_mask",
]
