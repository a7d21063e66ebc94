"""The ``study`` and ``report`` subcommands of ``cli.py``, as a LightningCLI mix-in.

They are registered the way LightningCLI registers ``fit``: through
:meth:`subcommands`, each mapping to a method of the ``trainer_class``
(:class:`~harsanyi_lightning.study.trainer.StudyTrainer`), whose signature becomes the
subcommand's arguments. Unlike ``fit`` they take no top-level
``model``/``data``/``trainer`` (a study has several models; each regime builds its
own LightningCLI with ``run=False`` from the stacked configs, see
:mod:`harsanyi_lightning.study.run.plan`), so nothing is instantiated for them up front.
``python cli.py study`` without ``--config`` reads the embedded default,
``configs/sst2_minilm/study.yaml``; every study setting given on the command line merges into the
config (``--shared.trainer.max_epochs 1``: typed, its siblings kept; see
:mod:`harsanyi_lightning.study.overrides`), and ``--print_config`` prints what will run.
"""
from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

from jsonargparse import Namespace, get_loader
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from harsanyi_lightning.interactions.errors import ConfigError, HarsanyiError
from harsanyi_lightning.lightning_modules.regime_kinds import regime_kind

from .bootstrap_options import BootstrapOptions
from .config_errors import ArgumentError, one_line
from .run.loop import run_study
from .overrides import (
    dict_settings,
    has_config,
    merge_dict_overrides,
    override_args,
    split_dict_overrides,
    without_print_config,
)
from .regimes import RegimeSpec
from .run.plan import DEFAULT_STUDY_CONFIG, InteractionSpec, SampleSetSpec, StudyPlan
from .run.processes import LAYOUT_KEYS, StudyProcesses, layout_of, start_study_processes
from .trainer import StudyTrainer

__all__ = [
    "REQUIRED_SETTINGS", "STUDY_COMMANDS", "STUDY_OWNED_CALLBACKS", "StudyCommandsMixin", "check_regime_kind",
    "subcommand_at",
]

STUDY_COMMANDS = {"study": {"model", "datamodule"}, "report": {"model", "datamodule"}}
#: study settings that must not be null (the regimes and evaluation specs)
REQUIRED_SETTINGS = ("regimes", "sample_set", "interactions", "test", "force", "report", "figures")


