"""Hugging Face text backbones: loading a classifier, an encoder's pooled feature, a tokenizer, and the
two wrappers that give them the regimes' ``forward(inputs) -> tensor`` form (docs/training.md).

``inputs`` is a dict of Hugging Face tensors (``input_ids[batch, token]``, ``attention_mask[batch,
token]``, ...); each wrapper passes on only the keys its model's ``forward`` accepts. A model that is
neither cached nor downloadable raises :class:`OfflineError` naming it and how to pass a local copy.
"""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Mapping

from torch import nn

from harsanyi_lightning.interactions.errors import ConfigError, OfflineError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "TEXT_POOLINGS",
    "HFClassifierNet",
    "HFPooledFeatures",
    "load_hf_classifier",
    "load_hf_features",
    "load_hf_tokenizer",
    "new_module_names",
]

#: how a text backbone's token states become a probe's feature: the first token ([CLS]) or the mean over real tokens
TEXT_POOLINGS = ("cls", "mean")


class HFClassifierNet(nn.Module):
    """A Hugging Face sequence classifier as ``forward(inputs: dict) -> logits[batch, class]``.

    Args:
        model: the classifier, or a PEFT model adapting one (it passes the classifier's arguments on).
        new_modules: the names of ``model``'s modules whose weights the pre-trained checkpoint does not hold (the
            new head: ``classifier``, and DistilBERT's ``pre_classifier``; empty when nothing was loaded); the ``lora``
            kind trains them in full.
    """

    def __init__(self, model: nn.Module, new_modules: tuple[str, ...] = ()):
        super().__init__()
        self.model = model
        self.new_modules = tuple(new_modules)
        adapted = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model's classifier
        self._accepts = set(inspect.signature(adapted.forward).parameters)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.model(**{k: v for k, v in inputs.items() if k in self._accepts}).logits


class HFPooledFeatures(nn.Module):
    """Penultimate feature of a Hugging Face encoder, ``features[batch, hidden]``, pooled from the
    last layer's states ``h[batch, token, hidden]``:

    - ``"cls"``: the first token's state ``h[:, 0]`` ([CLS]; BERT-style classifiers read it);
    - ``"mean"``: the mean over the real tokens, ``sum_t m_t h_t / sum_t m_t`` with ``m`` the
      ``attention_mask`` (padding ignored), the feature sentence-embedding models such as
      all-MiniLM-L6-v2 were trained to produce.
    """

    def __init__(self, encoder: nn.Module, pooling: str = "cls"):
        super().__init__()
        if pooling not in TEXT_POOLINGS:
            raise ConfigError(f"pooling={pooling!r} must be one of {TEXT_POOLINGS}")
        self.encoder = encoder
        self.pooling = pooling
        self._accepts = set(inspect.signature(encoder.forward).parameters)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        out = self.encoder(**{k: v for k, v in inputs.items() if k in self._accepts})
        states = out.last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = inputs.get("attention_mask")
        if mask is None:
            return states.mean(dim=1)
        weights = mask.to(states.dtype).unsqueeze(-1)  # [batch, token, 1]
        return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def _offline_error(target: str, err: Exception) -> OfflineError:
    return OfflineError(
        f"Hugging Face model {target!r} is not in the local cache and could not be downloaded ({str(err).splitlines()[0]}). "
        "Download it on a machine with internet (huggingface-cli download <id>) and pass its folder as the backbone, "
        "e.g. model.init_args.backbone=/path/to/model_folder"
    )


def _hf_call(fn: Callable[[], Any], target: str) -> Any:
    try:
        return fn()
    except OSError as err:
        raise _offline_error(target, err) from None


def load_hf_tokenizer(target: str) -> Any:
    """``AutoTokenizer`` of a model id or folder."""
    from transformers import AutoTokenizer

    return _hf_call(lambda: AutoTokenizer.from_pretrained(target), target)


def load_hf_classifier(path: str, num_classes: int, *, pretrained: bool) -> HFClassifierNet:
    """A sequence classifier with a new ``num_classes`` head: pre-trained weights elsewhere when
    ``pretrained`` (finetune), else the same architecture from its config, randomly initialised (scratch)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if pretrained:
        model, loading = _hf_call(lambda: AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_classes, ignore_mismatched_sizes=True, output_loading_info=True), path)
        new_modules = new_module_names(model, loading)
    else:
        config = _hf_call(lambda: AutoConfig.from_pretrained(path, num_labels=num_classes), path)
        model = AutoModelForSequenceClassification.from_config(config)
        new_modules = ()
    # float32 weights whatever the checkpoint stores (transformers 5 keeps a bf16 checkpoint in bf16): the
    # training precision is Lightning's `precision` flag, and interactions need fp32
    # (docs/method.md#precision-and-budget)
    return HFClassifierNet(model.float(), new_modules)


def new_module_names(model: nn.Module, loading: Mapping[str, Any]) -> tuple[str, ...]:
    """The modules of ``model`` with a parameter that ``from_pretrained(..., output_loading_info=True)`` reports
    missing from the checkpoint or of another shape there (a head for another number of classes), sorted; buffers
    (such as ``position_ids``) do not count."""
    parameters = {name for name, _ in model.named_parameters()}
    keys = [key if isinstance(key, str) else key[0]
            for group in ("missing_keys", "mismatched_keys") for key in loading.get(group, ())]
    return tuple(sorted({key.rpartition(".")[0] for key in keys if key in parameters and "." in key}))


def load_hf_features(path: str, pooling: str, name: str) -> tuple[HFPooledFeatures, int]:
    """The pre-trained encoder, in float32, pooled by ``pooling``: ``(module, hidden_size)``."""
    from transformers import AutoModel

    encoder = _hf_call(lambda: AutoModel.from_pretrained(path), path).float()  # fp32 whatever the checkpoint stores
    if not hasattr(encoder, "config") or not hasattr(encoder.config, "hidden_size"):
        raise ConfigError(f"cannot find the penultimate layer of backbone {name!r}: its encoder has no hidden_size")
    return HFPooledFeatures(encoder, pooling), int(encoder.config.hidden_size)
