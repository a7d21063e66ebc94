"""AND-OR interactions from ``values[sample, mask]`` (docs/method.md#beyond-the-paper).

Per sample, with noise ``q_T`` (``|q_T| <= delta·|v(x_N) - v(x_∅)|``, ``q_∅ = 0``),
``v' = v + q``, ``v_and = ½v' + γ`` and ``v_or = ½v' - γ``::

    I_and(S) =  Σ_{T⊆S} (-1)^{|S|-|T|} v_and(x_T)
    I_or(S)  = -Σ_{T⊆S} (-1)^{|S|-|T|} v_or(x_{N∖T})

and ``γ, q`` minimise ``Σ_{S≠∅} |I_and(S)| + |I_or(S)|``. Whatever ``γ, q``, the
identity ``v'(x_T) = v'(x_∅) + Σ_{∅≠S⊆T} I_and(S) + Σ_{S∩T≠∅} I_or(S)`` holds.

How the problem is solved. Taking the Möbius transform of that identity gives,
for ``R ≠ ∅``, ``I_and(R) = m'(R) + (-1)^{|R|} Σ_{S⊇R} I_or(S)`` with ``m'`` the
Harsanyi dividends of ``v'``. So the free variables are ``o = I_or`` (non-empty
sets) and ``q`` (a box), and the objective is ``‖o‖₁ + ‖m' + s⊙U o‖₁`` (``U``:
superset sum, ``s = (-1)^{|R|}``): a linear program with ``2**n - 1`` rows and
``3**n`` nonzeros in each of its two transform matrices. Both solvers return
``(o, q)``; ``γ`` and both kinds of interactions are then computed from the
definitions above, so the identity holds to rounding whatever the solver.

- ``solver="lp"`` (default): the exact LP, sample by sample, with HiGHS's
  interior-point method (``scipy.optimize.linprog(method="highs-ipm")``).
- ``solver="gradient"``: batched first-order primal-dual steps (PDHG with
  diagonal preconditioning, reflected Halpern iterations and restarts), all
  samples at once on the values' device, via the fast transforms. Its iterate
  is always feasible, and a dual bound certifies its relative gap per sample.

Why ``"lp"`` is the default (``benchmarks/and_or_solver.py``, random-MLP games, 20000
gradient iterations): it is exact, and on 2 CPU cores it is also the faster one at
``n = 10`` (0.95 s vs 3.5 s per sample; gradient gap <= 0.12%). At ``n = 12`` the LP
takes 33-39 s per sample (38 s on an H100 machine's CPU) and the gradient solver 3.4-4.8 s
(2 CPU cores, 3 samples) or 0.52 s (H100, 64 samples at once) with a 2-4% higher
objective: use ``solver="gradient"`` there when time matters more than exactness.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError, DataError, NumericsError
from .metrics import TAU_RATIO, salient_strength_by_order
from .transform import as_sample_table, harsanyi_dividends, subset_orders, values_from_dividends

#: the most variables AND-OR interactions are computed for (the linear program grows about 5x per variable)
MAX_AND_OR_VARIABLES = 12
#: the solvers: the exact linear program (scipy's HiGHS) and batched gradient steps with a certified gap
SOLVERS = ("lp", "gradient")
#: ``delta`` in the noise bound ``|q_T| <= delta·|v(x_N) - v(x_∅)|`` (docs/method.md#beyond-the-paper)
DEFAULT_NOISE_BOUND = 0.04


@dataclass(frozen=True)
class AndOrInteractions:
    """AND-OR decomposition of every sample (docs/method.md#beyond-the-paper); tensors are ``[sample, mask]`` float64.

    ``and_dividends[:, 0] = v_and(x_∅) = ½v(x_∅)`` and ``or_dividends[:, 0] = -v_or(x_N)`` (the
    definitions at ``S = ∅``) are stored but are in no objective or salient set. ``objective``:
    ``Σ_{S≠∅} |I_and(S)| + |I_or(S)|`` per sample. ``gap``: certified upper bound on the relative
    distance of ``objective`` from the optimum (0 for the exact LP). Skipped (non-finite) samples
    are NaN rows everywhere."""

    and_dividends: Tensor
    or_dividends: Tensor
    gamma: Tensor
    noise: Tensor
    objective: Tensor
    gap: Tensor
    solver: str
    noise_bound: float
    iterations: int = 0

    @property
    def n(self) -> int:
        """Number of input variables."""
        return int(self.and_dividends.shape[1]).bit_length() - 1

    @property
    def num_samples(self) -> int:
        """Number of samples (rows)."""
        return int(self.and_dividends.shape[0])

    def as_dict(self) -> dict[str, Any]:
        """Plain ``{field: tensor | str | float | int}``, e.g. to store in an artifact."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AndOrInteractions":
        """The inverse of :meth:`as_dict` (e.g. ``AndOrInteractions.from_dict(artifact["and_or"])``)."""
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data) - {"iterations"})
        if missing:
            raise DataError(f"AND-OR data lacks {missing}; pass the dictionary AndOrInteractions.as_dict() wrote")
        return cls(**{k: v for k, v in data.items() if k in names})


