"""Cost of the InteractionCallback relative to a training epoch (docs/performance.md).

The embedded default finetune setup (``configs/sst2_minilm/finetune.yaml``: the packaged
MiniLM-L6, the SST-2 training subset, AdamW) is fitted for one epoch twice in this
process: once without and once with ``InteractionCallback`` (``--num-sentences`` ten-word
dev sentences, n = 10, strict fp32). The epoch time is measured from
``on_train_epoch_start`` to ``on_train_epoch_end`` (training + validation, the callback's
own hook excluded) in both runs and averaged, so a load change on a shared machine
between the two runs biases the figure less; the callback time per epoch is the time of
its end-of-epoch hook (one evaluation: samples x 1024 masked sentences, the transform, the artifact,
the logging). The one-off costs (setup, the epoch-0 evaluation, the final Jaccard)
are printed too. Last line: ``callback_share_of_epoch=<float>``.

    python benchmarks/callback_overhead.py                       # 8 sentences, CPU
    python benchmarks/callback_overhead.py --num-sentences 50 --pool-split test --device cuda

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from harsanyi_lightning.callbacks import InteractionCallback

CONFIG = REPO / "configs" / "sst2_minilm" / "finetune.yaml"


class EpochTimer(pl.Callback):
    """Wall time of each training epoch (training steps + validation), synchronised on CUDA."""

    def __init__(self):
        self.seconds: list[float] = []

    @staticmethod
    def _sync(module):
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_epoch_start(self, trainer, module):
        self._sync(module)
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self._sync(module)
        self.seconds.append(time.perf_counter() - self._t0)


class TimedInteractionCallback(InteractionCallback):
    """The callback, with the wall time of each of its hooks recorded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = defaultdict(float)

    def _timed(self, name, fn, *args):
        t0 = time.perf_counter()
        fn(*args)
        self.seconds[name] += time.perf_counter() - t0

    def setup(self, trainer, module, stage):
        self._timed("setup", super().setup, trainer, module, stage)

    def on_train_start(self, trainer, module):
        self._timed("epoch0_evaluation", super().on_train_start, trainer, module)

    def on_train_epoch_end(self, trainer, module):
        self._timed("epoch_end_evaluation", super().on_train_epoch_end, trainer, module)

    def on_train_end(self, trainer, module):
        self._timed("train_end_jaccard", super().on_train_end, trainer, module)


def build(args, root: Path, callbacks: list, **trainer_kwargs) -> tuple[pl.Trainer, pl.LightningModule,
                                                                       pl.LightningDataModule]:
    """Model and data from the embedded default config (via the project's LightningCLI), and a 1-epoch trainer
    (``trainer_kwargs`` added to its arguments)."""
    from harsanyi_lightning import cli

    overrides = ["--config", str(CONFIG), "--trainer.logger=false"]
    if args.train_subset is not None:
        overrides.append(f"--data.init_args.train_subset={args.train_subset}")
    parsed = cli.main(overrides, run=False)  # parsed and instantiated, nothing run
    pl.seed_everything(0, verbose=False)
    accelerator = "gpu" if args.device.startswith("cuda") else "cpu"
    trainer = pl.Trainer(
        accelerator=accelerator, devices=1, max_epochs=1, logger=TensorBoardLogger(str(root)),
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=callbacks, default_root_dir=str(root), **trainer_kwargs,
    )
    return trainer, parsed.model, parsed.datamodule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-sentences", type=int, default=8, help="ten-word dev sentences in the sample set")
    parser.add_argument("--n", type=int, default=10, help="words per sentence = input variables")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256, help="masked sentences per forward pass")
    parser.add_argument("--pool-split", default="val",
                        help="split the sentences come from (SST-2 dev has 29 ten-word sentences; use test for 50)")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="training sentences (default: the config's, 8,000)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        timer0 = EpochTimer()
        trainer, model, dm = build(args, Path(tmp) / "plain", [timer0])
        t0 = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        plain_fit = time.perf_counter() - t0

        cb = TimedInteractionCallback(n=args.n, num_samples=args.num_sentences, batch_size=args.batch_size,
                                      pool_split=args.pool_split,
                                      progress=False, figures=True)
        timer1 = EpochTimer()
        trainer, model, dm = build(args, Path(tmp) / "with", [timer1, cb])
        t0 = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        with_fit = time.perf_counter() - t0

    epoch = (timer0.seconds[0] + timer1.seconds[0]) / 2  # the same training work in both runs
    per_epoch = cb.seconds["epoch_end_evaluation"]
    masked = args.num_sentences * (1 << args.n)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"device: {args.device} ({device}); torch {torch.__version__}")
    print(f"train sentences: {len(dm.datasets['train'])}; sample set: {args.num_sentences} sentences, n={args.n} "
          f"-> {masked} masked sentences per evaluation")
    print(f"epoch (training + validation): {timer0.seconds[0]:.2f} s in the run without the callback "
          f"(fit {plain_fit:.2f} s), {timer1.seconds[0]:.2f} s in the run with it (fit {with_fit:.2f} s); "
          f"mean {epoch:.2f} s")
    for name in ("setup", "epoch0_evaluation", "epoch_end_evaluation", "train_end_jaccard"):
        print(f"callback {name}: {cb.seconds[name]:.2f} s")
    print(f"evaluation throughput: {masked / per_epoch:.0f} masked sentences/s")
    print(f"callback_share_of_epoch={per_epoch / epoch:.4f}")


if __name__ == "__main__":
    main()
