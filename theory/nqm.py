r"""The noisy quadratic model (NQM): moment recursions, greedy hyperparameters and steady-state risks.

Model (``papers/wu2018.md`` §2-§3; the form of the loss is [unconfirmed], all algebra [derived]).
Per coordinate (the coordinates are independent) with curvature ``h > 0``:

.. math::

    \ell(\theta) = \tfrac12 h(\theta - c)^2,\quad c \sim N(0, \sigma^2)\ \text{fresh every step},
    \quad g = h(\theta - c),\qquad v' = \mu v - \alpha g,\quad \theta' = \theta + v' .

With ``a = alpha h`` this is the affine map ``theta' = (1 - a) theta + mu v + alpha h c``,
``v' = -a theta + mu v + alpha h c``, and ``c`` is independent of ``(theta, v)``. Taking
expectations closes the recursion on the raw moments ``s = (X, W, Y) = (E theta^2, E v^2, E theta v)``:

.. math::

    s' = M s + \alpha^2 h^2 \sigma^2 (1, 1, 1)^\top,\qquad
    M = \begin{pmatrix}(1-a)^2 & \mu^2 & 2\mu(1-a)\\ a^2 & \mu^2 & -2a\mu\\
    -a(1-a) & \mu^2 & \mu(1-2a)\end{pmatrix},

and the expected loss is ``E L = 1/2 sum_i h_i (X_i + sigma_i^2)``. Zhang et al. (2019) write the
gradient noise directly, ``g = h theta + eps`` with ``eps ~ N(0, c/B)`` (``c/B <-> h^2 sigma^2``).

Derivations (each a :class:`NQMDerivation`, names as registered in :mod:`theory.registry`):

``nqm.moments``
    means, (co)variances and raw moments from the update rule; ``s' = M s + n``; the mean part
    obeys the same linear map (so the two forms agree); the expected loss; SGD (``mu = 0``) and
    its constant-``alpha`` closed form ``s_t = s_* + (1 - alpha h)^{2t}(s_0 - s_*)``,
    ``s_* = alpha h sigma^2 / (2 - alpha h)`` (induction on ``t``).
``nqm.adjoint``
    ``d s' / d alpha`` and ``d s' / d mu`` (the six formulas of §5), and the adjoint chain rule
    ``d L_{t+2} / d alpha_t = (M_{t+1}^T lambda) . d s_{t+1} / d alpha_t``.
``nqm.greedy-sgd``
    ``f(alpha) = 1/2 sum_i h_i [(1 - alpha h_i)^2 X_i + alpha^2 h_i^2 sigma_i^2 + sigma_i^2]``,
    ``f'(alpha) = A (alpha - alpha_greedy)``, ``alpha_greedy = sum h^2 X / sum h^3 (X + sigma^2)``,
    ``f'' = sum h^3 (X + sigma^2) >= 0``.
``nqm.greedy-momentum``
    ``f(alpha, mu)``; the stationarity system ``A alpha - B mu = D``, ``-B alpha + C mu = -E``; its
    Cramer solution; the Hessian ``[[A, -B], [-B, C]]``; ``AC - B^2 >= C sum h^3 sigma^2 >= 0``.
``nqm.greedy-1d``
    ``d = 1``: ``alpha_t = m_t / (h (m_t + sigma^2))``, ``1/m_{t+1} = 1/m_t + 1/sigma^2``,
    ``m_t = sigma^2 m_0 / (sigma^2 + t m_0)``, ``alpha_t = m_0 / (h (sigma^2 + (t + 1) m_0))``.
``nqm.zhang-sgd-risk``, ``nqm.zhang-momentum-risk``, ``nqm.zhang-preconditioned-risk``, ``nqm.zhang-ema-risk``
    the steady-state risks of Zhang et al. (2019) (§10.2-§10.5), each as the fixed point of the
    moment map derived from the update rule.

How expectations are checked (the engine is :mod:`theory.expectation`). An
:class:`theory.expectation.Expectation` step has ``E[...]`` nodes (:func:`theory.expectation.expect`)
on its left side. The checker substitutes the update rule (the
equations listed in ``given``) into each argument, expands it as a polynomial in the random
symbols and replaces every monomial by its expectation: the monomials of the state
(``theta``, ``v``, ...) by the moments listed in a :class:`KnownMoments` law (``theta^2 -> X``,
``theta v -> Y``, ...; a monomial not listed fails the check), the powers of an independent noise
symbol by the moments of a :class:`CenteredNormal` law (``E c = 0``, ``E c^2 = sigma^2``, odd
powers 0), and a mixed monomial by the product (independence): ``E[theta c] = E[theta] E[c] = 0``.
A ``Sum`` over coordinates is averaged term by term (linearity). The result minus the right side
then goes through the zero test of :class:`theory.derivation.Derivation`, so the status is
``"symbolic"`` when it holds for all symbol values. Matrix-valued steps (``s' = M s + n``) are
checked entry by entry. No ``sympy.stats``, no string parsing.

Source: Wu, Ren, Liao & Grosse (2018), ICLR, Theorems 1-2 [roles unconfirmed]; Zhang et al.
(2019), NeurIPS, §3 [the form in which the paper states the risks is unconfirmed]; everything
here is re-derived (``papers/wu2018.md`` §3-§6, §10, §11).

>>> tuple(DERIVATIONS)[:3]
('nqm.moments', 'nqm.adjoint', 'nqm.greedy-sgd')
>>> steady_state_risk("momentum").subs(beta, 0) == steady_state_risk("sgd")
True
>>> greedy_1d().verify().ok
True
>>> greedy_1d_expr()[0].subs(t, 0)   # the first greedy step of the 1-D schedule
m_0/(h*(m_0 + sigma**2))
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Callable, Sequence

import sympy
from sympy import (
    Abs,
    Basic,
    Determinant,
    Function,
    ImmutableMatrix,
    IndexedBase,
    Integer,
    MatAdd,
    MatMul,
    Rational,
    Sum,
    Symbol,
    sqrt,
)

from l2l.theory.derivation import (
    Bound,
    Derivation,
    FromPrevious,
    Hypothesis,
    Identity,
    Induction,
    Instance,
    Quote,
    Step,
)
from l2l.theory.expectation import CenteredNormal, Expectation, KnownMoments, ScalarMomentDerivation, expect
from l2l.theory.expectation.checks import explicit_matrix

__all__ = [
    "alpha",
    "mu",
    "h",
    "sigma",
    "theta",
    "v",
    "c",
    "g",
    "theta_next",
    "v_next",
    "X",
    "W",
    "Y",
    "m_theta",
    "m_v",
    "V_theta",
    "V_v",
    "C_cov",
    "t",
    "tau",
    "d",
    "i",
    "hs",
    "Xs",
    "Ws",
    "Ys",
    "sigmas",
    "thetas",
    "cs",
    "beta",
    "gamma",
    "p",
    "c_grad",
    "batch",
    "eps",
    "s0",
    "m0",
    "NQMDerivation",
    "transition_matrix",
    "noise_vector",
    "next_moments",
    "expected_loss_expr",
    "one_step_loss_expr",
    "greedy_sums",
    "greedy_eta_sgd_expr",
    "greedy_eta_mu_expr",
    "greedy_1d_expr",
    "adjoint_partials",
    "ema_factor_expr",
    "steady_state_risk",
    "RISK_KINDS",
    "moments",
    "adjoint",
    "greedy_sgd",
    "greedy_momentum",
    "greedy_1d",
    "zhang_sgd_risk",
    "zhang_momentum_risk",
    "zhang_preconditioned_risk",
    "zhang_ema_risk",
    "DERIVATIONS",
]

# ------------------------------------------------------------------------------------------------
# symbols
#
# Names are plain (``theta'``, ``m_theta``, ``alpha_eff``, ``ell_*``); :mod:`theory.printing`
# prints them as a paper does (``\theta'``, ``m_\theta``, ``\alpha_{\mathrm{eff}}``, ``\ell_*``).

#: learning rate, momentum, curvature and noise scale of one coordinate (``sigma^2 = Var c``)
alpha = Symbol("alpha", positive=True)
mu = Symbol("mu", real=True)
h = Symbol("h", positive=True)
sigma = Symbol("sigma", positive=True)
#: the random quantities of one step: iterate, velocity, fresh centre ``c ~ N(0, sigma^2)``, gradient
theta = Symbol("theta", real=True)
v = Symbol("v", real=True)
c = Symbol("c", real=True)
g = Symbol("g", real=True)
theta_next = Symbol("theta'", real=True)
v_next = Symbol("v'", real=True)
#: raw moments ``E theta^2``, ``E v^2``, ``E theta v``; means; variances and covariance
X = Symbol("X", nonnegative=True)
W = Symbol("W", nonnegative=True)
Y = Symbol("Y", real=True)
m_theta = Symbol("m_theta", real=True)
m_v = Symbol("m_v", real=True)
V_theta = Symbol("V_theta", nonnegative=True)
V_v = Symbol("V_v", nonnegative=True)
C_cov = Symbol("C", real=True)
#: horizon (symbolic nonnegative integer) and the recursion variable of inductions
t = Symbol("t", integer=True, nonnegative=True)
tau = Symbol("tau", integer=True, nonnegative=True)
#: dimension, coordinate index and per-coordinate quantities of the sums over ``i = 1..d``
d = Symbol("d", integer=True, positive=True)
i = Symbol("i", integer=True, positive=True)
hs = IndexedBase("h", positive=True)
Xs = IndexedBase("X", nonnegative=True)
Ws = IndexedBase("W", nonnegative=True)
Ys = IndexedBase("Y", real=True)
sigmas = IndexedBase("sigma", positive=True)
thetas = IndexedBase("theta", real=True)
cs = IndexedBase("c", real=True)
#: Zhang et al.: momentum ``beta``, EMA ``gamma``, preconditioner power ``p``, per-example
#: gradient variance ``c`` (printed ``c``; a different symbol from the random centre), batch ``B``,
#: gradient noise ``eps ~ N(0, c/B)``
beta = Symbol("beta", nonnegative=True)
gamma = Symbol("gamma", positive=True)
p = Symbol("p", nonnegative=True)
c_grad = Symbol("c", positive=True)
batch = Symbol("B", integer=True, positive=True)
eps = Symbol("epsilon", real=True)

# internal symbols
_s = IndexedBase("s", real=True)
#: initial second moments (SGD closed form; greedy 1-D schedule)
s0 = Symbol("s_0", nonnegative=True)
m0 = Symbol("m_0", positive=True)
_f = Function("f")
_L = Function("L")
_sA, _sB, _sC, _sD, _sE = sympy.symbols("A B C D E", real=True)
_alpha_g = Symbol("alpha_greedy", real=True)
_mu_g = Symbol("mu_greedy", real=True)
_m = Symbol("m", positive=True)
_m_next = Symbol("m'", positive=True)
_ms = IndexedBase("m", positive=True)
_alphas = IndexedBase("alpha", positive=True)
_u, _u_next = Symbol("u", real=True), Symbol("u'", real=True)
_Z, _U = Symbol("Z", nonnegative=True), Symbol("U", real=True)
_X_st, _W_st, _Y_st = Symbol("X_*", real=True), Symbol("W_*", real=True), Symbol("Y_*", real=True)
_Z_st, _U_st = Symbol("Z_*", real=True), Symbol("U_*", real=True)
_s_st = Symbol("s_*", real=True)
_alpha2, _mu2 = Symbol("alpha_2", positive=True), Symbol("mu_2", real=True)
_alpha_e = Symbol("alpha_eff", positive=True)
_phi = Symbol("phi", real=True)
_delta = Symbol("delta", positive=True)  # reparametrisation: alpha h = 2 delta/(1 + delta) in (0, 2)
_kappa = Symbol("kappa", positive=True)  # reparametrisation: gamma = kappa/(1 + kappa) in (0, 1)
_Xn, _Wn, _Yn = Function("X'"), Function("W'"), Function("Y'")


# ------------------------------------------------------------------------------------------------
# expressions others can use


def _as_basic(x: object, what: str) -> Basic:
    """A SymPy object from a SymPy object, an int, a Fraction or a float; strings are never parsed."""
    if isinstance(x, Basic):
        return x
    if isinstance(x, bool):
        raise TypeError(f"{what} must be a number or a SymPy expression, got bool")
    if isinstance(x, int):
        return Integer(x)
    if isinstance(x, Fraction):
        return Rational(x.numerator, x.denominator)
    if isinstance(x, float):
        return sympy.Float(x)
    raise TypeError(f"{what} must be a number or a SymPy expression, got {type(x).__name__}")


def transition_matrix(a: Basic, mu: Basic) -> ImmutableMatrix:
    r"""The 3x3 matrix ``M`` of §3 acting on ``(E theta^2, E v^2, E theta v)``, with ``a = alpha h``.

    >>> transition_matrix(Symbol("a"), 0)
    Matrix([
    [(1 - a)**2, 0, 0],
    [      a**2, 0, 0],
    [-a*(1 - a), 0, 0]])
    """
    a, m_ = _as_basic(a, "a"), _as_basic(mu, "mu")
    return ImmutableMatrix(
        [
            [(1 - a) ** 2, m_**2, 2 * m_ * (1 - a)],
            [a**2, m_**2, -2 * a * m_],
            [-a * (1 - a), m_**2, m_ * (1 - 2 * a)],
        ]
    )


def noise_vector(alpha: Basic, h: Basic, sigma2: Basic) -> ImmutableMatrix:
    r"""``alpha^2 h^2 sigma^2 (1, 1, 1)^T``: the noise injected into each raw moment (§3).

    For Zhang et al.'s parametrisation pass ``h = 1`` and ``sigma2 = c / B``.

    >>> noise_vector(alpha, h, sigma**2).T
    Matrix([[alpha**2*h**2*sigma**2, alpha**2*h**2*sigma**2, alpha**2*h**2*sigma**2]])
    """
    n_ = _as_basic(alpha, "alpha") ** 2 * _as_basic(h, "h") ** 2 * _as_basic(sigma2, "sigma2")
    return ImmutableMatrix([n_, n_, n_])


def next_moments(
    X: Basic = X,
    W: Basic = W,
    Y: Basic = Y,
    alpha: Basic = alpha,
    mu: Basic = mu,
    h: Basic = h,
    sigma2: Basic | None = None,
) -> ImmutableMatrix:
    r"""``M s + n`` multiplied out: the raw moments ``(E theta'^2, E v'^2, E theta' v')`` after one step.

    Defaults: the module's symbols, ``sigma2 = sigma**2``.

    >>> next_moments(mu=0)[0]
    X*(-alpha*h + 1)**2 + alpha**2*h**2*sigma**2
    """
    X_, W_, Y_, alpha_, mu_, h_ = (_as_basic(x, "argument") for x in (X, W, Y, alpha, mu, h))
    sigma2 = sigma**2 if sigma2 is None else _as_basic(sigma2, "sigma2")
    state = ImmutableMatrix([X_, W_, Y_])
    return ImmutableMatrix(transition_matrix(alpha_ * h_, mu_) * state + noise_vector(alpha_, h_, sigma2))


def expected_loss_expr() -> Basic:
    r"""``E L(theta) = 1/2 sum_i h_i (X_i + sigma_i^2)`` (with ``X_i = E theta_i^2``).

    >>> expected_loss_expr()
    Sum((X[i] + sigma[i]**2)*h[i], (i, 1, d))/2
    """
    return Rational(1, 2) * Sum(hs[i] * (Xs[i] + sigmas[i] ** 2), (i, 1, d))


def one_step_loss_expr(momentum: bool = True) -> Basic:
    r"""The expected loss after one step from moments ``(X_i, W_i, Y_i)``: ``f(alpha, mu)`` of §4.

    ``momentum=False`` gives the SGD version ``f(alpha)`` (``mu = 0``).
    """
    r_ = 1 - alpha * hs[i]
    body = r_**2 * Xs[i] + alpha**2 * hs[i] ** 2 * sigmas[i] ** 2 + sigmas[i] ** 2
    if momentum:
        body = r_**2 * Xs[i] + 2 * mu * r_ * Ys[i] + mu**2 * Ws[i] + alpha**2 * hs[i] ** 2 * sigmas[i] ** 2 + sigmas[i] ** 2
    return Rational(1, 2) * Sum(hs[i] * body, (i, 1, d))


def greedy_sums() -> dict[str, Basic]:
    r"""The sums ``A, B, C, D, E`` of §4 (``C`` here is unrelated to the covariance ``C`` of §3).

    >>> greedy_sums()["B"]
    Sum(Y[i]*h[i]**2, (i, 1, d))
    """
    return {
        "A": Sum(hs[i] ** 3 * (Xs[i] + sigmas[i] ** 2), (i, 1, d)),
        "B": Sum(hs[i] ** 2 * Ys[i], (i, 1, d)),
        "C": Sum(hs[i] * Ws[i], (i, 1, d)),
        "D": Sum(hs[i] ** 2 * Xs[i], (i, 1, d)),
        "E": Sum(hs[i] * Ys[i], (i, 1, d)),
    }


def greedy_eta_sgd_expr() -> Basic:
    r"""``alpha_greedy = sum_i h_i^2 X_i / sum_i h_i^3 (X_i + sigma_i^2)`` (§4, SGD).

    >>> greedy_eta_sgd_expr()
    Sum(X[i]*h[i]**2, (i, 1, d))/Sum((X[i] + sigma[i]**2)*h[i]**3, (i, 1, d))
    """
    s_ = greedy_sums()
    return s_["D"] / s_["A"]


def greedy_eta_mu_expr() -> tuple[Basic, Basic]:
    r"""``(alpha, mu) = ((DC - BE)/(AC - B^2), (BD - AE)/(AC - B^2))`` with the sums of :func:`greedy_sums`."""
    s_ = greedy_sums()
    A, B, C, D, E = (s_[k] for k in "ABCDE")
    den = A * C - B**2
    return (D * C - B * E) / den, (B * D - A * E) / den


def greedy_1d_expr() -> tuple[Basic, Basic]:
    r"""``(alpha_t, m_t)`` of the greedy 1-D SGD schedule from ``m_0 = E theta_0^2`` (symbols ``t``, ``h``, ``sigma``).

    >>> greedy_1d_expr()
    (m_0/(h*(m_0*(t + 1) + sigma**2)), m_0*sigma**2/(m_0*t + sigma**2))
    """
    return m0 / (h * (sigma**2 + (t + 1) * m0)), sigma**2 * m0 / (sigma**2 + t * m0)


def adjoint_partials() -> tuple[ImmutableMatrix, ImmutableMatrix]:
    r"""``(d s'/d alpha, d s'/d mu)`` in the form of §5, with ``s = (X, W, Y)`` (symbols of this module)."""
    a = alpha * h
    n2 = 2 * alpha * h**2 * sigma**2
    d_alpha = ImmutableMatrix(
        [
            -2 * h * (1 - a) * X - 2 * mu * h * Y + n2,
            2 * alpha * h**2 * X - 2 * h * mu * Y + n2,
            -(h - 2 * alpha * h**2) * X - 2 * h * mu * Y + n2,
        ]
    )
    d_mu = ImmutableMatrix([2 * mu * W + 2 * (1 - a) * Y, 2 * mu * W - 2 * a * Y, 2 * mu * W + (1 - 2 * a) * Y])
    return d_alpha, d_mu


def ema_factor_expr() -> Basic:
    r"""``(1 - gamma)(1 + gamma (1 - alpha h)) / ((1 + gamma)(1 - gamma (1 - alpha h)))`` (§10.5)."""
    r_ = 1 - alpha * h
    return (1 - gamma) * (1 + gamma * r_) / ((1 + gamma) * (1 - gamma * r_))


#: The kinds accepted by :func:`steady_state_risk`.
RISK_KINDS = ("sgd", "momentum", "preconditioned", "ema")


def steady_state_risk(kind: str) -> Basic:
    r"""Zhang et al.'s steady-state risk ``1/2 h E theta_*^2`` of one coordinate (§10.2-§10.5).

    ``"sgd"``: ``alpha c / (2B(2 - alpha h))``; ``"momentum"``:
    ``(1 + beta) alpha c / (2B(1 - beta)(2 + 2 beta - alpha h))``; ``"preconditioned"`` (``P = H^p``):
    ``alpha c h^{-p} / (2B(2 - alpha h^{1-p}))``; ``"ema"``: the SGD risk times
    :func:`ema_factor_expr`. Symbols: ``alpha, h, beta, gamma, p`` and ``c_grad`` (printed ``c``),
    ``batch`` (printed ``B``).

    >>> steady_state_risk("sgd")
    alpha*c/(2*B*(-alpha*h + 2))
    """
    sgd_risk = alpha * c_grad / (2 * batch * (2 - alpha * h))
    if kind == "sgd":
        return sgd_risk
    if kind == "momentum":
        return (1 + beta) * alpha * c_grad / (2 * batch * (1 - beta) * (2 + 2 * beta - alpha * h))
    if kind == "preconditioned":
        return alpha * c_grad * h ** (-p) / (2 * batch * (2 - alpha * h ** (1 - p)))
    if kind == "ema":
        return ema_factor_expr() * sgd_risk
    raise ValueError(f"steady_state_risk: kind must be one of {RISK_KINDS}, got {kind!r}")


class NQMDerivation(ScalarMomentDerivation):
    r"""The derivations of this module: :class:`theory.expectation.ScalarMomentDerivation`.

    Its :class:`theory.expectation.Expectation` steps compute every ``E[...]`` from the update rule
    with the scalar laws :class:`KnownMoments` (the state) and :class:`CenteredNormal` (the fresh
    noise); matrix-valued sides (``M s + n``) are checked entry by entry.
    """


# ------------------------------------------------------------------------------------------------
# helpers for the derivations


def _derivation(name: str, title: str, steps: list[Step], source: str, assumptions: Sequence[str], **kw) -> NQMDerivation:
    return NQMDerivation(name, title, steps, source, tuple(assumptions), **kw)


_WU = "Wu et al. (2018)"
_ZHANG = "Zhang et al. (2019)"
_STATE_LAW = KnownMoments(
    (theta, v), ((theta, m_theta), (v, m_v), (theta**2, X), (v**2, W), (theta * v, Y))
)
_NOISE_LAW = CenteredNormal(c, sigma**2)
_LAWS = (_STATE_LAW, _NOISE_LAW)


def _vec(*xs: Basic) -> ImmutableMatrix:
    return ImmutableMatrix(list(xs))


def _update_steps(mu_: Basic = mu) -> list[Step]:
    """Steps 1-5: the gradient, the heavy-ball update and its affine form."""
    return [
        Step(g, "=", h * (theta - c), r"stochastic gradient of $\ell(\theta) = \frac12 h(\theta - c)^2$, $c \sim N(0, \sigma^2)$ fresh"),
        Step(v_next, "=", mu_ * v - alpha * g, r"heavy-ball velocity (it absorbs the learning rate) [unconfirmed form]"),
        Step(theta_next, "=", theta + v_next, r"the iterate moves by the new velocity"),
        Step(
            v_next,
            "=",
            -alpha * h * theta + mu_ * v + alpha * h * c,
            r"steps 2 and 1 multiplied out",
            Identity(given=(2, 1)),
        ),
        Step(
            theta_next,
            "=",
            (1 - alpha * h) * theta + mu_ * v + alpha * h * c,
            r"steps 3 and 4: the affine form with $a = \alpha h$",
            Identity(given=(3, 4)),
        ),
    ]


# ------------------------------------------------------------------------------------------------
# nqm.moments


def _loss_quote(f_: sympy.Expr, Xn: IndexedBase) -> Quote:
    """``nqm.moments``, step 22 (the expected loss ``1/2 sum_i h_i (X_i + sigma_i^2)``) read
    after one step: its left side named ``f_``, the moments ``X_i`` those after the step, ``Xn``."""
    lhs = expect(Rational(1, 2) * Sum(hs[i] * (thetas[i] - cs[i]) ** 2, (i, 1, d)))
    return Quote("nqm.moments", 22, substitute=((lhs, f_), (Xs[i], Xn[i])))


def _coordinate(*pairs: tuple[sympy.Basic, sympy.Basic]) -> tuple[tuple[sympy.Basic, sympy.Basic], ...]:
    """The renaming of a one-coordinate moment step of ``nqm.moments`` to coordinate ``i``."""
    return pairs + ((X, Xs[i]), (W, Ws[i]), (Y, Ys[i]), (h, hs[i]), (sigma, sigmas[i]))


#: ``nqm.greedy-sgd`` at ``d = 1``: one coordinate, ``X_1 = m``, ``h_1 = h``, ``sigma_1 = sigma``.
_ONE_COORDINATE = ((d, Integer(1)), (Xs[1], _m), (hs[1], h), (sigmas[1], sigma))


def moments() -> NQMDerivation:
    r"""``nqm.moments``: the exact moment recursions of heavy-ball SGD on the NQM (Theorem 1 [role unconfirmed]).

    Statement (per coordinate, ``a = alpha h``):

    * means: ``E theta' = (1 - a) E theta + mu E v``, ``E v' = -a E theta + mu E v``;
    * raw moments: ``s' = M s + alpha^2 h^2 sigma^2 (1, 1, 1)`` with ``s = (X, W, Y)`` and ``M`` of §3;
    * (co)variances: ``V_theta' = (1-a)^2 V_theta + mu^2 V_v + 2 mu (1-a) C + alpha^2 h^2 sigma^2``,
      ``V_v' = a^2 V_theta + mu^2 V_v - 2 a mu C + alpha^2 h^2 sigma^2``,
      ``C' = -a(1-a) V_theta + mu^2 V_v + mu (1 - 2a) C + alpha^2 h^2 sigma^2``;
    * the mean part ``(E theta^2 ... )`` obeys ``M`` without noise, so raw = mean^2 + variance is
      preserved by the two recursions;
    * expected loss ``E L = 1/2 sum_i h_i (X_i + sigma_i^2) = 1/2 sum_i h_i (E[theta_i]^2 + V[theta_i] + sigma_i^2)``;
    * SGD (``mu = 0``) and, for constant ``alpha``, ``s_t = s_* + (1 - alpha h)^{2t} (s_0 - s_*)``,
      ``s_* = alpha h sigma^2 / (2 - alpha h)`` (induction on ``t``).

    Assumptions: ``c ~ N(0, sigma^2)`` drawn fresh each step, independent of ``(theta, v)``; only the
    moments of degree <= 2 of ``(theta, v)`` are used; ``alpha h != 2`` for ``s_*``.
    Check: every ``E[...]`` is computed from the update rule (steps 1-5) by :class:`theory.expectation.Expectation`.
    Source: Wu et al. (2018), Theorem 1 [role unconfirmed]; ``papers/wu2018.md`` §3, §6 item 1,
    §11 items 1 and 3 (all [derived]).

    >>> moments().verify_step(8).status   # E[theta'^2]; every step is verified in tests/theory
    'symbolic'
    """
    a = alpha * h
    M = transition_matrix(a, mu)
    n_ = noise_vector(alpha, h, sigma**2)
    s_raw = _vec(X, W, Y)
    s_mean = _vec(m_theta**2, m_v**2, m_theta * m_v)
    noise = alpha**2 * h**2 * sigma**2
    var_rhs = (
        (1 - a) ** 2 * V_theta + mu**2 * V_v + 2 * mu * (1 - a) * C_cov + noise,
        a**2 * V_theta + mu**2 * V_v - 2 * a * mu * C_cov + noise,
        -a * (1 - a) * V_theta + mu**2 * V_v + mu * (1 - 2 * a) * C_cov + noise,
    )
    s_star = alpha * h * sigma**2 / (2 - a)
    loss_law = (
        KnownMoments((thetas[i],), ((thetas[i], Symbol("m_theta_i", real=True)), (thetas[i] ** 2, Xs[i]))),
        CenteredNormal(cs[i], sigmas[i] ** 2),
    )
    steps = _update_steps() + [
        # 6-7 means
        Step(
            expect(theta_next),
            "=",
            (1 - a) * m_theta + mu * m_v,
            r"linearity, $\mathbb{E} c = 0$ (means of the noisy quadratic model)",
            Expectation(_LAWS, given=(5,)),
        ),
        Step(
            expect(v_next),
            "=",
            -a * m_theta + mu * m_v,
            r"linearity, $\mathbb{E} c = 0$",
            Expectation(_LAWS, given=(4,)),
        ),
        # 8-10 raw second moments
        Step(
            expect(theta_next**2),
            "=",
            (1 - a) ** 2 * X + mu**2 * W + 2 * mu * (1 - a) * Y + noise,
            r"square step 5; $\mathbb{E}[\theta c] = \mathbb{E}[v c] = 0$ by independence, $\mathbb{E} c^2 = \sigma^2$",
            Expectation(_LAWS, given=(5,)),
        ),
        Step(
            expect(v_next**2),
            "=",
            a**2 * X + mu**2 * W - 2 * a * mu * Y + noise,
            r"square step 4",
            Expectation(_LAWS, given=(4,)),
        ),
        Step(
            expect(theta_next * v_next),
            "=",
            -a * (1 - a) * X + mu**2 * W + mu * (1 - 2 * a) * Y + noise,
            r"multiply steps 4 and 5",
            Expectation(_LAWS, given=(4, 5)),
        ),
        # 11 matrix form
        Step(
            _vec(expect(theta_next**2), expect(v_next**2), expect(theta_next * v_next)),
            "=",
            MatAdd(MatMul(M, s_raw), n_),
            r"the three raw moments at once: $s' = M s + \alpha^2 h^2 \sigma^2 (1, 1, 1)^\top$",
            Expectation(_LAWS, given=(4, 5)),
        ),
        # 12-14 raw moments from means and (co)variances
        Step(X, "=", m_theta**2 + V_theta, r"definition of the variance: $X = \mathbb{E}[\theta]^2 + V_\theta$"),
        Step(W, "=", m_v**2 + V_v, r"$W = \mathbb{E}[v]^2 + V_v$"),
        Step(Y, "=", m_theta * m_v + C_cov, r"$Y = \mathbb{E}[\theta]\mathbb{E}[v] + C$ (covariance)"),
        # 15-17 variances and covariance
        Step(
            expect(theta_next**2) - expect(theta_next) ** 2,
            "=",
            var_rhs[0],
            r"$V_{\theta'} = \mathbb{E}\theta'^2 - (\mathbb{E}\theta')^2$, moments written through steps 12-14",
            Expectation(_LAWS, given=(5, 12, 13, 14)),
        ),
        Step(
            expect(v_next**2) - expect(v_next) ** 2,
            "=",
            var_rhs[1],
            r"$V_{v'}$",
            Expectation(_LAWS, given=(4, 12, 13, 14)),
        ),
        Step(
            expect(theta_next * v_next) - expect(theta_next) * expect(v_next),
            "=",
            var_rhs[2],
            r"$C' = \mathrm{Cov}(\theta', v')$",
            Expectation(_LAWS, given=(4, 5, 12, 13, 14)),
        ),
        # 18 the mean part obeys the same linear map (no noise)
        Step(
            _vec(expect(theta_next) ** 2, expect(v_next) ** 2, expect(theta_next) * expect(v_next)),
            "=",
            MatMul(M, s_mean),
            r"the mean part: squares and product of steps 6-7 follow the same $M$, without noise",
            Identity(given=(6, 7)),
        ),
        # 19 consistency: mean part + variance recursion = raw recursion
        Step(
            MatAdd(MatMul(M, s_mean), _vec(*var_rhs)),
            "=",
            MatAdd(MatMul(M, s_raw), n_),
            r"step 18 plus steps 15-17 is step 11: the raw-moment and the mean/variance forms agree",
            Identity(given=(12, 13, 14)),
        ),
        # 20-22 expected loss
        Step(
            expect(Rational(1, 2) * h * (theta - c) ** 2),
            "=",
            Rational(1, 2) * h * (X + sigma**2),
            r"expected loss of one coordinate; $c$ is fresh, independent of $\theta$",
            Expectation(_LAWS),
        ),
        Step(
            expect(Rational(1, 2) * h * (theta - c) ** 2),
            "=",
            Rational(1, 2) * h * (m_theta**2 + V_theta + sigma**2),
            r"step 20 with step 12: $\frac12 h(\mathbb{E}[\theta]^2 + \mathbb{V}[\theta] + \sigma^2)$",
            Identity(given=(20, 12)),
        ),
        Step(
            expect(Rational(1, 2) * Sum(hs[i] * (thetas[i] - cs[i]) ** 2, (i, 1, d))),
            "=",
            expected_loss_expr(),
            r"$\mathbb{E} L = \frac12 \sum_i h_i(X_i + \sigma_i^2)$: linearity over the coordinates",
            Expectation(loss_law),
        ),
        # 23-25 SGD
        Step(
            expect(theta_next),
            "=",
            (1 - a) * m_theta,
            r"SGD: $\mu = 0$ in step 6",
            FromPrevious.substitute({mu: Integer(0)}, source=6),
        ),
        Step(
            expect(theta_next**2) - expect(theta_next) ** 2,
            "=",
            (1 - a) ** 2 * V_theta + noise,
            r"SGD: $\mu = 0$ in step 15",
            FromPrevious.substitute({mu: Integer(0)}, source=15),
        ),
        Step(
            expect(theta_next**2),
            "=",
            (1 - a) ** 2 * X + noise,
            r"SGD: $\mu = 0$ in step 8",
            FromPrevious.substitute({mu: Integer(0)}, source=8),
        ),
        # 26-30 constant alpha: closed form
        Step(_s[tau + 1], "=", (1 - a) ** 2 * _s[tau] + noise, r"step 25 along a run: $s_\tau = \mathbb{E}\theta_\tau^2$",
             FromPrevious.substitute({expect(theta_next**2): _s[tau + 1], X: _s[tau]})),
        Step(_s[0], "=", s0, r"the initial second moment"),
        Step(_s_st, "=", s_star, r"candidate fixed point $s_\star = \alpha^2 h^2\sigma^2/(1 - (1 - \alpha h)^2)$"),
        Step(
            _s_st,
            "=",
            (1 - a) ** 2 * _s_st + noise,
            r"$s_\star$ is a fixed point of step 26 (unique when $0 < \alpha h < 2$)",
            Identity(given=(28,)),
        ),
        Step(
            _s[t],
            "=",
            s_star + (1 - a) ** (2 * t) * (s0 - s_star),
            r"induction on $t$ from steps 27 and 26: $s_t = s_\star + (1 - \alpha h)^{2t}(s_0 - s_\star)$",
            Induction(base=27, recurrence=26),
        ),
    ]
    return _derivation(
        "nqm.moments",
        "NQM moment recursions of heavy-ball SGD, derived by taking expectations",
        steps,
        f"{_WU}, Theorem 1 [role unconfirmed] (the moment recurrences, derived here)",
        (
            r"per coordinate: $\theta' = (1 - \alpha h)\theta + \mu v + \alpha h c$, $v' = -\alpha h\theta + \mu v + \alpha h c$",
            r"$c \sim N(0, \sigma^2)$ fresh each step, independent of $(\theta, v)$",
            r"$0 < \alpha h < 2$ for the fixed point $s_\star$",
        ),
        dimension=d,
        index=i,
        horizon=t,
    )


# ------------------------------------------------------------------------------------------------
# nqm.adjoint


def adjoint() -> NQMDerivation:
    r"""``nqm.adjoint``: derivatives of the next state in ``alpha`` and ``mu``, and the adjoint chain rule.

    Statement (§5, with ``a = alpha h`` and the current state ``(X, W, Y)``)::

        d_alpha s'_0 = -2h(1-a) X - 2 mu h Y + 2 alpha h^2 sigma^2
        d_alpha s'_1 = 2 alpha h^2 X - 2 h mu Y + 2 alpha h^2 sigma^2
        d_alpha s'_2 = -(h - 2 alpha h^2) X - 2 h mu Y + 2 alpha h^2 sigma^2
        d_mu s'_0 = 2 mu W + 2(1-a) Y,  d_mu s'_1 = 2 mu W - 2a Y,  d_mu s'_2 = 2 mu W + (1-2a) Y

    and, for the loss two steps later ``L = lambda_T . s''`` with ``lambda_T = (h/2, 0, 0)`` and
    ``s'' = M(alpha_2 h, mu_2) s' + n(alpha_2)``: ``dL/d alpha = lambda_{t+1} . d s'/d alpha`` with
    ``lambda_{t+1} = M(alpha_2 h, mu_2)^T lambda_T`` (the adjoint recursion ``lambda_t = M_t^T lambda_{t+1}``).
    Check: ``FromPrevious.differentiate`` of the multiplied-out 3x3 map (entry by entry).
    Source: ``papers/wu2018.md`` §5 (adjoint recursion, [derived]) and §11 item 15.

    >>> adjoint().verify().statuses
    ('quoted', 'symbolic', 'symbolic', 'symbolic', 'definition', 'symbolic')
    """
    a = alpha * h
    M = transition_matrix(a, mu)
    n_ = noise_vector(alpha, h, sigma**2)
    S = _vec(_Xn(alpha, mu), _Wn(alpha, mu), _Yn(alpha, mu))
    explicit = ImmutableMatrix(M * _vec(X, W, Y) + n_)
    d_alpha, d_mu = adjoint_partials()
    lam_T = _vec(h / 2, 0, 0)
    M2 = transition_matrix(_alpha2 * h, _mu2)
    loss2 = (lam_T.T * (M2 * S + noise_vector(_alpha2, h, sigma**2)))[0, 0]
    lam_1 = ImmutableMatrix(M2.T * lam_T)
    grad = sum((lam_1[k] * sympy.diff(S[k], alpha) for k in range(3)), Integer(0))
    steps = [
        Step(
            S, "=", MatAdd(MatMul(M, _vec(X, W, Y)), n_), r"the raw-moment map $s' = M s + n$ of nqm.moments, step 11",
            Quote("nqm.moments", 11, substitute=(
                (expect(theta_next**2), S[0]), (expect(v_next**2), S[1]), (expect(theta_next * v_next), S[2]),
            )),
        ),
        Step(S, "=", explicit, r"multiplied out", FromPrevious(explicit_matrix, "multiply the explicit matrices out")),
        Step(
            sympy.diff(S, alpha),
            "=",
            d_alpha,
            r"differentiate in $\alpha$ (both $a = \alpha h$ and the noise $\alpha^2 h^2\sigma^2$ depend on it)",
            FromPrevious.differentiate(alpha, source=2),
        ),
        Step(sympy.diff(S, mu), "=", d_mu, r"differentiate in $\mu$", FromPrevious.differentiate(mu, source=2)),
        Step(
            _L(alpha, mu),
            "=",
            loss2,
            r"loss after one more step with $(\alpha_2, \mu_2)$: $\lambda_T \cdot (M_2 s' + n_2)$, $\lambda_T = (h/2, 0, 0)$",
        ),
        Step(
            sympy.Derivative(_L(alpha, mu), alpha),
            "=",
            grad,
            r"chain rule: the coefficients are $\lambda_{t+1} = M_2^\top \lambda_T$ (adjoint recursion); $n_2$ does not depend on $\alpha$",
            FromPrevious.differentiate(alpha),
        ),
    ]
    return _derivation(
        "nqm.adjoint",
        "Derivatives of the NQM moment map in alpha and mu; the adjoint chain rule",
        steps,
        f"derived here: the adjoint recursion for the T-optimal schedule of {_WU} [unconfirmed: how the paper computes it]",
        (r"$s' = M s + \alpha^2 h^2\sigma^2(1,1,1)^\top$ (nqm.moments)", r"$a = \alpha h$"),
    )


# ------------------------------------------------------------------------------------------------
# nqm.greedy-sgd


def greedy_sgd() -> NQMDerivation:
    r"""``nqm.greedy-sgd``: the greedy (one-step look-ahead) SGD learning rate (Theorem 2 [role unconfirmed]).

    Statement: ``f(alpha) = E L(theta') = 1/2 sum_i h_i [(1 - alpha h_i)^2 X_i + alpha^2 h_i^2 sigma_i^2 + sigma_i^2]``;
    ``f'(alpha) = alpha sum h^3 (X + sigma^2) - sum h^2 X = A (alpha - alpha_greedy)`` with
    ``alpha_greedy = sum_i h_i^2 X_i / sum_i h_i^3 (X_i + sigma_i^2)``; ``f'' = A = sum h^3 (X + sigma^2) >= 0``,
    so ``alpha_greedy`` is the global minimiser.
    Assumptions: ``h_i > 0``, ``X_i >= 0``, ``sigma_i > 0``. Check: symbolic in ``d`` (sums over ``i = 1..d``).
    Source: Wu et al. (2018), Theorem 2 [role unconfirmed]; ``papers/wu2018.md`` §4, §11 item 4.

    >>> greedy_sgd().verify().statuses
    ('quoted', 'quoted', 'symbolic', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic')
    """
    Xn = IndexedBase("X'", nonnegative=True)
    A = greedy_sums()["A"]
    D = greedy_sums()["D"]
    steps = [
        Step(
            _f(alpha), "=", Rational(1, 2) * Sum(hs[i] * (Xn[i] + sigmas[i] ** 2), (i, 1, d)),
            r"expected loss after one step (nqm.moments, step 22)", _loss_quote(_f(alpha), Xn),
        ),
        Step(
            Xn[i],
            "=",
            (1 - alpha * hs[i]) ** 2 * Xs[i] + alpha**2 * hs[i] ** 2 * sigmas[i] ** 2,
            r"the SGD second moment after one step (nqm.moments, step 25)",
            Quote("nqm.moments", 25, substitute=_coordinate((expect(theta_next**2), Xn[i]))),
        ),
        Step(_f(alpha), "=", one_step_loss_expr(momentum=False), r"steps 1 and 2", Identity(given=(1, 2))),
        Step(
            sympy.Derivative(_f(alpha), alpha),
            "=",
            alpha * A - D,
            r"differentiate in $\alpha$",
            FromPrevious.differentiate(alpha),
        ),
        Step(
            sympy.Derivative(_f(alpha), (alpha, 2)),
            "=",
            A,
            r"differentiate again: $f'' = \sum_i h_i^3(X_i + \sigma_i^2)$",
            FromPrevious.differentiate(alpha),
        ),
        Step(_alpha_g, "=", greedy_eta_sgd_expr(), r"the greedy learning rate (Wu et al. (2018), one-step look-ahead)"),
        Step(
            sympy.Derivative(_f(alpha), alpha),
            "=",
            A * (alpha - _alpha_g),
            r"$f'(\alpha) = f'' \cdot (\alpha - \alpha_{greedy})$: the only stationary point is $\alpha_{greedy}$",
            Identity(given=(4, 6)),
        ),
        Step(
            sympy.Derivative(_f(alpha), (alpha, 2)),
            ">=",
            Integer(0),
            r"every term of step 5 is nonnegative: $f$ is a convex quadratic, $\alpha_{greedy}$ its global minimiser",
            Bound(given=(5,)),
        ),
    ]
    return _derivation(
        "nqm.greedy-sgd",
        "Greedy (one-step) learning rate of SGD on the NQM",
        steps,
        f"{_WU}, Theorem 2 [role unconfirmed] (the greedy learning rate, derived here)",
        (r"$h_i > 0$, $X_i = \mathbb{E}\theta_i^2 \ge 0$, $\sigma_i > 0$", r"$\mu = 0$"),
        dimension=d,
        index=i,
    )


# ------------------------------------------------------------------------------------------------
# nqm.greedy-momentum


def _momentum_sampler(rng: random.Random) -> Instance:
    """Exact rational moments with ``|Y_i| <= sqrt(X_i W_i)`` (``X = x^2``, ``W = w^2``, ``Y = r x w``)."""
    dim = rng.choice((1, 2, 3, 4))
    values: dict[Basic, Basic] = {}
    parts = []
    for k in range(1, dim + 1):
        hv = Fraction(rng.randint(1, 20), rng.choice((1, 2, 4, 5, 10)))
        x = Fraction(rng.randint(0, 9), rng.randint(1, 4))
        w = Fraction(rng.randint(0, 9), rng.randint(1, 4))
        r = rng.choice((Fraction(1), Fraction(-1), Fraction(rng.randint(-8, 8), 8)))  # equality case often
        sv = Fraction(rng.randint(1, 9), rng.randint(1, 4))
        q = lambda z: Rational(z.numerator, z.denominator)  # noqa: E731
        values[hs[k]] = q(hv)
        values[Xs[k]] = q(x * x)
        values[Ws[k]] = q(w * w)
        values[Ys[k]] = q(r * x * w)
        values[sigmas[k]] = q(sv)
        parts.append(f"(h={hv}, X={x * x}, W={w * w}, Y={r * x * w}, sigma={sv})")
    return Instance(values=values, dimension=dim, label=f"d={dim}: " + ", ".join(parts))


def greedy_momentum() -> NQMDerivation:
    r"""``nqm.greedy-momentum``: the greedy ``(alpha, mu)`` pair and the convexity certificate (Theorem 2 [role unconfirmed]).

    Statement: ``f(alpha, mu) = 1/2 sum_i h_i [(1 - alpha h_i)^2 X_i + 2 mu (1 - alpha h_i) Y_i + mu^2 W_i
    + alpha^2 h_i^2 sigma_i^2 + sigma_i^2]``; with ``A = sum h^3 (X + sigma^2)``, ``B = sum h^2 Y``,
    ``C = sum h W``, ``D = sum h^2 X``, ``E = sum h Y``: ``f_alpha = A alpha - B mu - D``,
    ``f_mu = -B alpha + C mu + E``; Hessian ``[[A, -B], [-B, C]]``; Cramer:
    ``alpha = (DC - BE)/(AC - B^2)``, ``mu = (BD - AE)/(AC - B^2)``, and the gradient is the Hessian
    times ``(alpha - alpha_greedy, mu - mu_greedy)``; ``AC - B^2 >= C sum h^3 sigma^2 >= 0``.
    Assumptions: ``h_i > 0``, ``X_i, W_i >= 0``, ``|Y_i| <= sqrt(X_i W_i)`` (Cauchy-Schwarz for the
    moments of ``(theta_i, v_i)``). Edge case: ``W = 0`` (e.g. ``v_0 = 0``) makes the system singular
    and ``mu`` irrelevant.
    Check: all identities symbolic in ``d``; the Cauchy-Schwarz step ``B^2 <= C sum h^3 X`` is not
    proved by SymPy for symbolic ``d`` and is checked exactly at sampled rational instances
    (status ``"sampled"``, including the equality case ``|Y_i| = sqrt(X_i W_i)``); the steps after it
    are proved symbolically from it.
    Source: Wu et al. (2018), Theorem 2 [role unconfirmed]; ``papers/wu2018.md`` §4, §11 item 5.

    >>> greedy_momentum().verify_step(25).status   # every step is verified in tests/theory
    'symbolic'
    """
    sums = greedy_sums()
    A, B, C, D, E = (sums[k] for k in "ABCDE")
    f_ = _f(alpha, mu)
    Xn = IndexedBase("X'")
    hess = ImmutableMatrix(sympy.hessian(f_, (alpha, mu)))
    # the signs of h, X, W are the assumptions of their IndexedBase symbols (and of the sampler)
    hyp = (Abs(Ys[i]) <= sqrt(Xs[i] * Ws[i]),)
    det = _sA * _sC - _sB**2
    s3 = Sum(hs[i] ** 3 * sigmas[i] ** 2, (i, 1, d))
    steps = [
        # 1-3 the objective
        Step(
            f_, "=", Rational(1, 2) * Sum(hs[i] * (Xn[i] + sigmas[i] ** 2), (i, 1, d)),
            r"expected loss after one step (nqm.moments, step 22)", _loss_quote(f_, Xn),
        ),
        Step(
            Xn[i],
            "=",
            (1 - alpha * hs[i]) ** 2 * Xs[i] + mu**2 * Ws[i] + 2 * mu * (1 - alpha * hs[i]) * Ys[i] + alpha**2 * hs[i] ** 2 * sigmas[i] ** 2,
            r"the second moment after one step (nqm.moments, step 8)",
            Quote("nqm.moments", 8, substitute=_coordinate((expect(theta_next**2), Xn[i]))),
        ),
        Step(f_, "=", one_step_loss_expr(momentum=True), r"steps 1 and 2: $f(\alpha, \mu)$, the one-step expected loss", Identity(given=(1, 2))),
        # 4-8 the sums
        Step(_sA, "=", A, r"$A$"),
        Step(_sB, "=", B, r"$B$"),
        Step(_sC, "=", C, r"$C$ (not the covariance of the moment recursion)"),
        Step(_sD, "=", D, r"$D$"),
        Step(_sE, "=", E, r"$E$"),
        # 9-12 gradient
        Step(
            sympy.Derivative(f_, alpha),
            "=",
            alpha * A - mu * B - D,
            r"differentiate step 3 in $\alpha$",
            FromPrevious.differentiate(alpha, source=3),
        ),
        Step(
            sympy.Derivative(f_, mu),
            "=",
            -alpha * B + mu * C + E,
            r"differentiate step 3 in $\mu$",
            FromPrevious.differentiate(mu, source=3),
        ),
        Step(
            sympy.Derivative(f_, alpha),
            "=",
            _sA * alpha - _sB * mu - _sD,
            r"so $f_\alpha = 0$ is $A\alpha - B\mu = D$",
            Identity(given=(9, 4, 5, 7)),
        ),
        Step(
            sympy.Derivative(f_, mu),
            "=",
            -_sB * alpha + _sC * mu + _sE,
            r"and $f_\mu = 0$ is $-B\alpha + C\mu = -E$",
            Identity(given=(10, 5, 6, 8)),
        ),
        # 13-14 Hessian
        Step(
            hess,
            "=",
            ImmutableMatrix([[A, -B], [-B, C]]),
            r"Hessian of step 3 (constant: $f$ is quadratic in $(\alpha, \mu)$)",
            FromPrevious(lambda e: ImmutableMatrix(sympy.hessian(e, (alpha, mu))), "Hessian in (alpha, mu)", source=3),
        ),
        Step(
            hess,
            "=",
            ImmutableMatrix([[_sA, -_sB], [-_sB, _sC]]),
            r"in the notation of steps 4-6",
            FromPrevious.substitute({A: _sA, B: _sB, C: _sC}),
        ),
        # 15-19 Cramer
        Step(_alpha_g, "=", (_sD * _sC - _sB * _sE) / det, r"Cramer's rule for the system of steps 11-12"),
        Step(_mu_g, "=", (_sB * _sD - _sA * _sE) / det, r"Cramer's rule"),
        Step(
            _vec(_sA * _alpha_g - _sB * _mu_g, -_sB * _alpha_g + _sC * _mu_g),
            "=",
            _vec(_sD, -_sE),
            r"the pair solves the stationarity system (when $AC - B^2 \ne 0$)",
            Identity(given=(15, 16)),
        ),
        Step(
            sympy.Derivative(f_, alpha),
            "=",
            _sA * (alpha - _alpha_g) - _sB * (mu - _mu_g),
            r"gradient = Hessian $\times$ (point $-$ greedy pair), first row",
            Identity(given=(11, 15, 16)),
        ),
        Step(
            sympy.Derivative(f_, mu),
            "=",
            -_sB * (alpha - _alpha_g) + _sC * (mu - _mu_g),
            r"second row: the stationary point is $(\alpha_{greedy}, \mu_{greedy})$",
            Identity(given=(12, 15, 16)),
        ),
        # 20-26 convexity certificate
        Step(
            Abs(Ys[i]),
            "<=",
            sqrt(Xs[i] * Ws[i]),
            r"hypothesis: Cauchy-Schwarz for the moments, $\mathbb{E}[\theta_i v_i]^2 \le \mathbb{E}\theta_i^2 \mathbb{E} v_i^2$",
            Hypothesis(1),
        ),
        Step(
            _sB**2,
            "<=",
            _sC * Sum(hs[i] ** 3 * Xs[i], (i, 1, d)),
            r"$|B| \le \sum_i h_i^2\sqrt{X_i W_i} \le (\sum_i h_i^3 X_i)^{1/2}(\sum_i h_i W_i)^{1/2}$ (step 20, Cauchy-Schwarz)",
            Bound(assumptions=hyp, sampler=_momentum_sampler, samples=16, seed=21, given=(5, 6)),
        ),
        Step(_sA, "=", Sum(hs[i] ** 3 * Xs[i], (i, 1, d)) + s3, r"split $A$", Identity(given=(4,))),
        Step(det, ">=", _sC * s3, r"steps 21 and 22: $AC - B^2 \ge C\sum_i h_i^3\sigma_i^2$", Bound(given=(21, 22))),
        Step(_sC * s3, ">=", Integer(0), r"$h_i > 0$, $W_i \ge 0$", Bound(given=(6,))),
        Step(det, ">=", Integer(0), r"steps 23 and 24", Bound(given=(23, 24))),
        Step(_sA, ">", Integer(0), r"$h_i > 0$, $\sigma_i > 0$: with step 25 the Hessian is positive semidefinite, $f$ convex", Bound(given=(4,))),
    ]
    return _derivation(
        "nqm.greedy-momentum",
        "Greedy (one-step) learning rate and momentum on the NQM; convexity",
        steps,
        f"{_WU}, Theorem 2 [role unconfirmed] (the greedy learning rate and momentum, derived here)",
        (
            r"$h_i > 0$, $\sigma_i > 0$, $X_i, W_i \ge 0$, $|Y_i| \le \sqrt{X_i W_i}$",
            r"$AC - B^2 \ne 0$ for the Cramer solution",
        ),
        dimension=d,
        index=i,
    )


# ------------------------------------------------------------------------------------------------
# nqm.greedy-1d


def greedy_1d() -> NQMDerivation:
    r"""``nqm.greedy-1d``: the greedy SGD schedule in one dimension decays like ``1/t`` (Bayes/Kalman rate).

    Statement (``m_t = E theta_t^2``): ``alpha_t = m_t / (h (m_t + sigma^2))``;
    ``m_{t+1} = sigma^2 m_t / (m_t + sigma^2)``, i.e. ``1/m_{t+1} = 1/m_t + 1/sigma^2``; hence
    ``m_t = sigma^2 m_0 / (sigma^2 + t m_0)`` (the Gaussian posterior variance after ``t`` draws) and
    ``alpha_t = m_0 / (h (sigma^2 + (t + 1) m_0))``.
    Assumptions: ``d = 1``, ``h, sigma, m_0 > 0``, ``mu = 0``.
    Check: symbolic (``t`` symbolic; induction on ``t``).
    Source: ``papers/wu2018.md`` §4 (one-dimensional closed form, [derived]), §6 item 3 [statement
    unconfirmed], §11 item 6.

    >>> greedy_1d().verify().statuses
    ('quoted', 'symbolic', 'quoted', 'symbolic', 'quoted', 'symbolic', 'symbolic', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic', 'symbolic', 'symbolic')
    """
    f_ = Rational(1, 2) * h * ((1 - alpha * h) ** 2 * _m + alpha**2 * h**2 * sigma**2 + sigma**2)
    ag = _m / (h * (_m + sigma**2))
    m_t = sigma**2 * m0 / (sigma**2 + t * m0)
    steps = [
        Step(
            _f(alpha), "=", f_, r"nqm.greedy-sgd, step 3, at $d = 1$ with $X = m$",
            Quote("nqm.greedy-sgd", 3, substitute=_ONE_COORDINATE),
        ),
        Step(
            sympy.Derivative(_f(alpha), alpha),
            "=",
            h**2 * (alpha * h * (_m + sigma**2) - _m),
            r"differentiate in $\alpha$",
            FromPrevious.differentiate(alpha),
        ),
        Step(
            _alpha_g, "=", ag, r"the greedy rate $m/(h(m + \sigma^2))$ (nqm.greedy-sgd at $d = 1$)",
            Quote("nqm.greedy-sgd", 6, substitute=_ONE_COORDINATE),
        ),
        Step(
            sympy.Derivative(_f(alpha), alpha),
            "=",
            h**3 * (_m + sigma**2) * (alpha - _alpha_g),
            r"the only stationary point",
            Identity(given=(2, 3)),
        ),
        Step(
            _m_next, "=", (1 - alpha * h) ** 2 * _m + alpha**2 * h**2 * sigma**2, r"the SGD moment map (nqm.moments, step 25)",
            Quote("nqm.moments", 25, substitute=((expect(theta_next**2), _m_next), (X, _m))),
        ),
        Step(
            _m_next,
            "=",
            (1 - ag * h) ** 2 * _m + ag**2 * h**2 * sigma**2,
            r"at the greedy rate",
            FromPrevious.substitute({alpha: ag}),
        ),
        Step(_m_next, "=", sigma**2 * _m / (_m + sigma**2), r"simplify", Identity(given=(6,))),
        Step(
            1 / _m_next,
            "=",
            1 / _m + 1 / sigma**2,
            r"take reciprocals: each step adds the precision $1/\sigma^2$ of one draw of $c$",
            FromPrevious(lambda e: 1 / e, "take reciprocals"),
        ),
        Step(
            _ms[tau + 1],
            "=",
            sigma**2 * _ms[tau] / (_ms[tau] + sigma**2),
            r"step 7 along the greedy run, $m_\tau = \mathbb{E}\theta_\tau^2$",
            FromPrevious.substitute({_m_next: _ms[tau + 1], _m: _ms[tau]}, source=7),
        ),
        Step(_ms[0], "=", m0, r"the initial second moment"),
        Step(_ms[t], "=", m_t, r"induction on $t$ from steps 10 and 9", Induction(base=10, recurrence=9)),
        Step(1 / _ms[t], "=", 1 / m0 + t / sigma**2, r"$1/m_t$ is linear in $t$ with slope $1/\sigma^2$", Identity(given=(11,))),
        Step(
            _alphas[t],
            "=",
            _ms[t] / (h * (_ms[t] + sigma**2)),
            r"the greedy rate at step $t$ (step 3 with $m = m_t$)",
            FromPrevious.substitute({_alpha_g: _alphas[t], _m: _ms[t]}, source=3),
        ),
        Step(
            _alphas[t],
            "=",
            m0 / (h * (sigma**2 + (t + 1) * m0)),
            r"steps 13 and 11: a $1/t$ decay",
            Identity(given=(13, 11)),
        ),
    ]
    return _derivation(
        "nqm.greedy-1d",
        "Greedy SGD schedule in one dimension: 1/t decay, Bayes posterior variance",
        steps,
        f"derived here: the one-dimensional greedy schedule of {_WU}, Theorem 2 [role unconfirmed], and its third "
        "theorem [statement unconfirmed]",
        (r"$d = 1$, $\mu = 0$", r"$h, \sigma, m_0 > 0$"),
        horizon=t,
    )


# ------------------------------------------------------------------------------------------------
# Zhang et al. (2019)

_ZHANG_NOISE = CenteredNormal(eps, c_grad / batch)


def zhang_sgd_risk() -> NQMDerivation:
    r"""``nqm.zhang-sgd-risk``: SGD on Zhang et al.'s NQM: dynamics and steady-state risk (§10.2).

    Statement: ``theta' = theta - alpha (h theta + eps)``, ``eps ~ N(0, c/B)``:
    ``E theta'^2 = (1 - alpha h)^2 E theta^2 + alpha^2 c / B``; the fixed point ``s_*`` gives the risk
    ``1/2 h s_* = alpha c / (2B(2 - alpha h))``; for constant ``alpha``,
    ``s_t = s_* + (1 - alpha h)^{2t}(s_0 - s_*)`` and
    ``E l(t) = (1 - alpha h)^{2t}(l_0 - l_*) + l_* <= (1 - alpha h)^{2t} l_0 + l_*``.
    Assumptions: ``0 < alpha h < 2``. Check: symbolic (the bound by the reparametrisation
    ``alpha = 2 delta / (h (1 + delta))``, ``delta > 0``, which covers exactly ``0 < alpha h < 2``).
    Source: Zhang et al. (2019) [form in the paper unconfirmed]; ``papers/wu2018.md`` §10.2, §11 item 16.

    >>> zhang_sgd_risk().verify().statuses
    ('definition', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic', 'symbolic')
    """
    a = alpha * h
    noise = alpha**2 * c_grad / batch
    s_star = alpha * c_grad / (batch * h * (2 - a))
    l_star = alpha * c_grad / (2 * batch * (2 - a))
    closed = s_star + (1 - a) ** (2 * t) * (s0 - s_star)
    steps = [
        Step(theta_next, "=", theta - alpha * (h * theta + eps), r"SGD with the minibatch gradient $h\theta + \epsilon$, $\epsilon \sim N(0, c/B)$"),
        Step(
            expect(theta_next**2),
            "=",
            (1 - a) ** 2 * X + noise,
            r"square and average; $\epsilon$ independent of $\theta$",
            Expectation((KnownMoments((theta,), ((theta, m_theta), (theta**2, X))), _ZHANG_NOISE), given=(1,)),
        ),
        Step(_s[tau + 1], "=", (1 - a) ** 2 * _s[tau] + noise, r"along a run, $s_\tau = \mathbb{E}\theta_\tau^2$",
             FromPrevious.substitute({expect(theta_next**2): _s[tau + 1], X: _s[tau]})),
        Step(_s_st, "=", s_star, r"candidate fixed point"),
        Step(_s_st, "=", (1 - a) ** 2 * _s_st + noise, r"it is one (unique: $1 - (1 - \alpha h)^2 = \alpha h(2 - \alpha h) \ne 0$)", Identity(given=(4,))),
        Step(h * _s_st / 2, "=", l_star, r"steady-state risk $\ell_\star = \frac12 h s_\star$", Identity(given=(4,))),
        Step(_s[0], "=", s0, r"initial second moment"),
        Step(_s[t], "=", closed, r"induction on $t$ from steps 7 and 3", Induction(base=7, recurrence=3)),
        Step(
            h * _s[t] / 2,
            "=",
            (1 - a) ** (2 * t) * (h * s0 / 2 - l_star) + l_star,
            r"$\mathbb{E}\ell(t) = (1 - \alpha h)^{2t}(\ell_0 - \ell_\star) + \ell_\star$",
            Identity(given=(8,)),
        ),
        Step(
            h * _s[t] / 2,
            "<=",
            (1 - a) ** (2 * t) * h * s0 / 2 + l_star,
            r"drop $-(1 - \alpha h)^{2t}\ell_\star \le 0$: fast convergence vs. a noise floor $\propto \alpha/B$",
            Bound(assumptions=(alpha * h < 2,), given=(8,), reparametrize=((alpha, 2 * _delta / (h * (1 + _delta))),)),
        ),
    ]
    return _derivation(
        "nqm.zhang-sgd-risk",
        "Zhang et al. NQM: SGD dynamics and steady-state risk",
        steps,
        f"{_ZHANG}, SGD on the NQM [form in the paper unconfirmed] (derived here)",
        (r"$\epsilon \sim N(0, c/B)$ fresh, independent of $\theta$", r"$0 < \alpha h < 2$"),
        horizon=t,
    )


def _momentum_zhang_steps() -> list[Step]:
    return [
        Step(g, "=", h * theta + eps, r"minibatch gradient, $\epsilon \sim N(0, c/B)$"),
        Step(v_next, "=", beta * v - alpha * g, r"heavy-ball velocity"),
        Step(theta_next, "=", theta + v_next, r"iterate"),
    ]


def zhang_momentum_risk() -> NQMDerivation:
    r"""``nqm.zhang-momentum-risk``: heavy-ball momentum: fixed point of the 3x3 moment system (§10.3).

    Statement: ``s' = M(alpha h, beta) s + alpha^2 c/B (1, 1, 1)``; its fixed point
    ``X_* = (1 + beta) alpha c / (B h (1 - beta)(2 + 2 beta - alpha h))``,
    ``W_* = 2 alpha^2 c / (B (1 - beta)(2 + 2 beta - alpha h))``, ``Y_* = W_* / 2``, unique as
    ``det(I - M) = alpha h (1 - beta)(2 + 2 beta - alpha h) != 0``; risk
    ``1/2 h X_* = (1 + beta) alpha c / (2B(1 - beta)(2 + 2 beta - alpha h))``; at ``beta = 0`` the SGD
    risk; at the same effective rate ``alpha = (1 - beta) alpha_eff`` the ratio to SGD tends to 1
    as ``alpha_eff h -> 0``.
    Assumptions: ``0 <= beta < 1``, ``0 < alpha h < 2 + 2 beta``. Check: symbolic.
    Source: Zhang et al. (2019) [form in the paper unconfirmed]; ``papers/wu2018.md`` §10.3, §11 item 17.

    >>> zhang_momentum_risk().verify().statuses
    ('definition', 'definition', 'definition', 'symbolic', 'definition', 'definition', 'definition', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic', 'definition', 'symbolic', 'symbolic')
    """
    a = alpha * h
    M = transition_matrix(a, beta)
    n_ = noise_vector(alpha, 1, c_grad / batch)
    den = batch * (1 - beta) * (2 + 2 * beta - a)
    X_st = (1 + beta) * alpha * c_grad / (h * den)
    W_st = 2 * alpha**2 * c_grad / den
    Y_st = alpha**2 * c_grad / den
    ell = Function("ell_*")
    R = Function("R")
    risk_mom = steady_state_risk("momentum")
    risk_sgd = steady_state_risk("sgd")
    laws = (KnownMoments((theta, v), ((theta**2, X), (v**2, W), (theta * v, Y))), _ZHANG_NOISE)
    steps = _momentum_zhang_steps() + [
        Step(
            _vec(expect(theta_next**2), expect(v_next**2), expect(theta_next * v_next)),
            "=",
            MatAdd(MatMul(M, _vec(X, W, Y)), n_),
            r"the 3x3 map of nqm.moments with noise $\alpha^2 c/B$, recomputed from steps 1-3",
            Expectation(laws, given=(1, 2, 3)),
        ),
        Step(_X_st, "=", X_st, r"candidate fixed point (solved with $(I - M)^{-1} n$)"),
        Step(_W_st, "=", W_st, r"candidate, second moment of the velocity"),
        Step(_Y_st, "=", Y_st, r"candidate, $Y_\star = W_\star / 2$"),
        Step(
            _vec(_X_st, _W_st, _Y_st),
            "=",
            MatAdd(MatMul(M, _vec(_X_st, _W_st, _Y_st)), n_),
            r"it is a fixed point of step 4",
            Identity(given=(5, 6, 7)),
        ),
        Step(
            Determinant(ImmutableMatrix(sympy.eye(3) - M)),
            "=",
            a * (1 - beta) * (2 + 2 * beta - a),
            r"and the only one when $\beta \ne 1$, $0 < \alpha h \ne 2 + 2\beta$",
            Identity(),
        ),
        Step(ell(beta), "=", h * _X_st / 2, r"the steady-state risk $\frac12 h X_\star$"),
        Step(ell(beta), "=", risk_mom, r"Zhang et al. (2019), heavy-ball momentum", Identity(given=(10, 5))),
        Step(ell(0), "=", risk_sgd, r"$\beta = 0$: the SGD risk (nqm.zhang-sgd-risk)", FromPrevious.substitute({beta: Integer(0)})),
        Step(
            R(_alpha_e, h),
            "=",
            risk_mom.xreplace({alpha: (1 - beta) * _alpha_e}) / risk_sgd.xreplace({alpha: _alpha_e}),
            r"momentum risk at $\alpha = (1 - \beta)\alpha_{eff}$ over the SGD risk at $\alpha_{eff}$",
        ),
        Step(
            R(_alpha_e, h),
            "=",
            (1 + beta) * (2 - _alpha_e * h) / (2 + 2 * beta - (1 - beta) * _alpha_e * h),
            r"simplify",
            Identity(given=(13,)),
        ),
        Step(
            R(_alpha_e, 0),
            "=",
            Integer(1),
            r"$\alpha_{eff} h \to 0$ (the ratio is continuous there): no gain from momentum in the noise-dominated regime",
            FromPrevious.substitute({h: Integer(0)}),
        ),
    ]
    return _derivation(
        "nqm.zhang-momentum-risk",
        "Zhang et al. NQM: heavy-ball momentum steady-state risk",
        steps,
        f"{_ZHANG}, momentum on the NQM [form in the paper unconfirmed] (derived here)",
        (r"$\epsilon \sim N(0, c/B)$ fresh, independent of $(\theta, v)$", r"$0 \le \beta < 1$, $0 < \alpha h < 2 + 2\beta$"),
    )


def zhang_preconditioned_risk() -> NQMDerivation:
    r"""``nqm.zhang-preconditioned-risk``: SGD preconditioned by ``P = H^p``: steady-state risk (§10.4).

    Statement: ``theta' = theta - alpha h^{-p} (h theta + eps)`` gives
    ``E theta'^2 = (1 - alpha h^{1-p})^2 E theta^2 + alpha^2 h^{-2p} c/B`` and the risk
    ``alpha c h^{-p} / (2B(2 - alpha h^{1-p}))``; with ``C = H`` (``c = h``)
    ``alpha h^{1-p} / (2B(2 - alpha h^{1-p}))``; ``p = 0`` is plain SGD.
    Assumptions: ``0 <= p <= 1``, ``0 < alpha h^{1-p} < 2``. Check: symbolic (``p`` symbolic).
    Source: Zhang et al. (2019) [form in the paper unconfirmed]; ``papers/wu2018.md`` §10.4, §11 item 18.

    >>> zhang_preconditioned_risk().verify().statuses
    ('definition', 'symbolic', 'definition', 'symbolic', 'definition', 'symbolic', 'symbolic', 'symbolic')
    """
    q = alpha * h ** (1 - p)
    noise = alpha**2 * h ** (-2 * p) * c_grad / batch
    s_star = alpha * c_grad * h ** (-p - 1) / (batch * (2 - q))
    ell = Function("ell_*")
    risk = steady_state_risk("preconditioned")
    steps = [
        Step(theta_next, "=", theta - alpha * h ** (-p) * (h * theta + eps), r"preconditioned SGD, $P^{-1} = h^{-p}$ per coordinate"),
        Step(
            expect(theta_next**2),
            "=",
            (1 - q) ** 2 * X + noise,
            r"curvature $h^{1-p}$, noise $\alpha^2 h^{-2p} c/B$",
            Expectation((KnownMoments((theta,), ((theta**2, X),)), _ZHANG_NOISE), given=(1,)),
        ),
        Step(_s_st, "=", s_star, r"candidate fixed point"),
        Step(_s_st, "=", (1 - q) ** 2 * _s_st + noise, r"it is one", Identity(given=(3,))),
        Step(ell(c_grad, p), "=", h * _s_st / 2, r"the steady-state risk $\frac12 h s_\star$"),
        Step(ell(c_grad, p), "=", risk, r"Zhang et al. (2019), preconditioning", Identity(given=(5, 3))),
        Step(
            ell(h, p),
            "=",
            q / (2 * batch * (2 - q)),
            r"$C = H$: $c = h$",
            FromPrevious.substitute({c_grad: h}),
        ),
        Step(
            ell(c_grad, 0),
            "=",
            steady_state_risk("sgd"),
            r"$p = 0$: plain SGD",
            FromPrevious.substitute({p: Integer(0)}, source=6),
        ),
    ]
    return _derivation(
        "nqm.zhang-preconditioned-risk",
        "Zhang et al. NQM: preconditioned SGD (P = H^p) steady-state risk",
        steps,
        f"{_ZHANG}, preconditioning [form in the paper unconfirmed] (derived here)",
        (r"$P = H^p$, $0 \le p \le 1$", r"$0 < \alpha h^{1-p} < 2$"),
    )


def zhang_ema_risk() -> NQMDerivation:
    r"""``nqm.zhang-ema-risk``: exponential moving average of the SGD iterates: steady-state risk (§10.5).

    Statement: with ``u' = gamma u + (1 - gamma) theta'`` (the normalised EMA; the notebook's
    unnormalised ``z`` is ``u / (1 - gamma)``) and ``r = 1 - alpha h``, the moments
    ``(X, Z, U) = (E theta^2, E u^2, E theta u)`` follow the 3x3 system
    ``X' = r^2 X + n``, ``Z' = gamma^2 Z + 2 gamma (1 - gamma) r U + (1 - gamma)^2 (r^2 X + n)``,
    ``U' = gamma r U + (1 - gamma)(r^2 X + n)`` with ``n = alpha^2 c/B``; its fixed point has
    ``U_* = (1 - gamma) X_* / (1 - gamma r)``, ``Z_* = phi X_*``,
    ``phi = (1 - gamma)(1 + gamma r) / ((1 + gamma)(1 - gamma r))``, unique as
    ``det(I - M) = (1 - r^2)(1 - gamma^2)(1 - gamma r) != 0``; so the EMA risk ``1/2 h Z_*`` is the
    SGD risk times ``phi``, and ``0 < phi < 1`` for ``0 < gamma < 1``, ``0 < alpha h < 2``.
    Check: symbolic (the bounds by ``alpha = 2 delta/(h(1 + delta))``, ``gamma = kappa/(1 + kappa)``,
    ``delta, kappa > 0``, which cover exactly those ranges).
    Source: Zhang et al. (2019) [form in the paper unconfirmed]; ``papers/wu2018.md`` §10.5, §11 item 18.

    >>> zhang_ema_risk().verify_step(12).status   # every step is verified in tests/theory
    'symbolic'
    """
    a = alpha * h
    r_ = 1 - a
    n0 = alpha**2 * c_grad / batch
    M = ImmutableMatrix(
        [
            [r_**2, 0, 0],
            [(1 - gamma) ** 2 * r_**2, gamma**2, 2 * gamma * (1 - gamma) * r_],
            [(1 - gamma) * r_**2, 0, gamma * r_],
        ]
    )
    n_ = n0 * _vec(1, (1 - gamma) ** 2, 1 - gamma)
    X_st = alpha * c_grad / (batch * h * (2 - a))
    U_st = (1 - gamma) * X_st / (1 - gamma * r_)
    phi = ema_factor_expr()
    laws = (KnownMoments((theta, _u), ((theta**2, X), (_u**2, _Z), (theta * _u, _U))), _ZHANG_NOISE)
    reps = ((alpha, 2 * _delta / (h * (1 + _delta))), (gamma, _kappa / (1 + _kappa)))
    hyp = (alpha * h < 2, gamma < 1)
    steps = [
        Step(theta_next, "=", (1 - a) * theta - alpha * eps, r"SGD step, $\epsilon \sim N(0, c/B)$"),
        Step(_u_next, "=", gamma * _u + (1 - gamma) * theta_next, r"EMA of the iterates (normalised)"),
        Step(
            _vec(expect(theta_next**2), expect(_u_next**2), expect(theta_next * _u_next)),
            "=",
            MatAdd(MatMul(M, _vec(X, _Z, _U)), n_),
            r"the 3x3 system for $(\theta^2, u^2, \theta u)$ from steps 1-2",
            Expectation(laws, given=(1, 2)),
        ),
        Step(
            _X_st, "=", X_st, r"the SGD fixed point (nqm.zhang-sgd-risk)",
            Quote("nqm.zhang-sgd-risk", 4, substitute=((_s_st, _X_st),)),
        ),
        Step(_U_st, "=", U_st, r"candidate"),
        Step(_Z_st, "=", phi * _X_st, r"candidate: $Z_\star = \phi X_\star$"),
        Step(
            _vec(_X_st, _Z_st, _U_st),
            "=",
            MatAdd(MatMul(M, _vec(_X_st, _Z_st, _U_st)), n_),
            r"a fixed point of step 3",
            Identity(given=(6, 5, 4)),
        ),
        Step(
            Determinant(ImmutableMatrix(sympy.eye(3) - M)),
            "=",
            (1 - r_**2) * (1 - gamma**2) * (1 - gamma * r_),
            r"and the only one for $0 < \alpha h < 2$, $0 < \gamma < 1$",
            Identity(),
        ),
        Step(_phi, "=", phi, r"the EMA factor (Zhang et al. (2019), exponential moving average)"),
        Step(
            h * _Z_st / 2,
            "=",
            _phi * steady_state_risk("sgd"),
            r"EMA risk = SGD risk $\times\ \phi$",
            Identity(given=(6, 4, 9)),
        ),
        Step(_phi, ">", Integer(0), r"$\phi > 0$", Bound(assumptions=hyp, given=(9,), reparametrize=reps)),
        Step(
            1 - _phi,
            "=",
            2 * gamma * a / ((1 + gamma) * (1 - gamma * r_)),
            r"the gain",
            Identity(given=(9,)),
        ),
        Step(_phi, "<", Integer(1), r"$\phi < 1$: the EMA lowers the noise floor", Bound(assumptions=hyp, given=(9,), reparametrize=reps)),
    ]
    return _derivation(
        "nqm.zhang-ema-risk",
        "Zhang et al. NQM: EMA of the SGD iterates, steady-state risk",
        steps,
        f"{_ZHANG}, iterate averaging [form in the paper unconfirmed] (derived here)",
        (r"$\epsilon \sim N(0, c/B)$ fresh, independent of $(\theta, u)$", r"$0 < \gamma < 1$, $0 < \alpha h < 2$"),
    )


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them via theory.registry).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "nqm.moments": moments,
    "nqm.adjoint": adjoint,
    "nqm.greedy-sgd": greedy_sgd,
    "nqm.greedy-momentum": greedy_momentum,
    "nqm.greedy-1d": greedy_1d,
    "nqm.zhang-sgd-risk": zhang_sgd_risk,
    "nqm.zhang-momentum-risk": zhang_momentum_risk,
    "nqm.zhang-preconditioned-risk": zhang_preconditioned_risk,
    "nqm.zhang-ema-risk": zhang_ema_risk,
}

