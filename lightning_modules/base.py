"""The classifier LightningModules: one base and the three regimes (docs/method.md#the-three-regimes).

- :class:`FinetuneClassifier` (``v_finetune``): pre-trained weights, new head, all weights trained.
- :class:`ScratchClassifier` (``v_random``): the same architecture from its config, random weights.
- :class:`ProbeClassifier` (``v_pretrain``, eq. 5, paper D.2): the pre-trained backbone frozen
  (``requires_grad=False`` and always in eval mode) and a new linear classifier on its
  penultimate feature.

The ``lora`` and ``partial`` kinds are in :mod:`~.lora` and :mod:`~.partial` (docs/training.md#regime-kinds).

Every module has ``forward(inputs) -> logits[batch, class]``; ``inputs`` is an image batch
``pixels[batch, 3, 224, 224]`` or a dict of Hugging Face tensors. Batches are ``(inputs, labels)``.
"""
from __future__ import annotations

import inspect

import math
from typing import TYPE_CHECKING, Any, Iterator, Literal, Mapping, Optional

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable  # read at run time by LightningCLI's parser
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_factory import build_classifier, build_feature_extractor
from .backbone_registry import resolve_backbone
from .encoder_layout import encoder_layout
from .regime_kinds import REGIME_KINDS
from .update_rank import MatrixUpdate, updates_from_pretrained

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "FinetuneClassifier",
    "FrozenModule",
    "HarsanyiClassifier",
    "ProbeClassifier",
    "ProbeNet",
    "ScratchClassifier",
]

