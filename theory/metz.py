r"""Meta-loss, truncation, Gaussian smoothing and gradient estimators of Metz et al. (2019).

Setting (Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), "Understanding and
correcting pathologies in the training of learned optimizers", ICML; the spec's Sections 3.2, 4
and 5, checkable claims A1, A4, A5). Most statements are tagged [derived] in the spec: the algebra
here is derived here, not quoted from the paper.

``metz.meta-loss``
    GD on ``f(w) = 1/2 sum_i lambda_i w_i^2`` from ``w_0 = c``: the averaged meta-loss
    ``L_T(eta) = (1/T) sum_{t=1}^T f(w_t) = (1/(2T)) sum_i lambda_i c_i^2 S_{T,i}``,
    ``S_{T,i} = sum_t r_i^{2t} = r_i^2 (1 - r_i^{2T}) / (1 - r_i^2)``, ``r_i = 1 - eta lambda_i``, and
    ``dL_T/deta = -(1/T) sum_i lambda_i^2 c_i^2 D_{T,i}``,
    ``D_{T,i} = sum_t t r_i^{2t-1} = r_i (1 - (T+1) r_i^{2T} + T r_i^{2T+2}) / (1 - r_i^2)^2`` (A1).
``metz.tbptt-gradient``
    truncated BPTT with windows of ``K`` steps (``T = N K``): window ``j`` starts at ``w_{jK}``
    held fixed; its gradient is ``-(1/T) sum_i lambda_i^2 w_{jK,i}^2 D_{K,i}`` and the total is
    ``-(1/T) sum_i lambda_i^2 c_i^2 D_{K,i} (1 - r_i^{2T}) / (1 - r_i^{2K})``; one window is the
    full meta-gradient.
``metz.smoothing``
    ``Ltilde(theta) = E[L(theta + sigma eps)]`` and Stein's identity
    ``dLtilde/dtheta = (1/sigma) E[(L(theta + sigma eps) - c) eps]`` for any constant ``c`` (one
    dimension, any bounded ``L``).
``metz.smoothing-bound``
    ``|dLtilde/dtheta| <= (sup L - inf L) sqrt(2/pi) / (2 sigma)``.
``metz.quadratic-estimators``
    A4 on ``L = 1/2 theta^T A theta + b^T theta``: the smoothed loss, the moments of the
    reparameterization (RP) and antithetic ES estimators (at ``d = 1, 2, 3``: status ``concrete-d``).
``metz.inverse-variance``
    A5: the variance of ``w g_1 + (1 - w) g_2``, its minimiser and minimum, and the merged form.

How the steps are checked. Finite sums over time are written as ``Sum`` objects; their closed
forms are proved by induction on the partial sums ``S``, ``D`` (defined recursively, as finite sums
are); exchanging two finite sums is a :class:`FromPrevious` operation (``_swap_sums``, which
refuses limits that depend on each other). The smoothing derivations are
:class:`IntegralDerivation` objects: the zero test first splits every integral over the real line
by linearity (constant factors out, the integrand expanded into terms), just as the base class
splits sums; integrals are *evaluated* only by :func:`sympy.integrate` inside a
:class:`FromPrevious` operation ("multiply by ... and integrate over the real line").

>>> tuple(DERIVATIONS)[:2]
('metz.meta-loss', 'metz.tbptt-gradient')
>>> sympy.simplify(geometric_closed(r_sym, 1) - r_sym**2)
0
"""

from __future__ import annotations

from typing import Callable

import sympy
from sympy import (
    Abs,
    Add,
    Basic,
    Derivative,
    Function,
    IndexedBase,
    Integer,
    Integral,
    MatrixSymbol,
    Mul,
    Rational,
    Sum,
    Symbol,
    Trace,
    exp,
    expand,
    oo,
    pi,
    sqrt,
)

from l2l.theory.derivation import (
    Assumed,
    Bound,
    Derivation,
    FromPrevious,
    Identity,
    Induction,
    Quote,
    Step,
)
from l2l.theory.expectation import Expectation, Gaussian, KnownMoments, MomentDerivation, Sc, ScalarMomentDerivation, expect
from l2l.theory.quadratic import F, c, d, eta, i, lam, t, tau, w

__all__ = [
    "T",
    "K",
    "N",
    "j",
    "k",
    "r_sym",
    "geometric_closed",
    "weighted_geometric_closed",
    "IntegralDerivation",
    "meta_loss",
    "tbptt_gradient",
    "smoothing",
    "smoothing_bound",
    "quadratic_estimators",
    "inverse_variance",
    "DERIVATIONS",
]

_SOURCE = "Metz et al. (2019)"

# ------------------------------------------------------------------------------------------------
# symbols

T = Symbol("T", integer=True, positive=True)
K = Symbol("K", integer=True, positive=True)
N = Symbol("N", integer=True, positive=True)
j = Symbol("j", integer=True, nonnegative=True)
k = Symbol("k", integer=True, positive=True)
n_ = Symbol("n", integer=True, nonnegative=True)
r_sym = Symbol("r", real=True)
ell = IndexedBase("ell", real=True)
S = IndexedBase("S", real=True)
D = IndexedBase("D", real=True)
E_ = IndexedBase("E", real=True)
u = IndexedBase("u", real=True)
LT = Function("L_T")
J = Function("J")
G = Function("g_TBPTT")


