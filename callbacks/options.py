"""The options of :class:`~harsanyi_lightning.callbacks.InteractionCallback` as typed, frozen objects.

One option surface for the callback, the study YAML and the docs (docs/callback.md, docs/study.md):

- :class:`SampleSetOptions`: how the annotated sample set is chosen and masked
  (docs/method.md#the-annotated-sample-set);
- :class:`EvaluationOptions`: when and how the model is evaluated (docs/method.md#precision-and-budget);
- :class:`ExtrasOptions`: what is computed beyond the dividends (docs/method.md#beyond-the-paper);
- :class:`RunOptions`: where one run reads its sample set and references and writes its artifacts
  (a study sets these itself for each of its regimes).

Each object checks its fields in ``__post_init__`` and raises
:class:`~harsanyi_lightning.interactions.errors.ConfigError` naming the option and the fix, so a bad
value fails when the callback (or the study config) is built, before any training. The few checks
that need two groups at once are :func:`check_option_groups`.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from harsanyi_lightning.interactions.and_or import (
    DEFAULT_NOISE_BOUND,
    MAX_AND_OR_VARIABLES,
    SOLVERS,
    check_and_or_options,
)
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.interactions.estimators import Estimator, build_estimator, estimator_class
from harsanyi_lightning.interactions.precision import check_precision
from harsanyi_lightning.interactions.image_sample_set import check_image_options, patch_grid
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES, check_num_variables

#: the sample set's baseline: the mean input (the paper's) or zeros
BASELINES = ("mean", "zeros")
#: what happens to the input outside the variables: kept as it is, or set to the baseline
BACKGROUNDS = ("keep", "baseline")
#: on a NaN/inf model output: stop, or leave the sample out and record it
ON_NONFINITE = ("raise", "skip")
#: a reference path that does not exist: fail at ``setup``, or skip it with a warning
MISSING_REFERENCES = ("error", "warn")
#: the reference roles a run is measured against (v_pretrain, v_finetune in the paper's equations)
REFERENCE_ROLES = ("pretrain", "finetune")
#: the number of variables an image sample set is built with when ``n`` is not given (paper, D.1)
DEFAULT_IMAGE_VARIABLES = 12
#: a ``forward`` given by name: dotted identifiers (an attribute chain or an import path), one ``:`` allowed
FORWARD_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?")


def _positive_int(name: str, value: object, fix: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be an integer >= 1; {fix}")


def _one_of(name: str, value: object, allowed: tuple[str, ...], fix: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} must be {fix}")


def _training_steps(value: object) -> list[int]:
    """``at_steps`` checked: a list of integers >= 1 (global steps), returned sorted and without repeats."""
    fix = "give a list of global steps (optimizer steps) >= 1, e.g. at_steps=[25, 50, 100, 200]"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"at_steps={value!r} must be a list of integers >= 1; {fix}")
    steps = list(value)
    for step in steps:
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ConfigError(f"at_steps={steps!r} holds {step!r}, not an integer >= 1 (step 0 is always evaluated); "
                              f"{fix}")
    return sorted(set(steps))


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be true or false")


@dataclass(frozen=True)
class SampleSetOptions:
    """How the annotated sample set is built from the datamodule's ``annotation_pool(pool_split)``
    (docs/method.md#the-annotated-sample-set); ``None`` takes the text / image defaults of
    :func:`~harsanyi_lightning.interactions.build_sample_set`.

    Args:
        n: input variables per sample: words of a sentence, patches of an image (``None``: 10 words, 12 patches);
            each evaluation costs ``2**n`` forward passes per sample.
        num_samples: text only, the sentences drawn, each of exactly ``n`` words (``None``: 50).
        per_class: images only, the images drawn per class (``None``: 2, the paper's).
        seed: the seed of the draw; the same seed and pool give the same sample set.
        baseline: what a masked variable becomes: ``"mean"`` (the mean training image; the paper's) or
            ``"zeros"``; text always takes the tokenizer's ``[MASK]``.
        background: images only, ``"keep"`` the patches that are not variables, or set them to the ``"baseline"``.
        pool_split: the datamodule split the samples are drawn from (``"val"``, ``"test"``; never ``"train"``).
        grid: images only, the patch grid: patches per side or ``[rows, cols]`` (``None``: the paper's 8).
        region: images only, the central block of the grid the variables are drawn from, per side or
            ``[rows, cols]`` (``None``: the central 6x6 of the 8x8 grid, the whole grid on any other).
        candidates: images only, explicit patch indices (row-major) the variables are drawn from.
        max_variables: the cap on ``n`` (16; up to 62 with ``estimator: sparse``).
    """

    n: Optional[int] = None
    num_samples: Optional[int] = None
    per_class: Optional[int] = None
    seed: int = 0
    baseline: str = "mean"
    background: str = "keep"
    pool_split: str = "val"
    grid: Union[int, list[int], None] = None
    region: Union[int, list[int], None] = None
    candidates: Optional[list[int]] = None
    max_variables: int = DEFAULT_MAX_VARIABLES

    def __post_init__(self) -> None:
        _positive_int("max_variables", self.max_variables, "the default is 16")
        if self.n is not None:
            check_num_variables(self.n, self.max_variables)
        if self.num_samples is not None:
            _positive_int("num_samples", self.num_samples, "or None for the default (50 sentences)")
        if self.per_class is not None:
            _positive_int("per_class", self.per_class, "or None for the default (2 images per class)")
        _one_of("baseline", self.baseline, BASELINES, "'mean' (paper) or 'zeros'")
        _one_of("background", self.background, BACKGROUNDS, "'keep' (default) or 'baseline'")
        if self.has_image_options:
            # n unset: a loaded file brings its own n (see check_build for a sample set still to build)
            check_image_options(self.grid, self.region, self.candidates, self.n)
        if self.grid is not None:
            object.__setattr__(self, "grid", list(patch_grid(self.grid)))
        if self.region is not None and not isinstance(self.region, int):
            object.__setattr__(self, "region", [int(r) for r in self.region])
        if self.candidates is not None:
            object.__setattr__(self, "candidates", [int(p) for p in self.candidates])

    @property
    def has_image_options(self) -> bool:
        """Whether any of ``grid``, ``region``, ``candidates`` is set."""
        return (self.grid, self.region, self.candidates) != (None, None, None)

    def check_build(self) -> None:
        """For a sample set that will be built (no annotation file to load): the image options leave
        room for the ``n`` variables the build draws (``n``, else the image default of 12)."""
        if self.has_image_options and self.n is None:
            check_image_options(self.grid, self.region, self.candidates, DEFAULT_IMAGE_VARIABLES)


@dataclass(frozen=True)
class EvaluationOptions:
    """When and how the model is evaluated (docs/callback.md, docs/method.md#precision-and-budget).

    Args:
        every_n_epochs: evaluate after every that many epochs (and always before training and after the last epoch).
        batch_size: masked inputs per forward pass of an evaluation.
        precision: ``"fp32"`` (strict, TF32 off; exact) or an audited faster one (``"tf32"``, ``"fp16"``, ``"bf16"``;
            the audit's error is logged as ``interactions/audit_rel_l1``).
        figures: log a figure per evaluation to the loggers that draw figures (TensorBoard, MLflow, W&B).
        progress: show a progress bar per evaluation on rank zero.
        on_nonfinite: ``"raise"`` on a NaN/inf model output, or ``"skip"`` the sample (listed in the artifact).
        forward: a function ``forward(model, inputs) -> logits``, or a name resolved at ``setup`` (an attribute chain
            on the module holding the network, ``"net"``, else an import path; see
            :mod:`~harsanyi_lightning.callbacks.model_forward`); ``None``: call the module on the masked inputs.
        dashboard: write a custom-scalars layout (the paper's curves) once per fit to the loggers that take one.
        every_n_steps: also evaluate inside an epoch whenever the global step (optimizer steps) is a positive
            multiple of it (docs/callback.md#evaluations-inside-an-epoch).
        at_steps: also evaluate at these global steps, e.g. log-spaced ``[25, 50, 100, 200]`` (kept sorted and
            unique; docs/callback.md#evaluations-inside-an-epoch).
        estimator: ``"exact"`` (all ``2**n`` masks) or ``"sparse"`` (``budget`` masks per sample, ``n <= 62``;
            docs/method.md#sparse-estimation).
        budget: the sparse estimator's masked forward passes per sample (required with ``estimator: sparse``).
        max_order: the sparse estimator's largest subset size (``None``: no cap).
    """

    every_n_epochs: int = 1
    batch_size: int = 256
    precision: str = "fp32"
    figures: bool = True
    progress: bool = True
    on_nonfinite: str = "raise"
    forward: Union[str, Callable, None] = None
    dashboard: bool = True
    every_n_steps: Optional[int] = None
    at_steps: Optional[list[int]] = None
    estimator: str = "exact"
    budget: Optional[int] = None
    max_order: Optional[int] = None

    def __post_init__(self) -> None:
        self.check_estimator()
        _positive_int("every_n_epochs", self.every_n_epochs, "e.g. every_n_epochs=1 evaluates after every epoch")
        if self.every_n_steps is not None:
            _positive_int("every_n_steps", self.every_n_steps,
                          "it counts optimizer steps, e.g. every_n_steps=50; or None for no evaluations inside an epoch")
        if self.at_steps is not None:
            object.__setattr__(self, "at_steps", _training_steps(self.at_steps))
        _positive_int("batch_size", self.batch_size, "it is the number of masked inputs per forward pass, e.g. 256")
        check_precision(self.precision)
        _one_of("on_nonfinite", self.on_nonfinite, ON_NONFINITE, "'raise' or 'skip'")
        if isinstance(self.forward, str):
            if not FORWARD_NAME.fullmatch(self.forward):
                raise ConfigError(
                    f"forward={self.forward!r} is not a name: give the attribute that holds the network (forward: "
                    "net, forward: model.backbone) or the import path of a function (package.module.function)")
        elif self.forward is not None and not callable(self.forward):
            raise ConfigError(f"forward={self.forward!r} must be a function forward(model, inputs) -> logits, or the "
                              "name of the attribute that holds the network (forward: net)")

    def check_estimator(self) -> None:
        """``estimator`` names an estimator that takes ``budget``, ``max_order`` and ``on_nonfinite`` as given
        (:mod:`~harsanyi_lightning.interactions.estimators`)."""
        estimator_class(self.estimator).check_options(budget=self.budget, max_order=self.max_order,
                                                      on_nonfinite=self.on_nonfinite, max_variables=self.estimator_cap)

    @property
    def estimator_cap(self) -> int:
        """The most variables the chosen estimator takes."""
        return estimator_class(self.estimator).variable_cap

    def build_estimator(self, max_variables: int) -> Estimator:
        """The estimator these options describe, for sample sets of at most ``max_variables`` variables."""
        return build_estimator(self.estimator, precision=self.precision, batch_size=self.batch_size,
                               on_nonfinite=self.on_nonfinite, budget=self.budget, max_order=self.max_order,
                               max_variables=max_variables)


@dataclass(frozen=True)
class ExtrasOptions:
    """What is computed from the same values beyond the dividends (docs/method.md#beyond-the-paper).

    Args:
        attributions: also store exact Shapley and Banzhaf values and the pairwise Shapley interaction index,
            computed from the dividends (no forward pass).
        and_or: also compute AND-OR interactions, store them and log ``interactions/and_or/*`` (``n <= 12``; an
            exact LP costs about a third of an evaluation per sample on a CPU).
        and_or_solver: ``"lp"`` (exact, HiGHS, CPU) or ``"gradient"`` (batched on the model's device, certified gap).
        and_or_noise_bound: ``delta`` in ``|q_T| <= delta·|v(x_N) - v(x_∅)|``, the noise the AND-OR split may absorb.
    """

    attributions: bool = True
    and_or: bool = False
    and_or_solver: str = "lp"
    and_or_noise_bound: float = DEFAULT_NOISE_BOUND

    def __post_init__(self) -> None:
        _flag("attributions", self.attributions)
        _flag("and_or", self.and_or)
        try:
            check_and_or_options(self.and_or_solver, DEFAULT_NOISE_BOUND)
        except ConfigError:
            raise ConfigError(f"and_or_solver={self.and_or_solver!r}; choose one of {', '.join(SOLVERS)}") from None
        try:
            check_and_or_options(SOLVERS[0], self.and_or_noise_bound)
        except ConfigError:
            raise ConfigError(
                f"and_or_noise_bound={self.and_or_noise_bound!r}; pass a finite number >= 0 (the default is "
                f"{DEFAULT_NOISE_BOUND})"
            ) from None
        object.__setattr__(self, "and_or_noise_bound", float(self.and_or_noise_bound))

    def check_num_variables(self, n: Optional[int]) -> None:
        """With ``and_or`` on, a sample set of ``n`` variables must have ``n <= 12`` (the LP's cost)."""
        if self.and_or and n is not None and n > MAX_AND_OR_VARIABLES:
            raise ConfigError(
                f"the sample set has n = {n} variables; AND-OR interactions are limited to n <= "
                f"{MAX_AND_OR_VARIABLES}: the linear program has 3**n = {3 ** n:,} nonzeros per transform matrix "
                "and its time grows about 5x per variable (about 35 s per sample for the exact LP at n = 12 on 2 "
                "CPU cores). Use fewer input variables or and_or=False"
            )


@dataclass(frozen=True)
class RunOptions:
    """Where one run reads and writes: the annotation file ``sample_set`` (loaded when it exists, else
    built and saved there), the ``references`` ``{"pretrain": path, "finetune": path}``, what a missing
    reference does (``missing_references``), ``output_dir`` and the ``regime`` recorded in artifacts.
    A study sets all of these itself for each regime (docs/study.md)."""

    sample_set: Optional[str] = None
    references: dict[str, str] = field(default_factory=dict)
    missing_references: str = "error"
    output_dir: Optional[str] = None
    regime: Optional[str] = None

    def __post_init__(self) -> None:
        _one_of("missing_references", self.missing_references, MISSING_REFERENCES, "'error' (default) or 'warn'")
        references = dict(self.references or {})
        unknown = sorted(set(references) - set(REFERENCE_ROLES))
        if unknown:
            raise ConfigError(f"references has unknown key(s) {unknown}; use {list(REFERENCE_ROLES)}")
        if "finetune" in references and "pretrain" not in references:
            raise ConfigError("references.finetune needs references.pretrain too (the ratio of eq. 8 uses both)")
        object.__setattr__(self, "references", {k: str(v) for k, v in references.items()})
        if self.sample_set is not None:
            object.__setattr__(self, "sample_set", str(self.sample_set))
        if self.output_dir is not None:
            object.__setattr__(self, "output_dir", str(self.output_dir))


def check_option_groups(run: RunOptions, sampling: SampleSetOptions, extras: ExtrasOptions,
                        evaluation: Optional[EvaluationOptions] = None, *, build: bool = True) -> None:
    """The checks that need two groups: a sample set to build (no ``sample_set`` file named, and ``build``: none
    handed over as an object) leaves room for its variables, AND-OR interactions get at most 12 variables and an
    estimator whose result holds every value, and the estimator takes ``max_variables`` and ``n``."""
    if build and run.sample_set is None:
        sampling.check_build()
    extras.check_num_variables(sampling.n)
    if evaluation is None:
        return
    estimator = evaluation.build_estimator(sampling.max_variables)
    if sampling.n is not None:
        estimator.check_variables(sampling.n)
    if extras.and_or and not estimator.supports_and_or:
        raise ConfigError(f"and_or with estimator={evaluation.estimator!r} is not supported (AND-OR interactions need "
                          "every value); use estimator='exact' or turn and_or off (docs/callback.md#sparse-estimates)")


#: the option groups of a recorder and the attribute that holds each, in the order an option is looked up
OPTION_GROUPS = {"run": RunOptions, "sampling": SampleSetOptions, "evaluation": EvaluationOptions,
                 "extras": ExtrasOptions}


@dataclass(frozen=True)
class RecorderOptions:
    """Every option of an interaction recorder, in its four groups, checked together
    (:func:`check_option_groups`). ``build``: the sample set may be built (none is handed over as an object)."""

    run: RunOptions = field(default_factory=RunOptions)
    sampling: SampleSetOptions = field(default_factory=SampleSetOptions)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    extras: ExtrasOptions = field(default_factory=ExtrasOptions)
    build: bool = True

    def __post_init__(self) -> None:
        check_option_groups(self.run, self.sampling, self.extras, self.evaluation, build=self.build)

    @classmethod
    def from_arguments(cls, *, build: bool = True, **arguments: Any) -> RecorderOptions:
        """The groups of flat keyword arguments (``n=10, at_steps=[25], and_or=True``), each to the group that
        declares it; an unknown name is a :class:`ConfigError` that suggests the closest one."""
        known = {name: group for group, kind in OPTION_GROUPS.items() for name in kind.__dataclass_fields__}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            hints = [f"{name!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
                name, known, n=1)) else "") for name in unknown]
            raise ConfigError(f"unknown interaction option(s) {', '.join(hints)}; the options are "
                              f"{', '.join(sorted(known))} (docs/callback.md#arguments)")
        grouped: dict[str, dict[str, Any]] = {group: {} for group in OPTION_GROUPS}
        for name, value in arguments.items():
            grouped[known[name]][name] = value
        if grouped["run"].get("references") is None:
            grouped["run"]["references"] = {}
        return cls(**{group: OPTION_GROUPS[group](**values) for group, values in grouped.items()}, build=build)

    def lookup(self, name: str) -> Any:
        """An option's value by its name (``n``, ``every_n_epochs``, ...); ``AttributeError`` for any other name."""
        for group in OPTION_GROUPS:
            options = getattr(self, group)
            if name in options.__dataclass_fields__:
                return getattr(options, name)
        raise AttributeError(name)


__all__ = [
    "BACKGROUNDS",
    "BASELINES",
    "DEFAULT_IMAGE_VARIABLES",
    "FORWARD_NAME",
    "MISSING_REFERENCES",
    "ON_NONFINITE",
    "OPTION_GROUPS",
    "REFERENCE_ROLES",
    "EvaluationOptions",
    "ExtrasOptions",
    "RecorderOptions",
    "RunOptions",
    "SampleSetOptions",
    "check_option_groups",
]
