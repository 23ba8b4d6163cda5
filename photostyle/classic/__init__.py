"""The weight-free ("classic") methods: numpy, scipy and OpenCV only, never torch.

- :mod:`.color`: colour spaces (Lab, YIQ); :mod:`.stats`: Gaussian fits and covariance powers;
- :mod:`.regional`: per-region colour maps (Monge–Kantorovich linear map, histogram matching),
  blended across region borders;
- :mod:`.preview`: the instant preview (regional transfer + local-affine post-process).
"""
