"""Values ``v(x_T)`` of a model on every mask of every sample, and the dividends from them.

``values[sample, mask]`` (float64, mask = integer, bit i = variable i) is
computed batched across masks *and* samples in chunks of ``batch_size``
masked inputs, under ``torch.no_grad``, in eval mode (each submodule's flag
restored afterwards), in strict fp32 unless another precision is asked for
(docs/method.md#precision-and-budget).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Optional

import torch
from torch import Tensor, nn

from .attributions import banzhaf_values, shapley_interaction_index, shapley_values
from .errors import ConfigError, NumericsError
from .estimates import InteractionEstimate, Parts
from .maskers import masker_for
from .outputs import check_logits, log_odds_true_class, log_odds_true_class_unchecked
from .precision import check_precision, evaluation_precision
from .sample_set import DEFAULT_MAX_VARIABLES, check_num_variables
from .scalars import interaction_scalars
from .transform import harsanyi_dividends, mask_to_variables

if TYPE_CHECKING:
    from .outputs import OutputFn
    from .sample_set import AnnotatedSampleSet

#: ``forward(model, inputs) -> logits[batch, classes]``
ForwardFn = Callable[[nn.Module, Any], Tensor]


def _unpacks_mapping(model: nn.Module) -> bool:
    """Whether ``model.forward`` takes the batch as keyword arguments (``input_ids=...`` or ``**kwargs``)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "input_ids" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _unwrap_logits(out: Any) -> Tensor:
    out = getattr(out, "logits", out)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out


def default_forward(model: nn.Module, inputs: Any) -> Tensor:
    """Call ``model`` on a batch of masked inputs and return its logits.

    A mapping is unpacked as keyword arguments when ``model.forward`` takes
    ``input_ids`` or ``**kwargs`` (Hugging Face models, compiled models); otherwise
    the batch is passed as one argument. Outputs with a ``.logits`` attribute are unwrapped."""
    if isinstance(inputs, Mapping) and _unpacks_mapping(model):
        return _unwrap_logits(model(**inputs))
    return _unwrap_logits(model(inputs))