# ----------------------------------------------------------------------------- transforms
def _flip(f: Tensor) -> Tensor:
    # mask -> N∖mask is index (2**n - 1) - mask: reversing the last dimension
    return f.flip(-1)


def _mobius(f: Tensor) -> Tensor:
    return harsanyi_dividends(f)


def _mobius_t(f: Tensor) -> Tensor:
    """Transpose of the Möbius matrix: ``Σ_{R⊇T} (-1)^{|R|-|T|} f(R)``."""
    return _flip(harsanyi_dividends(_flip(f), inplace=True))


def _subset_sum(f: Tensor) -> Tensor:
    return values_from_dividends(f)


def _superset_sum(f: Tensor) -> Tensor:
    """``Σ_{S⊇R} f(S)`` (the transpose of the subset sum)."""
    return _flip(values_from_dividends(_flip(f), inplace=True))


def _parity_sign(n: int, device: torch.device) -> Tensor:
    return 1.0 - 2.0 * (subset_orders(n, device) % 2).to(torch.float64)


def _decompose(values: Tensor, or_part: Tensor, noise: Tensor) -> dict[str, Tensor]:
    """AND/OR interactions, ``γ`` and objective from ``v``, ``I_or`` (non-empty) and ``q``, by the definitions."""
    n = int(values.shape[1]).bit_length() - 1
    noisy = values + noise
    and_part = _mobius(noisy) + _parity_sign(n, values.device) * _superset_sum(or_part)
    and_part[:, 0] = 0.5 * values[:, 0]  # γ_∅ = 0: v_and(x_∅) = ½ v(x_∅)
    gamma = _subset_sum(and_part) - 0.5 * noisy
    gamma[:, 0] = 0.0
    and_div = _mobius(0.5 * noisy + gamma)
    or_div = -_mobius(_flip(0.5 * noisy - gamma))
    objective = and_div[:, 1:].abs().sum(dim=1) + or_div[:, 1:].abs().sum(dim=1)
    return {"and_dividends": and_div, "or_dividends": or_div, "gamma": gamma, "objective": objective}


# ----------------------------------------------------------------------------- exact LP
@functools.lru_cache(maxsize=4)
def _lp_matrix(n: int):
    """Equality rows ``R≠∅`` of ``a⁺ - a⁻ - s⊙U(o⁺ - o⁻) - M q = M v`` over non-empty columns (CSC)."""
    import scipy.sparse as sp

    m = 1 << n
    sub = np.arange(m)
    sup = np.arange(m)
    for i in range(n):  # all pairs (sup ⊇ sub): 3**n of them
        free = (sup >> i) & 1 == 0
        sub = np.concatenate([sub, sub[free]])
        sup = np.concatenate([sup, sup[free] | (1 << i)])
    orders = subset_orders(n).numpy()
    keep = sub > 0
    sub, sup = sub[keep] - 1, sup[keep] - 1  # non-empty only, shifted to 0-based columns
    r = m - 1
    mobius = sp.csc_matrix(((-1.0) ** (orders[sup + 1] - orders[sub + 1]), (sup, sub)), shape=(r, r))
    signed_up = sp.csc_matrix(((-1.0) ** orders[sub + 1], (sub, sup)), shape=(r, r))
    eye = sp.identity(r, format="csc")
    return sp.hstack([eye, -eye, -signed_up, signed_up, -mobius], format="csc")


