r"""Gradient descent on a quadratic: closed forms and the bounds of Wang et al. (2021), Sec. 3.

Setting (``papers/wang2021.md`` §2.2). ``f(w) = 1/2 w^T H w`` with ``H = sum_i lambda_i u_i u_i^T``
positive definite, ``c_i = <w_0, u_i>``, ``L = lambda_1`` the largest and ``alpha = lambda_d`` the
smallest eigenvalue, ``c_min = min(|c_1|, |c_d|)``, ``rho(eta) = max_i |1 - eta lambda_i|``. GD with
step ``eta >= 0`` runs for ``t >= 1`` (an integer) steps; the naive meta-objective is
``F(eta) = f(w_{t,eta})`` (the paper's :math:`\hat F`), the log meta-objective is
``G(eta) = (1/t) log F(eta)``.

Everything is written for a *general* dimension: sums run over ``i = 1..d`` with ``d`` a symbol,
the eigenvalues and coefficients are ``IndexedBase`` objects ``lam[i]`` and ``c[i]``, and ``t`` is
a symbolic positive integer. Each derivation below is a :class:`theory.derivation.Derivation`
whose steps SymPy checks (``derivation.verify()``); the inequality steps that SymPy cannot prove
for all values are checked exactly at sampled rational instances and say so.

Symbols (module attributes, also bundled in :data:`SYMBOLS`): ``eta`` (nonnegative), ``t`` (positive
integer), ``tau`` (nonnegative integer), ``d`` (positive integer), ``i`` (summation index),
``lam`` and ``c`` (``IndexedBase``; ``lam`` positive, ``c`` real), ``s`` (normalised factors),
``w`` (iterate coordinates ``w[tau, i]``), ``L``, ``alpha``, ``rho``, ``c_min`` (positive),
``delta`` (positive: ``L = alpha + delta`` encodes ``L > alpha``), ``F``, ``G`` (functions of
``eta``) and ``S1``, ``S2`` (weighted means in the second derivative of ``G``).

Source: Wang, Yuan, Wu & Ge (2021), "Guarantees for Tuning the Step Size using a Learning-to-Learn
Approach", ICML, Sec. 3 (Theorems 3 and 4); the derived identities of ``papers/wang2021.md`` §5,
items 1-7.

>>> tuple(DERIVATIONS)[:3]
('quadratic.iterate', 'quadratic.loss', 'quadratic.naive-gradient')
>>> loss_expr()[0]
Sum((-eta*lambda[i] + 1)**(2*t)*c[i]**2*lambda[i], (i, 1, d))/2
"""

from __future__ import annotations

import random
from fractions import Fraction
from dataclasses import dataclass
from typing import Callable

import sympy
from sympy import (
    Abs,
    Derivative,
    Eq,
    Function,
    IndexedBase,
    Integer,
    Max,
    Min,
    Rational,
    Sum,
    Symbol,
    log,
)

from l2l.theory.derivation import (
    Bound,
    Derivation,
    FromPrevious,
    Identity,
    Induction,
    Instance,
    Quote,
    Step,
)

__all__ = [
    "SYMBOLS",
    "QuadraticSymbols",
    "eta",
    "t",
    "tau",
    "d",
    "i",
    "lam",
    "c",
    "s",
    "w",
    "L",
    "alpha",
    "rho",
    "c_min",
    "delta",
    "F",
    "G",
    "S1",
    "S2",
    "weighted_sum",
    "rho_expr",
    "loss_expr",
    "naive_grad_expr",
    "naive_hess_expr",
    "log_objective_expr",
    "log_grad_expr",
    "log_hess_expr",
    "log_grad_normalised_expr",
    "EXPRESSIONS",
    "sample_instance",
    "instance_sampler",
    "iterate",
    "loss",
    "naive_gradient",
    "log_gradient",
    "rho_normalised",
    "theorem3",
    "theorem4_bound",
    "DERIVATIONS",
]

# ------------------------------------------------------------------------------------------------
# symbols

eta = Symbol("eta", nonnegative=True)
t = Symbol("t", integer=True, positive=True)
tau = Symbol("tau", integer=True, nonnegative=True)
d = Symbol("d", integer=True, positive=True)
i = Symbol("i", integer=True, positive=True)
lam = IndexedBase("lambda", positive=True)
c = IndexedBase("c", real=True)
s = IndexedBase("s", real=True)
w = IndexedBase("w", real=True)
L = Symbol("L", positive=True)
alpha = Symbol("alpha", positive=True)
rho = Symbol("rho", positive=True)
c_min = Symbol("c_min", positive=True)
delta = Symbol("delta", positive=True)
F = Function("F")
G = Function("G")
S1 = Symbol("S_1", real=True)
S2 = Symbol("S_2", real=True)


