"""Timings of the matting package: Laplacian build, energy + gradient, local affine post-process,
and the sparse against the matrix-free Laplacian.

Usage: ``python benchmarks/bench_matting.py [--repeat 3] [--sizes 512x384 700x467]
[--operator-sizes 256x171 512x341 700x467 1024x683] [--sections basic operators]
[--json PATH]``.

Reports the best of ``--repeat`` runs (the machine may be shared; the load average is printed
and saved), in seconds or milliseconds. The operator comparison gives, per size and dtype:
setup (sparse: ``matting_laplacian`` + ``laplacian_to_torch``; matrix-free:
``MatrixFreeLaplacian``), one product ``L V`` for the 3 channels, energy + gradient, the bytes
of the operator's tensors, and the peak resident memory that building it adds (measured in a
fresh process: the peak resident set ``VmHWM``, reset just before the build, minus the resident
set before it; Linux only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from matting import (
    MatrixFreeLaplacian,
    laplacian_to_torch,
    local_affine_post,
    matting_energy,
    matting_energy_matrix_free,
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


def parse_size(size: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(h, w)``."""
    w, h = (int(s) for s in size.split("x"))
    return h, w


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes of a dense, CSR or COO tensor's storage."""
    if t.layout == torch.sparse_csr:
        parts = (t.values(), t.crow_indices(), t.col_indices())
    elif t.layout == torch.sparse_coo:
        parts = (t._values(), t._indices())
    else:
        parts = (t,)
    return sum(p.numel() * p.element_size() for p in parts)


def build(kind: str, content: torch.Tensor) -> object:
    """Build the operator ``kind`` ("sparse" or "matrix_free") for ``content`` (1, 3, H, W)."""
    if kind == "sparse":
        rgb = content[0].permute(1, 2, 0).double().numpy()
        return laplacian_to_torch(matting_laplacian(rgb), dtype=content.dtype)
    return MatrixFreeLaplacian(content)


def peak_child(kind: str, size: str, dtype: str) -> None:
    """In a fresh process: print the peak resident bytes that building the operator adds."""
    h, w = parse_size(size)
    content = torch.from_numpy(photo(h, w).transpose(2, 0, 1).copy())[None]
    content = content.to(getattr(torch, dtype))
    before = _status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident set
    op = build(kind, content)
    peak = _status_bytes("VmHWM")
    del op
    print(peak - before)


