"""The shared DataModule interface (docs/training.md#pointing-a-data-set-at-a-local-folder).

Every data module has ``num_classes``, train/val/test loaders yielding
``(inputs, labels)`` in the model's input form, and ``annotation_pool(split)``
returning the held-out samples an interaction sample set is drawn from
(:class:`harsanyi_lightning.interactions.sample_set.TextPool` / :class:`~harsanyi_lightning.interactions.sample_set.ImagePool`).

``backbone`` names the model the data is prepared for: text data sets take
its tokenizer, image data sets its normalisation. The CLI links it from
``model.init_args.backbone``; left ``None`` in Python, it is taken from the
trainer's LightningModule at ``setup``.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytorch_lightning as pl
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from torch.utils.data import DataLoader

from harsanyi_lightning.interactions.errors import ConfigError, DataError, OfflineError

from .samplers import EpochSeededSampler, WorkerSeededDataset

if TYPE_CHECKING:
    from torch.utils.data import Dataset, Sampler

    from harsanyi_lightning.interactions.sample_set import ImagePool, TextPool

__all__ = [
    "DATA_ENV",
    "DOWNLOAD_TIMEOUT_S",
    "REPO_ROOT",
    "SPLITS",
    "HarsanyiDataModule",
    "announce_data_dir",
    "checkout_root",
    "data_dir_fix",
    "default_data_dir",
    "download_and_extract",
    "download_missing",
]

SPLITS = ("train", "val", "test")
DOWNLOAD_TIMEOUT_S = 20.0


def checkout_root() -> Path | None:
    """The repository checkout this package runs from, or ``None`` when it is installed from a wheel.

    In a checkout (an editable install) this file is ``<repo>/datamodules/base.py`` and ``<repo>`` holds
    ``pyproject.toml``; installed, it is ``site-packages/harsanyi_lightning/datamodules/base.py`` and
    ``site-packages/harsanyi_lightning`` holds no ``pyproject.toml``."""
    root = Path(__file__).resolve().parents[1]
    try:
        return root if (root / "pyproject.toml").is_file() else None
    except OSError:  # an unreadable install folder: no checkout
        return None


#: the repository checkout (``None`` when installed from a wheel)
REPO_ROOT: Path | None = checkout_root()


#: the environment variable naming the folder that holds every data set (``$HARSANYI_DATA/<name>``)
DATA_ENV = "HARSANYI_DATA"


def default_data_dir(name: str) -> Path:
    """The folder of data set ``name`` when no ``data_dir`` is given (docs/training.md#pointing-a-data-set-at-a-local-folder):

    1. ``$HARSANYI_DATA/<name>`` when ``HARSANYI_DATA`` is set (an explicit setting always wins over a guess);
    2. else ``../shared/data/<name>`` beside the repository checkout, when that folder exists;
    3. else ``~/.cache/harsanyi_lightning/data/<name>``, where downloads go.

    Installed from a wheel there is no checkout, so step 2 never applies. An explicit ``data_dir`` of a data
    module comes before all three."""
    root = os.environ.get(DATA_ENV)
    if root:
        return Path(root).expanduser() / name
    if REPO_ROOT is not None:
        shared = REPO_ROOT.parent / "shared" / "data" / name
        try:
            if shared.is_dir():
                return shared
        except OSError:  # a folder beside the checkout that cannot be read: not the data folder
            pass
    return Path.home() / ".cache" / "harsanyi_lightning" / "data" / name


def data_dir_fix(name: str, holding: str) -> str:
    """How to point a data module at its files, a sentence in the words of ``cli.py fit`` (a study names its own
    ``--shared.data...`` flag instead: :func:`harsanyi_lightning.study.run.failures.in_study_terms`)."""
    return f"Pass --data.init_args.data_dir <{holding}>, or set {DATA_ENV} to a folder holding {name}/"


#: ``(what, folder)`` pairs this process has announced (:func:`announce_data_dir`)
_ANNOUNCED: set[tuple[str, str]] = set()


def announce_data_dir(what: str, folder: Path) -> None:
    """Print ``[data] <what> from <folder>`` once per process and folder, on global rank zero only: a study's
    regimes and a ``fit``'s setup calls each say where their data comes from, once."""
    key = (what, str(folder))
    if key in _ANNOUNCED or rank_zero_only.rank != 0:
        return
    _ANNOUNCED.add(key)
    print(f"[data] {what} from {folder}", flush=True)


def download_and_extract(url: str, folder: Path, what: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch ``url`` (zip or tar) into ``folder`` with a short timeout; :class:`OfflineError` when it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    os.close(fd)
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out)
        except OSError as err:  # URLError, HTTPError, socket.timeout
            raise OfflineError(
                f"{what}: the download of {url} into {folder} failed ({err}). Download it on a machine with "
                f"internet and unpack it into {folder}"
            ) from None
        if zipfile.is_zipfile(tmp):
            with zipfile.ZipFile(tmp) as zf:
                zf.extractall(folder)
        else:
            with tarfile.open(tmp) as tf:
                tf.extractall(folder, filter="data")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_missing(
    missing_message: str, download: bool, url: str, folder: Path, what: str, timeout: float = DOWNLOAD_TIMEOUT_S
) -> None:
    """Fetch a data set whose files are missing, or fail: :class:`DataError` with ``missing_message``
    when downloads are off, :class:`OfflineError` with it (and the URL) when the download fails."""
    if not download:
        raise DataError(missing_message)
    try:
        download_and_extract(url, folder, what, timeout)
    except OfflineError as err:
        raise OfflineError(f"{missing_message}; {err}") from None


class HarsanyiDataModule(pl.LightningDataModule):
    """Base of every data module: loaders over ``self.datasets[split]`` and the annotation pool.

    Args:
        backbone: the model the data is for (tokenizer / normalisation); linked from the model by the CLI.
        batch_size: training batch size.
        eval_batch_size: validation and test batch size (``None``: ``batch_size``).
        num_workers: DataLoader worker processes (persistent across epochs; in a seeded run each sample's
            augmentation in a worker depends on ``(seed, epoch, sample)`` only, see
            :class:`~harsanyi_lightning.datamodules.samplers.WorkerSeededDataset`).
    """

    def __init__(self, backbone: str | None = None, batch_size: int = 32, eval_batch_size: int | None = None,
                 num_workers: int = 0):
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be >= 1")
        self.backbone = backbone
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.datasets: dict[str, Dataset] = {}

    # -- interface ------------------------------------------------------------

    @property
    def num_classes(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def annotation_pool(self, split: str = "val") -> TextPool | ImagePool:  # pragma: no cover - overridden
        raise NotImplementedError

    collate_fn: Callable[[list], Any] | None = None

    # -- helpers --------------------------------------------------------------

    def resolve_backbone_name(self) -> str | None:
        """``backbone`` if given, else the attached trainer's model's ``backbone``."""
        if self.backbone is None:
            trainer = getattr(self, "trainer", None)
            module = getattr(trainer, "lightning_module", None) if trainer is not None else None
            self.backbone = getattr(module, "backbone", None)
        return self.backbone

    def _check_split(self, split: str) -> str:
        if split not in SPLITS:
            raise ConfigError(f"split={split!r} must be one of {SPLITS}")
        return split

    def _dataset(self, split: str) -> Dataset:
        self._check_split(split)
        if split not in self.datasets:
            self.setup("test" if split == "test" else "fit")
        return self.datasets[split]

    def _trainer_epoch(self) -> int | None:
        """The training epoch about to run: the fit loop's count of epochs whose batches were processed.

        Not ``trainer.current_epoch`` (epochs completed): Lightning creates a fit's first training iterator
        before it has finished restoring a resumed run's epoch counter, and a checkpoint written at an
        epoch's end (``on_train_epoch_end``) counts that epoch as processed but not yet completed. With
        DataLoader worker processes the iterator draws the epoch's order at once, so ``current_epoch``
        would give a resumed run the order of the epoch before (with ``num_workers=0`` the order is drawn
        lazily, at the first batch, when both counts agree)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return None
        progress = getattr(getattr(getattr(trainer, "fit_loop", None), "epoch_progress", None), "current", None)
        processed = getattr(progress, "processed", None)
        return int(processed) if isinstance(processed, int) else trainer.current_epoch

    @staticmethod
    def run_seed() -> int | None:
        """The seed of a seeded run (``seed_everything`` / LightningCLI's ``seed_everything``), else ``None``."""
        seed = os.environ.get("PL_GLOBAL_SEED")
        return None if seed is None else int(seed)

    def train_sampler(self, dataset: Dataset) -> Sampler | None:
        """The training order: in a seeded run an :class:`EpochSeededSampler` (a permutation of
        ``(seed, epoch)`` only, so a resumed run repeats the uninterrupted one); else ``None``
        (the DataLoader's own shuffle). Subclasses may group samples (text: by length)."""
        seed = self.run_seed()
        return None if seed is None else EpochSeededSampler(len(dataset), seed, self._trainer_epoch)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        ds = self._dataset(split)
        sampler = self.train_sampler(ds) if shuffle else None
        if self.num_workers > 0 and isinstance(sampler, EpochSeededSampler) and sampler.reseed_global:
            # a seeded run: the workers' augmentation depends on (seed, epoch, sample) only
            ds = WorkerSeededDataset(ds, sampler.seed, sampler.shared_epoch())
        return DataLoader(
            ds, batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            shuffle=shuffle and sampler is None, sampler=sampler, num_workers=self.num_workers,
            collate_fn=self.collate_fn, persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
