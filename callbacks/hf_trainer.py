"""``InteractionTrainerCallback``: the interaction callback for the Hugging Face ``transformers.Trainer``
(docs/callback.md#hugging-face-trainer).

The same options (:mod:`~harsanyi_lightning.callbacks.options`), the same evaluation
(:mod:`~harsanyi_lightning.callbacks.evaluation`, :mod:`~harsanyi_lightning.callbacks.evaluation_record`,
run through :class:`~harsanyi_lightning.callbacks.single_process.SingleProcess`), the same files
(:mod:`~harsanyi_lightning.callbacks.artifact_layout`, :mod:`~harsanyi_lightning.callbacks.history`) and the
same scalars as :class:`~harsanyi_lightning.callbacks.InteractionCallback`, at the Trainer's hooks: the
Trainer's model is evaluated before the first step (epoch 0, step 0), after every ``every_n_epochs``
epochs and after the last one, and at the global steps of ``every_n_steps`` / ``at_steps`` inside an epoch
(``on_step_end``, :mod:`~harsanyi_lightning.callbacks.evaluation_schedule`), at the Trainer's ``global_step``.

How the scalars reach ``report_to``: each evaluation calls ``trainer.log(metrics)`` (:func:`log_now`), the Trainer's own
logging, so every reporting integration (TensorBoard, MLflow, W&B, ...) gets them through its ``on_log``
at ``state.global_step`` (the step the epoch's loss is logged at with ``logging_strategy="epoch"``), and
``trainer.state.log_history`` holds them. A ``TrainerCallback`` is not handed its Trainer, so the callback
is bound to it once with :meth:`InteractionTrainerCallback.attach`. The Trainer's integrations name the
tags their way: TensorBoard and W&B prefix ``train/`` (``train/interactions/salient_count`` beside
``train/loss``), MLflow keeps ``interactions/salient_count``.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from transformers import TrainerCallback

from harsanyi_lightning.interactions.and_or import DEFAULT_NOISE_BOUND
from harsanyi_lightning.interactions.artifacts import content_hash, save_artifact
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet

from .artifact_layout import ANNOTATION_FILE, KIND
from .evaluation import evaluation_model, extras_of, log_figures, model_name, sharded_values
from .evaluation_record import evaluation_record, evaluation_scalars
from .evaluation_schedule import EvaluationPoint, epoch_scheduled, step_scheduled
from .folder_lock import lock_folder
from .history import check_writable, history_dividends, load_references, write_final_files
from .knowledge_logging import dashboard_layout
from .model_forward import resolve_forward
from .options import EvaluationOptions, ExtrasOptions, RunOptions, SampleSetOptions, check_option_groups
from .sample_set_source import build_from_pool, load_sample_set
from .single_process import SingleProcess
from .sparse_evaluation import estimate_on_device, sparse_final_files, sparse_record, sparse_scalars

if TYPE_CHECKING:
    from torch import nn
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

    from harsanyi_lightning.interactions.sample_set import ImagePool, TextPool

    from .folder_lock import FolderLock

#: the prefix TensorBoard's and W&B's Trainer integrations give every logged key but ``eval_*`` / ``test_*``
TRAINER_TAG_PREFIX = "train/"


def prefixed_layout(layout: dict[str, dict[str, list]], prefix: str) -> dict[str, dict[str, list]]:
    """A custom-scalars layout whose tag regexes match the tags under ``prefix`` (``.*`` ones stay)."""
    return {category: {title: [kind, [r if r.startswith(".*") else prefix + r for r in regexes]]
                       for title, (kind, regexes) in charts.items()}
            for category, charts in layout.items()}


def tensorboard_writers(trainer: Trainer) -> list[Any]:
    """The ``SummaryWriter`` s of the Trainer's TensorBoard integration (``report_to="tensorboard"``)."""
    writers = [getattr(cb, "tb_writer", None) for cb in trainer.callback_handler.callbacks]
    return [w for w in writers if callable(getattr(w, "add_figure", None))]


