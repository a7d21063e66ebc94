"""The core knows nothing of what uses it: its option checks name their own arguments (a caller re-words them
for its options), its sources name no study, callback or outside document, and the sample set apart from its
builders still makes one working sample set per kind."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch

import harsanyi_lightning.interactions as interactions
from harsanyi_lightning.interactions import (
    MAX_AND_OR_VARIABLES,
    AnnotatedSampleSet,
    ConfigError,
    FeatureMasker,
    ImagePatchMasker,
    Masker,
    build_feature_sample_set,
    build_image_sample_set,
    build_sample_set,
    check_and_or_options,
    check_and_or_variables,
)
from harsanyi_lightning.interactions.sample_set import TextPool, check_variable_indices


def test_check_and_or_options_names_its_own_arguments():
    assert list(inspect.signature(check_and_or_options).parameters) == ["solver", "noise_bound"]
    check_and_or_options("lp", 0.04)
    check_and_or_options("gradient", 0)
    with pytest.raises(ConfigError, match=r"^solver='adam'; choose one of lp, gradient$"):
        check_and_or_options("adam", 0.04)
    for bad in (-0.1, float("nan"), float("inf"), True, "0.04"):
        with pytest.raises(ConfigError, match=r"^noise_bound=") as info:
            check_and_or_options("lp", bad)
        assert "and_or_" not in str(info.value)


def test_check_and_or_variables_gives_the_cap_and_the_cost():
    check_and_or_variables(MAX_AND_OR_VARIABLES)
    with pytest.raises(ConfigError, match=rf"n = 13 variables.*n <= {MAX_AND_OR_VARIABLES}.*3\*\*n = 1,594,323"):
        check_and_or_variables(13)


def test_the_sources_name_no_caller_and_no_outside_document():
    folder = Path(interactions.__file__).parent
    words = re.compile(r"\b(stud(y|ies)|callbacks?|regimes?|regimes?|S[P]EC|issue \d+)\b|(?<![/\w])and_or_(solver|noise_bound)\b(?!\.py)",
                       re.IGNORECASE)
    found = [f"{path.name}:{i}: {line.strip()}" for path in sorted(folder.glob("*.py"))
             for i, line in enumerate(path.read_text().splitlines(), 1) if words.search(line)]
    assert not found, found


def test_no_core_module_is_over_600_lines():
    folder = Path(interactions.__file__).parent
    sizes = {path.name: len(path.read_text().splitlines()) for path in folder.glob("*.py")}
    assert max(sizes.values()) <= 600, sizes


def test_check_variable_indices_refuses_repeats_and_out_of_range():
    check_variable_indices([0, 2, 1], 3, "features")
    with pytest.raises(ConfigError, match="repeat an index"):
        check_variable_indices([0, 0], 3, "features")
    with pytest.raises(ConfigError, match=r"variables \[3\] are out of range 0..2 for features"):
        check_variable_indices([0, 3], 3, "features")


def test_builders_give_sample_sets_whose_masker_works():
    features = build_feature_sample_set(torch.arange(6.0).view(2, 3), [0, 1], torch.zeros(3), groups=[[0, 1], [2]])
    assert isinstance(features, AnnotatedSampleSet) and features.n == 2
    masker = features.masker()
    assert isinstance(masker, FeatureMasker) and isinstance(masker, Masker)
    out = masker(torch.tensor([1, 1]), torch.tensor([0b01, 0b10]))  # x[batch, feature]
    assert out.tolist() == [[3.0, 4.0, 0.0], [0.0, 0.0, 5.0]]

    images = torch.rand(2, 1, 8, 8)
    image_set = build_image_sample_set(images, [0, 1], n=2, grid=2, seed=3)
    assert image_set.grid == (2, 2) and image_set.meta["grid"] == [2, 2]
    masker = image_set.masker()
    assert isinstance(masker, ImagePatchMasker)
    full = masker(torch.tensor([0]), torch.tensor([0b11]))  # pixels[batch, C, H, W]: every variable kept
    assert torch.equal(full[0], images[0])

    with pytest.raises(ConfigError, match="image pools only"):
        build_sample_set(TextPool(["a b"], [0], tokenizer=None), grid=2)
