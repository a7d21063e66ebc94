"""A study's regimes: each a named entry of the study config with its kind, and so its role
(docs/study.md#regimes; the kinds and roles: :mod:`harsanyi_lightning.lightning_modules.regime_kinds`).

No code of the study lists regimes: they come from the config's ``regimes:`` block, in its order, and
:class:`StudyRegimes` answers every question about them:

- the order they train in: by role (the ``pretrain`` reference first, then the regimes trained from the
  pre-trained weights, then those trained from scratch), the config's order within a role;
- each regime's references (the regimes its evaluations are measured against, docs/method.md#knowledge-metrics):
  a ``finetune`` regime the reference's final interactions (``pretrain``); a ``scratch`` regime those and the
  paper's fine-tuned model's (``finetune``, for the Ratio of eq. 8);
- the paper's three models (:attr:`StudyRegimes.paper`): the reference, and the first regime of each other role.

A study has exactly one ``pretrain`` regime and at least one of each other role.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.lightning_modules.regime_kinds import ROLE_MEANINGS, ROLES, regime_kind

#: a regime's name is also its folder's name: letters, digits, ``_`` and ``-``
_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass
class RegimeSpec:
    """One regime of a study config (``regimes: {<name>: {...}}``).

    Args:
        kind: how the regime trains (``probe``, ``finetune``, ``scratch``: docs/training.md#regime-kinds); its role
            follows from it.
        configs: its LightningCLI config files, applied first (e.g. ``configs/sst2_minilm/probe.yaml``; relative
            paths are taken from the working directory, else from the repository root).
        overrides: its own LightningCLI settings, applied after the study's ``shared`` ones (``model``,
            ``trainer``, ...), e.g. ``{trainer: {max_epochs: 1}}``.
        interactions: fields of the study's ``interactions`` settings for this regime only (e.g.
            ``{every_n_epochs: 3}`` for a probe, whose intermediate evaluations no figure uses).
    """

    kind: str = "finetune"
    configs: list[str] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)
    interactions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StudyRegimes:
    """A study's regimes by name, in the order they train (this module's docstring); ``kinds[name]`` is each one's
    kind."""

    kinds: Mapping[str, str]

    def __post_init__(self) -> None:
        for name, kind in self.kinds.items():
            if not isinstance(name, str) or not name or set(name) - _NAME_CHARACTERS:
                raise ConfigError(f"regimes: {name!r} cannot name a regime (it names its folder too); use letters, "
                                  "digits, '_' and '-', e.g. lora_r4")
            regime_kind(kind, f"regimes.{name}.kind")
        for role in ROLES:
            found = self.of_role(role)
            if not found or (role == "pretrain" and len(found) > 1):
                many = f"has {len(found)}: {', '.join(found)}" if found else "has none"
                need = "exactly one regime" if role == "pretrain" else "at least one regime"
                raise ConfigError(f"a study needs {need} of role {role} ({ROLE_MEANINGS[role]}), and this one {many}; "
                                  f"add one to regimes: with a kind of that role (docs/study.md#regimes)")
        order = sorted(self.kinds, key=lambda name: ROLES.index(self.role(name)))  # stable: config order in a role
        object.__setattr__(self, "kinds", {name: self.kinds[name] for name in order})

    @classmethod
    def of(cls, specs: Mapping[str, RegimeSpec | Mapping[str, Any]]) -> StudyRegimes:
        """The regimes of a config's ``regimes:`` block (specs, or their ``{kind, order}`` records of a manifest, put
        back in their ``order``)."""
        if not specs:
            raise ConfigError("the study config gives no regimes; give regimes: {probe: {kind: probe, configs: [...]}, "
                              "finetune: {...}, scratch: {...}} (docs/study.md#regimes)")
        if all(isinstance(spec, Mapping) and "order" in spec for spec in specs.values()):  # a record: its order
            specs = dict(sorted(specs.items(), key=lambda item: item[1]["order"]))
        return cls({name: spec.kind if isinstance(spec, RegimeSpec) else spec["kind"] for name, spec in specs.items()})

    @property
    def names(self) -> tuple[str, ...]:
        """Every regime, in training order."""
        return tuple(self.kinds)

    def role(self, name: str) -> str:
        """The role of regime ``name``."""
        return regime_kind(self.kinds[name]).role

    @property
    def trained(self) -> tuple[str, ...]:
        """Every regime that trains its backbone (all but the pre-trained reference), in training order."""
        return tuple(name for name in self.kinds if self.role(name) != "pretrain")

    def of_role(self, role: str) -> tuple[str, ...]:
        """The regimes of ``role``, in training order."""
        return tuple(name for name in self.kinds if self.role(name) == role)

    @property
    def paper(self) -> dict[str, str]:
        """``{role: regime}``: the paper's three models, the reference and the first regime of each other role."""
        return {role: self.of_role(role)[0] for role in ROLES}

    def references(self, name: str) -> dict[str, str]:
        """``{role: regime}`` the evaluations of regime ``name`` are measured against (this module's docstring)."""
        role = self.role(name)
        if role == "pretrain":
            return {}
        refs = {"pretrain": self.paper["pretrain"]}
        if role == "scratch":
            refs["finetune"] = self.paper["finetune"]
        return refs

    def record(self) -> dict[str, dict[str, Any]]:
        """``{name: {"kind", "role", "order"}}``: the manifest's ``regimes``, ``order`` the place in training order
        (a JSON file sorts its keys, so the order is written out)."""
        return {name: {"kind": self.kinds[name], "role": self.role(name), "order": i}
                for i, name in enumerate(self.kinds)}


__all__ = ["RegimeSpec", "StudyRegimes"]