@dataclass(frozen=True)
class QuadraticSymbols:
    """The symbols of this module, returned with every expression (see :data:`SYMBOLS`)."""

    eta: Symbol
    t: Symbol
    tau: Symbol
    d: Symbol
    i: Symbol
    lam: IndexedBase
    c: IndexedBase
    s: IndexedBase
    w: IndexedBase
    L: Symbol
    alpha: Symbol
    rho: Symbol
    c_min: Symbol
    delta: Symbol
    F: Function
    G: Function
    S1: Symbol
    S2: Symbol


SYMBOLS = QuadraticSymbols(eta, t, tau, d, i, lam, c, s, w, L, alpha, rho, c_min, delta, F, G, S1, S2)

_SOURCE = "Wang et al. (2021), Section 3"
_SETTING = (
    r"$H = \sum_i \lambda_i u_i u_i^\top \succ 0$",
    r"$c_i = \langle w_0, u_i\rangle$",
    r"$\eta \ge 0$, $t \ge 1$ an integer",
)


def weighted_sum(k: int, p: sympy.Expr) -> Sum:
    r"""``sum_{i=1}^d c_i^2 lambda_i^k (1 - eta lambda_i)^p``, the building block of every formula.

    >>> weighted_sum(1, 2*t)
    Sum((-eta*lambda[i] + 1)**(2*t)*c[i]**2*lambda[i], (i, 1, d))
    """
    return Sum(c[i] ** 2 * lam[i] ** k * (1 - eta * lam[i]) ** p, (i, 1, d))


def rho_expr() -> sympy.Expr:
    r"""``rho(eta) = max(|1 - eta L|, |1 - eta alpha|)`` (= ``max_i |1 - eta lambda_i|``).

    >>> rho_expr()
    Max(Abs(L*eta - 1), Abs(alpha*eta - 1))
    """
    return Max(Abs(1 - eta * L), Abs(1 - eta * alpha))


# ------------------------------------------------------------------------------------------------
# closed forms (each returns (expr, SYMBOLS))


def loss_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``F(eta) = f(w_{t,eta}) = 1/2 sum_i c_i^2 lambda_i (1 - eta lambda_i)^{2t}`` (§5 item 2).

    >>> loss_expr()[0]
    Sum((-eta*lambda[i] + 1)**(2*t)*c[i]**2*lambda[i], (i, 1, d))/2
    """
    return Rational(1, 2) * weighted_sum(1, 2 * t), SYMBOLS


def naive_grad_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``F'(eta) = -t sum_i c_i^2 lambda_i^2 (1 - eta lambda_i)^{2t-1}`` (§5 item 3).

    >>> naive_grad_expr()[0]
    -t*Sum((-eta*lambda[i] + 1)**(2*t - 1)*c[i]**2*lambda[i]**2, (i, 1, d))
    """
    return -t * weighted_sum(2, 2 * t - 1), SYMBOLS


def naive_hess_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``F''(eta) = t (2t - 1) sum_i c_i^2 lambda_i^3 (1 - eta lambda_i)^{2t-2}`` (§5 item 4).

    >>> naive_hess_expr()[0]
    t*(2*t - 1)*Sum((-eta*lambda[i] + 1)**(2*t - 2)*c[i]**2*lambda[i]**3, (i, 1, d))
    """
    return t * (2 * t - 1) * weighted_sum(3, 2 * t - 2), SYMBOLS


def log_objective_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``G(eta) = (1/t) log F(eta)`` (natural log; paper Sec. 3, Theorem 4).

    >>> log_objective_expr()[0]
    log(Sum((-eta*lambda[i] + 1)**(2*t)*c[i]**2*lambda[i], (i, 1, d))/2)/t
    """
    return log(loss_expr()[0]) / t, SYMBOLS


def log_grad_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``G'(eta) = -2 sum c^2 lambda^2 (1-eta lambda)^{2t-1} / sum c^2 lambda (1-eta lambda)^{2t}`` (§5 item 5).

    >>> log_grad_expr()[0]
    -2*Sum((-eta*lambda[i] + 1)**(2*t - 1)*c[i]**2*lambda[i]**2, (i, 1, d))/Sum((-eta*lambda[i] + 1)**(2*t)*c[i]**2*lambda[i], (i, 1, d))
    """
    return -2 * weighted_sum(2, 2 * t - 1) / weighted_sum(1, 2 * t), SYMBOLS


def log_hess_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``G''(eta) = 2(2t-1) S_2 - 4t S_1^2`` with ``S_1 = A/B``, ``S_2 = C/B``.

    ``A = sum c^2 lambda^2 x^{2t-1}``, ``B = sum c^2 lambda x^{2t}``, ``C = sum c^2 lambda^3 x^{2t-2}``,
    ``x_i = 1 - eta lambda_i``; ``S_1``, ``S_2`` are the means of ``lambda_i/x_i`` and
    ``(lambda_i/x_i)^2`` under the weights ``c_i^2 lambda_i x_i^{2t} / B``.

    >>> e, sym = log_hess_expr()
    >>> e.count(Sum)
    4
    """
    A, B, C = weighted_sum(2, 2 * t - 1), weighted_sum(1, 2 * t), weighted_sum(3, 2 * t - 2)
    return 2 * (2 * t - 1) * C / B - 4 * t * A**2 / B**2, SYMBOLS


