"""The study report: the paper's figures and numbers, computed from a study's stored artifacts.

:func:`compute_study` reads the final interaction artifacts of probe
(``v_pretrain``), finetune (``v_finetune``) and scratch (``v_random``), every
stored epoch of finetune and scratch, the stage summaries (accuracies) and
the TensorBoard event files (losses), and computes every number with
:mod:`harsanyi_lightning.interactions.metrics` (SPEC section 4). :func:`write_report` writes
``<study_dir>/report/``: ``knowledge_by_order.png`` (Fig. 2), ``ratio.png``
(Fig. 3), ``jaccard.png`` (Fig. 4), ``loss.png`` (Fig. 5), ``samples.png``,
``report.md`` (Table 1, the totals behind each figure, observations measured
and compared with SPEC section 5), ``report.json`` (the same numbers at full
precision) and ``tb/`` (the figures for TensorBoard). :func:`write_summary`
puts several studies in one table (the paper's grid).

Losses are read with tensorboard's ``EventAccumulator`` from
``<study_dir>/<stage>/tb`` (tags ``train/loss`` and ``val/loss``, or their
``_epoch`` forms), one value per training epoch, mapped to epochs with the
``epoch`` scalar Lightning logs beside them.
"""
from __future__ import annotations

import io
import math
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from harsanyi_lightning.interactions import (  # noqa: E402
    AnnotatedSampleSet,
    knowledge_by_order,
    knowledge_totals,
    load_artifact,
    mask_to_variables,
    mean_jaccard,
    preserved_ratio,
    salient_mask,
    shapley_values,
    subset_orders,
)
from harsanyi_lightning.interactions.artifacts import atomic_write_bytes, errno_name, probe_writable, write_error  # noqa: E402
from harsanyi_lightning.interactions.errors import ConfigError, DataError  # noqa: E402

from . import two_phase as _two_phase  # noqa: E402
from .findings import JACCARD_LEVEL, PAPER_RATIO_RANGE, paper_findings, verdict_counts  # noqa: E402
from .layout import ANNOTATION, STAGES, check_study, epoch_files, final_artifact, read_json, summary_path, tb_dir, write_json  # noqa: E402

FIGURES = ("knowledge_by_order", "ratio", "jaccard", "loss", "samples", "two_phase")
COLORS = {"preserve": "#2ca02c", "discard": "#7f7f7f", "new": "#1f77b4", "probe": "#9467bd", "finetune": "#1f77b4",
          "scratch": "#d62728"}


# ------------------------------------------------------------------ reading


def load_dividends(path: str | os.PathLike) -> tuple[Tensor, dict]:
    """``dividends[sample, mask]`` (float64) of one interaction artifact, and its content."""
    content, _ = load_artifact(path, "interactions")
    return content["dividends"].to(torch.float64), content


