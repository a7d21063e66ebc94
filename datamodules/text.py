"""Text data modules: SST-2 (GLUE TSV) and a tiny generated sentiment set for tests.

Batches are ``(inputs, labels)`` with ``inputs`` a dict of Hugging Face tensors
(``input_ids[batch, token]``, ``attention_mask[batch, token]``, maybe
``token_type_ids``), padded to the longest sentence of the batch. The
tokenizer is the backbone's (:func:`harsanyi_lightning.lightning_modules.load_tokenizer`).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch.utils.data import Dataset

from harsanyi_lightning.interactions.errors import ConfigError, DataError
from harsanyi_lightning.interactions.sample_set import TextPool

from .base import HarsanyiDataModule, announce_data_dir, data_dir_fix, default_data_dir, download_missing
from .samplers import LengthGroupedSampler

if TYPE_CHECKING:
    from torch import Tensor
    from torch.utils.data import Sampler

__all__ = [
    "FILLER",
    "NEGATIVE",
    "POSITIVE",
    "SST2_URL",
    "SST2DataModule",
    "SentenceDataset",
    "TextCollator",
    "TextDataModule",
    "TinyTextDataModule",
    "read_glue_tsv",
    "tiny_sentences",
]

SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


class SentenceDataset(Dataset):
    """``(sentence, label)`` pairs; ``targets`` holds the labels."""

    def __init__(self, sentences: Sequence[str], labels: Sequence[int]):
        self.sentences = list(sentences)
        self.targets = [int(x) for x in labels]

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.sentences[i], self.targets[i]


def read_glue_tsv(path: str | Path, num_classes: int = 2) -> tuple[list[str], list[int]]:
    """Read a GLUE-format TSV (header with columns ``sentence`` and ``label``); errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8") from None
    if not lines:
        raise DataError(f"{path} is empty; expected a header line 'sentence<TAB>label' and one sample per line")
    header = lines[0].split("\t")
    if "sentence" not in header or "label" not in header:
        raise DataError(f"{path}:1: header {lines[0]!r} lacks the tab-separated columns 'sentence' and 'label'")
    si, li = header.index("sentence"), header.index("label")
    sentences, labels = [], []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(
                f"{path}:{lineno}: expected {len(header)} tab-separated fields {header}, got {len(fields)}: {line[:80]!r}"
            )
        try:
            label = int(fields[li])
        except ValueError:
            raise DataError(f"{path}:{lineno}: label {fields[li]!r} is not an integer") from None
        if not 0 <= label < num_classes:
            raise DataError(f"{path}:{lineno}: label {label} is outside 0..{num_classes - 1}")
        sentences.append(fields[si])
        labels.append(label)
    if not sentences:
        raise DataError(f"{path} has a header but no samples (empty split)")
    return sentences, labels


