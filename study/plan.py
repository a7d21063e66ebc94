"""The study driver: probe -> finetune -> scratch -> report, resumable (paper section 3).

``python cli.py study --config configs/sst2_minilm/study.yaml`` parses a study
config (see :class:`StudyTrainer.study` and ``/configs/*/study*.yaml``) and,
for each stage, builds an ordinary LightningCLI from stacked configs (``run=False``)::

    --config <the stage's regime files>   e.g. configs/sst2_minilm/probe.yaml
    --config <shared>                     settings every stage gets (data, backbone, trainer basics)
    --config <the stage's overrides>      per-stage settings (lr, epochs, optimizer)
    --config <managed>                    what the study owns: logger, checkpoint folder

and adds two callbacks through ``trainer_defaults``: an
:class:`~harsanyi_lightning.callbacks.InteractionCallback` on the study's single annotated sample
set ``<study_dir>/annotation.pt`` (built by the first stage that runs, then
reused) with the earlier stages' final interactions as references, and a
``ModelCheckpoint`` writing ``<stage>/checkpoints/last.ckpt``. The stage's
``summary.json`` is written last, atomically: it is the completion marker.

A rerun skips a stage whose summary, final artifact (hash-checked), annotation,
references and configuration still agree; resumes an interrupted stage from
``last.ckpt`` (same configuration); and redoes a stage from the start when
its configuration, annotation or references changed or its artifacts are
damaged. ``force=True`` redoes everything.

Before any work the study checks what it can (every stage's stacked configs parse, the interaction
settings are valid, every folder it writes into is writable) and takes the study folder's lock
(:mod:`harsanyi_lightning.interactions.folder_lock`: one writer per study folder; a second ``cli.py study`` on it stops at
once). Before each stage (and the report) the earlier stages are checked again: one whose folder was
deleted or damaged meanwhile is redone, never half-read. Checkpoints are written atomically in the
stage's folder (:mod:`harsanyi_lightning.study.checkpoints`); a write that fails (disk full, I/O error) stops the study
with a :class:`~harsanyi_lightning.interactions.errors.StorageError` naming the file, every earlier file intact.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import pytorch_lightning as pl
import yaml
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from harsanyi_lightning.interactions.artifacts import errno_name, load_artifact, probe_writable
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError, DataError
from harsanyi_lightning.interactions.folder_lock import FolderLock, lock_folder

from .layout import (
    ANNOTATION,
    MANIFEST,
    STAGES,
    checkpoint_path,
    interactions_dir,
    read_json,
    stage_dir,
    stage_problems,
    summary_path,
    tb_dir,
    write_json,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STUDY_CONFIG = REPO_ROOT / "configs" / "sst2_minilm" / "study.yaml"
STAGE_FILE = "stage.json"  # written when a stage starts: the configuration it runs with
#: the references each stage is measured against (SPEC section 4)
REFERENCES = {"probe": (), "finetune": ("pretrain",), "scratch": ("pretrain", "finetune")}
REFERENCE_STAGE = {"pretrain": "probe", "finetune": "finetune"}


@dataclass
class StageSpec:
    """One stage: its LightningCLI config files (applied first, e.g. ``configs/sst2_minilm/probe.yaml``;
    relative paths are taken from the working directory, else from the repository root) and the
    per-stage settings applied after the study's ``shared`` ones (``model``/``trainer``/``optimizer`` ...);
    ``interactions`` overrides fields of the study's :class:`InteractionSpec` for this stage only
    (e.g. ``{every_n_epochs: 3}`` for a probe, whose intermediate epochs no figure uses)."""

    configs: list[str] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)
    interactions: dict = field(default_factory=dict)


@dataclass
class SampleSetSpec:
    """The one annotated sample set of the study (SPEC section 2); ``None`` = the text/image default."""

    n: Optional[int] = None
    num_samples: Optional[int] = None
    per_class: Optional[int] = None
    seed: int = 0
    baseline: str = "mean"
    background: str = "keep"
    pool_split: str = "val"


@dataclass
class InteractionSpec:
    """How every stage evaluates interactions (SPEC section 6: strict ``fp32`` is exact); ``attributions``,
    ``and_or``, ``and_or_solver`` and ``and_or_noise_bound`` are the callback's options of SPEC section 7
    (exact Shapley / Banzhaf / pairwise SII, and AND-OR interactions, which the report's two-phase view
    also draws)."""

    every_n_epochs: int = 1
    batch_size: int = 256
    precision: str = "fp32"
    figures: bool = True
    progress: bool = True
    attributions: bool = True
    and_or: bool = False
    and_or_solver: str = "lp"
    and_or_noise_bound: float = 0.04

    def fingerprint_fields(self) -> dict:
        """The fields as a dict, without the SPEC section 7 options at their defaults, so that adding these
        options did not change the fingerprint of a stage configured before them (it would be redone);
        any other value of them changes it."""
        out = asdict(self)
        for name in _LATER_FIELDS:
            if out[name] == _LATER_DEFAULTS[name]:
                del out[name]
        return out

    def check(self, where: str = "interactions") -> None:
        """``ConfigError`` naming ``where`` for an unknown AND-OR solver or a bad noise bound (before any training)."""
        from harsanyi_lightning.interactions.and_or import check_and_or_options

        try:
            check_and_or_options(self.and_or_solver, self.and_or_noise_bound, prefix="and_or_")
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None


#: InteractionSpec fields added after studies were first run (left out of the fingerprint at their default)
_LATER_FIELDS = ("attributions", "and_or", "and_or_solver", "and_or_noise_bound")
_LATER_DEFAULTS = {name: InteractionSpec.__dataclass_fields__[name].default for name in _LATER_FIELDS}


def _say(msg: str) -> None:
    if pl.utilities.rank_zero_only.rank == 0:
        print(f"[study] {msg}", flush=True)


def resolve_config_path(path: str | Path) -> Path:
    """A stage config path as given (absolute or from the working directory), else from the repository root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    q = REPO_ROOT / p
    if q.exists():
        return q
    raise ConfigError(f"stage config {path} not found (looked in {Path.cwd()} and {REPO_ROOT}); fix the path in the study config")


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _final_sha(study_dir: Path, stage: str) -> str:
    return read_json(summary_path(study_dir, stage))["final_artifact_sha256"]


