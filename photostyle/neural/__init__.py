"""The neural methods (torch): Luan et al.'s two-stage photorealistic optimization and Gatys et
al.'s artistic neural style, on VGG-19 features.

- :mod:`.vgg`: the feature network; :mod:`.losses`: reference loss terms; :mod:`.gram` and
  :mod:`.histogram`: the per-step style terms; :mod:`.support`: where a mask label lives;
- :mod:`.inputs`: checks and one level's inputs; :mod:`.schedule`: the coarse-to-fine pyramid;
  :mod:`.objective`: one level's weighted terms; :mod:`.optim`: sync-free L-BFGS;
- :mod:`.transfer`: the loop and the API; :mod:`.memory`: the peak-memory estimate;
  :mod:`.original_colors`: ``--original-colors``.

Names are loaded lazily, so importing one submodule does not import the others.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "memory": ["estimate_peak_memory"],
        "schedule": ["Level", "plan_levels"],
        "transfer": ["StepInfo", "TransferDiverged", "TransferInterrupted", "TransferResult",
                     "transfer"],
        "vgg": ["VGG19Features"],
    },
)
