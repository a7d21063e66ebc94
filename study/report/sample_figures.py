"""The report's ``samples.png``: a few annotated samples drawn with each final model's Shapley values and
strongest salient interactions (docs/study.md, section "Report"; the Shapley values of
docs/method.md#beyond-the-paper).

Text samples are drawn as marked words, image samples as highlighted patches of the sample set's own
grid; red = positive, blue = negative, opacity = strength.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from harsanyi_lightning.interactions import (
    AnnotatedSampleSet,
    mask_to_variables,
    salient_mask,
    shapley_values,
)

from ..layout import ANNOTATION, final_artifact, run_dirs
from .inputs import load_dividends

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["figure_samples", "samples_image", "samples_text", "top_interactions"]


def top_interactions(div: Tensor, k: int) -> list[tuple[int, float]]:
    """The ``k`` strongest salient interactions of one sample, ``[(mask, I)]``."""
    sal = salient_mask(div[None])[0]
    idx = torch.nonzero(sal).flatten()
    if idx.numel() == 0:
        return []
    order = torch.argsort(div[idx].abs(), descending=True)[:k]
    return [(int(idx[o]), float(div[idx[o]])) for o in order]


def figure_samples(study_dir: str | os.PathLike, colors: Mapping[str, str], num_samples: int = 4, top: int = 3) -> Figure:
    """The strongest salient interactions of a few samples, for each model of ``colors`` (regime -> its colour),
    drawn on the input:
    marked words (text) or highlighted patches (image); red = positive, blue = negative, opacity = strength.
    Beside them, each model's exact Shapley value of every word or patch (docs/method.md#beyond-the-paper,
    from the stored dividends: ``φ_i = Σ_{S∋i} I(S)/|S|``), in the same colours. A study with several
    seeds shows its first seed's models."""
    study_dir = Path(study_dir)
    anno = AnnotatedSampleSet.load(study_dir / ANNOTATION)
    root = next(iter(run_dirs(study_dir).values()))
    finals = {s: load_dividends(final_artifact(root, s))[0] for s in colors}
    picks = list(range(min(num_samples, len(anno))))
    if anno.kind == "image":
        return samples_image(anno, finals, picks, colors, top=2)
    return samples_text(anno, finals, picks, colors, top)


def _variable_names(anno: AnnotatedSampleSet, i: int) -> list[str]:
    words = anno.meta.get("words")
    if words is not None:
        return list(words[i])
    return [f"x{j}" for j in range(anno.n)]


def _shade(value: float, scale: float) -> dict:
    color = (0.84, 0.15, 0.16) if value > 0 else (0.12, 0.47, 0.71)
    return dict(boxstyle="round,pad=0.15", fc=color, alpha=0.1 + 0.8 * min(abs(value) / scale, 1.0), ec="none")


def samples_text(anno: AnnotatedSampleSet, finals: Mapping[str, Tensor], picks: Sequence[int],
                 colors: Mapping[str, str], top: int) -> Figure:
    """Text samples: per sample a line of its words, then per model its Shapley values and top interactions."""
    shapley = {s: torch.nan_to_num(shapley_values(finals[s])) for s in finals}  # skipped rows: 0
    lines_per = 1 + len(finals) * (top + 1)
    height = 0.26 * (lines_per * len(picks) + len(picks)) + 0.6
    fig = Figure(figsize=(13, height))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    total_lines = lines_per * len(picks) + len(picks)
    dy = 1.0 / (total_lines + 1)
    y = 1 - dy
    char = 0.0068  # monospace character width in axes units at this figure width
    for i in picks:
        words = _variable_names(anno, i)
        v_full = {s: float(finals[s][i].sum()) for s in finals}
        ax.text(0.005, y, f"sample {i} (label {int(anno.labels[i])}):  v(x): "
                + ", ".join(f"{s} {v:+.2f}" for s, v in v_full.items()), fontsize=9, fontweight="bold",
                va="center", family="monospace")
        y -= dy
        for s in finals:
            phi = shapley[s][i].tolist()
            phi_scale = max((abs(v) for v in phi), default=1.0) or 1.0
            ax.text(0.005, y, f"{s:>8} φ  max|φ|={phi_scale:<8.3g}", fontsize=8.5, va="center",
                    family="monospace", color=colors[s])
            x = 0.005 + 30 * char
            for j, w in enumerate(words):
                ax.text(x, y, w, fontsize=8.5, va="center", family="monospace", bbox=_shade(phi[j], phi_scale))
                x += (len(w) + 1) * char
            y -= dy
            tops = top_interactions(finals[s][i], top)
            scale = max((abs(v) for _, v in tops), default=1.0) or 1.0
            for rank in range(top):
                if rank < len(tops):
                    mask, val = tops[rank]
                    members = set(mask_to_variables(mask))
                    ax.text(0.005, y, f"{s:>8} I={val:+9.3g} |S|={len(members):<2}", fontsize=8.5, va="center",
                            family="monospace", color=colors[s])
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


def samples_image(anno: AnnotatedSampleSet, finals: Mapping[str, Tensor], picks: Sequence[int],
                  colors: Mapping[str, str], top: int) -> Figure:
    """Image samples: per sample the input with its variable patches, then per model its Shapley values and
    top interactions on the patches."""
    rows, cols = anno.grid  # the sample set's own patch grid (the paper: 8x8 of 28x28 on 224x224)
    height, width = anno.inputs["pixels"].shape[-2:]
    ph, pw = height // rows, width // cols

    def box(p, **kw):
        return Rectangle(((p % cols) * pw, (p // cols) * ph), pw, ph, **kw)

    shapley = {s: torch.nan_to_num(shapley_values(finals[s])) for s in finals}  # skipped rows: 0
    ncols = 1 + len(finals) * (top + 1)
    fig = Figure(figsize=(1.9 * ncols, 2.0 * len(picks)), layout="constrained")
    axes = fig.subplots(len(picks), ncols, squeeze=False)
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
        for s in finals:
            phi = shapley[s][i].tolist()
            phi_scale = max((abs(v) for v in phi), default=1.0) or 1.0
            ax = axes[r][col]
            col += 1
            ax.imshow(img * 0.6, **show)
            for j, p in var_patch.items():
                ax.add_patch(box(p, color="red" if phi[j] > 0 else "blue", alpha=0.1 + 0.8 * abs(phi[j]) / phi_scale))
            ax.set_title(f"{s} Shapley φ", fontsize=7, color=colors[s])
            tops = top_interactions(finals[s][i], top)
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
                    ax.set_title(f"{s} I={val:+.3g}", fontsize=7, color=colors[s])
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle("each final model's Shapley value per patch, then its strongest salient interactions "
                 "(red: > 0, blue: < 0)", fontsize=9)
    return fig
