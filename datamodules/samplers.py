"""Training orders that depend only on ``(seed, epoch)``, so a resumed run repeats the uninterrupted one.

- :class:`EpochSeededSampler`: a seeded permutation per epoch (any data set).
- :class:`LengthGroupedSampler`: the same permutation, cut into chunks of ``group_batches``
  batches, each chunk sorted by length and cut into batches, and the batches shuffled: batches
  of similar-length sentences pad less, so a text epoch costs less
  (docs/method.md#precision-and-budget), while every sample is still seen exactly once per epoch
  in a seeded random order.
- :class:`WorkerSeededDataset`: with DataLoader worker processes, each sample's randomness
  (augmentation) drawn from ``(seed, epoch, sample)`` only. A worker's RNG is seeded once, when the
  worker starts, from the main process's RNG, and persistent workers carry it across epochs, so
  without this a resumed run (whose workers start at a later epoch, from another RNG state) would
  augment differently from the uninterrupted one.
"""
from __future__ import annotations

import multiprocessing
import random
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, get_worker_info

from harsanyi_lightning.interactions.errors import ConfigError

__all__ = ["EpochSeededSampler", "LengthGroupedSampler", "WorkerSeededDataset", "epoch_seed", "sample_seed"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of training epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 12_345) % (2**32)


class EpochSeededSampler(Sampler[int]):
    """Shuffles ``range(len(dataset))`` with a permutation that depends only on ``(seed, epoch)``.

    A resumed run must repeat the uninterrupted one exactly, but a plain ``shuffle=True`` loader draws
    its order from the global RNG, whose state depends on everything the process did before (the
    epochs it trained, evaluations, a resume). Here each epoch's order is ``randperm`` of a generator
    seeded with :func:`epoch_seed`, and when the iterator starts the global ``torch``/``numpy``/``random``
    RNGs are reseeded from the same pair, so augmentation and dropout of the epoch do not depend on
    history either. ``epoch`` is the trainer's ``current_epoch`` (set by ``epoch_fn``), else the
    value given to :meth:`set_epoch`, else the number of epochs iterated so far.
    """

    def __init__(self, size: int, seed: int, epoch_fn: Callable[[], Any] | None = None, reseed_global: bool = True):
        self.size, self.seed, self.epoch_fn = int(size), int(seed), epoch_fn
        self.reseed_global = reseed_global
        self._epoch: int | None = None
        self._iterated = 0
        self._shared_epoch: Any = None

    def shared_epoch(self) -> Any:
        """The epoch being iterated, in shared memory (a ``multiprocessing`` raw value that DataLoader worker
        processes inherit): set each time an epoch's order is drawn. Created on first use."""
        if self._shared_epoch is None:
            self._shared_epoch = multiprocessing.RawValue("q", -1)
        return self._shared_epoch

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)

    def current_epoch(self) -> int:
        epoch = self.epoch_fn() if self.epoch_fn is not None else None
        if epoch is None:
            epoch = self._epoch if self._epoch is not None else self._iterated
        return int(epoch)

    def __len__(self) -> int:
        return self.size

    def _generator(self, epoch: int) -> torch.Generator:
        """A generator seeded with :func:`epoch_seed` of ``(seed, epoch)``."""
        g = torch.Generator()
        g.manual_seed(epoch_seed(self.seed, epoch))
        return g

    def _start_epoch(self, epoch: int) -> None:
        """Count the epoch, publish it to the workers and, with ``reseed_global``, reseed ``random``,
        ``numpy`` and ``torch`` from it."""
        self._iterated += 1
        if self._shared_epoch is not None:
            self._shared_epoch.value = int(epoch)
        if self.reseed_global:
            s = epoch_seed(self.seed, epoch)
            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)

    def __iter__(self) -> Iterator[int]:
        epoch = self.current_epoch()
        self._start_epoch(epoch)
        return iter(torch.randperm(self.size, generator=self._generator(epoch)).tolist())


class LengthGroupedSampler(EpochSeededSampler):
    """Indices in batches of similar length: ``batch_size`` consecutive indices form one batch.

    Per epoch: the :class:`EpochSeededSampler` permutation of ``(seed, epoch)``, cut into chunks of
    ``group_batches * batch_size`` indices; each chunk is sorted by ``lengths`` (longest first, ties
    in permutation order) and cut into batches of ``batch_size``; the batches are shuffled with the
    same generator, and the one incomplete batch (if ``len % batch_size``) goes last, so a
    ``DataLoader(batch_size=batch_size, sampler=this)`` forms exactly these batches. Every index
    appears once per epoch. ``reseed_global`` reseeds the global RNGs at each epoch's start, as
    :class:`EpochSeededSampler` does in seeded runs.

    Args:
        lengths: ``lengths[sample]``, e.g. token counts of the sentences.
        batch_size: the training loader's batch size.
        seed: the run's seed (an unseeded run passes a random one and ``reseed_global=False``).
        epoch_fn: returns the trainer's current epoch (see :class:`EpochSeededSampler`).
        group_batches: batches per sorted chunk (larger: more uniform lengths, less randomness).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, epoch_fn: Callable[[], Any] | None = None,
                 group_batches: int = 50, reseed_global: bool = True):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r} must be a positive integer")
        if not isinstance(group_batches, int) or group_batches < 1:
            raise ConfigError(f"length_group_batches={group_batches!r} must be a positive integer number of batches")
        super().__init__(len(lengths), seed, epoch_fn, reseed_global=reseed_global)
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.batch_size, self.group_batches = batch_size, group_batches

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch`` in training order (the incomplete one, if any, last)."""
        g = self._generator(epoch)
        order = torch.randperm(self.size, generator=g)
        chunk = self.batch_size * self.group_batches
        full, tail = [], []
        for start in range(0, self.size, chunk):
            idx = order[start:start + chunk]
            idx = idx[torch.sort(self.lengths[idx], descending=True, stable=True).indices]
            for b in range(0, len(idx), self.batch_size):
                batch = idx[b:b + self.batch_size].tolist()
                (full if len(batch) == self.batch_size else tail).append(batch)
        shuffled = [full[i] for i in torch.randperm(len(full), generator=g).tolist()]
        return shuffled + tail

    def __iter__(self) -> Iterator[int]:
        epoch = self.current_epoch()
        self._start_epoch(epoch)
        return iter([i for batch in self.batches(epoch) for i in batch])


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index`` in training epoch ``epoch`` of a run seeded with ``seed``."""
    return (epoch_seed(seed, epoch) * 1_000_033 + int(index) * 104_729 + 7) % (2**32)


class WorkerSeededDataset(Dataset):
    """``dataset`` whose items, when a DataLoader worker process loads them, draw their randomness from
    ``random``, ``numpy`` and ``torch`` reseeded with :func:`sample_seed` of ``(seed, epoch, index)``: the
    same augmentation for the same sample in the same epoch, whichever worker loads it and whatever the
    workers did before (a resumed run equals the uninterrupted one). ``epoch`` is the sampler's
    :meth:`EpochSeededSampler.shared_epoch`. In the main process (``num_workers=0``) items are loaded
    unchanged: the sampler's reseed at the epoch's start already makes their randomness depend on
    ``(seed, epoch)`` only, and reseeding per sample there would also reset the model's dropout."""

    def __init__(self, dataset: Dataset, seed: int, epoch: Any) -> None:
        self.dataset, self.seed, self.epoch = dataset, int(seed), epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        if get_worker_info() is not None:
            s = sample_seed(self.seed, self.epoch.value, index)
            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)
        return self.dataset[index]
