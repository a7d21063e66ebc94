"""Where a study keeps its files, and the checks that a study folder is complete.

A study folder (written by :mod:`harsanyi_lightning.study.loop`)::

    <study_dir>/study.json                 manifest: stages, their configs, model and data names
    <study_dir>/annotation.pt              the ONE annotated sample set every stage is measured on
                                           (docs/method.md#the-annotated-sample-set)
    <study_dir>/<stage>/tb/                TensorBoard events of the stage (train/loss, val/loss, knowledge/*, ...)
    <study_dir>/<stage>/checkpoints/last.ckpt
    <study_dir>/<stage>/interactions/epoch_XXX.pt, jaccard.json
    <study_dir>/<stage>/summary.json       written last and atomically: the stage's completion marker
    <study_dir>/report/                    figures, report.md, report.json, tb/

Stages run in the order of :data:`STAGES`: probe (``v_pretrain``), finetune
(``v_finetune``), scratch (``v_random``) (docs/method.md#the-three-regimes). The names inside an
interactions folder, their parsing and the JSON writing are
:mod:`harsanyi_lightning.callbacks.artifact_layout`'s, the one owner of the on-disk layout.
"""
from __future__ import annotations

import os
from pathlib import Path

from harsanyi_lightning.callbacks import artifact_layout
from harsanyi_lightning.callbacks.artifact_layout import KIND, read_json, write_json
from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, DataError

STAGES = ("probe", "finetune", "scratch")
MANIFEST = "study.json"
#: the study's one annotated sample set, named as in every interactions folder
ANNOTATION = artifact_layout.ANNOTATION_FILE
SUMMARY = "summary.json"


def stage_dir(study_dir: str | os.PathLike, stage: str) -> Path:
    """``<study_dir>/<stage>``: everything one stage writes."""
    return Path(study_dir) / stage


def tb_dir(study_dir: str | os.PathLike, stage: str) -> Path:
    """The stage's TensorBoard folder."""
    return stage_dir(study_dir, stage) / "tb"


def interactions_dir(study_dir: str | os.PathLike, stage: str) -> Path:
    """The stage's interactions folder (see :mod:`harsanyi_lightning.callbacks.artifact_layout`)."""
    return stage_dir(study_dir, stage) / "interactions"


def checkpoint_path(study_dir: str | os.PathLike, stage: str) -> Path:
    """The stage's ``last.ckpt``."""
    return stage_dir(study_dir, stage) / "checkpoints" / "last.ckpt"


def summary_path(study_dir: str | os.PathLike, stage: str) -> Path:
    """The stage's ``summary.json``, its completion marker."""
    return stage_dir(study_dir, stage) / SUMMARY


def epoch_files(study_dir: str | os.PathLike, stage: str) -> dict[int, Path]:
    """``{epoch: path}`` of the stage's stored interaction artifacts ``epoch_XXX.pt``, ascending."""
    return artifact_layout.epoch_files(interactions_dir(study_dir, stage))


def evaluation_files(study_dir: str | os.PathLike, stage: str) -> dict[int, Path]:
    """``{global step: path}`` of every stored evaluation of the stage (epoch ends and inside epochs), ascending."""
    return artifact_layout.evaluation_files(interactions_dir(study_dir, stage))


def final_artifact(study_dir: str | os.PathLike, stage: str) -> Path:
    """The stage's final interaction artifact, as recorded in its ``summary.json``."""
    summary = read_json(summary_path(study_dir, stage))
    return stage_dir(study_dir, stage) / summary["final_artifact"]


def stage_problems(study_dir: str | os.PathLike, stage: str, annotation_hash: str | None = None) -> list[str]:
    """What is missing or invalid for ``stage`` to count as complete (empty list: complete).

    Complete means: ``summary.json`` exists, its final artifact exists, passes its
    hash check and carries the sha256 recorded in the summary, and (when given)
    was computed on the annotation with ``annotation_hash``."""
    spath = summary_path(study_dir, stage)
    if not spath.is_file():
        return [f"{spath} (the stage's completion marker) is missing"]
    try:
        summary = read_json(spath)
        art = stage_dir(study_dir, stage) / summary["final_artifact"]
        expected = summary["final_artifact_sha256"]
    except (DataError, KeyError, TypeError) as err:
        return [f"{spath} is unreadable or incomplete ({err})"]
    try:
        content, digest = load_artifact(art, KIND)
    except AnnotationError as err:
        return [str(err)]
    problems = []
    if digest != expected:
        problems.append(f"{art} has hash {digest[:12]}, but {spath} recorded {str(expected)[:12]}")
    if annotation_hash is not None and content.get("annotation_hash") != annotation_hash:
        problems.append(
            f"{art} was computed on annotation {str(content.get('annotation_hash'))[:12]}, "
            f"not on this study's {annotation_hash[:12]}"
        )
    return problems


def check_study(study_dir: str | os.PathLike) -> dict:
    """Check that ``study_dir`` holds a complete study; return its manifest.

    Raises :class:`DataError` listing every missing or invalid path: a folder
    that is not a study at all, or a study with a stage missing or incomplete."""
    study_dir = Path(study_dir)
    manifest_file, annotation_file = study_dir / MANIFEST, study_dir / ANNOTATION
    if not study_dir.is_dir():
        raise DataError(f"{study_dir} is not a study directory: the folder does not exist")
    if not manifest_file.is_file() and not annotation_file.is_file():
        raise DataError(
            f"{study_dir} is not a study directory: missing {manifest_file} and {annotation_file}. "
            "Create one with `python cli.py study --config <study.yaml>` (its study_dir setting names the folder)"
        )
    missing = [str(p) for p in (manifest_file, annotation_file) if not p.is_file()]
    manifest = read_json(manifest_file) if manifest_file.is_file() else {}
    annotation_hash = None
    if annotation_file.is_file():
        try:
            _, annotation_hash = load_artifact(annotation_file, "annotation")
        except AnnotationError as err:
            missing.append(str(err))
    for stage in STAGES:
        problems = stage_problems(study_dir, stage, annotation_hash)
        if problems:
            missing.append(f"stage {stage!r}: " + "; ".join(problems))
        elif not tb_dir(study_dir, stage).is_dir():
            missing.append(f"stage {stage!r}: {tb_dir(study_dir, stage)} (its TensorBoard logs) is missing")
    if missing:
        raise DataError(
            f"study {study_dir} is incomplete; missing or invalid:\n  - " + "\n  - ".join(missing)
            + "\nRerun `python cli.py study` with the same config to complete it"
        )
    manifest.setdefault("annotation_hash", annotation_hash)
    return manifest


__all__ = [
    "ANNOTATION",
    "MANIFEST",
    "STAGES",
    "SUMMARY",
    "check_study",
    "checkpoint_path",
    "epoch_files",
    "evaluation_files",
    "final_artifact",
    "interactions_dir",
    "read_json",
    "stage_dir",
    "stage_problems",
    "summary_path",
    "tb_dir",
    "write_json",
]
