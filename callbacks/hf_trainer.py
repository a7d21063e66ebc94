"""``InteractionTrainerCallback``: the interaction recorder as a Hugging Face ``transformers.Trainer`` callback
(docs/callback.md#hugging-face-trainer).

It holds no orchestration of its own: each hook maps the Trainer's state (:mod:`~.trainer_loop`) onto a call of its
:class:`~harsanyi_lightning.callbacks.recorder.InteractionRecorder`, which writes the same artifacts, scalars and
Jaccard curve as the Lightning callback. The Trainer's model is evaluated before the first step, after every
``every_n_epochs`` epochs and at the end, and at the global steps of ``every_n_steps`` / ``at_steps``. The scalars
reach every ``report_to`` integration at the Trainer's steps. The recorder's history is saved with every Trainer
checkpoint (``trainer_state.json``, ``stateful_callbacks``) and restored by ``train(resume_from_checkpoint=...)``.
Under several processes (``torchrun``, ``accelerate launch``) each evaluates its share of the samples and process
zero writes. A training stopped early (``max_steps``, early stopping) gets its final evaluation logged while the
integrations are still open.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet

from .artifact_layout import ANNOTATION_FILE
from .recorder import InteractionRecorder, RecorderHolder
from .trainer_loop import TrainerLoop, calling_handler, trainer_position

if TYPE_CHECKING:
    from torch import nn
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from harsanyi_lightning.interactions.sample_set import ImagePool, TextPool

#: the ``stateful_callbacks`` attribute that holds the recorder's state in a Trainer checkpoint
STATE_ATTRIBUTE = "recorder_state"


def importable_name(value: Any) -> Optional[str]:
    """``module.qualname`` of a function that can be imported by that name, else ``None``."""
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    return f"{module}.{name}" if module and name and "<" not in name else None


class InteractionTrainerCallback(RecorderHolder, TrainerCallback, ExportableState):
    """Compute, store and log the Harsanyi interactions of a ``transformers.Trainer``'s model during ``train``.

    Args:
        sample_set: the annotated sample set: an :class:`AnnotatedSampleSet`, or the path of an annotation file,
            loaded when it exists, else built from ``pool`` and saved there.
        pool: a :class:`~harsanyi_lightning.interactions.TextPool` (sentences, labels, the model's tokenizer) or
            :class:`~harsanyi_lightning.interactions.ImagePool` the sample set is built from (the Trainer has no
            datamodule); not needed with an existing ``sample_set`` file.
        **options: every other option of :class:`~harsanyi_lightning.callbacks.InteractionCallback`
            (docs/callback.md#arguments); ``output_dir`` defaults to ``<args.output_dir>/interactions``.

    Example::

        callback = InteractionTrainerCallback(pool=TextPool(sentences, labels, tokenizer, name="sst2-dev"), n=10)
        trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[callback])
        trainer.train()
    """

    def __init__(self, sample_set: str | AnnotatedSampleSet | None = None,
                 pool: Optional[TextPool | ImagePool] = None, **options: Any) -> None:
        self.recorder = InteractionRecorder(sample_set=sample_set, pool=pool, **options)
        self._loop: Optional[TrainerLoop] = None

    def state(self) -> dict[str, Any]:
        """What a Trainer checkpoint keeps (``ExportableState``): the recorder's history as an attribute, and as
        arguments the options that rebuild this callback, its sample set the copy in its output folder."""
        options = self.recorder.options
        args: dict[str, Any] = {}
        for group in (options.run, options.sampling, options.evaluation, options.extras):
            args.update({name: getattr(group, name) for name in group.__dataclass_fields__})
        if callable(args["forward"]):
            args["forward"] = importable_name(args["forward"])
        folder = self.recorder.output_dir
        if folder is not None:
            args["sample_set"] = str(folder / ANNOTATION_FILE)
        return {"args": args, "attributes": {STATE_ATTRIBUTE: self.recorder.state_dict()}}

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       model: nn.Module | None = None, **kwargs: Any) -> None:
        handler = calling_handler(self)
        self._loop = TrainerLoop(handler, args, state, control, self)
        model = model if model is not None else handler.model
        try:
            self.recorder.prepare(model, self._loop)
            saved = (state.stateful_callbacks or {}).get(type(self).__name__)
            saved = saved[0] if isinstance(saved, list) else saved
            restored = (saved or {}).get("attributes", {}).get(STATE_ATTRIBUTE)
            if state.global_step > 0 and restored:  # resume_from_checkpoint: the checkpoint's history
                self.recorder.load_state_dict(restored)
            self.recorder.begin(model, trainer_position(state, control))
        except BaseException:
            self.recorder.close()
            raise

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    model: nn.Module | None = None, **kwargs: Any) -> None:
        self._update(args, state, control)
        self.recorder.after_step(model, trainer_position(state, control))

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: nn.Module | None = None, **kwargs: Any) -> None:
        """The epoch's evaluation and, when training stops here (``max_steps``, a stop request), the end of
        training's, logged while the reporting integrations are open."""
        self._update(args, state, control)
        position = trainer_position(state, control)
        self.recorder.after_epoch(model, position)
        if position.stops:
            self.recorder.finish(model, position)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: nn.Module | None = None, **kwargs: Any) -> None:
        """Training that stopped without an epoch end after it (a stop request inside an epoch's evaluation) gets
        its final evaluation and files here; the integrations reopen their writers to log them."""
        try:
            if self._loop is not None and not self.recorder.finished:
                self._update(args, state, control)
                self.recorder.finish(model, trainer_position(state, control))
        finally:
            self.recorder.close()
            self._loop = None

    def _update(self, args: TrainingArguments, state: TrainerState, control: TrainerControl) -> None:
        """The Trainer hands each hook its current arguments, state and control: the loop logs through those."""
        self._loop.args, self._loop.state, self._loop.control = args, state, control


__all__ = ["STATE_ATTRIBUTE", "InteractionTrainerCallback", "importable_name"]
