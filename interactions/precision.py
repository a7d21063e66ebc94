"""Numerical precision of the evaluation forward passes (docs/method.md#precision-and-budget).

Strict fp32 is the default: TF32 is switched off for matmuls and cuDNN
convolutions while the evaluation runs, and any autocast the caller (e.g.
Lightning's ``bf16-mixed``) has entered is disabled; all settings are restored
afterwards. ``tf32``, ``fp16`` and ``bf16`` are opt-in and should be audited.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from .errors import ConfigError

#: the forward precisions of an evaluation: strict fp32 (the default) and the audited faster ones
PRECISIONS = ("fp32", "tf32", "fp16", "bf16")


def check_precision(precision: str) -> str:
    """Refuse an unknown precision before any work starts (float64 is the model's dtype, not a mode)."""
    if precision == "fp64":
        raise ConfigError("precision='fp64' is for reference checks: call model.double() and pass precision='fp32'")
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not one of {PRECISIONS}; 'fp32' (strict, TF32 off) is exact enough")
    return precision


#: the fine-grained TF32 switches of torch >= 2.9 (``torch.backends.*.fp32_precision``), parents before children
_FP32_PRECISION_PATHS = (
    "fp32_precision",
    "cuda.matmul.fp32_precision",
    "cudnn.fp32_precision",
    "cudnn.conv.fp32_precision",
    "cudnn.rnn.fp32_precision",
    "mkldnn.fp32_precision",
    "mkldnn.matmul.fp32_precision",
    "mkldnn.conv.fp32_precision",
    "mkldnn.rnn.fp32_precision",
)
_NEW_API = hasattr(torch.backends, "fp32_precision")


def _backend(path: str):
    obj = torch.backends
    for part in path.split(".")[:-1]:
        obj = getattr(obj, part)
    return obj


def _fp32_precision_state() -> dict[str, str]:
    """Snapshot of every ``torch.backends.<...>.fp32_precision`` string this torch has."""
    state = {}
    for path in _FP32_PRECISION_PATHS:
        try:
            state[path] = _backend(path).fp32_precision
        except (AttributeError, RuntimeError):
            continue
    return state


def _restore_fp32_precision_state(state: dict[str, str]) -> None:
    for path, value in state.items():  # parents first, so each child ends with its own saved value
        try:
            _backend(path).fp32_precision = value
        except (AttributeError, RuntimeError, ValueError):
            continue


def _resolved(state: dict[str, str], path: str) -> str:
    """The effective precision of one op (``none`` inherits from the parent backend, then the root)."""
    parts = path.split(".")
    for k in range(len(parts) - 1, 0, -1):
        value = state.get(".".join(parts[:k] + ["fp32_precision"]), "none")
        if value != "none":
            return value
    return state.get("fp32_precision", "none")


def _matmul_precision() -> str:
    try:
        return torch.get_float32_matmul_precision()
    except RuntimeError:  # CUDA and CPU matmul set differently through the fine-grained API
        return "mixed"


def tf32_settings() -> dict[str, str]:
    """A snapshot of the global TF32 / float32-matmul state (compare before and after an evaluation)."""
    state = {"float32_matmul_precision": _matmul_precision(), **_fp32_precision_state()}
    if not _NEW_API:  # older PyTorch: the legacy flags only
        state["cuda.matmul.allow_tf32"] = str(torch.backends.cuda.matmul.allow_tf32)
        state["cudnn.allow_tf32"] = str(torch.backends.cudnn.allow_tf32)
    return state


def _restore(saved: dict[str, str]) -> None:
    """Put back a :func:`tf32_settings` snapshot: the float32 matmul precision first (it also sets the
    matmul switches), then the legacy flags (older PyTorch) or every fine-grained switch as it was."""
    if saved["float32_matmul_precision"] != "mixed":
        torch.set_float32_matmul_precision(saved["float32_matmul_precision"])
    if "cuda.matmul.allow_tf32" in saved:
        torch.backends.cuda.matmul.allow_tf32 = saved["cuda.matmul.allow_tf32"] == "True"
        torch.backends.cudnn.allow_tf32 = saved["cudnn.allow_tf32"] == "True"
    _restore_fp32_precision_state({k: v for k, v in saved.items() if k.endswith("fp32_precision")})


def _set_tf32(enabled: bool) -> None:
    """TF32 on or off for CUDA matmuls and cuDNN convolutions/RNNs (CPU oneDNN convolutions stay IEEE).

    Where PyTorch has the fine-grained API, every leaf switch is set explicitly: the legacy
    ``allow_tf32`` flags do not override a parent ``fp32_precision`` a user set to ``tf32``."""
    torch.set_float32_matmul_precision("high" if enabled else "highest")
    if _NEW_API:
        value = "tf32" if enabled else "ieee"
        for path in ("cuda.matmul", "mkldnn.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.conv", "mkldnn.rnn"):
            leaf = "ieee" if path.startswith("mkldnn.") and path != "mkldnn.matmul" else value
            _backend(path + ".fp32_precision").fp32_precision = leaf
        return
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


@contextlib.contextmanager
def evaluation_precision(precision: str, device: torch.device | str) -> Iterator[None]:
    """Run the enclosed forward passes in ``precision`` on ``device``, restoring global state after."""
    check_precision(precision)
    device_type = torch.device(device).type
    saved = tf32_settings()
    try:
        _set_tf32(precision == "tf32")
        if precision in ("fp16", "bf16"):
            dtype = torch.float16 if precision == "fp16" else torch.bfloat16
            ctx = torch.autocast(device_type=device_type, dtype=dtype)
        else:
            ctx = torch.autocast(device_type=device_type, enabled=False)
        with ctx:
            yield
    finally:
        _restore(saved)


__all__ = [
    "PRECISIONS",
    "check_precision",
    "evaluation_precision",
    "tf32_settings",
]
