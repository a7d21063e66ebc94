"""The kinds of regime, each with the role it plays and the LightningModule that trains it
(docs/training.md#regime-kinds; docs/method.md#the-three-regimes).

A **regime** is one named training setup of a study (``probe``, ``lora_r4``, ...); its **kind** says how it trains,
and its kind decides its **role** in the paper's equations:

- ``pretrain``: the pre-trained reference, ``v_pretrain`` (eq. 5) (kind ``probe``);
- ``finetune``: trained from the pre-trained weights, ``v_finetune``, compared with the reference (kinds ``finetune``,
  ``lora``: low-rank adapters, and ``partial``: the bottom layers frozen);
- ``scratch``: trained from a random initialisation, ``v_random`` (kind ``scratch``).

This module is the one list of kinds; it imports nothing heavy, so the study's plan and its report read it
without loading a model.
"""
from __future__ import annotations

from dataclasses import dataclass

from harsanyi_lightning.interactions.errors import ConfigError

#: the roles, in the order a study trains them (a regime's references come before it)
ROLES = ("pretrain", "finetune", "scratch")
#: what each role is
ROLE_MEANINGS = {
    "pretrain": "the pre-trained reference (v_pretrain)",
    "finetune": "trained from the pre-trained weights (v_finetune)",
    "scratch": "trained from a random initialisation (v_random)",
}


@dataclass(frozen=True)
class RegimeKind:
    """One kind of regime: its ``name``, its ``role`` (:data:`ROLES`), the class path of the LightningModule that
    trains it and what it does."""

    name: str
    role: str
    module: str
    description: str


#: every kind of regime, by name
REGIME_KINDS = {kind.name: kind for kind in (
    RegimeKind("probe", "pretrain", "harsanyi_lightning.lightning_modules.ProbeClassifier",
               "the pre-trained backbone frozen, a new linear head on its penultimate feature"),
    RegimeKind("finetune", "finetune", "harsanyi_lightning.lightning_modules.FinetuneClassifier",
               "the pre-trained weights, a new head, every weight trained"),
    RegimeKind("scratch", "scratch", "harsanyi_lightning.lightning_modules.ScratchClassifier",
               "the same architecture from random weights, every weight trained"),
    RegimeKind("lora", "finetune", "harsanyi_lightning.lightning_modules.LoraClassifier",
               "LoRA adapters (PEFT) on the frozen pre-trained weights, a new head trained in full"),
    RegimeKind("partial", "finetune", "harsanyi_lightning.lightning_modules.PartialClassifier",
               "the pre-trained weights with the embeddings and the first frozen_layers layers frozen, "
               "the rest and a new head trained"),
)}


def regime_kind(name: object, where: str = "kind") -> RegimeKind:
    """The kind called ``name``; :class:`ConfigError` naming ``where`` and listing the kinds for any other name."""
    found = REGIME_KINDS.get(name) if isinstance(name, str) else None
    if found is None:
        kinds = "; ".join(f"{k.name} ({k.description})" for k in REGIME_KINDS.values())
        raise ConfigError(f"{where}={name!r} is not a kind of regime; give one of: {kinds}")
    return found


__all__ = ["REGIME_KINDS", "ROLES", "ROLE_MEANINGS", "RegimeKind", "regime_kind"]
