"""Training time per sentence with length-grouped batches / with randomly drawn batches.

The embedded default's fine-tuning setup (the packaged MiniLM-L6, SST-2 training sentences,
batch 32, AdamW) trains for ``--steps`` optimiser steps twice per repetition in this process:
once with ``group_by_length=True`` (chunks of 50 batches sorted by token length, batches shuffled:
the default of the text data modules) and once with ``group_by_length=False`` (a plain seeded
shuffle). Repetitions alternate which runs first; medians are compared. Both runs see the same
seeded 8,000-sentence subset. Last line: ``length_grouping_speedup=<random time / grouped time>``.

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytorch_lightning as pl
import torch

from harsanyi_lightning.datamodules import SST2DataModule
from harsanyi_lightning.lightning_modules import FinetuneClassifier


class StepTimer(pl.Callback):
    """Wall time of the training steps after the first ``skip`` (warm-up) steps."""

    def __init__(self, skip: int):
        self.skip, self.start, self.seconds, self.sentences = skip, None, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.skip:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.start is not None:
            self.sentences += int(batch[1].shape[0])
            self.seconds = time.perf_counter() - self.start


def train_seconds_per_sentence(grouped: bool, args) -> float:
    pl.seed_everything(args.seed, verbose=False)
    model = FinetuneClassifier(backbone="minilm-l6", optimizer=functools.partial(torch.optim.AdamW, lr=5e-5))
    dm = SST2DataModule(data_dir=args.data_dir, train_subset=args.train_subset, batch_size=args.batch_size,
                        group_by_length=grouped)
    timer = StepTimer(skip=args.warmup_steps)
    trainer = pl.Trainer(max_steps=args.warmup_steps + args.steps, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer])
    trainer.fit(model, datamodule=dm)
    return timer.seconds / timer.sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "sst2"))
    parser.add_argument("--train-subset", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60, help="timed optimiser steps per run")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    grouped, plain = [], []
    for rep in range(args.repeats):
        for g in ((True, False) if rep % 2 == 0 else (False, True)):
            (grouped if g else plain).append(train_seconds_per_sentence(g, args))
    mg, mp = statistics.median(grouped), statistics.median(plain)
    print(f"device: CPU, {torch.get_num_threads()} torch threads; torch {torch.__version__}; batch {args.batch_size}, "
          f"{args.steps} timed steps per run, {args.repeats} repetitions")
    print(f"length-grouped batches: {1000 * mg:.1f} ms per training sentence; random batches: {1000 * mp:.1f} ms "
          f"(runs grouped {[round(1000 * x, 1) for x in grouped]}, random {[round(1000 * x, 1) for x in plain]})")
    print(f"length_grouping_speedup={mp / mg:.3f}")


if __name__ == "__main__":
    main()