def log_grad_normalised_expr() -> tuple[sympy.Expr, QuadraticSymbols]:
    r"""``G'(eta) = -(2/rho) sum c^2 lambda^2 s^{2t-1} / sum c^2 lambda s^{2t}``, ``s_i = (1 - eta lambda_i)/rho``.

    The released code's stable form (§5 item 6): every ``|s_i| <= 1``. Here ``rho`` is the symbol;
    :func:`theory.lambdify.lambdify_concrete` replaces it by ``max_i |1 - eta lambda_i|``.

    >>> log_grad_normalised_expr()[0].has(rho)
    True
    """
    sn = (1 - eta * lam[i]) / rho
    num = Sum(c[i] ** 2 * lam[i] ** 2 * sn ** (2 * t - 1), (i, 1, d))
    den = Sum(c[i] ** 2 * lam[i] * sn ** (2 * t), (i, 1, d))
    return -2 / rho * num / den, SYMBOLS


#: Names accepted by :func:`theory.lambdify.lambdify_concrete`.
EXPRESSIONS: dict[str, Callable[[], tuple[sympy.Expr, QuadraticSymbols]]] = {
    "loss": loss_expr,
    "naive_grad": naive_grad_expr,
    "naive_hess": naive_hess_expr,
    "log_objective": log_objective_expr,
    "log_grad": log_grad_expr,
    "log_hess": log_hess_expr,
    "log_grad_normalised": log_grad_normalised_expr,
}

# ------------------------------------------------------------------------------------------------
# concrete instances for the sampled bounds


def _rational_sphere_point(rng: random.Random, dim: int) -> list[Fraction]:
    """A point of the unit sphere in Q^dim with no zero coordinate (inverse stereographic map)."""
    while True:
        u = [Fraction(rng.choice((-1, 1)) * rng.randint(1, 9), rng.randint(1, 5)) for _ in range(dim - 1)]
        n2 = sum((x * x for x in u), Fraction(0))
        if n2 != 1:
            break
    point = [2 * x / (n2 + 1) for x in u] + [(n2 - 1) / (n2 + 1)]
    rng.shuffle(point)
    return point


def sample_instance(
    rng: random.Random,
    *,
    eta_region: str = "any",
    dims: tuple[int, ...] = (2, 3, 4),
    horizons: tuple[int, ...] = (1, 2, 3, 4, 5, 7, 10, 16),
) -> Instance:
    r"""One exact rational instance of the quadratic setting.

    Distinct eigenvalues ``lambda_1 = L > ... > lambda_d = alpha`` (rationals with denominators
    1..8), coefficients on the unit sphere with no zero entry (so ``c_min > 0``), a horizon from
    ``horizons`` and a rational ``eta`` from ``eta_region``: ``"any"`` (``[0, 3/L]``),
    ``"below"`` (``[0, 2/L)``) or ``"above"`` (``(2/L, 4/L]``); about a third of the draws hit
    the special points ``0, 1/L, 2/(L + alpha), 1/alpha`` (those inside the region).
    ``rho``, ``c_min``, ``L`` and ``alpha`` are computed exactly from their definitions (in
    :class:`fractions.Fraction`, so every comparison is a plain Python one) and stored as SymPy
    Rationals.

    >>> inst = sample_instance(random.Random(0))
    >>> inst.values[L] == sympy.Max(*[inst.values[lam[k]] for k in range(1, inst.dimension + 1)])
    True
    """
    if eta_region not in ("any", "below", "above"):
        raise ValueError(f"eta_region must be 'any', 'below' or 'above', got {eta_region!r}")
    dim = rng.choice(dims)
    if dim < 2:
        raise ValueError("dims must be >= 2 (the setting assumes L > alpha)")
    eig: set[Fraction] = set()
    while len(eig) < dim:
        eig.add(Fraction(rng.randint(1, 40), rng.choice((1, 2, 3, 4, 5, 8))))
    lams = sorted(eig, reverse=True)
    Lv, av = lams[0], lams[-1]
    cs = _rational_sphere_point(rng, dim)
    tv = rng.choice(horizons)
    m = rng.randint(1, 12)
    if eta_region == "below":
        special = [x for x in (Fraction(0), 1 / Lv, 2 / (Lv + av)) if x < 2 / Lv]
        eta_v = rng.choice(special) if rng.random() < 0.3 else 2 / Lv * Fraction(rng.randint(0, m - 1), m)
    elif eta_region == "above":
        special = [x for x in (1 / av,) if x > 2 / Lv]
        eta_v = rng.choice(special) if special and rng.random() < 0.3 else 2 / Lv * (1 + Fraction(rng.randint(1, m), m))
    else:
        special = [Fraction(0), 1 / Lv, 2 / (Lv + av), 1 / av]
        eta_v = rng.choice(special) if rng.random() < 0.3 else 3 / Lv * Fraction(rng.randint(0, m), m)
    rho_v = max(abs(1 - eta_v * x) for x in lams)

    def q_(x: Fraction) -> Rational:
        return Rational(x.numerator, x.denominator)

    values = {t: Integer(tv), eta: q_(eta_v), L: q_(Lv), alpha: q_(av), rho: q_(rho_v)}
    values[c_min] = q_(min(abs(cs[0]), abs(cs[-1])))
    for k in range(dim):
        values[lam[k + 1]] = q_(lams[k])
        values[c[k + 1]] = q_(cs[k])
    label = (
        f"d={dim}, t={tv}, eta={eta_v}, lambda=({', '.join(map(str, lams))}), c=({', '.join(map(str, cs))})"
    )
    return Instance(values=values, dimension=dim, label=label)


