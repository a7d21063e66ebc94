"""Every InteractionCallback option, except the ones the study sets itself, can be set from a study config:
parsed as ``cli.py study`` parses it (the ``StudyTrainer.study`` signature through jsonargparse) and passed
to the callback the study builds for a regime."""
from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from pytorch_lightning.cli import LightningArgumentParser

from harsanyi_lightning.callbacks import InteractionCallback, RunOptions
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.interactions.values import default_forward
from tests.tiny_study import REGIMES
from harsanyi_lightning.study.regimes import RegimeSpec
from harsanyi_lightning.study.run.plan import STUDY_OWNED_OPTIONS, InteractionSpec, SampleSetSpec, StudyPlan
from harsanyi_lightning.study.trainer import StudyTrainer

OPTIONS = [name for name in inspect.signature(InteractionCallback.__init__).parameters if name != "self"]
STUDY_SETTABLE = [name for name in OPTIONS if name not in STUDY_OWNED_OPTIONS]

#: a value other than the default for every option a study config can set: (YAML value, what the callback holds)
VALUES = {
    "n": (5, 5),
    "num_samples": (3, 3),
    "per_class": (1, 1),
    "seed": (7, 7),
    "baseline": ("zeros", "zeros"),
    "background": ("baseline", "baseline"),
    "pool_split": ("train", "train"),
    "grid": ([4, 2], [4, 2]),
    "region": (4, 4),
    "candidates": ([0, 9, 10], [0, 9, 10]),
    "max_variables": (10, 10),
    "every_n_epochs": (3, 3),
    "batch_size": (64, 64),
    "precision": ("tf32", "tf32"),
    "figures": (False, False),
    "progress": (False, False),
    "on_nonfinite": ("skip", "skip"),
    # a name is kept as written and resolved at setup (docs/callback.md#forward)
    "forward": ("harsanyi_lightning.interactions.values.default_forward",
                "harsanyi_lightning.interactions.values.default_forward"),
    "dashboard": (False, False),
    "attributions": (False, False),
    "and_or": (True, True),
    "and_or_solver": ("gradient", "gradient"),
    "and_or_noise_bound": (0.1, 0.1),
    "every_n_steps": (5, 5),
    "at_steps": ([50, 25], [25, 50]),  # kept sorted
    "estimator": ("sparse", "sparse"),
    "budget": (4096, 4096),
    "max_order": (3, 3),
}
#: options valid only together with others: the sparse estimator needs its budget, and budget / max_order are its
#: options (docs/study.md#sparse-studies)
COMPANIONS = {"estimator": {"budget": 8192}, "budget": {"estimator": "sparse"},
              "max_order": {"estimator": "sparse", "budget": 4096}}


def study_parser() -> LightningArgumentParser:
    """The parser of the ``study`` subcommand, built as :class:`harsanyi_lightning.study.cli.StudyCommandsMixin`
    builds it."""
    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_method_arguments(StudyTrainer, "study", skip={"model", "datamodule"})
    return parser


def parse_plan(tmp_path: Path, section: str, settings: dict, probe_interactions: dict | None = None) -> StudyPlan:
    """A study config with ``settings`` in its ``section`` (``sample_set`` or ``interactions``), parsed and
    instantiated by jsonargparse, as the plan ``cli.py study`` runs."""
    regimes = {name: {"kind": kind} for name, kind in REGIMES.items()}
    if probe_interactions:
        regimes["probe"]["interactions"] = probe_interactions
    config = {"study_dir": str(tmp_path / "study"), "regimes": regimes, section: settings}
    parser = study_parser()
    parsed = parser.parse_string(yaml.safe_dump(config))
    study = parser.instantiate_classes(parsed)
    return StudyPlan(study_dir=Path(study.study_dir), regimes=dict(study.regimes), shared={},
                     sample_set=study.sample_set, interactions=study.interactions)


def test_the_study_owns_exactly_the_run_options():
    assert sorted(STUDY_OWNED_OPTIONS) == sorted(f.name for f in fields(RunOptions))
    assert set(STUDY_OWNED_OPTIONS) < set(OPTIONS)


def test_the_study_sections_are_the_callback_options_with_the_same_defaults():
    """The ``sample_set`` and ``interactions`` sections hold every option a study can set (nothing restated by
    hand: their fields are the callback's option objects'), with the callback's own defaults."""
    sections = [f.name for f in fields(SampleSetSpec)] + [f.name for f in fields(InteractionSpec)]
    assert sorted(sections) == sorted(STUDY_SETTABLE) == sorted(VALUES)
    signature = inspect.signature(InteractionCallback.__init__).parameters
    for spec in (SampleSetSpec(), InteractionSpec()):
        for f in fields(spec):
            assert getattr(spec, f.name) == signature[f.name].default, f.name


