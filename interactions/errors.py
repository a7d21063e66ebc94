"""The few exception types the project raises on user input.

Every error a user can cause is one of these. Each subclasses ``ValueError``
(or ``RuntimeError`` for ``OfflineError``) so generic handlers keep working,
and each message names the offending input and the fix.
"""
from __future__ import annotations


class HarsanyiError(Exception):
    """Base class of every error harsanyi-lightning raises on user input."""


class ConfigError(HarsanyiError, ValueError):
    """A bad argument or configuration value (``n`` too large, unknown backbone, ...)."""


class DataError(HarsanyiError, ValueError):
    """Bad input data: a malformed file or line, an image that cannot be decoded, a wrong shape."""


class AnnotationError(HarsanyiError, ValueError):
    """An annotation or interaction artifact that is corrupt, or was computed on another annotation."""


class NumericsError(HarsanyiError, ValueError):
    """A model output that is NaN or infinite for some masked input."""


class OfflineError(HarsanyiError, RuntimeError):
    """Something needs a download and the machine is offline."""


__all__ = [
    "HarsanyiError",
    "ConfigError",
    "DataError",
    "AnnotationError",
    "NumericsError",
    "OfflineError",
]
