"""Feature sample sets: tabular / vector samples ``x[sample, feature]`` with a baseline vector
``[feature]``; each variable is one feature or a group of features
(docs/method.md#the-annotated-sample-set).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from .errors import ConfigError, DataError
from .sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet, check_num_variables, check_variable_indices


def build_feature_sample_set(
    x: Tensor, labels: Sequence[int] | Tensor, baseline: Tensor, variables: Sequence[int] | None = None,
    *, groups: Sequence[Sequence[int]] | None = None, max_variables: int = DEFAULT_MAX_VARIABLES,
    meta: dict | None = None,
) -> AnnotatedSampleSet:
    """Tabular / vector samples ``x[sample, feature]`` with a baseline ``[feature]``.

    ``variables`` lists the features that are input variables, one each (default: all);
    ``groups`` instead makes each group of features one variable (``groups=[[0, 1], [2], [5, 6, 7]]``:
    variable 0 keeps or masks features 0 and 1 together). Features in no variable are always kept."""
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise DataError(f"x has shape {tuple(x.shape)}; expected x[sample, feature]")
    d = x.shape[1]
    if groups is not None and variables is not None:
        raise ConfigError(
            "pass either variables=[feature, ...] (one feature per variable) or groups=[[feature, ...], ...], not both"
        )
    if groups is None:
        variables = list(range(d)) if variables is None else [int(v) for v in variables]
        check_variable_indices(variables, d, "features")
        members = [[f] for f in variables]
        info: dict[str, Any] = {"variables": variables}
    else:
        members = _check_groups(groups, d)
        info = {"groups": members}
    n = check_num_variables(len(members), max_variables)
    unit = torch.full((d,), -1, dtype=torch.long)
    for i, group in enumerate(members):
        unit[group] = i
    baseline = torch.as_tensor(baseline, dtype=x.dtype)
    if baseline.shape != (d,):
        raise DataError(f"baseline has shape {tuple(baseline.shape)}; expected [{d}] (one value per feature)")
    return AnnotatedSampleSet(
        "features", {"x": x}, torch.as_tensor(labels), unit.expand(x.shape[0], d).clone(), baseline, n,
        {**info, **(meta or {})},
    )


def _check_groups(groups: Sequence[Sequence[int]], num_features: int) -> list[list[int]]:
    """``groups`` as lists of ints; each non-empty, in range, and no feature in two groups."""
    if isinstance(groups, (str, bytes)) or not all(isinstance(g, Sequence) and not isinstance(g, str) for g in groups):
        raise ConfigError(
            f"groups={groups!r} must be a list of feature index lists, e.g. groups=[[0, 1], [2], [5, 6, 7]]"
        )
    members = [[int(f) for f in g] for g in groups]
    if not members or any(not g for g in members):
        raise ConfigError(f"groups={members} must be a non-empty list of non-empty feature lists")
    flat = [f for g in members for f in g]
    bad = sorted({f for f in flat if not 0 <= f < num_features})
    if bad:
        raise ConfigError(f"groups name features {bad}, out of range 0..{num_features - 1}")
    twice = sorted({f for f in flat if flat.count(f) > 1})
    if twice:
        raise ConfigError(
            f"groups put feature(s) {twice} in more than one group (or twice in one); "
            "each feature may belong to one variable"
        )
    return members


__all__ = ["build_feature_sample_set"]
