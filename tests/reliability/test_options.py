"""The catalogue, numeric options: NaN, infinities, huge, negative, out-of-range and
malformed values are refused by Config (or the option's parser) in one line naming the option,
before anything is read or written."""

from __future__ import annotations

import pytest

from photostyle import Config
from photostyle.errors import InputError

from ..cli_runner import run_cli
from .catalogue import check_error, snapshot, tiny_pair

#: (options, text the one error line must hold besides the option's name)
CASES = [
    (["--lambda", "nan"], "finite number"),
    (["--lambda", "inf"], "finite number"),
    (["--lambda", "-1"], "[0, 1e+12]"),
    (["--content-weight", "nan"], "finite number"),
    (["--tv-weight", "nan"], "finite number"),
    (["--histogram-weight", "nan"], "finite number"),
    (["--style-weight", "1e400"], "finite number"),
    (["--style-weight", "1e30"], "[0, 1e+12]"),
    (["--seed", "99999999999999999999999"], "whole number from 0"),
    (["--seed", "-1"], "whole number from 0"),
    (["--lr", "nan"], "finite number"),
    (["--lr", "-1"], "(0, 1000]"),  # Adam's step, in the units of --variable (caffe: 0-255)
    (["--lr", "0"], "(0, 1000]"),
    (["--lr", "1e4"], "(0, 1000]"),
    (["--size", "10"], "whole number from 64"),
    (["--size", "99999999999"], "65535"),
    (["--size", "1e3"], "invalid int value"),
    (["--iters", "-1,2"], "counts >= 0"),
    (["--iters", "1,2,3"], "N1,N2"),
    (["--iters", "many"], "N1,N2"),
    (["--style-scale", "nan"], "finite number"),
    (["--style-scale", "0"], "(0, 16]"),
    (["--style-scale", "1e9"], "(0, 16]"),
    (["--transfer-blend", "-1"], "whole number from 0"),
    (["--progress-every", "0"], "whole number from 1"),
    (["--save-every", "-1"], "step count >= 0"),
    (["--max-memory", "nan"], "positive number of GiB"),
    (["--max-memory", "-2"], "positive number of GiB"),
    (["--max-pixels", "0"], "whole number from 1"),
    (["--seg-k", "0"], "1.."),
    (["--style-blend-weights", "nan,1"], "weights >= 0"),
]


@pytest.mark.parametrize(("options", "needle"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_number_is_one_line_naming_the_option(tmp_path, capfd, options, needle):
    d = tiny_pair(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = run_cli([d["content"], d["style"], "-o", tmp_path / "out.png", *options,
                            "--vgg-weights", "random", "-q"], capfd)
    check_error(code, err, (options[0], needle), tmp_path, before)


@pytest.mark.parametrize("field", ["size", "iters", "lr", "seed", "matting_weight", "post_eps",
                                   "matting_eps", "post_sigma", "history_size", "max_pixels",
                                   "memory_limit", "style_blend_weights", "preview_post_scale"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 10**30, 1.5])
def test_config_checks_every_number(field, value):
    """Every numeric field refuses NaN, infinity, negative, huge and (counts) fractional
    values, naming the field; 1.5 is fine for the real-valued fields in range."""
    fine = value == 1.5 and field in ("lr", "matting_weight", "post_sigma", "style_blend_weights")
    if field in ("iters", "style_blend_weights"):
        value = (value, value)
    if fine:
        Config(**{field: value})
        return
    with pytest.raises(InputError, match=field):
        Config(**{field: value})