class InteractionTrainerCallback(TrainerCallback):
    """Compute, store and log the Harsanyi interactions of a ``transformers.Trainer``'s model during ``train``.

    Usage::

        callback = InteractionTrainerCallback(pool=TextPool(sentences, labels, tokenizer, name="sst2-dev"),
                                              output_dir="runs/interactions")
        trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[callback])
        callback.attach(trainer)  # the callback logs through trainer.log
        trainer.train()

    Args:
        sample_set: the annotated sample set: an :class:`AnnotatedSampleSet`, or the path of an annotation
            file, loaded when it exists, else built from ``pool`` and saved there.
        pool: a :class:`~harsanyi_lightning.interactions.TextPool` (sentences, labels, the model's tokenizer) or
            :class:`~harsanyi_lightning.interactions.ImagePool` the sample set is built from (the Trainer has no
            datamodule); not needed with an existing ``sample_set`` file.
        output_dir: where ``epoch_XXX.pt``, ``annotation.pt``, ``jaccard.json``, ``final.json`` go; default
            ``<args.output_dir>/interactions``.

    Every other argument is :class:`~harsanyi_lightning.callbacks.InteractionCallback`'s (docs/callback.md):
    ``n``, ``num_samples``, ``per_class``, ``seed``, ``baseline``, ``background``, ``grid``, ``region``,
    ``candidates``, ``max_variables`` (how the sample set is built), ``every_n_epochs``, ``every_n_steps``,
    ``at_steps``, ``batch_size``,
    ``precision``, ``forward``, ``figures``, ``dashboard``, ``progress``, ``on_nonfinite``, ``estimator``,
    ``budget``, ``max_order`` (the evaluation; ``estimator="sparse"`` as there, docs/callback.md#sparse-estimates),
    ``attributions``, ``and_or``, ``and_or_solver``, ``and_or_noise_bound`` (the extras), ``references``,
    ``missing_references`` and ``regime``. Epochs count the Trainer's ``num_train_epochs``; the Trainer's
    model must have ``.device`` (every ``PreTrainedModel`` has).
    """

    def __init__(
        self,
        sample_set: str | AnnotatedSampleSet | None = None,
        pool: TextPool | ImagePool | None = None,
        n: int | None = None,
        num_samples: int | None = None,
        per_class: int | None = None,
        seed: int = 0,
        baseline: str = "mean",
        background: str = "keep",
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
        estimator: str = "exact",
        budget: int | None = None,
        max_order: int | None = None,
    ) -> None:
        given = sample_set if isinstance(sample_set, AnnotatedSampleSet) else None
        self.run = RunOptions(sample_set=None if given is not None else sample_set, references=references or {},
                              missing_references=missing_references, output_dir=output_dir, regime=regime)
        self.sampling = SampleSetOptions(
            n=n, num_samples=num_samples, per_class=per_class, seed=seed, baseline=baseline, background=background,
            grid=grid, region=region, candidates=candidates, max_variables=max_variables)
        self.evaluation = EvaluationOptions(
            every_n_epochs=every_n_epochs, batch_size=batch_size, precision=precision, figures=figures,
            progress=progress, on_nonfinite=on_nonfinite, forward=forward, dashboard=dashboard,
            every_n_steps=every_n_steps, at_steps=at_steps, estimator=estimator, budget=budget, max_order=max_order)
        self.extras = ExtrasOptions(attributions=attributions, and_or=and_or, and_or_solver=and_or_solver,
                                    and_or_noise_bound=and_or_noise_bound)
        check_option_groups(self.run, self.sampling, self.extras, self.evaluation, build=given is None)
        self._given = given
        self._pool = pool
        self._trainer_ref: Callable[[], Trainer | None] = lambda: None
        # run state (set at on_train_begin)
        self._samples: AnnotatedSampleSet | None = None
        self._dir: Path | None = None
        self._run_fields: dict[str, Any] = {}
        self._refs: dict = {}
        self._history: dict[int, dict[str, Any]] = {}  # global step -> {"path", "sha256", "epoch", "epoch_fraction"}
        self._lock: FolderLock | None = None
        self._finished = False

    # ------------------------------------------------------------------ binding and state

    def attach(self, trainer: Trainer) -> InteractionTrainerCallback:
        """Bind the callback to ``trainer`` (adding it to the trainer's callbacks when it is not there yet),
        so its scalars go through ``trainer.log``; returns the callback."""
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        self._trainer_ref = weakref.ref(trainer)
        return self

    @property
    def history(self) -> dict[int, dict[str, Any]]:
        """``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the evaluations of this training."""
        return {e: dict(v) for e, v in self._history.items()}

    @property
    def annotated_sample_set(self) -> AnnotatedSampleSet | None:
        """The sample set of the current training (after ``on_train_begin``)."""
        return self._samples

    def _trainer(self) -> Trainer:
        trainer = self._trainer_ref()
        if trainer is None:
            raise ConfigError(
                "InteractionTrainerCallback logs through its Trainer, which a TrainerCallback is not handed: bind "
                "it before training with callback.attach(trainer) (docs/callback.md#hugging-face-trainer)"
            )
        return trainer

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       model: nn.Module | None = None, **kwargs: Any) -> None:
        trainer = self._trainer()  # fails before any work when the callback was not attached
        self._finished = False
        self._history = {}
        try:
            self._start(trainer, state, trainer.model if model is None else model)
        except BaseException:
            self._release_lock()
            raise

    def _start(self, trainer: Trainer, state: TrainerState, model: nn.Module) -> None:
        args = trainer.args
        self._dir = self._resolve_output_dir(args, state)
        self._samples = self._obtain_sample_set(state)
        self.extras.check_num_variables(self._samples.n)
        self.evaluation.check_num_variables(self._samples.n)
        regime = self.run.regime if self.run.regime is not None else getattr(model, "regime", None)
        self._run_fields = dict(annotation_hash=self._samples.hash, regime=regime, n=int(self._samples.n),
                                precision=self.evaluation.precision, model=model_name(model),
                                dataset=str(self._samples.meta.get("pool", self._samples.kind)))
        self._refs = load_references(self.run, annotation_hash=self._samples.hash,
                                     model=self._run_fields["model"], dataset=self._run_fields["dataset"],
                                     estimator=self.evaluation.estimator)
        if self.evaluation.dashboard and state.is_world_process_zero:
            layout = dashboard_layout(knowledge="pretrain" in self._refs, ratio="finetune" in self._refs,
                                      and_or=self.extras.and_or)
            for writer in tensorboard_writers(trainer):
                writer.add_custom_scalars(prefixed_layout(layout, TRAINER_TAG_PREFIX))
        if state.global_step == 0:
            self._evaluate(trainer, model, state, EvaluationPoint(0, 0, 0.0, True), log=True)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    model: nn.Module | None = None, **kwargs: Any) -> None:
        """An evaluation inside the epoch at a scheduled global step; on an epoch's last step it is left to the
        epoch's evaluation when that one is scheduled, at ``max_steps`` to the end's (one per global step)."""
        step, fraction = int(state.global_step), float(state.epoch or 0.0)
        if step in self._history or not step_scheduled(self.evaluation, step):
            return
        ends_epoch = abs(fraction - round(fraction)) < 1e-6
        if step >= state.max_steps or (ends_epoch and epoch_scheduled(self.evaluation, round(fraction), None)):
            return
        trainer = self._trainer()
        point = EvaluationPoint(step, int(math.floor(fraction + 1e-6)), fraction, False)
        self._evaluate(trainer, trainer.model if model is None else model, state, point, log=True)

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: nn.Module | None = None, **kwargs: Any) -> None:
        trainer = self._trainer()
        model = trainer.model if model is None else model
        epoch = epoch_reached(state)
        last = state.global_step >= state.max_steps
        if (epoch % self.evaluation.every_n_epochs == 0 or last) and state.global_step not in self._history:
            point = EvaluationPoint(int(state.global_step), epoch, epochs_trained(state), True)
            self._evaluate(trainer, model, state, point, log=True)
        if last:
            self._finish(trainer, state, log=True)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: nn.Module | None = None, **kwargs: Any) -> None:
        """Training stopped before its last epoch ended (``max_steps`` inside an epoch, early stopping): evaluate
        the epoch reached and write the final files. The reporting integrations have closed their runs by
        now (they come first in the Trainer's callbacks), so this evaluation is written, not logged."""
        try:
            if not self._finished and self._samples is not None:
                trainer = self._trainer()
                if state.global_step not in self._history:
                    point = EvaluationPoint(int(state.global_step), epoch_reached(state), epochs_trained(state), True)
                    self._evaluate(trainer, trainer.model if model is None else model, state, point, log=False)
                self._finish(trainer, state, log=False)
        finally:
            self._release_lock()

    # ------------------------------------------------------------------ folder and sample set

    def _resolve_output_dir(self, args: TrainingArguments, state: TrainerState) -> Path:
        """``output_dir`` (default ``<args.output_dir>/interactions``), checked writable, locked by process zero."""
        folder = self.run.output_dir or str(Path(args.output_dir or ".") / "interactions")
        if state.is_world_process_zero:
            check_writable(folder)
            self._release_lock()
            self._lock = lock_folder(folder, "output_dir")
        return Path(folder).resolve()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _obtain_sample_set(self, state: TrainerState) -> AnnotatedSampleSet:
        """The given sample set, the ``sample_set`` file, or one built from ``pool``; process zero saves a
        copy in the output folder (and a built one at ``sample_set``)."""
        path = self.run.sample_set
        save_to = [self._dir / ANNOTATION_FILE]
        if self._given is not None:
            samples = self._given
        elif path is not None and Path(path).is_file():
            samples = load_sample_set(path, self.sampling)
            save_to = [] if Path(path).resolve() == save_to[0] else save_to
        elif self._pool is not None:
            samples = build_from_pool(self._pool, self.sampling)
            save_to += [Path(path)] if path is not None else []
        else:
            where = f"sample_set={path!r} is not an existing file and " if path else ""
            raise ConfigError(
                f"{where}no pool was given to build the sample set from; pass pool=TextPool(sentences, labels, "
                "tokenizer) (or an ImagePool), or sample_set=<annotation file> (see interactions.build_*_sample_set)"
            )
        if state.is_world_process_zero:
            for target in save_to:
                samples.save(target)
        return samples

    # ------------------------------------------------------------------ evaluation

    def _evaluate(self, trainer: Trainer, model: nn.Module, state: TrainerState, point: EvaluationPoint, *,
                  log: bool) -> None:
        """One evaluation at ``state.global_step``: every process computes, process zero writes ``epoch_XXX.pt``
        (``step_XXXXXXX.pt`` inside an epoch); with ``log`` the scalars go through ``trainer.log`` and the figures
        to TensorBoard."""
        zero = state.is_world_process_zero
        view = SingleProcess(is_global_zero=zero, writers=tensorboard_writers(trainer) if zero else ())
        # the progress bar on process zero, unless the Trainer's own bars are off (disable_tqdm)
        evaluation = replace(self.evaluation, progress=self.evaluation.progress and not trainer.args.disable_tqdm)
        step = int(state.global_step)
        sparse = evaluation.estimator == "sparse"  # estimated dividends, no figures (:mod:`~.sparse_evaluation`)
        if sparse:
            result = estimate_on_device(evaluation_model(model), self._samples, evaluation,
                                        resolve_forward(model, evaluation.forward), device=model.device,
                                        progress=evaluation.progress and zero)
            content = sparse_record(result, epoch=point.epoch, global_step=step, log_step=step, run=self._run_fields,
                                    epoch_fraction=point.epoch_fraction, attributions=self.extras.attributions)
            metrics = sparse_scalars(result, point.logged_epoch, self._refs)
        else:
            values, audit = sharded_values(view, model, self._samples, evaluation, self.sampling.max_variables)
            content, dividends = evaluation_record(values, audit, epoch=point.epoch, global_step=step, log_step=step,
                                                   run=self._run_fields, epoch_fraction=point.epoch_fraction)
            extras, and_or = extras_of(view, model, values, dividends, self.extras)
            content.update(extras)
            metrics, by_order = evaluation_scalars(dividends, audit, self._refs, and_or, point.logged_epoch)
        path = point.path(self._dir)  # every process keeps the history, so all take the same decisions
        self._history[step] = point.history_entry(path, save_artifact(path, KIND, content) if zero
                                                  else content_hash(content))
        if not log:
            return
        log_now(trainer, metrics)
        if zero and self.evaluation.figures and not sparse:
            log_figures(view, dividends, by_order, point.epoch, step, and_or, name=point.name, label=point.label)

    def _finish(self, trainer: Trainer, state: TrainerState, *, log: bool) -> None:
        """Process zero writes ``jaccard.json`` and ``final.json``; with ``log`` it logs
        ``knowledge/jaccard_to_final`` at each evaluated epoch's step through the Trainer's integrations."""
        self._finished = True
        if not state.is_world_process_zero or not self._history:
            return
        if self.evaluation.estimator == "sparse":
            steps, jaccard, log_steps = sparse_final_files(self._dir, self._history)
        else:
            dividends, log_steps = history_dividends(self._history)
            steps, jaccard = write_final_files(self._dir, self._history, dividends)
        if log:
            for step, value in zip(steps, jaccard):
                log_at_step(trainer, {"knowledge/jaccard_to_final": value}, log_steps[step])