def read_losses(log_dir: str | os.PathLike) -> dict[str, dict[int, float]]:
    """``{"train": {epoch: loss}, "val": {epoch: loss}}`` from a stage's TensorBoard events.

    ``epoch`` counts training epochs done (1 = after the first epoch), the
    axis of the interaction artifacts. For a resumed run the last value
    logged for an epoch wins."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags().get("scalars", []))
    step_epoch: dict[int, int] = {}
    if "epoch" in tags:
        for ev in acc.Scalars("epoch"):
            step_epoch[ev.step] = int(round(ev.value))
    out: dict[str, dict[int, float]] = {}
    for split in ("train", "val"):
        tag = next((t for t in (f"{split}/loss_epoch", f"{split}/loss") if t in tags), None)
        series: dict[int, float] = {}
        if tag is not None:
            for i, ev in enumerate(acc.Scalars(tag)):
                epoch = step_epoch.get(ev.step, i)
                series[epoch + 1] = float(ev.value)
        out[split] = dict(sorted(series.items()))
    return out


def _ratio_by_order(a: Tensor, b: Tensor, c: Tensor) -> dict[str, list[float]]:
    """Both forms of eq. 8 restricted to the subsets of each order ``1..n``: the
    pretrain dividends of other orders are zeroed, so ``K_preserve = 0`` there and
    :func:`preserved_ratio` leaves them out."""
    n = a.shape[1].bit_length() - 1
    orders = subset_orders(n)
    out: dict[str, list[float]] = {"ratio": [], "ratio_weighted": []}
    for i in range(1, n + 1):
        keep = (orders == i).to(a.dtype)
        r = preserved_ratio(a * keep, b, c)
        out["ratio"].append(r["ratio"])
        out["ratio_weighted"].append(r["ratio_weighted"])
    return out


def _first_at_least(curve: dict[int, float], level: float) -> int | None:
    return next((e for e, j in sorted(curve.items()) if j >= level), None)


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(v: Sequence[float]) -> Tensor:
        t = torch.tensor(list(v), dtype=torch.float64)
        r = torch.empty_like(t)
        order = torch.argsort(t)
        r[order] = torch.arange(len(t), dtype=torch.float64)
        for val in t.unique():  # average ties
            sel = t == val
            r[sel] = r[sel].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float((rx.square().sum() * ry.square().sum()).sqrt())
    return float((rx * ry).sum()) / den if den > 0 else float("nan")


def _safe_div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def compute_study(study_dir: str | os.PathLike) -> dict[str, Any]:
    """Every number of the report, computed from the stored artifacts (SPEC section 4).

    Raises :class:`DataError` naming what is missing when ``study_dir`` is not a
    complete study."""
    study_dir = Path(study_dir)
    manifest = check_study(study_dir)
    summaries = {s: read_json(summary_path(study_dir, s)) for s in STAGES}
    finals = {s: load_dividends(final_artifact(study_dir, s))[0] for s in STAGES}
    a, b, c = finals["probe"], finals["finetune"], finals["scratch"]
    if not (a.shape == b.shape == c.shape):
        raise DataError(f"the final artifacts of {study_dir} have different shapes {a.shape}, {b.shape}, {c.shape}")
    n = a.shape[1].bit_length() - 1
    by_order = {k: v[1:].tolist() for k, v in knowledge_by_order(a, b).items()}
    totals = knowledge_totals(knowledge_by_order(a, b))
    ratio = preserved_ratio(a, b, c)
    ratio_order = _ratio_by_order(a, b, c)
    # how much of the scratch model's knowledge the pretrained one also has (symmetry check of the story)
    scratch_split = {k: v[1:].tolist() for k, v in knowledge_by_order(a, c).items()}

    jaccard: dict[str, dict[int, float]] = {}
    # two-phase view (SPEC section 7): strength[source][stage][epoch], one artifact in memory at a time
    strengths: dict[str, dict[str, dict[int, Any]]] = {src: {} for src in _two_phase.SOURCES}
    for s in ("finetune", "scratch", "probe"):
        files = epoch_files(study_dir, s)
        final_e = summaries[s].get("final_epoch", max(files) if files else None)
        curve = {}
        for e, p in files.items():
            if final_e is not None and e > final_e:
                continue
            dividends, content = load_dividends(p)
            curve[e] = mean_jaccard(dividends, finals[s])
            if s in _two_phase.STAGES:
                for src in _two_phase.SOURCES:
                    strengths[src].setdefault(s, {})[e] = _two_phase.epoch_strength(content, src)
        jaccard[s] = curve
    losses = {s: read_losses(tb_dir(study_dir, s)) for s in STAGES}
    for s in ("finetune", "scratch"):
        if not losses[s]["train"] and not losses[s]["val"]:
            raise DataError(
                f"no train/loss or val/loss scalars in {tb_dir(study_dir, s)}; the stage's TensorBoard logs are "
                "missing or empty: delete the stage's summary.json and rerun the study"
            )

    def share(key: str, of: str) -> list[float]:
        return [_safe_div(x, y) for x, y in zip(by_order[key], by_order[of])]

    discard_share, new_share = share("discard", "pretrain"), share("new", "finetune")
    high = [i for i in range(1, n + 1) if i > n / 2]
    new_high_share = _safe_div(sum(by_order["new"][i - 1] for i in high), totals["new"])
    anno = AnnotatedSampleSet.load(study_dir / ANNOTATION)
    numbers: dict[str, Any] = {
        "study_dir": str(study_dir),
        "model": manifest.get("model") or summaries["finetune"].get("model"),
        "data": manifest.get("data") or summaries["finetune"].get("dataset"),
        "n": n,
        "num_samples": int(a.shape[0]),
        "annotation_hash": anno.hash,
        "accuracy": {s: {"val": summaries[s].get("val_acc"), "test": summaries[s].get("test_acc")} for s in STAGES},
        "final_epoch": {s: summaries[s].get("final_epoch") for s in STAGES},
        "knowledge_by_order": by_order,
        "knowledge_totals": totals,
        "discard_over_preserve": {
            "overall": _safe_div(totals["discard"], totals["preserve"]),
            "by_order": [_safe_div(d, p) for d, p in zip(by_order["discard"], by_order["preserve"])],
        },
        "new_over_preserve": _safe_div(totals["new"], totals["preserve"]),
        "discard_share_by_order": discard_share,
        "new_share_by_order": new_share,
        "discard_share_vs_order_spearman": _spearman(range(1, n + 1), discard_share),
        "new_high_order_share": new_high_share,
        "ratio": ratio,
        "ratio_by_order": ratio_order,
        "scratch_vs_pretrain": {k: sum(v) for k, v in scratch_split.items()},
        "strength_total": {"probe": totals["pretrain"], "finetune": totals["finetune"],
                           "scratch": sum(scratch_split["finetune"])},
        "jaccard": {s: {str(e): j for e, j in curve.items()} for s, curve in jaccard.items()},
        "jaccard_first_at_level": {s: _first_at_least(jaccard[s], JACCARD_LEVEL) for s in ("finetune", "scratch")},
        "jaccard_drops": {s: sum(1 for x, y in zip(list(c.values()), list(c.values())[1:]) if y < x)
                          for s, c in jaccard.items()},
        "loss": {s: {k: {str(e): v for e, v in d.items()} for k, d in losses[s].items()} for s in STAGES},
    }
    top = max(numbers["strength_total"].values())
    numbers["strength_share"] = {s: _safe_div(v, top) for s, v in numbers["strength_total"].items()}
    numbers["weak_models"] = weak_models(numbers)
    numbers["two_phase"] = _two_phase.compute_two_phase(strengths, n, numbers["weak_models"])
    numbers["two_phase_rule"] = _two_phase.RULE
    found = paper_findings(numbers, numbers["weak_models"])
    numbers["findings"] = [f.as_dict() for f in found]
    numbers["findings_verdicts"] = verdict_counts(found)
    return numbers


# ------------------------------------------------------------------ figures


def _fig_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def figure_knowledge_by_order(num: dict[str, Any]):
    """Paper Fig. 2: per order, preserved / discarded / new knowledge ``K^(i)`` (SPEC section 4)."""
    k = num["knowledge_by_order"]
    n = num["n"]
    x = torch.arange(1, n + 1).numpy()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.2))
    w = 0.27
    for j, key in enumerate(("preserve", "discard", "new")):
        ax.bar(x + (j - 1) * w, k[key], w, label={"preserve": "preserved", "discard": "discarded", "new": "new"}[key],
               color=COLORS[key])
    ax.set_xticks(x)
    ax.set_xlabel("order |S|")
    ax.set_ylabel("K$^{(i)}$ = E$_x$ E$_{|S|=i}$ K(S|x)")
    ax.set_title("Knowledge by order: probe (pre-trained) -> fine-tuned")
    ax.legend()
    ax2.plot(x, [100 * v for v in num["discard_share_by_order"]], "o-", color=COLORS["discard"],
             label="discarded / pre-trained")
    ax2.plot(x, [100 * v for v in num["new_share_by_order"]], "s-", color=COLORS["new"], label="new / fine-tuned")
    ax2.set_xticks(x)
    ax2.set_ylim(0, 105)
    ax2.set_xlabel("order |S|")
    ax2.set_ylabel("share of the order's knowledge (%)")
    ax2.set_title("Share discarded and share new, per order")
    ax2.legend()
    fig.suptitle(f"{_title(num)}: {num['num_samples']} samples, n = {n}", fontsize=10)
    fig.tight_layout()
    return fig


def weak_models(num: dict[str, Any]) -> list[str]:
    """Stages whose interactions are under 1% of the strongest model's (near-constant output)."""
    st = num["strength_total"]
    top = max(st.values())
    return [s for s in STAGES if top > 0 and st[s] < 0.01 * top]


