"""Regenerate the example images and masks in ``data/``.

Run from the repository root::

    .venv/bin/python data/make_examples.py

Everything is derived deterministically (no randomness, no network access)
from photographs bundled with scikit-image:

* ``rocket.jpg``  (SpaceX, public domain)
* ``coffee.png``  (Rachel Michetti, CC0)

For each pair the script writes a content photo, a style photo and a region
mask for each, using the colour code of Deep Photo Style Transfer (Luan et
al. 2017).  The style photos are NOT independent photographs: each one is a
different crop / horizontal flip of the same source photo, re-graded region by
region with a strong colour grade, so that the pair shows the same kinds of
regions with a clearly different look.  See ``data/README.md``.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import color, io
from skimage import data as skdata

HERE = os.path.dirname(os.path.abspath(__file__))
SKIMAGE_DATA = os.path.dirname(skdata.__file__)
LONG_SIDE = 512

# Deep Photo Style Transfer mask colours.
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
RED = (255, 0, 0)
YELLOW = (255, 255, 0)
GREY = (128, 128, 128)
LIGHT_BLUE = (0, 255, 255)
PURPLE = (255, 0, 255)


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------


def load_skimage(name: str) -> np.ndarray:
    """Read a bundled scikit-image photo as float RGB in [0, 1]."""
    im = io.imread(os.path.join(SKIMAGE_DATA, name))
    return im[..., :3].astype(np.float64) / 255.0


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    if x.ndim == 3:
        return np.stack([ndi.gaussian_filter(x[..., c], sigma) for c in range(x.shape[2])], -1)
    return ndi.gaussian_filter(x, sigma)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def lerp(a, b, t):
    t = np.asarray(t)
    if t.ndim == 2:
        t = t[..., None]
    return a + (b - a) * t


def gradient_rows(h: int, w: int, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Vertical colour gradient (sRGB stops at relative heights 0..1)."""
    ys = np.linspace(0.0, 1.0, h)
    pos = np.array([p for p, _ in stops])
    cols = np.array([c for _, c in stops], dtype=np.float64) / 255.0
    rows = np.stack([np.interp(ys, pos, cols[:, c]) for c in range(3)], -1)
    return np.broadcast_to(rows[:, None, :], (h, w, 3)).copy()


def crop_flip_resize(x: np.ndarray, box, flip: bool, size, interp=cv2.INTER_AREA) -> np.ndarray:
    """Crop ``box=(y0, y1, x0, x1)``, optionally mirror, resize to ``size=(w, h)``."""
    y0, y1, x0, x1 = box
    x = x[y0:y1, x0:x1]
    if flip:
        x = x[:, ::-1]
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 3 and x.shape[2] > 4:  # cv2.resize takes at most 4 channels
        return np.stack(
            [
                crop_flip_resize(x[..., c], (0, x.shape[0], 0, x.shape[1]), False, size, interp)
                for c in range(x.shape[2])
            ],
            -1,
        )
    out = cv2.resize(x, size, interpolation=interp)
    return out.astype(np.float64)


def out_size(box) -> tuple[int, int]:
    y0, y1, x0, x1 = box
    h, w = y1 - y0, x1 - x0
    s = LONG_SIDE / max(h, w)
    return int(round(w * s)), int(round(h * s))


def render_mask(onehot: np.ndarray, colours, box, flip: bool) -> np.ndarray:
    """Render a one-hot label stack (H, W, K) as a DPST colour mask.

    The one-hot planes are lightly blurred and area-resampled, which gives the
    soft, slightly anti-aliased edges of a hand-painted mask.
    """
    soft = blur(onehot.astype(np.float64), 0.7)
    soft = crop_flip_resize(soft, box, flip, out_size(box))
    soft /= soft.sum(-1, keepdims=True)
    pal = np.array(colours, dtype=np.float64)
    return np.clip(soft @ pal + 0.5, 0, 255).astype(np.uint8)


def save_png(path: str, rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path, optimize=True)
    print(f"wrote {os.path.relpath(path)}  {rgb.shape[1]}x{rgb.shape[0]}")


