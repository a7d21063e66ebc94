"""Head surgery on image classifiers: find the final ``nn.Linear``, replace it by a new one, or strip it
so the network returns its penultimate feature (paper D.2; docs/training.md)."""
from __future__ import annotations

from torch import nn

from harsanyi_lightning.interactions.errors import ConfigError

__all__ = ["HEAD_CANDIDATES", "find_head", "replace_head", "strip_head"]

#: attribute paths searched, in order, for the final classifier
HEAD_CANDIDATES = ("fc", "head", "head.fc", "classifier", "heads.head")


def find_head(model: nn.Module, name: str = "model") -> tuple[nn.Module, str, nn.Linear]:
    """The final classifier ``nn.Linear`` of an image model: ``(parent, attribute, linear)``.

    Looks for ``fc`` (ResNet), ``head`` / ``head.fc`` (timm), ``classifier`` or its last
    entry (VGG), ``heads.head``. Its input is the penultimate feature (paper D.2). Raises
    :class:`ConfigError` when none is found."""
    candidates = list(HEAD_CANDIDATES)
    for path in candidates:
        parent, attr, mod = None, None, model
        ok = True
        for part in path.split("."):
            if not hasattr(mod, part):
                ok = False
                break
            parent, attr, mod = mod, part, getattr(mod, part)
        if not ok:
            continue
        if isinstance(mod, nn.Linear):
            return parent, attr, mod
        if isinstance(mod, nn.Sequential) and len(mod) and isinstance(mod[-1], nn.Linear):
            return mod, str(len(mod) - 1), mod[-1]
    raise ConfigError(
        f"cannot find the penultimate layer of backbone {name!r}: a probe needs a final nn.Linear classifier "
        f"named one of {candidates} (or the last entry of an nn.Sequential 'classifier') whose input is the "
        f"penultimate feature; {type(model).__name__} has none. Use a regime other than probe for it"
    )


def _set_child(parent: nn.Module, attr: str, module: nn.Module) -> None:
    if isinstance(parent, nn.Sequential) and attr.isdigit():
        parent[int(attr)] = module
    else:
        setattr(parent, attr, module)


def replace_head(model: nn.Module, num_classes: int, name: str = "model") -> nn.Module:
    """Put a new, randomly initialised ``nn.Linear(features, num_classes)`` in place of the head."""
    parent, attr, linear = find_head(model, name)
    _set_child(parent, attr, nn.Linear(linear.in_features, num_classes))
    return model


def strip_head(model: nn.Module, name: str = "model") -> tuple[nn.Module, int]:
    """Replace the head with ``nn.Identity`` so the model returns ``features[batch, dim]``; return ``(model, dim)``."""
    parent, attr, linear = find_head(model, name)
    _set_child(parent, attr, nn.Identity())
    return model, linear.in_features