def _bound_default_forward(model: nn.Module) -> ForwardFn:
    """:func:`default_forward` with the signature inspected once, not per chunk."""
    unpack = _unpacks_mapping(model)

    def forward(model: nn.Module, inputs: Any) -> Tensor:
        if unpack and isinstance(inputs, Mapping):
            return _unwrap_logits(model(**inputs))
        return _unwrap_logits(model(inputs))

    return forward


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class train_flags_restored:
    """Context manager: put ``model`` in eval mode, then restore every submodule's own flag."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> nn.Module:
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self.model

    def __exit__(self, *exc) -> None:
        for m, flag in self.flags:
            m.training = flag


def _check_weight_dtype(model: nn.Module, precision: str) -> None:
    if precision not in ("fp32", "tf32"):
        return
    low = {p.dtype for p in model.parameters() if p.is_floating_point() and p.dtype in (torch.float16, torch.bfloat16)}
    if low:
        raise ConfigError(
            f"the model's weights are {sorted(map(str, low))}, so a strict {precision} evaluation is impossible; "
            "evaluate a float32 copy (copy.deepcopy(model).float()) or pass precision='bf16'/'fp16' and audit it"
        )


def _resolve_batch_size(masker, batch_size: int | None, memory_budget_mb: float | None) -> int:
    if memory_budget_mb is not None:
        if memory_budget_mb <= 0:
            raise ConfigError(f"memory_budget_mb={memory_budget_mb} must be positive")
        zero = torch.zeros(1, dtype=torch.long, device=masker.device)
        one = masker(zero, zero, sample_range=(0, max(len(masker) - 1, 0)))  # the longest input (text: untrimmed)
        tensors = one.values() if isinstance(one, Mapping) else [one]
        per_input = sum(t.numel() * t.element_size() for t in tensors)
        return max(1, int(memory_budget_mb * 2**20 // max(per_input, 1)))
    if batch_size is None:
        return 256
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be a positive integer number of masked inputs per forward pass")
    return batch_size


def compute_values(
    model: nn.Module, sample_set: AnnotatedSampleSet, *, forward: ForwardFn | None = None,
    output_fn: OutputFn = log_odds_true_class, batch_size: int | None = 256, memory_budget_mb: float | None = None,
    precision: str = "fp32", device: torch.device | str | None = None, channels_last: bool = False,
    progress: bool = False, on_nonfinite: str = "raise", max_variables: int = DEFAULT_MAX_VARIABLES,
    trim_padding: bool = True,
) -> Tensor:
    """``values[sample, mask] = v(x_T)`` for all ``2**n`` masks of every sample (float64).

    ``batch_size`` masked inputs per forward (or as many as fit in
    ``memory_budget_mb`` of input tensors); chunks mix samples and masks, so
    any chunk size gives identical results. ``on_nonfinite="raise"`` stops at a
    NaN/inf value naming the sample and mask; ``"keep"`` returns it unchanged.
    Text: ``trim_padding`` pads each chunk only to its own longest sentence
    (:class:`~harsanyi_lightning.interactions.maskers.WordMasker`); ``False`` keeps the sample set's one padded length.
    """
    check_precision(precision)
    check_num_variables(sample_set.n, max_variables)
    return compute_values_at(
        model, sample_set, torch.arange(sample_set.num_masks, dtype=torch.long), forward=forward, output_fn=output_fn,
        batch_size=batch_size, memory_budget_mb=memory_budget_mb, precision=precision, device=device,
        channels_last=channels_last, progress=progress, on_nonfinite=on_nonfinite, trim_padding=trim_padding,
    )


@torch.no_grad()
def compute_values_at(
    model: nn.Module, sample_set: AnnotatedSampleSet, masks: Tensor, *, forward: ForwardFn | None = None,
    output_fn: OutputFn = log_odds_true_class, batch_size: int | None = 256, memory_budget_mb: float | None = None,
    precision: str = "fp32", device: torch.device | str | None = None, channels_last: bool = False,
    progress: bool = False, on_nonfinite: str = "raise", trim_padding: bool = True,
) -> Tensor:
    """``values[sample, k] = v(x_{T_k})`` at the given int64 masks (float64): ``masks[k]`` shared by every sample,
    or ``masks[sample, k]`` per sample. The same batching, maskers and precision rules as :func:`compute_values`
    (which is this function on ``arange(2**n)``); n may be up to 62 here (masks are int64)."""
    check_precision(precision)
    if on_nonfinite not in ("raise", "keep"):
        raise ConfigError(f"on_nonfinite={on_nonfinite!r} must be 'raise' or 'keep'")
    forward = forward if forward is not None and forward is not default_forward else _bound_default_forward(model)
    device = torch.device(device) if device is not None else model_device(model)
    _check_weight_dtype(model, precision)
    kwargs = {"image": {"channels_last": channels_last}, "text": {"trim_padding": trim_padding}}.get(sample_set.kind, {})
    masker = masker_for(sample_set, device, **kwargs)
    batch_size = _resolve_batch_size(masker, batch_size, memory_budget_mb)
    masks = masks.to(device=device, dtype=torch.long)
    num_masks = int(masks.shape[-1])
    total = len(sample_set) * num_masks
    values = torch.empty(total, dtype=torch.float64, device=device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="interactions", unit="input", leave=False)
    with train_flags_restored(model), evaluation_precision(precision, device):
        flat_all = torch.arange(total, device=device)
        sample_all = flat_all // num_masks
        masks_all = masks.expand(len(sample_set), num_masks).reshape(-1) if masks.dim() == 1 else masks.reshape(-1)
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            sample_idx, chunk_masks = sample_all[start:stop], masks_all[start:stop]
            inputs = masker(sample_idx, chunk_masks, sample_range=(start // num_masks, (stop - 1) // num_masks))
            logits = forward(model, inputs)
            labels = masker.labels[sample_idx]
            if start == 0:  # validate once (shape, classes, every label): later chunks need no device sync
                check_logits(logits, labels)
                check_logits(logits[:1].expand(len(masker.labels), -1), masker.labels)
                fast = output_fn is log_odds_true_class
            elif fast and (logits.dim() != 2 or logits.shape[0] != labels.shape[0]):
                check_logits(logits, labels)
            values[start:stop] = (log_odds_true_class_unchecked if fast else output_fn)(logits, labels).to(torch.float64)
            if bar is not None:
                bar.update(stop - start)
    if bar is not None:
        bar.close()
    values = values.view(len(sample_set), num_masks)
    if on_nonfinite == "raise":
        check_finite(values, sample_set, masks)
    return values


def nonfinite_samples(values: Tensor) -> list[int]:
    """Indices of the samples whose row of ``values[sample, mask]`` holds a NaN or inf."""
    return torch.nonzero(~torch.isfinite(values).all(dim=1)).flatten().tolist()


def check_finite(values: Tensor, sample_set: AnnotatedSampleSet | None = None, masks: Tensor | None = None) -> None:
    """Raise :class:`NumericsError` naming the first sample and mask of ``values[sample, mask]`` that is NaN or inf
    (``masks``: the int64 masks of the columns when they are not ``arange(2**n)``)."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        s, k = (int(i) for i in torch.nonzero(bad)[0])
        m = k if masks is None else int(masks[k] if masks.dim() == 1 else masks[s, k])
        where = ""
        if sample_set is not None and "sample_ids" in sample_set.meta:
            where = f" (pool index {sample_set.meta['sample_ids'][s]})"
        raise NumericsError(
            f"the model output is {values[s, k].item()} for sample {s}{where} under mask {m} "
            f"(kept variables {list(mask_to_variables(m))}); {int(bad.sum())} value(s) are not finite. "
            "Fix the model, or pass on_nonfinite='skip' to leave such samples out and record them"
        )