def instance_sampler(eta_region: str = "any") -> Callable[[random.Random], Instance]:
    """A ``sampler(rng)`` for :class:`theory.derivation.Bound` drawing :func:`sample_instance`."""
    if eta_region not in ("any", "below", "above"):
        raise ValueError(f"eta_region must be 'any', 'below' or 'above', got {eta_region!r}")

    def sampler(rng: random.Random) -> Instance:
        return sample_instance(rng, eta_region=eta_region)

    sampler.__name__ = f"quadratic_sampler_{eta_region}"
    return sampler


def _setting_assumptions() -> tuple[sympy.Basic, ...]:
    """The hypotheses of Sec. 3 as checkable relationals (``i`` ranges over 1..d)."""
    return (
        Eq(lam[1], L),
        Eq(lam[d], alpha),
        alpha < L,
        alpha <= lam[i],
        lam[i] <= L,
        Eq(Sum(c[i] ** 2, (i, 1, d)), 1),
        Eq(c_min, Min(Abs(c[1]), Abs(c[d]))),
        Min(Abs(c[1]), Abs(c[d])) > 0,
        Eq(rho, rho_expr()),
    )


# ------------------------------------------------------------------------------------------------
# derivations


def _derivation(name: str, title: str, steps: list[Step], source: str, assumptions=_SETTING) -> Derivation:
    return Derivation(name, title, steps, source, assumptions, dimension=d, index=i, horizon=t)


def iterate() -> Derivation:
    r"""``quadratic.iterate``: the GD iterate in the eigenbasis, ``w_{t,i} = c_i (1 - eta lambda_i)^t``.

    Statement: ``w_{t,eta} = (I - eta H)^t w_0 = sum_i c_i (1 - eta lambda_i)^t u_i``.
    Check: by induction on ``t``: the closed form equals ``c_i`` at ``t = 0`` and
    ``closed(tau + 1) - (1 - eta lambda_i) closed(tau) == 0``.
    Source: paper Sec. 3 (setting); ``papers/wang2021.md`` §5 item 1.

    >>> iterate().verify().statuses
    ('definition', 'definition', 'symbolic')
    """
    steps = [
        Step(w[0, i], "=", c[i], r"coordinates of $w_0$ in the eigenbasis, $c_i = \langle w_0, u_i\rangle$"),
        Step(
            w[tau + 1, i],
            "=",
            (1 - eta * lam[i]) * w[tau, i],
            r"GD step $w_{\tau+1} = w_\tau - \eta H w_\tau$ read along $u_i$ ($H u_i = \lambda_i u_i$)",
        ),
        Step(
            w[t, i],
            "=",
            c[i] * (1 - eta * lam[i]) ** t,
            r"induction on $t$ from steps 1 and 2, i.e. $w_{t,\eta} = (I - \eta H)^t w_0$",
            Induction(base=1, recurrence=2),
        ),
    ]
    return _derivation(
        "quadratic.iterate", "GD iterate in the eigenbasis", steps, _SOURCE + " (setting; derived here)"
    )


