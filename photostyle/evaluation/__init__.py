"""Measuring results: metrics that need no trained network (:mod:`.metrics`), the VGG style
metric (:mod:`.vgg_style`, torch), matching result files to DPST-style pairs (:mod:`.pairs`) and
the contact sheet (:mod:`.report`)."""