class HarsanyiClassifier(pl.LightningModule):
    """Base classifier: cross-entropy loss, torchmetrics accuracy, epoch curves ``train/loss``,
    ``train/acc``, ``val/loss``, ``val/acc`` (and ``test/loss``, ``test/acc``), and the optimiser and
    learning-rate schedule it is given.

    Args:
        backbone: a name from :func:`harsanyi_lightning.lightning_modules.known_backbones`, a Hugging Face
            model id or local folder, or ``timm:<name>``.
        num_classes: number of classes; linked from the datamodule by the CLI.
        optimizer: called with the trainable parameters, returns the optimiser (LightningCLI's
            ``OptimizerCallable``): in YAML ``{class_path: torch.optim.AdamW, init_args: {lr: 5.0e-05}}``
            names any ``torch.optim`` class; in Python ``functools.partial(torch.optim.SGD, lr=0.01)``.
            Default: ``torch.optim.AdamW`` with torch's defaults.
        lr_scheduler: called with the optimiser, returns a learning-rate scheduler (``LRSchedulerCallable``),
            e.g. :class:`~harsanyi_lightning.lightning_modules.schedules.LinearWarmupDecay` or any
            ``torch.optim.lr_scheduler`` class; ``None`` (default): a constant learning rate, as the paper
            states it. A scheduler whose ``total_steps`` is ``None`` gets the trainer's
            ``estimated_stepping_batches``.
        lr_scheduler_interval: ``"step"`` or ``"epoch"``: when Lightning steps the scheduler; default
            the scheduler's own ``interval`` attribute when it has one (``LinearWarmupDecay``: step),
            else ``"epoch"`` (torch's schedulers count epochs).
        weights: a local file (torchvision/timm state dict) or folder (Hugging Face) with the
            pre-trained weights, instead of downloading them.
    """

    #: the kind of regime this module trains (:mod:`~.regime_kinds`), recorded as the regime of its artifacts
    regime: str = "base"

    def __init__(
        self,
        backbone: str = "minilm-l6",
        num_classes: int = 2,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: Optional[LRSchedulerCallable] = None,
        lr_scheduler_interval: Optional[Literal["step", "epoch"]] = None,
        weights: Optional[str] = None,
    ):
        super().__init__()
        if self.regime not in REGIME_KINDS:
            raise ConfigError(
                f"{type(self).__name__} is the abstract base; use the class of a regime kind as model.class_path: "
                + ", ".join(kind.module for kind in REGIME_KINDS.values())
            )
        if not callable(optimizer):
            raise ConfigError(
                f"optimizer={optimizer!r} must be callable with the parameters, e.g. torch.optim.AdamW or "
                "{class_path: torch.optim.SGD, init_args: {lr: 0.01}} in YAML"
            )
        if lr_scheduler is not None and not callable(lr_scheduler):
            raise ConfigError(f"lr_scheduler={lr_scheduler!r} must be callable with the optimiser (a scheduler class), or null")
        if lr_scheduler_interval not in (None, "step", "epoch"):
            raise ConfigError(f"lr_scheduler_interval={lr_scheduler_interval!r} must be 'step', 'epoch' or null")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ConfigError(f"num_classes={num_classes!r} must be an integer >= 2")
        # the callables are recorded by LightningCLI's config; checkpoints keep the plain arguments
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.backbone = backbone
        self.num_classes = num_classes
        self.modality = resolve_backbone(backbone).modality  # "text" | "image"
        self.net = self.build_net()
        # Hugging Face from_pretrained returns eval-mode models and Lightning keeps each submodule's mode:
        # start in train mode (a probe's FrozenModule stays in eval mode whatever train() says).
        self.net.train()
        self.criterion = nn.CrossEntropyLoss()
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self._labels_checked = False

    # -- the network -------------------------------------------------------

    @classmethod
    def check_init_args(cls, init_args: Mapping[str, Any]) -> None:
        """Check the options of this kind of regime in ``init_args`` (a regime's ``model.init_args``) without
        building a network, so a study stops before any training; a :class:`ConfigError` naming the option and the
        fix for a bad one. The base class checks nothing: the kinds with options of their own override it."""

    def kind_options(self) -> dict[str, Any]:
        """The options this kind of regime adds to the base module's, as the module was built (a LoRA regime's
        ``rank``, ``alpha``, ...; a probe's ``pooling``): what a study records in each regime's ``summary.json``."""
        base = inspect.signature(HarsanyiClassifier.__init__).parameters
        own = inspect.signature(type(self).__init__).parameters
        return {name: self.hparams[name] for name, p in own.items()
                if name not in base and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name in self.hparams}

    def build_net(self) -> nn.Module:  # pragma: no cover - overridden by each regime
        raise NotImplementedError

    def weight_updates(self) -> Iterator[MatrixUpdate]:
        """The update of every attention and MLP matrix of the encoder from the pre-trained weights, layer by layer
        (:mod:`~.update_rank`): here the trained weights minus the pre-trained ones, rebuilt from the backbone."""
        return updates_from_pretrained(self.net, self.backbone, self.hparams.weights)

    def forward(self, inputs: Any) -> Tensor:
        """``logits[batch, class]`` for an image batch or a dict of Hugging Face tensors."""
        return self.net(inputs)

    # -- checks --------------------------------------------------------------

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        data_classes = getattr(dm, "num_classes", None)
        if data_classes is not None and int(data_classes) != self.num_classes:
            raise ConfigError(
                f"model num_classes={self.num_classes} but the data module {type(dm).__name__} has "
                f"{data_classes} classes; set model num_classes={data_classes} (the CLI links it from the data)"
            )

    def _check_labels(self, labels: Tensor) -> None:
        if self._labels_checked:
            return
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= self.num_classes:
            raise ConfigError(
                f"a batch has labels in [{lo}, {hi}] but the model has num_classes={self.num_classes}; "
                "num_classes must match the data"
            )
        self._labels_checked = True

    # -- steps ---------------------------------------------------------------

    def _step(self, batch: Any, split: str, metric: MulticlassAccuracy) -> Tensor:
        inputs, labels = batch
        self._check_labels(labels)
        logits = self(inputs)
        loss = self.criterion(logits, labels)
        metric(logits.detach(), labels)
        size = int(labels.shape[0])
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, prog_bar=split != "test", batch_size=size)
        self.log(f"{split}/acc", metric, on_step=False, on_epoch=True, prog_bar=split != "test", batch_size=size)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "val", self.val_acc)

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "test", self.test_acc)

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(inputs)

    # -- optimiser -------------------------------------------------------------

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self) -> Any:
        """The optimiser over the trainable parameters and, when given, its scheduler (stepped per
        ``lr_scheduler_interval``; a ``total_steps=None`` scheduler gets the trainer's step count)."""
        optimizer = self.optimizer(self.trainable_parameters())
        if self.lr_scheduler is None:
            return optimizer
        scheduler = self.lr_scheduler(optimizer)
        if hasattr(scheduler, "set_total_steps"):
            steps = self.trainer.estimated_stepping_batches
            scheduler.set_total_steps(int(steps) if math.isfinite(steps) else steps)
        interval = self.hparams.lr_scheduler_interval or getattr(scheduler, "interval", "epoch")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}


