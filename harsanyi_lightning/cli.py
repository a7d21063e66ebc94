"""Command line: ``python cli.py fit --config configs/sst2_minilm/finetune.yaml`` (LightningCLI; docs/training.md).

The model is any :class:`harsanyi_lightning.lightning_modules.HarsanyiClassifier` subclass (the module of a
regime kind: ProbeClassifier, FinetuneClassifier, LoraClassifier, PartialClassifier, ScratchClassifier) and the data
any :class:`harsanyi_lightning.datamodules.HarsanyiDataModule` subclass, chosen by ``class_path``
(subclass mode). Two links tie them together:

- ``data.num_classes -> model.init_args.num_classes`` (on instantiation), so the
  head always matches the data;
- ``model.init_args.backbone -> data.init_args.backbone`` (on parse), so the data
  module uses the model's tokenizer (text) or normalisation (images). Set the
  backbone once, on the model.

Every relative path a run writes to (a logger's ``save_dir``, a ``ModelCheckpoint``'s ``dirpath``, an
``InteractionCallback``'s files) is taken from ``trainer.default_root_dir`` when it is set
(:func:`paths_below_root_dir`), so ``--trainer.default_root_dir X`` moves everything the run writes; an
absolute path pins its files where it says (docs/training.md#where-a-run-writes).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Iterable

from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from harsanyi_lightning.datamodules import HarsanyiDataModule
from harsanyi_lightning.interactions.errors import HarsanyiError
from harsanyi_lightning.lightning_modules import HarsanyiClassifier
from harsanyi_lightning.study.cli import StudyCommandsMixin, subcommand_at
from harsanyi_lightning.study.config_errors import ArgumentError, parser_error
from harsanyi_lightning.study.run.failures import exception_chain, project_error
from harsanyi_lightning.study.trainer import StudyTrainer

__all__ = ["OUTPUT_PATHS", "HarsanyiCLI", "HarsanyiStudyCLI", "cli_kwargs", "command_options", "main",
           "paths_below_root_dir", "run_from_command_line", "user_error"]


class HarsanyiCLI(LightningCLI):
    """LightningCLI over the regime modules and data modules, with the two links above. A config that
    does not parse raises :class:`~harsanyi_lightning.interactions.errors.ConfigError` (an unknown ``class_path`` lists the
    known classes; see :mod:`harsanyi_lightning.study.config_errors`) instead of jsonargparse's usage message."""

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as err:
            command = _command(args, self.subcommands())
            raise parser_error(err, command_options(parser, command), command) from None

    def before_instantiate_classes(self) -> None:
        super().before_instantiate_classes()
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        if isinstance(config, Namespace):
            paths_below_root_dir(config)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.link_arguments("model.init_args.backbone", "data.init_args.backbone")

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The subcommands: LightningCLI's (fit, validate, test, predict). Extra ones (``study``,
        ``report``) are added by overriding this in a subclass or mix-in, as LightningCLI does."""
        return dict(LightningCLI.subcommands())


class HarsanyiStudyCLI(StudyCommandsMixin, HarsanyiCLI):
    """:class:`HarsanyiCLI` plus the ``study`` and ``report`` subcommands (``study/cli.py``)."""


#: per callback class (by name), the init arguments naming files or folders a run writes (or reads and writes)
OUTPUT_PATHS = {"InteractionCallback": ("sample_set", "output_dir", "references"), "ModelCheckpoint": ("dirpath",)}


def _below(root: str, value: Any) -> Any:
    """``value`` (a path, or a dict of paths) with each relative local path taken from ``root``; a relative path that
    already lies inside a relative ``root`` (``runs/a/tb`` with the root ``runs/a``) is kept, not nested twice."""
    if isinstance(value, dict):
        return {k: _below(root, v) for k, v in value.items()}
    if not isinstance(value, (str, os.PathLike)) or "://" in str(value):
        return value
    path = os.path.expanduser(os.fspath(value))
    if os.path.isabs(path):
        return path
    inside = os.path.normpath(path) + os.sep
    return path if inside.startswith(os.path.normpath(root) + os.sep) else os.path.join(root, path)


def paths_below_root_dir(config: Namespace) -> list[str]:
    """When ``config.trainer.default_root_dir`` is set, take every relative path the run writes to from it: each
    logger's ``save_dir`` and the :data:`OUTPUT_PATHS` of the configured callbacks (``InteractionCallback``:
    ``sample_set``, ``output_dir``, ``references``; ``ModelCheckpoint``: ``dirpath``). Without it they stay relative
    to the working folder, Lightning's own default root. An absolute path (or a URL) is kept: it pins its files
    there; so is a relative path already inside a relative root (a study's ``<study_dir>/<regime>/tb``). Returns
    the settings it changed (``trainer.logger.save_dir``, ``InteractionCallback.output_dir``, ...)."""
    trainer = config.get("trainer")
    root = trainer.get("default_root_dir") if isinstance(trainer, Namespace) else None
    if not root:
        return []
    root = os.fspath(root)
    changed = []

    def rebase(owner: Any, keys: Iterable[str], name: str) -> None:
        init = owner.get("init_args") if isinstance(owner, Namespace) else None
        for key in keys if isinstance(init, Namespace) else ():
            value = init.get(key)
            new = _below(root, value)
            if value is not None and new != value:
                init[key] = new
                changed.append(f"{name}.{key}")

    loggers = trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        rebase(logger, ("save_dir",), "trainer.logger")
    callbacks = trainer.get("callbacks")
    for callback in callbacks if isinstance(callbacks, list) else [callbacks]:
        name = str(getattr(callback, "class_path", "") or "").rsplit(".", 1)[-1]
        rebase(callback, OUTPUT_PATHS.get(name, ()), name)
    return changed


def _command(args: Any, commands: Iterable[str]) -> str | None:
    """The subcommand a command line runs (``fit``, ``study``, ...), if it names one."""
    if isinstance(args, (dict, Namespace)):
        return None
    argv, at = subcommand_at(args, commands)
    return None if at is None else argv[at]


def command_options(parser: LightningArgumentParser, command: str | None) -> list[str]:
    """Every ``--option`` of ``command``'s parser (of ``parser`` itself without one): what a mistyped option is
    compared with."""
    action = getattr(parser, "_subcommands_action", None)
    sub = getattr(action, "_name_parser_map", {}).get(command) if command else None
    return [o for a in (sub or parser)._actions for o in a.option_strings if o.startswith("--")]


def cli_kwargs() -> dict[str, Any]:
    """Constructor arguments of :class:`HarsanyiCLI` shared by :func:`main` and anything that
    builds a CLI in-process."""
    return dict(
        model_class=HarsanyiClassifier,
        trainer_class=StudyTrainer,  # a Trainer with the study/report subcommands' signatures
        datamodule_class=HarsanyiDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # each module builds its optimiser from its own arguments
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"exit_on_error": False},  # parse errors become ConfigError (HarsanyiCLI.parse_arguments)
    )


def main(args: list[str] | None = None, run: bool = True, cli_class: type[LightningCLI] = HarsanyiStudyCLI,
         **kwargs: Any) -> LightningCLI:
    """Run the CLI on ``args`` (default ``sys.argv``); return it (``run=False``: parsed and instantiated only)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return cli_class(args=args, run=run, **{**cli_kwargs(), **kwargs})


def user_error(err: BaseException) -> HarsanyiError | None:
    """The project's own error behind ``err``, if any: ``err`` itself or an exception it was raised
    from (jsonargparse wraps errors raised while it instantiates the model or data classes)."""
    return next((e for e in exception_chain(err) if isinstance(e, HarsanyiError)), None)


def run_from_command_line(args: list[str] | None = None) -> int:
    """:func:`main` for the shell: an error caused by the user's input (one of the documented types of
    :mod:`harsanyi_lightning.interactions.errors`), or a failure of the run's surroundings the project recognises (a write
    that fails for a full disk, a dead DataLoader worker or DDP rank; see :mod:`harsanyi_lightning.study.run.failures`) is printed
    as one short message naming the input or file and the fix, and the exit status is 2 (as for a
    command-line usage error); anything else keeps its full traceback."""
    try:
        main(args)
    except Exception as err:  # noqa: BLE001 - re-raised unless it is the user's input error
        found = user_error(err) or project_error(err)
        if found is None:
            raise
        print(f"error ({type(found).__name__}): {found}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_from_command_line())