def loss() -> Derivation:
    r"""``quadratic.loss``: ``f(w_t) = 1/2 sum_i c_i^2 lambda_i (1 - eta lambda_i)^{2t}``.

    Statement: the naive meta-objective ``F(eta) = f(w_{t,eta})`` in closed form, and
    ``F(0) = f(w_0)``. Check: substitute the iterate of ``quadratic.iterate`` into
    ``f(w) = 1/2 sum_i lambda_i <w, u_i>^2``.
    Source: paper Sec. 3; ``papers/wang2021.md`` §5 item 2.

    >>> loss().verify().statuses
    ('definition', 'symbolic', 'symbolic')
    """
    f_w = Rational(1, 2) * Sum(lam[i] * w[t, i] ** 2, (i, 1, d))
    steps = [
        Step(
            F(eta),
            "=",
            f_w,
            r"$F(\eta) = f(w_{t,\eta})$ with $f(w) = \frac12 \sum_i \lambda_i \langle w, u_i\rangle^2$",
        ),
        Step(
            F(eta),
            "=",
            loss_expr()[0],
            r"substitute $w_{t,i} = c_i (1 - \eta\lambda_i)^t$ (quadratic.iterate, step 3)",
            FromPrevious.substitute({w[t, i]: c[i] * (1 - eta * lam[i]) ** t}),
        ),
        Step(
            F(0),
            "=",
            Rational(1, 2) * Sum(c[i] ** 2 * lam[i], (i, 1, d)),
            r"at $\eta = 0$ the iterate does not move: $F(0) = f(w_0)$",
            FromPrevious.substitute({eta: Integer(0)}),
        ),
    ]
    return _derivation(
        "quadratic.loss", "Naive meta-objective in closed form", steps, _SOURCE + " (derived here)"
    )


def naive_gradient() -> Derivation:
    r"""``quadratic.naive-gradient``: ``F'`` and ``F''`` of the naive meta-objective.

    Statement: ``F'(eta) = -t sum_i c_i^2 lambda_i^2 (1 - eta lambda_i)^{2t-1}`` and
    ``F''(eta) = t (2t - 1) sum_i c_i^2 lambda_i^3 (1 - eta lambda_i)^{2t-2}``.
    Check: differentiate the loss in ``eta`` (symbolic ``d`` and ``t``).
    Source: paper Sec. 3, Theorem 3; ``papers/wang2021.md`` §5 items 3-4.

    >>> naive_gradient().verify().statuses
    ('quoted', 'symbolic', 'symbolic')
    """
    steps = [
        Step(F(eta), "=", loss_expr()[0], "quadratic.loss, step 2", Quote("quadratic.loss", 2)),
        Step(
            Derivative(F(eta), eta),
            "=",
            naive_grad_expr()[0],
            r"differentiate the previous step in $\eta$",
            FromPrevious.differentiate(eta),
        ),
        Step(
            Derivative(F(eta), (eta, 2)),
            "=",
            naive_hess_expr()[0],
            r"differentiate the previous step in $\eta$",
            FromPrevious.differentiate(eta),
        ),
    ]
    return _derivation(
        "quadratic.naive-gradient",
        "Meta-gradient of the naive objective",
        steps,
        _SOURCE + ", Theorem 3 (the closed forms behind its proof, derived here)",
    )


def _log_head() -> list[Step]:
    return [
        Step(
            G(eta),
            "=",
            log_objective_expr()[0],
            r"$G(\eta) = \frac1t \log f(w_{t,\eta})$ with quadratic.loss, step 2",
        ),
        Step(
            Derivative(G(eta), eta),
            "=",
            log_grad_expr()[0],
            r"differentiate the previous step in $\eta$; the factor $t$ cancels against $1/t$",
            FromPrevious.differentiate(eta),
        ),
    ]