@dataclass
class StudyPlan:
    """Everything needed to run the stages; built from the parsed study config."""

    study_dir: Path
    stages: dict[str, StageSpec]
    shared: dict
    sample_set: SampleSetSpec
    interactions: InteractionSpec
    test: bool = True
    force: bool = False

    def stage_args(self, stage: str) -> list[str]:
        """The stacked ``--config`` arguments of one stage's LightningCLI."""
        spec = self.stages[stage]
        args: list[str] = []
        for path in spec.configs:
            args += ["--config", str(resolve_config_path(path))]
        for layer in (self.shared, spec.overrides, self.managed(stage)):
            if layer:
                args += ["--config", _yaml(layer)]
        return args

    def managed(self, stage: str) -> dict:
        """Settings the study owns: TensorBoard logs in ``<stage>/tb`` (fixed version, so reruns reuse it)."""
        sdir = stage_dir(self.study_dir, stage)
        return {
            "trainer": {
                "default_root_dir": str(sdir),
                "enable_checkpointing": True,
                "logger": {
                    "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
                    "init_args": {"save_dir": str(sdir), "name": "", "version": "tb", "default_hp_metric": False},
                },
            }
        }

    def interaction_callback(self, stage: str, references: dict[str, str]) -> Callback:
        """The stage's :class:`~harsanyi_lightning.callbacks.InteractionCallback` (its arguments are checked here)."""
        from harsanyi_lightning.callbacks import InteractionCallback

        s, i = self.sample_set, self.stage_interactions(stage)
        return InteractionCallback(
            sample_set=str(self.study_dir / ANNOTATION), n=s.n, num_samples=s.num_samples, per_class=s.per_class,
            seed=s.seed, baseline=s.baseline, background=s.background, pool_split=s.pool_split,
            every_n_epochs=i.every_n_epochs, batch_size=i.batch_size, precision=i.precision, references=references,
            output_dir=str(interactions_dir(self.study_dir, stage)), regime=stage, figures=i.figures,
            progress=i.progress, attributions=i.attributions, and_or=i.and_or, and_or_solver=i.and_or_solver,
            and_or_noise_bound=i.and_or_noise_bound,
        )

    def callbacks(self, stage: str) -> list[Callback]:
        """The interaction callback (shared annotation, earlier stages as references) and the checkpointing."""
        refs = {role: str(self.final_artifact(REFERENCE_STAGE[role])) for role in REFERENCES[stage]}
        return [
            self.interaction_callback(stage, refs),
            # `last.ckpt` after every epoch, written atomically in place. (save_top_k=0 with save_last=True
            # writes it only when fit ends in Lightning 2.6, so a killed stage could not resume.)
            ModelCheckpoint(dirpath=str(checkpoint_path(self.study_dir, stage).parent),
                            filename=checkpoint_path(self.study_dir, stage).stem, auto_insert_metric_name=False,
                            save_top_k=1, save_last=False, enable_version_counter=False),
        ]

    def stage_interactions(self, stage: str) -> InteractionSpec:
        """The study's interaction settings with the stage's own ``interactions`` fields applied."""
        extra = dict(self.stages[stage].interactions or {})
        known = set(InteractionSpec.__dataclass_fields__)
        unknown = sorted(set(extra) - known)
        if unknown:
            raise ConfigError(f"{stage}.interactions has unknown key(s) {unknown}; known: {sorted(known)}")
        spec = replace(self.interactions, **extra)
        spec.check(f"{stage}.interactions" if extra else "interactions")
        return spec

    def final_artifact(self, stage: str) -> Path:
        return stage_dir(self.study_dir, stage) / read_json(summary_path(self.study_dir, stage))["final_artifact"]

    def check(self, check_cli: Optional[Callable[[list[str]], None]] = None) -> None:
        """Everything that can be checked before any work, each failure a :class:`ConfigError`: the study
        folder's name, the three stages are there, their config files exist, their interaction settings are
        valid and (with ``check_cli``, which parses a stage's stacked configs without building anything)
        their configurations parse."""
        check_study_dir_name(self.study_dir)
        missing = [s for s in STAGES if s not in self.stages]
        if missing:
            raise ConfigError(f"the study config has no settings for stage(s) {missing}; give probe, finetune and scratch")
        for s in STAGES:
            for path in self.stages[s].configs:
                resolve_config_path(path)
            self.interaction_callback(s, {})  # validates the sample-set and interaction settings
        if check_cli is not None:
            for s in STAGES:
                try:
                    check_cli(self.stage_args(s))
                except ConfigError as err:
                    raise ConfigError(f"stage {s!r}: {err}") from None

    def fingerprint(self, stage: str) -> str:
        """sha256 of everything that decides a stage's result: its stacked configs (file contents, not
        paths), the sample set and interaction settings."""
        h = hashlib.sha256()
        for a in self.stage_args(stage):
            p = Path(a)
            h.update(p.read_bytes() if a != "--config" and len(a) < 4096 and p.is_file() else a.encode())
        h.update(json.dumps([asdict(self.sample_set), self.stage_interactions(stage).fingerprint_fields(), self.test],
                            sort_keys=True).encode())
        return h.hexdigest()