def geometric_closed(r: Basic, horizon: Basic) -> Basic:
    r"""``sum_{t=1}^{T} r^{2t} = r^2 (1 - r^{2T}) / (1 - r^2)`` (for ``r^2 != 1``)."""
    return r**2 * (1 - r ** (2 * horizon)) / (1 - r**2)


def weighted_geometric_closed(r: Basic, horizon: Basic) -> Basic:
    r"""``sum_{t=1}^{T} t r^{2t-1} = r (1 - (T+1) r^{2T} + T r^{2T+2}) / (1 - r^2)^2`` (for ``r^2 != 1``)."""
    return r * (1 - (horizon + 1) * r ** (2 * horizon) + horizon * r ** (2 * horizon + 2)) / (1 - r**2) ** 2


def _r(idx: Basic = i) -> Basic:
    return 1 - eta * lam[idx]


def _swap_sums() -> FromPrevious:
    """``FromPrevious``: exchange two nested finite sums, ``sum_a c sum_b f = sum_b sum_a c f``.

    Valid when neither range depends on the other index and the constant ``c`` does not depend on
    ``b``; the operation checks both and raises (a failed step) otherwise."""

    def one(outer: Sum) -> Basic:
        if len(outer.limits) != 1:
            return outer
        (a, a0, a1) = outer.limits[0]
        inner = [f for f in Mul.make_args(outer.function) if isinstance(f, Sum)]
        if len(inner) != 1 or len(inner[0].limits) != 1:
            return outer
        s_ = inner[0]
        (b, b0, b1) = s_.limits[0]
        rest = outer.function / s_
        if rest.has(b) or any(x.has(a) for x in (b0, b1)) or any(x.has(b) for x in (a0, a1)):
            raise ValueError("the two sums cannot be exchanged: a range or the factor depends on the other index")
        # the factor free of the old outer index stays outside the new inner sum (a Sum whose body
        # is a bare Sum would be merged into one multiple sum by SymPy)
        outside, inside = (rest * s_.function).as_independent(a, as_Add=False)
        return Sum(outside * Sum(inside, (a, a0, a1)), (b, b0, b1))

    def op(e: Basic) -> Basic:
        return e.replace(lambda x: isinstance(x, Sum) and x.function.has(Sum), one)

    return FromPrevious(op, "exchange the order of the two finite sums (independent ranges)")


def _differentiate(var: Symbol, source: int | None = None) -> FromPrevious:
    """``FromPrevious``: differentiate both sides in ``var``, then combine powers of one base
    (``powsimp``: SymPy writes ``d/deta r^(2t)`` as ``2t r^(2t) (-lambda) / r``)."""
    def op(e: Basic) -> Basic:
        out = sympy.diff(e, var)
        out = out.replace(lambda x: isinstance(x, Sum), lambda s_: Sum(sympy.powsimp(s_.function), *s_.limits))
        return sympy.powsimp(out)

    return FromPrevious(op, f"differentiate in {var} (then powers of one base combined)", source)


def _derivation(name: str, title: str, steps: list[Step], source: str, assumptions, **kw) -> Derivation:
    return Derivation(name, title, steps, source, tuple(assumptions), dimension=d, index=i, **kw)


# ------------------------------------------------------------------------------------------------
# metz.meta-loss


def _partial_sum_steps(seq: IndexedBase, horizon: Basic, var: Basic, term: Callable[[Basic], Basic], closed: Basic,
                       name: str, first: int) -> list[Step]:
    """Four steps: ``seq[H, i] = sum_{var=1}^{H} term(var)``; its recursive definition; the closed form by induction."""
    return [
        Step(seq[horizon, i], "=", Sum(term(var), (var, 1, horizon)), f"notation: the partial sums ${name}$"),
        Step(seq[0, i], "=", Integer(0), "the empty sum (a finite sum is defined recursively)"),
        Step(
            seq[tau + 1, i],
            "=",
            seq[tau, i] + term(tau + 1),
            r"the next partial sum adds the term $" + sympy.latex(var) + r" = \tau + 1$",
        ),
        Step(
            seq[horizon, i],
            "=",
            closed,
            f"induction on ${sympy.latex(horizon)}$ from steps {first + 1} and {first + 2} ($r_i^2 \\ne 1$)",
            Induction(base=first + 1, recurrence=first + 2),
        ),
    ]


