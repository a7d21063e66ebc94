"""Where a study keeps its files, and the checks that a study folder is complete.

A study folder (written by :mod:`harsanyi_lightning.study.run.loop`)::

    <study_dir>/study.json                 manifest: the regimes (kind, role), their configs, the seeds
    <study_dir>/annotation.pt              the ONE annotated sample set every regime is measured on
                                           (docs/method.md#the-annotated-sample-set)
    <study_dir>/<regime>/tb/               TensorBoard events of the regime (train/loss, val/loss, knowledge/*, ...)
    <study_dir>/<regime>/checkpoints/last.ckpt
    <study_dir>/<regime>/interactions/epoch_XXX.pt, jaccard.json
    <study_dir>/<regime>/summary.json      written last and atomically: the regime's completion marker
    <study_dir>/report/                    figures, report.md, report.json, tb/

A study with ``seeds: [0, 1, ...]`` (docs/study.md#seeds) keeps ``study.json``, ``annotation.pt`` and
``report/`` where they are and puts each seed's regime folders in a *run folder* of its own,
``<study_dir>/seed_<k>/<regime>/...`` (the manifest lists the seeds). :func:`run_dirs` names the run
folders of a study; every per-regime function below takes a run folder as its ``root`` (the study folder
itself for a single-seed study). The regimes come from the study config (:mod:`harsanyi_lightning.study.regimes`);
the manifest records them, and :func:`manifest_regimes` reads them back. The names inside an interactions folder,
their parsing and the JSON writing are :mod:`harsanyi_lightning.callbacks.artifact_layout`'s, the one owner of the
on-disk layout.
"""
from __future__ import annotations

import os
from pathlib import Path

from harsanyi_lightning.callbacks import artifact_layout
from harsanyi_lightning.callbacks.artifact_layout import KIND, read_json, write_json
from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError, DataError

from .regimes import StudyRegimes

MANIFEST = "study.json"
#: the study's one annotated sample set, named as in every interactions folder
ANNOTATION = artifact_layout.ANNOTATION_FILE
SUMMARY = "summary.json"
#: a seed's run folder inside a study folder: ``seed_<k>``
SEED_DIR = "seed_{}"


def seed_dir(study_dir: str | os.PathLike, seed: int) -> Path:
    """``<study_dir>/seed_<seed>``: the run folder of one seed of a study with ``seeds``."""
    return Path(study_dir) / SEED_DIR.format(int(seed))


#: the largest seed ``seed_everything`` takes (numpy's seeds are 32-bit)
MAX_SEED = 2**32 - 1
#: how to write a study config's ``seeds`` (docs/study.md#seeds), said by every error about it
SEEDS_FIX = ("give seeds as a non-empty list of unique integers from 0 to 4294967295, e.g. seeds: [0, 1, 2] "
             "(or leave it out for a single-seed study)")


def seeds_problem(seeds: object) -> str | None:
    """Why ``seeds`` is not a valid ``seeds`` setting (a non-empty list of unique integers from 0 to
    :data:`MAX_SEED`), ``None`` when it is valid. Both the study config's check and :func:`manifest_seeds`
    use this rule."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        return f"seeds={seeds!r} is not a non-empty list"
    bad = [k for k in seeds if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_SEED]
    if bad:
        return f"seeds={list(seeds)!r} holds {bad!r}, not integers from 0 to {MAX_SEED}"
    repeated = sorted({k for k in seeds if list(seeds).count(k) > 1})
    if repeated:
        return f"seeds={list(seeds)!r} repeats {repeated!r}"
    return None


def manifest_seeds(manifest: dict, where: str | os.PathLike = MANIFEST) -> list[int] | None:
    """The ``seeds`` a study manifest lists (``None``: a single-seed study, the key absent or null);
    :class:`DataError` naming ``where`` when they are not valid (:func:`seeds_problem`)."""
    seeds = manifest.get("seeds")
    if seeds is None:
        return None
    problem = seeds_problem(seeds)
    if problem is not None:
        raise DataError(f"{where}: {problem}; rerun `python cli.py study` with the study's config to rewrite it")
    return list(seeds)


def manifest_regimes(manifest: dict, where: str | os.PathLike = MANIFEST) -> StudyRegimes:
    """The regimes a study manifest records (``{name: {"kind", "role"}}`` in training order); :class:`DataError`
    naming ``where`` when there are none or they are not valid."""
    try:
        return StudyRegimes.of(manifest.get("regimes") or {})
    except (ConfigError, KeyError, TypeError) as err:
        raise DataError(f"{where}: its regimes are not valid ({err}); rerun `python cli.py study` with the study's "
                        "config to rewrite it") from None


def run_dirs(study_dir: str | os.PathLike) -> dict[int | None, Path]:
    """The run folders of a study, each holding one folder per regime: ``{None: study_dir}`` for a
    single-seed study (no manifest, or one without ``seeds``), ``{k: <study_dir>/seed_<k>}`` in the
    manifest's order when it lists ``seeds`` (docs/study.md#seeds). A manifest that does not parse raises
    :class:`DataError` naming it."""
    study_dir = Path(study_dir)
    manifest_file = study_dir / MANIFEST
    if not manifest_file.is_file():
        return {None: study_dir}
    seeds = manifest_seeds(read_json(manifest_file), manifest_file)
    if seeds is None:
        return {None: study_dir}
    return {k: seed_dir(study_dir, k) for k in seeds}


def regime_dir(root: str | os.PathLike, regime: str) -> Path:
    """``<root>/<regime>``: everything one regime writes; ``root`` is a run folder (:func:`run_dirs`)."""
    return Path(root) / regime


def tb_dir(root: str | os.PathLike, regime: str) -> Path:
    """The regime's TensorBoard folder (``root``: a run folder)."""
    return regime_dir(root, regime) / "tb"


