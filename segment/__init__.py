"""Semantic masks for Deep Photo Style Transfer: parsing the DPST colour code, matching content
and style labels, reading/writing mask files, following the VGG feature pyramid, and making
aligned masks automatically (ADE20K semantic segmentation or co-segmentation)."""

from .ade20k import ADE20K_CLASSES, GROUPS, Group, class_to_group
from .align import AlignedMasks, align_masks, mask_tensors, onehot_masks, resize_labels
from .auto import (
    METHODS,
    MIN_REGION,
    automatic_masks,
    cluster_aligned_masks,
    overlay_labels,
    remap_groups,
    semantic_aligned_masks,
)
from .cluster import DEFAULT_K_RANGE, MAX_K, ClusterParams, FeatureExtractor, cosegment
from .errors import (
    MaskError,
    MaskWarning,
    SegmentationWeightsError,
    SegmentationWeightsUnavailable,
)
from .io import (
    ASPECT_SLACK,
    SIZE_SLACK,
    load_color_mask,
    read_mask_pixels,
    same_picture,
    save_color_mask,
)
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
from .regions import merge_small_regions
from .semantic import DEFAULT_CHECKPOINT, SemanticModel, load_semantic_model, segment_semantic

__all__ = [
    "ADE20K_CLASSES",
    "ASPECT_SLACK",
    "DEFAULT_CHECKPOINT",
    "DEFAULT_K_RANGE",
    "GROUPS",
    "MAX_K",
    "METHODS",
    "MIN_REGION",
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_OTHER_MIN_FRACTION",
    "DEFAULT_TOLERANCE",
    "MASK_OPS",
    "PALETTE",
    "SIZE_SLACK",
    "same_picture",
    "AlignedMasks",
    "ClusterParams",
    "FeatureExtractor",
    "Group",
    "MaskError",
    "MaskWarning",
    "ParsedMask",
    "SegmentationWeightsError",
    "SegmentationWeightsUnavailable",
    "SemanticModel",
    "align_masks",
    "automatic_masks",
    "class_to_group",
    "cluster_aligned_masks",
    "cosegment",
    "color_name",
    "color_sort_key",
    "load_color_mask",
    "load_semantic_model",
    "mask_pyramid",
    "mask_tensors",
    "merge_small_regions",
    "onehot_masks",
    "overlay_labels",
    "parse_color_mask",
    "read_mask_pixels",
    "remap_groups",
    "resize_labels",
    "save_color_mask",
    "segment_semantic",
    "semantic_aligned_masks",
]
