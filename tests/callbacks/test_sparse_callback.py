"""``estimator: sparse`` in the callback (docs/callback.md#sparse-estimates): option checks before any work, and a
tiny fit whose artifacts hold the sparse dividends marked as estimated, with their held-out R^2 logged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.callbacks import EvaluationOptions, InteractionCallback
from harsanyi_lightning.interactions import (
    ConfigError,
    banzhaf_values,
    load_artifact,
    shapley_interaction_index,
    shapley_values,
)
from harsanyi_lightning.interactions.metrics import sparse_jaccard
from harsanyi_lightning.interactions.sparse import sparse_dividends
from harsanyi_lightning.interactions.sparse_recovery import values_from_sparse
from harsanyi_lightning.study.run.plan import InteractionSpec, fingerprint_fields
from tests.callbacks.test_callback import epoch_content, fit, scalars

SPARSE = dict(estimator="sparse", budget=128, max_order=2, n=8, attributions=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(estimator="fourier"), "estimator='fourier' must be one of 'exact', 'sparse'"),
    (dict(estimator="sparse"), "needs a budget"),
    (dict(budget=4096), "budget=4096 is an option of estimator='sparse'"),
    (dict(max_order=3), "max_order=3 is an option of estimator='sparse'"),
    (dict(estimator="sparse", budget=0), "budget=0 must be an integer >= 1"),
    (dict(estimator="sparse", budget=512, max_order=0), "max_order=0 must be an integer >= 1"),
    (dict(estimator="sparse", budget=512, on_nonfinite="skip"), "on_nonfinite='skip' with estimator='sparse'"),
])
def test_bad_estimator_options_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        EvaluationOptions(**kwargs)
    with pytest.raises(ConfigError, match=match):
        InteractionCallback(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(estimator="sparse", budget=4096, max_variables=63), "max_variables=63 is above the sparse estimator's cap"),
    (dict(estimator="sparse", budget=100, n=8, max_order=4), "raise budget to >= 144"),
    (dict(estimator="sparse", budget=4096, n=8), "not below 2\\*\\*n|below 2\\*\\*8|2\\*\\*n"),
    (dict(estimator="sparse", budget=512, and_or=True), "and_or with estimator='sparse' is not supported"),
])
def test_sparse_needs_a_sample_set_and_options_it_can_serve(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        InteractionCallback(**kwargs)


def test_a_study_takes_the_sparse_estimator_with_its_budget():
    spec = InteractionSpec(estimator="sparse", budget=4096, max_order=3)
    assert (spec.estimator, spec.budget, spec.max_order) == ("sparse", 4096, 3)
    assert fingerprint_fields(spec)["budget"] == 4096 and fingerprint_fields(InteractionSpec())["budget"] is None
    with pytest.raises(ConfigError, match="needs a budget"):
        InteractionSpec(estimator="sparse")


def test_sparse_attributions_are_the_exact_formulas_on_the_recovered_set():
    g = torch.Generator().manual_seed(0)
    planted = torch.tensor([1, 6, 9, 22, 131], dtype=torch.long)
    dividends = torch.randn(5, generator=g, dtype=torch.float64)
    result = sparse_dividends(lambda m: values_from_sparse(m, planted, dividends), 8, budget=160, max_order=4)
    dense = result.dense_row(0).view(1, -1)
    found = result.attributions()
    torch.testing.assert_close(found["shapley"], shapley_values(dense))
    torch.testing.assert_close(found["banzhaf"], banzhaf_values(dense))
    torch.testing.assert_close(found["sii"], shapley_interaction_index(dense))
    masks, values = result.masks[0], result.dividends[0]
    assert sparse_jaccard(masks, values, masks, values) == 1.0
    assert sparse_jaccard(masks, values, masks, -values) == 0.0


def test_a_sparse_fit_stores_estimates_and_logs_their_heldout_r2(tmp_path):
    trainer, _, cb = fit(tmp_path, epochs=2, **{**SPARSE, "attributions": True})
    out = Path(trainer.log_dir) / "interactions"
    for epoch in (0, 1, 2):
        content = epoch_content(out, epoch)
        assert content["estimator"] == "sparse" and content["estimated"] is True
        assert "dividends" not in content and "values" not in content
        samples = len(content["sparse_masks"])
        assert samples == len(content["sparse_dividends"]) == content["r2_heldout"].shape[0] == 4
        assert content["budget"] == 128 and content["heldout_queries"] == 128 and content["n"] == 8
        for masks, values in zip(content["sparse_masks"], content["sparse_dividends"]):
            assert masks.dtype == torch.long and values.dtype == torch.float64 and masks.shape == values.shape
            assert bool((masks >= 0).all()) and bool((masks < 256).all())
        assert torch.isfinite(content["r2_heldout"]).all()
        assert content["shapley"].shape == (4, 8) and content["sii"].shape == (4, 8, 8)
    tags = scalars(trainer.log_dir)
    assert 0 in tags["interactions/r2_heldout"]
    assert len(tags["interactions/r2_heldout"]) == 3 and len(tags["interactions/r2_heldout_min"]) == 3
    final = epoch_content(out, 2)
    assert tags["interactions/r2_heldout"][final["log_step"]] == pytest.approx(float(final["r2_heldout"].mean()))
    assert "interactions/strength/order_1" in tags and tags["__images__"] == ["interactions/strength_by_order"]
    assert not [t for t in tags if t.startswith("knowledge/") and t != "knowledge/jaccard_to_final"]
    jaccard = json.loads((out / "jaccard.json").read_text())
    assert jaccard["steps"][-1] == jaccard["final_step"] and jaccard["jaccard"][-1] == 1.0
    assert all(0.0 <= j <= 1.0 for j in jaccard["jaccard"])
    pointer = json.loads((out / "final.json").read_text())
    assert load_artifact(out / pointer["file"], "interactions")[0]["estimator"] == "sparse"


def test_a_sparse_artifact_is_refused_as_a_reference(tmp_path):
    trainer, _, _ = fit(tmp_path / "sparse", epochs=1, regime="probe", **SPARSE)
    sparse_dir = Path(trainer.log_dir) / "interactions"
    with pytest.raises(ConfigError, match="holds sparse estimates"):
        fit(tmp_path / "exact", epochs=1, n=8, references={"pretrain": str(sparse_dir)})


def test_a_sparse_fit_measures_knowledge_against_sparse_or_exact_references(tmp_path):
    """References work with sparse runs (docs/callback.md#sparse-estimates): the knowledge split and the Ratio are
    logged, computed on the union of the recovered subsets (a subset absent from one counts 0)."""
    from harsanyi_lightning.interactions import knowledge_by_order, slot_tables

    trainer, _, _ = fit(tmp_path / "probe", epochs=1, regime="probe", **SPARSE)
    probe = Path(trainer.log_dir) / "interactions"
    trainer, _, _ = fit(tmp_path / "exact", epochs=1, regime="finetune", n=8)
    exact = Path(trainer.log_dir) / "interactions"
    trainer, _, _ = fit(tmp_path / "scratch", epochs=1, regime="scratch", **SPARSE,
                        references={"pretrain": str(probe), "finetune": str(exact)})
    tags = scalars(trainer.log_dir)
    assert {"knowledge/preserve/total", "knowledge/discard/order_2", "knowledge/ratio"} <= set(tags)
    final = epoch_content(Path(trainer.log_dir) / "interactions", 1)
    ref = epoch_content(probe, 1)
    slots = slot_tables([(ref["sparse_masks"], ref["sparse_dividends"]),
                         (final["sparse_masks"], final["sparse_dividends"])], 8)
    expected = float(knowledge_by_order(*slots.tables, slots.orders, 8)["preserve"][1:].sum())
    assert tags["knowledge/preserve/total"][final["log_step"]] == pytest.approx(expected, rel=1e-5)
