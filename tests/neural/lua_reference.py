"""An independent float64 transcription of the objective of the authors' Lua/Torch code for
Deep Photo Style Transfer (luanfujun/deep-photo-styletransfer), the reference of the parity
tests of photostyle's ``loss="paper"`` (tests/neural/test_paper_loss.py).

Written from the Lua/C/MATLAB sources only, never from photostyle's code (and it imports none
of photostyle's loss code):

* ``neuralstyle_seg.lua`` (stage 1: content + segmented style + TV) and ``deepmatting_seg.lua``
  (stage 2: the same + the matting-Laplacian gradient of ``cuda_utils.cu``);
* ``cuda_utils.cu`` (``matting_laplacian_kernel``; ``smooth_local_affine``, the post-process);
* ``gen_laplacian/getLaplacian1.m`` and ``mattinglaplacian.py`` (Levin et al.'s Laplacian);
* torch/optim ``lbfgs.lua``, torch/image ``scaleBilinear``, torch/nn ``SpatialAveragePooling``
  and szagoruyko/loadcaffe (pooling built with ``:ceil()``).

Every function works in float64 and is differentiable where it matters, so that autograd on
:func:`lua_objective` gives the gradient the Lua code hands to ``optim.lbfgs`` (or, with
``lua_mask_grad=False``, the true gradient of the same energies).

Conventions: images are ``(1,3,H,W)``; ``x`` ("Caffe units") is BGR, ``256·v − mean``, v in
[0, 1]. Masks are ``(K,H,W)`` float tensors, one plane per colour label (Lua order:
:data:`COLOR_CODES`). ``vgg_layers`` is ``torchvision.models.vgg19().features`` (the
``features.N`` layout of vgg19-d01eb7cb.pth), with any weights. A Laplacian ``L`` is
``(H·W, H·W)`` with pixels in row-major order (``y·W + x``); the authors' files are column-major
(MATLAB, ``x·H + y``): see :func:`colmajor_to_rowmajor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sps
import torch
import torch.nn.functional as F
from torch import Tensor

# --------------------------------------------------------------------------------------
# Constants (neuralstyle_seg.lua / deepmatting_seg.lua)
# --------------------------------------------------------------------------------------
# preprocess(): local mean_pixel = torch.DoubleTensor({103.939, 116.779, 123.68})  (B, G, R)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# main(): local color_codes = {'blue', 'green', 'black', 'white', 'red', 'yellow', 'grey',
#                               'lightblue', 'purple'}
COLOR_CODES = ("blue", "green", "black", "white", "red", "yellow", "grey", "lightblue", "purple")
# cmd:option('-content_weight', 5e0) / ('-style_weight', 1e2) / ('-tv_weight', 1e-3)
# / ('-lambda', 1e4)
DEFAULT_WEIGHTS = {"content": 5.0, "style": 100.0, "tv": 1e-3, "matting": 1e4}
# cmd:option('-content_layers', 'relu4_2')
# / ('-style_layers', 'relu1_1,relu2_1,relu3_1,relu4_1,relu5_1')
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# optim_state = { maxIter = params.num_iterations, tolX = 0, tolFun = -1, verbose=true }
# + lbfgs.lua defaults: maxEval = maxIter*1.25, nCorrection = 100, learningRate = 1, no line
# search.
LUA_LBFGS_TORCH_KWARGS = {
    "lr": 1.0, "max_iter": 1000, "max_eval": 1250, "tolerance_grad": -1.0,
    "tolerance_change": 0.0, "history_size": 100, "line_search_fn": None}


def _vgg19_names() -> list[str]:
    """Layer names in torchvision ``vgg19().features`` index order (= loadcaffe order)."""
    names = []
    for block, n_conv in enumerate((2, 2, 4, 4, 4), start=1):
        for i in range(1, n_conv + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


VGG19_NAMES = _vgg19_names()  # VGG19_NAMES[29] == 'relu5_1', [22] == 'relu4_2'


# --------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------
def caffe_preprocess(v: Tensor) -> Tensor:
    """Lua ``preprocess``: ``img = img:index(1, perm{3,2,1}):mul(256.0);
    img:add(-1, mean_pixel)``.

    (1,3,H,W) RGB in [0,1] -> BGR, *256 (NOT 255, despite the Lua comment), minus the BGR mean.
    """
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=v.dtype, device=v.device).view(1, 3, 1, 1)
    return v[:, [2, 1, 0]] * 256.0 - mean


def caffe_deprocess(x: Tensor) -> Tensor:
    """Lua ``deprocess``: ``img = img + mean_pixel; img:index(1, perm):div(256.0)``."""
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x + mean)[:, [2, 1, 0]] / 256.0


# --------------------------------------------------------------------------------------
# Masks: ExtractMask + torch/image scaleBilinear + the per-layer carrying rule
# --------------------------------------------------------------------------------------
def extract_masks(seg: Tensor, colors: Sequence[str] = COLOR_CODES) -> Tensor:
    """Lua ``ExtractMask(seg, color)`` for every colour code: (3,H,W) RGB [0,1] -> (K,H,W)
    {0,1}.

    Thresholds are strict: ``lt(c, 0.1)`` / ``gt(c, 1-0.1)``; grey is ``0.4 < c < 0.6`` on all
    channels.
    """
    r, g, b = seg[0], seg[1], seg[2]

    def lo(c: Tensor) -> Tensor:
        return c < 0.1

    def hi(c: Tensor) -> Tensor:
        return c > 1 - 0.1

    def mid(c: Tensor) -> Tensor:
        return (c > 0.5 - 0.1) & (c < 0.5 + 0.1)

    table = {
        "green": lo(r) & hi(g) & lo(b),
        "black": lo(r) & lo(g) & lo(b),
        "white": hi(r) & hi(g) & hi(b),
        "red": hi(r) & lo(g) & lo(b),
        "blue": lo(r) & lo(g) & hi(b),
        "yellow": hi(r) & hi(g) & lo(b),
        "grey": mid(r) & mid(g) & mid(b),
        "lightblue": lo(r) & hi(g) & hi(b),
        "purple": hi(r) & lo(g) & hi(b),
    }
    return torch.stack([table[c] for c in colors]).to(torch.float64)


def torch_image_scale_weights(src_len: int, dst_len: int) -> np.ndarray:
    """(dst_len, src_len) matrix of torch/image ``Main_scaleLinear_rowcol`` (the 1-D pass of
    ``image.scale(..., 'bilinear')``).  Downscaling is an AREA average with fractional edge
    weights (not bilinear sampling); upscaling is linear interpolation with align-corners
    geometry (scale = (src-1)/(dst-1)).  Scalars use float32 like the C code."""
    W = np.zeros((dst_len, src_len), dtype=np.float64)
    f32 = np.float32
    if dst_len > src_len:
        # float scale = (float)(src_len - 1) / (dst_len - 1);
        if src_len == 1:
            W[:, 0] = 1.0
        else:
            scale = f32(src_len - 1) / f32(dst_len - 1)
            for di in range(dst_len - 1):
                si_f = f32(di) * scale
                si_i = int(si_f)
                si_f = float(si_f - f32(si_i))
                W[di, si_i] += 1.0 - si_f
                if si_f != 0.0:
                    W[di, si_i + 1] += si_f
        W[dst_len - 1, :] = 0.0
        W[dst_len - 1, src_len - 1] = 1.0  # dst[last] = src[last]
    elif dst_len < src_len:
        # float scale = (float)src_len / dst_len;  acc/n box average with fractional ends
        scale = f32(src_len) / f32(dst_len)
        si0_i, si0_f = 0, 0.0
        for di in range(dst_len):
            s1 = f32(di + 1) * scale
            si1_i = int(s1)
            si1_f = float(s1 - f32(si1_i))
            W[di, si0_i] += 1.0 - si0_f
            n = 1.0 - si0_f
            for si in range(si0_i + 1, si1_i):
                W[di, si] += 1.0
                n += 1.0
            if si1_i < src_len:
                W[di, si1_i] += si1_f
                n += si1_f
            W[di] /= n
            si0_i, si0_f = si1_i, si1_f
    else:
        W = np.eye(src_len)
    return W


def torch_image_scale(img: Tensor, width: int, height: int) -> Tensor:
    """``image.scale(img, width, height)`` (default mode 'bilinear') for (..., H, W) tensors:
    rows (width) first, then columns (height); both passes are linear maps."""
    H, W = img.shape[-2:]
    Rw = torch.from_numpy(torch_image_scale_weights(W, width)).to(img)
    Rh = torch.from_numpy(torch_image_scale_weights(H, height)).to(img)
    return Rh @ img @ Rw.T


def lua_masks(masks: Tensor, layer_names: Iterable[str] | None = None,
              upto: str = "relu5_1") -> dict[str, Tensor]:
    """Carry (K,H,W) image-resolution masks through the VGG-19 layer list as main() does:

        if is_pooling then  image.scale(mask, ceil(w/2), ceil(h/2))          -- area average
        elseif is_conv then nn.SpatialAveragePooling(3,3,1,1,1,1)             -- pad counted
        end                                                                   -- ReLU: nothing

    Returns {layer_name: (K,h,w)} for ``layer_names`` (default: every ReLU up to ``upto``).
    The value stored for 'reluX_Y' is the mask used by the loss module placed after it.
    """
    want = (set(layer_names) if layer_names is not None
            else {n for n in VGG19_NAMES if n.startswith("relu")})
    m = masks.to(torch.float64)
    out = {}
    for name in VGG19_NAMES[: VGG19_NAMES.index(upto) + 1]:
        if name.startswith("pool"):
            h, w = m.shape[-2:]
            m = torch_image_scale(m, math.ceil(w / 2), math.ceil(h / 2))
        elif name.startswith("conv"):
            # nn.SpatialAveragePooling(3,3,1,1,1,1): count_include_pad = true (torch/nn default)
            m = F.avg_pool2d(m.unsqueeze(0), 3, 1, 1, count_include_pad=True)[0]
        if name in want:
            out[name] = m.clone()
    return out


# --------------------------------------------------------------------------------------
# VGG forward (loadcaffe semantics: ceil-mode max pooling)
# --------------------------------------------------------------------------------------
def vgg_features(x: Tensor, vgg_layers: torch.nn.Module, names: Iterable[str],
                 ceil_pool: bool = True) -> dict[str, Tensor]:
    """Run ``x`` (1,3,H,W) through torchvision-layout VGG-19 ``features`` in float64 and
    return the activations at ``names``. loadcaffe builds
    ``nn.SpatialMaxPooling(2,2,2,2,0,0):ceil()``, so pooling uses ceil_mode=True
    (torchvision's MaxPool2d is floor mode; neural-style-pt too)."""
    names = set(names)
    last = max(VGG19_NAMES.index(n) for n in names)
    feats, h = {}, x.to(torch.float64)
    for idx in range(last + 1):
        mod, name = vgg_layers[idx], VGG19_NAMES[idx]
        if isinstance(mod, torch.nn.Conv2d):
            h = F.conv2d(h, mod.weight.to(torch.float64), mod.bias.to(torch.float64),
                         stride=mod.stride, padding=mod.padding)
        elif isinstance(mod, torch.nn.ReLU):
            h = F.relu(h)
        elif isinstance(mod, torch.nn.MaxPool2d):
            h = F.max_pool2d(h, 2, 2, ceil_mode=ceil_pool or bool(mod.ceil_mode))
        else:  # pragma: no cover
            raise TypeError(f"unexpected layer {idx}: {mod}")
        if name in names:
            feats[name] = h
    return feats


# --------------------------------------------------------------------------------------
# Loss terms
# --------------------------------------------------------------------------------------
class _MaskForwardOnly(torch.autograd.Function):
    """y = M * F in forward, dy/dF = identity in backward.

    StyleLossWithSeg:updateGradInput does
    ``gradient = self.gram:backward(masked_input_features, dG)`` and adds it to gradInput as
    the gradient w.r.t. ``input`` -- it never multiplies by the mask (the
    cmul(l_content_mask, input) step is not back-propagated)."""

    @staticmethod
    def forward(ctx, feat, mask):
        return feat * mask

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def masked_gram(feat: Tensor, mask: Tensor, lua_mask_grad: bool = True
                ) -> tuple[Tensor, Tensor]:
    """Gram of one label, as in main() (targets) and StyleLossWithSeg:updateGradInput (input):

        masked = cmul(mask:expandAs(F), F); G = gram(masked)        -- (C x HW)(C x HW)^T
        if mean(mask) > 0 then G:div(F:nElement() * mean(mask)) end  -- nElement = C*H*W

    Returns (G, mu)."""
    C = feat.shape[-3]
    mu = mask.mean()
    mk = _MaskForwardOnly.apply(feat, mask) if lua_mask_grad else feat * mask
    Fm = mk.reshape(C, -1)
    G = Fm @ Fm.T
    if mu > 0:
        G = G / (feat.numel() * mu)
    return G, mu


def style_layer_loss(feat: Tensor, content_masks: Tensor, target_grams: Sequence[Tensor],
                     strength: float, lua_mask_grad: bool = True,
                     per_label: list[Tensor] | None = None) -> Tensor:
    """StyleLossWithSeg:updateGradInput (the loss is computed in the BACKWARD pass in Lua):

        loss_j = self.crit:forward(masked_input_gram, self.target_grams[j])  -- MSE over C*C
        loss_j = loss_j * self.strength * l_content_mean
        dG = crit:backward(G, S); dG:div(input:nElement()); gradient = gram:backward(masked, dG)
        gradInput = strength * sum_j gradient

    With ``lua_mask_grad`` the autograd gradient equals that Lua gradient exactly (the 1/(N*mu)
    of the Gram and the mu weight cancel; only the missing mask factor differs from the true
    gradient of the reported loss).  With ``lua_mask_grad=False`` it is the exact gradient of
    the reported loss (an extra factor M on the feature gradient)."""
    total = feat.new_zeros(())
    for j, S in enumerate(target_grams):
        G, mu = masked_gram(feat, content_masks[j], lua_mask_grad)
        lj = strength * mu * ((G - S) ** 2).mean()
        if per_label is not None:
            per_label.append(lj)
        total = total + lj
    return total


def content_loss(feat: Tensor, target: Tensor, strength: float) -> Tensor:
    """ContentLoss: ``self.loss = self.crit:forward(input, self.target) * self.strength`` (MSE
    mean); gradInput = strength * crit:backward = strength * 2 (F - T) / numel (normalize =
    false)."""
    return strength * ((feat - target) ** 2).mean()


def tv_energy(x: Tensor, strength: float) -> Tensor:
    """Energy whose gradient is TVLoss:updateGradInput (Lua reports NO tv loss value):

        x_diff = x[:, 1:-1(excl), 1:-1(excl)] - x[:, same rows, shifted col]  (H-1)x(W-1) block
        y_diff = x[:, block] - x[:, shifted row, same cols]
        grad = strength * (x_diff + y_diff at block, -x_diff shifted right, -y_diff shifted down)

    => E = strength/2 * sum_{c, i<H-1, j<W-1} [(x_ij - x_i,j+1)^2 + (x_ij - x_i+1,j)^2]
    (the last row's horizontal and last column's vertical differences are not included)."""
    blk = x[..., :-1, :-1]
    xd = blk - x[..., :-1, 1:]
    yd = blk - x[..., 1:, :-1]
    return 0.5 * strength * ((xd ** 2).sum() + (yd ** 2).sum())


def _as_torch_laplacian(L: Tensor | sps.spmatrix, device: torch.device | None = None
                        ) -> Tensor:
    if isinstance(L, Tensor):
        return L.to(torch.float64)
    L = sps.coo_matrix(L)
    idx = torch.from_numpy(np.vstack([L.row, L.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(L.data.astype(np.float64)), L.shape,
                                   device=device, check_invariants=False).coalesce()


def matting_energy(x: Tensor, L: Tensor | sps.spmatrix, lam: float) -> Tensor:
    """Energy whose gradient w.r.t. x (Caffe units) is what deepmatting_seg.lua adds:

        output = img + meanImage ; output01 = output / 256            -- v, BGR, [0,1]
        grad = cuda_utils.matting_laplacian(output01, ...)            -- 2 * L v (per channel)
        grad:div(256.0) ; :mul(params.lambda)                         -- => (2 lam / 256) L v

    E(x) = lam * sum_c v_c^T L v_c with v = (x + mean)/256  ==  lam/65536 * sum_c x_c^T L x_c
    (L 1 = 0, so the mean drops out). L: (HW,HW) row-major pixel order; dense or scipy
    sparse."""
    _, C, H, W = x.shape
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    v = ((x.to(torch.float64) + mean) / 256.0).reshape(C, H * W).T  # (HW, 3)
    Lt = _as_torch_laplacian(L, x.device)
    Lv = torch.sparse.mm(Lt, v) if Lt.is_sparse else Lt @ v
    return lam * (v * Lv).sum()


def lua_objective(x_caffe: Tensor, content_caffe: Tensor, style_caffe: Tensor,
                  content_masks: Tensor | dict[str, Tensor] | None,
                  style_masks: Tensor | dict[str, Tensor] | None,
                  vgg_layers: torch.nn.Module, laplacian: Tensor | sps.spmatrix | None = None,
                  weights: dict[str, float] | None = None, lua_mask_grad: bool = True,
                  ceil_pool: bool = True, return_per_label: bool = False
                  ) -> dict[str, Tensor]:
    """All terms of the Lua objective.  ``autograd.grad(out['total'], x_caffe)`` is the gradient
    that feval() returns to optim.lbfgs (stage 1 when laplacian is None, stage 2 otherwise).

    content_masks / style_masks: (K,H,W) image-resolution masks (carried with ``lua_masks``) or
    already-carried dicts {relu name: (K,h,w)}; ``None`` = one all-ones label (what an all-white
    segmentation image gives; note the carried all-ones mask is NOT all-ones at borders).

    Keys: 'content', 'style:<layer>' (x5), 'style', 'tv', 'matting', 'total' (sum of all
    energies), 'lua_printed_total' (content + style: the only thing Lua prints / returns as f;
    TV and matting enter only the gradient).
    """
    w = dict(DEFAULT_WEIGHTS)
    w.update(weights or {})
    x = x_caffe.to(torch.float64)

    def carried(m: Tensor | dict[str, Tensor] | None, img: Tensor) -> dict[str, Tensor]:
        if isinstance(m, dict):
            return m
        if m is None:
            m = torch.ones((1,) + tuple(img.shape[-2:]), dtype=torch.float64)
        return lua_masks(m, STYLE_LAYERS)

    cm, sm = carried(content_masks, content_caffe), carried(style_masks, style_caffe)
    names = set(STYLE_LAYERS) | set(CONTENT_LAYERS)
    with torch.no_grad():
        tc = vgg_features(content_caffe, vgg_layers, CONTENT_LAYERS, ceil_pool)
        ts = vgg_features(style_caffe, vgg_layers, STYLE_LAYERS, ceil_pool)
        targets = {}
        for ln in STYLE_LAYERS:
            targets[ln] = [masked_gram(ts[ln][0], sm[ln][j], False)[0]
                           for j in range(sm[ln].shape[0])]
    f = vgg_features(x, vgg_layers, names, ceil_pool)

    out: dict[str, Tensor] = {}
    out["content"] = sum(content_loss(f[ln], tc[ln], w["content"]) for ln in CONTENT_LAYERS)
    style_total = x.new_zeros(())
    for ln in STYLE_LAYERS:
        if cm[ln].shape[-2:] != f[ln].shape[-2:]:
            raise ValueError(f"mask {tuple(cm[ln].shape)} vs feature {tuple(f[ln].shape)} "
                             f"at {ln}")
        per = [] if return_per_label else None
        out[f"style:{ln}"] = style_layer_loss(f[ln][0], cm[ln], targets[ln], w["style"],
                                              lua_mask_grad, per)
        if per is not None:
            for j, lj in enumerate(per):
                out[f"style:{ln}:{j}"] = lj
        style_total = style_total + out[f"style:{ln}"]
    out["style"] = style_total
    out["tv"] = tv_energy(x, w["tv"]) if w["tv"] > 0 else x.new_zeros(())
    out["matting"] = (matting_energy(x, laplacian, w["matting"]) if laplacian is not None
                      else x.new_zeros(()))
    out["lua_printed_total"] = out["content"] + out["style"]
    out["total"] = out["content"] + out["style"] + out["tv"] + out["matting"]
    return out


# --------------------------------------------------------------------------------------
# Literal transcriptions of the Lua/CUDA gradients (used by the tests)
# --------------------------------------------------------------------------------------
def lua_style_grad(feat: Tensor, content_masks: Tensor, target_grams: Sequence[Tensor],
                   strength: float) -> Tensor:
    """StyleLossWithSeg:updateGradInput, line by line (gradOutput = 0)."""
    C = feat.shape[0]
    N = feat.numel()
    grad = torch.zeros_like(feat)
    for j, S in enumerate(target_grams):
        M = content_masks[j]
        mu = M.mean()
        masked = M * feat
        Fm = masked.reshape(C, -1)
        G = Fm @ Fm.T
        if mu > 0:
            G = G / (N * mu)
        dG = 2.0 * (G - S) / G.numel()        # MSECriterion backward, sizeAverage
        dG = dG / N                           # dG:div(input:nElement())  (no 1/mu, no mu)
        # gram:backward(masked, dG): MM(false,true) + ConcatTable
        g = ((dG + dG.T) @ Fm).reshape_as(feat)
        grad = grad + g
    return strength * grad


def lua_tv_grad(x: Tensor, strength: float) -> Tensor:
    """TVLoss:updateGradInput for a (3,H,W) tensor."""
    g = torch.zeros_like(x)
    xd = x[:, :-1, :-1] - x[:, :-1, 1:]
    yd = x[:, :-1, :-1] - x[:, 1:, :-1]
    g[:, :-1, :-1] += xd + yd
    g[:, :-1, 1:] -= xd
    g[:, 1:, :-1] -= yd
    return strength * g


def lua_matting_grad(x: Tensor, triplets: np.ndarray, h: int, w: int, lam: float) -> Tensor:
    """MattingLaplacian(output, CSR, h, w):mul(lambda) with the CUDA kernel transcribed.

    ``triplets``: (nnz, 3) [rowIdx, colIdx, val], 1-based, COLUMN-MAJOR pixel indices, as in
    the .mat/.csv files. Kernel: thread _id = y*w + x (row-major); ``id = x*h + y`` selects the
    CSR row; for each entry ``_x = col/h, _y = col%h; colIdx = _y*w + _x``;
    ``grad[_id + c*size] += 2*val*input[colIdx + c*size]``; then grad:div(256) * lambda."""
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float64).view(3, 1, 1)
    v = ((x.to(torch.float64) + mean) / 256.0).reshape(3, h * w)  # output01, plane-major
    rows = np.rint(triplets[:, 0]).astype(np.int64) - 1
    cols = np.rint(triplets[:, 1]).astype(np.int64) - 1
    vals = torch.from_numpy(triplets[:, 2].astype(np.float64))
    r_rm = torch.from_numpy((rows % h) * w + rows // h)   # row id (col-major) -> row-major _id
    c_rm = torch.from_numpy((cols % h) * w + cols // h)
    g = torch.zeros(3, h * w, dtype=torch.float64)
    g.index_add_(1, r_rm, 2.0 * vals * v[:, c_rm])
    return (g / 256.0 * lam).reshape(3, h, w)


# --------------------------------------------------------------------------------------
# Matting Laplacian (getLaplacian1.m, Levin et al. 2006 closed form)
# --------------------------------------------------------------------------------------
def matting_laplacian(img: np.ndarray, eps: float = 1e-7, win_rad: int = 1,
                      colmajor: bool = False) -> sps.csr_matrix:
    """Transcription of getLaplacian1(I, zeros(h,w), epsilon, win_size) -> scipy CSR (HW x HW).

    Windows (2r+1)^2 centred at every INTERIOR pixel only; per window
      win_var = inv(winI'*winI/n - mu*mu' + eps/n*eye(3));  tvals = (1 + dI*win_var*dI')/n
    A = sparse(row, col, vals) (duplicates summed); L = diag(sum(A,2)) - A.
    Pixel order row-major (default) or MATLAB column-major (``colmajor=True``)."""
    img = np.asarray(img, dtype=np.float64)
    h, w, c = img.shape
    n = (2 * win_rad + 1) ** 2
    if colmajor:
        inds = np.arange(h * w).reshape(w, h).T      # indsM = reshape(1:h*w, h, w)
    else:
        inds = np.arange(h * w).reshape(h, w)
    ys, xs = np.mgrid[win_rad:h - win_rad, win_rad:w - win_rad]
    ys, xs = ys.ravel(), xs.ravel()
    dy, dx = np.mgrid[-win_rad:win_rad + 1, -win_rad:win_rad + 1]
    dy, dx = dy.ravel(), dx.ravel()
    wy, wx = ys[:, None] + dy[None], xs[:, None] + dx[None]      # (nwin, n)
    win_inds = inds[wy, wx]
    winI = img[wy, wx]                                            # (nwin, n, c)
    mu = winI.mean(axis=1, keepdims=True)
    cov = np.einsum("kni,knj->kij", winI, winI) / n - np.einsum("kxi,kxj->kij", mu, mu)
    inv = np.linalg.inv(cov + eps / n * np.eye(c)[None])
    d = winI - mu
    tvals = (1.0 + np.einsum("kni,kij,kmj->knm", d, inv, d)) / n  # (nwin, n, n)
    rows = np.repeat(win_inds, n, axis=1).ravel()
    cols = np.tile(win_inds, (1, n)).ravel()
    A = sps.coo_matrix((tvals.ravel(), (rows, cols)), shape=(h * w, h * w)).tocsr()
    return (sps.diags(np.asarray(A.sum(axis=1)).ravel()) - A).tocsr()


def rowmajor_perm(h: int, w: int) -> np.ndarray:
    """perm[r] = column-major index of the pixel whose row-major index is r."""
    r = np.arange(h * w)
    return (r % w) * h + r // w


def colmajor_to_rowmajor(L_cm: sps.spmatrix, h: int, w: int) -> sps.csr_matrix:
    """Reorder a MATLAB/column-major Laplacian (authors' files) to row-major pixel order."""
    p = rowmajor_perm(h, w)
    return sps.csr_matrix(L_cm)[p][:, p]


def lua_triplets(L_cm: sps.spmatrix) -> np.ndarray:
    """(nnz,3) [row+1, col+1, val] sorted by row, like mattinglaplacian.py's CSV
    (``CSR.tocoo()``)."""
    C = sps.csr_matrix(L_cm).tocoo()
    order = np.lexsort((C.col, C.row))
    return np.stack([C.row[order] + 1.0, C.col[order] + 1.0, C.data[order]], axis=1)


# --------------------------------------------------------------------------------------
# Post-process: cuda_utils.smooth_local_affine (stage-2 'best' images)
# --------------------------------------------------------------------------------------
def _shift(a: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """a[..., y+dy, x+dx] with a validity mask (out of bounds -> 0, valid=False)."""
    H, W = a.shape[-2:]
    out = np.zeros_like(a)
    valid = np.zeros((H, W), dtype=bool)
    ys0, ys1 = max(0, -dy), min(H, H - dy)
    xs0, xs1 = max(0, -dx), min(W, W - dx)
    out[..., ys0:ys1, xs0:xs1] = a[..., ys0 + dy:ys1 + dy, xs0 + dx:xs1 + dx]
    valid[ys0:ys1, xs0:xs1] = True
    return out, valid


def smooth_local_affine(output01: np.ndarray, input01: np.ndarray, patch: int = 3,
                        f_radius: int = 15, f_edge: float = 0.01, ridge: float = 1e-3
                        ) -> np.ndarray:
    """Transcription of best_local_affine_kernel + bilateral_smooth_kernel +
    reconstruction_best_kernel.

    output01/input01: (3,H,W) float arrays. Channel order is kept (the CUDA kernel reads BGR
    and writes the channels reversed, i.e. RGB, which is why Lua saves ``best`` without
    deprocess).
    * per pixel: A (3x4) = argmin sum_{q in patch window, in bounds} |A [I_q;1] - O_q|^2
      + ridge*|A[:, :3]|^2   (Mt_M diag 1e-3 on the 3 colour entries only; ``epsilon`` is unused)
    * bilateral filter of the 12 coefficients over (2 f_radius+1)^2, in-bounds:
      w = exp(-(dx^2+dy^2)/(2 s1^2)) * exp(-(|I_q-I_p|^2/3)/(2 s2^2)), s1 = f_radius/3, s2 = f_edge
    * out_p = A_p [I_p; 1]
    Lua call: SmoothLocalAffine(output, input, eps, patch=3, h, w, f_radius, f_edge) with
    gen_all.py/README values f_radius=15, f_edge=0.01 (script defaults 7 / 0.05)."""
    out = np.asarray(output01, dtype=np.float64)
    guide = np.asarray(input01, dtype=np.float64)
    _, H, W = guide.shape
    X = np.concatenate([guide, np.ones((1, H, W))], axis=0)       # (4,H,W) features [I;1]
    MtM = np.zeros((H, W, 4, 4))
    MtS = np.zeros((H, W, 3, 4))
    MtM[..., [0, 1, 2], [0, 1, 2]] = ridge
    r = (patch - 1) // 2
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            Xs, valid = _shift(X, dy, dx)
            Os, _ = _shift(out, dy, dx)
            MtM += np.einsum("ihw,jhw->hwij", Xs, Xs) * valid[..., None, None]
            MtS += np.einsum("ihw,jhw->hwij", Os, Xs) * valid[..., None, None]
    det_ok = np.abs(np.linalg.det(MtM)) >= 1e-9  # InverseMat4x4 fails -> inv stays 0
    inv = np.where(det_ok[..., None, None], np.linalg.inv(MtM), 0.0)
    A = np.einsum("hwik,hwjk->hwij", MtS, inv).reshape(H, W, 12)  # A[i][j] += inv[j][k]MtS[i][k]
    s1, s2 = f_radius / 3.0, f_edge
    acc = np.zeros((H, W, 12))
    wsum = np.zeros((H, W))
    for dy in range(-f_radius, f_radius + 1):
        for dx in range(-f_radius, f_radius + 1):
            Is, valid = _shift(guide, dy, dx)
            As, _ = _shift(A.transpose(2, 0, 1), dy, dx)
            cd = ((Is - guide) ** 2).sum(0) / 3.0
            wgt = (math.exp(-(dx * dx + dy * dy) / (2 * s1 * s1))
                   * np.exp(-cd / (2 * s2 * s2)) * valid)
            acc += wgt[..., None] * As.transpose(1, 2, 0)
            wsum += wgt
    Af = (acc / wsum[..., None]).reshape(H, W, 3, 4)
    return np.einsum("hwij,jhw->ihw", Af, X)


# --------------------------------------------------------------------------------------
# optim.lbfgs (torch/optim lbfgs.lua, no line search) -- for checking torch.optim.LBFGS settings
# --------------------------------------------------------------------------------------
def lua_lbfgs(opfunc: Callable[[Tensor], tuple[float, Tensor]], x: Tensor, max_iter: int,
              n_correction: int = 100, learning_rate: float = 1.0, tol_fun: float = -1.0,
              tol_x: float = 0.0) -> tuple[Tensor, list[float], int]:
    """Transcription of optim.lbfgs with DPST's config (tolX=0, tolFun=-1, no lineSearch).
    ``opfunc(x) -> (f, g)`` with flat tensors.  Returns (x, f_hist, n_evals)."""
    max_eval = max_iter * 1.25
    f, g = opfunc(x)
    f_hist, evals = [f], 1
    if g.abs().sum() <= tol_fun:
        return x, f_hist, evals
    old_dirs, old_stps, Hdiag, d, t, g_old = [], [], 1.0, None, None, None
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        if n_iter == 1:
            d = -g
        else:
            y = g - g_old
            s = d * t
            ys = y.dot(s)
            if ys > 1e-10:
                if len(old_dirs) == n_correction:
                    old_dirs.pop(0)
                    old_stps.pop(0)
                old_dirs.append(s)
                old_stps.append(y)
                Hdiag = ys / y.dot(y)
            k = len(old_dirs)
            ro = [1.0 / old_stps[i].dot(old_dirs[i]) for i in range(k)]
            al = [0.0] * k
            q = -g
            for i in range(k - 1, -1, -1):
                al[i] = old_dirs[i].dot(q) * ro[i]
                q = q - al[i] * old_stps[i]
            r = q * Hdiag
            for i in range(k):
                be_i = old_stps[i].dot(r) * ro[i]
                r = r + (al[i] - be_i) * old_dirs[i]
            d = r
        g_old = g.clone()
        f_old = f
        gtd = g.dot(d)
        if gtd > -tol_x:
            break
        t = min(1.0, 1.0 / float(g.abs().sum())) * learning_rate if n_iter == 1 else learning_rate
        x = x + t * d
        ls = 0
        if n_iter != max_iter:
            f, g = opfunc(x)
            ls = 1
            f_hist.append(f)
        evals += ls
        if n_iter == max_iter or evals >= max_eval:
            break
        if (g.abs().sum() <= tol_fun or (d * t).abs().sum() <= tol_x
                or abs(f - f_old) < tol_x):
            break
    return x, f_hist, evals
