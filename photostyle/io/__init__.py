"""Files in and out: images as numpy arrays (:mod:`.images`), output checks before any work and
atomic writes (:mod:`.files`), and, for the neural methods, images as tensors (:mod:`.tensors`,
the only part that imports torch; not imported here)."""

from .files import (
    OUTPUT_FORMATS,
    PlannedOutput,
    atomic_write,
    atomic_write_text,
    check_not_input,
    check_output_path,
    check_outputs,
    check_writable,
    same_file,
)
from .images import (
    MIN_SIDE,
    ImageInfo,
    check_min_side,
    fit_long_side,
    image_info,
    read_image,
    resize_image,
    save_image,
    to_uint8,
)

__all__ = [
    "MIN_SIDE",
    "OUTPUT_FORMATS",
    "ImageInfo",
    "PlannedOutput",
    "atomic_write",
    "atomic_write_text",
    "check_min_side",
    "check_not_input",
    "check_output_path",
    "check_outputs",
    "check_writable",
    "fit_long_side",
    "image_info",
    "read_image",
    "resize_image",
    "same_file",
    "save_image",
    "to_uint8",
]
