"""``InteractionCallback``: Harsanyi interactions of the model during training, beside the loss (docs/callback.md).

One class for both Lightning packages (:mod:`~harsanyi_lightning.callbacks.lightning_compat`), in Python or by class
path in a LightningCLI YAML. On ``fit`` it gets the annotated sample set (:mod:`~.sample_set_source`) and evaluates
the model (:mod:`~.evaluation`) at step 0, after every ``every_n_epochs`` epochs, at the end, and at the global
steps of ``every_n_steps`` / ``at_steps`` inside an epoch (:mod:`~.evaluation_schedule`); it writes
``epoch_XXX.pt`` (``step_XXXXXXX.pt`` inside an epoch) and logs ``interactions/*`` and ``knowledge/*`` beside the
loss; at the end of training ``knowledge/jaccard_to_final`` (eq. 9), ``jaccard.json`` and ``final.json``
(:mod:`~.history`). This module holds the hooks and the run's state. Under DDP every rank computes its share and
holds the gathered results; rank zero writes, logs and holds ``output_dir``'s lock from ``setup`` to the end of
``fit`` (:class:`~harsanyi_lightning.interactions.errors.FolderInUseError` for a second writer). The history of
evaluations is part of the checkpoint (``state_dict``): a resumed fit, from an epoch end or inside an epoch,
continues the same history and schedule.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from harsanyi_lightning.interactions.and_or import DEFAULT_NOISE_BOUND, AndOrInteractions
from harsanyi_lightning.interactions.artifacts import content_hash, save_artifact
from harsanyi_lightning.interactions.errors import ConfigError, FolderInUseError
from harsanyi_lightning.callbacks.folder_lock import FolderLock, lock_folder
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet

from .artifact_layout import KIND
from .evaluation import (dataset_name, evaluation_step, extras_of, log_figures, log_scalars, model_name,
                         sharded_values)
from .evaluation_record import evaluation_record, evaluation_scalars
from .evaluation_schedule import batch_end_point, epoch_end_point, final_point, start_point
from .history import (check_restored_annotation, check_writable, history_dividends, load_references, restored_history,
                      write_final_files)
from .knowledge_logging import dashboard_layout
from .lightning_compat import CALLBACK_BASES, layout_writers, logging_step, rank_zero_warn
from .model_forward import resolve_forward
from .options import EvaluationOptions, ExtrasOptions, RunOptions, SampleSetOptions, check_option_groups
from .sample_set_source import obtain_sample_set
from .sparse_evaluation import sparse_estimate, sparse_final_files, sparse_record, sparse_scalars

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from .evaluation_schedule import EvaluationPoint

#: the attributes holding the option objects, in the order ``__getattr__`` looks an option up
OPTION_GROUPS = ("run", "sampling", "evaluation", "extras")


class InteractionCallback(*CALLBACK_BASES):
    """Compute, store and log the Harsanyi interactions of the model during ``fit``.

    The keyword arguments build the typed option objects of :mod:`harsanyi_lightning.callbacks.options`
    (checked there, each failure a :class:`~harsanyi_lightning.interactions.errors.ConfigError` naming the
    option): :attr:`sampling` (:class:`SampleSetOptions`), :attr:`evaluation` (:class:`EvaluationOptions`),
    :attr:`extras` (:class:`ExtrasOptions`) and :attr:`run` (:class:`RunOptions`); every option also reads
    as an attribute (``callback.n``, ``callback.every_n_epochs``).

    Args:
        sample_set: path of an annotation file. Loaded (hash-checked) when it exists; otherwise the
            sample set is built from the datamodule's ``annotation_pool(pool_split)`` and saved there,
            so several runs of a study can share it. ``None``: build, save only beside the logs.
        n, num_samples, per_class, seed, baseline, background: how to build the sample set
            (docs/method.md#the-annotated-sample-set; ``None`` takes the text / image defaults of ``build_sample_set``).
        grid, region, candidates: images only, how the sample set is built: the patch grid
            (patches per side or ``[rows, cols]``; default the paper's 8), the central block the
            variables are drawn from (default: central 6x6 on the 8x8 grid, the whole grid on any other)
            or explicit candidate patch indices. A loaded ``sample_set`` must have the same grid.
        pool_split: the datamodule split the samples are drawn from.
        every_n_epochs: evaluate after every ``every_n_epochs`` epochs (and always at epoch 0 and the end).
        every_n_steps: also evaluate inside an epoch whenever ``trainer.global_step`` (optimizer steps) is a
            positive multiple of it (docs/callback.md#evaluations-inside-an-epoch); ``None``: epoch ends only.
        at_steps: also evaluate at these global steps, e.g. log-spaced ``[25, 50, 100, 200]`` (kept sorted and
            unique). A scheduled step on an epoch's last batch is that epoch's evaluation when its end is
            scheduled too: one evaluation per global step.
        batch_size: masked inputs per forward pass.
        estimator, budget, max_order: ``"exact"`` (all ``2**n`` masks; default) or ``"sparse"``: dividends estimated
            from ``budget`` masks per sample, subsets up to ``max_order``, ``n <= 62`` (docs/callback.md#sparse-estimates).
        precision: ``"fp32"`` (strict, TF32 off; default) or an audited faster one (``"tf32"``,
            ``"fp16"``, ``"bf16"``; the audit error is logged as ``interactions/audit_rel_l1``).
        references: ``{"pretrain": path, "finetune": path}``, each an ``epoch_XXX.pt`` file or an
            interactions folder (its final epoch); checked at ``setup``.
        output_dir: where artifacts go; default ``<trainer.log_dir>/interactions``.
        regime: recorded in artifacts; default ``pl_module.regime`` when it exists.
        forward: ``forward(model, inputs) -> logits[batch, classes]``, or the name of the attribute holding the
            network (``"net"``; docs/callback.md#forward); default: the module itself, which must define ``forward``.
        figures: log a figure per evaluation to loggers that draw figures (TensorBoard).
        dashboard: write a custom-scalars layout (the paper's curves) once per fit to loggers that take
            one (TensorBoard).
        progress: show a progress bar on rank zero.
        on_nonfinite: ``"raise"`` on a NaN/inf model output, or ``"skip"`` the sample (recorded).
        max_variables: the cap on ``n`` (cost ``2**n`` forward passes per sample).
        attributions: also store exact Shapley and Banzhaf values (``shapley[sample, i]``,
            ``banzhaf[sample, i]``) and the pairwise Shapley interaction index (``sii[sample, i, j]``),
            computed from the dividends (docs/method.md#beyond-the-paper; one matrix product each, no forward pass).
        and_or: also compute AND-OR interactions (docs/method.md#beyond-the-paper) from the same values, store them
            (``and_or``) and log ``interactions/and_or/*``. Off by default (its cost: docs/callback.md). ``n <= 12``.
        and_or_solver: ``"lp"`` (exact, HiGHS, CPU; default) or ``"gradient"`` (batched on the model's
            device, certified gap; faster at n = 12).
        and_or_noise_bound: ``delta`` in ``|q_T| <= delta·|v(x_N) - v(x_∅)|`` (default 0.04).
        missing_references: ``"error"`` (default): a reference path that does not exist fails at ``setup``;
            ``"warn"``: it is skipped with a warning (the plain ``cli.py fit`` configs: a finetune run before its
            probe exists logs no ``knowledge/*``). A corrupt reference or one from another annotation always fails.
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
        forward: str | Callable | None = None,
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
        every_n_steps: int | None = None,
        at_steps: list[int] | None = None,
        estimator: str = "exact", budget: int | None = None, max_order: int | None = None,
    ) -> None:
        super().__init__()
        self.run = RunOptions(sample_set=sample_set, references=references or {},
                              missing_references=missing_references, output_dir=output_dir, regime=regime)
        self.sampling = SampleSetOptions(
            n=n, num_samples=num_samples, per_class=per_class, seed=seed, baseline=baseline, background=background,
            pool_split=pool_split, grid=grid, region=region, candidates=candidates, max_variables=max_variables)
        self.evaluation = EvaluationOptions(
            every_n_epochs=every_n_epochs, batch_size=batch_size, precision=precision, figures=figures,
            progress=progress, on_nonfinite=on_nonfinite, forward=forward, dashboard=dashboard,
            every_n_steps=every_n_steps, at_steps=at_steps, estimator=estimator, budget=budget, max_order=max_order)
        self.extras = ExtrasOptions(attributions=attributions, and_or=and_or, and_or_solver=and_or_solver,
                                    and_or_noise_bound=and_or_noise_bound)
        check_option_groups(self.run, self.sampling, self.extras, self.evaluation)
        # run state (set in setup)
        self._active = False
        self._samples: AnnotatedSampleSet | None = None
        self._annotation_hash: str | None = None
        self._dir: Path | None = None
        self._model: str | None = None
        self._dataset: str | None = None
        self._regime: str | None = None
        self._refs: dict[str, Any] = {}  # dividends[sample, mask], or (masks, dividends) per sample when sparse
        #: global step -> {"path", "sha256", "epoch", "epoch_fraction"}; part of the checkpoint
        self._history: dict[int, dict[str, Any]] = {}
        self._legacy_history: dict[int, dict[str, str]] = {}  # an old checkpoint's {epoch: entry}, until verified
        self._restored_hash: str | None = None
        self._verified = False
        self._layout_written = False
        self._forward: Callable | None = None  # the resolved ``forward`` option (setup)
        self._lock: FolderLock | None = None  # output_dir's lock, held by rank zero during fit
        self._finished = False  # jaccard.json and final.json written for this fit

    def __getattr__(self, name: str) -> Any:
        """An option read as an attribute (``callback.n``), from the option object that holds it."""
        for group in OPTION_GROUPS:
            options = self.__dict__.get(group)
            if options is not None and name in options.__dataclass_fields__:
                return getattr(options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ state

    @property
    def state_key(self) -> str:
        s, x, e = self.sampling, self.extras, self.evaluation
        # image options only when set, so checkpoints written before these options still match; likewise AND-OR
        # and the estimator only when on / sparse (they change what is measured); attributions never
        image = {k: v for k, v in (("grid", s.grid), ("region", s.region), ("candidates", s.candidates))
                 if v is not None}
        and_or = dict(and_or=True, and_or_solver=x.and_or_solver,
                      and_or_noise_bound=x.and_or_noise_bound) if x.and_or else {}
        sparse = dict(estimator=e.estimator, budget=e.budget, max_order=e.max_order) if e.estimator != "exact" else {}
        return self._generate_state_key(
            sample_set=self.run.sample_set, n=s.n, num_samples=s.num_samples, per_class=s.per_class, seed=s.seed,
            baseline=s.baseline, background=s.background, pool_split=s.pool_split,
            precision=self.evaluation.precision, regime=self.run.regime, **image, **and_or, **sparse,
        )

    def state_dict(self) -> dict[str, Any]:
        """The evaluations so far by global step (artifact path, sha256, epoch, epoch fraction) and the annotation
        hash; ``history_key`` tells them from the ``{epoch: entry}`` history of older checkpoints."""
        return {"annotation_hash": self._annotation_hash,
                "history": {int(s): dict(v) for s, v in sorted(self._history.items())}, "history_key": "global_step"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history of a checkpoint; the files are verified (an older checkpoint's epoch-keyed history
        converted, :func:`~harsanyi_lightning.callbacks.history.upgrade_history`) at ``on_train_start``."""
        self._restored_hash = state_dict.get("annotation_hash")
        history = {int(k): dict(v) for k, v in state_dict.get("history", {}).items()}
        by_step = state_dict.get("history_key") == "global_step"
        self._history, self._legacy_history = (history, {}) if by_step else ({}, history)
        self._verified = False

    @property
    def history(self) -> dict[int, dict[str, Any]]:
        """``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the evaluations so far (a copy)."""
        return {s: dict(v) for s, v in self._history.items()}

    @property
    def annotated_sample_set(self) -> AnnotatedSampleSet | None:
        """The sample set of the current fit (after ``setup``)."""
        return self._samples

    # ------------------------------------------------------------------ hooks

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if trainer.fast_dev_run:
            rank_zero_warn("InteractionCallback does nothing under fast_dev_run")
            self._active = False
            return
        self._active = True
        self._forward = resolve_forward(pl_module, self.evaluation.forward)  # before any work: no forward fails here
        self._dir = self._resolve_output_dir(trainer)
        self._samples = obtain_sample_set(trainer, self.run, self.sampling, self._dir)
        self.extras.check_num_variables(self._samples.n)  # same sample set on every rank: all raise together
        self.evaluation.check_num_variables(self._samples.n)
        self._annotation_hash = self._samples.hash
        self._model = model_name(pl_module)
        self._dataset = dataset_name(trainer, self._samples)
        self._regime = self.run.regime if self.run.regime is not None else getattr(pl_module, "regime", None)
        self._refs = load_references(self.run, annotation_hash=self._annotation_hash, model=self._model,
                                     dataset=self._dataset, estimator=self.evaluation.estimator)
        self._layout_written = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finished = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active:
            return
        self._verify_restored_history(trainer)
        if self.evaluation.dashboard and trainer.is_global_zero and not self._layout_written:
            self._write_layout(trainer)
        point = start_point(trainer, self.evaluation)  # step 0, or where a resumed fit starts, when scheduled
        if point is not None and point.global_step not in self._history:
            self._evaluate(trainer, pl_module, point)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """An evaluation inside the epoch at a scheduled global step, once per step (gradient accumulation: the
        batch that stepped). On the epoch's last batch it is left to the epoch's evaluation when that one is
        scheduled, and at ``max_steps`` to the end of training's."""
        if not self._active or trainer.global_step in self._history:
            return
        point = batch_end_point(trainer, self.evaluation, batch_idx)
        if point is not None:
            self._evaluate(trainer, pl_module, point)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active or trainer.sanity_checking:
            return
        point = epoch_end_point(trainer, self.evaluation)
        if point is not None and point.global_step not in self._history:
            self._evaluate(trainer, pl_module, point)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active:
            self._end_of_training(trainer, pl_module)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fit resumed from a checkpoint written after its last epoch (the run that wrote it stopped
        before the end of training: killed, or a write of ``jaccard.json`` failed) runs no training loop,
        so no ``on_train_start`` / ``on_train_end``: finish its files here."""
        if self._active and not self._finished:
            self._end_of_training(trainer, pl_module)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._active = False
            self._release_lock()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._active = False
        self._release_lock()

    # ------------------------------------------------------------------ folder and history

    def _resolve_output_dir(self, trainer: pl.Trainer) -> Path:
        """``output_dir`` (default ``<log_dir>/interactions``), checked writable and locked by rank zero."""
        folder = self.run.output_dir
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
            self._lock, lock = None, self._lock
            lock.release()

    def _verify_restored_history(self, trainer: pl.Trainer) -> None:
        """After a resume, once: rank zero checks the checkpoint's history (an older checkpoint's epoch-keyed one
        converted to global steps), every rank gets its verdict and the history."""
        if not self._verified and (self._history or self._legacy_history):
            check_restored_annotation(self._restored_hash, self._annotation_hash)  # every rank knows both
            self._history = restored_history(trainer, self._history, self._legacy_history, self._annotation_hash)
        self._verified, self._legacy_history = True, {}

    # ------------------------------------------------------------------ evaluation

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> tuple[torch.Tensor, dict | None]:
        """``values[sample, mask]`` (float64, CPU) of all samples, gathered over ranks, and the audit (or None)."""
        return sharded_values(trainer, pl_module, self._samples, self.evaluation, self.sampling.max_variables,
                              self._forward)

    def compute_extras(self, trainer: pl.Trainer, pl_module: pl.LightningModule, values: torch.Tensor,
                       dividends: torch.Tensor) -> tuple[dict[str, Any], AndOrInteractions | None]:
        """The artifact entries beyond the values and the AND-OR result (see :func:`evaluation.extras_of`)."""
        return extras_of(trainer, pl_module, values, dividends, self.extras)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, point: EvaluationPoint) -> None:
        """One evaluation: compute on every rank, rank zero writes ``epoch_XXX.pt`` (``step_XXXXXXX.pt`` inside an
        epoch) and logs at the epoch-end step of :func:`evaluation_step`, or inside an epoch where the loss of the
        model after this step is logged (the next batch's: the global step with one optimizer)."""
        step = evaluation_step(trainer, point.epoch) if point.epoch_end else logging_step(trainer) + 1
        run = dict(annotation_hash=self._annotation_hash, regime=self._regime, n=int(self._samples.n),
                   precision=self.evaluation.precision, model=self._model, dataset=self._dataset)
        sparse = self.evaluation.estimator == "sparse"  # estimated dividends, no figures (:mod:`~.sparse_evaluation`)
        if sparse:
            result = sparse_estimate(trainer, pl_module, self._samples, self.evaluation, self._forward)
            content = sparse_record(result, epoch=point.epoch, global_step=point.global_step, log_step=step, run=run,
                                    epoch_fraction=point.epoch_fraction, attributions=self.extras.attributions)
            metrics = sparse_scalars(result, point.logged_epoch, self._refs)
        else:
            values, audit = self.compute(trainer, pl_module)
            content, dividends = evaluation_record(values, audit, epoch=point.epoch, global_step=point.global_step,
                                                   log_step=step, run=run, epoch_fraction=point.epoch_fraction)
            extras, and_or = self.compute_extras(trainer, pl_module, values, dividends)
            content.update(extras)
            metrics, by_order = evaluation_scalars(dividends, audit, self._refs, and_or, point.logged_epoch)
        path = point.path(self._dir)
        digest = save_artifact(path, KIND, content) if trainer.is_global_zero else content_hash(content)
        self._history[point.global_step] = point.history_entry(path, digest)
        if trainer.is_global_zero:
            log_scalars(trainer, metrics, step)
            if self.evaluation.figures and not sparse:
                log_figures(trainer, dividends, by_order, point.epoch, step, and_or, name=point.name, label=point.label)

    def _write_layout(self, trainer: pl.Trainer) -> None:
        """The custom-scalars dashboard of this run's tags, once per fit, to loggers that take one."""
        layout = dashboard_layout(knowledge="pretrain" in self._refs, ratio="finetune" in self._refs,
                                  and_or=self.extras.and_or)
        for writer in layout_writers(trainer):
            writer.add_custom_scalars(layout)
        self._layout_written = True

    # ------------------------------------------------------------------ end of training

    def _end_of_training(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Evaluate the final epoch if it was not (stopped early: max_steps, early stopping, ...), then rank
        zero logs the Jaccard curve (eq. 9) and writes ``jaccard.json`` and the final pointer."""
        self._verify_restored_history(trainer)  # a no-op once verified at on_train_start
        if trainer.global_step not in self._history:
            self._evaluate(trainer, pl_module, final_point(trainer))
        if trainer.is_global_zero:
            if self.evaluation.estimator == "sparse":
                steps, jaccard, log_steps = sparse_final_files(self._dir, self._history)
            else:
                dividends, log_steps = history_dividends(self._history)
                steps, jaccard = write_final_files(self._dir, self._history, dividends)
            for done, value in zip(steps, jaccard):
                log_scalars(trainer, {"knowledge/jaccard_to_final": value}, log_steps[done])
        self._finished = True


__all__ = ["InteractionCallback"]