def meta_loss() -> Derivation:
    r"""``metz.meta-loss``: the averaged meta-loss of GD on a diagonal quadratic and its meta-gradient.

    Statement: ``L_T(eta) = (1/T) sum_{t=1}^T f(w_t) = (1/(2T)) sum_i lambda_i c_i^2 sum_t r_i^{2t}``
    with the geometric closed form, and ``dL_T/deta = -(1/T) sum_i lambda_i^2 c_i^2 sum_t t
    r_i^{2t-1}`` with its closed form (A1 for one component: ``a = lambda_1``, ``w_0 = c_1``).
    Check: the per-step loss is quoted from ``quadratic.loss`` (Wang et al.'s last-iterate loss);
    the sums are exchanged; the closed forms by induction; the derivative of the closed form of
    ``L_T`` agrees with the closed form of the derivative.

    >>> meta_loss().verify_step(9).status
    'symbolic'
    """
    r = _r()
    loss_t = Rational(1, 2) * Sum(c[i] ** 2 * lam[i] * r ** (2 * t), (i, 1, d))
    avg = Sum(ell[t], (t, 1, T)) / T
    S_closed = geometric_closed(r, T)
    D_closed = weighted_geometric_closed(r, T)
    grad_sum = -Sum(lam[i] ** 2 * c[i] ** 2 * Sum(t * r ** (2 * t - 1), (t, 1, T)), (i, 1, d)) / T
    steps = [
        Step(w[t, i], "=", c[i] * r**t, "quadratic.iterate, step 3: the GD iterate in the eigenbasis", Quote("quadratic.iterate", 3)),
        Step(
            ell[t],
            "=",
            loss_t,
            r"the loss after $t$ steps, $\ell_t = f(w_t)$, is Wang et al.'s last-iterate loss (quadratic.loss, step 2)",
            Quote("quadratic.loss", 2, substitute=((F(eta), ell[t]),)),
        ),
        Step(LT(eta), "=", avg, r"the meta-loss: the average of the inner loss along the unroll of length $T$"),
        Step(LT(eta), "=", avg.xreplace({ell[t]: loss_t}), "substitute step 2 into step 3", Identity(given=(3, 2))),
        Step(
            LT(eta),
            "=",
            Sum(c[i] ** 2 * lam[i] * Sum(r ** (2 * t), (t, 1, T)), (i, 1, d)) / (2 * T),
            "exchange the sums over $t$ and $i$",
            _swap_sums(),
        ),
        *_partial_sum_steps(S, T, t, lambda x: r ** (2 * x), S_closed, r"S_{T,i} = \sum_{t=1}^T r_i^{2t}", 6),
        Step(LT(eta), "=", Sum(c[i] ** 2 * lam[i] * S[T, i], (i, 1, d)) / (2 * T), "steps 5 and 6", Identity(given=(5, 6))),
        Step(
            LT(eta),
            "=",
            Sum(c[i] ** 2 * lam[i] * S_closed, (i, 1, d)) / (2 * T),
            "the geometric sum of step 9 in step 10",
            Identity(given=(10, 9)),
        ),
        Step(Derivative(LT(eta), eta), "=", grad_sum, r"differentiate step 5 in $\eta$", _differentiate(eta, source=5)),
        *_partial_sum_steps(D, T, t, lambda x: x * r ** (2 * x - 1), D_closed, r"D_{T,i} = \sum_{t=1}^T t\, r_i^{2t-1}", 13),
        Step(
            Derivative(LT(eta), eta),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * D[T, i], (i, 1, d)) / T,
            "steps 12 and 13",
            Identity(given=(12, 13)),
        ),
        Step(
            Derivative(LT(eta), eta),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * D_closed, (i, 1, d)) / T,
            r"the closed form of step 16 in step 17 (A1 for $d = 1$, $a = \lambda_1$, $w_0 = c_1$)",
            Identity(given=(17, 16)),
        ),
    ]
    return _derivation(
        "metz.meta-loss",
        "Averaged meta-loss of GD on a quadratic and its meta-gradient",
        steps,
        _SOURCE + ", Section 3.2 and claim A1 (the closed forms are derived here)",
        (
            r"$f(w) = \frac12 \sum_i \lambda_i w_i^2$, $w_0 = c$, $\eta \ge 0$",
            r"$T \ge 1$ an integer, $r_i = 1 - \eta\lambda_i$",
            r"$r_i^2 \ne 1$ (that is $\eta\lambda_i \notin \{0, 2\}$) for the closed forms",
        ),
        horizon=T,
    )


# ------------------------------------------------------------------------------------------------
# metz.tbptt-gradient


