"""The callback's option objects: each checks its fields once, when built, and the callback is built from them."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from harsanyi_lightning.callbacks import (
    EvaluationOptions,
    ExtrasOptions,
    InteractionCallback,
    RunOptions,
    SampleSetOptions,
)
from harsanyi_lightning.callbacks.options import check_option_groups
from harsanyi_lightning.interactions.errors import ConfigError

GROUPS = {"run": RunOptions, "sampling": SampleSetOptions, "evaluation": EvaluationOptions, "extras": ExtrasOptions}


def test_the_keyword_signature_is_the_union_of_the_option_objects():
    """Every keyword of ``InteractionCallback`` is a field of exactly one option object, with the same default."""
    params = inspect.signature(InteractionCallback.__init__).parameters
    names = [p for p in params if p != "self"]
    owners = {}
    for group, cls in GROUPS.items():
        for f in dataclasses.fields(cls):
            assert f.name not in owners, f.name
            owners[f.name] = group
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            assert params[f.name].default == default or (default == {} and params[f.name].default is None), f.name
    assert sorted(owners) == sorted(names)


def test_the_callback_holds_its_options_as_frozen_objects():
    cb = InteractionCallback(n=4, grid=(4, 2), region=[2, 2], every_n_epochs=3, and_or=True, and_or_noise_bound=1,
                             references={"pretrain": "p"}, output_dir="out")
    assert cb.options.sampling == SampleSetOptions(n=4, grid=[4, 2], region=[2, 2])
    assert cb.options.sampling.grid == [4, 2] and cb.grid == [4, 2]  # normalised, and readable as an attribute
    assert cb.options.evaluation.every_n_epochs == cb.every_n_epochs == 3
    assert cb.options.extras.and_or_noise_bound == 1.0 and isinstance(cb.and_or_noise_bound, float)
    assert cb.options.run == RunOptions(references={"pretrain": "p"}, output_dir="out")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cb.options.sampling.n = 5
    with pytest.raises(AttributeError, match="no_such_option"):
        cb.no_such_option  # noqa: B018


@pytest.mark.parametrize("cls, kwargs, match", [
    (SampleSetOptions, dict(max_variables=0), "max_variables=0 must be an integer >= 1"),
    (SampleSetOptions, dict(n=20), "max_variables=16"),
    (SampleSetOptions, dict(num_samples=0), "num_samples"),
    (SampleSetOptions, dict(per_class=True), "per_class"),
    (SampleSetOptions, dict(baseline="blur"), "baseline='blur' must be 'mean' \\(paper\\) or 'zeros'"),
    (SampleSetOptions, dict(background="blur"), "background='blur' must be 'keep'"),
    (SampleSetOptions, dict(grid=5, region=6), "does not fit the 5x5"),
    (SampleSetOptions, dict(region=2, candidates=[0]), "not both"),
    (EvaluationOptions, dict(every_n_epochs=0), "every_n_epochs=0"),
    (EvaluationOptions, dict(batch_size=-1), "batch_size=-1"),
    (EvaluationOptions, dict(precision="fp64"), "precision='fp64'"),
    (EvaluationOptions, dict(on_nonfinite="keep"), "on_nonfinite='keep' must be 'raise' or 'skip'"),
    (EvaluationOptions, dict(forward="not a function"), "forward="),
    (ExtrasOptions, dict(and_or="yes"), "and_or='yes' must be true or false"),
    (ExtrasOptions, dict(and_or_solver="adam"), "and_or_solver='adam'; choose one of lp, gradient"),
    (ExtrasOptions, dict(and_or_noise_bound=float("nan")), "and_or_noise_bound=nan"),
    (ExtrasOptions, dict(and_or_noise_bound=True), "and_or_noise_bound=True"),
    (RunOptions, dict(missing_references="skip"), "missing_references='skip'"),
    (RunOptions, dict(references={"probe": "x"}), "unknown key"),
    (RunOptions, dict(references={"finetune": "x"}), "references.pretrain"),
])
def test_each_object_names_the_bad_option(cls, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        cls(**kwargs)


def test_checks_across_groups():
    """A sample set still to build draws 12 image variables by default; a loaded one brings its own ``n``;
    AND-OR interactions need ``n <= 12``."""
    sampling = SampleSetOptions(grid=4, region=2)
    with pytest.raises(ConfigError, match="n=12 variables but only 4 candidate patches"):
        check_option_groups(RunOptions(), sampling, ExtrasOptions())
    check_option_groups(RunOptions(sample_set="annotation.pt"), sampling, ExtrasOptions())
    with pytest.raises(ConfigError, match="n <= 12.*and_or=False"):
        check_option_groups(RunOptions(), SampleSetOptions(n=13), ExtrasOptions(and_or=True))
    check_option_groups(RunOptions(), SampleSetOptions(n=13), ExtrasOptions())
    with pytest.raises(ConfigError, match="n <= 12"):
        ExtrasOptions(and_or=True).check_num_variables(14)
