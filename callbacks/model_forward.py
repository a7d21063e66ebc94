"""What :class:`~harsanyi_lightning.callbacks.InteractionCallback` calls on the masked inputs (docs/callback.md#forward).

The ``forward`` option is one of:

- ``None`` (default): the LightningModule itself, ``module(masked_inputs)``
  (:func:`~harsanyi_lightning.interactions.values.default_forward`). A module that defines no ``forward``
  fails at ``setup``, before any work, with a :class:`ConfigError` that names the class and the fix;
- a function ``forward(model, masked_inputs) -> logits[batch, classes]``;
- a name (a string, the only form a YAML or Hydra config can hold), resolved at ``setup`` by one rule:
  **a name whose first part is an attribute of the LightningModule is an attribute chain** ending at the
  network (``"net"``, ``"model.backbone"``: a ``torch.nn.Module``, called like the module itself);
  **any other name is an import path** of a function ``forward(model, masked_inputs)``
  (``"my_pkg.heads.logits"`` or ``"my_pkg.heads:logits"``).

The attribute chain is looked up on the model each evaluation gets, so it also holds for the float32 copy
the callback evaluates under ``*-true`` precisions.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable, Union

from torch import nn

from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.interactions.values import default_forward

from .lightning_compat import PACKAGES

if TYPE_CHECKING:
    from torch import Tensor

#: what the ``forward`` option holds: a function, a name (attribute chain or import path), or ``None``
ForwardOption = Union[str, Callable[..., Any], None]


class AttributeForward:
    """``forward(model, inputs)`` that calls the network held at ``model.<path>`` on the masked inputs
    (``path`` dotted: ``"net"``, ``"model.backbone"``), as :func:`default_forward` calls a module."""

    def __init__(self, path: str) -> None:
        self.path = path

    def network(self, model: nn.Module) -> nn.Module:
        """The module at ``model.<path>``."""
        target: Any = model
        for part in self.path.split("."):
            target = getattr(target, part)
        return target

    def __call__(self, model: nn.Module, inputs: Any) -> Tensor:
        return default_forward(self.network(model), inputs)

    def __repr__(self) -> str:
        return f"AttributeForward({self.path!r})"


def defines_forward(module: nn.Module) -> bool:
    """Whether ``module``'s class has a ``forward`` of its own: not the one of ``torch.nn.Module`` (which raises
    ``NotImplementedError``) nor the pass-through of either Lightning package's ``LightningModule``."""
    inherited = {nn.Module.forward}
    for name in PACKAGES:
        try:
            base = getattr(importlib.import_module(name), "LightningModule", None)
        except ImportError:
            continue
        if base is not None:
            inherited.add(base.forward)
    return getattr(type(module), "forward", None) not in inherited


def missing_forward_message(module: nn.Module) -> str:
    """The error for a module without ``forward``: the class, what the callback calls, and the three fixes."""
    name = type(module).__name__
    children = [child for child, _ in module.named_children()]
    attribute = children[0] if children else "net"
    held = f" (its submodules: {', '.join(children)})" if children else ""
    return (
        f"{name} defines no forward(): InteractionCallback calls the module on the masked inputs "
        f"({name}(masked_inputs) -> logits[batch, classes]), so it needs one of: "
        f"(1) a forward in {name}, e.g. `def forward(self, x): return self.{attribute}(x)`; "
        f"(2) InteractionCallback(forward=fn) with fn(model, masked_inputs) -> logits; "
        f"(3) the attribute that holds the network{held}: forward='{attribute}' "
        f"(YAML: `forward: {attribute}`). See docs/callback.md#forward"
    )


def _attribute_forward(module: nn.Module, path: str) -> AttributeForward:
    forward = AttributeForward(path)
    try:
        network = forward.network(module)
    except AttributeError:
        raise ConfigError(f"forward={path!r}: {type(module).__name__} has no attribute chain {path!r}; "
                          "name the attribute that holds the network, e.g. forward: net") from None
    if not isinstance(network, nn.Module):
        raise ConfigError(f"forward={path!r}: {type(module).__name__}.{path} is a {type(network).__name__}, not a "
                          "torch.nn.Module; name the attribute that holds the network, or pass a function "
                          "forward(model, masked_inputs) -> logits")
    return forward


def _imported_forward(module: nn.Module, path: str) -> Callable[..., Any]:
    module_path, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    found: Any = None
    if module_path:
        try:
            found = importlib.import_module(module_path)
            for part in name.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
    if found is None or not callable(found):
        raise ConfigError(
            f"forward={path!r} is neither an attribute of {type(module).__name__} (its submodules: "
            f"{', '.join(c for c, _ in module.named_children()) or 'none'}) nor an importable function "
            "forward(model, masked_inputs) -> logits (give it as package.module.function)"
        )
    return found


def resolve_forward(module: nn.Module, forward: ForwardOption) -> Callable[..., Any]:
    """The ``forward(model, masked_inputs)`` the evaluation calls, by the rule of this module's docstring.

    Raises:
        ConfigError: ``forward`` is ``None`` and the module defines no ``forward``; a name that is neither an
            attribute chain ending at a ``torch.nn.Module`` nor an importable function.
    """
    if forward is None:
        if not defines_forward(module):
            raise ConfigError(missing_forward_message(module))
        return default_forward
    if not isinstance(forward, str):
        return forward
    if ":" not in forward and hasattr(module, forward.split(".", 1)[0]):
        return _attribute_forward(module, forward)
    return _imported_forward(module, forward)


__all__ = ["AttributeForward", "ForwardOption", "defines_forward", "missing_forward_message", "resolve_forward"]
