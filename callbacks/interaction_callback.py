"""``InteractionCallback``: Harsanyi interactions of the model at every epoch end, beside the loss.

Add it to any Lightning ``Trainer``, of the unified ``lightning`` package (``lightning.pytorch``)
or of ``pytorch_lightning``, in Python or by class path in a LightningCLI YAML: the class derives
from the ``Callback`` base of every installed Lightning package (one class, one class path, the
same artifacts and tags; see :mod:`harsanyi_lightning.callbacks.lightning_compat` for why). On ``fit`` it

1. gets the annotated sample set (SPEC section 2): loads ``sample_set`` when it is an
   existing annotation file, else builds one from ``trainer.datamodule.annotation_pool(pool_split)``
   (images at any ``C x H x W`` on any patch ``grid``; default the paper's 224 / 8x8 protocol);
2. evaluates the model once before the first training step (epoch 0) and after every
   ``every_n_epochs`` epochs and the final epoch: ``values[sample, mask]`` of all ``2**n`` masks
   in strict fp32 (SPEC section 6), dividends by the fast Möbius transform (eq. 2);
3. from the same values, optionally computes exact attributions (Shapley, Banzhaf, pairwise SII;
   ``attributions``, on by default) and AND-OR interactions (``and_or``, off by default) (SPEC section 7);
4. writes ``<output_dir>/epoch_XXX.pt`` atomically and logs ``interactions/*`` and, given
   references, ``knowledge/*`` (SPEC section 4) at Lightning's logging step: epoch 0 at step 0, a
   later epoch at the very step where Lightning logs that epoch's epoch-end metrics
   (``self.log(..., on_epoch=True)``), so the curves sit beside the loss;
5. at the end of training logs ``knowledge/jaccard_to_final`` (eq. 9) at each evaluated epoch's
   recorded step and writes ``jaccard.json`` and ``final.json``.

Loggers are used by capability: every logger gets the scalars through ``log_metrics``
(TensorBoard, CSV, MLflow, W&B, ...); loggers whose ``experiment`` has ``add_figure`` get the
figures and those with ``add_custom_scalars`` a custom-scalars dashboard (once per fit).
Under DDP each rank evaluates a contiguous share of the samples and the values are
gathered (the AND-OR problems are solved the same way: each rank its share, then gathered), so
every rank holds the same results; rank zero writes files and logs. Rank zero holds ``output_dir``'s
lock from ``setup`` to the end of ``fit`` (:mod:`harsanyi_lightning.callbacks.folder_lock`): a second run writing into
the same folder, or into a study folder in use, stops at ``setup`` with
:class:`~harsanyi_lightning.interactions.errors.FolderInUseError`. The evaluated epochs are part of the checkpoint
(``state_dict``), so a resumed fit continues the same history.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable

import torch

from harsanyi_lightning.interactions.and_or import (
    DEFAULT_NOISE_BOUND,
    AndOrInteractions,
    and_or_interactions,
    and_or_strength_by_order,
    check_and_or_options,
    check_and_or_variables,
)
from harsanyi_lightning.interactions.artifacts import content_hash, save_artifact
from harsanyi_lightning.interactions.attributions import banzhaf_values, shapley_interaction_index, shapley_values
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError, FolderInUseError, NumericsError
from harsanyi_lightning.callbacks.folder_lock import FolderLock, lock_folder
from harsanyi_lightning.interactions.metrics import strength_by_order
from harsanyi_lightning.interactions.precision import check_precision
from harsanyi_lightning.interactions.image_sample_set import check_image_options, patch_grid
from harsanyi_lightning.interactions.pool_sample_set import build_sample_set
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet, check_num_variables
from harsanyi_lightning.interactions.transform import harsanyi_dividends
from harsanyi_lightning.interactions.values import audit_precision, check_finite, compute_values, default_forward, nonfinite_samples

from . import figures as _figures
from .history import (
    ANNOTATION_FILE,
    FINAL_POINTER,
    JACCARD_FILE,
    check_writable,
    epoch_path,
    load_interactions,
    load_reference,
    reference_exists,
    role_regime,
    verify_history_entry,
    write_json,
)
from .knowledge_logging import (
    and_or_metrics,
    dashboard_layout,
    interaction_metrics,
    jaccard_curve,
    knowledge_metrics,
    ratio_metrics,
)
from .lightning_compat import CALLBACK_BASES, figure_writers, layout_writers, logging_step, rank_zero_warn
from .sharding import gather_values, shard_indices

REFERENCE_ROLES = ("pretrain", "finetune")

#: ``pytorch_lightning.Trainer`` or ``lightning.pytorch.Trainer`` (type hints only: the module imports neither)
Trainer = Any
#: ``pytorch_lightning.LightningModule`` or ``lightning.pytorch.LightningModule``
LightningModule = Any


def _positive_int(name: str, value: Any, fix: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be an integer >= 1; {fix}")


def _check_and_or(solver: str, noise_bound: float, n: int | None) -> None:
    """The core's AND-OR option checks, worded for this callback's ``and_or_*`` options."""
    try:
        if n is not None:
            check_and_or_variables(n)
    except ConfigError as err:
        raise ConfigError(f"the sample set has {err} or and_or=False") from None
    try:
        check_and_or_options(solver, noise_bound)
    except ConfigError as err:  # the core's message starts with the option's name: solver=... / noise_bound=...
        raise ConfigError(f"and_or_{err}") from None


def model_name(pl_module: LightningModule) -> str:
    """The architecture recorded in artifacts: ``pl_module.backbone`` when it is a string, else the class name."""
    backbone = getattr(pl_module, "backbone", None)
    return backbone if isinstance(backbone, str) else type(pl_module).__name__


def dataset_name(trainer: Trainer, sample_set: AnnotatedSampleSet) -> str:
    """The data set recorded in artifacts: the datamodule's class name, else the sample set's pool name."""
    dm = getattr(trainer, "datamodule", None)
    if dm is not None:
        return type(dm).__name__
    return str(sample_set.meta.get("pool", sample_set.kind))


def evaluation_step(trainer: Trainer, epoch: int) -> int:
    """The logging step of the evaluation after ``epoch`` training epochs: 0 for epoch 0, else the step at
    which Lightning logs the epoch-end metrics of the epoch just finished (its batch counter minus one,
    the same counter ``self.log`` and ``LearningRateMonitor`` use)."""
    return 0 if epoch == 0 else max(logging_step(trainer) - 1, 0)


class InteractionCallback(*CALLBACK_BASES):
    """Compute, store and log the Harsanyi interactions of the model during ``fit``.

    Args:
        sample_set: path of an annotation file. Loaded (hash-checked) when it exists; otherwise the
            sample set is built from the datamodule's ``annotation_pool(pool_split)`` and saved there,
            so several runs of a study can share it. ``None``: build, save only beside the logs.
        n, num_samples, per_class, seed, baseline, background: how to build the sample set
            (SPEC section 2; ``None`` takes the text / image defaults of ``build_sample_set``).
        grid, region, candidates: images only, how the sample set is built: the patch grid
            (patches per side or ``[rows, cols]``; default the paper's 8), the central block the
            variables are drawn from (default: central 6x6 on the 8x8 grid, the whole grid on any other)
            or explicit candidate patch indices. A loaded ``sample_set`` must have the same grid.
        pool_split: the datamodule split the samples are drawn from.
        every_n_epochs: evaluate after every ``every_n_epochs`` epochs (and always at epoch 0 and the end).
        batch_size: masked inputs per forward pass.
        precision: ``"fp32"`` (strict, TF32 off; default) or an audited faster one (``"tf32"``,
            ``"fp16"``, ``"bf16"``; the audit error is logged as ``interactions/audit_rel_l1``).
        references: ``{"pretrain": path, "finetune": path}``, each an ``epoch_XXX.pt`` file or an
            interactions folder (its final epoch); checked at ``setup``.
        output_dir: where artifacts go; default ``<trainer.log_dir>/interactions``.
        regime: recorded in artifacts; default ``pl_module.regime`` when it exists.
        forward: ``forward(model, inputs) -> logits[batch, classes]``; default calls the module on the
            masked inputs (keyword arguments for Hugging Face style ``input_ids``).
        figures: log a figure per evaluation to loggers that draw figures (TensorBoard).
        dashboard: write a custom-scalars layout (the paper's curves) once per fit to loggers that take
            one (TensorBoard).
        progress: show a progress bar on rank zero.
        on_nonfinite: ``"raise"`` on a NaN/inf model output, or ``"skip"`` the sample (recorded).
        max_variables: the cap on ``n`` (cost ``2**n`` forward passes per sample).
        attributions: also store exact Shapley and Banzhaf values (``shapley[sample, i]``,
            ``banzhaf[sample, i]``) and the pairwise Shapley interaction index (``sii[sample, i, j]``),
            computed from the dividends (SPEC section 7; one matrix product each, no forward pass).
        and_or: also compute AND-OR interactions (SPEC section 7) from the same values, store them
            (``and_or``) and log ``interactions/and_or/*``. Off by default: the exact LP costs about 0.6 s
            per sample at n = 10 on 2 CPU cores, a third of an evaluation of the embedded default
            (docs/callback.md). Needs ``n <= 12``.
        and_or_solver: ``"lp"`` (exact, HiGHS, CPU; default) or ``"gradient"`` (batched on the model's
            device, certified gap; faster at n = 12).
        and_or_noise_bound: ``delta`` in ``|q_T| <= delta·|v(x_N) - v(x_∅)|`` (default 0.04).
        missing_references: ``"error"`` (default): a reference path that does not exist fails at
            ``setup``; ``"warn"``: it is skipped with a warning (the plain ``cli.py fit`` configs use
            this, so finetune runs before its probe exists, just without the ``knowledge/*`` curves).
            A reference that exists but is corrupt or from another annotation always fails.
    """

    def __init__(
        self,
        sample_set: str | None = None,
        n: int | None = None,
        num_samples: int | None = None,
        per_class: int | None = None,
        seed: int = 0,
        baseline: str = "mean",
        background: str = "keep",
        pool_split: str = "val",
        every_n_epochs: int = 1,
        batch_size: int = 256,
        precision: str = "fp32",
        references: dict[str, str] | None = None,
        output_dir: str | None = None,
        regime: str | None = None,
        forward: Callable | None = None,
        figures: bool = True,
        progress: bool = True,
        on_nonfinite: str = "raise",
        max_variables: int = DEFAULT_MAX_VARIABLES,
        missing_references: str = "error",
        grid: int | list[int] | None = None,
        region: int | list[int] | None = None,
        candidates: list[int] | None = None,
        dashboard: bool = True,
        attributions: bool = True,
        and_or: bool = False,
        and_or_solver: str = "lp",
        and_or_noise_bound: float = DEFAULT_NOISE_BOUND,
    ) -> None:
        super().__init__()
        _positive_int("every_n_epochs", every_n_epochs, "e.g. every_n_epochs=1 evaluates after every epoch")
        _positive_int("batch_size", batch_size, "it is the number of masked inputs per forward pass, e.g. 256")
        _positive_int("max_variables", max_variables, "the default is 16")
        if n is not None:
            check_num_variables(n, max_variables)
        if num_samples is not None:
            _positive_int("num_samples", num_samples, "or None for the default (50 sentences)")
        if per_class is not None:
            _positive_int("per_class", per_class, "or None for the default (2 images per class)")
        check_precision(precision)
        if baseline not in ("mean", "zeros"):
            raise ConfigError(f"baseline={baseline!r} must be 'mean' (paper) or 'zeros'")
        if background not in ("keep", "baseline"):
            raise ConfigError(f"background={background!r} must be 'keep' (default) or 'baseline'")
        if on_nonfinite not in ("raise", "skip"):
            raise ConfigError(f"on_nonfinite={on_nonfinite!r} must be 'raise' or 'skip'")
        if missing_references not in ("error", "warn"):
            raise ConfigError(f"missing_references={missing_references!r} must be 'error' (default) or 'warn'")
        if forward is not None and not callable(forward):
            raise ConfigError(f"forward={forward!r} must be a function forward(model, inputs) -> logits")
        for name, flag in (("attributions", attributions), ("and_or", and_or)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{name}={flag!r} must be true or false")
        _check_and_or(and_or_solver, and_or_noise_bound, n if and_or else None)
        if (grid, region, candidates) != (None, None, None):
            # a sample set to build has n = 12 by default; a loaded file brings its own n
            check_image_options(grid, region, candidates, n if n is not None or sample_set is not None else 12)
        references = dict(references or {})
        unknown = sorted(set(references) - set(REFERENCE_ROLES))
        if unknown:
            raise ConfigError(f"references has unknown key(s) {unknown}; use {list(REFERENCE_ROLES)}")
        if "finetune" in references and "pretrain" not in references:
            raise ConfigError("references.finetune needs references.pretrain too (the ratio of eq. 8 uses both)")
        self.sample_set = None if sample_set is None else str(sample_set)
        self.n, self.num_samples, self.per_class, self.seed = n, num_samples, per_class, seed
        self.baseline, self.background, self.pool_split = baseline, background, pool_split
        self.every_n_epochs, self.batch_size, self.precision = every_n_epochs, batch_size, precision
        self.references = {k: str(v) for k, v in references.items()}
        self.output_dir = None if output_dir is None else str(output_dir)
        self.regime, self.forward, self.figures, self.progress = regime, forward, figures, progress
        self.on_nonfinite, self.max_variables = on_nonfinite, max_variables
        self.missing_references = missing_references
        self.grid = None if grid is None else list(patch_grid(grid))
        self.region = None if region is None else (region if isinstance(region, int) else [int(r) for r in region])
        self.candidates = None if candidates is None else [int(p) for p in candidates]
        self.dashboard = dashboard
        self.attributions, self.and_or = attributions, and_or
        self.and_or_solver, self.and_or_noise_bound = and_or_solver, float(and_or_noise_bound)
        # run state (set in setup)
        self._active = False
        self._samples: AnnotatedSampleSet | None = None
        self._annotation_hash: str | None = None
        self._dir: Path | None = None
        self._model: str | None = None
        self._dataset: str | None = None
        self._regime: str | None = None
        self._refs: dict[str, torch.Tensor] = {}
        #: epoch -> {"path": str, "sha256": str}; part of the checkpoint
        self._history: dict[int, dict[str, str]] = {}
        self._restored_hash: str | None = None
        self._verified = False
        self._layout_written = False
        self._lock: FolderLock | None = None  # output_dir's lock, held by rank zero during fit
        self._finished = False  # jaccard.json and final.json written for this fit

    # ------------------------------------------------------------------ state

    @property
    def state_key(self) -> str:
        image = {k: v for k, v in (("grid", self.grid), ("region", self.region), ("candidates", self.candidates))
                 if v is not None}  # only when set, so checkpoints written before these options still match
        # likewise AND-OR only when on (it changes what is measured); attributions never (they follow
        # from the dividends)
        and_or = dict(and_or=True, and_or_solver=self.and_or_solver,
                      and_or_noise_bound=self.and_or_noise_bound) if self.and_or else {}
        return self._generate_state_key(
            sample_set=self.sample_set, n=self.n, num_samples=self.num_samples, per_class=self.per_class,
            seed=self.seed, baseline=self.baseline, background=self.background, pool_split=self.pool_split,
            precision=self.precision, regime=self.regime, **image, **and_or,
        )

    def state_dict(self) -> dict[str, Any]:
        """The evaluated epochs (artifact path + sha256 each) and the annotation hash."""
        return {
            "annotation_hash": self._annotation_hash,
            "history": {int(e): dict(v) for e, v in sorted(self._history.items())},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history of a checkpoint; the files are verified at ``on_train_start``."""
        self._restored_hash = state_dict.get("annotation_hash")
        self._history = {int(e): dict(v) for e, v in state_dict.get("history", {}).items()}
        self._verified = False

    @property
    def history(self) -> dict[int, dict[str, str]]:
        """``{epoch: {"path", "sha256"}}`` of the evaluations so far (a copy)."""
        return {e: dict(v) for e, v in self._history.items()}

    @property
    def annotated_sample_set(self) -> AnnotatedSampleSet | None:
        """The sample set of the current fit (after ``setup``)."""
        return self._samples

    # ------------------------------------------------------------------ hooks

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if trainer.fast_dev_run:
            rank_zero_warn("InteractionCallback does nothing under fast_dev_run")
            self._active = False
            return
        self._active = True
        self._dir = self._resolve_output_dir(trainer)
        self._samples = self._get_sample_set(trainer)
        if self.and_or:  # same sample set on every rank: all raise together, before any training
            _check_and_or(self.and_or_solver, self.and_or_noise_bound, self._samples.n)
        self._annotation_hash = self._samples.hash
        self._model = model_name(pl_module)
        self._dataset = dataset_name(trainer, self._samples)
        self._regime = self.regime if self.regime is not None else getattr(pl_module, "regime", None)
        self._refs = self._load_references()
        self._layout_written = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._active:
            return
        self._verify_restored_history(trainer)
        if self.dashboard and trainer.is_global_zero and not self._layout_written:
            self._write_layout(trainer)
        epoch = trainer.current_epoch  # 0 on a fresh fit; completed epochs on a resumed one
        if (epoch == 0 or epoch % self.every_n_epochs == 0) and epoch not in self._history:
            self._evaluate(trainer, pl_module, epoch)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._active or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs:
            self._evaluate(trainer, pl_module, epoch)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finished = False

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._active:
            self._end_of_training(trainer, pl_module)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """A fit resumed from a checkpoint written after its last epoch (the run that wrote it stopped
        before the end of training: killed, or a write of ``jaccard.json`` failed) runs no training loop,
        so no ``on_train_start`` / ``on_train_end``: finish its files here."""
        if self._active and not self._finished:
            self._end_of_training(trainer, pl_module)

    def _end_of_training(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Evaluate the final epoch if it was not (stopped early: max_steps, early stopping, ...), then rank
        zero writes the Jaccard curve and the final pointer."""
        self._verify_restored_history(trainer)  # a no-op once verified at on_train_start
        epoch = trainer.current_epoch
        if epoch not in self._history:
            self._evaluate(trainer, pl_module, epoch)
        if trainer.is_global_zero:
            self._finish(trainer)
        self._finished = True

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            self._active = False
            self._release_lock()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._active = False
        self._release_lock()

    # ------------------------------------------------------------------ setup helpers

    def _resolve_output_dir(self, trainer: Trainer) -> Path:
        folder = self.output_dir
        if folder is None:
            log_dir = trainer.log_dir  # a collective call under DDP: every rank makes it
            folder = os.path.join(log_dir or trainer.default_root_dir, "interactions")
        error = None
        if trainer.is_global_zero:
            try:
                check_writable(folder)
                self._release_lock()
                self._lock = lock_folder(folder, "output_dir")
            except (ConfigError, FolderInUseError) as err:
                error = (type(err).__name__, str(err))
        error = trainer.strategy.broadcast(error, src=0)
        if error:
            raise (FolderInUseError if error[0] == "FolderInUseError" else ConfigError)(error[1])
        return Path(folder).resolve()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _get_sample_set(self, trainer: Trainer) -> AnnotatedSampleSet:
        """Load ``sample_set`` when it is a file, else build it from the datamodule's pool; save copies."""
        copy_path = self._dir / ANNOTATION_FILE
        if self.sample_set is not None and Path(self.sample_set).is_file():
            samples = AnnotatedSampleSet.load(self.sample_set)
            check_num_variables(samples.n, self.max_variables)
            if self.n is not None and samples.n != self.n:
                raise ConfigError(
                    f"sample_set {self.sample_set} has n={samples.n} variables but n={self.n} was asked; "
                    "drop n or use another annotation file"
                )
            if self.grid is not None and list(samples.grid or []) != self.grid:
                found = "no patch grid" if samples.grid is None else "a {}x{} patch grid".format(*samples.grid)
                raise ConfigError(
                    f"sample_set {self.sample_set} has {found} but grid={self.grid} was asked; "
                    "drop grid or use another annotation file"
                )
            save_to = [] if Path(self.sample_set).resolve() == copy_path else [copy_path]
        else:
            samples = self._build_sample_set(trainer)
            save_to = [copy_path] + ([Path(self.sample_set)] if self.sample_set is not None else [])
        digest = samples.hash
        if trainer.strategy.broadcast(digest, src=0) != digest:
            raise AnnotationError("the ranks built different sample sets; build it once and pass sample_set=<file>")
        if trainer.is_global_zero:
            for path in save_to:
                samples.save(path)
        return samples

    def _build_sample_set(self, trainer: Trainer) -> AnnotatedSampleSet:
        dm = getattr(trainer, "datamodule", None)
        pool_fn = getattr(dm, "annotation_pool", None)
        if pool_fn is None:
            where = f"sample_set={self.sample_set!r} is not an existing file and " if self.sample_set else ""
            raise ConfigError(
                f"{where}the trainer has no datamodule with annotation_pool(split) to build the sample set from; "
                "pass sample_set=<annotation file> (see interactions.build_*_sample_set) or fit with such a datamodule"
            )
        pool = pool_fn(self.pool_split)
        return build_sample_set(
            pool, n=self.n, num_samples=self.num_samples, per_class=self.per_class, seed=self.seed,
            baseline=self.baseline, background=self.background, max_variables=self.max_variables,
            grid=self.grid, region=self.region, candidates=self.candidates,
        )

    def _load_references(self) -> dict[str, torch.Tensor]:
        """Load and check the references; with ``missing_references="warn"`` an absent one is skipped with a warning."""
        refs = {}
        for role in REFERENCE_ROLES:
            if role in self.references:
                if self.missing_references == "warn" and not reference_exists(self.references[role]):
                    rank_zero_warn(
                        f"InteractionCallback: the {role} reference {self.references[role]} does not exist yet, so this "
                        f"run logs no knowledge/* curves that need it; produce it first (e.g. fit the {role_regime(role)} "
                        "config) and fit again"
                    )
                    if role == "pretrain":
                        break  # a finetune reference alone is useless
                    continue
                content, _ = load_reference(
                    role, self.references[role], annotation_hash=self._annotation_hash, model=self._model,
                    dataset=self._dataset,
                )
                refs[role] = content["dividends"].to(torch.float64)
        return refs

    def _verify_restored_history(self, trainer: Trainer) -> None:
        """After a resume: the checkpoint's history must match this annotation and its files their hashes."""
        if self._verified:
            return
        self._verified = True
        if not self._history:
            return
        if self._restored_hash is not None and self._restored_hash != self._annotation_hash:
            raise AnnotationError(
                f"the checkpoint's interaction history was computed on another annotation (hash "
                f"{self._restored_hash[:12]}, this run uses {self._annotation_hash[:12]}); resume with the same "
                "sample_set or fit without the checkpoint"
            )
        error = None
        if trainer.is_global_zero:
            try:
                for epoch, entry in sorted(self._history.items()):
                    verify_history_entry(epoch, entry, self._annotation_hash)
            except AnnotationError as err:
                error = str(err)
        error = trainer.strategy.broadcast(error, src=0)
        if error:
            raise AnnotationError(error)

    # ------------------------------------------------------------------ evaluation

    def _eval_model(self, pl_module: LightningModule) -> torch.nn.Module:
        """The module itself, or a float32 copy when its weights are not float32 (``*-true`` precisions)."""
        dtypes = {p.dtype for p in pl_module.parameters() if p.is_floating_point()}
        if dtypes <= {torch.float32}:
            return pl_module
        return copy.deepcopy(pl_module).float()

    def compute(self, trainer: Trainer, pl_module: LightningModule) -> tuple[torch.Tensor, dict | None]:
        """``values[sample, mask]`` (float64, CPU) of all samples, gathered over ranks, and the audit (or None)."""
        samples = self._samples
        world, rank = trainer.world_size, trainer.global_rank
        model = self._eval_model(pl_module)
        local = samples if world == 1 else samples.subset(shard_indices(len(samples), world, rank))
        kwargs = dict(forward=self.forward or default_forward, batch_size=self.batch_size, device=pl_module.device,
                      max_variables=self.max_variables)
        values = compute_values(
            model, local, precision=self.precision, progress=self.progress and trainer.is_global_zero,
            on_nonfinite="keep", **kwargs,
        )
        values = gather_values(values, len(samples), world, trainer.strategy.all_gather).cpu()
        if self.on_nonfinite == "raise":
            check_finite(values, samples)  # same values on every rank: all raise together
        audit = None
        if self.precision != "fp32":
            audit = audit_precision(model, samples, harsanyi_dividends(values), self.precision, 2, **kwargs)
        return values, audit

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> None:
        step = evaluation_step(trainer, epoch)
        values, audit = self.compute(trainer, pl_module)
        skipped = nonfinite_samples(values)
        values[skipped] = float("nan")
        dividends = harsanyi_dividends(values)
        content = {
            "values": values, "dividends": dividends, "epoch": int(epoch), "global_step": int(trainer.global_step),
            "log_step": int(step), "annotation_hash": self._annotation_hash, "regime": self._regime,
            "n": int(self._samples.n), "precision": self.precision, "skipped": [int(s) for s in skipped],
            "model": self._model, "dataset": self._dataset, "audit": audit,
        }
        extras, and_or = self.compute_extras(trainer, pl_module, values, dividends)
        content.update(extras)
        path = epoch_path(self._dir, epoch)
        if trainer.is_global_zero:
            digest = save_artifact(path, "interactions", content)
        else:
            digest = content_hash(content)
        self._history[int(epoch)] = {"path": str(path), "sha256": digest}
        metrics, by_order = self._metrics(dividends, audit)
        if and_or is not None:
            metrics.update(and_or_metrics(and_or))
        metrics["interactions/epoch"] = float(epoch)
        if trainer.is_global_zero:
            self._log(trainer, metrics, step)
            if self.figures:
                self._log_figures(trainer, dividends, by_order, epoch, step, and_or)

    def compute_extras(self, trainer: Trainer, pl_module: LightningModule, values: torch.Tensor,
                       dividends: torch.Tensor) -> tuple[dict[str, Any], AndOrInteractions | None]:
        """The artifact entries beyond the values (SPEC section 7), the same on every rank, and the AND-OR result:
        ``shapley``/``banzhaf``/``sii`` with ``attributions``, ``and_or`` (:meth:`AndOrInteractions.as_dict`)
        with ``and_or``. Nothing when both are off, so the artifact is then the same as before these options."""
        extras: dict[str, Any] = {}
        if self.attributions:
            extras["shapley"] = shapley_values(dividends)
            extras["banzhaf"] = banzhaf_values(dividends)
            extras["sii"] = shapley_interaction_index(dividends)
        result = None
        if self.and_or:
            result = self._and_or(trainer, pl_module, values)
            extras["and_or"] = result.as_dict()
        return extras, result

    def _and_or(self, trainer: Trainer, pl_module: LightningModule, values: torch.Tensor) -> AndOrInteractions:
        """AND-OR interactions of every sample: each rank solves its contiguous share (the LP on the CPU, the
        gradient solver on the module's device) and the shares are gathered, so every rank holds the same result.
        A failure on any rank fails every rank (no rank is left waiting in a collective)."""
        world, rank = trainer.world_size, trainer.global_rank
        if world == 1:
            return self._solve_and_or(values, pl_module.device)
        device = pl_module.device
        local = values[shard_indices(len(values), world, rank)]
        result, error = None, None
        try:
            result = self._solve_and_or(local, device)
        except Exception as err:  # noqa: BLE001 - re-raised below, after every rank knows
            error = err
        failed = trainer.strategy.all_gather(torch.tensor([error is not None], dtype=torch.int32, device=device))
        if bool(failed.any()):
            if error is not None:
                raise error
            ranks = [r for r, f in enumerate(failed.flatten().tolist()) if f]
            raise NumericsError(f"AND-OR interactions failed on rank(s) {ranks}; see that rank's error")
        parts = result.as_dict()
        gathered = {}
        for key in ("and_dividends", "or_dividends", "gamma", "noise", "objective", "gap"):
            local_part = parts[key].to(device)
            gathered[key] = gather_values(local_part, len(values), world, trainer.strategy.all_gather).cpu()
        iterations = trainer.strategy.all_gather(torch.tensor([result.iterations], device=device))
        return AndOrInteractions(**gathered, solver=result.solver, noise_bound=result.noise_bound,
                                 iterations=int(iterations.max()))

    def _solve_and_or(self, values: torch.Tensor, device: torch.device) -> AndOrInteractions:
        if self.and_or_solver == "gradient":
            values = values.to(device)
        result = and_or_interactions(values, noise_bound=self.and_or_noise_bound, solver=self.and_or_solver)
        return AndOrInteractions(**{k: v.cpu() if isinstance(v, torch.Tensor) else v
                                    for k, v in result.as_dict().items()})

    def _metrics(self, dividends: torch.Tensor, audit: dict | None) -> tuple[dict[str, float], dict | None]:
        metrics = interaction_metrics(dividends)
        if audit is not None:
            metrics["interactions/audit_rel_l1"] = audit["max_rel_l1"]
        by_order = None
        if "pretrain" in self._refs:
            knowledge, by_order = knowledge_metrics(self._refs["pretrain"], dividends)
            metrics.update(knowledge)
            if "finetune" in self._refs:
                metrics.update(ratio_metrics(self._refs["pretrain"], self._refs["finetune"], dividends))
        return metrics, by_order

    @staticmethod
    def _log(trainer: Trainer, metrics: dict[str, float], step: int) -> None:
        """Every logger gets the scalars through ``log_metrics`` (TensorBoard, CSV, MLflow, W&B, ...)."""
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def _log_figures(self, trainer: Trainer, dividends: torch.Tensor, by_order: dict | None, epoch: int,
                     step: int, and_or: AndOrInteractions | None = None) -> None:
        writers = figure_writers(trainer)
        if not writers:
            return
        made = [("interactions/strength_by_order", _figures.strength_figure(strength_by_order(dividends), epoch))]
        if by_order is not None:
            made.append(("knowledge/by_order", _figures.knowledge_figure(by_order, epoch)))
        if and_or is not None:
            fig = _figures.and_or_figure(and_or_strength_by_order(and_or), epoch)
            made.append(("interactions/and_or_by_order", fig))
        for tag, fig in made:
            for writer in writers:
                writer.add_figure(tag, fig, global_step=step, close=False)
            _figures.close(fig)

    def _write_layout(self, trainer: Trainer) -> None:
        """The custom-scalars dashboard of this run's tags, once per fit, to loggers that take one."""
        layout = dashboard_layout(knowledge="pretrain" in self._refs, ratio="finetune" in self._refs,
                                  and_or=self.and_or)
        for writer in layout_writers(trainer):
            writer.add_custom_scalars(layout)
        self._layout_written = True

    # ------------------------------------------------------------------ end of training

    def _finish(self, trainer: Trainer) -> None:
        """Jaccard of every stored epoch with the final one (eq. 9): logged, and written to ``jaccard.json``."""
        dividends, steps = {}, {}
        for epoch, entry in sorted(self._history.items()):
            content, digest = load_interactions(entry["path"])
            if digest != entry["sha256"]:
                raise AnnotationError(f"{entry['path']} (epoch {epoch}) changed while training; it is not this run's")
            dividends[epoch] = content["dividends"]
            # artifacts written before log_step was recorded: the epoch-end step of their global_step
            steps[epoch] = int(content.get("log_step", 0 if epoch == 0 else max(int(content["global_step"]) - 1, 0)))
        epochs, jaccard, final = jaccard_curve(dividends)
        for epoch, value in zip(epochs, jaccard):
            self._log(trainer, {"knowledge/jaccard_to_final": value}, steps[epoch])
        write_json(self._dir / JACCARD_FILE, {"epochs": epochs, "jaccard": jaccard, "final_epoch": final})
        final_entry = self._history[final]
        write_json(self._dir / FINAL_POINTER, {
            "epoch": final, "file": os.path.relpath(final_entry["path"], self._dir), "sha256": final_entry["sha256"],
        })