def log_gradient() -> Derivation:
    r"""``quadratic.log-gradient``: ``G'`` and ``G''`` of the log meta-objective ``G = (1/t) log f(w_t)``.

    Statement: ``G' = -2 A / B`` and ``G'' = 2 (2t - 1) S_2 - 4t S_1^2`` with
    ``A = sum c^2 lambda^2 x^{2t-1}``, ``B = sum c^2 lambda x^{2t}``, ``C = sum c^2 lambda^3 x^{2t-2}``,
    ``x_i = 1 - eta lambda_i``, ``S_1 = A/B``, ``S_2 = C/B``; hence ``G' = -2 S_1``.
    Check: differentiate the definition twice in ``eta`` (symbolic ``d`` and ``t``).
    Source: paper Sec. 3, Theorem 4; ``papers/wang2021.md`` §5 item 5.

    >>> log_gradient().verify().statuses
    ('definition', 'symbolic', 'symbolic', 'definition', 'definition', 'symbolic', 'symbolic')
    """
    A, B, C = weighted_sum(2, 2 * t - 1), weighted_sum(1, 2 * t), weighted_sum(3, 2 * t - 2)
    steps = _log_head() + [
        Step(
            Derivative(G(eta), (eta, 2)),
            "=",
            2 * (2 * t - 1) * C / B - 4 * t * A**2 / B**2,
            r"differentiate the previous step in $\eta$ (quotient rule)",
            FromPrevious.differentiate(eta),
        ),
        Step(
            S1,
            "=",
            A / B,
            r"weighted mean of $\lambda_i/(1-\eta\lambda_i)$, weights $c_i^2\lambda_i(1-\eta\lambda_i)^{2t}/B$",
        ),
        Step(S2, "=", C / B, r"weighted mean of $\lambda_i^2/(1-\eta\lambda_i)^2$, same weights"),
        Step(
            Derivative(G(eta), (eta, 2)),
            "=",
            2 * (2 * t - 1) * S2 - 4 * t * S1**2,
            "steps 3, 4 and 5",
            Identity(given=(3, 4, 5)),
        ),
        Step(Derivative(G(eta), eta), "=", -2 * S1, "steps 2 and 4", Identity(given=(2, 4))),
    ]
    return _derivation(
        "quadratic.log-gradient",
        "Meta-gradient of the log objective",
        steps,
        _SOURCE + ", Theorem 4 (the closed form behind its proof, derived here)",
    )


def rho_normalised() -> Derivation:
    r"""``quadratic.rho-normalised``: the stable form of ``G'`` with ``s_i = (1 - eta lambda_i)/rho``.

    Statement: ``G'(eta) = -(2/rho) sum c^2 lambda^2 s^{2t-1} / sum c^2 lambda s^{2t}`` with
    ``rho = max_i |1 - eta lambda_i|``, and ``|s_i| <= 1``.
    Check: the identity for symbolic ``d``, ``t``; ``|s_i| <= 1`` at sampled rational instances.
    Source: released code of the paper; ``papers/wang2021.md`` §5 item 6.

    >>> rho_normalised().verify().statuses
    ('definition', 'symbolic', 'definition', 'definition', 'symbolic', 'sampled')
    """
    num = Sum(c[i] ** 2 * lam[i] ** 2 * s[i] ** (2 * t - 1), (i, 1, d))
    den = Sum(c[i] ** 2 * lam[i] * s[i] ** (2 * t), (i, 1, d))
    steps = _log_head() + [
        Step(
            rho,
            "=",
            rho_expr(),
            r"$\rho(\eta) = \max_i |1 - \eta\lambda_i|$, attained at $\lambda_1 = L$ or $\lambda_d = \alpha$ (convex in $\lambda$)",
        ),
        Step(s[i], "=", (1 - eta * lam[i]) / rho, r"normalised factors $s_i$"),
        Step(
            Derivative(G(eta), eta),
            "=",
            -2 / rho * num / den,
            r"substitute $1 - \eta\lambda_i = \rho s_i$ in step 2; $\rho^{2t}$ cancels",
            Identity(given=(2, 4)),
        ),
        Step(
            Abs(s[i]),
            "<=",
            Integer(1),
            r"$\alpha \le \lambda_i \le L$ and step 3, so every power of $s_i$ stays in $[-1, 1]$",
            Bound(
                assumptions=_setting_assumptions(),
                sampler=instance_sampler("any"),
                samples=8,
                seed=2021,
                given=(4, 3),
            ),
        ),
    ]
    return _derivation(
        "quadratic.rho-normalised",
        "Normalised (stable) log meta-gradient",
        steps,
        "Wang et al. (2021), released code [code]: the closed form normalised by rho(eta) (derived here)",
    )


