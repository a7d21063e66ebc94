"""A Hugging Face ``transformers.Trainer`` as the recorder's training loop (docs/callback.md#hugging-face-trainer).

A ``TrainerCallback`` is handed the Trainer's arguments, state and control, never the Trainer itself. Its hooks
are called by the Trainer's ``CallbackHandler``, which holds everything the recorder needs: the reporting
integrations (``report_to``), their TensorBoard writers, the model. :func:`calling_handler` finds that handler once
per training, in the frame that calls the hook, so putting the callback in ``callbacks=[...]`` (or
``trainer.add_callback``) is all it takes.

:class:`TrainerLoop` then answers the recorder's questions (:class:`~.training_loop.TrainingLoop`): its processes
are ``torch.distributed``'s (the Trainer's own, under ``torchrun`` or ``accelerate launch``); its scalars go to
every reporting integration's ``on_log`` at the step they belong to, without the ``epoch`` entry the Trainer's
own ``log`` adds, and into ``state.log_history``; its figures and dashboard to the TensorBoard integration's
writers. TensorBoard and W&B prefix the tags with ``train/`` (``train/interactions/salient_count`` beside
``train/loss``), MLflow keeps ``interactions/salient_count``. :func:`trainer_position` maps the Trainer's state to a
:class:`~.evaluation_schedule.TrainingPosition`: epochs as the Trainer counts them (``state.epoch``, ``1.25`` a
quarter into the second epoch).
"""
from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING, Any, Optional

from harsanyi_lightning.interactions.errors import ConfigError

from .evaluation_schedule import TrainingPosition
from .figure_logging import FigureWriter, summary_writer_figures
from .training_loop import TorchDistributed, default_folder

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments
    from transformers.trainer_callback import CallbackHandler

    from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet, ImagePool, TextPool

#: the prefix TensorBoard's and W&B's Trainer integrations give every logged key but ``eval_*`` / ``test_*``
TRAINER_TAG_PREFIX = "train/"


def calling_handler(callback: Any) -> CallbackHandler:
    """The ``CallbackHandler`` whose ``call_event`` is calling one of ``callback``'s hooks: the nearest caller's
    ``self`` that is a handler holding ``callback``. :class:`ConfigError` when the hook was called some other way."""
    from transformers.trainer_callback import CallbackHandler

    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, CallbackHandler) and callback in candidate.callbacks:
            return candidate
        frame = frame.f_back
    raise ConfigError(f"{type(callback).__name__} records during transformers.Trainer.train: give it to the Trainer "
                      "(Trainer(..., callbacks=[callback]) or trainer.add_callback(callback)) instead of calling its "
                      "hooks yourself (docs/callback.md#hugging-face-trainer)")


def prefixed_layout(layout: dict[str, dict[str, list]], prefix: str) -> dict[str, dict[str, list]]:
    """A custom-scalars layout whose tag regexes match the tags under ``prefix`` (``.*`` ones stay)."""
    return {category: {title: [kind, [r if r.startswith(".*") else prefix + r for r in regexes]]
                       for title, (kind, regexes) in charts.items()}
            for category, charts in layout.items()}


def trainer_position(state: TrainerState, control: TrainerControl) -> TrainingPosition:
    """Where the Trainer is: its global step, ``state.epoch`` (whole at an epoch's end), the epochs it runs for, and
    whether it stops after this step (``max_steps`` reached, or a callback asked it to stop)."""
    epochs = state.num_train_epochs
    return TrainingPosition(int(state.global_step), float(state.epoch or 0.0),
                            max_epochs=int(math.ceil(epochs)) if epochs else None,
                            stops=bool(control.should_training_stop) or 0 < state.max_steps <= state.global_step)


class TrainerLoop(TorchDistributed):
    """The recorder's view of the Trainer that calls ``callback`` through ``handler`` (this module's docstring)."""

    def __init__(self, handler: CallbackHandler, args: TrainingArguments, state: TrainerState,
                 control: TrainerControl, callback: Any) -> None:
        self.handler, self.args, self.state, self.control, self.callback = handler, args, state, control, callback

    @property
    def show_progress(self) -> bool:
        return not self.args.disable_tqdm

    def default_output_dir(self) -> str:
        return default_folder(self.args.output_dir)

    def annotation_pool(self, split: str) -> Optional[TextPool | ImagePool]:
        return None  # a Trainer has no datamodule: the callback is handed its pool

    def dataset_name(self, samples: AnnotatedSampleSet) -> str:
        return str(samples.meta.get("pool", samples.kind))

    def _reporters(self) -> list[Any]:
        """Every callback of the handler but this one and the console printers."""
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        return [cb for cb in self.handler.callbacks if cb is not self.callback
                and not isinstance(cb, (PrinterCallback, ProgressCallback))]

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        """Each reporting integration's ``on_log`` as if the scalars were logged at ``step`` (``state.global_step``
        set to it for this call only), and ``state.log_history`` records them."""
        self.state.log_history.append({**scalars, "step": step})
        current, should_log = self.state.global_step, self.control.should_log
        context = {name: getattr(self.handler, name, None) for name in (
            "model", "processing_class", "optimizer", "lr_scheduler", "train_dataloader", "eval_dataloader")}
        self.state.global_step = step
        try:
            for reporter in self._reporters():
                reporter.on_log(self.args, self.state, self.control, logs=dict(scalars), **context)
                _flush_async_mlflow(reporter)
        finally:
            self.state.global_step, self.control.should_log = current, should_log

    def _tensorboard_writers(self) -> list[Any]:
        writers = [getattr(cb, "tb_writer", None) for cb in self.handler.callbacks]
        return [w for w in writers if callable(getattr(w, "add_figure", None))]

    def figure_writers(self) -> list[FigureWriter]:
        return [summary_writer_figures(w) for w in self._tensorboard_writers()]

    def write_layout(self, layout: dict[str, dict[str, list]]) -> None:
        for writer in self._tensorboard_writers():
            writer.add_custom_scalars(prefixed_layout(layout, TRAINER_TAG_PREFIX))


def _flush_async_mlflow(reporter: Any) -> None:
    """Wait for the batch the Trainer's ``MLflowCallback`` just queued. It logs asynchronously, so the recorder's
    back-to-back steps (``knowledge/jaccard_to_final`` at every evaluation, at the end) would otherwise be written
    by parallel threads, and MLflow's local file store loses a metric when two of them create its folder at once."""
    from transformers.integrations import MLflowCallback

    if isinstance(reporter, MLflowCallback):
        import mlflow

        flush = getattr(mlflow, "flush_async_logging", None)  # MLflow 2.8 and later, as is asynchronous logging
        if callable(flush):
            flush()


__all__ = ["TRAINER_TAG_PREFIX", "TrainerLoop", "calling_handler", "prefixed_layout", "trainer_position"]
