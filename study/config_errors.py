"""Configuration mistakes that the command-line parser (jsonargparse) finds, as project errors.

``cli.py`` builds its parsers with ``exit_on_error=False``, so a config that does not parse raises
jsonargparse's ``ArgumentError`` instead of printing a usage message and exiting. :func:`parser_error`
turns it into a :class:`~harsanyi_lightning.interactions.errors.ConfigError`: an unknown ``class_path`` of the model, the
data module or a callback names what was given and lists the known classes; an unknown option names the closest
valid one (``did you mean --sample_set.num_samples?``, :func:`unknown_options`); a config file that does not exist
names the nearest existing ones (:func:`nearest_configs`); any other parse error keeps jsonargparse's explanation,
on one line, followed by the fix for a setting of :data:`SETTING_FIXES`.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from argparse import ArgumentError
from pathlib import Path
from typing import Iterable, Sequence

from harsanyi_lightning.interactions.errors import ConfigError

from .layout import SEEDS_FIX

_CLASS_PATH = re.compile(r"Problem with given class_path '([^']*)'|Expected a dot import path string: (\S+)")
_KEY = re.compile(r'Parser key "([^"]+)"')
_UNRECOGNIZED = re.compile(r"[Uu]nrecognized arguments: (.*)", re.S)
_NO_FILE = re.compile(r"File does not exist: '([^']+)'")
_GROUP_OPTION = re.compile(r"Group '([^']+)' does not accept option '([^']+)'")
#: how many existing config files a missing one is shown beside
NEAREST_CONFIGS = 3

#: config key -> how to fix a value of it the parser rejects (said after its explanation)
SETTING_FIXES = {"seeds": SEEDS_FIX}

#: config key -> (what it is, the base class every valid class_path subclasses, as "module:Name")
CLASS_KEYS = {
    "model": ("model", "harsanyi_lightning.lightning_modules:HarsanyiClassifier"),
    "data": ("data module", "harsanyi_lightning.datamodules:HarsanyiDataModule"),
    "trainer.callbacks": ("callback", "pytorch_lightning:Callback"),
}


def _load(spec: str) -> type | None:
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _importable(path: str) -> bool:
    module, _, name = path.rpartition(".")
    if not module:
        return False
    try:
        return getattr(importlib.import_module(module), name, None) is not None
    except Exception:  # noqa: BLE001 - any failure to import means "not a usable class path"
        return False


def public_path(cls: type) -> str:
    """The shortest import path of ``cls``: ``harsanyi_lightning.datamodules.SST2DataModule`` rather than ``harsanyi_lightning.datamodules.text.SST2DataModule``."""
    parts = cls.__module__.split(".")
    first = 2 if parts[0] == "harsanyi_lightning" else 1  # the subpackage's path, as in the configs
    for i in range(first, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{'.'.join(parts[:i])}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def _subclasses(base: type) -> Iterable[type]:
    seen, todo = set(), list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo += cls.__subclasses__()
        yield cls


def known_classes(base: type) -> list[str]:
    """Import paths of the concrete, public subclasses of ``base`` that are imported (the ones a
    ``class_path`` can name without importing anything new)."""
    paths = set()
    for cls in _subclasses(base):
        path = public_path(cls)
        if cls.__name__.startswith("_") or any(p.startswith("_") for p in path.split(".")[:-1]):
            continue
        if getattr(cls, "__abstractmethods__", None):
            continue
        if cls.__module__.startswith(("__main__", "test_", "tests.")) or "<locals>" in cls.__qualname__:
            continue
        paths.add(path)
    return sorted(paths)


_NOISE = (
    re.compile(r"Does not validate against any of the Union subtypes\s*Subtypes: \[.*?\]\s*Errors:\s*", re.S),
    re.compile(r"-\s*Expected a <class 'NoneType'>\s*"),
)


def one_line(text: str) -> str:
    """jsonargparse's multi-line explanation on one line (runs of white space made one space), without
    the list of union members it tried."""
    for noise in _NOISE:
        text = noise.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def closest_option(given: str, options: Iterable[str]) -> str | None:
    """The valid option closest to ``given`` (difflib's ratio, at least 0.6), e.g. ``--sample_set.num_samples`` for
    ``--sample_set.num_sampels``; ``None`` when none is close."""
    found = difflib.get_close_matches(given, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_options(text: str, options: Sequence[str], command: str | None = None) -> ConfigError | None:
    """The :class:`ConfigError` for jsonargparse's ``unrecognized arguments: ...`` (``None`` for any other text):
    each unknown ``--option`` with the closest of the parser's ``options``, and where every option is listed."""
    found = _UNRECOGNIZED.search(text)
    if found is None:
        return None
    given = [a.split("=", 1)[0] for a in found.group(1).split() if a.startswith("-")]
    if not given:
        return None
    parts = []
    for name in given:
        close = closest_option(name, options)
        parts.append(f"{name} (did you mean {close}?)" if close else name)
    listing = f"`python cli.py {command} --help`" if command else "`python cli.py <command> --help`"
    blocks = (" (the blocks `shared` and `regimes.<name>.overrides` take any LightningCLI setting below them, "
              "e.g. --shared.trainer.max_epochs)") if command == "study" else ""
    return ConfigError(f"unknown option{'s' if len(parts) > 1 else ''} {', '.join(parts)}; {listing} lists every "
                       f"option{blocks}")


def config_files(roots: Iterable[Path]) -> list[Path]:
    """Every ``*.yaml`` under ``<root>/configs`` of each root (resolved, each once, sorted)."""
    found: set[Path] = set()
    for root in roots:
        folder = root / "configs"
        if folder.is_dir():
            found.update(p.resolve() for p in folder.rglob("*.yaml"))
    return sorted(found)


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it, else as it is."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def nearest_configs(given: str | os.PathLike, n: int = NEAREST_CONFIGS) -> list[str]:
    """The ``n`` existing config files whose paths are closest to ``given`` (difflib's ratio of the paths as shown,
    relative to the working folder), from ``configs/`` of the working folder and of the repository checkout."""
    from harsanyi_lightning.datamodules.base import REPO_ROOT

    shown = [_shown(p) for p in config_files([Path.cwd(), *([REPO_ROOT] if REPO_ROOT is not None else [])])]
    target = _shown(Path(given).resolve()) if os.path.isabs(given) else str(given)
    return sorted(shown, key=lambda c: -difflib.SequenceMatcher(None, target, c).ratio())[:n]


def nearest_hint(given: str | os.PathLike) -> str:
    """``"; the nearest existing ones: a, b, c"`` (:func:`nearest_configs`), or ``""`` when there are none: the
    clause a missing config's error ends with."""
    near = nearest_configs(given)
    return f"; the nearest existing ones: {', '.join(near)}" if near else ""


def missing_config(given: str | os.PathLike, what: str = "config file") -> ConfigError:
    """The :class:`ConfigError` for a config file that does not exist: the path and the nearest existing ones."""
    shown = _shown(Path(given).resolve()) if os.path.isabs(given) else str(given)
    return ConfigError(f"{what} {shown} does not exist{nearest_hint(given)}. Fix the path (relative paths are taken from the "
                       f"working folder {Path.cwd()})")


def parser_error(err: BaseException, options: Sequence[str] = (), command: str | None = None) -> ConfigError:
    """The :class:`ConfigError` for a parse error of the command line or a config file; ``options`` are the valid
    options of the ``command`` that failed (for a "did you mean")."""
    text = str(err)
    unknown = unknown_options(text, options, command)
    if unknown is not None:
        return unknown
    missing = _NO_FILE.search(text)
    if missing is not None:
        return missing_config(missing.group(1))
    given = _CLASS_PATH.search(text)
    key = _KEY.search(text)
    if given is not None:
        where = key.group(1) if key else "class_path"
        what, base_spec = CLASS_KEYS.get(where, (None, None))
        for prefix, entry in CLASS_KEYS.items():  # e.g. "trainer.callbacks" for a key below it
            if what is None and where.startswith(prefix + "."):
                what, base_spec = entry
        if given.group(1) is not None:
            reason = one_line(text[given.end():].split("\n    -", 1)[0].split("Given value", 1)[0]).lstrip(": ")
        else:
            reason = "not an import path"
        name = given.group(1) if given.group(1) is not None else given.group(2)
        if _importable(name):  # the class exists: the problem is inside its arguments
            return ConfigError(f"{where}: {name}: {reason or one_line(text)}")
        head = f"{where}: class_path {name!r} " + (f"is not a known {what}" if what else "cannot be used")
        if reason:
            head += f" ({reason})"
        base = _load(base_spec) if base_spec else None
        if base is not None:
            known = known_classes(base)
            return ConfigError(
                f"{head}; known: {', '.join(known)}. Fix the class_path (or give the full import path of a "
                f"{base.__name__} subclass of your own)"
            )
        return ConfigError(f"{head}. Fix the class_path (the full import path of the class)")
    fix = SETTING_FIXES.get(key.group(1)) if key else None
    group = _GROUP_OPTION.search(text)
    if fix is None and group is not None:  # a key of a config file, or below a study's `shared` block
        close = closest_option(f"--{group.group(1)}.{group.group(2)}", options)
        fix = f"did you mean {close[2:]}?" if close else None
    return ConfigError(f"the configuration does not parse: {one_line(text)}" + (f"; {fix}" if fix else ""))


__all__ = [
    "ArgumentError", "CLASS_KEYS", "NEAREST_CONFIGS", "SETTING_FIXES", "closest_option", "config_files", "known_classes",
    "missing_config", "nearest_configs", "nearest_hint", "one_line", "parser_error", "public_path", "unknown_options",
]