class StudyCommandsMixin:
    """Adds ``study`` and ``report`` to a LightningCLI subclass whose ``trainer_class`` is a
    :class:`~harsanyi_lightning.study.trainer.StudyTrainer`. Regimes are built with ``type(self)(args=..., run=False,
    **self.regime_cli_kwargs())``."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), **STUDY_COMMANDS}

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        if subcommand not in STUDY_COMMANDS:
            return super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        parser = self.init_parser(**kwargs)
        skip = set(STUDY_COMMANDS[subcommand])
        positional = []
        if subcommand == "report":  # `report A B ...`: the study folders are positional
            parser.add_argument("study_dirs", nargs="+", type=str, help="study folders written by `cli.py study`")
            skip.add("study_dirs")
            positional = ["study_dirs"]
        added = parser.add_method_arguments(klass, subcommand, skip=skip)
        self._subcommand_method_arguments[subcommand] = list(added) + positional
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse as LightningCLI does, with two additions for ``study`` (:mod:`harsanyi_lightning.study.overrides`):
        without ``--config`` it reads the embedded default (``configs/sst2_minilm/study.yaml``) first, and a
        dotted override below a dict-typed setting (``--shared.trainer.devices 2``) merges into it, typed,
        its siblings kept. ``--print_config`` prints the result: what will run."""
        if isinstance(args, (dict, Namespace)):
            return super().parse_arguments(parser, args)
        argv, at = subcommand_at(args, self.subcommands())
        if at is None or argv[at] != "study":
            return super().parse_arguments(parser, args)
        head, tail = argv[: at + 1], argv[at + 1:]
        if not has_config(argv):
            tail = ["--config", str(DEFAULT_STUDY_CONFIG), *tail]
        settings = dict_settings(self.trainer_class.study, skip=STUDY_COMMANDS["study"])
        tail, overrides = split_dict_overrides(tail, settings, get_loader(parser.parser_mode))
        if overrides:
            self._parse(parser, head + without_print_config(tail))
            parsed = {s: self.config.study.get(s) for s in {o.setting for o in overrides}}
            tail += override_args(merge_dict_overrides(parsed, overrides))
        self._parse(parser, head + tail)

    def _parse(self, parser: LightningArgumentParser, argv: list[str]) -> None:
        with warnings.catch_warnings():  # argv is the command line itself, completed above
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            super().parse_arguments(parser, argv)

    def _set_seed(self) -> None:
        if self.subcommand in STUDY_COMMANDS:
            return  # each regime seeds itself (its seed_everything)
        super()._set_seed()

    def instantiate_classes(self) -> None:
        if self.subcommand not in STUDY_COMMANDS:
            return super().instantiate_classes()
        if self.subcommand == "study":
            given = self.config.study
            empty = [k for k in ("study_dir", *REQUIRED_SETTINGS) if given.get(k) is None]
            if empty:
                one = len(empty) == 1
                raise ConfigError(f"the study config sets {', '.join(empty)} to null (empty); give "
                                  f"{'a value' if one else 'values'} or leave {'it' if one else 'them'} out for the default")
        try:
            self.config_init = self.parser.instantiate_classes(self.config)
        except (TypeError, ValueError, ArgumentError) as err:
            if isinstance(err, HarsanyiError):
                raise
            raise ConfigError(f"the {self.subcommand} config does not build: {one_line(str(err))}") from None
        self.model = self.datamodule = None
        self.trainer = StudyTrainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                    enable_model_summary=False, accelerator="cpu", devices=1)

    def regime_cli_kwargs(self) -> dict:
        """Constructor arguments for each regime's LightningCLI: the ones this CLI was built with."""
        return dict(
            model_class=self.model_class, datamodule_class=self.datamodule_class,
            save_config_callback=self.save_config_callback, save_config_kwargs=dict(self.save_config_kwargs),
            trainer_class=self.trainer_class, trainer_defaults=dict(self.trainer_defaults),
            seed_everything_default=self.seed_everything_default, parser_kwargs=dict(self.parser_kwargs),
            parser_class=self.parser_class, subclass_mode_model=self.subclass_mode_model,
            subclass_mode_data=self.subclass_mode_data, auto_configure_optimizers=self.auto_configure_optimizers,
        )

    def study(self, study_dir: str, shared: dict | None, regimes: dict[str, RegimeSpec], sample_set: SampleSetSpec,
              interactions: InteractionSpec, test: bool, force: bool, report: bool, seeds: list[int] | None = None,
              bootstrap: BootstrapOptions | None = None, configs: list[str] | None = None, figures: bool = True,
              **_: Any) -> None:
        """Run the study described by the parsed config (see :meth:`StudyTrainer.study`)."""
        plan = StudyPlan(
            study_dir=Path(study_dir), regimes=dict(regimes), configs=list(configs or []),
            shared=dict(shared or {}), sample_set=sample_set, interactions=interactions, test=test, force=force,
            seeds=seeds, bootstrap=bootstrap or BootstrapOptions(),
        )
        cls = _regime_cli_class(type(self))
        check_cls = _regime_cli_class(type(self), parse_only=True)
        extra = self.regime_cli_kwargs()

        def make_cli(args: list[str], callbacks: list, cli_class: type = cls) -> LightningCLI:
            kw = dict(extra)
            defaults = dict(kw.pop("trainer_defaults", {}) or {})
            cbs = defaults.get("callbacks", [])
            defaults["callbacks"] = (list(cbs) if isinstance(cbs, list) else [cbs]) + list(callbacks)
            save_kw = {"overwrite": True, **dict(kw.pop("save_config_kwargs", {}) or {})}
            with warnings.catch_warnings():  # args= is meant here: the regime's stacked configs, not sys.argv
                warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
                return cli_class(args=args, run=False, trainer_defaults=defaults, save_config_kwargs=save_kw, **kw)

        layouts: dict[str, dict] = {}

        def check_cli(regime: str, args: list[str]) -> None:
            config = make_cli(args, [], check_cls).config
            check_regime_kind(regime, plan.regimes[regime].kind, config.get("model"))
            layouts[regime] = layout_of(config.get("trainer"))

        def start_processes() -> StudyProcesses:
            return start_study_processes(_one_layout(layouts))

        run_study(plan, make_cli, report=report, figures=figures, check_cli=check_cli, start_processes=start_processes)

    def report(self, study_dirs: list[str], summary: str | None = None, bootstrap: BootstrapOptions | None = None,
               out: str | None = None, study_reports: bool = False, figures: bool = True, **_: Any) -> None:
        """The report of one study folder, or the comparison of several (see :meth:`StudyTrainer.report`)."""
        self.trainer.report(study_dirs=study_dirs, summary=summary, bootstrap=bootstrap or BootstrapOptions(), out=out,
                            study_reports=study_reports, figures=figures)