class TextCollator:
    """``[(sentence, label)] -> (inputs dict, labels[batch])``, padded to the longest sentence (picklable)."""

    def __init__(self, tokenizer: Any, max_length: int):
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, batch: list[tuple[str, int]]) -> tuple[dict[str, Tensor], Tensor]:
        sentences = [s for s, _ in batch]
        enc = self.tokenizer(sentences, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return dict(enc), torch.tensor([y for _, y in batch], dtype=torch.long)


class TextDataModule(HarsanyiDataModule):
    """Base of the text data modules: tokenises each batch with the backbone's tokenizer.

    ``max_length`` truncates (in tokens); batches are padded to their longest sentence. With
    ``group_by_length`` (default) training batches hold sentences of similar length
    (:class:`~harsanyi_lightning.datamodules.samplers.LengthGroupedSampler` over chunks of ``length_group_batches``
    batches), so they pad less and an epoch costs less; the order still depends only on the
    run's seed and the epoch. ``group_by_length=False``: a plain seeded shuffle.

    Args:
        max_length: the longest sentence in tokens (special tokens included); longer ones are truncated.
        group_by_length: training batches of sentences of similar length (the run's seed and the epoch still
            decide the order); ``False``: a plain seeded shuffle.
        length_group_batches: how many batches each sorted chunk of the epoch's permutation holds.
    """

    def __init__(self, backbone: str | None = None, batch_size: int = 32, eval_batch_size: int | None = None,
                 num_workers: int = 0, max_length: int = 128, group_by_length: bool = True,
                 length_group_batches: int = 50):
        super().__init__(backbone, batch_size, eval_batch_size, num_workers)
        if not isinstance(length_group_batches, int) or length_group_batches < 1:
            raise ConfigError(f"length_group_batches={length_group_batches!r} must be a positive integer number of batches")
        self.max_length = max_length
        self.group_by_length = group_by_length
        self.length_group_batches = length_group_batches
        self.tokenizer: Any = None
        self._lengths: dict[int, list[int]] = {}

    def token_lengths(self, dataset: SentenceDataset) -> list[int]:
        """``lengths[sentence]``: tokens per sentence after truncation, special tokens included (cached)."""
        key = id(dataset)
        if key not in self._lengths:
            enc = self.load_tokenizer()(list(dataset.sentences), truncation=True, max_length=self.max_length)
            self._lengths[key] = [len(ids) for ids in enc["input_ids"]]
        return self._lengths[key]

    def train_sampler(self, dataset: Dataset) -> Sampler | None:
        """Length-grouped batches (``group_by_length``), seeded by the run's seed; else the base order."""
        if not self.group_by_length:
            return super().train_sampler(dataset)
        seed = self.run_seed()
        return LengthGroupedSampler(
            self.token_lengths(dataset), self.batch_size,
            seed=seed if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item()),
            epoch_fn=self._trainer_epoch, group_batches=self.length_group_batches, reseed_global=seed is not None,
        )

    @property
    def num_classes(self) -> int:
        return 2

    def load_tokenizer(self):
        """The backbone's tokenizer (loaded once)."""
        if self.tokenizer is None:
            from harsanyi_lightning.lightning_modules.backbone_factory import load_tokenizer

            name = self.resolve_backbone_name()
            if name is None:
                raise ConfigError(
                    f"{type(self).__name__} needs backbone=<the model's backbone> to pick its tokenizer "
                    "(the CLI links it from model.init_args.backbone; Trainer.fit passes the model's)"
                )
            self.tokenizer = load_tokenizer(name)
        return self.tokenizer

    @property
    def collate_fn(self) -> "TextCollator":
        return TextCollator(self.load_tokenizer(), self.max_length)

    def splits(self, stage: str | None) -> dict[str, SentenceDataset]:  # pragma: no cover - overridden
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        self.load_tokenizer()
        for split, ds in self.splits(stage).items():
            self.datasets.setdefault(split, ds)

    def annotation_pool(self, split: str = "val") -> TextPool:
        """Held-out sentences with labels and the tokenizer (words are whitespace tokens,
        docs/method.md#the-annotated-sample-set)."""
        ds = self._dataset(split)
        return TextPool(list(ds.sentences), list(ds.targets), self.load_tokenizer(), name=f"{self.name}/{split}")

    name = "text"