def theorem4_bound() -> Derivation:
    r"""``quadratic.theorem4-bound``: ``|G'(eta)| <= 4 L^3 / (c_min^2 alpha (L - alpha))`` for all ``eta >= 0``.

    Statement (Theorem 4 (ii), with the constant of ``papers/wang2021.md`` §5 item 7):
    ``|A| <= L^2 rho^{2t-1}``; ``B >= c_min^2 alpha rho^{2t}``; hence ``|G'| <= 2L^2/(c_min^2 alpha rho)``;
    ``rho >= (L - alpha)/(L + alpha)``; hence ``|G'| <= 2L^2 (L + alpha)/(c_min^2 alpha (L - alpha))
    <= 4 L^3/(c_min^2 alpha (L - alpha))``.
    Assumptions: ``sum_i c_i^2 = 1``, ``alpha = lambda_d <= lambda_i <= lambda_1 = L``, ``alpha < L``,
    ``c_min = min(|c_1|, |c_d|) > 0``.
    Check: the two sum bounds (steps 4, 5) are sampled at exact rational instances; every other
    inequality is proved symbolically from the earlier steps.
    Source: paper Sec. 3, Theorem 4 (ii); ``papers/wang2021.md`` §5 item 7.

    >>> D = theorem4_bound()   # every step is verified in tests/theory
    >>> D.verify_step(2).status, D.verify_step(10).status
    ('symbolic', 'symbolic')
    """
    A, B = weighted_sum(2, 2 * t - 1), weighted_sum(1, 2 * t)
    gabs = Abs(Derivative(G(eta), eta))
    cond = Rational(1, 1) * c_min**2 * alpha
    b6 = 2 * L**2 / (cond * rho)
    b8 = 2 * L**2 * (L + alpha) / (cond * (L - alpha))
    b9 = 4 * L**3 / (cond * (L - alpha))
    hyp = _setting_assumptions()
    steps = _log_head() + [
        Step(
            rho, "=", rho_expr(), r"$\rho(\eta) = \max_i |1 - \eta\lambda_i|$, attained at $\lambda_1$ or $\lambda_d$"
        ),
        Step(
            Abs(A),
            "<=",
            L**2 * rho ** (2 * t - 1),
            r"$|c_i^2\lambda_i^2(1-\eta\lambda_i)^{2t-1}| \le c_i^2 L^2 \rho^{2t-1}$ and $\sum_i c_i^2 = 1$",
            Bound(assumptions=hyp, sampler=instance_sampler("any"), samples=10, seed=4, given=(3,)),
        ),
        Step(
            B,
            ">=",
            c_min**2 * alpha * rho ** (2 * t),
            r"keep only the extreme direction ($i = 1$ or $i = d$) that attains $\rho$: $c_i^2\lambda_i \ge c_{\min}^2\alpha$",
            Bound(assumptions=hyp, sampler=instance_sampler("any"), samples=10, seed=5, given=(3,)),
        ),
        Step(
            gabs,
            "<=",
            b6,
            r"step 2 with the bounds of steps 4 and 5",
            Bound(assumptions=hyp, sampler=instance_sampler("any"), seed=6, given=(2, 4, 5)),
        ),
        Step(
            rho,
            ">=",
            (L - alpha) / (L + alpha),
            r"$\rho \ge 1 - \eta\alpha$ for $\eta \le 2/(L+\alpha)$ and $\rho \ge \eta L - 1$ beyond",
            Bound(
                assumptions=hyp,
                sampler=instance_sampler("any"),
                seed=7,
                given=(3,),
                split=(eta, (Integer(0), 2 / (L + alpha))),
            ),
        ),
        Step(
            gabs,
            "<=",
            b8,
            r"steps 6 and 7 (the bound of step 6 decreases in $\rho$)",
            Bound(
                assumptions=hyp,
                sampler=instance_sampler("any"),
                seed=8,
                given=(6, 7),
                reparametrize=((L, alpha + delta),),
            ),
        ),
        Step(
            b8,
            "<=",
            b9,
            r"$2L^2(L+\alpha) \le 4L^3$ iff $\alpha \le L$",
            Bound(assumptions=(alpha < L,), reparametrize=((L, alpha + delta),)),
        ),
        Step(
            gabs,
            "<=",
            b9,
            r"steps 8 and 9: a bound free of $t$ (Theorem 4 (ii))",
            Bound(assumptions=hyp, sampler=instance_sampler("any"), seed=10, given=(8, 9)),
        ),
    ]
    return _derivation(
        "quadratic.theorem4-bound",
        "The log meta-gradient is bounded independently of t",
        steps,
        _SOURCE + ", Theorem 4 (ii) (the explicit constant is derived here, not the paper's)",
        _SETTING
        + (r"$\sum_i c_i^2 = 1$", r"$\alpha = \lambda_d < \lambda_1 = L$", r"$c_{\min} = \min(|c_1|, |c_d|) > 0$"),
    )


