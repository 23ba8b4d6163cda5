"""photostyle: photorealistic style transfer (Luan et al., Deep Photo Style Transfer, 2017),
and neural style (Gatys et al.) in artistic mode.

``import photostyle`` is cheap and imports no torch: the API below is loaded lazily (PEP 562,
through ``lazy_loader``), each name from its room (:mod:`photostyle.neural`,
:mod:`photostyle.classic`, :mod:`photostyle.evaluation`, :mod:`photostyle.io`,
:mod:`photostyle.looks`). The library reports progress only through callbacks (of
:func:`transfer`, of :func:`photostyle.looks.train.train`); it never prints.
"""

import lazy_loader

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["classic", "cli", "evaluation", "io", "looks", "neural"],
    submod_attrs={
        "config": ["ARTISTIC_QUALITY", "MODE_DEFAULTS", "PRESETS", "QUALITY", "RECIPES", "Config"],
        "errors": ["InputError", "OutputError", "PhotostyleError", "WeightsError"],
        "io.images": ["read_image", "save_image"],
        "io.tensors": ["load_image"],
        "classic.preview": ["preview"],
        "evaluation.metrics": ["evaluate"],
        "looks.look": ["Look"],
        "neural.memory": ["estimate_peak_memory"],
        "neural.schedule": ["Level", "plan_levels"],
        "neural.transfer": ["StepInfo", "TransferDiverged", "TransferInterrupted", "TransferResult",
                            "transfer"],
        "neural.vgg": ["VGG19Features"],
    },
)
__all__ = [*__all__, "__version__"]
