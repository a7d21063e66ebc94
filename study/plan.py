"""The study's plan: what each stage runs with (docs/study.md).

A parsed study config becomes a :class:`StudyPlan`: the three stages' :class:`StageSpec` (regime config
files and per-stage overrides), the one :class:`SampleSetSpec` and the :class:`InteractionSpec`. For each
stage the plan gives the stacked configs of an ordinary LightningCLI (``run=False``)::

    --config <the stage's regime files>   e.g. configs/sst2_minilm/probe.yaml
    --config <shared>                     settings every stage gets (data, backbone, trainer basics)
    --config <the stage's overrides>      per-stage settings (lr, epochs, optimizer)
    --config <managed>                    what the study owns: logger, checkpoint folder

and the two callbacks the study adds through ``trainer_defaults``: an
:class:`~harsanyi_lightning.callbacks.InteractionCallback` on the study's single annotated sample
set ``<study_dir>/annotation.pt`` (built by the first stage that runs, then reused) with the earlier
stages' final interactions as references, and a ``ModelCheckpoint`` writing
``<stage>/checkpoints/last.ckpt``. Its :meth:`StudyPlan.fingerprint` decides whether a finished stage
still matches its configuration (:mod:`harsanyi_lightning.study.stages`).

With ``seeds: [0, 1, ...]`` (docs/study.md#seeds) the plan has one run per seed (:meth:`StudyPlan.runs`):
each a plan bound to its seed, whose stages write into ``<study_dir>/seed_<k>/<stage>``, are measured
against that seed's own probe and finetune, and get ``seed_everything: <k>`` in the managed layer; the
annotated sample set stays the study's one ``annotation.pt``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Optional

import yaml
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from harsanyi_lightning.callbacks.options import EvaluationOptions, ExtrasOptions, SampleSetOptions
from harsanyi_lightning.interactions.errors import ConfigError

from .bootstrap import BootstrapOptions
from .folders import check_study_dir_name
from .layout import (
    ANNOTATION,
    SEEDS_FIX,
    STAGES,
    checkpoint_path,
    interactions_dir,
    read_json,
    seed_dir,
    seeds_problem,
    stage_dir,
    summary_path,
)

__all__ = [
    "DEFAULT_STUDY_CONFIG",
    "REFERENCES",
    "REFERENCE_STAGE",
    "REPO_ROOT",
    "InteractionSpec",
    "SampleSetSpec",
    "StageSpec",
    "STUDY_OWNED_OPTIONS",
    "StudyPlan",
    "check_seeds",
    "resolve_config_path",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STUDY_CONFIG = REPO_ROOT / "configs" / "sst2_minilm" / "study.yaml"
#: the references each stage is measured against (docs/method.md#knowledge-metrics)
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


#: the InteractionCallback options a study sets itself for each regime (never from the study config): the
#: shared annotation file, the earlier regimes' final interactions, the regime's folder and name
STUDY_OWNED_OPTIONS = ("sample_set", "references", "missing_references", "output_dir", "regime")


def _fingerprint_value(value: Any) -> Any:
    """A field value as it enters a fingerprint: a function by its import path, anything else as it is."""
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    return value


def _fingerprint_fields(spec: Any, first: tuple[str, ...]) -> dict:
    """The fields of ``spec``: the ``first`` ones (those of the first studies) always, any later one only when
    it is not at its default, so that adding options does not change the fingerprint of a stage configured
    before them (it would be redone); any other value of them changes it."""
    return {f.name: _fingerprint_value(getattr(spec, f.name)) for f in fields(spec)
            if f.name in first or getattr(spec, f.name) != f.default}


@dataclass(frozen=True)
class SampleSetSpec(SampleSetOptions):
    """The study's ``sample_set:`` section: the one annotated sample set of the study
    (docs/method.md#the-annotated-sample-set), every field of
    :class:`~harsanyi_lightning.callbacks.options.SampleSetOptions` (``None`` = the text/image default)."""

    def fingerprint_fields(self) -> dict:
        """The fields that enter a stage's fingerprint (see :func:`_fingerprint_fields`)."""
        return _fingerprint_fields(self, _FIRST_SAMPLE_SET_FIELDS)


@dataclass(frozen=True)
class InteractionSpec(ExtrasOptions, EvaluationOptions):
    """The study's ``interactions:`` section: how every stage evaluates interactions, every field of
    :class:`~harsanyi_lightning.callbacks.options.EvaluationOptions` (docs/method.md#precision-and-budget:
    strict ``fp32`` is exact) and of :class:`~harsanyi_lightning.callbacks.options.ExtrasOptions`
    (docs/method.md#beyond-the-paper: exact Shapley / Banzhaf / pairwise SII, and AND-OR interactions,
    which the report's two-phase view also draws). ``estimator: sparse`` with its ``budget`` estimates the dividends
    of sentences past 16 words (docs/study.md#sparse-studies)."""

    def __post_init__(self) -> None:
        EvaluationOptions.__post_init__(self)
        ExtrasOptions.__post_init__(self)

    def fingerprint_fields(self) -> dict:
        """The fields that enter a stage's fingerprint: the first five always, the later ones
        (:data:`_LATER_FIELDS`) only when not at their default."""
        return _fingerprint_fields(self, _FIRST_INTERACTION_FIELDS)

    def check(self, where: str = "interactions") -> None:
        """``ConfigError`` naming ``where`` for a bad value (all fields are checked when built; this re-checks)."""
        try:
            self.__post_init__()
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None


#: the fields of the first studies: always in the fingerprint
_FIRST_SAMPLE_SET_FIELDS = ("n", "num_samples", "per_class", "seed", "baseline", "background", "pool_split")
_FIRST_INTERACTION_FIELDS = ("every_n_epochs", "batch_size", "precision", "figures", "progress")
#: InteractionSpec fields added after studies were first run (left out of the fingerprint at their default)
_LATER_FIELDS = tuple(f.name for f in fields(InteractionSpec) if f.name not in _FIRST_INTERACTION_FIELDS)


def resolve_config_path(path: str | Path) -> Path:
    """A stage config path as given (absolute or from the working directory), else from the repository root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    q = REPO_ROOT / p
    if q.exists():
        return q
    raise ConfigError(f"stage config {path} not found (looked in {Path.cwd()} and {REPO_ROOT}); fix the path in the study config")


def check_seeds(seeds: Any) -> tuple[int, ...] | None:
    """The study config's ``seeds`` as a tuple (``None``: a single-seed study); ``ConfigError`` naming
    ``seeds`` and the fix when it is not a non-empty list of unique integers (docs/study.md#seeds)."""
    if seeds is None:
        return None
    problem = seeds_problem(list(seeds) if isinstance(seeds, tuple) else seeds)
    if problem is not None:
        raise ConfigError(f"{problem}; {SEEDS_FIX}")
    return tuple(seeds)


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


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
    #: the study's seeds (``None``: one run in the study folder itself, seeded by the configs)
    seeds: Optional[tuple[int, ...]] = None
    #: the seed this plan runs (one of ``seeds``; ``None`` for the study's plan and a single-seed study)
    seed: Optional[int] = None
    #: how the report draws its intervals (docs/method.md#uncertainty-and-verdicts); never part of a fingerprint
    bootstrap: BootstrapOptions = field(default_factory=BootstrapOptions)

    def __post_init__(self) -> None:
        self.seeds = check_seeds(self.seeds)
        if self.seed is not None and (self.seeds is None or self.seed not in self.seeds):
            raise ConfigError(f"seed {self.seed} is not one of the study's seeds {self.seeds}")

    @property
    def run_dir(self) -> Path:
        """The folder holding this plan's stage folders: ``<study_dir>/seed_<seed>``, or the study folder."""
        return self.study_dir if self.seed is None else seed_dir(self.study_dir, self.seed)

    def runs(self) -> list[StudyPlan]:
        """One plan per seed, in the order of ``seeds`` (``[self]`` for a single-seed study)."""
        if self.seeds is None:
            return [self]
        return [replace(self, seed=k) for k in self.seeds]

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
        """Settings the study owns: TensorBoard logs in ``<stage>/tb`` (fixed version, so reruns reuse it) and,
        for a seed's run, ``seed_everything: <seed>``."""
        sdir = stage_dir(self.run_dir, stage)
        seeding = {} if self.seed is None else {"seed_everything": self.seed}
        return {
            **seeding,
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
        """The stage's :class:`~harsanyi_lightning.callbacks.InteractionCallback` (its arguments are checked here):
        every field of the ``sample_set`` and the stage's ``interactions`` settings, and the
        :data:`STUDY_OWNED_OPTIONS` the study sets itself."""
        from harsanyi_lightning.callbacks import InteractionCallback

        options = {f.name: getattr(spec, f.name) for spec in (self.sample_set, self.stage_interactions(stage))
                   for f in fields(spec)}
        return InteractionCallback(
            sample_set=str(self.study_dir / ANNOTATION), references=references, missing_references="error",
            output_dir=str(interactions_dir(self.run_dir, stage)), regime=stage, **options,
        )

    def callbacks(self, stage: str) -> list[Callback]:
        """The interaction callback (shared annotation, earlier stages as references) and the checkpointing."""
        refs = {role: str(self.final_artifact(REFERENCE_STAGE[role])) for role in REFERENCES[stage]}
        return [
            self.interaction_callback(stage, refs),
            # `last.ckpt` after every epoch, written atomically in place. (save_top_k=0 with save_last=True
            # writes it only when fit ends in Lightning 2.6, so a killed stage could not resume.)
            ModelCheckpoint(dirpath=str(checkpoint_path(self.run_dir, stage).parent),
                            filename=checkpoint_path(self.run_dir, stage).stem, auto_insert_metric_name=False,
                            save_top_k=1, save_last=False, enable_version_counter=False),
        ]

    def stage_interactions(self, stage: str) -> InteractionSpec:
        """The study's interaction settings with the stage's own ``interactions`` fields applied."""
        extra = dict(self.stages[stage].interactions or {})
        known = {f.name for f in fields(InteractionSpec)}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise ConfigError(f"{stage}.interactions has unknown key(s) {unknown}; known: {sorted(known)}")
        try:
            spec = replace(self.interactions, **extra)
        except ConfigError as err:
            raise ConfigError(f"{stage}.interactions: {err}") from None
        spec.check(f"{stage}.interactions" if extra else "interactions")
        return spec

    def final_artifact(self, stage: str) -> Path:
        """The final interactions of one of this run's finished stages (from its summary)."""
        return stage_dir(self.run_dir, stage) / read_json(summary_path(self.run_dir, stage))["final_artifact"]

    def check(self, check_cli: Optional[Callable[[list[str]], None]] = None) -> None:
        """Everything that can be checked before any work, each failure a :class:`ConfigError`: the study
        folder's name, the seeds, the three stages are there, their config files exist, their interaction
        settings are valid and (with ``check_cli``, which parses a stage's stacked configs without building
        anything) their configurations parse (for a study with seeds: those of the first seed's run)."""
        check_study_dir_name(self.study_dir)
        check_seeds(self.seeds)
        missing = [s for s in STAGES if s not in self.stages]
        if missing:
            raise ConfigError(f"the study config has no settings for stage(s) {missing}; give probe, finetune and scratch")
        for s in STAGES:
            for path in self.stages[s].configs:
                resolve_config_path(path)
            self.interaction_callback(s, {})  # validates the sample-set and interaction settings
        estimators = {s: self.stage_interactions(s).estimator for s in STAGES}
        if len(set(estimators.values())) > 1:
            raise ConfigError(f"the stages use different estimators {estimators}; a study compares its regimes' "
                              "dividends, so give every stage the same interactions.estimator (docs/study.md#sparse-studies)")
        if check_cli is not None:
            first = self.runs()[0]
            for s in STAGES:
                try:
                    check_cli(first.stage_args(s))
                except ConfigError as err:
                    raise ConfigError(f"stage {s!r}: {err}") from None

    def fingerprint(self, stage: str) -> str:
        """sha256 of everything that decides a stage's result: its stacked configs (file contents, not
        paths), the sample set and interaction settings."""
        h = hashlib.sha256()
        for a in self.stage_args(stage):
            p = Path(a)
            h.update(p.read_bytes() if a != "--config" and len(a) < 4096 and p.is_file() else a.encode())
        h.update(json.dumps([self.sample_set.fingerprint_fields(), self.stage_interactions(stage).fingerprint_fields(),
                             self.test],
                            sort_keys=True).encode())
        return h.hexdigest()