def interactions_dir(root: str | os.PathLike, regime: str) -> Path:
    """The regime's interactions folder (see :mod:`harsanyi_lightning.callbacks.artifact_layout`)."""
    return regime_dir(root, regime) / "interactions"


def checkpoint_path(root: str | os.PathLike, regime: str) -> Path:
    """The regime's ``last.ckpt``."""
    return regime_dir(root, regime) / "checkpoints" / "last.ckpt"


def summary_path(root: str | os.PathLike, regime: str) -> Path:
    """The regime's ``summary.json``, its completion marker."""
    return regime_dir(root, regime) / SUMMARY


def evaluation_files(root: str | os.PathLike, regime: str) -> dict[int, Path]:
    """The regime's stored evaluation artifacts (epoch files and, where the callback wrote them, in-epoch step
    files), keyed by global step, ascending."""
    return artifact_layout.evaluation_files(interactions_dir(root, regime))


def final_artifact(root: str | os.PathLike, regime: str) -> Path:
    """The regime's final interaction artifact, as recorded in its ``summary.json``."""
    summary = read_json(summary_path(root, regime))
    return regime_dir(root, regime) / summary["final_artifact"]


def regime_problems(root: str | os.PathLike, regime: str, annotation_hash: str | None = None) -> list[str]:
    """What is missing or invalid for ``regime`` to count as complete (empty list: complete).

    Complete means: ``summary.json`` exists, its final artifact exists, passes its
    hash check and carries the sha256 recorded in the summary, and (when given)
    was computed on the annotation with ``annotation_hash``."""
    spath = summary_path(root, regime)
    if not spath.is_file():
        return [f"{spath} (the regime's completion marker) is missing"]
    try:
        summary = read_json(spath)
        art = regime_dir(root, regime) / summary["final_artifact"]
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
    """Check that ``study_dir`` holds a complete study (every regime of every run folder of
    :func:`run_dirs`); return its manifest, with ``seeds`` (``None`` for a single-seed study) and
    ``annotation_hash``.

    Raises :class:`DataError` listing every missing or invalid path: a folder
    that is not a study at all, or a study with a regime missing or incomplete (of a seed: named)."""
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
    seeds = manifest_seeds(manifest, manifest_file)
    regimes = manifest_regimes(manifest, manifest_file) if manifest_file.is_file() else None
    runs = {None: study_dir} if seeds is None else {k: seed_dir(study_dir, k) for k in seeds}
    for seed, root in runs.items():
        of = "" if seed is None else f"seed {seed}, "
        for regime in regimes.names if regimes is not None else ():
            problems = regime_problems(root, regime, annotation_hash)
            if problems:
                missing.append(f"{of}regime {regime!r}: " + "; ".join(problems))
            elif not tb_dir(root, regime).is_dir():
                missing.append(f"{of}regime {regime!r}: {tb_dir(root, regime)} (its TensorBoard logs) is missing")
    if missing:
        raise DataError(
            f"study {study_dir} is incomplete; missing or invalid:\n  - " + "\n  - ".join(missing)
            + "\nRerun `python cli.py study` with the same config to complete it"
        )
    manifest.setdefault("annotation_hash", annotation_hash)
    manifest["seeds"] = seeds
    return manifest


__all__ = [
    "ANNOTATION",
    "MANIFEST",
    "MAX_SEED",
    "SEED_DIR",
    "SEEDS_FIX",
    "SUMMARY",
    "check_study",
    "checkpoint_path",
    "evaluation_files",
    "final_artifact",
    "interactions_dir",
    "manifest_regimes",
    "manifest_seeds",
    "read_json",
    "run_dirs",
    "seed_dir",
    "regime_dir",
    "regime_problems",
    "seeds_problem",
    "summary_path",
    "tb_dir",
    "write_json",
]