def tbptt_gradient() -> Derivation:
    r"""``metz.tbptt-gradient``: the truncated-BPTT meta-gradient on a diagonal quadratic.

    Statement: windows ``{jK+1, ..., jK+K}``, ``j = 0..N-1``, ``T = NK``; inside window ``j`` the
    iterate is ``w_{jK+k} = r^k w_{jK}`` with ``w_{jK}`` held fixed (no derivative through it); the
    window's gradient is ``-(1/T) sum_i lambda_i^2 w_{jK,i}^2 D_{K,i}``; the total is
    ``-(1/T) sum_i lambda_i^2 c_i^2 D_{K,i} (1 - r_i^{2T}) / (1 - r_i^{2K})``; for ``N = 1``
    (one window, ``K = T``) it is the full meta-gradient of ``metz.meta-loss``.

    >>> tbptt_gradient().verify_step(5).status
    'symbolic'
    """
    r = _r()
    T_ = N * K
    DK = weighted_geometric_closed(r, K)
    geo_w = (1 - r ** (2 * N * K)) / (1 - r ** (2 * K))
    window = Sum(Rational(1, 2) * Sum(lam[i] * w[j * K + k, i] ** 2, (i, 1, d)), (k, 1, K)) / T_
    win_grad = -Sum(lam[i] ** 2 * c[i] ** 2 * r ** (2 * j * K) * DK, (i, 1, d)) / T_
    total = -Sum(lam[i] ** 2 * c[i] ** 2 * DK * geo_w, (i, 1, d)) / T_
    steps = [
        Step(
            w[j * K + k, i],
            "=",
            u[i] * r**k,
            r"inside window $j$, GD restarts from $u = w_{jK}$: quadratic.iterate, step 3, from $u$ for $k$ steps",
            Quote("quadratic.iterate", 3, substitute=((w[t, i], w[j * K + k, i]), (t, k), (c[i], u[i]))),
        ),
        Step(J(j, eta), "=", window, r"window $j$'s part of the meta-loss $\frac1T \sum_t f(w_t)$, $T = NK$"),
        Step(
            J(j, eta),
            "=",
            Sum(Rational(1, 2) * Sum(lam[i] * u[i] ** 2 * r ** (2 * k), (i, 1, d)), (k, 1, K)) / T_,
            "substitute step 1 into step 2",
            Identity(given=(2, 1)),
        ),
        Step(
            J(j, eta),
            "=",
            Sum(lam[i] * u[i] ** 2 * Sum(r ** (2 * k), (k, 1, K)), (i, 1, d)) / (2 * T_),
            "exchange the sums over $k$ and $i$",
            _swap_sums(),
        ),
        Step(
            Derivative(J(j, eta), eta),
            "=",
            -Sum(lam[i] ** 2 * u[i] ** 2 * Sum(k * r ** (2 * k - 1), (k, 1, K)), (i, 1, d)) / T_,
            r"differentiate in $\eta$ with the window's start $u = w_{jK}$ held fixed (truncation: no derivative flows across the window boundary)",
            _differentiate(eta),
        ),
        Step(
            D[K, i],
            "=",
            Sum(k * r ** (2 * k - 1), (k, 1, K)),
            "metz.meta-loss, step 13, with $T = K$: the partial sums $D_{K,i}$",
            Quote("metz.meta-loss", 13, substitute=((T, K), (t, k))),
        ),
        Step(D[K, i], "=", DK, "metz.meta-loss, step 16, with $T = K$", Quote("metz.meta-loss", 16, substitute=((T, K),))),
        Step(
            Derivative(J(j, eta), eta),
            "=",
            -Sum(lam[i] ** 2 * u[i] ** 2 * D[K, i], (i, 1, d)) / T_,
            "steps 5 and 6",
            Identity(given=(5, 6)),
        ),
        Step(
            Derivative(J(j, eta), eta),
            "=",
            -Sum(lam[i] ** 2 * u[i] ** 2 * DK, (i, 1, d)) / T_,
            "the closed form of step 7 in step 8",
            Identity(given=(8, 7)),
        ),
        Step(
            u[i],
            "=",
            c[i] * r ** (j * K),
            r"window $j$ starts on the unperturbed trajectory: quadratic.iterate, step 3, at $t = jK$",
            Quote("quadratic.iterate", 3, substitute=((w[t, i], u[i]), (t, j * K))),
        ),
        Step(Derivative(J(j, eta), eta), "=", win_grad, "steps 9 and 10", Identity(given=(9, 10))),
        Step(
            G(N, K),
            "=",
            Sum(Derivative(J(j, eta), eta), (j, 0, N - 1)),
            "the TBPTT meta-gradient: the sum of the window gradients over one inner run",
        ),
        Step(G(N, K), "=", Sum(win_grad, (j, 0, N - 1)), "steps 11 and 12", Identity(given=(12, 11))),
        Step(
            G(N, K),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * DK * Sum(r ** (2 * j * K), (j, 0, N - 1)), (i, 1, d)) / T_,
            "exchange the sums over $j$ and $i$",
            _swap_sums(),
        ),
        Step(E_[N, i], "=", Sum(r ** (2 * j * K), (j, 0, N - 1)), r"notation: the partial sums $E_{N,i} = \sum_{j=0}^{N-1} r_i^{2jK}$"),
        Step(E_[0, i], "=", Integer(0), "the empty sum (a finite sum is defined recursively)"),
        Step(E_[tau + 1, i], "=", E_[tau, i] + r ** (2 * K * tau), r"the next partial sum adds the term $j = \tau$"),
        Step(
            E_[N, i],
            "=",
            geo_w,
            r"induction on $N$ from steps 16 and 17 ($r_i^{2K} \ne 1$)",
            Induction(base=16, recurrence=17),
        ),
        Step(
            G(N, K),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * DK * E_[N, i], (i, 1, d)) / T_,
            "steps 14 and 15",
            Identity(given=(14, 15)),
        ),
        Step(G(N, K), "=", total, "the closed form of step 18 in step 19", Identity(given=(19, 18))),
        Step(
            G(1, K),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * DK, (i, 1, d)) / K,
            r"one window ($N = 1$, $K = T$)",
            FromPrevious.substitute({N: Integer(1)}),
        ),
        Step(
            Derivative(LT(eta), eta),
            "=",
            -Sum(lam[i] ** 2 * c[i] ** 2 * DK, (i, 1, d)) / K,
            "metz.meta-loss, step 18, with $T = K$",
            Quote("metz.meta-loss", 18, substitute=((T, K),)),
        ),
        Step(
            G(1, K),
            "=",
            Derivative(LT(eta), eta),
            "steps 21 and 22: with one window of the full length, TBPTT is the exact meta-gradient",
            Identity(given=(21, 22)),
        ),
    ]
    return _derivation(
        "metz.tbptt-gradient",
        "Truncated-BPTT meta-gradient on a diagonal quadratic",
        steps,
        _SOURCE + ", Section 2 (truncation) and Section 3.1 (bias of short truncations); the closed form is derived here",
        (
            r"$f(w) = \frac12 \sum_i \lambda_i w_i^2$, $w_0 = c$, $r_i = 1 - \eta\lambda_i$",
            r"$T = NK$: $N$ windows of $K$ steps; window $j$ covers steps $jK + 1, \dots, jK + K$",
            r"no derivative flows through a window's start $w_{jK}$",
            r"$r_i^2 \ne 1$ and $r_i^{2K} \ne 1$ for the closed forms",
        ),
        horizon=N,
    )