class SST2DataModule(TextDataModule):
    """SST-2 from GLUE-format TSV files in ``data_dir``: ``train.tsv`` (train), ``dev.tsv`` (val),
    ``test_labeled.tsv`` (test; GLUE's own ``test.tsv`` has no labels).

    Args:
        data_dir: the folder holding ``train.tsv``, ``dev.tsv`` and ``test_labeled.tsv``; default
            ``$HARSANYI_DATA/sst2`` when ``HARSANYI_DATA`` is set, else ``../shared/data/sst2`` beside the
            repository when it exists, else ``~/.cache/harsanyi_lightning/data/sst2``
            (:func:`~harsanyi_lightning.datamodules.default_data_dir`). Setup prints the folder used, once.
        train_subset: train on this many sentences drawn with ``subset_seed`` (``None``: all 67,349).
        subset_seed: the seed of the ``train_subset`` draw.
        download: fetch the official GLUE archive when ``train.tsv``/``dev.tsv`` are missing.
    """

    name = "sst2"
    FILES = {"train": "train.tsv", "val": "dev.tsv", "test": "test_labeled.tsv"}

    def __init__(self, data_dir: str | None = None, backbone: str | None = None, train_subset: int | None = None,
                 subset_seed: int = 0, batch_size: int = 32, eval_batch_size: int | None = None,
                 num_workers: int = 0, max_length: int = 128, download: bool = True, group_by_length: bool = True,
                 length_group_batches: int = 50):
        super().__init__(backbone, batch_size, eval_batch_size, num_workers, max_length, group_by_length,
                         length_group_batches)
        if train_subset is not None and train_subset < 1:
            raise ConfigError(f"train_subset={train_subset} must be a positive number of sentences or null (all)")
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir("sst2")
        self.train_subset = train_subset
        self.subset_seed = subset_seed
        self.download = download

    def _missing(self, splits: Sequence[str] = ("train", "val")) -> list[str]:
        return [self.FILES[s] for s in splits if not (self.data_dir / self.FILES[s]).is_file()]

    def prepare_data(self) -> None:
        missing = self._missing()
        if not missing:
            return
        download_missing(self._missing_message(missing), self.download, SST2_URL, self.data_dir, "SST-2")
        inner = self.data_dir / "SST-2"
        for f in ("train.tsv", "dev.tsv"):
            if (inner / f).is_file() and not (self.data_dir / f).exists():
                (inner / f).rename(self.data_dir / f)

    def _missing_message(self, missing: Sequence[str]) -> str:
        return (
            f"SST-2 not found: {', '.join(missing)} missing in {self.data_dir} (GLUE format: header "
            "'sentence<TAB>label', one sentence per line; test uses test_labeled.tsv since GLUE's test.tsv has no "
            "labels). " + data_dir_fix(self.name, "folder with train.tsv and dev.tsv")
        )

    def splits(self, stage: str | None) -> dict[str, SentenceDataset]:
        announce_data_dir("SST-2", self.data_dir)
        wanted = ("test",) if stage == "test" else ("train", "val") if stage in ("fit", None) else ("val",)
        wanted = tuple(s for s in wanted if s not in self.datasets)
        missing = self._missing(wanted)
        if missing:
            raise DataError(self._missing_message(missing))
        out = {}
        for split in wanted:
            sentences, labels = read_glue_tsv(self.data_dir / self.FILES[split], self.num_classes)
            if split == "train" and self.train_subset is not None and self.train_subset < len(sentences):
                idx = sorted(random.Random(self.subset_seed).sample(range(len(sentences)), self.train_subset))
                sentences, labels = [sentences[i] for i in idx], [labels[i] for i in idx]
            out[split] = SentenceDataset(sentences, labels)
        return out


POSITIVE = ["good", "great", "fine", "nice", "happy", "best", "love", "fun", "superb", "warm"]
NEGATIVE = ["bad", "awful", "poor", "sad", "worst", "hate", "dull", "boring", "weak", "cold"]
FILLER = ["the", "movie", "film", "was", "and", "a", "story", "plot", "actors", "very", "really", "it", "this", "of"]


def tiny_sentences(count: int, seed: int, words: int = 10) -> tuple[list[str], list[int]]:
    """``count`` generated sentences of exactly ``words`` words; label 1 when they hold more
    positive than negative words (3 of the class's words, 0-1 of the other's, fillers)."""
    rng = random.Random(seed)
    sentences, labels = [], []
    for i in range(count):
        label = i % 2
        own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        chosen = rng.sample(own, 3) + rng.sample(other, rng.randint(0, 1))
        chosen += [rng.choice(FILLER) for _ in range(words - len(chosen))]
        rng.shuffle(chosen)
        sentences.append(" ".join(chosen))
        labels.append(label)
    return sentences, labels


class TinyTextDataModule(TextDataModule):
    """Tests only: a few dozen generated sentences of ``words`` words (default 10), 2 classes
    (sentiment words + fillers). Fewer words make a cheaper sample set (``n = words``: ``2**n`` masks).

    Args:
        num_train: generated training sentences.
        num_val: generated validation sentences (the sample set is drawn from them).
        num_test: generated test sentences.
        seed: the seed of the generated sentences.
        words: words per sentence (4 to 64).
    """

    name = "tiny-text"

    def __init__(self, backbone: str | None = None, num_train: int = 48, num_val: int = 24, num_test: int = 24,
                 seed: int = 0, batch_size: int = 16, eval_batch_size: int | None = None, num_workers: int = 0,
                 max_length: int = 32, words: int = 10, group_by_length: bool = True, length_group_batches: int = 50):
        super().__init__(backbone, batch_size, eval_batch_size, num_workers, max_length, group_by_length,
                         length_group_batches)
        if not 4 <= words <= 64:
            raise ConfigError(f"words={words} must be between 4 and 64 (3 sentiment words + at least one other)")
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.seed = seed
        self.words = words

    def splits(self, stage: str | None) -> dict[str, SentenceDataset]:
        return {
            split: SentenceDataset(*tiny_sentences(n, self.seed * 1000 + i, self.words))
            for i, (split, n) in enumerate(self.sizes.items())
        }