def _weak_note(ax, num: dict[str, Any]) -> None:
    weak = weak_models(num)
    if weak:
        ax.text(0.5, 0.5, "caution: " + ", ".join(weak) + " has <1% of the strongest model's interaction strength\n"
                "(near-constant output): these curves show numerical noise, not knowledge", transform=ax.transAxes,
                ha="center", va="center", fontsize=8, color="0.3", bbox=dict(fc="white", ec="0.6", alpha=0.9))


def figure_ratio(num: dict[str, Any]):
    """Paper Fig. 3: share of the preserved knowledge that the scratch model also learns (eq. 8), both forms."""
    n = num["n"]
    x = torch.arange(1, n + 1).numpy()
    r = num["ratio_by_order"]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    w = 0.38
    ax.bar(x - w / 2, [100 * v for v in r["ratio"]], w, color="#ff7f0e", label="Ratio (mean over S, paper)")
    ax.bar(x + w / 2, [100 * v for v in r["ratio_weighted"]], w, color="#8c564b", label="Ratio, strength-weighted")
    ax.axhline(100 * num["ratio"]["ratio"], color="#ff7f0e", ls="--",
               label=f"overall Ratio = {100 * num['ratio']['ratio']:.1f}%")
    ax.axhline(100 * num["ratio"]["ratio_weighted"], color="#8c564b", ls=":",
               label=f"overall weighted = {100 * num['ratio']['ratio_weighted']:.1f}%")
    lo, hi = PAPER_RATIO_RANGE
    ax.axhspan(100 * lo, 100 * hi, color="0.9", zorder=0, label="paper's range 13-45%")
    ax.set_xticks(x)
    ax.set_ylim(0, 100)
    ax.set_xlabel("order |S|")
    ax.set_ylabel("preserved knowledge also learned from scratch (%)")
    ax.set_title(f"{_title(num)}: preserved knowledge learned from scratch (eq. 8)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    _weak_note(ax, num)
    fig.tight_layout()
    return fig


def figure_jaccard(num: dict[str, Any]):
    """Paper Fig. 4: Jaccard similarity of each epoch's interactions with the final epoch's."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for s in ("finetune", "scratch"):
        curve = {int(e): j for e, j in num["jaccard"][s].items()}
        ax.plot(list(curve), list(curve.values()), "o-", color=COLORS[s], label=s)
    ax.axhline(JACCARD_LEVEL, color="0.6", ls="--", lw=1, label=f"J = {JACCARD_LEVEL}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epoch (0 = before training)")
    ax.set_ylabel("Jaccard(epoch, final)")
    ax.set_title(f"{_title(num)}: how directly each model learns (eq. 9)")
    ax.legend()
    if any(s in weak_models(num) for s in ("finetune", "scratch")):
        _weak_note(ax, num)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def figure_loss(num: dict[str, Any]):
    """Paper Fig. 5: training and validation loss per epoch, finetune against scratch (probe for reference)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, split in zip(axes, ("train", "val")):
        for s in ("finetune", "scratch", "probe"):
            series = {int(e): v for e, v in num["loss"][s][split].items()}
            if series:
                ax.plot(list(series), list(series.values()), "o-" if s != "probe" else "o:", color=COLORS[s],
                        label=s, alpha=1.0 if s != "probe" else 0.6)
        ax.set_xlabel("epochs trained")
        ax.set_ylabel(f"{split} loss (cross-entropy)")
        ax.set_title(f"{split} loss")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    fig.suptitle(_title(num), fontsize=10)
    fig.tight_layout()
    return fig


def _top_interactions(div: Tensor, k: int) -> list[tuple[int, float]]:
    """The ``k`` strongest salient interactions of one sample, ``[(mask, I)]``."""
    sal = salient_mask(div[None])[0]
    idx = torch.nonzero(sal).flatten()
    if idx.numel() == 0:
        return []
    order = torch.argsort(div[idx].abs(), descending=True)[:k]
    return [(int(idx[o]), float(div[idx[o]])) for o in order]


def figure_samples(study_dir: str | os.PathLike, num_samples: int = 4, top: int = 3):
    """The strongest salient interactions of a few samples, for each model, drawn on the input:
    marked words (text) or highlighted patches (image); red = positive, blue = negative, opacity = strength.
    Beside them, each model's exact Shapley value of every word or patch (SPEC section 7, from the
    stored dividends: ``φ_i = Σ_{S∋i} I(S)/|S|``), in the same colours."""
    study_dir = Path(study_dir)
    anno = AnnotatedSampleSet.load(study_dir / ANNOTATION)
    finals = {s: load_dividends(final_artifact(study_dir, s))[0] for s in STAGES}
    picks = list(range(min(num_samples, len(anno))))
    if anno.kind == "image":
        return _samples_image(anno, finals, picks, top=2)
    return _samples_text(anno, finals, picks, top)


def _variable_names(anno: AnnotatedSampleSet, i: int) -> list[str]:
    words = anno.meta.get("words")
    if words is not None:
        return list(words[i])
    return [f"x{j}" for j in range(anno.n)]


def _shade(value: float, scale: float) -> dict:
    color = (0.84, 0.15, 0.16) if value > 0 else (0.12, 0.47, 0.71)
    return dict(boxstyle="round,pad=0.15", fc=color, alpha=0.1 + 0.8 * min(abs(value) / scale, 1.0), ec="none")


def _samples_text(anno, finals, picks, top):
    shapley = {s: torch.nan_to_num(shapley_values(finals[s])) for s in STAGES}  # skipped rows: 0
    lines_per = 1 + len(STAGES) * (top + 1)
    height = 0.26 * (lines_per * len(picks) + len(picks)) + 0.6
    fig = plt.figure(figsize=(13, height))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    total_lines = lines_per * len(picks) + len(picks)
    dy = 1.0 / (total_lines + 1)
    y = 1 - dy
    char = 0.0068  # monospace character width in axes units at this figure width
    for i in picks:
        words = _variable_names(anno, i)
        v_full = {s: float(finals[s][i].sum()) for s in STAGES}
        ax.text(0.005, y, f"sample {i} (label {int(anno.labels[i])}):  v(x): "
                + ", ".join(f"{s} {v:+.2f}" for s, v in v_full.items()), fontsize=9, fontweight="bold",
                va="center", family="monospace")
        y -= dy
        for s in STAGES:
            phi = shapley[s][i].tolist()
            phi_scale = max((abs(v) for v in phi), default=1.0) or 1.0
            ax.text(0.005, y, f"{s:>8} φ  max|φ|={phi_scale:<8.3g}", fontsize=8.5, va="center",
                    family="monospace", color=COLORS[s])
            x = 0.005 + 30 * char
            for j, w in enumerate(words):
                ax.text(x, y, w, fontsize=8.5, va="center", family="monospace", bbox=_shade(phi[j], phi_scale))
                x += (len(w) + 1) * char
            y -= dy
            tops = _top_interactions(finals[s][i], top)
            scale = max((abs(v) for _, v in tops), default=1.0) or 1.0
            for rank in range(top):
                if rank < len(tops):
                    mask, val = tops[rank]
                    members = set(mask_to_variables(mask))
                    ax.text(0.005, y, f"{s:>8} I={val:+9.3g} |S|={len(members):<2}", fontsize=8.5, va="center",
                            family="monospace", color=COLORS[s])
                    x = 0.005 + 30 * char
                    for j, w in enumerate(words):
                        kw = {}
                        if j in members:
                            color = (0.84, 0.15, 0.16) if val > 0 else (0.12, 0.47, 0.71)
                            kw["bbox"] = dict(boxstyle="round,pad=0.15", fc=color,
                                              alpha=0.25 + 0.65 * abs(val) / scale, ec="none")
                        ax.text(x, y, w, fontsize=8.5, va="center", family="monospace", **kw)
                        x += (len(w) + 1) * char
                y -= dy
        y -= dy
    ax.set_title("each final model's Shapley value per word (φ), then its strongest salient interactions "
                 "(|I| > 0.05 max|I|); red: > 0, blue: < 0, opacity: strength", fontsize=9)
    return fig


def _samples_image(anno, finals, picks, top):
    rows, cols = anno.grid  # the sample set's own patch grid (the paper: 8x8 of 28x28 on 224x224)
    height, width = anno.inputs["pixels"].shape[-2:]
    ph, pw = height // rows, width // cols

    def box(p, **kw):
        return plt.Rectangle(((p % cols) * pw, (p // cols) * ph), pw, ph, **kw)

    shapley = {s: torch.nan_to_num(shapley_values(finals[s])) for s in STAGES}  # skipped rows: 0
    ncols = 1 + len(STAGES) * (top + 1)
    fig, axes = plt.subplots(len(picks), ncols, figsize=(1.9 * ncols, 2.0 * len(picks)), squeeze=False)
    for r, i in enumerate(picks):
        img = anno.inputs["pixels"][i].float()
        img = (img - img.min()) / (img.max() - img.min() + 1e-12)
        # RGB as it is; any other channel count as its grey mean
        img = img.permute(1, 2, 0).numpy() if img.shape[0] == 3 else img.mean(dim=0).numpy()
        show = {} if img.ndim == 3 else {"cmap": "gray", "vmin": 0, "vmax": 1}
        units = anno.unit_variable[i]
        var_patch = {int(units[p]): p for p in range(rows * cols) if int(units[p]) >= 0}
        ax = axes[r][0]
        ax.imshow(img, **show)
        for p in var_patch.values():
            ax.add_patch(box(p, fill=False, ec="yellow", lw=0.8))
        ax.set_title(f"sample {i}, label {int(anno.labels[i])}", fontsize=7)
        col = 1
        for s in STAGES:
            phi = shapley[s][i].tolist()
            phi_scale = max((abs(v) for v in phi), default=1.0) or 1.0
            ax = axes[r][col]
            col += 1
            ax.imshow(img * 0.6, **show)
            for j, p in var_patch.items():
                ax.add_patch(box(p, color="red" if phi[j] > 0 else "blue", alpha=0.1 + 0.8 * abs(phi[j]) / phi_scale))
            ax.set_title(f"{s} Shapley φ", fontsize=7, color=COLORS[s])
            tops = _top_interactions(finals[s][i], top)
            scale = max((abs(v) for _, v in tops), default=1.0) or 1.0
            for rank in range(top):
                ax = axes[r][col]
                col += 1
                ax.imshow(img * 0.6, **show)
                if rank < len(tops):
                    mask, val = tops[rank]
                    color = "red" if val > 0 else "blue"
                    for j in mask_to_variables(mask):
                        p = var_patch.get(j)
                        if p is None:
                            continue
                        ax.add_patch(box(p, color=color, alpha=0.3 + 0.6 * abs(val) / scale))
                    ax.set_title(f"{s} I={val:+.3g}", fontsize=7, color=COLORS[s])
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle("each final model's Shapley value per patch, then its strongest salient interactions "
                 "(red: > 0, blue: < 0)", fontsize=9)
    fig.tight_layout()
    return fig


def _title(num: dict[str, Any]) -> str:
    parts = [p for p in (num.get("model"), num.get("data")) if p]
    return " / ".join(parts) if parts else Path(num["study_dir"]).name


# ------------------------------------------------------------------ text


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _f(x: float | None, fmt: str = ".4g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def observations(num: dict[str, Any]) -> list[str]:
    """What the findings table does not say: interaction strength of each model, and the caution when a
    model is near-constant (its Ratio and Jaccard numbers would measure noise)."""
    st, share = num["strength_total"], num["strength_share"]
    line = ("Interaction strength (sum over orders of the mean |I(S)|): "
            + ", ".join(f"{s} {_f(st[s], '.3g')} ({_pct(share[s])} of the strongest)" for s in STAGES) + ".")
    weak = num["weak_models"]
    if weak:
        line += (" " + " and ".join(weak) + f" {'has' if len(weak) == 1 else 'have'} less than 1% of the strongest "
                 "model's interactions: its output hardly depends on the input variables (a near-constant "
                 "predictor that has not learned the task), so the Ratio and Jaccard numbers involving it measure "
                 "numerical noise rather than knowledge; train it longer or with another learning rate.")
    out = [line]
    out.append(f"The final epoch's Jaccard is 1 by definition (finetune: epoch {num['final_epoch']['finetune']}, "
               f"scratch: epoch {num['final_epoch']['scratch']}), so the curves are read at the epochs before it.")
    return out


def findings_markdown(num: dict[str, Any]) -> list[str]:
    """The table of SPEC section 5's findings: the paper's claim, the measured numbers, the verdict."""
    counts = num["findings_verdicts"]
    lines = [", ".join(f"{k}: {v}" for k, v in counts.items() if v) + f" (of {len(num['findings'])}).", "",
             "| finding (paper) | measured here | verdict |", "|---|---|---|"]
    for f in num["findings"]:
        lines.append(f"| {f['paper']} | {f['measured']} | **{f['verdict']}** |")
    lines += ["", "Verdict rules: " + "; ".join(f"*{f['key']}*: {f['rule']}" for f in num["findings"]) + "."]
    return lines


def render_markdown(num: dict[str, Any]) -> str:
    """``report.md``: Table 1, the totals behind each figure, and the observations."""
    n = num["n"]
    k = num["knowledge_by_order"]
    L = [f"# Study report: {_title(num)}", ""]
    L.append(f"Study folder `{num['study_dir']}`; {num['num_samples']} annotated samples, n = {n} input variables, "
             f"annotation {num['annotation_hash'][:12]}. Every number below is computed from the stored interaction "
             "artifacts (final epochs of probe = v_pretrain, finetune = v_finetune, scratch = v_random) with "
             "`harsanyi_lightning.interactions.metrics` (SPEC section 4); K^(i) averages over all subsets of order i, totals sum "
             "orders 1..n.")
    L += ["", "## The paper's findings (SPEC section 5), measured", ""]
    L += findings_markdown(num)
    L += ["", "## Other observations", ""]
    L += [f"- {o}" for o in observations(num)]
    L += ["", "## Table 1: accuracy", "", "| model | final epoch | val acc | test acc |", "|---|---|---|---|"]
    for s in STAGES:
        a = num["accuracy"][s]
        L.append(f"| {s} | {num['final_epoch'][s]} | {_pct(a['val'])} | {_pct(a['test'])} |")
    L += ["", "## Knowledge by order (knowledge_by_order.png, paper Fig. 2)", "",
          "| order | K_pretrain | K_preserve | K_discard | K_new | K_finetune | discard/preserve | discarded share | "
          "new share |", "|---|---|---|---|---|---|---|---|---|"]
    for i in range(n):
        L.append(f"| {i + 1} | {_f(k['pretrain'][i])} | {_f(k['preserve'][i])} | {_f(k['discard'][i])} | "
                 f"{_f(k['new'][i])} | {_f(k['finetune'][i])} | {_f(num['discard_over_preserve']['by_order'][i], '.3g')} "
                 f"| {_pct(num['discard_share_by_order'][i])} | {_pct(num['new_share_by_order'][i])} |")
    t = num["knowledge_totals"]
    L.append(f"| total | {_f(t['pretrain'])} | {_f(t['preserve'])} | {_f(t['discard'])} | {_f(t['new'])} | "
             f"{_f(t['finetune'])} | {_f(num['discard_over_preserve']['overall'], '.3g')} | "
             f"{_pct(_safe_div(t['discard'], t['pretrain']))} | {_pct(_safe_div(t['new'], t['finetune']))} |")
    r = num["ratio_by_order"]
    L += ["", "## Ratio of preserved knowledge learned from scratch (ratio.png, paper Fig. 3)", "",
          f"Overall: Ratio = {_pct(num['ratio']['ratio'])} (mean of ratio(S) over subsets with K_preserve(S) > 0, "
          f"the paper's reading); strength-weighted Σ min(|c|, K_preserve) / Σ K_preserve = "
          f"{_pct(num['ratio']['ratio_weighted'])}.", "", "| order | Ratio | Ratio (weighted) |", "|---|---|---|"]
    for i in range(n):
        L.append(f"| {i + 1} | {_pct(r['ratio'][i])} | {_pct(r['ratio_weighted'][i])} |")
    L += ["", "## Jaccard similarity with the final epoch (jaccard.png, paper Fig. 4)", "",
          "| epoch | finetune | scratch |", "|---|---|---|"]
    epochs = sorted({int(e) for s in ("finetune", "scratch") for e in num["jaccard"][s]})
    for e in epochs:
        L.append(f"| {e} | {_f(num['jaccard']['finetune'].get(str(e)), '.4f')} | "
                 f"{_f(num['jaccard']['scratch'].get(str(e)), '.4f')} |")
    L += [""] + _two_phase.markdown(num.get("two_phase", {}), n)
    L += ["## Loss per epoch (loss.png, paper Fig. 5; from the stages' TensorBoard events)", "",
          "| epochs trained | finetune train | scratch train | finetune val | scratch val | probe train | probe val |",
          "|---|---|---|---|---|---|---|"]
    lepochs = sorted({int(e) for s in STAGES for sp in ("train", "val") for e in num["loss"][s][sp]})
    for e in lepochs:
        g = lambda s, sp: _f(num["loss"][s][sp].get(str(e)), ".4f")  # noqa: E731
        L.append(f"| {e} | {g('finetune', 'train')} | {g('scratch', 'train')} | {g('finetune', 'val')} | "
                 f"{g('scratch', 'val')} | {g('probe', 'train')} | {g('probe', 'val')} |")
    L += ["", "## Figures", ""] + [f"![{f}]({f}.png)" for f in FIGURES] + [""]
    return "\n".join(L)


# ------------------------------------------------------------------ writing


def check_report_folder(out: Path) -> None:
    """Fail before any work (:class:`ConfigError` naming the folder and the errno) when the report folder
    ``out`` (or, while it does not exist, the study folder it goes into) cannot be written."""
    target = out if out.is_dir() else out.parent if out.parent.is_dir() else None
    if target is None:
        return  # not a study folder at all: compute_study says so
    try:
        probe_writable(target)
    except OSError as err:
        raise ConfigError(
            f"the report folder {out} cannot be written ({target} is not writable: {errno_name(err)}); make it "
            f"writable for this user (chmod -R u+w {target}), or copy the study folder somewhere writable and "
            "report on the copy"
        ) from None


def write_report(study_dir: str | os.PathLike, *, tensorboard: bool = True) -> Path:
    """Write ``<study_dir>/report/`` (figures, ``report.md``, ``report.json``, ``tb/``); return that folder.

    Every file is written atomically. Raises :class:`DataError` naming the
    missing paths when ``study_dir`` is not a complete study, :class:`ConfigError` before any work when
    the report folder cannot be written, :class:`StorageError` naming the file when a write fails."""
    study_dir = Path(study_dir)
    out = study_dir / "report"
    check_report_folder(out)
    num = compute_study(study_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(out, err) from err
    figs = {
        "knowledge_by_order": figure_knowledge_by_order(num),
        "ratio": figure_ratio(num),
        "jaccard": figure_jaccard(num),
        "loss": figure_loss(num),
        "samples": figure_samples(study_dir),
        "two_phase": _two_phase.figure_two_phase(num["two_phase"], num["n"], _title(num)),
    }
    for name, fig in figs.items():
        atomic_write_bytes(out / f"{name}.png", _fig_bytes(fig))
    md = render_markdown(num)
    if tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        tb = out / "tb"
        try:
            if tb.is_dir():
                shutil.rmtree(tb)  # one report's events, not every rerun's
            writer = SummaryWriter(log_dir=str(tb))
            for name, fig in figs.items():
                writer.add_figure(f"report/{name}", fig, global_step=0, close=False)
            writer.add_text("report/report.md", md, global_step=0)
            writer.close()
        except OSError as err:
            raise write_error(err.filename or tb, err) from err
    for fig in figs.values():
        plt.close(fig)
    write_json(out / "report.json", num)
    atomic_write_bytes(out / "report.md", md.encode())
    return out


SUMMARY_COLUMNS = ("study", "model", "data", "acc probe", "acc finetune", "acc scratch", "K preserve", "K discard",
                   "K new", "discard/preserve", "Ratio", "Ratio (weighted)", "J>=0.8 finetune", "J>=0.8 scratch",
                   "findings holding")


def summary_row(num: dict[str, Any]) -> list[str]:
    t = num["knowledge_totals"]
    acc = num["accuracy"]
    return [Path(num["study_dir"]).name, str(num.get("model") or ""), str(num.get("data") or ""),
            _pct(acc["probe"]["val"]), _pct(acc["finetune"]["val"]), _pct(acc["scratch"]["val"]),
            _f(t["preserve"]), _f(t["discard"]), _f(t["new"]), _f(num["discard_over_preserve"]["overall"], ".3g"),
            _pct(num["ratio"]["ratio"]), _pct(num["ratio"]["ratio_weighted"]),
            str(num["jaccard_first_at_level"]["finetune"]), str(num["jaccard_first_at_level"]["scratch"]),
            f"{num['findings_verdicts']['holds']}/{len(num['findings'])}"]


def write_summary(study_dirs: Sequence[str | os.PathLike], path: str | os.PathLike | None = None) -> str:
    """One markdown table, one row per study (model / data set), like the paper's grid; written
    atomically to ``path`` when given. Accuracies are validation accuracies; K totals sum orders 1..n."""
    rows = [summary_row(compute_study(d)) for d in study_dirs]
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write_bytes(path, text.encode())
    return text