@dataclass
class Interactions(InteractionEstimate):
    """Values and Harsanyi dividends of one model on one annotated sample set (``[sample, mask]``, float64): the exact
    estimator's :class:`~harsanyi_lightning.interactions.estimates.InteractionEstimate`."""

    estimator: ClassVar[str] = "exact"
    estimated: ClassVar[bool] = False

    values: Optional[Tensor]  #: values[sample, mask], float64 (``None`` when read back without them)
    dividends: Tensor  #: dividends[sample, mask], float64
    n: int
    annotation_hash: str = ""
    precision: str = "fp32"
    skipped: list[int] = field(default_factory=list)  #: samples left out (non-finite outputs); rows are NaN
    audit: dict | None = None

    @property
    def num_samples(self) -> int:
        return int(self.dividends.shape[0])

    def parts(self) -> Parts:
        """Per sample every subset with a non-zero dividend."""
        masks, dividends = [], []
        for row in self.dividends.to(torch.float64):
            keep = torch.nonzero(row).flatten()
            masks.append(keep)
            dividends.append(row[keep])
        return masks, dividends

    def dense(self) -> Tensor:
        return self.dividends

    def record(self) -> dict[str, Any]:
        """``values``, ``dividends``, ``skipped`` and ``audit`` (the precision audit, ``None`` in strict fp32)."""
        return {"estimator": self.estimator, "estimated": self.estimated, "values": self.values,
                "dividends": self.dividends, "skipped": [int(s) for s in self.skipped], "audit": self.audit}

    def interaction_scalars(self) -> dict[str, float]:
        """:func:`~harsanyi_lightning.interactions.scalars.interaction_scalars`, and ``interactions/audit_rel_l1``
        under an audited precision."""
        out = interaction_scalars(self.dividends)
        if self.audit is not None:
            out["interactions/audit_rel_l1"] = self.audit["max_rel_l1"]
        return out

    def attributions(self) -> dict[str, Tensor]:
        return {"shapley": shapley_values(self.dividends), "banzhaf": banzhaf_values(self.dividends),
                "sii": shapley_interaction_index(self.dividends)}

    @classmethod
    def from_record(cls, content: Mapping[str, Any]) -> Interactions:
        return cls(values=content.get("values"), dividends=content["dividends"].to(torch.float64), n=int(content["n"]),
                   annotation_hash=str(content.get("annotation_hash", "")), precision=str(content.get("precision", "fp32")),
                   skipped=list(content.get("skipped", [])), audit=content.get("audit"))