def _status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (Linux), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def build_peak(kind: str, size: str, dtype: torch.dtype) -> int:
    """Peak resident bytes added by building the operator, from a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak-child", kind, size, str(dtype)[6:]],
        check=True, capture_output=True, text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def bench_basic(sizes: list[str], repeat: int) -> list[dict[str, object]]:
    """The original section: sparse build, sparse energy + gradient, local affine post."""
    rows: list[dict[str, object]] = []
    for size in sizes:
        h, w = parse_size(size)
        img = photo(h, w)
        L = matting_laplacian(img)
        t_lap = best_of(lambda img=img: matting_laplacian(img), repeat)
        content = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        output = (content * 0.8 + 0.1 + 0.05 * torch.rand_like(content)).clamp(0, 1)
        print(f"{size}: N={h * w}, nnz={L.nnz}, matting_laplacian {t_lap:.3f} s")
        for dtype in (torch.float32, torch.float64):
            lap = laplacian_to_torch(L, dtype=dtype)
            x = output.to(dtype).requires_grad_(True)

            def energy_and_grad(x: torch.Tensor = x, lap: torch.Tensor = lap) -> None:
                x.grad = None
                matting_energy(x, lap, weight=1e4).backward()

            t_energy = best_of(energy_and_grad, max(repeat, 10))
            out_d, con_d = output.to(dtype), content.to(dtype)
            t_post = best_of(lambda o=out_d, c=con_d: local_affine_post(o, c), repeat)
            print(
                f"  {str(dtype):14s} energy+grad {1e3 * t_energy:6.1f} ms   "
                f"local_affine_post {t_post:.3f} s"
            )
            rows.append({"size": size, "dtype": str(dtype), "nnz": int(L.nnz),
                         "matting_laplacian_s": t_lap, "energy_grad_s": t_energy,
                         "local_affine_post_s": t_post})
    return rows


def bench_operators(sizes: list[str], repeat: int) -> list[dict[str, object]]:
    """Sparse CSR against matrix-free: setup, L V, energy + gradient, bytes."""
    rows: list[dict[str, object]] = []
    head = (f"{'size':>9} {'dtype':>7} {'operator':>11} {'setup s':>8} {'L V ms':>8} "
            f"{'E+grad ms':>9} {'tensors MB':>10} {'build peak MB':>13} {'rel.err':>8}")
    print(head)
    for size in sizes:
        h, w = parse_size(size)
        img = photo(h, w)
        L = matting_laplacian(img)
        content64 = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        output64 = (0.8 * content64[:, [2, 0, 1]] + 0.1 + 0.05 * torch.rand_like(content64))
        for dtype in (torch.float32, torch.float64):
            content, output = content64.to(dtype), output64.clamp(0, 1).to(dtype)
            ref = (L @ output[0].reshape(3, -1).T.double().numpy()).T
            v = output[0].reshape(3, -1).t().contiguous()  # (N, 3) for the sparse product

            def sparse_setup(content: torch.Tensor = content) -> object:
                return build("sparse", content)

            t_sparse = best_of(sparse_setup, repeat)
            lap = sparse_setup()
            t_mf = best_of(lambda content=content: build("matrix_free", content), repeat)
            op = MatrixFreeLaplacian(content)
            cases = {
                "sparse": (t_sparse, lambda lap=lap, v=v: lap @ v, matting_energy, lap,
                           tensor_bytes(lap), build_peak("sparse", size, dtype)),
                "matrix_free": (t_mf, lambda op=op, x=output: op.matvec(x),
                                matting_energy_matrix_free, op, op.nbytes,
                                build_peak("matrix_free", size, dtype)),
            }
            for name, (t_setup, matvec, energy_fn, operator, nbytes, peak) in cases.items():
                x = output.clone().requires_grad_(True)

                def energy_and_grad(x=x, energy_fn=energy_fn, operator=operator) -> None:
                    x.grad = None
                    energy_fn(x, operator, 1e4).backward()

                t_matvec = best_of(matvec, max(repeat, 10))
                t_energy = best_of(energy_and_grad, max(repeat, 10))
                lv = matvec().double()
                lv = lv.numpy().T if name == "sparse" else lv[0].reshape(3, -1).numpy()
                err = float(np.linalg.norm(lv - ref) / np.linalg.norm(ref))
                print(f"{size:>9} {str(dtype)[6:]:>7} {name:>11} {t_setup:8.3f} "
                      f"{1e3 * t_matvec:8.1f} {1e3 * t_energy:9.1f} {nbytes / 2**20:10.1f} "
                      f"{peak / 2**20:13.0f} {err:8.1e}")
                rows.append({"size": size, "pixels": h * w, "dtype": str(dtype),
                             "operator": name, "setup_s": t_setup, "matvec_s": t_matvec,
                             "energy_grad_s": t_energy, "tensor_bytes": nbytes,
                             "build_peak_rss_bytes": peak, "rel_error_vs_sparse64": err})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["512x384", "700x467"])
    parser.add_argument("--operator-sizes", nargs="+",
                        default=["256x171", "512x341", "700x467", "1024x683"])
    parser.add_argument("--sections", nargs="+", choices=["basic", "operators"],
                        default=["basic", "operators"])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--peak-child", nargs=3, metavar=("KIND", "SIZE", "DTYPE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_child:
        peak_child(*args.peak_child)
        return
    load_before = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f}")
    report: dict[str, object] = {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_before": load_before,
    }
    if "basic" in args.sections:
        report["basic"] = bench_basic(args.sizes, args.repeat)
    if "operators" in args.sections:
        report["operators"] = bench_operators(args.operator_sizes, args.repeat)
    report["load_after"] = os.getloadavg()
    print(f"load average after: {report['load_after'][0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
