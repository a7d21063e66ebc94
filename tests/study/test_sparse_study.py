"""A study with ``interactions: {estimator: sparse, budget: B}`` on sentences of 20 words, end to end through the
command line (docs/study.md#sparse-studies): the regimes measure against sparse references, the report never builds
a ``2**n`` table, marks its numbers as estimated and carries the held-out R^2 of every model at every evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harsanyi_lightning.interactions import knowledge_by_order, load_artifact, preserved_ratio, slot_tables
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.study.report.findings import ESTIMATED_DENSE_WHY
from tests.tiny_study import REGIMES
from tests.study.test_study import run_study, write_tiny_study

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

WORDS, BUDGET = 20, 400


@pytest.fixture(scope="module")
def sparse_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sparse_study")
    cfg = write_tiny_study(root / "configs", root / "study", words=WORDS,
                           interactions=f"estimator: sparse, budget: {BUDGET}, max_order: 3", figures=True)
    text = cfg.read_text().replace("sample_set: {", "sample_set: {max_variables: 62, ")
    cfg.write_text(text)
    run_study(cfg)
    return root / "study"


def final_content(study: Path, regime: str) -> dict:
    summary = json.loads((study / regime / "summary.json").read_text())
    content, _ = load_artifact(study / regime / summary["final_artifact"], "interactions")
    return content


def test_sparse_study_writes_estimated_artifacts_and_a_report_without_dense_tables(sparse_study):
    finals = {s: final_content(sparse_study, s) for s in REGIMES}
    for content in finals.values():
        assert content["estimator"] == "sparse" and content["estimated"] and content["n"] == WORDS
        assert "dividends" not in content and content["budget"] == BUDGET
    report = sparse_study / "report"
    assert (report / "knowledge_by_order.png").is_file() and (report / "jaccard.png").is_file()
    assert not (report / "samples.png").exists()
    num = json.loads((report / "report.json").read_text())
    assert num["n"] == WORDS and num["estimator"] == "sparse" and num["budget"] == BUDGET
    # the report's numbers: the dense metrics of the recovered dividends on the union of the three models' subsets
    slots = slot_tables([(c["sparse_masks"], c["sparse_dividends"]) for c in finals.values()], WORDS)
    a, b, c = slots.tables
    by_order = knowledge_by_order(a, b, slots.orders, WORDS)
    for part in ("pretrain", "preserve", "discard", "new", "finetune"):
        assert num["knowledge_by_order"][part] == pytest.approx(by_order[part][1:].tolist(), rel=1e-9, abs=1e-15)
        assert len(num["knowledge_by_order"][part]) == WORDS
    assert num["ratio"]["ratio"] == pytest.approx(preserved_ratio(a, b, c)["ratio"], rel=1e-9, nan_ok=True)
    # dense-reading findings are not measurable, salient ones judged as usual
    for f in num["findings"]:
        if f["reading"] == "dense":
            assert f["verdict"] == "not measurable" and f["why"] == ESTIMATED_DENSE_WHY
    assert any(f["reading"] == "salient" and f["why"] != ESTIMATED_DENSE_WHY for f in num["findings"])
    md = (report / "report.md").read_text()
    assert f"sparse estimates from {BUDGET} forward passes per sample" in md
    assert "`samples.png` is not drawn" in md
    (report / "samples.png").write_bytes(b"a figure of an earlier report")
    from harsanyi_lightning.study.report.writer import write_report

    write_report(sparse_study, tensorboard=False)
    assert not (report / "samples.png").exists()


def test_report_json_carries_the_heldout_r2_of_every_regime_at_every_evaluation(sparse_study):
    num = json.loads((sparse_study / "report" / "report.json").read_text())
    for regime in REGIMES:
        rows = num["r2_heldout"][regime]
        assert [(r["step"], r["epoch"]) for r in rows] == [(e["step"], e["epoch"]) for e in num["evaluations"][regime]]
        summary = json.loads((sparse_study / regime / "summary.json").read_text())
        final = final_content(sparse_study, regime)["r2_heldout"]
        last = rows[-1]
        assert last["step"] == summary["global_step"]
        assert last["median"] == pytest.approx(float(final.quantile(0.5)), rel=1e-12)
        assert last["min"] == pytest.approx(float(final.min()), rel=1e-12) and last["min"] <= last["median"] <= 1
    md = (sparse_study / "report" / "report.md").read_text()
    assert "| scratch | 0 | 0 |" in md and "median R^2" in md
    from harsanyi_lightning.study.report.writer import write_summary

    from harsanyi_lightning.study.report.number_format import interval_text

    row = write_summary([sparse_study]).splitlines()[2]
    assert f"(sparse estimates, budget {BUDGET}; ratios in the salient reading)" in row
    # the ratios are the salient reading's, the one a sparse study's findings are judged in
    from harsanyi_lightning.study.report.numbers import compute_study

    intervals = compute_study(sparse_study).intervals
    assert interval_text(intervals["salient/discard_over_preserve"], ".3g") in row
    assert interval_text(intervals["salient/ratio"], "%") in row


def test_finetune_and_scratch_log_knowledge_against_sparse_references(sparse_study):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for regime, tags in (("finetune", {"knowledge/preserve/total"}),
                        ("scratch", {"knowledge/preserve/total", "knowledge/ratio"})):
        acc = EventAccumulator(str(sparse_study / regime / "tb"), size_guidance={"scalars": 0})
        acc.Reload()
        scalars = set(acc.Tags()["scalars"])
        assert tags | {"interactions/r2_heldout", "interactions/estimated"} <= scalars, regime
    # the last logged preserve total equals the split of the final evaluation against the probe's final one
    probe, finetune = final_content(sparse_study, "probe"), final_content(sparse_study, "finetune")
    slots = slot_tables([(c["sparse_masks"], c["sparse_dividends"]) for c in (probe, finetune)], WORDS)
    expected = float(knowledge_by_order(*slots.tables, slots.orders, WORDS)["preserve"][1:].sum())
    acc = EventAccumulator(str(sparse_study / "finetune" / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    assert acc.Scalars("knowledge/preserve/total")[-1].value == pytest.approx(expected, rel=1e-5)


def test_a_study_mixing_estimators_is_refused_before_any_stage_runs(tmp_path):
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study", words=8,
                           interactions="estimator: sparse, budget: 200",
                           probe_interactions="estimator: exact, budget: null")
    with pytest.raises(ConfigError, match="different estimators"):
        run_study(cfg)
    assert not (tmp_path / "study" / "probe").exists()


def test_the_long_sentences_config_validates_as_a_sparse_study_of_20_word_sentences(capsys):
    """configs/sst2_minilm/study_long_sentences.yaml parses into a plan whose every check before work passes
    (sample set, sparse options for n = 20, regime files), without running anything."""
    from harsanyi_lightning.study.run.plan import StudyPlan
    from tests.shared_data import ROOT
    from tests.study.test_study_options import study_parser
    from tests.study.test_study_overrides import printed_config

    parser = study_parser()
    config = printed_config(capsys, ["--config", str(ROOT / "configs" / "sst2_minilm" / "study_long_sentences.yaml")])
    study = parser.instantiate_classes(parser.parse_object(config))
    plan = StudyPlan(study_dir=Path(study.study_dir), regimes=dict(study.regimes), shared=study.shared,
                     sample_set=study.sample_set, interactions=study.interactions)
    plan.check()
    assert (plan.sample_set.n, plan.sample_set.num_samples, plan.sample_set.max_variables) == (20, 8, 62)
    for regime in REGIMES:
        spec = plan.regime_interactions(regime)
        assert (spec.estimator, spec.budget) == ("sparse", 1024)
    assert plan.regime_interactions("finetune").at_steps == [50]


def test_a_sparse_study_with_two_seeds_pools_both_runs_slot_tables(tmp_path):
    """Each seed's run has its own slot layout (its own recovered subsets); the report pools the runs' samples
    (narrower tables padded with zero dividends) and its numbers equal those recomputed on every run's own table."""
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study", words=8,
                           interactions="estimator: sparse, budget: 120, max_order: 3")
    cli_args = ["study", "--config", str(cfg), "--seeds", "[0, 1]"]
    from harsanyi_lightning import cli

    cli.main(cli_args)
    num = json.loads((tmp_path / "study" / "report" / "report.json").read_text())
    assert num["seeds"] == [0, 1] and num["estimator"] == "sparse" and num["num_samples"] == 3
    parts = {s: [] for s in REGIMES}
    for seed in (0, 1):
        for s in REGIMES:
            parts[s].append(final_content(tmp_path / "study" / f"seed_{seed}", s))
    preserve, pretrain, widths = 0.0, 0.0, set()
    for seed in (0, 1):
        slots = slot_tables([(parts[s][seed]["sparse_masks"], parts[s][seed]["sparse_dividends"]) for s in REGIMES], 8)
        widths.add(slots.masks.shape[1])
        k = knowledge_by_order(slots.tables[0], slots.tables[1], slots.orders, 8)
        preserve += float(k["preserve"][1:].sum()) / 2  # the same number of samples in each run: mean of the means
        pretrain += float(k["pretrain"][1:].sum()) / 2
    assert num["knowledge_totals"]["preserve"] == pytest.approx(preserve, rel=1e-9)
    assert num["knowledge_totals"]["pretrain"] == pytest.approx(pretrain, rel=1e-9)
    assert len(num["r2_heldout"]["finetune"]) == len(num["evaluations"]["finetune"])
    assert len(widths) == 2  # the runs' tables differ in width: the pooling padded one