# ------------------------------------------------------------------------------------------------
# Gaussian smoothing (one dimension)


def _canonical_integrals(expr: Basic) -> Basic:
    """Split each one-variable ``Integral`` by linearity: ``sum_k coeff_k * Integral(part_k)``,
    with the constant factors (free of the integration variable) outside; equal parts are then
    equal atoms for the zero test. Like ``theory.derivation._canonical_sums`` for sums."""

    def canon(e: Integral) -> Basic:
        if len(e.limits) != 1 or len(e.limits[0]) != 3:
            return e
        var = e.limits[0][0]
        out = []
        for term in Add.make_args(expand(e.function)):
            coeff, part = term.as_independent(var, as_Add=False)
            out.append(coeff * Integral(part, e.limits[0]))
        return Add(*out)

    return expr.replace(lambda e: isinstance(e, Integral), canon)


class IntegralDerivation(Derivation):
    """A :class:`theory.derivation.Derivation` whose zero test first splits integrals by linearity
    (:func:`_canonical_integrals`); everything else is the base class's check."""

    def _check_zero(self, expr: Basic) -> tuple[str, str]:
        status, detail = super()._check_zero(_canonical_integrals(expr))
        if expr.has(Integral) and status != "failed":
            detail = "integrals split by linearity (constant factors out, integrands expanded); " + detail
        return status, detail


x = Symbol("x", real=True)
theta = Symbol("theta", real=True)
sigma = Symbol("sigma", positive=True)
c0 = Symbol("c", real=True)
Lf = Function("L")
Lt = Function("Ltilde")
p = Function("p")
L_sup = Symbol("L_sup", real=True)
L_inf = Symbol("L_inf", real=True)
_uu = Symbol("u", nonnegative=True)
_vv = Symbol("v", nonnegative=True)
_REAL_LINE = (x, -oo, oo)


def _density() -> Basic:
    return exp(-((x - theta) ** 2) / (2 * sigma**2)) / (sigma * sqrt(2 * pi))


def _integrate(weight: Basic, what: str, source: int = 1) -> FromPrevious:
    """``FromPrevious``: multiply both sides of step ``source`` by ``weight`` and integrate over the
    real line (SymPy's ``integrate``: it evaluates the Gaussian integrals of the density)."""
    return FromPrevious(
        lambda e: sympy.integrate(weight * e, _REAL_LINE),
        f"multiply by {sympy.sstr(weight)} and integrate over x in (-oo, oo) ({what})",
        source,
    )


def _smoothing_head() -> list[Step]:
    pd = p(x, theta)
    score = (x - theta) / sigma**2
    return [
        Step(pd, "=", _density(), r"the density of $x = \theta + \sigma\varepsilon$, $\varepsilon \sim N(0, 1)$"),
        Step(Integral(pd, _REAL_LINE), "=", Integer(1), "the density integrates to 1 (SymPy integrates step 1)", _integrate(Integer(1), "normalisation")),
        Step(
            Derivative(pd, theta),
            "=",
            score * pd,
            r"the score: $\partial_\theta p = \frac{x - \theta}{\sigma^2} p$, with $\frac{x - \theta}{\sigma^2} = \varepsilon/\sigma$",
            Identity(given=(1,)),
        ),
        Step(
            Integral(score * pd, _REAL_LINE),
            "=",
            Integer(0),
            r"$E[\varepsilon] = 0$ (SymPy integrates step 1 times the score)",
            _integrate(score, "first moment"),
        ),
    ]


def smoothing() -> Derivation:
    r"""``metz.smoothing``: the Gaussian-smoothed objective and Stein's identity (one dimension).

    Statement: ``Ltilde(theta) = E[L(theta + sigma eps)] = int L(x) p_theta(x) dx`` and, for any
    constant ``c``, ``dLtilde/dtheta = int (L(x) - c) (x - theta)/sigma^2 p_theta(x) dx
    = (1/sigma) E[(L(theta + sigma eps) - c) eps]``.
    Check: the density's normalisation and first moment are integrated by SymPy; the derivative
    passes under the integral (Leibniz rule) and only the density depends on ``theta``; the score
    identity is symbolic; the rest is linearity of the integral.

    >>> smoothing().verify_step(3).status
    'symbolic'
    """
    pd = p(x, theta)
    score = (x - theta) / sigma**2
    steps = _smoothing_head() + [
        Step(Lt(theta), "=", Integral(Lf(x) * pd, _REAL_LINE), r"the smoothed objective $\tilde L(\theta) = E[L(\theta + \sigma\varepsilon)]$, written over $x$"),
        Step(
            Derivative(Lt(theta), theta),
            "=",
            Integral(Lf(x) * Derivative(pd, theta), _REAL_LINE),
            r"differentiate under the integral sign ($L$ bounded and measurable: dominated convergence); only the density depends on $\theta$",
            FromPrevious.differentiate(theta),
        ),
        Step(Derivative(Lt(theta), theta), "=", Integral(Lf(x) * score * pd, _REAL_LINE), "the score of step 3", Identity(given=(6, 3))),
        Step(
            Integral((Lf(x) - c0) * score * pd, _REAL_LINE),
            "=",
            Integral(Lf(x) * score * pd, _REAL_LINE) - c0 * Integral(score * pd, _REAL_LINE),
            "linearity of the integral",
            Identity(),
        ),
        Step(
            Derivative(Lt(theta), theta),
            "=",
            Integral((Lf(x) - c0) * score * pd, _REAL_LINE),
            r"Stein's identity with any constant $c$: steps 7, 8 and 4; with $x = \theta + \sigma\varepsilon$ it reads $\frac1\sigma E[(L(\theta + \sigma\varepsilon) - c)\varepsilon]$",
            Identity(given=(7, 8, 4)),
        ),
    ]
    return IntegralDerivation(
        "metz.smoothing",
        "Gaussian-smoothed meta-loss and Stein's identity",
        steps,
        _SOURCE + ", Section 4 (the smoothed objective; the identity with a constant is derived here)",
        (r"$\theta \in \mathbb{R}$, $\sigma > 0$, $\varepsilon \sim N(0, 1)$", r"$L$ bounded and measurable", r"$c$ any constant"),
    )


