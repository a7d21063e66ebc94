"""Harsanyi interactions in a plain PyTorch training loop: no Lightning, no Trainer.

An ordinary loop (model, optimizer, data loader, ``loss.backward()``) with five lines added for the
:class:`~harsanyi_lightning.callbacks.InteractionRecorder`: build it, ``start`` it, tell it after each optimizer
step and each epoch where training is, ``finish`` it. It writes the same artifacts as the Lightning callback
(``epoch_XXX.pt``, ``step_XXXXXXX.pt``, ``jaccard.json``, ``final.json``) and logs the same scalars and figures to a
TensorBoard ``SummaryWriter``. The task is synthetic tabular data (6 features, 3 classes, seeded, no download);
each feature is one input variable. With the package installed (``pip install -e ".[dev]"``)::

    python examples/plain_pytorch_loop/main.py --out runs/plain
    tensorboard --logdir runs/plain
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

from harsanyi_lightning.callbacks import InteractionRecorder, PlainLoop, TrainingPosition
from harsanyi_lightning.interactions import build_feature_sample_set


def tabular(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x[count, 6]`` and ``labels[count]`` (3 classes): the class depends on an interaction of features 0 and 1
    and on feature 2."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 6, generator=g)
    return x, (x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 1).long()


def main(out: Path, epochs: int = 3) -> None:
    torch.manual_seed(0)
    x, y = tabular(512, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    writer = SummaryWriter(str(out))

    held_out, held_labels = tabular(8, seed=1)
    samples = build_feature_sample_set(held_out, held_labels, baseline=x.mean(0))  # 8 samples, 6 variables
    recorder = InteractionRecorder(sample_set=samples, output_dir=str(out / "interactions"), at_steps=[4, 8, 16])
    recorder.start(model, PlainLoop(writer=writer))  # evaluates step 0
    step = 0
    for epoch in range(epochs):
        for i, (inputs, labels) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            writer.add_scalar("train/loss", loss.item(), step)
            recorder.after_step(model, TrainingPosition(step, epoch + (i + 1) / len(loader), max_epochs=epochs))
        recorder.after_epoch(model, TrainingPosition(step, float(epoch + 1), max_epochs=epochs))
    recorder.finish(model)  # the final evaluation (when not made yet), jaccard.json, final.json
    recorder.close()
    writer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/plain"))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    main(args.out, args.epochs)
