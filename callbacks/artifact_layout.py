"""The on-disk layout of an interactions folder: file names, their parsing and JSON writing (docs/callback.md).

The one owner of these names for the callback and the study (:mod:`harsanyi_lightning.study.layout`
imports them). An interactions folder (``<log_dir>/interactions`` by default)::

    annotation.pt        the annotated sample set (docs/method.md#the-annotated-sample-set), hash-checked
    epoch_000.pt ...     one evaluation at an epoch end each: values[sample, mask], dividends[sample, mask], ...
    step_0000025.pt ...  one evaluation inside an epoch each, named by its global step (same content)
    final.json           {"epoch": E, "step": S, "file": "epoch_E.pt", "sha256": ...}: the run's final evaluation
    jaccard.json         {"steps": [...], "epochs": [...], "epoch_fractions": [...], "jaccard": [...],
                          "final_epoch": E, "final_step": S}, every evaluation in global-step order

Every file is written atomically; ``epoch_XXX.pt`` files (at least three digits) and ``step_XXXXXXX.pt`` files
(the global step, at least seven digits) are artifacts of kind ``"interactions"`` (see
:mod:`harsanyi_lightning.interactions.artifacts`). :func:`evaluation_files` lists both by global step
(docs/callback.md#evaluations-inside-an-epoch).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes
from harsanyi_lightning.interactions.errors import AnnotationError, DataError

#: the artifact kind of an epoch file
KIND = "interactions"
#: an epoch file's name: ``epoch_`` and the epoch with at least three digits
EPOCH_FILE = re.compile(r"^epoch_(\d{3,})\.pt$")
#: an in-epoch evaluation's name: ``step_`` and the global step with at least seven digits
STEP_FILE = re.compile(r"^step_(\d{7,})\.pt$")
ANNOTATION_FILE = "annotation.pt"
FINAL_POINTER = "final.json"
JACCARD_FILE = "jaccard.json"


def epoch_path(output_dir: str | os.PathLike, epoch: int) -> Path:
    """``<output_dir>/epoch_{epoch:03d}.pt``."""
    return Path(output_dir) / f"epoch_{epoch:03d}.pt"


def epoch_of(name: str) -> int | None:
    """The epoch of an epoch file's name (``epoch_007.pt`` -> 7), ``None`` for any other name."""
    match = EPOCH_FILE.match(name)
    return int(match.group(1)) if match else None


def epoch_files(folder: str | os.PathLike) -> dict[int, Path]:
    """``{epoch: path}`` of the epoch files in ``folder``, ascending (empty when it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        epoch = epoch_of(path.name)
        if epoch is not None:
            found[epoch] = path
    return dict(sorted(found.items()))


def step_path(output_dir: str | os.PathLike, step: int) -> Path:
    """``<output_dir>/step_{step:07d}.pt``: the evaluation inside an epoch at global step ``step``."""
    return Path(output_dir) / f"step_{step:07d}.pt"


def step_of(name: str) -> int | None:
    """The global step of a step file's name (``step_0000025.pt`` -> 25), ``None`` for any other name."""
    match = STEP_FILE.match(name)
    return int(match.group(1)) if match else None


def artifact_global_step(path: str | os.PathLike) -> int:
    """The ``global_step`` recorded in an evaluation artifact, read without loading its tensors (memory-mapped,
    no hash check: :func:`~harsanyi_lightning.interactions.artifacts.load_artifact` checks); :class:`DataError`
    naming the file when it cannot be read or records none."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(blob["content"]["global_step"])
    except Exception as err:  # truncated, garbage, another kind of file
        raise DataError(f"{path} is not a readable interactions artifact with a global_step ({type(err).__name__}); "
                        "delete it and rerun the regime that writes it") from None


def evaluation_files(folder: str | os.PathLike) -> dict[int, Path]:
    """``{global step: path}`` of every evaluation in ``folder`` (``epoch_XXX.pt`` and ``step_XXXXXXX.pt``),
    ascending by global step; empty when ``folder`` does not exist. A step file's step is its name; an epoch
    file's is the ``global_step`` it records (:func:`artifact_global_step`). One evaluation per global step:
    should an epoch file and a step file claim the same step, the epoch file is listed."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        step = step_of(path.name)
        if step is not None:
            found.setdefault(step, path)
    for path in epoch_files(folder).values():
        found[artifact_global_step(path)] = path
    return dict(sorted(found.items()))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON with sorted keys, atomically (temporary file + rename)."""
    return atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def read_json(path: str | os.PathLike) -> dict:
    """A JSON file's content; :class:`DataError` naming the file when it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON ({err}); delete it and rerun the regime that writes it") from None


def resolve_interactions_file(path: str | os.PathLike) -> Path:
    """An epoch artifact file as given, or the final epoch of an interactions folder:
    the file named by its ``final.json`` pointer, else its highest ``epoch_XXX.pt``."""
    path = Path(path)
    if path.is_dir():
        pointer = path / FINAL_POINTER
        if pointer.is_file():
            try:
                return path / json.loads(pointer.read_text())["file"]
            except (ValueError, KeyError, TypeError):
                raise AnnotationError(
                    f"{pointer} is corrupt; delete it (the highest epoch_XXX.pt is then used)") from None
        epochs = epoch_files(path)
        if not epochs:
            raise AnnotationError(
                f"interactions folder {path} holds no epoch_XXX.pt file; point the reference at a finished run's "
                "interactions folder or at one of its epoch files"
            )
        return epochs[max(epochs)]
    if not path.exists():
        raise AnnotationError(
            f"interactions reference {path} does not exist; run the reference regime first (e.g. the probe run) "
            "and pass its interactions folder or an epoch_XXX.pt file"
        )
    return path


def reference_exists(path: str | os.PathLike) -> bool:
    """Whether a reference path names something to load: a file, or a folder with ``final.json``
    or at least one ``epoch_XXX.pt``."""
    path = Path(path)
    if path.is_dir():
        return (path / FINAL_POINTER).is_file() or bool(epoch_files(path))
    return path.exists()


__all__ = [
    "ANNOTATION_FILE",
    "EPOCH_FILE",
    "FINAL_POINTER",
    "JACCARD_FILE",
    "KIND",
    "STEP_FILE",
    "artifact_global_step",
    "epoch_files",
    "epoch_of",
    "epoch_path",
    "evaluation_files",
    "read_json",
    "reference_exists",
    "resolve_interactions_file",
    "step_of",
    "step_path",
    "write_json",
]