def smoothing_bound() -> Derivation:
    r"""``metz.smoothing-bound``: ``|dLtilde/dtheta| <= (sup L - inf L) sqrt(2/pi) / (2 sigma)``.

    Check: Stein's identity with ``c`` the midpoint is quoted; ``|L - c| <= (sup L - inf L)/2`` is
    proved by the bound prover; ``E|eps| = sqrt(2/pi)`` is integrated by SymPy; the step
    ``|int f g p| <= sup|f| int |g| p`` (monotonicity of the integral) is an unchecked premise, so
    the derivation's status is ``assumed``.

    >>> smoothing_bound().verify_step(3).status
    'symbolic'
    """
    pd = p(x, theta)
    score = (x - theta) / sigma**2
    mid, half = (L_sup + L_inf) / 2, (L_sup - L_inf) / 2
    steps = [
        Step(pd, "=", _density(), r"the density of $x = \theta + \sigma\varepsilon$, $\varepsilon \sim N(0, 1)$"),
        Step(
            Derivative(Lt(theta), theta),
            "=",
            Integral((Lf(x) - mid) * score * pd, _REAL_LINE),
            r"metz.smoothing, step 9, with $c$ the midpoint $(\sup L + \inf L)/2$",
            Quote("metz.smoothing", 9, substitute=((c0, mid),)),
        ),
        Step(
            Lf(x) - mid,
            "<=",
            half,
            r"hypothesis $L(x) \le \sup L$ (reparametrised $\sup L = L(x) + v$, $v \ge 0$): $L$ exceeds the midpoint by at most half the range",
            Bound(reparametrize=((Lf(x), L_inf + _uu), (L_sup, L_inf + _uu + _vv))),
        ),
        Step(
            mid - Lf(x),
            "<=",
            half,
            r"hypothesis $L(x) \ge \inf L$ (reparametrised $L(x) = \inf L + u$, $u \ge 0$): $L$ falls below the midpoint by at most half the range",
            Bound(reparametrize=((Lf(x), L_inf + _uu), (L_sup, L_inf + _uu + _vv))),
        ),
        Step(
            Abs(Derivative(Lt(theta), theta)),
            "<=",
            half * Integral(Abs(x - theta) / sigma**2 * pd, _REAL_LINE),
            r"steps 2, 3 and 4: $|L(x) - c| \le (\sup L - \inf L)/2$ and $|\int f g p| \le \sup|f| \int |g| p$ for a density $p \ge 0$",
            Assumed("monotonicity of the integral, not checked by SymPy"),
        ),
        Step(
            Integral(Abs(x - theta) / sigma**2 * pd, _REAL_LINE),
            "=",
            sqrt(2 / pi) / sigma,
            r"$E|\varepsilon| / \sigma = \sqrt{2/\pi}/\sigma$ (SymPy integrates step 1 times $|x - \theta|/\sigma^2$)",
            _integrate(Abs(x - theta) / sigma**2, "absolute first moment"),
        ),
        Step(
            Abs(Derivative(Lt(theta), theta)),
            "<=",
            (L_sup - L_inf) * sqrt(2 / pi) / (2 * sigma),
            r"steps 5 and 6: a bound that does not depend on the unroll length",
            Bound(given=(5, 6)),
        ),
    ]
    return IntegralDerivation(
        "metz.smoothing-bound",
        "Derivative bound of the smoothed meta-loss",
        steps,
        _SOURCE + ", Section 4 (the bound is derived here)",
        (r"$\sigma > 0$, $\varepsilon \sim N(0, 1)$", r"$\inf L \le L \le \sup L$ (bounded meta-loss)"),
    )


# ------------------------------------------------------------------------------------------------
# metz.quadratic-estimators (A4)

_th = MatrixSymbol("theta", d, 1)
_A = MatrixSymbol("A", d, d)
_b = MatrixSymbol("b", d, 1)
_eps = MatrixSymbol("epsilon", d, 1)
_gL = MatrixSymbol("gradL", d, 1)
_grp = MatrixSymbol("g_rp", d, 1)
_grp_pair = MatrixSymbol("gbar_rp", d, 1)
_ges = MatrixSymbol("g_es", d, 1)