def epoch_reached(state: TrainerState) -> int:
    """The epoch the Trainer is in or has just ended (``state.epoch`` is fractional inside an epoch, 1.0 at the
    end of the first): a training stopped inside epoch 2 (``state.epoch`` 1.5) is at epoch 2."""
    return int(math.ceil((state.epoch or 0.0) - 1e-6))


def epochs_trained(state: TrainerState) -> float:
    """``state.epoch`` (epochs trained, fractional inside an epoch), the integer when it is one up to rounding."""
    fraction = float(state.epoch or 0.0)
    return float(round(fraction)) if abs(fraction - round(fraction)) < 1e-6 else fraction


def log_now(trainer: Trainer, metrics: dict[str, float]) -> None:
    """``trainer.log(metrics)``: every reporting integration gets them at ``state.global_step`` and
    ``state.log_history`` records them. The Trainer's ``on_log`` clears ``control.should_log``; it is put
    back, so the loss the Trainer is about to log at an epoch end (``logging_strategy="epoch"``) still is."""
    should_log = trainer.control.should_log
    try:
        trainer.log(dict(metrics))
    finally:
        trainer.control.should_log = should_log


def log_at_step(trainer: Trainer, metrics: dict[str, float], step: int) -> None:
    """Hand ``metrics`` to every callback's ``on_log`` (the reporting integrations) as if logged at ``step``:
    the integrations read the step from ``state.global_step``, which is set to ``step`` for this call only
    (``control.should_log`` is kept, as in :func:`log_now`)."""
    state, control = trainer.state, trainer.control
    current, should_log = state.global_step, control.should_log
    state.global_step = step
    try:
        trainer.callback_handler.on_log(trainer.args, state, control, dict(metrics))
    finally:
        state.global_step, control.should_log = current, should_log


__all__ = ["TRAINER_TAG_PREFIX", "InteractionTrainerCallback", "epoch_reached", "epochs_trained", "log_at_step", "log_now", "prefixed_layout",
           "tensorboard_writers"]
