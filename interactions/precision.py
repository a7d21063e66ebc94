"""Numerical precision of the evaluation forward passes (SPEC section 6).

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

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp64")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not one of {PRECISIONS}; 'fp32' (strict, TF32 off) is exact enough")
    return precision


def tf32_settings() -> tuple[bool, bool, str]:
    """The global TF32 state: (cuda matmul allow_tf32, cudnn allow_tf32, float32 matmul precision)."""
    return (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )


def _set_tf32(matmul: bool, cudnn: bool, matmul_precision: str) -> None:
    torch.set_float32_matmul_precision(matmul_precision)
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = cudnn


@contextlib.contextmanager
def evaluation_precision(precision: str, device: torch.device | str) -> Iterator[None]:
    """Run the enclosed forward passes in ``precision`` on ``device``, restoring global state after."""
    check_precision(precision)
    device_type = torch.device(device).type
    saved = tf32_settings()
    try:
        if precision == "tf32":
            _set_tf32(True, True, "high")
        else:
            _set_tf32(False, False, "highest")
        if precision in ("fp16", "bf16"):
            dtype = torch.float16 if precision == "fp16" else torch.bfloat16
            ctx = torch.autocast(device_type=device_type, dtype=dtype)
        else:
            ctx = torch.autocast(device_type=device_type, enabled=False)
        with ctx:
            yield
    finally:
        _set_tf32(saved[0], saved[1], saved[2])