def _quad(v) -> Basic:
    return Sc(v.T * _A * v) / 2 + Sc(_b.T * v)


def quadratic_estimators() -> Derivation:
    r"""``metz.quadratic-estimators`` (A4): the smoothed loss and the RP / antithetic ES moments on a quadratic.

    Statement: for ``L(theta) = 1/2 theta^T A theta + b^T theta`` (``A`` symmetric) and
    ``eps ~ N(0, I)``: ``E[L(theta + sigma eps)] = L(theta) + (sigma^2/2) tr A``; the single-sample
    RP estimator ``g = grad L(theta + sigma eps)`` has mean ``grad L`` and covariance
    ``sigma^2 A^2`` (total variance ``sigma^2 tr(A^2) = sigma^2 ||A||_F^2``); the pair-averaged RP
    estimator is exactly ``grad L``; the antithetic ES estimator is ``(eps^T grad L) eps``, with mean
    ``grad L``, covariance ``||grad L||^2 I + grad L grad L^T`` and total variance
    ``(d + 1) ||grad L||^2``, whatever ``sigma``.
    Check: every ``E[...]`` is computed from ``eps ~ N(0, I)`` by Isserlis' theorem at
    ``d = 1, 2, 3`` with every entry symbolic (status ``concrete-d``); the pair average is
    symbolic matrix algebra.

    >>> quadratic_estimators().verify_step(8).status
    'symbolic'
    """
    I_d = sympy.Identity(d)
    law = (Gaussian(_eps, I_d),)
    th_p, th_m = _th + sigma * _eps, _th - sigma * _eps
    dev_rp = _grp - _gL
    dev_es = _ges - _gL
    steps = [
        Step(_gL, "=", _A * _th + _b, r"$\nabla L(\theta) = A\theta + b$ ($A$ symmetric)"),
        Step(
            expect(_quad(th_p)),
            "=",
            _quad(_th) + sigma**2 / 2 * Trace(_A),
            r"the smoothed loss $\tilde L(\theta) = L(\theta) + \frac{\sigma^2}{2}\operatorname{tr} A$, so $\nabla\tilde L = \nabla L$",
            Expectation(law),
        ),
        Step(_grp, "=", _A * th_p + _b, r"single-sample reparameterization (RP) estimator $\nabla L(\theta + \sigma\varepsilon)$"),
        Step(expect(_grp), "=", _gL, "RP is unbiased", Expectation(law)),
        Step(expect(dev_rp * dev_rp.T), "=", sigma**2 * _A * _A, r"RP covariance $\sigma^2 A^2$", Expectation(law)),
        Step(
            expect(Sc(dev_rp.T * dev_rp)),
            "=",
            sigma**2 * Trace(_A * _A),
            r"RP total variance $\sigma^2 \|A\|_F^2$ (the trace of step 5)",
            Expectation(law),
        ),
        Step(_grp_pair, "=", (_A * th_p + _b + _A * th_m + _b) / 2, r"pair-averaged RP: the mean of the estimator at $\pm\varepsilon$"),
        Step(_grp_pair, "=", _gL, "the odd terms cancel: exactly the gradient, zero variance", Identity(given=(7, 1))),
        Step(
            _ges,
            "=",
            _eps * ((_quad(th_p) - _quad(th_m)) / (2 * sigma)),
            r"antithetic ES estimator $\frac{L(\theta + \sigma\varepsilon) - L(\theta - \sigma\varepsilon)}{2\sigma}\varepsilon$",
        ),
        Step(_ges, "=", _eps * Sc(_eps.T * _gL), r"the even terms cancel: $g_{es} = (\varepsilon^\top\nabla L)\,\varepsilon$", Identity(given=(9, 1))),
        Step(expect(_ges), "=", _gL, r"ES is unbiased ($E[\varepsilon\varepsilon^\top] = I$)", Expectation(law, given=(10,))),
        Step(
            expect(dev_es * dev_es.T),
            "=",
            Sc(_gL.T * _gL) * I_d + _gL * _gL.T,
            r"ES covariance $\|\nabla L\|^2 I + \nabla L \nabla L^\top$ (Isserlis: three pairings)",
            Expectation(law, given=(10,)),
        ),
        Step(
            expect(Sc(dev_es.T * dev_es)),
            "=",
            (d + 1) * Sc(_gL.T * _gL),
            r"ES total variance $(d + 1)\|\nabla L\|^2$, independent of $\sigma$",
            Expectation(law, given=(10,)),
        ),
    ]
    return MomentDerivation(
        "metz.quadratic-estimators",
        "Smoothed loss and RP / antithetic ES estimator moments on a quadratic",
        steps,
        _SOURCE + ", Section 4 and claim A4 (derived here)",
        (
            r"$L(\theta) = \frac12\theta^\top A\theta + b^\top\theta$, $A = A^\top$",
            r"$\varepsilon \sim N(0, I_d)$, $\sigma > 0$",
        ),
        sizes=({d: 1}, {d: 2}, {d: 3}),
        symmetric=("A",),
        definitions=(1, 3, 7),
    )


# ------------------------------------------------------------------------------------------------
# metz.inverse-variance (A5)