def annotation_hash(study_dir: Path) -> str | None:
    path = study_dir / ANNOTATION
    if not path.is_file():
        return None
    try:
        return load_artifact(path, "annotation")[1]
    except AnnotationError as err:
        # never rebuilt silently: the finished stages were measured on it, and a new sample set would
        # make their interactions incomparable with the ones still to come
        raise AnnotationError(
            f"{err}. The study's stages are measured on this sample set, so it is not rebuilt silently: "
            "restore the file from a backup, or rerun with --force to rebuild it and redo every stage"
        ) from None


def stage_status(plan: StudyPlan, stage: str) -> tuple[str, list[str]]:
    """``("complete" | "resume" | "restart" | "new", reasons)`` for one stage."""
    sdir = stage_dir(plan.study_dir, stage)
    if not sdir.exists():
        return "new", []
    anno = annotation_hash(plan.study_dir)
    started = sdir / STAGE_FILE
    intent = read_json(started) if started.is_file() else {}
    reasons = []
    if intent.get("fingerprint") != plan.fingerprint(stage):
        reasons.append("its configuration changed" if intent else f"{started} is missing")
    if anno is None:
        reasons.append(f"{plan.study_dir / ANNOTATION} is missing")
    if not summary_path(plan.study_dir, stage).is_file():
        if reasons:
            return "restart", reasons
        return ("resume" if checkpoint_path(plan.study_dir, stage).is_file() else "restart"), [
            "it was interrupted before it finished"]
    reasons += stage_problems(plan.study_dir, stage, anno)
    summary = read_json(summary_path(plan.study_dir, stage))
    for role in REFERENCES[stage]:
        ref = REFERENCE_STAGE[role]
        if summary.get("references", {}).get(role) != _final_sha(plan.study_dir, ref):
            reasons.append(f"its {role} reference ({ref}) changed")
    return ("complete", []) if not reasons else ("restart", reasons)


