"""The study's plan: what each regime runs with (docs/study.md).

A parsed study config becomes a :class:`StudyPlan`: its regimes (:class:`~harsanyi_lightning.study.regimes.RegimeSpec`:
kind, config files, overrides), the one :class:`SampleSetSpec` and the :class:`InteractionSpec`. For each regime the
plan gives the stacked configs of an ordinary LightningCLI (``run=False``)::

    --config <the regime's files>         e.g. configs/sst2_minilm/probe.yaml
    --config <the study's files>          files every regime gets (a data set, a model: configs/data, configs/model)
    --config <shared>                     settings every regime gets (data, backbone, trainer basics)
    --config <the regime's overrides>     per-regime settings (lr, epochs, optimizer)
    --config <managed>                    what the study owns: logger, checkpoint folder

and the two callbacks the study adds through ``trainer_defaults``: an
:class:`~harsanyi_lightning.callbacks.InteractionCallback` on the study's single annotated sample
set ``<study_dir>/annotation.pt`` (built by the first regime that runs, then reused) with its references' final
interactions (:meth:`StudyRegimes.references <harsanyi_lightning.study.regimes.StudyRegimes.references>`), and a
``ModelCheckpoint`` writing ``<regime>/checkpoints/last.ckpt``. Its :meth:`StudyPlan.fingerprint` decides whether a
finished regime still matches its configuration (:mod:`harsanyi_lightning.study.run.regime_run`).

With ``seeds: [0, 1, ...]`` (docs/study.md#seeds) the plan has one run per seed (:meth:`StudyPlan.runs`):
each a plan bound to its seed, whose regimes write into ``<study_dir>/seed_<k>/<regime>``, are measured
against that seed's own references, and get ``seed_everything: <k>`` in the managed layer; the
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

from ..bootstrap_options import BootstrapOptions
from .folders import check_study_dir_name
from ..layout import (
    ANNOTATION,
    SEEDS_FIX,
    checkpoint_path,
    interactions_dir,
    read_json,
    regime_dir,
    seed_dir,
    seeds_problem,
    summary_path,
)
from ..regimes import RegimeSpec, StudyRegimes

__all__ = [
    "DEFAULT_STUDY_CONFIG",
    "REPO_ROOT",
    "InteractionSpec",
    "SampleSetSpec",
    "STUDY_OWNED_OPTIONS",
    "StudyPlan",
    "check_seeds",
    "fingerprint_fields",
    "resolve_config_path",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STUDY_CONFIG = REPO_ROOT / "configs" / "sst2_minilm" / "study.yaml"


#: the InteractionCallback options a study sets itself for each regime (never from the study config): the
#: shared annotation file, the earlier regimes' final interactions, the regime's folder and name
STUDY_OWNED_OPTIONS = ("sample_set", "references", "missing_references", "output_dir", "regime")


def _fingerprint_value(value: Any) -> Any:
    """A field value as it enters a fingerprint: a function by its import path, anything else as it is."""
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    return value


def fingerprint_fields(spec: Any) -> dict:
    """Every field of an option object as it enters a fingerprint."""
    return {f.name: _fingerprint_value(getattr(spec, f.name)) for f in fields(spec)}


@dataclass(frozen=True)
class SampleSetSpec(SampleSetOptions):
    """The study's ``sample_set:`` section: the one annotated sample set of the study
    (docs/method.md#the-annotated-sample-set), every field of
    :class:`~harsanyi_lightning.callbacks.options.SampleSetOptions` (``None`` = the text/image default)."""


@dataclass(frozen=True)
class InteractionSpec(ExtrasOptions, EvaluationOptions):
    """The study's ``interactions:`` section: how every regime evaluates interactions, every field of
    :class:`~harsanyi_lightning.callbacks.options.EvaluationOptions` (docs/method.md#precision-and-budget:
    strict ``fp32`` is exact) and of :class:`~harsanyi_lightning.callbacks.options.ExtrasOptions`
    (docs/method.md#beyond-the-paper: exact Shapley / Banzhaf / pairwise SII, and AND-OR interactions,
    which the report's two-phase view also draws). ``estimator: sparse`` with its ``budget`` estimates the dividends
    of sentences past 16 words (docs/study.md#sparse-studies)."""

    def __post_init__(self) -> None:
        EvaluationOptions.__post_init__(self)
        ExtrasOptions.__post_init__(self)

    def check(self, where: str = "interactions") -> None:
        """``ConfigError`` naming ``where`` for a bad value (all fields are checked when built; this re-checks)."""
        try:
            self.__post_init__()
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None


def resolve_config_path(path: str | Path) -> Path:
    """A regime's config path as given (absolute or from the working directory), else from the repository root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    q = REPO_ROOT / p
    if q.exists():
        return q
    from ..config_errors import nearest_hint

    raise ConfigError(f"regime config {path} not found (looked in {Path.cwd()} and {REPO_ROOT}){nearest_hint(p)}. "
                      "Fix the path in the study config")


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
    """Everything needed to run the regimes; built from the parsed study config."""

    study_dir: Path
    regimes: dict[str, RegimeSpec]
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
    #: config files every regime gets after its own (a data set, a model: docs/study.md#composed-configs)
    configs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seeds = check_seeds(self.seeds)
        if self.seed is not None and (self.seeds is None or self.seed not in self.seeds):
            raise ConfigError(f"seed {self.seed} is not one of the study's seeds {self.seeds}")

    @property
    def order(self) -> StudyRegimes:
        """The regimes with their roles, in the order they train (:class:`~harsanyi_lightning.study.regimes.StudyRegimes`)."""
        return StudyRegimes.of(self.regimes)

    @property
    def run_dir(self) -> Path:
        """The folder holding this plan's regime folders: ``<study_dir>/seed_<seed>``, or the study folder."""
        return self.study_dir if self.seed is None else seed_dir(self.study_dir, self.seed)

    def runs(self) -> list[StudyPlan]:
        """One plan per seed, in the order of ``seeds`` (``[self]`` for a single-seed study)."""
        if self.seeds is None:
            return [self]
        return [replace(self, seed=k) for k in self.seeds]

    def regime_args(self, regime: str) -> list[str]:
        """The stacked ``--config`` arguments of one regime's LightningCLI."""
        spec = self.regimes[regime]
        args: list[str] = []
        for path in [*spec.configs, *self.configs]:
            args += ["--config", str(resolve_config_path(path))]
        for layer in (self.shared, spec.overrides, self.managed(regime)):
            if layer:
                args += ["--config", _yaml(layer)]
        return args

    def managed(self, regime: str) -> dict:
        """Settings the study owns: TensorBoard logs in ``<regime>/tb`` (fixed version, so reruns reuse it) and,
        for a seed's run, ``seed_everything: <seed>``."""
        folder = regime_dir(self.run_dir, regime)
        seeding = {} if self.seed is None else {"seed_everything": self.seed}
        return {
            **seeding,
            "trainer": {
                "default_root_dir": str(folder),
                "enable_checkpointing": True,
                "logger": {
                    "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
                    "init_args": {"save_dir": str(folder), "name": "", "version": "tb", "default_hp_metric": False},
                },
            }
        }

    def interaction_callback(self, regime: str, references: dict[str, str]) -> Callback:
        """The regime's :class:`~harsanyi_lightning.callbacks.InteractionCallback` (its arguments are checked here):
        every field of the ``sample_set`` and the regime's ``interactions`` settings, and the
        :data:`STUDY_OWNED_OPTIONS` the study sets itself."""
        from harsanyi_lightning.callbacks import InteractionCallback

        options = {f.name: getattr(spec, f.name) for spec in (self.sample_set, self.regime_interactions(regime))
                   for f in fields(spec)}
        return InteractionCallback(
            sample_set=str(self.study_dir / ANNOTATION), references=references, missing_references="error",
            output_dir=str(interactions_dir(self.run_dir, regime)), regime=regime, **options,
        )

    def reference_paths(self, regime: str) -> dict[str, str]:
        """``{role: final interactions}`` of the regime's references in this run (docs/method.md#knowledge-metrics)."""
        return {role: str(self.final_artifact(ref)) for role, ref in self.order.references(regime).items()}

    def callbacks(self, regime: str) -> list[Callback]:
        """The interaction callback (shared annotation, its references) and the checkpointing."""
        return [
            self.interaction_callback(regime, self.reference_paths(regime)),
            # `last.ckpt` after every epoch, written atomically in place. (save_top_k=0 with save_last=True
            # writes it only when fit ends in Lightning 2.6, so a killed regime could not resume.)
            ModelCheckpoint(dirpath=str(checkpoint_path(self.run_dir, regime).parent),
                            filename=checkpoint_path(self.run_dir, regime).stem, auto_insert_metric_name=False,
                            save_top_k=1, save_last=False, enable_version_counter=False),
        ]

    def regime_interactions(self, regime: str) -> InteractionSpec:
        """The study's interaction settings with the regime's own ``interactions`` fields applied."""
        extra = dict(self.regimes[regime].interactions or {})
        known = {f.name for f in fields(InteractionSpec)}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise ConfigError(f"regimes.{regime}.interactions has unknown key(s) {unknown}; known: {sorted(known)}")
        try:
            spec = replace(self.interactions, **extra)
        except ConfigError as err:
            raise ConfigError(f"regimes.{regime}.interactions: {err}") from None
        spec.check(f"regimes.{regime}.interactions" if extra else "interactions")
        return spec

    def final_artifact(self, regime: str) -> Path:
        """The final interactions of one of this run's finished regimes (from its summary)."""
        return regime_dir(self.run_dir, regime) / read_json(summary_path(self.run_dir, regime))["final_artifact"]

    def check(self, check_cli: Optional[Callable[[str, list[str]], None]] = None) -> None:
        """Everything that can be checked before any work, each failure a :class:`ConfigError`: the study
        folder's name, the seeds, the regimes (kinds, roles, names), their config files exist, their interaction
        settings are valid and (with ``check_cli``, which parses a regime's stacked configs without building
        anything) their configurations parse (for a study with seeds: those of the first seed's run)."""
        check_study_dir_name(self.study_dir)
        check_seeds(self.seeds)
        order = self.order
        for path in self.configs:
            resolve_config_path(path)
        for name in order.names:
            for path in self.regimes[name].configs:
                resolve_config_path(path)
            self.interaction_callback(name, {})  # validates the sample-set and interaction settings
        estimators = {name: self.regime_interactions(name).estimator for name in order.names}
        if len(set(estimators.values())) > 1:
            raise ConfigError(f"the regimes use different estimators {estimators}; a study compares its regimes' "
                              "dividends, so give every regime the same interactions.estimator (docs/study.md#sparse-studies)")
        if check_cli is not None:
            first = self.runs()[0]
            for name in order.names:
                try:
                    check_cli(name, first.regime_args(name))
                except ConfigError as err:
                    raise ConfigError(f"regime {name!r}: {err}") from None

    def fingerprint(self, regime: str) -> str:
        """sha256 of everything that decides a regime's result: its kind, its stacked configs (file contents, not
        paths), the sample set and interaction settings."""
        h = hashlib.sha256()
        for a in self.regime_args(regime):
            is_file = a != "--config" and "\n" not in a and Path(a).is_file()  # a file's path, or a YAML layer
            h.update(Path(a).read_bytes() if is_file else a.encode())
        h.update(json.dumps([self.regimes[regime].kind, fingerprint_fields(self.sample_set),
                             fingerprint_fields(self.regime_interactions(regime)), self.test],
                            sort_keys=True, default=str).encode())
        return h.hexdigest()