def theorem3() -> Derivation:
    r"""``quadratic.theorem3``: convexity and the one-sided bounds of Theorem 3 for the naive objective.

    Statement: (i) ``F''(eta) >= 0`` for all ``eta`` (and ``> 0`` under ``c_1, c_d != 0``,
    ``L > alpha``); (ii) ``|F'(eta)| = t |sum c^2 lambda^2 (1 - eta lambda)^{2t-1}|
    <= t sum c^2 lambda^2 |1 - eta lambda|^{2t-1}`` (equality before the triangle inequality,
    remark (a)); (iii) for ``eta > 2/L``:
    ``|F'(eta)| >= c_1^2 L^2 t (eta L - 1)^{2t-1} - L^2 t`` (remark (b): the ``i = 1`` term is
    ``t c_1^2 L^2 (eta L - 1)^{2t-1}``, terms with ``eta lambda_i > 2`` have the same sign, terms with
    ``|1 - eta lambda_i| <= 1`` sum to at most ``t L^2 sum_i c_i^2 = t L^2``).
    Assumptions: ``sum_i c_i^2 = 1``, ``lambda_i <= L = lambda_1``.
    Source: paper Sec. 3, Theorem 3; ``papers/wang2021.md`` §3.2 remarks (a), (b) and §5 items 3-4.

    >>> D = theorem3()   # every step is verified in tests/theory
    >>> D.verify_step(2).status, D.verify_step(4).status
    ('symbolic', 'symbolic')
    """
    A = weighted_sum(2, 2 * t - 1)
    A_flip = Sum(c[i] ** 2 * lam[i] ** 2 * (eta * lam[i] - 1) ** (2 * t - 1), (i, 1, d))
    fabs = Abs(Derivative(F(eta), eta))
    hyp = _setting_assumptions()
    steps = [
        Step(F(eta), "=", loss_expr()[0], "quadratic.loss, step 2", Quote("quadratic.loss", 2)),
        Step(
            Derivative(F(eta), eta), "=", naive_grad_expr()[0], r"differentiate in $\eta$", FromPrevious.differentiate(eta)
        ),
        Step(
            Derivative(F(eta), (eta, 2)), "=", naive_hess_expr()[0], r"differentiate in $\eta$", FromPrevious.differentiate(eta)
        ),
        Step(
            Derivative(F(eta), (eta, 2)),
            ">=",
            Integer(0),
            r"(i) every term of step 3 has an even power and $\lambda_i > 0$: $F$ is convex",
            Bound(given=(3,)),
        ),
        Step(
            Derivative(F(eta), (eta, 2)),
            ">",
            Integer(0),
            r"(i) strictly: the $i = 1$ and $i = d$ terms cannot both vanish ($c_1, c_d \ne 0$, $L > \alpha$)",
            Bound(assumptions=hyp, sampler=instance_sampler("any"), samples=10, seed=3, given=(3,)),
        ),
        Step(fabs, "=", t * Abs(A), r"(ii) remark (a): step 2 in absolute value", Identity(given=(2,))),
        Step(
            t * Abs(A),
            "<=",
            t * Sum(c[i] ** 2 * lam[i] ** 2 * Abs(1 - eta * lam[i]) ** (2 * t - 1), (i, 1, d)),
            r"(ii) triangle inequality; for $\eta < 2/L$ every $|1 - \eta\lambda_i| < 1$ (vanishing)",
            Bound(assumptions=hyp + (eta < 2 / L,), sampler=instance_sampler("below"), seed=7),
        ),
        Step(
            fabs,
            "=",
            t * Abs(A_flip),
            r"(iii) $2t - 1$ is odd: $(1 - \eta\lambda_i)^{2t-1} = -(\eta\lambda_i - 1)^{2t-1}$",
            Identity(given=(2,)),
        ),
        Step(
            A_flip,
            ">=",
            c[1] ** 2 * L**2 * (eta * L - 1) ** (2 * t - 1) - L**2,
            r"(iii) remark (b): the $i = 1$ term, terms with $\eta\lambda_i > 2$ are positive, the rest are at least $-c_i^2 L^2$",
            Bound(assumptions=hyp + (eta > 2 / L,), sampler=instance_sampler("above"), samples=12, seed=9),
        ),
        Step(
            fabs,
            ">=",
            c[1] ** 2 * L**2 * t * (eta * L - 1) ** (2 * t - 1) - L**2 * t,
            r"(iii) steps 8 and 9, $|x| \ge x$; for $\eta > 2/L$, $\eta L - 1 > 1$ (explosion)",
            Bound(assumptions=hyp + (eta > 2 / L,), sampler=instance_sampler("above"), seed=10, given=(8, 9)),
        ),
    ]
    return _derivation(
        "quadratic.theorem3",
        "Naive objective: convexity, vanishing and exploding meta-gradient",
        steps,
        _SOURCE + ", Theorem 3 (the proof of (ii) and (iii), derived here)",
        _SETTING + (r"$\sum_i c_i^2 = 1$", r"$\lambda_i \le \lambda_1 = L$"),
    )


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "quadratic.iterate": iterate,
    "quadratic.loss": loss,
    "quadratic.naive-gradient": naive_gradient,
    "quadratic.log-gradient": log_gradient,
    "quadratic.rho-normalised": rho_normalised,
    "quadratic.theorem3": theorem3,
    "quadratic.theorem4-bound": theorem4_bound,
}

