"""Timings of the matting package: Laplacian build, energy + gradient, local affine post-process.

Usage: ``python benchmarks/bench_matting.py [--repeat 3] [--sizes 512x384 700x467]``.
Reports the best of ``--repeat`` runs (the machine may be shared), in seconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from matting import (
    laplacian_to_torch,
    local_affine_post,
    matting_energy,
    matting_laplacian,
)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def photo(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx * yy], axis=-1)
    img += 0.03 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["512x384", "700x467"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for size in args.sizes:
        w, h = (int(s) for s in size.split("x"))
        img = photo(h, w)
        L = matting_laplacian(img)
        t_lap = best_of(lambda img=img: matting_laplacian(img), args.repeat)
        content = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        output = (content * 0.8 + 0.1 + 0.05 * torch.rand_like(content)).clamp(0, 1)
        print(f"{size}: N={h * w}, nnz={L.nnz}, matting_laplacian {t_lap:.3f} s")
        for dtype in (torch.float32, torch.float64):
            lap = laplacian_to_torch(L, dtype=dtype)
            x = output.to(dtype).requires_grad_(True)

            def energy_and_grad(x: torch.Tensor = x, lap: torch.Tensor = lap) -> None:
                x.grad = None
                matting_energy(x, lap, weight=1e4).backward()

            t_energy = best_of(energy_and_grad, max(args.repeat, 10))
            out_d, con_d = output.to(dtype), content.to(dtype)
            t_post = best_of(lambda o=out_d, c=con_d: local_affine_post(o, c), args.repeat)
            print(
                f"  {str(dtype):14s} energy+grad {1e3 * t_energy:6.1f} ms   "
                f"local_affine_post {t_post:.3f} s"
            )


if __name__ == "__main__":
    main()