def harsanyi_interactions(
    model: nn.Module, sample_set: AnnotatedSampleSet, *, precision: str = "fp32", audit_samples: int = 2,
    on_nonfinite: str = "raise", **kwargs: Any,
) -> Interactions:
    """Values + dividends (fast Möbius transform, eq. 2) of ``model`` on ``sample_set``.

    ``kwargs`` go to :func:`compute_values`. With a precision other than strict
    ``fp32``, the first ``audit_samples`` samples are recomputed in strict fp32 and
    the error of the dividends is reported in ``.audit``. ``on_nonfinite="skip"``
    leaves samples with NaN/inf outputs out (their rows NaN, listed in ``.skipped``).
    """
    if on_nonfinite not in ("raise", "skip"):
        raise ConfigError(f"on_nonfinite={on_nonfinite!r} must be 'raise' or 'skip'")
    values = compute_values(
        model, sample_set, precision=precision, on_nonfinite="raise" if on_nonfinite == "raise" else "keep", **kwargs
    )
    skipped = nonfinite_samples(values)
    values[skipped] = float("nan")
    dividends = harsanyi_dividends(values)
    audit = None
    if precision != "fp32" and audit_samples > 0:
        audit = audit_precision(model, sample_set, dividends, precision, audit_samples, **kwargs)
    return Interactions(values, dividends, sample_set.n, sample_set.hash, precision, skipped, audit)


def audit_precision(
    model: nn.Module, sample_set: AnnotatedSampleSet, dividends: Tensor, precision: str, samples: int = 2,
    **kwargs: Any,
) -> dict:
    """Recompute the first ``samples`` samples in strict fp32 and measure the error of ``dividends[sample, mask]``
    (docs/method.md#precision-and-budget): ``max_rel_l1 = max_x ||I_p - I_32||_1 / ||I_32||_1`` over non-empty subsets,
    and the worst overlap (Jaccard of index sets) of the salient sets."""
    from .metrics import salient_mask

    k = min(samples, len(sample_set))
    ref_set = sample_set.subset(range(k))
    ref = harsanyi_dividends(compute_values(model, ref_set, precision="fp32", **kwargs))
    got = dividends[:k].to(ref.device)
    err = (got[:, 1:] - ref[:, 1:]).abs().sum(1) / ref[:, 1:].abs().sum(1).clamp_min(1e-300)
    sal_ref, sal_got = salient_mask(ref), salient_mask(got)
    overlap = (sal_ref & sal_got).sum(1).double() / (sal_ref | sal_got).sum(1).clamp_min(1).double()
    return {
        "precision": precision,
        "samples": k,
        "max_rel_l1": float(err.max()),
        "median_rel_l1": float(err.median()),
        "salient_changed": bool((sal_ref != sal_got).any()),
        "salient_overlap_min": float(overlap.min()),
    }


__all__ = [
    "ForwardFn",
    "Interactions",
    "audit_precision",
    "check_finite",
    "compute_values",
    "compute_values_at",
    "default_forward",
    "harsanyi_interactions",
    "model_device",
    "nonfinite_samples",
    "train_flags_restored",
]
