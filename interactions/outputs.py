"""Network outputs ``v`` computed from logits (paper eq. 1): ``logits[batch, classes]``, ``labels[batch]``
-> ``v[batch]`` (float64)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .errors import ConfigError, DataError

#: ``output_fn(logits[batch, classes], labels[batch]) -> v[batch]``
OutputFn = Callable[[Tensor, Tensor], Tensor]


def check_logits(logits: Tensor, labels: Tensor) -> None:
    """Raise a clear error when ``logits`` is not ``[batch, classes]`` or a label is out of range."""
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise DataError(
            f"model output has shape {shape}, expected logits[batch={labels.shape[0]}, classes]; "
            "pass a `forward` function that returns the classification logits"
        )
    if logits.shape[1] < 2:
        raise DataError(f"model output has {logits.shape[1]} class(es); log-odds needs at least 2 logits per sample")
    bad = (labels < 0) | (labels >= logits.shape[1])
    if bool(bad.any()):
        label = int(labels[bad][0])
        raise ConfigError(
            f"label {label} is out of range for a model with {logits.shape[1]} classes; "
            "check num_classes of the model against the data"
        )


def log_odds_true_class(logits: Tensor, labels: Tensor) -> Tensor:
    """``v(x) = log p(y|x) / (1 - p(y|x)) = z_y - logsumexp_{j != y} z_j`` in float64 (eq. 1).

    Computed from logits, never through probabilities, so margins of +-1000 stay
    finite and exact. ``logits[batch, classes]``, ``labels[batch]`` -> ``v[batch]``.
    """
    check_logits(logits, labels)
    return log_odds_true_class_unchecked(logits, labels)


def log_odds_true_class_unchecked(logits: Tensor, labels: Tensor) -> Tensor:
    """:func:`log_odds_true_class` without the checks (no device sync), for validated chunks."""
    z = logits.to(torch.float64)
    true = z.gather(1, labels.view(-1, 1)).squeeze(1)
    others = z.scatter(1, labels.view(-1, 1), float("-inf"))
    return true - torch.logsumexp(others, dim=1)


__all__ = ["OutputFn", "check_logits", "log_odds_true_class", "log_odds_true_class_unchecked"]
