"""``InteractionRecorder``: the Harsanyi interactions of a model while it trains, for any training loop
(docs/callback.md#any-training-loop).

The recorder owns everything the measurement needs: the options (:mod:`~.options`), the annotated sample set
(:mod:`~.sample_set_source`), the output folder and its lock, the evaluation schedule (:mod:`~.evaluation_schedule`),
the evaluation itself (an estimator of :mod:`harsanyi_lightning.interactions.estimators`), the history of
evaluations and the references (:mod:`~.history`), its state (:meth:`state_dict` / :meth:`load_state_dict`) and the
final files. A training loop drives it through five calls, giving its position (:class:`TrainingPosition`) and a
:class:`~.training_loop.TrainingLoop` (its ranks and loggers)::

    recorder = InteractionRecorder(pool=pool, output_dir="runs/interactions", at_steps=[25, 50])
    recorder.start(model, PlainLoop(writer=SummaryWriter("runs")))       # prepare + begin: step 0
    for epoch in range(epochs):
        for i, batch in enumerate(loader):
            ...                                                          # forward, backward, optimizer.step()
            step += 1
            recorder.after_step(model, TrainingPosition(step, epoch + (i + 1) / len(loader)))
        recorder.after_epoch(model, TrainingPosition(step, epoch + 1, max_epochs=epochs))
    recorder.finish(model)                                               # the final evaluation, jaccard.json

The Lightning callback (:class:`~harsanyi_lightning.callbacks.InteractionCallback`) and the Hugging Face Trainer
callback (:class:`~harsanyi_lightning.callbacks.InteractionTrainerCallback`) are thin adapters that make these
calls from their frameworks' hooks. Under several ranks every rank makes every call: each evaluates its share of
the samples and holds the gathered result; rank zero writes, logs and holds the folder's lock
(:class:`~harsanyi_lightning.interactions.errors.FolderInUseError` for a second writer).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from harsanyi_lightning.interactions.and_or import AndOrInteractions
from harsanyi_lightning.interactions.artifacts import content_hash, save_artifact
from harsanyi_lightning.interactions.errors import ConfigError, FolderInUseError
from harsanyi_lightning.interactions.estimates import reference_scalars
from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet
from harsanyi_lightning.interactions.scalars import and_or_scalars
from harsanyi_lightning.interactions.values import model_device

from .artifact_layout import KIND
from .dashboard import dashboard_layout
from .evaluation import evaluation_content, evaluation_model, log_figures, model_name, sharded_and_or
from .evaluation_schedule import EvaluationPoint, TrainingPosition, epoch_point, start_point, step_point
from .folder_lock import FolderLock, lock_folder
from .history import (
    check_restored_annotation,
    check_writable,
    load_references,
    restored_history,
    write_final_files,
)
from .model_forward import resolve_forward
from .options import RecorderOptions
from .sample_set_source import obtain_sample_set
from .training_loop import PlainLoop

if TYPE_CHECKING:
    from torch import nn

    from harsanyi_lightning.interactions.estimates import InteractionEstimate
    from harsanyi_lightning.interactions.sample_set import ImagePool, TextPool

    from .training_loop import TrainingLoop


class InteractionRecorder:
    """Compute, store and log the Harsanyi interactions of a model during training (this module's docstring).

    Args:
        sample_set: the annotated sample set: an :class:`AnnotatedSampleSet`, or the path of an annotation file,
            loaded when it exists, else built (from ``pool``, or the training loop's pool) and saved there.
        pool: a :class:`~harsanyi_lightning.interactions.TextPool` or
            :class:`~harsanyi_lightning.interactions.ImagePool` to build the sample set from.
        **options: the options of docs/callback.md#arguments (``n``, ``every_n_epochs``, ``at_steps``,
            ``estimator``, ``references``, ``output_dir``, ...), checked together
            (:class:`~harsanyi_lightning.callbacks.options.RecorderOptions`); a bad or unknown one is a
            :class:`~harsanyi_lightning.interactions.errors.ConfigError` naming it.
    """

    def __init__(self, sample_set: str | AnnotatedSampleSet | None = None,
                 pool: Optional[TextPool | ImagePool] = None, **options: Any) -> None:
        self._given = sample_set if isinstance(sample_set, AnnotatedSampleSet) else None
        path = None if self._given is not None else sample_set
        self.options = RecorderOptions.from_arguments(sample_set=path, build=self._given is None, **options)
        self.estimator = self.options.evaluation.build_estimator(self.options.sampling.max_variables)
        self._pool = pool
        #: global step -> {"path", "sha256", "epoch", "epoch_fraction"}: part of the state
        self._history: dict[int, dict[str, Any]] = {}
        self._restored_hash: Optional[str] = None
        self._verified = True
        self._loop: Optional[TrainingLoop] = None
        self._samples: Optional[AnnotatedSampleSet] = None
        self._folder: Optional[Path] = None
        self._run: dict[str, Any] = {}
        self._refs: dict[str, InteractionEstimate] = {}
        self._forward: Optional[Callable] = None
        self._lock: Optional[FolderLock] = None
        self._layout_written = False
        self._position: Optional[TrainingPosition] = None
        self.finished = False

    # ------------------------------------------------------------------ options and state

    def option(self, name: str) -> Any:
        """An option's value by its name (``recorder.option("n")``)."""
        return self.options.lookup(name)

    @property
    def history(self) -> dict[int, dict[str, Any]]:
        """``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the evaluations so far (a copy)."""
        return {s: dict(v) for s, v in self._history.items()}

    @property
    def annotated_sample_set(self) -> Optional[AnnotatedSampleSet]:
        """The sample set of the current run (after :meth:`prepare`)."""
        return self._samples

    @property
    def output_dir(self) -> Optional[Path]:
        """The folder the artifacts go to (after :meth:`prepare`)."""
        return self._folder

    def identity(self) -> dict[str, Any]:
        """The few options that tell two recorders of one run apart (a callback's ``state_key``)."""
        run = self.options.run
        return {"sample_set": run.sample_set, "output_dir": run.output_dir, "regime": run.regime}

    def state_dict(self) -> dict[str, Any]:
        """The evaluations so far by global step (artifact path, sha256, epoch, epoch fraction) and the annotation
        hash: what a resumed run needs to continue the same history."""
        annotation = self._samples.hash if self._samples is not None else self._restored_hash
        return {"annotation_hash": annotation, "history": {int(s): dict(v) for s, v in sorted(self._history.items())}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint's history; its files are verified when training begins (:meth:`begin`)."""
        self._restored_hash = state.get("annotation_hash")
        self._history = {int(k): dict(v) for k, v in (state.get("history") or {}).items()}
        self._verified = not self._history

    # ------------------------------------------------------------------ the calls of a training loop

    def prepare(self, model: nn.Module, loop: TrainingLoop) -> None:
        """Before training, no forward pass yet: the model's ``forward`` resolved, the output folder checked and
        locked, the sample set obtained, the references loaded and checked. Every failure here comes before any
        work. The history starts empty (a resumed run restores it afterwards: :meth:`load_state_dict`)."""
        self._loop = loop
        self._history, self._verified, self._restored_hash = {}, True, None
        self._layout_written, self.finished, self._position = False, False, None
        run, sampling, evaluation = self.options.run, self.options.sampling, self.options.evaluation
        self._forward = resolve_forward(model, evaluation.forward)
        self._folder = self._locked_folder(run.output_dir or loop.default_output_dir())
        self._samples = obtain_sample_set(run, sampling, self._folder, loop, given=self._given, pool=self._pool)
        self.options.extras.check_num_variables(self._samples.n)  # same sample set on every rank: all raise together
        self.estimator.check_variables(self._samples.n)
        self._run = dict(annotation_hash=self._samples.hash, n=int(self._samples.n), precision=evaluation.precision,
                         regime=run.regime if run.regime is not None else getattr(model, "regime", None),
                         model=model_name(model), dataset=loop.dataset_name(self._samples))
        self._refs = load_references(run, annotation_hash=self._samples.hash, model=self._run["model"],
                                     dataset=self._run["dataset"], estimated=self.estimator.result.estimated)

    def begin(self, model: nn.Module, position: TrainingPosition, *, log_step: Optional[int] = None) -> None:
        """When training begins: a restored history verified, the dashboard written once, and the evaluation at
        ``position`` when it is due (step 0; on a resumed run the point it resumes at, when scheduled)."""
        self._verify_restored()
        if self.options.evaluation.dashboard and self._loop.is_global_zero and not self._layout_written:
            self._loop.write_layout(dashboard_layout(knowledge="pretrain" in self._refs, ratio="finetune" in self._refs,
                                                     and_or=self.options.extras.and_or))
            self._layout_written = True
        self._evaluate_due(model, start_point(self.options.evaluation, position), position, log_step)

    def after_step(self, model: nn.Module, position: TrainingPosition, *, log_step: Optional[int] = None) -> None:
        """After an optimizer step: the evaluation at ``position`` when its global step is scheduled."""
        self._evaluate_due(model, step_point(self.options.evaluation, position), position, log_step)

    def after_epoch(self, model: nn.Module, position: TrainingPosition, *, log_step: Optional[int] = None) -> None:
        """At an epoch's end: its evaluation when scheduled."""
        self._evaluate_due(model, epoch_point(self.options.evaluation, position), position, log_step)

    def finish(self, model: nn.Module, position: Optional[TrainingPosition] = None, *,
               log_step: Optional[int] = None) -> None:
        """At the end of training (at ``position``, default the last one given): the final evaluation when the last
        global step was not evaluated (training stopped early), then rank zero writes ``jaccard.json`` and
        ``final.json`` and logs ``knowledge/jaccard_to_final`` (eq. 9) at each evaluation's step."""
        position = position if position is not None else self._position
        if position is None:
            raise ConfigError("InteractionRecorder.finish needs the position training ended at: call begin first, "
                              "or pass finish(model, TrainingPosition(global_step, epochs_trained))")
        self._verify_restored()
        self._evaluate_due(model, EvaluationPoint.at(position), position, log_step)
        if self._loop.is_global_zero:
            steps, jaccard, log_steps = write_final_files(self._folder, self._history)
            for step, value in zip(steps, jaccard):
                self._loop.log_scalars({"knowledge/jaccard_to_final": value}, log_steps[step])
        self.finished = True

    def close(self) -> None:
        """Let the output folder's lock go (at the end of training, or when it fails)."""
        if self._lock is not None:
            self._lock, lock = None, self._lock
            lock.release()

    def start(self, model: nn.Module, loop: Optional[TrainingLoop] = None,
              position: Optional[TrainingPosition] = None) -> None:
        """:meth:`prepare` and :meth:`begin` in one call, for a plain loop (``loop`` default: a
        :class:`~.training_loop.PlainLoop` that logs nowhere; ``position`` default: step 0)."""
        self.prepare(model, loop if loop is not None else PlainLoop())
        self.begin(model, position if position is not None else TrainingPosition(0, 0.0))

    # ------------------------------------------------------------------ internals

    def _locked_folder(self, folder: str) -> Path:
        """``folder``, checked writable and locked by rank zero; every rank gets rank zero's verdict."""
        error = None
        if self._loop.is_global_zero:
            try:
                check_writable(folder)
                self.close()
                self._lock = lock_folder(folder, "output_dir")
            except (ConfigError, FolderInUseError) as err:
                error = (type(err).__name__, str(err))
        error = self._loop.broadcast(error, src=0)
        if error:
            raise (FolderInUseError if error[0] == "FolderInUseError" else ConfigError)(error[1])
        return Path(folder).resolve()

    def _verify_restored(self) -> None:
        """After a resume, once: the restored history comes from this sample set and its files are intact."""
        if not self._verified:
            check_restored_annotation(self._restored_hash, self._samples.hash)  # every rank knows both
            restored_history(self._loop, self._history, self._samples.hash)
            self._verified = True

    def _evaluate_due(self, model: nn.Module, point: Optional[EvaluationPoint], position: TrainingPosition,
                      log_step: Optional[int]) -> None:
        self._position = position
        if point is not None and point.global_step not in self._history:
            self._evaluate(model, point, position.global_step if log_step is None else log_step)

    def _evaluate(self, model: nn.Module, point: EvaluationPoint, log_step: int) -> None:
        """One evaluation: every rank estimates its share, rank zero writes ``epoch_XXX.pt`` (``step_XXXXXXX.pt``
        inside an epoch) and logs its scalars and figures at ``log_step``."""
        loop, evaluation, extras = self._loop, self.options.evaluation, self.options.extras
        zero, device = loop.is_global_zero, model_device(model)
        shards = loop.shards(device)
        estimate = self.estimator.estimate(evaluation_model(model), self._samples, forward=self._forward,
                                           device=device, progress=evaluation.progress and zero and loop.show_progress,
                                           shards=shards)
        and_or: Optional[AndOrInteractions] = None
        if extras.and_or:
            and_or = sharded_and_or(estimate.values, shards, device, extras)
        content = evaluation_content(estimate, point, log_step=log_step, run=self._run,
                                     attributions=extras.attributions, and_or=and_or)
        scalars = estimate.interaction_scalars()
        knowledge, by_order = reference_scalars(estimate, self._refs)
        scalars.update(knowledge)
        if and_or is not None:
            scalars.update(and_or_scalars(and_or))
        scalars["interactions/epoch"] = point.logged_epoch
        path = point.path(self._folder)
        digest = save_artifact(path, KIND, content) if zero else content_hash(content)
        self._history[point.global_step] = point.history_entry(path, digest)
        if zero:
            loop.log_scalars(scalars, log_step)
            if evaluation.figures:
                log_figures(loop.figure_writers(), estimate, by_order, and_or, point, log_step)


class RecorderHolder:
    """What an adapter that holds an :class:`InteractionRecorder` as ``self.recorder`` shows of it: its options, its
    history and its sample set."""

    recorder: InteractionRecorder

    @property
    def options(self) -> RecorderOptions:
        """The options in their four groups: ``run``, ``sampling``, ``evaluation``, ``extras``."""
        return self.recorder.options

    @property
    def history(self) -> dict[int, dict[str, Any]]:
        """``{global step: {"path", "sha256", "epoch", "epoch_fraction"}}`` of the evaluations so far (a copy)."""
        return self.recorder.history

    @property
    def annotated_sample_set(self) -> Optional[AnnotatedSampleSet]:
        """The sample set of the current training (once it began)."""
        return self.recorder.annotated_sample_set


__all__ = ["InteractionRecorder", "RecorderHolder", "TrainingPosition"]