def run_stage(plan: StudyPlan, index: int, stage: str, make_cli: Callable[..., Any]) -> dict:
    """Run (or skip, or resume) one stage; return its summary."""
    from .checkpoints import use_atomic_checkpoints

    sdir = stage_dir(plan.study_dir, stage)
    status, reasons = ("new", []) if plan.force else stage_status(plan, stage)
    if plan.force and sdir.exists():
        shutil.rmtree(sdir)
    head = f"stage {index}/{len(STAGES)}: {stage}"
    if status == "complete":
        _say(f"{head}: complete, skipped ({summary_path(plan.study_dir, stage)})")
        return read_json(summary_path(plan.study_dir, stage))
    if status == "restart" and sdir.exists():
        _say(f"{head}: redone from the start because " + "; ".join(reasons))
        shutil.rmtree(sdir)
    ckpt = checkpoint_path(plan.study_dir, stage)
    resume = status == "resume" and ckpt.is_file()
    _say(f"{head} -> {sdir}" + (f" (resuming from {ckpt})" if resume else ""))
    sdir.mkdir(parents=True, exist_ok=True)
    write_json(sdir / STAGE_FILE, {"stage": stage, "fingerprint": plan.fingerprint(stage),
                                   "args": plan.stage_args(stage)})
    t0 = time.perf_counter()
    cli = make_cli(plan.stage_args(stage), plan.callbacks(stage))
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    use_atomic_checkpoints(trainer)
    trainer.fit(model, datamodule=dm, ckpt_path=str(ckpt) if resume else None)
    if trainer.interrupted:
        raise KeyboardInterrupt(f"stage {stage} was interrupted; rerun the study to resume it from {ckpt}")
    val_acc = _metric(trainer, "val/acc")
    if val_acc is None:  # resumed at the end: no validation ran in this fit
        val_acc = _first(_validate_unlogged(trainer, model, dm), "val/acc")
    test_acc = None
    if plan.test and _has_test_data(dm):
        test_acc = _first(trainer.test(model, datamodule=dm, verbose=False), "test/acc")
    final_file = _final_file(interactions_dir(plan.study_dir, stage))
    content, sha = load_artifact(final_file, "interactions")
    summary = {
        "stage": stage,
        "val_acc": val_acc,
        "test_acc": test_acc,
        "final_epoch": int(content["epoch"]),
        "final_artifact": str(final_file.relative_to(sdir)),
        "final_artifact_sha256": sha,
        "annotation_hash": content.get("annotation_hash"),
        "references": {role: _final_sha(plan.study_dir, REFERENCE_STAGE[role]) for role in REFERENCES[stage]},
        "model": content.get("model"),
        "dataset": content.get("dataset"),
        "checkpoint": str(ckpt.relative_to(sdir)) if ckpt.is_file() else None,
        "global_step": int(trainer.global_step),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    write_json(summary_path(plan.study_dir, stage), summary)  # last: the completion marker
    _say(f"{head} done in {summary['wall_s']:.0f} s: val acc {_fmt(val_acc)}, test acc {_fmt(test_acc)}")
    return summary


def _validate_unlogged(trainer: pl.Trainer, model: Any, dm: Any) -> list[dict]:
    """``trainer.validate`` with the loggers off: the stage's curves already hold every epoch's validation
    (in the run that was interrupted after it), and one more ``val/loss`` point would make the report of
    a resumed study differ from an uninterrupted one."""
    loggers = trainer.loggers
    trainer.loggers = []
    try:
        return trainer.validate(model, datamodule=dm, verbose=False)
    finally:
        trainer.loggers = loggers


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _metric(trainer: pl.Trainer, key: str) -> float | None:
    for k in (key, f"{key}_epoch"):
        if k in trainer.callback_metrics:
            return float(trainer.callback_metrics[k])
    return None


def _first(results: list[dict], key: str) -> float | None:
    for r in results or []:
        for k in (key, f"{key}_epoch"):
            if k in r:
                return float(r[k])
    return None


def _has_test_data(dm: Any) -> bool:
    if dm is None:
        return False
    fn = type(dm).test_dataloader
    return fn is not pl.LightningDataModule.test_dataloader


def _final_file(folder: Path) -> Path:
    from harsanyi_lightning.callbacks.history import resolve_interactions_file

    return resolve_interactions_file(folder)


def check_study_dir_name(study_dir: Path) -> None:
    """A study folder must be named: an empty ``study_dir`` would make the working directory the study."""
    text = str(study_dir)
    if not text.strip() or text.strip() == ".":
        raise ConfigError(f"study_dir={text!r} names no folder; set study_dir to the folder the study should write")
    if "\x00" in text:
        raise ConfigError(f"study_dir={text!r} is not a valid path (it holds a NUL character)")


def lock_study(study_dir: Path) -> FolderLock | None:
    """Take the study folder's lock (created if missing): one writer per study folder. Only global rank zero
    takes it (DDP ranks started by Lightning run the same command). ``ConfigError`` when the folder cannot
    be created or written, :class:`~harsanyi_lightning.interactions.errors.FolderInUseError` when another process holds it."""
    if pl.utilities.rank_zero_only.rank != 0:
        return None
    try:
        return lock_folder(study_dir, "study folder", check_inside=True)
    except OSError as err:
        raise ConfigError(
            f"study_dir {study_dir} is not writable ({errno_name(err)}); make it writable for this user "
            f"(chmod u+w) or set study_dir to another folder"
        ) from None


def study_folders(study_dir: Path, report: bool) -> list[Path]:
    """The folders a study run writes into that exist already: each stage's folder and its ``tb``,
    ``checkpoints`` and ``interactions``, and (``report``) ``report/`` and ``report/tb``."""
    folders = []
    for stage in STAGES:
        sdir = stage_dir(study_dir, stage)
        folders += [sdir, tb_dir(study_dir, stage), checkpoint_path(study_dir, stage).parent,
                    interactions_dir(study_dir, stage)]
    if report:
        folders += [study_dir / "report", study_dir / "report" / "tb"]
    return [f for f in folders if f.is_dir()]


def check_study_folders(study_dir: Path, report: bool) -> None:
    """Fail before any work (``ConfigError`` naming the folder and the errno) when a folder the study will
    write into cannot be written: a read-only stage or report folder would otherwise fail hours later."""
    for folder in [study_dir, *study_folders(study_dir, report)]:
        try:
            probe_writable(folder)
        except OSError as err:
            raise ConfigError(
                f"{folder} is not writable ({errno_name(err)}), and the study writes into it; make it writable for "
                f"this user (chmod -R u+w {study_dir}) or set study_dir to another folder"
            ) from None


def first_lost_stage(plan: StudyPlan, before: int) -> tuple[str, list[str]] | None:
    """The first of the stages ``STAGES[:before]`` that is no longer complete (its folder deleted, its
    summary or final artifact damaged since it finished), with the reasons; ``None`` when all are."""
    for stage in STAGES[:before]:
        status, reasons = stage_status(plan, stage)
        if status != "complete":
            return stage, reasons or [f"{stage_dir(plan.study_dir, stage)} is gone"]
    return None


def run_study(plan: StudyPlan, make_cli: Callable[..., Any], *, report: bool = True,
              check_cli: Optional[Callable[[list[str]], None]] = None) -> Path:
    """Run the three stages in order, then the report; return the study folder.

    ``check_cli(args)`` parses a stage's stacked configs without building anything (see
    :meth:`StudyPlan.check`); everything it and the folder checks can find fails before any work."""
    plan.check(check_cli)
    lock = lock_study(plan.study_dir)
    try:
        check_study_folders(plan.study_dir, report)
        _run_locked(plan, make_cli, report)
    finally:
        if lock is not None:
            lock.release()
    return plan.study_dir


def _run_locked(plan: StudyPlan, make_cli: Callable[..., Any], report: bool) -> None:
    if plan.force and (plan.study_dir / ANNOTATION).exists():
        (plan.study_dir / ANNOTATION).unlink()
    write_json(plan.study_dir / MANIFEST, {
        "stages": list(STAGES),
        "study_dir": str(plan.study_dir),
        "args": {s: plan.stage_args(s) for s in STAGES},
        "sample_set": asdict(plan.sample_set),
        "interactions": {s: asdict(plan.stage_interactions(s)) for s in STAGES},
    })
    remove_stale_temp_files(plan.study_dir)
    t0 = time.perf_counter()
    index, redone = 0, 0
    while True:
        lost = first_lost_stage(plan, index)  # a stage folder deleted meanwhile is redone, not half-read
        if lost is not None:
            stage, reasons = lost
            redone += 1
            if redone > 2 * len(STAGES):
                raise DataError(f"stage {stage!r} of {plan.study_dir} keeps losing its files ({'; '.join(reasons)}); "
                                "is another program deleting them?")
            _say(f"stage {stage} is no longer complete ({'; '.join(reasons)}): it is redone")
            index = STAGES.index(stage)
            continue
        if index == len(STAGES):
            break
        run_stage(plan, index + 1, STAGES[index], make_cli)
        index += 1
    if report:
        from .report import write_report

        _say(f"report -> {plan.study_dir / 'report'}")
        out = write_report(plan.study_dir)
        _say(f"study finished in {time.perf_counter() - t0:.0f} s; open {out / 'report.md'}")


#: the temporary files of :func:`harsanyi_lightning.interactions.artifacts.atomic_write_bytes` (``.<name>.<random>.tmp``)
#: and of its write probe
TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temp_files(study_dir: Path) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.tmp``) that an atomic write killed before its rename
    left behind in ``study_dir`` and the folders the study writes (never elsewhere); they are never
    artifacts (only a renamed file is). Return them."""
    stale = []
    for folder in [study_dir, *study_folders(study_dir, report=True)]:
        stale += [p for p in folder.iterdir() if TEMP_FILE.match(p.name) and p.is_file()]
    for p in stale:
        _say(f"removing {p}, left half-written by an interrupted run")
        p.unlink()
    return stale


class StudyTrainer(pl.Trainer):
    """A ``Trainer`` that also offers the ``study`` and ``report`` subcommands of ``cli.py``."""

    def study(
        self,
        model: Optional[pl.LightningModule] = None,
        datamodule: Optional[pl.LightningDataModule] = None,
        study_dir: str = "studies/study",
        shared: Optional[dict] = None,
        probe: StageSpec = StageSpec(),
        finetune: StageSpec = StageSpec(),
        scratch: StageSpec = StageSpec(),
        sample_set: SampleSetSpec = SampleSetSpec(),
        interactions: InteractionSpec = InteractionSpec(),
        test: bool = True,
        force: bool = False,
        report: bool = True,
    ) -> None:
        """Run probe, finetune and scratch on one annotated sample set, then write the report.

        Args:
            study_dir: where every stage and the report go (``<study_dir>/<stage>/``, ``<study_dir>/report/``).
            shared: LightningCLI settings every stage gets (``data``, ``model.init_args.backbone``,
                ``trainer``, ``seed_everything``), applied after the stage's own config files.
            probe: the probe stage (frozen pre-trained backbone, linear head): its config files and overrides.
            finetune: the fine-tuning stage, measured against the probe's final interactions.
            scratch: the from-scratch stage, measured against probe and finetune.
            sample_set: the one annotated sample set (SPEC section 2).
            interactions: evaluation settings of the interaction callback (SPEC section 6) and its options of
                SPEC section 7 (attributions, and_or, and_or_solver, and_or_noise_bound).
            test: also report test accuracy when the data module has a test split.
            force: redo every stage (and rebuild the sample set) even when complete.
            report: write ``<study_dir>/report/`` at the end.
        """
        raise ConfigError("StudyTrainer.study runs through the command line: `python cli.py study --config <yaml>`")

    def report(self, study_dirs: list[str], summary: Optional[str] = None,
               model: Optional[pl.LightningModule] = None, datamodule: Optional[pl.LightningDataModule] = None) -> None:
        """Write the report of each study folder and print one table with a row per study.

        Args:
            study_dirs: study folders written by ``python cli.py study``.
            summary: also write the table (markdown) to this file.
        """
        from .report import write_report, write_summary

        if not study_dirs:
            raise ConfigError("report needs at least one study folder: `python cli.py report <study_dir> [...]`")
        for d in study_dirs:
            out = write_report(d)
            print(f"[report] {out}", flush=True)
        print(write_summary(list(study_dirs), summary), flush=True)
