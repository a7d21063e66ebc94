"""Engine (values + fast Möbius transform) vs shapiq's exact Möbius interactions, n = 12.

Same MLP (12 inputs, 2 hidden layers of 256, 2 classes), same baseline, one sample.
shapiq is timed the way its user computes exact Möbius interactions: a BaselineImputer
game around the model's log-odds, then ``ExactComputer(...)("Moebius", order=n)``
(game evaluation included). Results are checked equal first. Last line:
``speedup_vs_shapiq_n12=<float>`` (median shapiq time / median engine time).

    python benchmarks/engine_vs_shapiq.py [--runs 5] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


import numpy as np
import torch
from torch import nn

from harsanyi_lightning.interactions import (
    build_feature_sample_set,
    harsanyi_interactions,
    log_odds_true_class,
    variables_to_mask,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads for both sides (default 0 = torch's default, all cores; shapiq's "
                             "transform is single-threaded Python either way; 1 gives steadier figures on a busy machine)")
    args = parser.parse_args()
    import shapiq

    if args.threads:
        torch.set_num_threads(args.threads)
    n = args.n
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(n, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2)).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, n, generator=g)
    baseline = torch.zeros(n)
    label = 1

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = model(torch.as_tensor(batch, dtype=torch.float32))
        return log_odds_true_class(logits, torch.full((len(batch),), label)).numpy()

    def run_shapiq():
        imputer = shapiq.BaselineImputer(model=predict, data=baseline.numpy()[None], x=x.numpy(), normalize=False)
        return shapiq.ExactComputer(imputer, n_players=n)("Moebius", order=n)

    sample_set = build_feature_sample_set(x, [label], baseline)

    def run_engine():
        return harsanyi_interactions(model, sample_set, batch_size=1 << n)

    # check equal first
    ref, ours = run_shapiq(), run_engine().dividends[0]
    worst = max(abs(float(ours[variables_to_mask(c)]) - float(ref.values[p])) for c, p in ref.interaction_lookup.items())
    scale = float(np.abs(ref.values).max())
    print(f"n={n}: {1 << n} masks; max |engine - shapiq| = {worst:.3e} (max |I| = {scale:.3e})")
    if worst > 1e-9 * max(scale, 1.0):
        sys.exit(f"results differ: max abs difference {worst}")

    t_shapiq, t_engine = [], []
    for _ in range(args.runs):  # interleaved
        t0 = time.perf_counter()
        run_shapiq()
        t_shapiq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_engine()
        t_engine.append(time.perf_counter() - t0)
    ms, me = statistics.median(t_shapiq), statistics.median(t_engine)
    print(f"torch threads: {torch.get_num_threads()}; runs: {args.runs}")
    print(f"shapiq ExactComputer Moebius (with game evaluation): median {ms * 1e3:.1f} ms  {[round(t * 1e3, 1) for t in t_shapiq]}")
    print(f"engine values + transform:                          median {me * 1e3:.2f} ms  {[round(t * 1e3, 2) for t in t_engine]}")
    print(f"speedup_vs_shapiq_n{n}={ms / me:.1f}")


if __name__ == "__main__":
    main()
