"""Semantic masks for Deep Photo Style Transfer: parsing the DPST colour code, matching content
and style labels, reading mask files and making their colour-code images, following the VGG
feature pyramid, and making aligned masks automatically (ADE20K semantic segmentation or
co-segmentation).

Names are loaded lazily (PEP 562, through ``lazy_loader``): ``import segment`` is cheap, and
torch is imported only by the modules that need it (:mod:`.pyramid`, :mod:`.tensors`,
:mod:`.semantic`, and clustering with deep features).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "ade20k": ["ADE20K_CLASSES", "DEFAULT_CHECKPOINT", "GROUPS", "Group", "class_to_group"],
        "align": ["AlignedMasks", "align_masks", "onehot_labels", "region_masks",
                  "resize_labels"],
        "auto": ["METHODS", "MIN_REGION", "automatic_masks", "cluster_aligned_masks",
                 "remap_groups", "semantic_aligned_masks"],
        "cluster": ["DEFAULT_K_RANGE", "MAX_K", "ClusterParams", "FeatureExtractor",
                    "cosegment"],
        "errors": ["MaskError", "MaskWarning", "SegmentationWeightsError",
                   "SegmentationWeightsUnavailable"],
        "io": ["ASPECT_SLACK", "SIZE_SLACK", "color_mask_image", "load_color_mask",
               "read_mask_pixels", "resize_mask", "same_picture"],
        "palette": ["DEFAULT_MIN_FRACTION", "DEFAULT_OTHER_MIN_FRACTION", "DEFAULT_TOLERANCE",
                    "PALETTE", "ParsedMask", "color_name", "color_sort_key",
                    "parse_color_mask"],
        "pyramid": ["MASK_OPS", "PYRAMID_MODES", "lua_scale_matrix", "mask_pyramid"],
        "regions": ["merge_small_regions"],
        "semantic": ["SemanticModel", "load_semantic_model", "segment_semantic"],
        "tensors": ["mask_tensors", "onehot_masks"],
    },
)
