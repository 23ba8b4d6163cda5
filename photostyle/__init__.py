"""photostyle: photorealistic style transfer (Luan et al., Deep Photo Style Transfer, 2017),
and neural style (Gatys et al.) in artistic mode.

The library reports progress only through the ``callback`` of :func:`transfer`; it never prints.
"""

from .config import ARTISTIC_QUALITY, MODE_DEFAULTS, PRESETS, QUALITY, Config
from .errors import InputError, PhotostyleError, WeightsError
from .images import load_image, save_image
from .memory import estimate_peak_memory
from .preview import preview
from .transfer import Level, StepInfo, TransferInterrupted, TransferResult, plan_levels, transfer
from .vgg import VGG19Features

__all__ = [
    "ARTISTIC_QUALITY",
    "MODE_DEFAULTS",
    "PRESETS",
    "QUALITY",
    "Config",
    "InputError",
    "Level",
    "PhotostyleError",
    "StepInfo",
    "TransferInterrupted",
    "TransferResult",
    "VGG19Features",
    "WeightsError",
    "estimate_peak_memory",
    "load_image",
    "plan_levels",
    "preview",
    "save_image",
    "transfer",
]

__version__ = "0.1.0"