def _one_layout(layouts: dict[str, dict]) -> dict:
    """The process layout all regimes share (docs/study.md#many-devices-and-machines): one set of ranks runs
    every regime, so a regime that asks for other devices is a ``ConfigError`` naming the setting."""
    if not layouts:
        return {}
    first = next(iter(layouts.values()))
    for key in LAYOUT_KEYS:
        if any(layout.get(key) != first.get(key) for layout in layouts.values()):
            shown = ", ".join(f"{regime}: {layout.get(key)!r}" for regime, layout in layouts.items())
            raise ConfigError(f"the regimes ask for different trainer.{key} ({shown}); one set of processes runs "
                              f"every regime: set trainer.{key} once, in shared.trainer.{key}")
    return first


def subcommand_at(args: Sequence[str] | None, commands: Iterable[str]) -> tuple[list[str], int | None]:
    """The command line (``args``, or ``sys.argv[1:]`` when ``None``) as a list, and the index of its subcommand:
    the first argument that is one of ``commands`` (``None`` when none is)."""
    argv = list(sys.argv[1:] if args is None else args)
    names = set(commands)
    return argv, next((i for i, a in enumerate(argv) if a in names), None)


def check_regime_kind(regime: str, kind: str, model: Any) -> None:
    """A regime's parsed ``model`` must be the LightningModule of its kind, or a subclass of it, with options that
    kind takes (its ``check_init_args``; docs/training.md#regime-kinds): a ``ConfigError`` naming the regime, what
    is wrong and the fix otherwise, before any training."""
    expected = regime_kind(kind, f"regimes.{regime}.kind")
    given = str(getattr(model, "class_path", "") or "")
    if not given:
        return  # no class_path to check (a parse-only stand-in): the regime's files decide
    try:
        module, _, name = given.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        base_module, _, base_name = expected.module.rpartition(".")
        base = getattr(importlib.import_module(base_module), base_name)
    except (ImportError, AttributeError, ValueError):
        return  # an unknown class_path is the parser's error to report
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"regime {regime!r} has kind {kind!r}, which trains {expected.module}, but its "
                          f"model.class_path is {given}; give the regime kind: {getattr(cls, 'regime', '?')} or a model "
                          f"of class {expected.module.rsplit('.', 1)[-1]} (docs/training.md#regime-kinds)")
    try:
        cls.check_init_args(getattr(model, "init_args", None) or {})
    except ConfigError as err:
        raise ConfigError(f"regime {regime!r} (kind {kind!r}): {err}") from None


#: callbacks the study adds to every regime itself; copies in a regime's own config files are dropped
STUDY_OWNED_CALLBACKS = ("InteractionCallback", "ModelCheckpoint")


def _regime_cli_class(cli_class: type, parse_only: bool = False) -> type:
    """``cli_class`` whose configured ``trainer.callbacks`` lose any InteractionCallback or
    ModelCheckpoint (the study adds its own, pointed at the study's folders). ``parse_only``: it only
    parses the regime's configs (an error is a ``ConfigError``), seeds nothing and builds nothing."""

    class RegimeCLI(cli_class):
        if parse_only:
            def _set_seed(self) -> None:
                pass

            def instantiate_classes(self) -> None:
                pass

        def before_instantiate_classes(self) -> None:
            super().before_instantiate_classes()
            trainer = self.config.get("trainer")
            cbs = trainer.get("callbacks") if trainer is not None else None
            if isinstance(cbs, list):
                trainer["callbacks"] = [
                    cb for cb in cbs
                    if str(getattr(cb, "class_path", "") or "").rsplit(".", 1)[-1] not in STUDY_OWNED_CALLBACKS
                ]

    RegimeCLI.__name__ = RegimeCLI.__qualname__ = f"{'Check' if parse_only else ''}Regime{cli_class.__name__}"
    return RegimeCLI
