"""``InteractionCallback``: the interaction recorder as a Lightning callback (docs/callback.md).

One class for both Lightning packages (:mod:`~harsanyi_lightning.callbacks.lightning_compat`), in Python or by class
path in a LightningCLI YAML. It holds no orchestration of its own: each hook maps the trainer's position
(:mod:`~harsanyi_lightning.callbacks.lightning_loop`) onto a call of its
:class:`~harsanyi_lightning.callbacks.recorder.InteractionRecorder`, which evaluates at step 0, after every
``every_n_epochs`` epochs, at the end, and at the global steps of ``every_n_steps`` / ``at_steps`` inside an epoch,
writes ``epoch_XXX.pt`` (``step_XXXXXXX.pt`` inside an epoch) and logs ``interactions/*`` and ``knowledge/*`` beside
the loss, then ``knowledge/jaccard_to_final`` (eq. 9), ``jaccard.json`` and ``final.json``. The recorder's history is
part of the checkpoint: a resumed fit, from an epoch end or inside an epoch, continues the same history and schedule.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from harsanyi_lightning.interactions.and_or import DEFAULT_NOISE_BOUND
from harsanyi_lightning.interactions.sample_set import DEFAULT_MAX_VARIABLES

from .lightning_compat import CALLBACK_BASES, rank_zero_warn
from .lightning_loop import (
    LightningLoop,
    batch_log_step,
    batch_position,
    end_position,
    epoch_end_log_step,
    epoch_end_position,
    start_position,
)
from .recorder import InteractionRecorder, RecorderHolder

if TYPE_CHECKING:
    import pytorch_lightning as pl


class InteractionCallback(RecorderHolder, *CALLBACK_BASES):
    """Compute, store and log the Harsanyi interactions of the model during ``fit``.

    The arguments are the recorder's options (docs/callback.md#arguments), checked when the callback is built;
    each failure is a :class:`~harsanyi_lightning.interactions.errors.ConfigError` naming the option. Every option
    also reads as an attribute (``callback.n``, ``callback.every_n_epochs``).

    Args:
        sample_set: path of an annotation file, loaded (hash-checked) when it exists; otherwise the sample set is
            built from the datamodule's ``annotation_pool(pool_split)`` and saved there, so several runs of a study
            can share it. ``None``: build it and save it only beside the artifacts.
        n: input variables per sample (``None``: 10 words, 12 patches).
        num_samples: text samples (``None``: 50 sentences).
        per_class: images per class (``None``: 2).
        seed: the seed of the sample set's draw.
        baseline: ``"mean"`` (the mean training image; the paper's) or ``"zeros"``.
        background: ``"keep"`` the patches that are not variables, or set them to the ``"baseline"``.
        pool_split: the datamodule split the samples are drawn from.
        every_n_epochs: evaluate after every ``every_n_epochs`` epochs (and always at epoch 0 and the end).
        batch_size: masked inputs per forward pass.
        precision: ``"fp32"`` (strict, TF32 off; default) or an audited faster one (``"tf32"``, ``"fp16"``,
            ``"bf16"``; the audit error is logged as ``interactions/audit_rel_l1``).
        references: ``{"pretrain": path, "finetune": path}``, each an ``epoch_XXX.pt`` file or an interactions
            folder (its final evaluation); checked at ``setup``.
        output_dir: where artifacts go; default ``<trainer.log_dir>/interactions``.
        regime: recorded in artifacts; default ``pl_module.regime`` when it exists.
        forward: ``forward(model, inputs) -> logits[batch, classes]``, or the name of the attribute holding the
            network (``"net"``; docs/callback.md#forward); default: the module itself, which must define ``forward``.
        figures: log a figure per evaluation to loggers that draw figures (TensorBoard, MLflow, W&B).
        progress: show a progress bar on rank zero.
        on_nonfinite: ``"raise"`` on a NaN/inf model output, or ``"skip"`` the sample (recorded).
        max_variables: the cap on ``n`` (cost ``2**n`` forward passes per sample).
        missing_references: ``"error"`` (default) for a reference path that does not exist, or ``"warn"`` and skip
            it. A corrupt reference or one from another annotation always fails.
        grid: images only, the patch grid (patches per side or ``[rows, cols]``; default the paper's 8).
        region: images only, the central block the variables are drawn from (default: central 6x6 on the 8x8 grid).
        candidates: images only, explicit candidate patch indices.
        dashboard: write a custom-scalars layout (the paper's curves) once per fit to loggers that take one.
        attributions: also store exact Shapley and Banzhaf values and the pairwise Shapley interaction index,
            computed from the dividends (docs/method.md#beyond-the-paper; no forward pass).
        and_or: also compute AND-OR interactions (docs/method.md#beyond-the-paper), store them and log
            ``interactions/and_or/*``; ``n <= 12``.
        and_or_solver: ``"lp"`` (exact, HiGHS, CPU; default) or ``"gradient"`` (batched, certified gap).
        and_or_noise_bound: ``delta`` in ``|q_T| <= delta·|v(x_N) - v(x_∅)|``.
        every_n_steps: also evaluate inside an epoch whenever the global step is a positive multiple of it.
        at_steps: also evaluate at these global steps, e.g. ``[25, 50, 100, 200]`` (kept sorted and unique).
        estimator: ``"exact"`` (all ``2**n`` masks; default) or ``"sparse"`` (docs/callback.md#sparse-estimates).
        budget: the sparse estimator's masked forward passes per sample.
        max_order: the sparse estimator's largest subset size (``None``: no cap).

    Example::

        trainer = L.Trainer(max_epochs=10, callbacks=[InteractionCallback(grid=4, n=8, per_class=2)])
    """

    def __init__(
        self,
        sample_set: Optional[str] = None,
        n: Optional[int] = None,
        num_samples: Optional[int] = None,
        per_class: Optional[int] = None,
        seed: int = 0,
        baseline: str = "mean",
        background: str = "keep",
        pool_split: str = "val",
        every_n_epochs: int = 1,
        batch_size: int = 256,
        precision: str = "fp32",
        references: Optional[dict[str, str]] = None,
        output_dir: Optional[str] = None,
        regime: Optional[str] = None,
        forward: Union[str, Callable, None] = None,
        figures: bool = True,
        progress: bool = True,
        on_nonfinite: str = "raise",
        max_variables: int = DEFAULT_MAX_VARIABLES,
        missing_references: str = "error",
        grid: Union[int, list[int], None] = None,
        region: Union[int, list[int], None] = None,
        candidates: Optional[list[int]] = None,
        dashboard: bool = True,
        attributions: bool = True,
        and_or: bool = False,
        and_or_solver: str = "lp",
        and_or_noise_bound: float = DEFAULT_NOISE_BOUND,
        every_n_steps: Optional[int] = None,
        at_steps: Optional[list[int]] = None,
        estimator: str = "exact",
        budget: Optional[int] = None,
        max_order: Optional[int] = None,
    ) -> None:
        super().__init__()
        options = {name: value for name, value in locals().items() if name not in ("self", "__class__")}
        self.recorder = InteractionRecorder(**options)
        self._active = False

    def __getattr__(self, name: str) -> Any:
        """An option read as an attribute (``callback.n``)."""
        recorder = self.__dict__.get("recorder")
        if recorder is None:
            raise AttributeError(name)
        try:
            return recorder.option(name)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None

    # ------------------------------------------------------------------ state

    @property
    def state_key(self) -> str:
        return self._generate_state_key(**self.recorder.identity())

    def state_dict(self) -> dict[str, Any]:
        """The recorder's history by global step and its annotation hash (:meth:`InteractionRecorder.state_dict`)."""
        return self.recorder.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a checkpoint's history; its files are verified at ``on_train_start``."""
        self.recorder.load_state_dict(state_dict)

    # ------------------------------------------------------------------ hooks

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":  # Lightning's stage (fit, validate, test): the callback records during fit only
            return
        self._active = not trainer.fast_dev_run
        if not self._active:
            rank_zero_warn("InteractionCallback does nothing under fast_dev_run")
            return
        self.recorder.prepare(pl_module, LightningLoop(trainer))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active:
            position = start_position(trainer)
            log_step = epoch_end_log_step(trainer, position) if position.at_epoch_end else batch_log_step(trainer)
            self.recorder.begin(pl_module, position, log_step=log_step)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """A scheduled global step (once per step under gradient accumulation: the batch that stepped)."""
        if self._active:
            self.recorder.after_step(pl_module, batch_position(trainer, batch_idx), log_step=batch_log_step(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active and not trainer.sanity_checking:
            position = epoch_end_position(trainer)
            self.recorder.after_epoch(pl_module, position, log_step=epoch_end_log_step(trainer, position))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._active:
            self._finish(trainer, pl_module)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fit resumed from a checkpoint written after its last epoch runs no training loop (no
        ``on_train_start`` / ``on_train_end``): its files are finished here."""
        if self._active and not self.recorder.finished:
            self._finish(trainer, pl_module)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._active = False
            self.recorder.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._active = False
        self.recorder.close()

    def _finish(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        position = end_position(trainer)
        self.recorder.finish(pl_module, position, log_step=epoch_end_log_step(trainer, position))


__all__ = ["InteractionCallback"]
