"""Command-line overrides of a study's settings that merge into its config (docs/study.md).

Typed study settings (``--sample_set.num_samples 4``, ``--interactions.batch_size 64``) are merged by
jsonargparse itself, field by field, as LightningCLI merges ``--trainer.max_epochs 5``. The blocks a study
passes on to each regime's LightningCLI are plain dicts (``shared``, ``<regime>.overrides``,
``<regime>.interactions``): jsonargparse replaces the sub-dict a dotted key names
(``--shared.trainer.devices 2`` would drop ``shared.trainer.max_epochs``) and keeps the value a string.
:func:`split_dict_overrides` takes those dotted overrides out of the command line, and
:func:`merge_dict_overrides` deep-merges their YAML-typed values (``1`` -> int, ``null`` -> None,
``{a: 1}`` -> dict) into the parsed blocks, keeping every sibling. They apply after every ``--config``.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from harsanyi_lightning.interactions.errors import ConfigError

__all__ = [
    "DictOverride",
    "PRINT_CONFIG",
    "dict_settings",
    "has_config",
    "merge_dict_overrides",
    "override_args",
    "plain",
    "split_dict_overrides",
    "without_print_config",
]

PRINT_CONFIG = "--print_config"
CONFIG_FLAGS = ("--config", "-c")


@dataclass(frozen=True)
class DictOverride:
    """One ``--<setting>.<key>.<key> value`` below a dict-typed ``setting`` (e.g. ``shared``)."""

    setting: str
    keys: tuple[str, ...]
    value: Any


def _is_dict_type(hint: Any) -> bool:
    """``dict``, ``dict[...]`` or an ``Optional`` of one."""
    if hint is dict or typing.get_origin(hint) is dict:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return len(args) == 1 and _is_dict_type(args[0])
    return False


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass ``hint`` names (unwrapping ``Optional``), else ``None``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) else [hint]
    cls = args[0] if len(args) == 1 else None
    return cls if isinstance(cls, type) and dataclasses.is_dataclass(cls) else None


def dict_settings(method: Callable[..., Any], skip: Iterable[str] = ()) -> list[str]:
    """The dotted names of the dict-typed settings of a subcommand ``method`` (its parameters and the
    fields of its dataclass parameters), e.g. ``["shared", "probe.overrides", "probe.interactions", ...]``."""
    found: list[str] = []

    def walk(prefix: str, hints: dict[str, Any]) -> None:
        for name, hint in hints.items():
            if name in skip or name == "return":
                continue
            key = f"{prefix}{name}"
            if _is_dict_type(hint):
                found.append(key)
            elif (cls := _dataclass_of(hint)) is not None:
                walk(key + ".", _type_hints(cls))

    walk("", _type_hints(method))
    return found


def _type_hints(obj: Any) -> dict[str, Any]:
    """``obj``'s resolved annotations; for a dataclass whose annotations do not resolve (a name imported
    only for type checking), its fields' annotations as written (a ``dict`` one still counts)."""
    try:
        return typing.get_type_hints(obj)
    except (NameError, TypeError):
        if dataclasses.is_dataclass(obj):
            return {f.name: _written_type(f.type) for f in dataclasses.fields(obj)}
        raise


def _written_type(hint: Any) -> Any:
    """An annotation as written: ``dict`` for ``"dict"``/``"dict[...]"``/``"Optional[dict]"``/``"dict | None"``."""
    if isinstance(hint, str) and re.fullmatch(r"Optional\[dict(\[.*\])?\]|dict(\[.*\])?( \| None)?", hint):
        return dict
    return hint


def has_config(argv: Sequence[str]) -> bool:
    """Whether the command line gives a config file (``--config``/``-c``, anywhere)."""
    return any(a in CONFIG_FLAGS or a.startswith("--config=") for a in argv)


def without_print_config(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--print_config`` (``--print_config=flags`` included)."""
    return [a for a in argv if a != PRINT_CONFIG and not a.startswith(PRINT_CONFIG + "=")]


def split_dict_overrides(argv: Sequence[str], settings: Sequence[str],
                         load: Callable[[str], Any]) -> tuple[list[str], list[DictOverride]]:
    """Split ``argv`` into the arguments jsonargparse parses and the dotted overrides below a dict-typed
    setting (``--shared.trainer.devices 2`` or ``--shared.trainer.devices=2``), their values read by
    ``load`` (the parser's YAML loader). ``ConfigError`` for an override without a value."""
    by_length = sorted(settings, key=len, reverse=True)
    rest: list[str] = []
    found: list[DictOverride] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, raw = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        setting = next((s for s in by_length if name.startswith(s + ".") and len(name) > len(s) + 1), None)
        if setting is None or name == f"{setting}.help":  # --regimes.help: jsonargparse's help of the type
            rest.append(arg)
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise ConfigError(f"--{name} needs a value (e.g. --{name} 1)")
            raw = argv[i + 1]
            i += 1
        keys = tuple(name[len(setting) + 1:].split("."))
        if any(not k for k in keys):
            raise ConfigError(f"--{name}: an empty key in the dotted name")
        found.append(DictOverride(setting, keys, load(raw)))
        i += 1
    return rest, found


def _merge(base: dict, keys: tuple[str, ...], value: Any) -> None:
    """Set ``base[k0][k1]...`` to ``value`` in place, creating dicts on the way; a dict value merges
    into a dict already there (its siblings kept)."""
    node = base
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    last = keys[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        for k, v in value.items():
            _merge(node[last], (k,), v)
    else:
        node[last] = value


def plain(value: Any) -> Any:
    """``value`` as plain data: jsonargparse's namespaces (a ``regimes`` entry) as dicts, recursively."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def merge_dict_overrides(parsed: dict[str, Any], overrides: Sequence[DictOverride]) -> dict[str, dict]:
    """The dict-typed settings the overrides touch, each its parsed value (``parsed[setting]``; ``None``
    = empty) with the overrides deep-merged in, in command-line order."""
    merged: dict[str, dict] = {}
    for o in overrides:
        if o.setting not in merged:
            merged[o.setting] = copy.deepcopy(plain(parsed.get(o.setting)) or {})
        _merge(merged[o.setting], o.keys, o.value)
    return merged


def override_args(merged: dict[str, dict]) -> list[str]:
    """``--<setting> <json>`` for each merged setting: handed back to jsonargparse, after every other
    argument (JSON keeps strings strings and numbers numbers through its YAML loader)."""
    args: list[str] = []
    for setting, value in merged.items():
        args += [f"--{setting}", json.dumps(value)]
    return args