class FinetuneClassifier(HarsanyiClassifier):
    """``v_finetune``: the pre-trained backbone with a new head; every weight is trained."""

    regime = "finetune"

    def build_net(self) -> nn.Module:
        return build_classifier(self.backbone, self.num_classes, pretrained=True, weights=self.hparams.weights)


class ScratchClassifier(HarsanyiClassifier):
    """``v_random``: the same architecture built from its config with random weights; nothing is loaded."""

    regime = "scratch"

    def build_net(self) -> nn.Module:
        return build_classifier(self.backbone, self.num_classes, pretrained=False)

    def weight_updates(self) -> Iterator[MatrixUpdate]:
        """None: a scratch model does not start from the pre-trained weights, so it has no update from them.

        Raises:
            ConfigError: always.
        """
        raise ConfigError(f"regime kind {self.regime!r} trains from random weights: it has no update from the "
                          "pre-trained weights; the update rank is defined for the kinds trained from them "
                          "(finetune, lora, partial)")


class FrozenModule(nn.Module):
    """Wraps a module with ``requires_grad=False`` that stays in eval mode whatever ``train()`` is
    called with, so BatchNorm statistics and dropout never change (paper D.2)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.module.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "FrozenModule":
        return super().train(False)

    def forward(self, inputs: Any) -> Tensor:
        return self.module(inputs)


class ProbeNet(nn.Module):
    """``logits = head(features(inputs))``: frozen ``features[batch, dim]``, a linear ``head``."""

    def __init__(self, features: nn.Module, dim: int, num_classes: int):
        super().__init__()
        self.features = FrozenModule(features)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, inputs: Any) -> Tensor:
        return self.head(self.features(inputs))


class ProbeClassifier(HarsanyiClassifier):
    """``v_pretrain`` (eq. 5): a new linear classifier on the frozen pre-trained penultimate feature.

    Args:
        pooling: text backbones only: how the encoder's last-layer token states become the feature,
            ``"cls"`` (the first token, default) or ``"mean"`` (the mean over the real tokens, padding
            ignored; what sentence-embedding models such as all-MiniLM-L6-v2 were trained for).
            Either way the classifier stays linear on frozen features
            (docs/method.md#the-three-regimes).
        **kwargs: the arguments of :class:`HarsanyiClassifier`.
    """

    regime = "probe"

    def __init__(self, pooling: Optional[Literal["cls", "mean"]] = None, **kwargs: Any):
        super().__init__(**kwargs)

    def build_net(self) -> nn.Module:
        features, dim = build_feature_extractor(self.backbone, weights=self.hparams.weights,
                                                pooling=self.hparams.get("pooling"))
        return ProbeNet(features, dim, self.num_classes)

    def weight_updates(self) -> Iterator[MatrixUpdate]:
        """Zero for every attention and MLP matrix: the probe's backbone is frozen (:class:`FrozenModule`)."""
        layout = encoder_layout(self.net, self.backbone)
        for matrix, layer, weight in layout.matrix_weights(self.net):
            yield MatrixUpdate(matrix, layer, torch.zeros_like(weight, device="cpu"))