def _solve_lp(values: Tensor, bound: Tensor) -> tuple[Tensor, Tensor]:
    from scipy.optimize import linprog

    n = int(values.shape[1]).bit_length() - 1
    r = (1 << n) - 1
    matrix = _lp_matrix(n)
    cost = np.concatenate([np.ones(4 * r), np.zeros(r)])
    rhs = _mobius(values).cpu().numpy()
    or_part = np.zeros(tuple(values.shape))
    noise = np.zeros(tuple(values.shape))
    for k in range(values.shape[0]):
        b = float(bound[k])
        bounds = np.empty((5 * r, 2))
        bounds[: 4 * r] = (0.0, np.inf)
        bounds[4 * r:] = (-b, b)
        res = linprog(cost, A_eq=matrix, b_eq=rhs[k, 1:], bounds=bounds, method="highs-ipm")
        if res.status != 0:
            raise NumericsError(f"the AND-OR linear program of sample row {k} did not solve: {res.message}")
        x = res.x
        or_part[k, 1:] = x[2 * r: 3 * r] - x[3 * r: 4 * r]
        noise[k, 1:] = np.clip(x[4 * r:], -b, b)
    return torch.as_tensor(or_part, device=values.device), torch.as_tensor(noise, device=values.device)


# ----------------------------------------------------------------------------- first-order solver
def _solve_gradient(
    values: Tensor, bound: Tensor, *, max_iterations: int, tolerance: float, primal_weight: float,
    check_every: int = 50, restart_ratio: float = 0.2,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Reflected Halpern PDHG on ``min ‖o‖₁ + ‖c + s⊙U o + M q‖₁, |q| ≤ b`` (``c = M v``), batched."""
    s_count, m = values.shape
    n = m.bit_length() - 1
    dev = values.device
    orders = subset_orders(n, dev).to(torch.float64)
    sign = _parity_sign(n, dev)
    b = bound[:, None]
    c = _mobius(values)
    # Pock-Chambolle diagonal steps (row / column absolute sums of K = [s⊙U, M] on non-empty sets)
    sigma = primal_weight / (torch.exp2(n - orders) + torch.exp2(orders) - 1)
    tau_o = 1.0 / (primal_weight * (torch.exp2(orders) - 1).clamp_min(1))
    tau_q = 1.0 / (primal_weight * torch.exp2(n - orders))
    weight_o, weight_q, weight_y = 1 / tau_o, 1 / tau_q, 1 / sigma

    def step(o: Tensor, q: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        go = _subset_sum(sign * y)            # (s⊙U)^T y
        gq = _mobius_t(y)                     # M^T y
        zo = o - tau_o * go
        o_new = zo.sign() * (zo.abs() - tau_o).clamp_min(0)
        q_new = torch.maximum(torch.minimum(q - tau_q * gq, b), -b)
        o_new[:, 0] = 0.0
        q_new[:, 0] = 0.0
        o_bar, q_bar = 2 * o_new - o, 2 * q_new - q
        y_new = (y + sigma * (sign * _superset_sum(o_bar) + _mobius(q_bar) + c)).clamp(-1.0, 1.0)
        y_new[:, 0] = 0.0
        return o_new, q_new, y_new

    def primal(o: Tensor, q: Tensor) -> Tensor:
        a = c + sign * _superset_sum(o) + _mobius(q)
        return a[:, 1:].abs().sum(dim=1) + o[:, 1:].abs().sum(dim=1)

    def dual(y: Tensor) -> Tensor:
        slope = _subset_sum(sign * y)[:, 1:].abs().amax(dim=1).clamp_min(1.0)
        y = y / slope[:, None]
        return (y * c)[:, 1:].sum(dim=1) - (b * _mobius_t(y)[:, 1:].abs()).sum(dim=1)

    zeros = torch.zeros_like(values)
    o, q, y = zeros.clone(), zeros.clone(), zeros.clone()
    anchor = (o, q, y)
    since = torch.zeros(s_count, 1, dtype=torch.float64, device=dev)
    best_p = primal(o, q)
    best_o, best_q = o.clone(), q.clone()
    best_d = torch.full_like(best_p, -math.inf)
    first_residual = None
    iterations = 0
    for it in range(max_iterations):
        o_t, q_t, y_t = step(o, q, y)
        iterations = it + 1
        if it % check_every == 0 or it == max_iterations - 1:
            p = primal(o_t, q_t)
            better = p < best_p
            best_p = torch.where(better, p, best_p)
            best_o = torch.where(better[:, None], o_t, best_o)
            best_q = torch.where(better[:, None], q_t, best_q)
            best_d = torch.maximum(best_d, dual(y_t))
            gap = (best_p - best_d) / best_p.clamp_min(1e-12)
            if bool((gap <= tolerance).all()):
                break
            residual = (
                ((o_t - o) ** 2 * weight_o).sum(1) + ((q_t - q) ** 2 * weight_q).sum(1)
                + ((y_t - y) ** 2 * weight_y).sum(1)
            ).sqrt()
            if first_residual is None:
                first_residual = residual
            restart = residual <= restart_ratio * first_residual
            if bool(restart.any()):
                rr = restart[:, None]
                anchor = tuple(torch.where(rr, new, old) for new, old in zip((o_t, q_t, y_t), anchor))
                o, q, y = (torch.where(rr, new, cur) for new, cur in zip((o_t, q_t, y_t), (o, q, y)))
                o_t, q_t, y_t = step(o, q, y)
                since = torch.where(rr, torch.zeros_like(since), since)
                first_residual = torch.where(restart, residual, first_residual)
        w = (since + 1) / (since + 2)
        o = w * (2 * o_t - o) + (1 - w) * anchor[0]
        q = w * (2 * q_t - q) + (1 - w) * anchor[1]
        y = w * (2 * y_t - y) + (1 - w) * anchor[2]
        since += 1
    gap = ((best_p - best_d) / best_p.clamp_min(1e-12)).clamp_min(0.0)
    gap = torch.where(best_p > 1e-12, gap, torch.zeros_like(gap))
    return best_o, best_q, gap, iterations


# ----------------------------------------------------------------------------- public API
def check_and_or_variables(n: int) -> None:
    """:class:`ConfigError` unless ``n`` (input variables) is at most :data:`MAX_AND_OR_VARIABLES`; the message
    names ``n``, the cost and the fix."""
    if n > MAX_AND_OR_VARIABLES:
        raise ConfigError(
            f"n = {n} variables; AND-OR interactions are limited to n <= {MAX_AND_OR_VARIABLES}: the linear "
            f"program has 3**n = {3 ** n:,} nonzeros per transform matrix and its time grows about 5x per variable "
            "(about 35 s per sample for the exact LP at n = 12 on 2 CPU cores). Use fewer input variables"
        )


def check_and_or_options(solver: str, noise_bound: float) -> None:
    """:class:`ConfigError` unless ``solver`` is one of :data:`SOLVERS` and ``noise_bound`` a finite number
    ``>= 0``. Each message starts with the option it names (``solver=...`` / ``noise_bound=...``)."""
    if solver not in SOLVERS:
        raise ConfigError(f"solver={solver!r}; choose one of {', '.join(SOLVERS)}")
    if not (isinstance(noise_bound, (int, float)) and not isinstance(noise_bound, bool)
            and math.isfinite(noise_bound) and noise_bound >= 0):
        raise ConfigError(
            f"noise_bound={noise_bound!r}; pass a finite number >= 0 (the default is {DEFAULT_NOISE_BOUND})"
        )


def and_or_interactions(
    values: Tensor, *, noise_bound: float = DEFAULT_NOISE_BOUND, solver: str = "lp",
    max_iterations: int = 20000, tolerance: float = 1e-3, primal_weight: float = 30.0,
) -> AndOrInteractions:
    """AND-OR interactions of ``values[sample, mask]`` minimising ``Σ_{S≠∅}|I_and(S)| + |I_or(S)|`` (docs/method.md#beyond-the-paper).

    ``noise_bound`` is ``delta`` in ``|q_T| <= delta·|v(x_N) - v(x_∅)|``; ``q_∅ = 0``.
    ``γ_∅ = 0``: the objective does not change when a constant is added to every ``γ_T``
    (only the empty-set entries move), so fixing ``γ_∅`` loses no optimality and splits
    ``v(x_∅)`` evenly, ``v_and(x_∅) = v_or(x_∅) = ½v(x_∅)``. The optimum need not be unique;
    one optimal ``(γ, q)`` is returned.

    ``solver="lp"`` is exact (HiGHS, one sample at a time, on the CPU); ``solver="gradient"``
    runs batched first-order steps on the values' device until every sample's certified
    relative gap is ``<= tolerance`` or ``max_iterations`` is reached (``result.gap``).
    ``primal_weight`` balances its primal and dual steps (the benchmark's tuned value).
    Rows with a non-finite value (skipped samples) give NaN rows. ``n <= 12``.
    """
    table, n = as_sample_table(values, "values")
    check_and_or_variables(n)
    check_and_or_options(solver, noise_bound)
    if int(max_iterations) < 1 or not tolerance > 0 or not primal_weight > 0:
        raise ConfigError(
            f"max_iterations={max_iterations}, tolerance={tolerance}, primal_weight={primal_weight}; "
            "pass max_iterations >= 1, tolerance > 0 and primal_weight > 0"
        )

    ok = torch.isfinite(table).all(dim=1)
    nan = torch.full_like(table, math.nan)
    out = {
        "and_dividends": nan.clone(), "or_dividends": nan.clone(), "gamma": nan.clone(), "noise": nan.clone(),
        "objective": torch.full_like(table[:, 0], math.nan), "gap": torch.full_like(table[:, 0], math.nan),
    }
    iterations = 0
    rows = table[ok]
    if rows.shape[0]:
        # the problem is positively homogeneous in v - v(x_∅): solve it at unit scale
        change = rows - rows[:, :1]
        scale = change.abs().mean(dim=1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        unit = change / scale[:, None]
        bound = noise_bound * unit[:, -1].abs()
        if n == 0:  # no variables, nothing to split
            or_part, noise, gap = torch.zeros_like(unit), torch.zeros_like(unit), torch.zeros_like(scale)
        elif solver == "lp":
            or_part, noise = _solve_lp(unit, bound)
            gap = torch.zeros_like(scale)
        else:
            or_part, noise, gap, iterations = _solve_gradient(
                unit, bound, max_iterations=int(max_iterations), tolerance=float(tolerance),
                primal_weight=float(primal_weight),
            )
        noise = (noise * scale[:, None]).clamp(-(bound * scale)[:, None], (bound * scale)[:, None])
        noise[:, 0] = 0.0
        parts = _decompose(rows, or_part * scale[:, None], noise)
        for key, value in parts.items():
            out[key][ok] = value
        out["noise"][ok] = noise
        out["gap"][ok] = gap
    return AndOrInteractions(**out, solver=solver, noise_bound=float(noise_bound), iterations=iterations)


def and_or_salient_mask(result: AndOrInteractions, tau_ratio: float = TAU_RATIO) -> tuple[Tensor, Tensor]:
    """``(and_salient, or_salient)``, each ``[sample, mask]``: ``|I| > tau_ratio · max`` over both
    kinds and all non-empty sets of the sample (docs/method.md#beyond-the-paper). The empty set is never salient."""
    mag_and = result.and_dividends.abs()
    mag_or = result.or_dividends.abs()
    mag_and[:, 0] = 0
    mag_or[:, 0] = 0
    tau = tau_ratio * torch.maximum(mag_and.amax(dim=1), mag_or.amax(dim=1))[:, None]
    return mag_and > tau, mag_or > tau


def and_or_strength_by_order(result: AndOrInteractions, tau_ratio: float = TAU_RATIO) -> dict[str, dict[str, Tensor]]:
    """``{"and": {"positive", "negative"}, "or": {...}}``, each ``[order]`` for orders ``0..n``: the strength of
    the salient AND (OR) interactions of each order, ``E_x Σ_{S salient, |S|=k} max(±I(S), 0)`` (docs/method.md#beyond-the-paper,
    two-phase view; salient by :func:`and_or_salient_mask`, over both kinds). Skipped (NaN) samples are ignored."""
    and_salient, or_salient = and_or_salient_mask(result, tau_ratio)
    return {
        "and": salient_strength_by_order(result.and_dividends, and_salient),
        "or": salient_strength_by_order(result.or_dividends, or_salient),
    }


__all__ = [
    "DEFAULT_NOISE_BOUND",
    "MAX_AND_OR_VARIABLES",
    "SOLVERS",
    "AndOrInteractions",
    "and_or_interactions",
    "and_or_salient_mask",
    "and_or_strength_by_order",
    "check_and_or_options",
    "check_and_or_variables",
]
