"""Fast looks (torch): a per-style feed-forward network trained with the optimizer's perceptual
losses (Johnson et al. 2016), that stylizes a photo in one forward pass.

- :mod:`.bilateral`: the photorealistic network (a bilateral grid of local affine colour
  transforms, Gharbi et al. 2017); :mod:`.johnson`: Johnson et al.'s network;
- :mod:`.perceptual`: the loss (the terms of :mod:`photostyle.neural`, per crop);
- :mod:`.train`: the training loop; :mod:`.checkpoint`: the versioned file;
  :mod:`.look`: :class:`Look`, the callable module; :mod:`.options`: training settings (no
  torch).

Names are loaded lazily, so importing one submodule does not import the others.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "checkpoint": ["Checkpoint", "read_checkpoint", "write_checkpoint"],
        "look": ["Look", "build_network", "new_look"],
        "options": ["ARCHS", "TrainOptions"],
        "train": ["TrainInterrupted", "TrainResult", "TrainStep", "train"],
    },
)