wt = Symbol("w", real=True)
v1 = Symbol("v_1", positive=True)
v2 = Symbol("v_2", positive=True)
cv = Symbol("c_12", real=True)
_delta = Symbol("delta", positive=True)
_a = Symbol("a", real=True)
_bb = Symbol("b", real=True)
g_rp = Symbol("g_rp", real=True)
g_es = Symbol("g_es", real=True)
V = Function("V")
w_star = Function("w_star", real=True)
V_min = Function("V_min", real=True)


def inverse_variance() -> Derivation:
    r"""``metz.inverse-variance`` (A5): the optimal weight of two unbiased estimators and the merged form.

    Statement: ``Var(w g_1 + (1 - w) g_2) = w^2 v_1 + (1 - w)^2 v_2 + 2 w (1 - w) c``;
    ``V(w) = V_min + (v_1 + v_2 - 2c)(w - w*)^2`` with ``w* = (v_2 - c)/(v_1 + v_2 - 2c)`` and
    ``V_min = (v_1 v_2 - c^2)/(v_1 + v_2 - 2c)``, so ``w*`` minimises ``V`` when
    ``v_1 + v_2 - 2c = Var(g_1 - g_2) > 0``; with ``c = 0``: ``w* = v_2/(v_1 + v_2)`` and
    ``V_min = v_1 v_2/(v_1 + v_2) <= min(v_1, v_2)``; the merged estimator
    ``(g_rp sigma_es^2 + g_es sigma_rp^2)/(sigma_rp^2 + sigma_es^2)`` is the precision-weighted mean.

    >>> inverse_variance().verify_step(1).status
    'symbolic'
    """
    var_w = wt**2 * v1 + (1 - wt) ** 2 * v2 + 2 * wt * (1 - wt) * cv
    law = (KnownMoments((_a, _bb), ((_a, 0), (_bb, 0), (_a**2, v1), (_bb**2, v2), (_a * _bb, cv))),)
    s12 = v1 + v2 - 2 * cv
    merged = (g_rp * v2 + g_es * v1) / (v1 + v2)
    steps = [
        Step(
            expect((wt * _a + (1 - wt) * _bb) ** 2),
            "=",
            var_w,
            r"errors $a = g_1 - E g_1$, $b = g_2 - E g_2$ (both unbiased, so the mix is unbiased); $E a^2 = v_1$, $E b^2 = v_2$, $E ab = c$",
            Expectation(law),
        ),
        Step(V(wt), "=", var_w, "name the variance of the mix"),
        Step(w_star(cv), "=", (v2 - cv) / s12, r"the candidate weight $w^*$"),
        Step(V_min(cv), "=", (v1 * v2 - cv**2) / s12, r"the candidate minimum"),
        Step(
            V(wt),
            "=",
            V_min(cv) + s12 * (wt - w_star(cv)) ** 2,
            "complete the square in $w$",
            Identity(given=(2, 3, 4)),
        ),
        Step(
            V(wt),
            ">=",
            V_min(cv),
            r"step 5 with $v_1 + v_2 - 2c = \operatorname{Var}(g_1 - g_2) > 0$: $w^*$ is the minimiser, never worse than any other weight",
            Bound(given=(5,), reparametrize=((cv, (v1 + v2 - _delta) / 2),)),
        ),
        Step(w_star(0), "=", v2 / (v1 + v2), "independent estimators ($c = 0$): inverse-variance weight", FromPrevious.substitute({cv: Integer(0)}, source=3)),
        Step(V_min(0), "=", v1 * v2 / (v1 + v2), "independent estimators: the merged variance", FromPrevious.substitute({cv: Integer(0)}, source=4)),
        Step(V_min(0), "<=", v1, r"step 8: $v_1 - V_{\min} = v_1^2/(v_1 + v_2) \ge 0$", Bound(given=(8,))),
        Step(V_min(0), "<=", v2, r"step 8 likewise: never worse than the better of the two, $V_{\min} \le \min(v_1, v_2)$", Bound(given=(8,))),
        Step(
            w_star(0) * g_rp + (1 - w_star(0)) * g_es,
            "=",
            merged,
            r"the optimal mix of $g_1 = g_{rp}$, $g_2 = g_{es}$ with $v_1 = \sigma_{rp}^2$, $v_2 = \sigma_{es}^2$ is the merged estimator",
            Identity(given=(7,)),
        ),
        Step(
            merged,
            "=",
            (g_rp / v1 + g_es / v2) / (1 / v1 + 1 / v2),
            "the merged form equals the precision-weighted form",
            Identity(),
        ),
    ]
    return ScalarMomentDerivation(
        "metz.inverse-variance",
        "Inverse-variance merging of two unbiased estimators",
        steps,
        _SOURCE + ", Section 5 and claim A5 (the optimality argument is derived here)",
        (
            r"$g_1, g_2$ unbiased for the same gradient, variances $v_1, v_2 > 0$, covariance $c$",
            r"$v_1 + v_2 - 2c > 0$ (that is $g_1 - g_2$ is not a.s. constant)",
        ),
    )


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "metz.meta-loss": meta_loss,
    "metz.tbptt-gradient": tbptt_gradient,
    "metz.smoothing": smoothing,
    "metz.smoothing-bound": smoothing_bound,
    "metz.quadratic-estimators": quadratic_estimators,
    "metz.inverse-variance": inverse_variance,
}
