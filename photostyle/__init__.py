"""photostyle: photorealistic style transfer (Luan et al., Deep Photo Style Transfer, 2017).

The library reports progress only through the ``callback`` of :func:`transfer`; it never prints.
"""

from .config import PRESETS, Config
from .errors import InputError, PhotostyleError, WeightsError
from .images import load_image, save_image
from .preview import preview
from .transfer import StepInfo, TransferInterrupted, TransferResult, transfer
from .vgg import VGG19Features

__all__ = [
    "PRESETS",
    "Config",
    "InputError",
    "PhotostyleError",
    "StepInfo",
    "TransferInterrupted",
    "TransferResult",
    "VGG19Features",
    "WeightsError",
    "load_image",
    "preview",
    "save_image",
    "transfer",
]

__version__ = "0.1.0"
