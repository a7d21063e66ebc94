"""AND-OR solvers: exact LP (HiGHS) vs batched first-order ("gradient") steps, n = 10 and 12.

Game: a small random MLP (n inputs, 2 hidden layers of 64, 2 classes, fixed seed), its
log-odds values ``v(x_T)`` from ``harsanyi_lightning.interactions.compute_values`` on a
``build_feature_sample_set`` of a few random samples with a zero baseline (AND-OR interactions,
docs/method.md#beyond-the-paper, apply to any values). For each n: seconds per sample of each solver (the LP solves the
samples one by one on the CPU; the gradient solver runs all samples at once on
``--device``), the gradient solver's relative objective gap against the LP optimum
(``(obj_gradient - obj_lp) / obj_lp``, mean and max over samples), its own certified gap
bound, and the number of salient interactions (AND-OR vs Harsanyi dividends alone).
Last lines, machine-readable: ``and_or_seconds_per_sample_n<n>_<solver> = <float>`` and
``and_or_gradient_gap_n<n>_max = <float>``.

    python benchmarks/and_or_solver.py [--n 10 12] [--samples 3] [--threads N] [--device cuda]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from harsanyi_lightning.interactions import (
    and_or_interactions,
    and_or_salient_mask,
    build_feature_sample_set,
    compute_values,
    harsanyi_dividends,
    salient_count,
)


def mlp_values(n: int, samples: int, seed: int) -> torch.Tensor:
    """``values[sample, mask]`` of a random MLP on random inputs (zero baseline)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(n, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)).eval()
    g = torch.Generator().manual_seed(seed + 1)
    x = 2 * torch.randn(samples, n, generator=g)
    sample_set = build_feature_sample_set(x, [0] * samples, torch.zeros(n))
    return compute_values(model, sample_set, batch_size=1 << n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 12])
    parser.add_argument("--samples", type=int, default=3,
                        help="samples per n (the gradient solver takes them all at once)")
    parser.add_argument("--lp-samples", type=int, default=None,
                        help="how many of them the LP solves, for its time and the gap (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=20000, help="max_iterations of the gradient solver")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="certified relative gap that stops the gradient solver")
    parser.add_argument("--device", default="cpu", help="device of the gradient solver (the LP always runs on the CPU)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default 0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; gradient device: {args.device}; samples per n: {args.samples}")

    summary: list[str] = []
    for n in args.n:
        values = mlp_values(n, args.samples, args.seed + n)
        n_lp = min(args.lp_samples or args.samples, args.samples)
        t0 = time.perf_counter()
        lp = and_or_interactions(values[:n_lp], solver="lp")
        t_lp = (time.perf_counter() - t0) / n_lp

        on_device = values.to(args.device)
        and_or_interactions(on_device[:1], solver="gradient", max_iterations=10)  # warm-up (kernels, allocator)
        if on_device.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        grad = and_or_interactions(
            on_device, solver="gradient", max_iterations=args.iterations, tolerance=args.tolerance
        )
        if on_device.is_cuda:
            torch.cuda.synchronize()
        t_grad = (time.perf_counter() - t0) / args.samples

        gap = (grad.objective.cpu()[:n_lp] - lp.objective) / lp.objective
        harsanyi = harsanyi_dividends(values[:n_lp])
        and_mask, or_mask = and_or_salient_mask(lp)
        print(f"n={n}: {1 << n} masks; LP on {n_lp} samples, gradient on {args.samples} at once")
        print(f"  lp (HiGHS ipm, exact):   {t_lp:8.3f} s/sample  objective "
              f"{[round(float(x), 4) for x in lp.objective]}")
        print(f"  gradient ({grad.iterations} iterations): {t_grad:8.3f} s/sample  objective "
              f"{[round(float(x), 4) for x in grad.objective[:n_lp]]}")
        print(f"  gradient gap vs LP (first {n_lp}): mean {float(gap.mean()):.2e}, max {float(gap.max()):.2e}; "
              f"its certified bound: max {float(grad.gap.max()):.2e} over all {args.samples}")
        print(f"  Harsanyi L1 {[round(float(x), 2) for x in harsanyi[:, 1:].abs().sum(1)]}; salient count: "
              f"Harsanyi {salient_count(harsanyi).tolist()}, AND-OR (lp) {(and_mask.sum(1) + or_mask.sum(1)).tolist()}")
        summary += [
            f"and_or_seconds_per_sample_n{n}_lp = {t_lp:.4f}",
            f"and_or_seconds_per_sample_n{n}_gradient = {t_grad:.4f}",
            f"and_or_gradient_gap_n{n}_max = {float(gap.max()):.3e}",
        ]
    print("\n".join(summary))


if __name__ == "__main__":
    main()