def clean(m: np.ndarray, open_r: int = 0, close_r: int = 0, min_area: int = 0) -> np.ndarray:
    m = m.astype(bool)
    if close_r:
        m = cv2.morphologyEx(
            m.astype(np.uint8),
            cv2.MORPH_CLOSE,
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close_r + 1,) * 2),
        ).astype(bool)
    if open_r:
        m = cv2.morphologyEx(
            m.astype(np.uint8),
            cv2.MORPH_OPEN,
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * open_r + 1,) * 2),
        ).astype(bool)
    if min_area:
        lab, n = ndi.label(m)
        if n:
            area = ndi.sum(m, lab, np.arange(1, n + 1))
            m = np.isin(lab, 1 + np.flatnonzero(area >= min_area))
    return m


# ----------------------------------------------------------------------------
# pair 1: rocket at dusk  ->  warm sunset
# ----------------------------------------------------------------------------


def rocket_regions(im: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean region maps (full resolution) for skimage's rocket.jpg."""
    h, w = im.shape[:2]
    lab = color.rgb2lab(im)
    L, b = lab[..., 0], lab[..., 2]
    yy = np.arange(h)[:, None]

    # Sky is smooth and clearly blue; towers, rocket and lights are not.
    skyish = (b < -9.0) & (L < 75)

    # Horizon: per column, the first row (below y=330) where the brightness
    # falls below 80% of the sky just above it; towers are interpolated over,
    # and the line is smoothed like a quick hand-drawn stroke.
    Ls = blur(L, 2.0)
    ref = np.median(Ls[325:340], 0)
    horizon = np.full(w, np.nan)
    for x in range(w):
        col = Ls[340:h, x]
        below = np.flatnonzero(col < 0.8 * ref[x])
        if below.size and skyish[330:345, x].mean() > 0.9:
            horizon[x] = 340 + below[0]
    good = np.isfinite(horizon)
    horizon = np.interp(np.arange(w), np.flatnonzero(good), horizon[good])
    horizon = ndi.median_filter(horizon, 61, mode="nearest")
    horizon = np.clip(ndi.gaussian_filter1d(horizon, 8, mode="nearest"), 362, 378)
    ground = yy >= horizon[None, :]

    # Rocket: centre and width of the non-blue column in a hand-placed search
    # window, drawn as a straight body with a rounded nose cone.
    x0, x1 = 296, 348
    rocket = np.zeros((h, w), bool)
    left = np.full(h, np.nan)
    right = np.full(h, np.nan)
    for y in range(120, h):
        cols = np.flatnonzero((b[y, x0:x1] > -8) & (L[y, x0:x1] > 20))
        if cols.size >= 3:
            left[y], right[y] = x0 + cols[0], x0 + cols[-1]
    rows = np.flatnonzero(np.isfinite(left))
    top = rows[0]
    cx = np.nanmedian((left + right)[200:330]) / 2.0
    half = np.nanmedian((right - left)[200:330]) / 2.0 + 1.0
    # the body runs down to the top of the (uniformly lit) launch pad block
    pad = np.flatnonzero(blur(L, 1.0)[380:, 280:300].mean(1) > 50)
    bottom = 380 + (pad[0] if pad.size else h - 380)
    for y in range(top, bottom):
        t = (y - top) / 22.0  # nose cone over the first 22 rows
        hw = half * np.sqrt(np.clip(t, 0, 1)) if t < 1 else half
        rocket[y, int(round(cx - hw)) : int(round(cx + hw)) + 1] = True

    # Towers (and the lightning masts): the non-sky, non-rocket pixels above
    # the horizon, grouped into connected structures and painted solid row by
    # row (lattice gaps included), the way one would outline them by hand.
    raw = clean(~skyish & ~ground & ~rocket, close_r=1, min_area=20)
    grown = cv2.dilate(
        raw.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    ).astype(bool)
    cut = 330  # flares and palm trees below this row would merge the towers
    grown[cut:] = False
    comps, n = ndi.label(grown)
    struct = np.zeros((h, w), bool)
    for i in range(1, n + 1):
        comp = comps == i
        ys_c, xs_c = np.nonzero(comp)
        if ys_c.max() < cut - 1 or comp.sum() < 2000:  # stars, floating bits
            continue
        lo = np.full(h, np.nan)
        hi = np.full(h, np.nan)
        for y in range(h):
            if y < cut:
                xs = np.flatnonzero(raw[y] & comp[y])
            else:  # continue straight down near the previous extent
                a0 = int(max(np.nanmin(lo[cut - 20 : cut]) - 6, 0))
                a1 = int(min(np.nanmax(hi[cut - 20 : cut]) + 7, w))
                xs = a0 + np.flatnonzero(raw[y, a0:a1])
            if xs.size:
                lo[y], hi[y] = xs[0], xs[-1]
        ys = np.flatnonzero(np.isfinite(lo))
        full = np.arange(ys[0], h)
        lo = ndi.median_filter(np.interp(full, ys, lo[ys]), 15, mode="nearest")
        hi = ndi.median_filter(np.interp(full, ys, hi[ys]), 15, mode="nearest")
        hi[hi >= w - 16] = w - 1  # a tower cut by the frame: paint to the edge
        lo[lo <= 15] = 0
        for y, x_lo, x_hi in zip(full, lo, hi, strict=True):
            struct[y, int(np.floor(x_lo)) : int(np.ceil(x_hi)) + 1] = True
    # a vertical closing fills the notches a quick outline would not have
    struct = cv2.morphologyEx(
        struct.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((41, 1), np.uint8)
    ).astype(bool)
    struct &= ~ground & ~rocket
    ground &= ~rocket

    sky = ~(ground | rocket | struct)
    return {"sky": sky, "ground": ground, "towers": struct, "rocket": rocket, "horizon": horizon}


def split_tone(
    rgb: np.ndarray, shadow, highlight, lo=0.0, hi=1.0, gain=1.0, lift=0.0, keep=0.15
) -> np.ndarray:
    """Re-colour by luminance: shadows -> ``shadow`` hue, highlights -> ``highlight``.

    The output keeps the input's luminance (times ``gain``, plus ``lift``), so
    texture and local contrast survive; ``keep`` mixes back some original colour.
    """
    Y = luminance(rgb)
    t = smoothstep(lo, hi, Y)
    tint = lerp(np.asarray(shadow, float), np.asarray(highlight, float), t)
    tint = tint / luminance(tint)[..., None]
    Yn = lift + gain * Y
    out = tint * Yn[..., None]
    orig = rgb * (Yn / np.maximum(Y, 1e-4))[..., None]
    return (1 - keep) * out + keep * orig


def normalized_blur(x: np.ndarray, w: np.ndarray, sigma: float) -> np.ndarray:
    return blur(x * w, sigma) / np.maximum(blur(w, sigma), 1e-6)


def grade_rocket_sunset(im: np.ndarray, reg: dict) -> np.ndarray:
    """A warm sunset grade: violet-to-amber sky, plum shadows, peach highlights."""
    h, w = im.shape[:2]
    lab = color.rgb2lab(im)
    b = lab[..., 2]
    Y = luminance(im)
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    hor = reg["horizon"][None, :]

    # pixel-wise: blue, not too bright -> sky (also between tower struts)
    s = smoothstep(-5.0, -13.0, b) * (1.0 - smoothstep(60.0, 75.0, lab[..., 0]))
    s = blur(s, 0.6)
    w_rocket = blur(reg["rocket"].astype(float), 1.2)
    w_ground = blur(reg["ground"].astype(float), 2.0) * (1 - w_rocket)
    w_sky = s * (1 - w_ground) * (1 - w_rocket)
    w_struct = np.clip(1 - w_sky - w_ground - w_rocket, 0, 1)

    # --- sky: smooth gradient, the original's fine detail carried over
    rel = yy / hor  # 0 at the top, 1 on the horizon
    sky = gradient_rows(
        h,
        1,
        [
            (0.00, (30, 24, 66)),
            (0.30, (70, 42, 102)),
            (0.55, (150, 70, 112)),
            (0.78, (220, 102, 72)),
            (0.92, (242, 142, 78)),
            (1.00, (250, 172, 96)),
        ],
    )
    # sample the gradient per pixel via rel (accounts for the wavy horizon)
    ramp = sky[:, 0, :]
    idx = np.clip(rel * (h - 1), 0, h - 1)
    sky = np.stack([np.interp(idx, np.arange(h), ramp[:, c]) for c in range(3)], -1)
    # afterglow where the sun went down (left of the original frame)
    glow = np.exp(-(((xx - 40.0) / 260.0) ** 2 + ((yy - hor) / 150.0) ** 2))
    sky = lerp(sky, np.array([1.0, 0.78, 0.48]), 0.45 * glow)
    sky = sky * (0.74 + 0.30 * glow)[..., None]
    sky_mask = (w_sky > 0.9).astype(float)
    detail = Y / np.maximum(normalized_blur(Y, sky_mask, 12.0), 1e-3)
    sky = sky * np.clip(detail, 0.5, 2.5)[..., None] ** 0.8

    # --- towers, poles, lamps: silhouettes with plum shadows, amber lights
    struct = split_tone(
        im,
        shadow=(0.62, 0.42, 0.78),
        highlight=(1.0, 0.66, 0.36),
        lo=0.02,
        hi=0.5,
        gain=0.75,
        lift=0.004,
        keep=0.1,
    )
    # --- rocket: peach where lit, violet in its shade
    rk = split_tone(
        im,
        shadow=(0.62, 0.42, 0.74),
        highlight=(1.0, 0.72, 0.50),
        lo=0.1,
        hi=0.7,
        gain=0.78,
        keep=0.0,
    )
    # --- ground and the low cloud bank: dark plum, lamps amber
    gr = split_tone(
        im,
        shadow=(0.68, 0.40, 0.62),
        highlight=(1.0, 0.70, 0.40),
        lo=0.02,
        hi=0.45,
        gain=0.7,
        lift=0.006,
        keep=0.1,
    )

    out = (
        w_sky[..., None] * sky
        + w_struct[..., None] * struct
        + w_rocket[..., None] * rk
        + w_ground[..., None] * gr
    )
    # gentle filmic shoulder and a soft vignette
    out = (1.0 - np.exp(-1.6 * np.clip(out, 0, None))) / (1.0 - np.exp(-1.6))
    vig = 1.0 - 0.25 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2
    return np.clip(out * vig[..., None], 0, 1)


# ----------------------------------------------------------------------------
# pair 2: espresso on a wooden table  ->  blue cup on cool, weathered wood
# ----------------------------------------------------------------------------


def largest(m: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(m)
    if n == 0:
        return m
    area = ndi.sum(m, lab, np.arange(1, n + 1))
    return lab == 1 + int(np.argmax(area))


def smooth_shape(m: np.ndarray, sigma: float) -> np.ndarray:
    return blur(m.astype(np.float64), sigma) > 0.5


def fitted_ellipse(m: np.ndarray, grow: float = 0.0) -> np.ndarray:
    cnts, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (cx, cy), (a, b), ang = cv2.fitEllipse(max(cnts, key=cv2.contourArea))
    out = np.zeros(m.shape, np.uint8)
    cv2.ellipse(out, ((cx, cy), (a + 2 * grow, b + 2 * grow), ang), 1, -1, cv2.LINE_8)
    return out.astype(bool)


def robust_ellipse(
    m: np.ndarray, ignore: np.ndarray | None = None, iters: int = 6, tol: float = 0.025
):
    """Fit an ellipse to the outline of ``m``, ignoring bumps (iterative trimming).

    Outline points inside ``ignore`` or on the image border are not used.
    """
    cnts, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = max(cnts, key=cv2.contourArea)[:, 0, :]
    h, w = m.shape
    ok = (pts[:, 0] > 1) & (pts[:, 0] < w - 2) & (pts[:, 1] > 1) & (pts[:, 1] < h - 2)
    if ignore is not None:
        ok &= ~ignore[pts[:, 1], pts[:, 0]]
    pts = pts[ok].astype(np.float32)
    keep = pts
    for _ in range(iters):
        (cx, cy), (a, b), ang = cv2.fitEllipse(keep)
        t = np.deg2rad(ang)
        dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
        u = dx * np.cos(t) + dy * np.sin(t)
        v = -dx * np.sin(t) + dy * np.cos(t)
        r = np.sqrt((u / (a / 2)) ** 2 + (v / (b / 2)) ** 2)
        keep = pts[np.abs(r - np.median(r)) < tol]
    return (cx, cy), (a, b), ang


def draw_ellipse(shape, ell) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.ellipse(out, ell, 1, -1, cv2.LINE_8)
    return out.astype(bool)


# hand-traced in coffee.png's 600x400 pixel coordinates (x, y)
SPOON_NECK = [(382, 197), (389, 197), (386, 240), (373, 240)]
SPOON_HANDLE = [
    (397, 72),
    (403, 67),
    (411, 66),
    (418, 68),
    (422, 74),
    (420, 88),
    (416, 112),
    (412, 132),
    (407, 132),
    (405, 108),
    (399, 85),
]


def coffee_regions(im: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean region maps (full resolution) for skimage's coffee.png."""
    h, w = im.shape[:2]
    hsv = color.rgb2hsv(im)
    hue, sat = hsv[..., 0] * 360.0, hsv[..., 1]
    L = color.rgb2lab(im)[..., 0]

    red = ((hue < 13.5) | (hue > 340)) & (sat > 0.84) & (L > 15)
    white = (sat < 0.3) & (L > 70)

    # cup opening: the white rim encloses the coffee; both drawn as ellipses
    ring = largest(clean(white, open_r=1, close_r=3))
    opening = fitted_ellipse(ndi.binary_fill_holes(ring))
    crema = (hue > 14) & (hue < 40) & (sat > 0.66) & (L > 35) & opening
    coffee = fitted_ellipse(largest(clean(crema, close_r=3, open_r=4)))

    # cup body: the opening swept down onto the saucer
    body = np.zeros((h, w), bool)
    ys, xs = np.nonzero(opening)
    for dy in range(0, 120, 2):
        body[np.clip(ys + dy, 0, h - 1), xs] = True
    body = clean(body, close_r=2)

    # saucer: an ellipse fitted to the red glaze's outline, away from the cup
    # (the odd leak into shadow or wood is trimmed away as an outlier)
    sil = clean(red | opening, close_r=5)
    sil = largest(clean(ndi.binary_fill_holes(sil), open_r=7))
    near_cup = cv2.dilate(body.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    saucer = draw_ellipse((h, w), robust_ellipse(sil, ignore=near_cup))
    sil = saucer | body

    # spoon: it mirrors the red saucer, so colour thresholds cannot find it;
    # it is outlined by hand instead (an ellipse for the bowl, polygons for
    # the neck below the cup and the handle's end above the rim).
    sp = np.zeros((h, w), np.uint8)
    cv2.ellipse(sp, ((366, 282), (80, 90), 20), 1, -1)
    for poly in (SPOON_NECK, SPOON_HANDLE):
        cv2.fillPoly(sp, [np.array(poly, np.int32)], 1)
    spoon = sp.astype(bool)

    # dark background behind the table (top-left corner)
    dark = clean(L < 18, close_r=3, open_r=3)
    lab_d, _ = ndi.label(dark)
    back = smooth_shape(lab_d == lab_d[0, 0], 3.0) if dark[0, 0] else np.zeros((h, w), bool)

    coffee_m = coffee
    white_m = opening & ~coffee_m
    spoon_m = spoon & ~opening
    cup_m = sil & ~opening & ~spoon_m
    back_m = back & ~(sil | spoon_m)
    table_m = ~(coffee_m | white_m | spoon_m | cup_m | back_m)
    return {
        "table": table_m,
        "cup": cup_m,
        "coffee": coffee_m,
        "white": white_m,
        "spoon": spoon_m,
        "back": back_m,
    }


def lch_adjust(
    rgb: np.ndarray,
    hue_shift: float = 0.0,
    chroma: float = 1.0,
    light_gain: float = 1.0,
    light_add: float = 0.0,
) -> np.ndarray:
    """Rotate hue / scale chroma and lightness in CIE LCh."""
    lab = color.rgb2lab(np.clip(rgb, 0, 1))
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    C = np.hypot(a, b) * chroma
    H = np.arctan2(b, a) + np.deg2rad(hue_shift)
    out = np.stack([np.clip(L * light_gain + light_add, 0, 100), C * np.cos(H), C * np.sin(H)], -1)
    return np.clip(color.lab2rgb(out), 0, 1)


def grade_coffee_cool(im: np.ndarray, reg: dict) -> np.ndarray:
    """A cool, matte morning grade: grey-blue weathered wood, a cobalt-teal cup."""
    h, w = im.shape[:2]
    wts = {
        k: blur(reg[k].astype(float), 1.2)
        for k in ("table", "cup", "coffee", "white", "spoon", "back")
    }
    tot = sum(wts.values())
    wts = {k: v / tot for k, v in wts.items()}

    table = split_tone(
        im,
        shadow=(0.50, 0.62, 0.86),
        highlight=(0.90, 0.95, 1.0),
        lo=0.02,
        hi=0.45,
        gain=1.25,
        lift=0.035,
        keep=0.10,
    )
    cup = lch_adjust(im, hue_shift=215.0, chroma=0.95, light_gain=0.98)
    coffee = lch_adjust(im, hue_shift=6.0, chroma=0.78, light_gain=1.05, light_add=4.0)
    white = split_tone(
        im,
        shadow=(0.70, 0.80, 0.95),
        highlight=(0.97, 0.99, 1.0),
        lo=0.1,
        hi=0.8,
        gain=1.0,
        lift=0.01,
        keep=0.3,
    )
    spoon = lch_adjust(im, hue_shift=215.0, chroma=0.55, light_gain=1.02)
    back = split_tone(
        im,
        shadow=(0.45, 0.55, 0.85),
        highlight=(0.6, 0.7, 0.95),
        lo=0.0,
        hi=0.3,
        gain=1.0,
        lift=0.03,
        keep=0.0,
    )

    out = sum(
        wts[k][..., None] * v
        for k, v in (
            ("table", table),
            ("cup", cup),
            ("coffee", coffee),
            ("white", white),
            ("spoon", spoon),
            ("back", back),
        )
    )
    # overall: cool white balance, matte (lifted) blacks, soft vignette
    out = out * np.array([0.96, 1.0, 1.04])
    out = 0.03 + 0.97 * out
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    vig = 1.0 - 0.22 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2
    return np.clip(out * vig[..., None], 0, 1)


COFFEE_STYLE_BOX = (10, 400, 40, 590)  # y0, y1, x0, x1 in the 600x400 original


def make_coffee(outdir: str) -> None:
    im = load_skimage("coffee.png")
    h, w = im.shape[:2]
    reg = coffee_regions(im)
    order = [
        ("table", GREEN),
        ("cup", RED),
        ("coffee", YELLOW),
        ("white", WHITE),
        ("spoon", LIGHT_BLUE),
        ("back", BLACK),
    ]
    onehot = np.stack([reg[k] for k, _ in order], -1)
    colours = [c for _, c in order]

    full = (0, h, 0, w)
    save_png(
        os.path.join(outdir, "coffee_content.png"),
        crop_flip_resize(im, full, False, out_size(full)),
    )
    save_png(
        os.path.join(outdir, "coffee_content_mask.png"), render_mask(onehot, colours, full, False)
    )

    style = grade_coffee_cool(im, reg)
    box = COFFEE_STYLE_BOX
    save_png(
        os.path.join(outdir, "coffee_style.png"), crop_flip_resize(style, box, True, out_size(box))
    )
    save_png(os.path.join(outdir, "coffee_style_mask.png"), render_mask(onehot, colours, box, True))


ROCKET_STYLE_BOX = (30, 427, 100, 640)  # y0, y1, x0, x1 in the 640x427 original


def make_rocket(outdir: str) -> None:
    im = load_skimage("rocket.jpg")
    h, w = im.shape[:2]
    reg = rocket_regions(im)
    order = [("sky", BLUE), ("ground", GREEN), ("towers", GREY), ("rocket", RED)]
    onehot = np.stack([reg[k] for k, _ in order], -1)
    colours = [c for _, c in order]

    full = (0, h, 0, w)
    save_png(
        os.path.join(outdir, "rocket_content.png"),
        crop_flip_resize(im, full, False, out_size(full)),
    )
    save_png(
        os.path.join(outdir, "rocket_content_mask.png"), render_mask(onehot, colours, full, False)
    )

    style = grade_rocket_sunset(im, reg)
    box = ROCKET_STYLE_BOX
    save_png(
        os.path.join(outdir, "rocket_style.png"), crop_flip_resize(style, box, True, out_size(box))
    )
    save_png(os.path.join(outdir, "rocket_style_mask.png"), render_mask(onehot, colours, box, True))


def make_strokes(outdir: str) -> None:
    """A made-up "painting" for artistic mode: swirling brush strokes in a night palette.

    Line-integral convolution of value noise along a field of a few vortices (strokes that
    follow the flow), coloured through a palette of deep blue, cobalt, teal, ochre and pale
    yellow by a slow field, with short bright dabs. The noise comes from a fixed-seed
    generator, so the file is the same on every run.
    """
    h, w = 384, 512
    rng = np.random.default_rng(2017)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    vx, vy = np.zeros((h, w)), np.zeros((h, w))
    for cy, cx, spin, reach in ((120, 150, 1.0, 90), (250, 380, -1.0, 120), (90, 430, 1.0, 60),
                                (300, 90, -1.0, 80)):
        dy, dx = yy - cy, xx - cx
        fall = np.exp(-(dx * dx + dy * dy) / (2.0 * reach * reach))
        vx += -spin * dy / reach * fall
        vy += spin * dx / reach * fall
    vx += 0.35  # a drift to the right between the vortices
    norm = np.hypot(vx, vy) + 1e-9
    vx, vy = vx / norm, vy / norm
    noise = blur(rng.random((h, w)), 0.8)
    acc, count = np.zeros((h, w)), 0
    for direction in (1.0, -1.0):
        px, py = xx.copy(), yy.copy()
        for _ in range(14):
            ix = np.clip(px.round().astype(int), 0, w - 1)
            iy = np.clip(py.round().astype(int), 0, h - 1)
            acc += noise[iy, ix]
            count += 1
            px += direction * 1.5 * vx[iy, ix]
            py += direction * 1.5 * vy[iy, ix]
    strokes = acc / count
    strokes = (strokes - strokes.mean()) / (strokes.std() + 1e-9)
    slow = blur(rng.random((h, w)), 28.0)
    slow = (slow - slow.min()) / (slow.max() - slow.min() + 1e-9)
    t = np.clip(0.15 * strokes + slow * 1.1 - 0.05 + 0.25 * (yy / h), 0.0, 1.0)
    palette = [(0.00, (10, 20, 60)), (0.30, (25, 60, 140)), (0.55, (40, 110, 140)),
               (0.78, (200, 150, 40)), (1.00, (245, 230, 150))]
    pos = np.array([q for q, _ in palette])
    cols = np.array([c for _, c in palette], dtype=np.float64) / 255.0
    rgb = np.stack([np.interp(t, pos, cols[:, c]) for c in range(3)], -1)
    dabs = blur((rng.random((h, w)) > 0.9985).astype(np.float64), 1.6)
    rgb = lerp(rgb, np.array([1.0, 0.93, 0.55]), np.clip(dabs * 12.0, 0.0, 1.0))
    rgb = rgb * (0.88 + 0.12 * np.clip(strokes, -2, 2)[..., None] / 2)
    save_png(os.path.join(outdir, "strokes_style.png"), np.clip(rgb, 0, 1))


def main() -> None:
    make_rocket(HERE)
    make_coffee(HERE)
    make_strokes(HERE)


if __name__ == "__main__":
    main()
