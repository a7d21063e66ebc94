"""A study with fine-tuning methods side by side (docs/study.md#regimes-side-by-side, docs/method.md#fine-tuning-methods):
the tiny study with LoRA at three ranks and partial fine-tuning beside the paper's three regimes, killed inside a
LoRA regime and resumed by the same command; its report compared with an uninterrupted run and recomputed
independently from the stored artifacts."""
from __future__ import annotations

import json
import math
import signal
from itertools import combinations
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.study.report.figures import figure_trade_off
from harsanyi_lightning.study.report.numbers import compute_study
from harsanyi_lightning.study.report.verdicts import verdict
from tests.reliability.harness import assert_same, cli_env, run_cli, run_in_process, snapshot
from tests.tiny_study import write_tiny_study

pytestmark = pytest.mark.slow

LR = "optimizer: {init_args: {lr: 0.01}}"
MORE = {
    "lora_r1": ("lora", f"{{model: {{init_args: {{rank: 1, {LR}}}}}}}"),
    "lora_r2": ("lora", f"{{model: {{init_args: {{rank: 2, {LR}}}}}}}"),
    "lora_r4": ("lora", f"{{model: {{init_args: {{rank: 4, {LR}}}}}}}"),
    "partial": ("partial", "{model: {init_args: {frozen_layers: 1}}}"),
}
KINDS = {"probe": "probe", "finetune": "finetune", "lora_r1": "lora", "lora_r2": "lora", "lora_r4": "lora",
         "partial": "partial", "scratch": "scratch"}


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> dict:
    """The regime study run once uninterrupted (in this process), and once SIGKILLed in the second training epoch
    of ``lora_r2`` then run again with the same command."""
    root = tmp_path_factory.mktemp("regime_study")
    reference = write_tiny_study(root / "reference_configs", root / "reference", more_regimes=MORE)
    rc, out, err = run_in_process("study", "--config", str(reference))
    assert rc == 0, out[-2000:] + err[-3000:]
    marker = root / "marker"
    kill = dict(marker=str(marker), regime="lora_r2", at="train", epoch=1, batch=0)
    faulty = write_tiny_study(root / "faulty_configs", root / "faulty", kill, more_regimes=MORE)
    first = run_cli("study", "--config", str(faulty), env=cli_env())
    rc, second, err = run_in_process("study", "--config", str(faulty))
    assert rc == 0, second[-2000:] + err[-3000:]
    return {"reference": root / "reference", "faulty": root / "faulty", "first": first, "second": second,
            "marker": marker}


def report(study: Path) -> dict:
    return json.loads((study / "report" / "report.json").read_text())


def test_killed_inside_a_lora_regime_it_resumes_to_the_uninterrupted_result(studies):
    first, second, faulty = studies["first"], studies["second"], studies["faulty"]
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    assert "killed in training epoch 1" in studies["marker"].read_text()
    assert "lora_r1: complete, skipped" in second
    ckpt = faulty / "lora_r2" / "checkpoints" / "last.ckpt"
    assert f"lora_r2 -> {faulty / 'lora_r2'} (resuming from {ckpt})" in second
    assert_same(snapshot(faulty), snapshot(studies["reference"]))


def test_the_report_lists_every_regime_with_its_kind_numbers_and_update_ranks(studies):
    got = report(studies["faulty"])
    assert {name: r["kind"] for name, r in got["regimes"].items()} == KINDS
    order = sorted(got["regimes"], key=lambda name: got["regimes"][name]["order"])
    assert order == ["probe", "finetune", "lora_r1", "lora_r2", "lora_r4", "partial", "scratch"]
    comparison = got["trade_off"]
    assert set(comparison) == set(KINDS) - {"probe"}
    for name, row in comparison.items():
        for reading in ("dense", "salient"):
            for number in ("forgetting", "learning"):
                iv = row[number][reading]
                assert math.isfinite(iv["estimate"]) and iv["ci"][0] <= iv["estimate"] <= iv["ci"][1], (name, number)
        if row["role"] == "finetune":
            assert set(row["update_ranks"]) == {"attention.query", "attention.key", "attention.value",
                                                "attention.output", "mlp.intermediate", "mlp.output"}
            assert "ratio" in row and row["ratio"]["dense"]["estimate"] >= 0
        else:
            assert row["update_ranks"] is None  # scratch: no update from the pre-trained weights
    for name in ("lora_r1", "lora_r2", "lora_r4"):
        rank = comparison[name]["options"]["rank"]
        assert all(r <= rank for r in comparison[name]["update_ranks"].values()), name  # a rank-r adapter
    assert comparison["partial"]["options"] == {"frozen_layers": 1}
    # the trade-off figure (the report's figures are off here; docs/method.md#fine-tuning-methods): a point with
    # whiskers per trained regime in each reading's plane and in accuracy against forgetting, each named
    for ax in figure_trade_off(compute_study(studies["faulty"])).axes:
        assert {t.get_text() for t in ax.texts} == set(KINDS) - {"probe"}, ax.get_title()
        assert len(ax.containers) == len(KINDS) - 1, ax.get_title()  # one errorbar per regime
    assert "## Regimes side by side" in (studies["faulty"] / "report" / "report.md").read_text()


