"""The InteractionCallback's evaluation sharded over 2 CPU processes vs 1 process (docs/performance.md).

The same evaluation (the tiny BERT of ``backbone: tiny-bert`` on generated ``--words``-word sentences,
``--samples`` sentences, n = ``--words``: ``samples x 2^n`` masked sentences, strict fp32) runs inside a
Lightning fit twice: on one process, and on two CPU processes (``strategy="ddp"``, gloo), where each rank
evaluates its share of the samples and the values are gathered (docs/callback.md). Each process uses
``--threads`` torch threads (1: the two processes use two cores, the one process one core). The time is
that of the callback's estimate: its recorder's estimator's ``estimate`` (``ExactEstimator.estimate``: the
values of every sample on every rank, the gather included, then the transform, which is the same small cost
on both), on rank zero, the fastest of the fit's evaluations (before training and after each of ``--epochs``). The
fits run as subprocesses of this script, so Lightning starts the ranks the normal way. Last line:
``eval_sharding_speedup=<time on 1 process / time on 2>``.

    python benchmarks/eval_sharding_speedup.py               # n = 10, 4 sentences, 2 CPU processes vs 1
    python benchmarks/eval_sharding_speedup.py --words 12 --samples 4

Needs the package installed (``pip install -e ".[dev]"``); run from the repository root.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fit(out: Path, devices: int, words: int, samples: int, epochs: int) -> None:
    """One fit with an InteractionCallback whose estimator is timed; rank zero writes its evaluation times to
    ``out/times.json``."""
    import pytorch_lightning as pl

    from harsanyi_lightning.callbacks import InteractionCallback
    from harsanyi_lightning.datamodules import TinyTextDataModule
    from harsanyi_lightning.lightning_modules import FinetuneClassifier

    pl.seed_everything(0, verbose=False)
    callback = InteractionCallback(n=words, num_samples=samples, batch_size=1024, figures=False,
                                   progress=False, output_dir=str(out / "interactions"))
    seconds: list[float] = []
    estimate = callback.recorder.estimator.estimate  # the instance's method, wrapped: what the recorder calls

    def timed_estimate(*args, **kwargs):
        trainer.strategy.barrier()  # every rank starts together
        t0 = time.perf_counter()
        result = estimate(*args, **kwargs)
        seconds.append(time.perf_counter() - t0)
        return result

    callback.recorder.estimator.estimate = timed_estimate
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                         max_epochs=epochs, limit_train_batches=1, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback], default_root_dir=str(out))
    model = FinetuneClassifier(backbone="tiny-bert", num_classes=2)
    data = TinyTextDataModule(backbone="tiny-bert", num_train=32, num_val=16, words=words)
    trainer.fit(model, datamodule=data)
    if trainer.is_global_zero:
        (out / "times.json").write_text(json.dumps({"devices": devices, "seconds": seconds}))


def measure(devices: int, args: argparse.Namespace, root: Path) -> float:
    out = root / f"devices_{devices}"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": str(args.threads),
           "MKL_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--fit", str(out), "--devices", str(devices),
           "--words", str(args.words), "--samples", str(args.samples), "--epochs", str(args.epochs)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the fit on {devices} process(es) failed:\n{proc.stderr[-3000:]}")
    seconds = json.loads((out / "times.json").read_text())["seconds"]
    print(f"{devices} process(es): evaluations {', '.join(f'{s:.2f}' for s in seconds)} s", flush=True)
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=10, help="words per sentence = n (2^n masked sentences each)")
    parser.add_argument("--samples", type=int, default=4, help="sentences evaluated")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (one evaluation before and after each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--fit", type=Path, help=argparse.SUPPRESS)  # internal: run one fit into this folder
    parser.add_argument("--devices", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit is not None:
        import torch

        torch.set_num_threads(args.threads)
        fit(args.fit, args.devices, args.words, args.samples, args.epochs)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; n = {args.words}, "
          f"{args.samples} sentences ({args.samples * 2 ** args.words} masked sentences), "
          f"{args.threads} thread(s) per process", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        one = measure(1, args, Path(tmp))
        two = measure(2, args, Path(tmp))
    print(f"fastest evaluation: 1 process {one:.3f} s, 2 processes {two:.3f} s")
    print(f"eval_sharding_speedup={one / two:.3f}")


if __name__ == "__main__":
    main()
