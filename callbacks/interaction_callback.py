"""``InteractionCallback``: Harsanyi interactions of the model at every epoch end, beside the loss (docs/callback.md).

One class for both Lightning packages (:mod:`harsanyi_lightning.callbacks.lightning_compat`), in Python or
by class path in a LightningCLI YAML. On ``fit`` it gets the annotated sample set
(:mod:`~harsanyi_lightning.callbacks.sample_set_source`), evaluates the model before the first training step
(epoch 0), after every ``every_n_epochs`` epochs and at the end (:mod:`~harsanyi_lightning.callbacks.evaluation`:
``values[sample, mask]`` in strict fp32, dividends by eq. 2, the optional attributions and AND-OR
interactions), writes ``<output_dir>/epoch_XXX.pt`` atomically and logs ``interactions/*`` and, given
references, ``knowledge/*`` at the step where Lightning logs that epoch's epoch-end metrics, so the
curves sit beside the loss. At the end of training it logs ``knowledge/jaccard_to_final`` (eq. 9) and
writes ``jaccard.json`` and ``final.json`` (:mod:`~harsanyi_lightning.callbacks.history`).

This module holds the hooks and the run's state. Under DDP every rank computes its share and holds the
gathered results; rank zero writes files, logs, and holds ``output_dir``'s lock from ``setup`` to the end
of ``fit`` (a second run writing into the same folder stops at ``setup`` with
:class:`~harsanyi_lightning.interactions.errors.FolderInUseError`). The evaluated epochs are part of the
checkpoint (``state_dict``), so a resumed fit continues the same history.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from harsanyi_lightning.interactions.and_or import DEFAULT_NOISE_BOUND, AndOrInteractions
from harsanyi_lightning.interactions.artifacts import content_hash, save_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError, FolderInUseError
from harsanyi_lightning.callbacks.folder_lock import FolderLock, lock_folder
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet

from .artifact_layout import KIND, epoch_path
from .evaluation import (
    dataset_name,
    evaluation_step,
    extras_of,
    log_figures,
    log_scalars,
    model_name,
    sharded_values,
)
from .evaluation_record import evaluation_record, evaluation_scalars
from .history import (
    check_restored_annotation,
    check_writable,
    history_dividends,
    load_references,
    verify_history,
    write_final_files,
)
from .knowledge_logging import dashboard_layout
from .lightning_compat import CALLBACK_BASES, layout_writers, rank_zero_warn
from .model_forward import resolve_forward
from .options import EvaluationOptions, ExtrasOptions, RunOptions, SampleSetOptions, check_option_groups
from .sample_set_source import obtain_sample_set

if TYPE_CHECKING:
    import pytorch_lightning as pl

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
        batch_size: masked inputs per forward pass.
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
    ) -> None:
        super().__init__()
        self.run = RunOptions(sample_set=sample_set, references=references or {},
                              missing_references=missing_references, output_dir=output_dir, regime=regime)
        self.sampling = SampleSetOptions(
            n=n, num_samples=num_samples, per_class=per_class, seed=seed, baseline=baseline, background=background,
            pool_split=pool_split, grid=grid, region=region, candidates=candidates, max_variables=max_variables)
        self.evaluation = EvaluationOptions(
            every_n_epochs=every_n_epochs, batch_size=batch_size, precision=precision, figures=figures,
            progress=progress, on_nonfinite=on_nonfinite, forward=forward, dashboard=dashboard)
        self.extras = ExtrasOptions(attributions=attributions, and_or=and_or, and_or_solver=and_or_solver,
                                    and_or_noise_bound=and_or_noise_bound)
        check_option_groups(self.run, self.sampling, self.extras)
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
        s, x = self.sampling, self.extras
        # image options only when set, so checkpoints written before these options still match; likewise
        # AND-OR only when on (it changes what is measured); attributions never (they follow from the dividends)
        image = {k: v for k, v in (("grid", s.grid), ("region", s.region), ("candidates", s.candidates))
                 if v is not None}
        and_or = dict(and_or=True, and_or_solver=x.and_or_solver,
                      and_or_noise_bound=x.and_or_noise_bound) if x.and_or else {}
        return self._generate_state_key(
            sample_set=self.run.sample_set, n=s.n, num_samples=s.num_samples, per_class=s.per_class, seed=s.seed,
            baseline=s.baseline, background=s.background, pool_split=s.pool_split,
            precision=self.evaluation.precision, regime=self.run.regime, **image, **and_or,
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
        self._annotation_hash = self._samples.hash
        self._model = model_name(pl_module)
        self._dataset = dataset_name(trainer, self._samples)
        self._regime = self.run.regime if self.run.regime is not None else getattr(pl_module, "regime", None)
        self._refs = load_references(self.run, annotation_hash=self._annotation_hash, model=self._model,
                                     dataset=self._dataset)
        self._layout_written = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finished = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active:
            return
        self._verify_restored_history(trainer)
        if self.evaluation.dashboard and trainer.is_global_zero and not self._layout_written:
            self._write_layout(trainer)
        epoch = trainer.current_epoch  # 0 on a fresh fit; completed epochs on a resumed one
        if (epoch == 0 or epoch % self.evaluation.every_n_epochs == 0) and epoch not in self._history:
            self._evaluate(trainer, pl_module, epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch + 1
        if epoch % self.evaluation.every_n_epochs == 0 or epoch == trainer.max_epochs:
            self._evaluate(trainer, pl_module, epoch)

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
            self._lock.release()
            self._lock = None

    def _verify_restored_history(self, trainer: pl.Trainer) -> None:
        """After a resume, once: rank zero checks the checkpoint's history, every rank gets its verdict."""
        if self._verified:
            return
        self._verified = True
        if not self._history:
            return
        check_restored_annotation(self._restored_hash, self._annotation_hash)  # every rank knows both
        error = None
        if trainer.is_global_zero:
            try:
                verify_history(self._history, self._annotation_hash)
            except AnnotationError as err:
                error = str(err)
        error = trainer.strategy.broadcast(error, src=0)
        if error:
            raise AnnotationError(error)

    # ------------------------------------------------------------------ evaluation

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> tuple[torch.Tensor, dict | None]:
        """``values[sample, mask]`` (float64, CPU) of all samples, gathered over ranks, and the audit (or None)."""
        return sharded_values(trainer, pl_module, self._samples, self.evaluation, self.sampling.max_variables,
                              self._forward)

    def compute_extras(self, trainer: pl.Trainer, pl_module: pl.LightningModule, values: torch.Tensor,
                       dividends: torch.Tensor) -> tuple[dict[str, Any], AndOrInteractions | None]:
        """The artifact entries beyond the values and the AND-OR result (see :func:`evaluation.extras_of`)."""
        return extras_of(trainer, pl_module, values, dividends, self.extras)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        """One evaluation: compute on every rank, rank zero writes ``epoch_XXX.pt`` and logs."""
        step = evaluation_step(trainer, epoch)
        values, audit = self.compute(trainer, pl_module)
        run = dict(annotation_hash=self._annotation_hash, regime=self._regime, n=int(self._samples.n),
                   precision=self.evaluation.precision, model=self._model, dataset=self._dataset)
        content, dividends = evaluation_record(values, audit, epoch=epoch, global_step=trainer.global_step,
                                               log_step=step, run=run)
        extras, and_or = self.compute_extras(trainer, pl_module, values, dividends)
        content.update(extras)
        path = epoch_path(self._dir, epoch)
        digest = save_artifact(path, KIND, content) if trainer.is_global_zero else content_hash(content)
        self._history[int(epoch)] = {"path": str(path), "sha256": digest}
        metrics, by_order = evaluation_scalars(dividends, audit, self._refs, and_or, epoch)
        if trainer.is_global_zero:
            log_scalars(trainer, metrics, step)
            if self.evaluation.figures:
                log_figures(trainer, dividends, by_order, epoch, step, and_or)

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
        epoch = trainer.current_epoch
        if epoch not in self._history:
            self._evaluate(trainer, pl_module, epoch)
        if trainer.is_global_zero:
            dividends, steps = history_dividends(self._history)
            epochs, jaccard = write_final_files(self._dir, self._history, dividends)
            for done, value in zip(epochs, jaccard):
                log_scalars(trainer, {"knowledge/jaccard_to_final": value}, steps[done])
        self._finished = True


__all__ = ["InteractionCallback"]