def test_the_paired_findings_have_intervals_and_verdicts_that_follow_from_them(studies):
    got = report(studies["faulty"])
    found = got["regime_findings"]
    ids = [(f["id"], f["reading"], tuple(f["needs"])) for f in found]
    for lora in ("lora_r1", "lora_r2", "lora_r4"):
        for reading in ("dense", "salient"):
            assert ("lora_forgets_less", reading, (lora, "finetune")) in ids
            assert ("lora_learns_less", reading, (lora, "finetune")) in ids
        assert ("lora_learns_less", "outputs", (lora, "finetune")) in ids  # its accuracy part
    assert ("forgetting_grows_with_rank", "dense", ("lora_r1", "lora_r2", "lora_r4")) in ids
    assert got["regime_findings_left_out"] == []
    for f in found:
        low, high = f["ci"]
        assert low <= f["estimate"] <= high, f
        if f["verdict"] != "not measurable":
            assert f["verdict"] == verdict(low, high, f["threshold"], f["direction"]), f
    # the paired difference is the difference of the two regimes' numbers
    comparison = got["trade_off"]
    for f in found:
        if f["id"] == "lora_forgets_less":
            lora, full = f["needs"]
            want = comparison[lora]["forgetting"][f["reading"]]["estimate"] - comparison[full]["forgetting"][f["reading"]]["estimate"]
            assert f["estimate"] == pytest.approx(want, abs=1e-12)
    # the paper's fine-tuned model gets the paper comparison's own numbers and intervals (the same resamples)
    paper = got["intervals"]["dense/discard_over_preserve"]
    assert comparison["finetune"]["forgetting"]["dense"] == paper


def _order_means(table: torch.Tensor, n: int) -> torch.Tensor:
    """``means[sample, k - 1]``: the mean over the subsets of order k of ``table[sample, mask]`` (plain loops)."""
    out = torch.zeros(table.shape[0], n, dtype=torch.float64)
    for k in range(1, n + 1):
        masks = [sum(1 << i for i in c) for c in combinations(range(n), k)]
        out[:, k - 1] = table[:, masks].mean(dim=1)
    return out


def _salient(d: torch.Tensor) -> torch.Tensor:
    """Each sample's dividends with |I(S)| <= 0.05 max_{S != empty} |I(S)| set to 0 (the empty set kept)."""
    out = d.clone()
    for s in range(d.shape[0]):
        tau = 0.05 * d[s, 1:].abs().max()
        for m in range(1, d.shape[1]):
            if abs(d[s, m]) <= tau:
                out[s, m] = 0.0
    return out


def test_an_independent_recomputation_gives_each_regimes_forgetting_and_learning(studies):
    """Discarded / preserved and new / preserved of every regime from its final artifact and the probe's, by the
    formulas of docs/method.md#knowledge-metrics written out here, equal the report's to 1e-6."""
    study = studies["faulty"]
    got = report(study)

    def final(regime: str) -> torch.Tensor:
        summary = json.loads((study / regime / "summary.json").read_text())
        return load_artifact(study / regime / summary["final_artifact"], "interactions")[0]["dividends"]

    a_dense = final("probe")
    n = a_dense.shape[1].bit_length() - 1
    for name, row in got["trade_off"].items():
        for reading, view in (("dense", lambda d: d), ("salient", _salient)):
            a, b = view(a_dense), view(final(name))
            preserve = torch.where(a * b > 0, torch.minimum(a.abs(), b.abs()), torch.zeros_like(a))
            discard, new = a.abs() - preserve, b.abs() - preserve
            total = {k: float(_order_means(v, n).mean(dim=0).sum()) for k, v in
                     (("preserve", preserve), ("discard", discard), ("new", new))}
            assert row["forgetting"][reading]["estimate"] == pytest.approx(total["discard"] / total["preserve"],
                                                                           rel=1e-6, abs=1e-9), (name, reading)
            assert row["learning"][reading]["estimate"] == pytest.approx(total["new"] / total["preserve"],
                                                                         rel=1e-6, abs=1e-9), (name, reading)