@pytest.mark.parametrize("option", STUDY_SETTABLE)
def test_every_callback_option_can_be_set_from_a_study_config(tmp_path, option):
    given, expected = VALUES[option]
    section = "sample_set" if option in {f.name for f in fields(SampleSetSpec)} else "interactions"
    plan = parse_plan(tmp_path, section, {option: given, **COMPANIONS.get(option, {})})
    for regime in REGIMES:
        callback = plan.interaction_callback(regime, {})
        assert getattr(callback, option) == expected, (regime, option)
        assert callback.options.run.regime == regime and callback.options.run.sample_set == str(tmp_path / "study" / "annotation.pt")


def test_a_regime_overrides_the_study_interactions(tmp_path):
    plan = parse_plan(tmp_path, "interactions", {"every_n_epochs": 2, "on_nonfinite": "skip"},
                      probe_interactions={"every_n_epochs": 3})
    probe, finetune = plan.interaction_callback("probe", {}), plan.interaction_callback("finetune", {})
    assert (probe.every_n_epochs, probe.on_nonfinite) == (3, "skip")
    assert (finetune.every_n_epochs, finetune.on_nonfinite) == (2, "skip")


@pytest.mark.parametrize("section, settings, match", [
    ("sample_set", {"grid": 5, "region": 6}, "does not fit the 5x5"),
    ("sample_set", {"baseline": "blur"}, "baseline"),
    ("sample_set", {"max_variables": 0}, "max_variables"),
    ("interactions", {"on_nonfinite": "ignore"}, "on_nonfinite"),
    ("interactions", {"and_or_solver": "adam"}, "and_or_solver='adam'"),
    ("interactions", {"and_or_noise_bound": -1.0}, "and_or_noise_bound"),
    ("interactions", {"estimator": "sparse"}, "needs a budget"),
    ("interactions", {"budget": 4096}, "budget=4096 is an option of estimator='sparse'"),
])
def test_a_bad_study_option_names_the_option(tmp_path, section, settings, match):
    with pytest.raises(Exception, match=match) as err:
        parse_plan(tmp_path, section, settings)
    assert isinstance(err.value, (ConfigError, ValueError, TypeError))


def test_a_bad_regime_override_names_the_regime(tmp_path):
    plan = parse_plan(tmp_path, "interactions", {}, probe_interactions={"on_nonfinite": "ignore"})
    with pytest.raises(ConfigError, match=r"regimes\.probe\.interactions: on_nonfinite='ignore'"):
        plan.regime_interactions("probe")


def test_every_option_changes_the_fingerprint(tmp_path):
    """A regime is redone when any sample-set or interactions option changes: each one enters its fingerprint."""
    regimes = {s: RegimeSpec(kind=s) for s in REGIMES}
    plan = StudyPlan(study_dir=tmp_path / "study", regimes=regimes, shared={}, sample_set=SampleSetSpec(),
                     interactions=InteractionSpec())
    seen = {plan.fingerprint("finetune")}
    for option in STUDY_SETTABLE:
        given, expected = VALUES[option]
        if option in {f.name for f in fields(SampleSetSpec)}:
            changed = StudyPlan(study_dir=plan.study_dir, regimes=regimes, shared={},
                                sample_set=SampleSetSpec(**{option: expected}), interactions=plan.interactions)
        else:
            changed = StudyPlan(study_dir=plan.study_dir, regimes=regimes, shared={}, sample_set=plan.sample_set,
                                interactions=InteractionSpec(**{option: expected, **COMPANIONS.get(option, {})}))
        seen.add(changed.fingerprint("finetune"))
    assert len(seen) == 1 + len(STUDY_SETTABLE)


def test_a_forward_enters_the_fingerprint_by_the_name_it_is_given_or_its_import_path():
    """A forward named in YAML and the function it names give one fingerprint; another name another."""
    from harsanyi_lightning.study.run.plan import fingerprint_fields

    by_name = InteractionSpec(forward="harsanyi_lightning.interactions.values.default_forward")
    assert fingerprint_fields(by_name) == fingerprint_fields(InteractionSpec(forward=default_forward))
    assert fingerprint_fields(InteractionSpec(forward="net")) != fingerprint_fields(by_name)
