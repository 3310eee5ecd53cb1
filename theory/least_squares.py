r"""Gradient descent on least squares: closed forms and Gaussian-design facts of Wang et al. (2021), Sec. 4.

Setting (``papers/wang2021.md`` §2.3 and §5 items 10-13). Data ``X`` (``n x d``, rows ``x_j``) and
``y``; training loss ``Lhat(w) = (1/2n)||y - X w||^2``; ``H = X^T X / n = sum_i lambda_i v_i v_i^T``,
``b = X^T y / n``, ``w_ERM = H^+ b`` (the minimum-norm least-squares solution), ``r = y - X w_ERM``.
Full-batch GD with step ``eta`` from ``w_0``. In the eigenbasis of ``H`` write
``a_i = <v_i, w_ERM>``, ``g_i = <v_i, w_0>``, ``beta_i = <v_i, b> = lambda_i a_i``; the sums run over
the ``p = rank(H)`` positive eigenvalues ``i = 1..p`` (directions with ``lambda_i = 0`` never move and,
as ``a_i = beta_i = 0`` there, contribute nothing that depends on ``eta``).

Derivations (each a :class:`theory.derivation.Derivation` or :class:`theory.expectation.MomentDerivation`
whose steps SymPy checks):

``least_squares.iterate``
    ``w_{t,i} = a_i + (1 - eta lambda_i)^t (g_i - a_i)``; from ``w_0 = 0``:
    ``w_t = sum_{lambda_i > 0} [1 - (1 - eta lambda_i)^t] a_i v_i = (I - (I - eta H)^t) w_ERM``.
``least_squares.train-loss``
    ``Lhat(w_t) = ||r||^2/(2n) + 1/2 sum_i lambda_i (1 - eta lambda_i)^{2t} a_i^2`` and its
    ``eta``-derivative ``-t sum_i lambda_i^2 (1 - eta lambda_i)^{2t-1} a_i^2``.
``least_squares.tbt-quadratic``
    for ``n < d`` (``r = 0``) the train-by-train meta-objective *is* the Sec. 3 quadratic
    ``quadratic.loss`` with ``H`` restricted to its range and ``c_i = -a_i``.
``least_squares.validation-loss``
    ``Lv(w) = (1/2 n_v)||y_v - X_v w||^2 = C_v - b_v^T w + 1/2 w^T H_v w`` is a quadratic form in
    ``w_t``; its ``eta``-derivative is ``(H_v w_t - b_v)^T dw_t/d eta``.
``least_squares.validation-identity``
    ``E[1/2 (y - <w, x>)^2] = 1/2 (||w - w*||^2 + sigma^2)`` for ``x ~ N(0, I)``,
    ``y = <w*, x> + xi`` (and for the mean over ``n_v`` validation samples).
``least_squares.early-stopping``
    ``E[H] = I``, ``E[b] = w*``, ``E||b||^2 = (1 + (d+1)/n)||w*||^2 + sigma^2 d/n`` (from the quoted
    Wishart moment ``E[H^2] = (1 + (d+1)/n) I``), ``E||s b - w*||^2 = 1 - 2s + s^2 K`` with
    ``K = 1 + (d+1)/n + sigma^2 d/n``, minimised at ``s* = 1/K`` with value ``1 - s*``; and
    ``dw_t/d eta`` at ``eta = 0`` is ``t b`` (so ``w_t ~ eta t b`` for small ``eta t``).
``least_squares.erm-error``
    the quoted inverse-Wishart ERM errors and the algebra that follows from them
    (``1/2 + sigma^2 n/(n - 1) >= 1/2 + sigma^2`` at ``d = 2n``; the ratio to ``d sigma^2/n``).

Source: Wang, Yuan, Wu & Ge (2021), ICML, Sec. 4; ``papers/wang2021.md`` §2.3, §4 and §5 items
10-13 (the proof sketches there are reconstructions, tagged [derived]).

>>> tuple(DERIVATIONS)[:3]
('least_squares.iterate', 'least_squares.train-loss', 'least_squares.tbt-quadratic')
>>> train_loss_expr()
Sum((-eta*lambda[i] + 1)**(2*t)*a[i]**2*lambda[i], (i, 1, p))/2 + r2/(2*n)
"""

from __future__ import annotations

from typing import Callable

import sympy
from sympy import (
    Derivative,
    Function,
    IndexedBase,
    Integer,
    MatrixSymbol,
    Rational,
    Sum,
    Symbol,
)

from l2l.theory import quadratic
from l2l.theory.derivation import Assumed, Bound, Derivation, FromPrevious, Hypothesis, Identity, Induction, Quote, Step
from l2l.theory.expectation import (
    Avg,
    Entry,
    Expectation,
    Gaussian,
    MomentDerivation,
    Row,
    Sc,
    expect,
)

__all__ = [
    "eta",
    "t",
    "tau",
    "i",
    "k",
    "p",
    "d",
    "n",
    "n_v",
    "sigma",
    "s",
    "lam",
    "a",
    "g",
    "beta",
    "u",
    "w",
    "Q",
    "beta_v",
    "r2",
    "Y2",
    "C_v",
    "K",
    "W2",
    "iterate_expr",
    "train_loss_expr",
    "train_loss_grad_expr",
    "valid_loss_expr",
    "valid_loss_grad_expr",
    "early_stopping_scale_expr",
    "early_stopping_error_expr",
    "erm_error_expr",
    "iterate",
    "train_loss",
    "tbt_quadratic",
    "validation_loss",
    "validation_identity",
    "early_stopping",
    "erm_error",
    "DERIVATIONS",
]

# ------------------------------------------------------------------------------------------------
# symbols (eta, t, tau, i, lambda, w are those of theory.quadratic)

eta, t, tau, i, lam, w = quadratic.eta, quadratic.t, quadratic.tau, quadratic.i, quadratic.lam, quadratic.w
k = Symbol("k", integer=True, positive=True)
p = Symbol("p", integer=True, positive=True)
d = Symbol("d", integer=True, positive=True)
n = Symbol("n", integer=True, positive=True)
n_v = Symbol("n_v", integer=True, positive=True)
sigma = Symbol("sigma", positive=True)
s = Symbol("s", real=True)
a = IndexedBase("a", real=True)
g = IndexedBase("g", real=True)
beta = IndexedBase("beta", real=True)
u = IndexedBase("u", real=True)
Q = IndexedBase("Q", real=True)
beta_v = IndexedBase("beta^v", real=True)
r2 = Symbol("r2", nonnegative=True)
Y2 = Symbol("Y2", nonnegative=True)
C_v = Symbol("C_v", nonnegative=True)
K = Symbol("K", positive=True)
W2 = Symbol("W2", positive=True)
_q = Symbol("q", positive=True)

_wvec, _werm = Symbol("w"), Symbol("w_ERM")
Lhat = Function("Lhat")
Lval = Function("L_v")
F_tbt = Function("Fhat_TbT")
F_tbv = Function("Fhat_TbV")
Qs = Function("Q")
Wt = Function("w_t")

_SOURCE = "Wang et al. (2021), Section 4"
_SETTING = (
    r"$H = X^\top X / n = \sum_i \lambda_i v_i v_i^\top$, $b = X^\top y / n$, $w_{ERM} = H^+ b$",
    r"$a_i = \langle v_i, w_{ERM}\rangle$, $g_i = \langle v_i, w_0\rangle$; sums over the $p$ positive eigenvalues",
)


def _x(e: sympy.Expr = eta) -> sympy.Expr:
    """``1 - eta lambda_i``."""
    return 1 - e * lam[i]


# ------------------------------------------------------------------------------------------------
# closed forms


def iterate_expr(general_start: bool = False) -> sympy.Expr:
    r"""``w_{t,i}``: ``(1 - (1 - eta lambda_i)^t) a_i`` from ``w_0 = 0``, or ``a_i + (1 - eta lambda_i)^t (g_i - a_i)``.

    >>> iterate_expr()
    (1 - (-eta*lambda[i] + 1)**t)*a[i]
    """
    if general_start:
        return a[i] + _x() ** t * (g[i] - a[i])
    return (1 - _x() ** t) * a[i]


def train_loss_expr() -> sympy.Expr:
    r"""``||r||^2/(2n) + 1/2 sum_i lambda_i (1 - eta lambda_i)^{2t} a_i^2`` (``w_0 = 0``; §5 item 11)."""
    return r2 / (2 * n) + Rational(1, 2) * Sum(lam[i] * _x() ** (2 * t) * a[i] ** 2, (i, 1, p))


def train_loss_grad_expr() -> sympy.Expr:
    r"""``d/d eta`` of :func:`train_loss_expr`: ``-t sum_i lambda_i^2 (1 - eta lambda_i)^{2t-1} a_i^2``.

    >>> train_loss_grad_expr()
    -t*Sum((-eta*lambda[i] + 1)**(2*t - 1)*a[i]**2*lambda[i]**2, (i, 1, p))
    """
    return -t * Sum(lam[i] ** 2 * _x() ** (2 * t - 1) * a[i] ** 2, (i, 1, p))


def _iter_at(j: Symbol) -> sympy.Expr:
    return a[j] + (1 - eta * lam[j]) ** t * (g[j] - a[j])


def valid_loss_expr() -> sympy.Expr:
    r"""``C_v - sum_i beta^v_i w_{t,i} + 1/2 sum_{i,k} Q_ik w_{t,i} w_{t,k}`` (``w_0`` in the range of ``H``).

    ``Q_ik = v_i^T H_v v_k``, ``beta^v_i = <v_i, b_v>``, ``C_v = ||y_v||^2/(2 n_v)``, and
    ``w_{t,i} = a_i + (1 - eta lambda_i)^t (g_i - a_i)``.
    """
    return (
        C_v
        - Sum(beta_v[i] * _iter_at(i), (i, 1, p))
        + Rational(1, 2) * Sum(Q[i, k] * _iter_at(i) * _iter_at(k), (i, 1, p), (k, 1, p))
    )


def valid_loss_grad_expr() -> sympy.Expr:
    r"""``sum_i (sum_k (Q_ik + Q_ki)/2 w_{t,k} - beta^v_i) dw_{t,i}/d eta``, ``dw_{t,i}/d eta = -t lambda_i (1 - eta lambda_i)^{t-1} (g_i - a_i)``.

    ``(Q_ik + Q_ki)/2 = Q_ik`` since ``H_v`` is symmetric: this is ``(H_v w_t - b_v)^T dw_t/d eta``.
    """
    grad_i = Sum((Q[i, k] + Q[k, i]) / 2 * _iter_at(k), (k, 1, p)) - beta_v[i]
    dw_i = -t * lam[i] * _x() ** (t - 1) * (g[i] - a[i])
    return Sum(grad_i * dw_i, (i, 1, p))


def early_stopping_scale_expr() -> sympy.Expr:
    r"""``s* = 1 / (1 + (d + 1)/n + sigma^2 d / n)`` (§5 item 13; ``n`` = number of training samples).

    >>> early_stopping_scale_expr().subs({d: 200, n: 100, sigma: 1})   # 1/(1 + 2.01 + 2)
    100/501
    """
    return 1 / (1 + (d + 1) / n + sigma**2 * d / n)


def early_stopping_error_expr() -> sympy.Expr:
    r"""``min_s E||s b - w*||^2 = 1 - s*`` (with ``||w*|| = 1``)."""
    return 1 - early_stopping_scale_expr()


def erm_error_expr(regime: str) -> sympy.Expr:
    r"""The quoted ERM error: ``regime="under"`` (``n < d - 1``) or ``"over"`` (``n > d + 1``), ``||w*|| = 1``.

    >>> erm_error_expr("under").subs({d: 200, n: 100, sigma: 1})   # 1/2 + 100/99
    299/198
    """
    if regime == "under":
        return (1 - n / d) + sigma**2 * n / (d - n - 1)
    if regime == "over":
        return sigma**2 * d / (n - d - 1)
    raise ValueError(f"regime must be 'under' or 'over', got {regime!r}")


# ------------------------------------------------------------------------------------------------
# derivations


def _derivation(name, title, steps, source, assumptions=_SETTING) -> Derivation:
    return Derivation(name, title, steps, source, assumptions, dimension=p, index=i, horizon=t)


def iterate() -> Derivation:
    r"""``least_squares.iterate``: the GD iterate in the eigenbasis of ``H`` (§5 item 10).

    Statement: ``w_{t,i} = a_i + (1 - eta lambda_i)^t (g_i - a_i)``; from ``w_0 = 0``,
    ``w_{t,i} = [1 - (1 - eta lambda_i)^t] a_i``, i.e. ``w_t = (I - (I - eta H)^t) w_ERM``;
    a direction with ``lambda_i = 0`` keeps its initial coordinate.
    Assumptions: ``beta_i = lambda_i a_i`` (``b`` lies in the range of ``H`` and ``H w_ERM = b``;
    quoted linear algebra).
    Check: induction on ``t`` (symbolic ``t``); the special cases by substitution.
    Source: paper Sec. 4 setting; ``papers/wang2021.md`` §5 item 10.

    >>> iterate().verify().statuses
    ('definition', 'assumed', 'definition', 'symbolic', 'symbolic', 'symbolic', 'symbolic')
    """
    steps = [
        Step(w[0, i], "=", g[i], r"coordinates of $w_0$: $g_i = \langle v_i, w_0\rangle$"),
        Step(
            beta[i],
            "=",
            lam[i] * a[i],
            r"$\beta_i = \langle v_i, b\rangle$ and $H w_{ERM} = H H^+ b = b$ since $b = X^\top y/n$ lies in the range of $H$",
            Assumed("quoted linear algebra: b = X^T y / n lies in the range of X^T X, so H H^+ b = b"),
        ),
        Step(
            w[tau + 1, i],
            "=",
            w[tau, i] - eta * (lam[i] * w[tau, i] - beta[i]),
            r"GD step $w_{\tau+1} = w_\tau - \eta (H w_\tau - b)$ read along $v_i$",
        ),
        Step(
            w[tau + 1, i],
            "=",
            w[tau, i] + eta * lam[i] * (a[i] - w[tau, i]),
            r"steps 3 and 2: each coordinate contracts towards $a_i$",
            Identity(given=(3, 2)),
        ),
        Step(w[t, i], "=", iterate_expr(general_start=True), r"induction on $t$ from steps 1 and 4", Induction(base=1, recurrence=4)),
        Step(
            w[t, i],
            "=",
            iterate_expr(),
            r"$w_0 = 0$: $w_t = \sum_{\lambda_i > 0}[1 - (1 - \eta\lambda_i)^t] a_i v_i = (I - (I - \eta H)^t) w_{ERM}$",
            FromPrevious.substitute({g[i]: Integer(0)}),
        ),
        Step(
            w[t, i],
            "=",
            g[i],
            r"a direction with $\lambda_i = 0$ never moves (there $a_i = 0$: $w_{ERM}$ lies in the range of $H$)",
            FromPrevious.substitute({lam[i]: Integer(0)}, source=5),
        ),
    ]
    return _derivation(
        "least_squares.iterate",
        "GD iterate on least squares in the eigenbasis of H",
        steps,
        _SOURCE + " (GD from 0 on least squares; derived here)",
    )


def _lhat_data():
    X, y, wv = MatrixSymbol("X", n, d), MatrixSymbol("y", n, 1), MatrixSymbol("w", d, 1)
    H, b = MatrixSymbol("H", d, d), MatrixSymbol("b", d, 1)
    return X, y, wv, H, b


def train_loss() -> MomentDerivation:
    r"""``least_squares.train-loss``: the training loss along GD and its ``eta``-derivative (§5 item 11).

    Statement: ``(1/2n)||y - X w||^2 = (1/2n) y^T y - b^T w + 1/2 w^T H w``; in the eigenbasis,
    ``Lhat(w) = ||r||^2/(2n) + 1/2 sum_i lambda_i (u_i - a_i)^2`` with ``u_i = <v_i, w>`` and
    ``||r||^2 = ||y||^2 - n sum_i lambda_i a_i^2``; hence
    ``Lhat(w_t) = ||r||^2/(2n) + 1/2 sum_i lambda_i (1 - eta lambda_i)^{2t} (g_i - a_i)^2`` and, from
    ``w_0 = 0``, ``||r||^2/(2n) + 1/2 sum_i lambda_i (1 - eta lambda_i)^{2t} a_i^2`` with derivative
    ``-t sum_i lambda_i^2 (1 - eta lambda_i)^{2t-1} a_i^2``.
    Check: the matrix expansion at ``(d, n) = (1, 1), (2, 3), (3, 2)`` with symbolic entries; the
    eigenbasis steps for symbolic ``p`` and ``t``. The change of basis (step 4) is quoted.
    Source: paper Sec. 4; ``papers/wang2021.md`` §5 item 11.

    >>> train_loss().verify().statuses
    ('definition', 'definition', 'concrete-d', 'assumed', 'quoted', 'symbolic', 'definition', 'symbolic', 'symbolic', 'symbolic', 'symbolic', 'symbolic')
    """
    X, y, wv, H, b = _lhat_data()
    lw = Sum(lam[i] * u[i] ** 2, (i, 1, p))
    steps = [
        Step(H, "=", X.T * X / n, r"$H = X^\top X / n$"),
        Step(b, "=", X.T * y / n, r"$b = X^\top y / n$"),
        Step(
            Sc((y - X * wv).T * (y - X * wv)) / (2 * n),
            "=",
            Sc(y.T * y) / (2 * n) - Sc(b.T * wv) + Sc(wv.T * H * wv) / 2,
            r"expand the square",
            Identity(),
        ),
        Step(
            Lhat(_wvec),
            "=",
            Y2 / (2 * n) - Sum(beta[i] * u[i], (i, 1, p)) + lw / 2,
            r"step 3 in the eigenbasis: $u_i = \langle v_i, w\rangle$, $\beta_i = \langle v_i, b\rangle$, $Y_2 = \|y\|^2$ "
            r"(directions with $\lambda_i = 0$ have $\beta_i = 0$ and drop out)",
            Assumed("the change to the orthonormal eigenbasis of H is not checked"),
        ),
        Step(
            beta[i], "=", lam[i] * a[i], r"$H w_{ERM} = b$ (least_squares.iterate, step 2)",
            Quote("least_squares.iterate", 2),
        ),
        Step(
            Lhat(_werm),
            "=",
            Y2 / (2 * n) - Sum(beta[i] * a[i], (i, 1, p)) + Sum(lam[i] * a[i] ** 2, (i, 1, p)) / 2,
            r"step 4 at $w = w_{ERM}$ ($u_i = a_i$)",
            FromPrevious.substitute({_wvec: _werm, u[i]: a[i]}, source=4),
        ),
        Step(r2, "=", 2 * n * Lhat(_werm), r"the residual $r = y - X w_{ERM}$: $\|r\|^2 = 2n \hat L(w_{ERM})$"),
        Step(
            r2,
            "=",
            Y2 - n * Sum(lam[i] * a[i] ** 2, (i, 1, p)),
            r"steps 7, 6 and 5",
            Identity(given=(7, 6, 5)),
        ),
        Step(
            Lhat(_wvec),
            "=",
            r2 / (2 * n) + Sum(lam[i] * (u[i] - a[i]) ** 2, (i, 1, p)) / 2,
            r"steps 4, 5 and 8: the residual plus a quadratic centred at $w_{ERM}$",
            Identity(given=(4, 5, 8)),
        ),
        Step(
            F_tbt(eta),
            "=",
            r2 / (2 * n) + Sum(lam[i] * _x() ** (2 * t) * (g[i] - a[i]) ** 2, (i, 1, p)) / 2,
            r"substitute the iterate $u_i = w_{t,i}$ (least_squares.iterate, step 5)",
            FromPrevious.substitute({Lhat(_wvec): F_tbt(eta), u[i]: iterate_expr(general_start=True)}),
        ),
        Step(F_tbt(eta), "=", train_loss_expr(), r"$w_0 = 0$", FromPrevious.substitute({g[i]: Integer(0)})),
        Step(
            Derivative(F_tbt(eta), eta),
            "=",
            train_loss_grad_expr(),
            r"differentiate in $\eta$",
            FromPrevious.differentiate(eta),
        ),
    ]
    return MomentDerivation(
        "least_squares.train-loss",
        "Training loss along GD on least squares",
        steps,
        _SOURCE + " (the training loss along GD; derived here)",
        _SETTING,
        dimension=p,
        index=i,
        horizon=t,
        sizes=({d: 1, n: 1}, {d: 2, n: 3}, {d: 3, n: 2}),
        definitions=(1, 2),
    )


#: The hypothesis of ``least_squares.tbt-quadratic`` that carries its crux (not derived here).
_RESIDUAL_ZERO = (
    r"the residual vanishes, $r = y - X w_{ERM} = 0$ (it does when $\operatorname{rank} X = n < d$: "
    r"$X w = y$ is solvable and the minimum-norm solution $w_{ERM}$ solves it)"
)


def tbt_quadratic() -> Derivation:
    r"""``least_squares.tbt-quadratic``: for ``n < d`` train-by-train is exactly a Sec. 3 quadratic.

    Statement: with ``r = 0`` and ``c_i = -a_i``, ``Fhat_TbT(eta) = 1/2 sum_{i<=p} c_i^2 lambda_i
    (1 - eta lambda_i)^{2t}``, which is ``quadratic.loss`` (with ``d -> p``), so its derivative is
    ``quadratic.naive-gradient`` and every Sec. 3 derivation applies with ``H`` restricted to its
    range (``L = lambda_max(H)``, ``alpha = lambda_min^+(H)``).
    Assumptions: ``n < d`` and ``X`` of full row rank (almost surely for a Gaussian design), so
    ``X w = y`` is solvable and the residual vanishes (quoted).
    Check: identities for symbolic ``p`` and ``t``.
    Source: ``papers/wang2021.md`` §5 item 11 and §7 item 12.

    >>> tbt_quadratic().verify().statuses
    ('quoted', 'hypothesis', 'definition', 'symbolic', 'symbolic')
    """
    c = quadratic.c
    qloss = quadratic.loss_expr()[0].xreplace({quadratic.d: p})
    qgrad = quadratic.naive_grad_expr()[0].xreplace({quadratic.d: p})
    steps = [
        Step(
            F_tbt(eta), "=", train_loss_expr(), r"least_squares.train-loss, step 11",
            Quote("least_squares.train-loss", 11),
        ),
        Step(
            r2, "=", Integer(0), r"$n < d$: $X$ has full row rank, $X w = y$ is solvable, so $r = 0$",
            Hypothesis(_RESIDUAL_ZERO),
        ),
        Step(
            c[i],
            "=",
            -a[i],
            r"Sec. 3 coefficients: $w_t - w_{ERM} = (I - \eta H)^t (w_0 - w_{ERM})$ is GD on $\frac12 v^\top H v$ from $v_0 = -w_{ERM}$",
        ),
        Step(F_tbt(eta), "=", qloss, r"steps 1-3: quadratic.loss with $d \to p$", Identity(given=(1, 2, 3))),
        Step(
            Derivative(F_tbt(eta), eta),
            "=",
            qgrad,
            r"differentiate: quadratic.naive-gradient",
            FromPrevious.differentiate(eta),
        ),
    ]
    return _derivation(
        "least_squares.tbt-quadratic",
        "Train-by-train with n < d is a Section-3 quadratic",
        steps,
        _SOURCE + ", the explanation of Theorem 5 (n < d: TbT is a Section 3 quadratic; derived here)",
        _SETTING + (r"$n < d$, $\operatorname{rank} X = n$", _RESIDUAL_ZERO),
    )


def validation_loss() -> MomentDerivation:
    r"""``least_squares.validation-loss``: the validation loss along GD and its ``eta``-derivative.

    Statement: ``Lv(w) = (1/2 n_v)||y_v - X_v w||^2 = C_v - b_v^T w + 1/2 w^T H_v w`` with
    ``H_v = X_v^T X_v / n_v``, ``b_v = X_v^T y_v / n_v``, ``C_v = ||y_v||^2/(2 n_v)``; in the
    eigenbasis ``{v_i}`` of the *training* ``H`` (``Q_ik = v_i^T H_v v_k``, ``beta^v_i = <v_i, b_v>``)
    ``Fhat_TbV(eta) = Lv(w_t) = C_v - sum_i beta^v_i w_{t,i} + 1/2 sum_{i,k} Q_ik w_{t,i} w_{t,k}``
    and ``Fhat_TbV'(eta) = sum_i (sum_k Q_ik w_{t,k} - beta^v_i) (-t lambda_i (1 - eta lambda_i)^{t-1}
    (g_i - a_i))``, i.e. ``(H_v w_t - b_v)^T dw_t/d eta``.
    Assumptions: ``w_0`` in the range of ``H`` (e.g. ``w_0 = 0``, the paper's choice).
    Check: the matrix expansion at ``(d, n_v) = (1, 1), (2, 3), (3, 2)``; the derivative with the
    double sums expanded for ``p = 1, 2, 3`` and ``t`` symbolic (``Q`` written symmetrised, as the
    checker does not know ``Q_ik = Q_ki``).
    Source: paper Sec. 4, Eq. (2); derived.

    >>> D = validation_loss()   # every step is verified in tests/theory
    >>> D.verify_step(3).status, D.verify_step(6).status
    ('concrete-d', 'symbolic')
    """
    Xv, yv, wv = MatrixSymbol("X_v", n_v, d), MatrixSymbol("y_v", n_v, 1), MatrixSymbol("w", d, 1)
    Hv, bv = MatrixSymbol("H_v", d, d), MatrixSymbol("b_v", d, 1)
    quad = C_v - Sum(beta_v[i] * u[i], (i, 1, p)) + Rational(1, 2) * Sum(Q[i, k] * u[i] * u[k], (i, 1, p), (k, 1, p))
    steps = [
        Step(Hv, "=", Xv.T * Xv / n_v, r"$H_v = X_v^\top X_v / n_v$"),
        Step(bv, "=", Xv.T * yv / n_v, r"$b_v = X_v^\top y_v / n_v$"),
        Step(
            Sc((yv - Xv * wv).T * (yv - Xv * wv)) / (2 * n_v),
            "=",
            Sc(yv.T * yv) / (2 * n_v) - Sc(bv.T * wv) + Sc(wv.T * Hv * wv) / 2,
            r"expand the square: a quadratic form in $w$",
            Identity(),
        ),
        Step(
            Lval(_wvec),
            "=",
            quad,
            r"step 3 in the eigenbasis of the training $H$: $u_i = \langle v_i, w\rangle$, $Q_{ik} = v_i^\top H_v v_k$, "
            r"$\beta^v_i = \langle v_i, b_v\rangle$, $C_v = \|y_v\|^2/(2 n_v)$ ($w$ in the range of $H$)",
            Assumed("the change to the eigenbasis of the training H is not checked"),
        ),
        Step(
            w[t, i],
            "=",
            iterate_expr(general_start=True),
            r"least_squares.iterate, step 5",
            Quote("least_squares.iterate", 5),
        ),
        Step(
            F_tbv(eta),
            "=",
            valid_loss_expr(),
            r"substitute the iterate into step 4",
            FromPrevious.substitute(
                {Lval(_wvec): F_tbv(eta), u[i]: iterate_expr(general_start=True), u[k]: _iter_at(k)}, source=4
            ),
        ),
        Step(
            Derivative(F_tbv(eta), eta),
            "=",
            valid_loss_grad_expr(),
            r"differentiate (product rule on the double sum); $(Q_{ik} + Q_{ki})/2 = Q_{ik}$ as $H_v$ is symmetric",
            FromPrevious.differentiate(eta),
        ),
    ]
    return MomentDerivation(
        "least_squares.validation-loss",
        "Validation loss along GD on least squares",
        steps,
        _SOURCE + ", Eq. (2); derived",
        _SETTING + (r"$w_0$ in the range of $H$ (e.g. $w_0 = 0$)",),
        dimension=p,
        index=i,
        horizon=t,
        sizes=({d: 1, n_v: 1}, {d: 2, n_v: 3}, {d: 3, n_v: 2}),
        definitions=(1, 2),
    )


def validation_identity() -> MomentDerivation:
    r"""``least_squares.validation-identity``: ``E[1/2 (y - <w, x>)^2] = 1/2 (||w - w*||^2 + sigma^2)``.

    Statement: for ``x ~ N(0, I_d)``, ``y = <w*, x> + xi``, ``xi ~ N(0, sigma^2)`` independent of
    ``x``, and any fixed ``w``; the same for the mean over ``n_v`` iid validation samples; so,
    conditional on the training set (of which ``w_t`` is a function), the expected TbV meta-loss is
    ``1/2 (||w_t - w*||^2 + sigma^2)``.
    Check: expectations by linearity with ``E[x x^T] = I``, ``E[xi] = 0``, ``E[xi^2] = sigma^2``
    (Isserlis' theorem at order 2) at ``d = 1, 2, 3`` (and ``n_v = 1, 2``), all symbolic.
    Source: ``papers/wang2021.md`` §2.3 ("useful identity", [derived]) and §7 item 11.

    >>> validation_identity().verify().statuses
    ('definition', 'concrete-d', 'definition', 'concrete-d', 'symbolic')
    """
    x, wv, ws, xi_ = MatrixSymbol("x", d, 1), MatrixSymbol("w", d, 1), MatrixSymbol("w^*", d, 1), Symbol("xi")
    Xv, xiv, yv = MatrixSymbol("X_v", n_v, d), MatrixSymbol("xi_v", n_v, 1), MatrixSymbol("y_v", n_v, 1)
    y_ = Symbol("y")
    wt = MatrixSymbol("w_t", d, 1)
    jj = Symbol("j", integer=True, positive=True)
    rhs = (Sc((wv - ws).T * (wv - ws)) + sigma**2) / 2
    avg = Avg((Entry(yv, jj, Symbol("y")) - Sc(Row(Xv, jj, Symbol("x")).T * wv)) ** 2 / 2, jj, n_v)
    laws_v = (Gaussian(Xv, sympy.Identity(d), iid_rows=True), Gaussian(xiv, sigma**2, iid_rows=True))
    steps = [
        Step(y_, "=", Sc(x.T * ws) + xi_, r"$y = \langle w^*, x\rangle + \xi$; $x \sim N(0, I)$, $\xi \sim N(0, \sigma^2)$ independent"),
        Step(
            expect((y_ - Sc(x.T * wv)) ** 2 / 2),
            "=",
            rhs,
            r"$y - \langle w, x\rangle = \langle w^* - w, x\rangle + \xi$; $E[x x^\top] = I$, $E[\xi] = 0$, $E[\xi^2] = \sigma^2$",
            Expectation((Gaussian(x, sympy.Identity(d)), Gaussian(xi_, sigma**2))),
        ),
        Step(yv, "=", Xv * ws + xiv, r"$n_v$ validation samples: rows of $X_v$ iid $N(0, I)$, $\xi_v$ iid $N(0, \sigma^2)$"),
        Step(expect(avg), "=", rhs, r"linearity over the $n_v$ samples", Expectation(laws_v)),
        Step(
            expect(avg.xreplace({wv: wt})),
            "=",
            (Sc((wt - ws).T * (wt - ws)) + sigma**2) / 2,
            r"$w = w_t$: a function of the training set, independent of the validation set (conditional expectation)",
            FromPrevious.substitute({wv: wt}),
        ),
    ]
    return MomentDerivation(
        "least_squares.validation-identity",
        "Expected validation loss under a Gaussian design",
        steps,
        _SOURCE + " setting (the expected validation loss; derived here)",
        (r"$x \sim N(0, I_d)$, $\xi \sim N(0, \sigma^2)$ independent", r"$w$ fixed (independent of the sample)"),
        sizes=({d: 1, n_v: 1}, {d: 2, n_v: 2}, {d: 3, n_v: 1}),
        definitions=(1, 3),
    )


def early_stopping() -> MomentDerivation:
    r"""``least_squares.early-stopping``: the TbV optimum ``s* = 1/(1 + (d+1)/n + sigma^2 d/n)`` (§5 item 13).

    Setting: ``X`` (``n x d``) with rows iid ``N(0, I)``, ``y = X w* + xi``, ``xi ~ N(0, sigma^2 I_n)``,
    ``H = X^T X / n``, ``b = X^T y / n = H w* + X^T xi / n``.
    Statement: ``E[H] = I``; (quoted) ``E[H^2] = (1 + (d+1)/n) I``; ``E[b] = w*``;
    ``E||b||^2 = (1 + (d+1)/n)||w*||^2 + sigma^2 d/n``;
    ``E||s b - w*||^2 = ||w*||^2 (1 - 2s) + s^2 E||b||^2``, which for ``||w*|| = 1`` is
    ``Q(s) = 1 - 2s + s^2 K``, ``K = 1 + (d+1)/n + sigma^2 d/n``; ``Q`` is strictly convex with
    minimiser ``s* = 1/K`` and minimum ``1 - s*``. With ``w_{t,i} = [1 - (1 - eta lambda_i)^t] a_i``,
    ``dw_t/d eta`` at ``eta = 0`` equals ``t b``, so ``w_t ~ eta t b`` while ``eta t lambda_max << 1``:
    early stopping at ``eta = s*/t``.
    Check: the Gaussian moments by Isserlis' theorem at ``(d, n) = (1, 1), (1, 2), (2, 1), (2, 2),
    (3, 2)`` (``concrete-d``) — including the quoted ``E[H^2]``, which is also checked there; the
    algebra in ``s``, ``d``, ``n`` symbolically.
    Source: ``papers/wang2021.md`` §5 item 13 ([derived]); the Wishart moment
    ``E[(X^T X)^2] = n (n + d + 1) I`` is quoted from there.

    >>> D = early_stopping()   # every step is verified in tests/theory
    >>> len(D.steps), D.verify_step(14).status
    (27, 'symbolic')
    """
    X, ws, xiv = MatrixSymbol("X", n, d), MatrixSymbol("w^*", d, 1), MatrixSymbol("xi", n, 1)
    yv, H, b = MatrixSymbol("y", n, 1), MatrixSymbol("H", d, d), MatrixSymbol("b", d, 1)
    I_d = sympy.Identity(d)
    laws = (Gaussian(X, I_d, iid_rows=True), Gaussian(xiv, sigma**2, iid_rows=True))
    lawX = laws[:1]
    kval = 1 + (d + 1) / n + sigma**2 * d / n
    Eb2 = (1 + (d + 1) / n) * Sc(ws.T * ws) + sigma**2 * d / n
    sstar = Symbol("s^*", positive=True)
    steps = [
        Step(H, "=", X.T * X / n, r"$H = X^\top X / n$; rows of $X$ iid $N(0, I_d)$"),
        Step(yv, "=", X * ws + xiv, r"$y = X w^* + \xi$, $\xi \sim N(0, \sigma^2 I_n)$ independent of $X$"),
        Step(b, "=", X.T * yv / n, r"$b = X^\top y / n$"),
        Step(expect(H), "=", I_d, r"$E[x x^\top] = I$", Expectation(lawX)),
        Step(
            expect(H * H),
            "=",
            (1 + (d + 1) / n) * I_d,
            r"quoted: the Wishart moment $E[(X^\top X)^2] = n(n + d + 1) I$ (standard Wishart moments)",
            Assumed("a quoted Wishart moment, for every d and n; step 6 checks it at the listed sizes"),
        ),
        Step(
            expect(H * H),
            "=",
            (1 + (d + 1) / n) * I_d,
            r"step 5 checked: $E[x_a x_c x_c x_b] = (d + 2)\delta_{ab}$ for $j = k$, $\delta_{ab}$ for $j \ne k$",
            Expectation(lawX),
        ),
        Step(expect(b), "=", ws, r"$b = H w^* + X^\top \xi / n$, $E[H] = I$, $E[\xi] = 0$", Expectation(laws)),
        Step(
            Sc(b.T * b),
            "=",
            Sc(ws.T * H * H * ws) + 2 * Sc(ws.T * H * X.T * xiv) / n + Sc(xiv.T * X * X.T * xiv) / n**2,
            r"expand $\|H w^* + X^\top \xi / n\|^2$",
            Identity(),
        ),
        Step(
            Sc(ws.T * expect(H * H) * ws),
            "=",
            (1 + (d + 1) / n) * Sc(ws.T * ws),
            r"the first term of step 8 in expectation (linearity), with the quoted step 5",
            Identity(given=(5,)),
        ),
        Step(expect(Sc(ws.T * H * X.T * xiv)), "=", Integer(0), r"$E[\xi] = 0$, $\xi$ independent of $X$", Expectation(laws)),
        Step(
            expect(Sc(xiv.T * X * X.T * xiv) / n**2),
            "=",
            sigma**2 * d / n,
            r"$E[\xi^\top X X^\top \xi] = \sigma^2 E[\operatorname{tr}(X X^\top)] = \sigma^2 n d$",
            Expectation(laws),
        ),
        Step(expect(Sc(b.T * b)), "=", Eb2, r"steps 8-11 by linearity (computed here from the laws directly)", Expectation(laws)),
        Step(
            expect(Sc((s * b - ws).T * (s * b - ws))),
            "=",
            Sc(ws.T * ws) * (1 - 2 * s) + s**2 * Eb2,
            r"expand; $E[b] = w^*$ (step 7) and step 12",
            Expectation(laws),
        ),
        Step(
            expect(Sc((s * b - ws).T * (s * b - ws))),
            "=",
            1 - 2 * s + s**2 * kval,
            r"$\|w^*\| = 1$ ($w^*$ uniform on the unit sphere)",
            FromPrevious.substitute({Sc(ws.T * ws): Integer(1)}),
        ),
        Step(K, "=", kval, r"$K = 1 + (d+1)/n + \sigma^2 d / n > 0$"),
        Step(Qs(s), "=", 1 - 2 * s + s**2 * K, r"step 14 as a function of $s$"),
        Step(Derivative(Qs(s), s), "=", 2 * s * K - 2, r"differentiate in $s$", FromPrevious.differentiate(s)),
        Step(Derivative(Qs(s), (s, 2)), "=", 2 * K, r"differentiate again", FromPrevious.differentiate(s)),
        Step(Derivative(Qs(s), (s, 2)), ">", Integer(0), r"$K > 0$: $Q$ is strictly convex", Bound(given=(18,))),
        Step(sstar, "=", 1 / K, r"the root of step 17"),
        Step(2 * sstar * K - 2, "=", Integer(0), r"step 17 vanishes at $s^*$: the unique minimiser", Identity(given=(20,))),
        Step(
            1 - 2 * sstar + sstar**2 * K,
            "=",
            1 - sstar,
            r"the minimum $Q(s^*) = 1 - s^* = \|w^*\|^2 - \Omega(1)$",
            Identity(given=(20,)),
        ),
        Step(sstar, "=", early_stopping_scale_expr(), r"steps 20 and 15", Identity(given=(20, 15))),
        Step(
            Wt(eta), "=", iterate_expr(), r"least_squares.iterate, step 6 ($w_0 = 0$), coordinate $i$",
            Quote("least_squares.iterate", 6, substitute=((w[t, i], Wt(eta)),)),
        ),
        Step(
            sympy.Subs(Derivative(Wt(eta), eta), eta, 0),
            "=",
            t * lam[i] * a[i],
            r"differentiate in $\eta$ at $\eta = 0$",
            FromPrevious(lambda e: sympy.diff(e, eta).subs(eta, 0), "differentiate in eta at eta = 0"),
        ),
        Step(
            beta[i], "=", lam[i] * a[i], r"$H w_{ERM} = b$ (least_squares.iterate, step 2)",
            Quote("least_squares.iterate", 2),
        ),
        Step(
            sympy.Subs(Derivative(Wt(eta), eta), eta, 0),
            "=",
            t * beta[i],
            r"$\lambda_i a_i = \beta_i = \langle v_i, b\rangle$: $w_t = \eta t b + O(\eta^2)$, so $s = \eta t$ and $\eta^* \approx s^*/t$",
            Identity(given=(25, 26)),
        ),
    ]
    return MomentDerivation(
        "least_squares.early-stopping",
        "Train-by-validation: the early-stopping optimum",
        steps,
        "derived here: the early-stopping scale behind Wang et al. (2021), Theorem 5 (eta*_valid = Theta(1/t)); "
        "Wishart moment quoted",
        (
            r"rows of $X$ iid $N(0, I_d)$, $\xi \sim N(0, \sigma^2 I_n)$ independent",
            r"$\|w^*\| = 1$",
        ),
        dimension=p,
        index=i,
        horizon=t,
        sizes=({d: 1, n: 1}, {d: 1, n: 2}, {d: 2, n: 1}, {d: 2, n: 2}, {d: 3, n: 2}),
        definitions=(1, 2, 3),
    )


def erm_error() -> Derivation:
    r"""``least_squares.erm-error``: the ERM errors under a Gaussian design (§5 item 12) and their algebra.

    Statement (quoted, inverse-Wishart): for ``n < d - 1``,
    ``E||X^+ y - w*||^2 = (1 - n/d)||w*||^2 + sigma^2 n/(d - n - 1)``; for ``n > d + 1``,
    ``E||w_ERM - w*||^2 = sigma^2 d/(n - d - 1)``. Derived: at ``d = 2n`` with ``||w*|| = 1`` the first
    is ``1/2 + sigma^2 n/(n - 1) >= 1/2 + sigma^2`` (``Omega(sigma^2)``: what TbT converges to);
    the second is ``(d sigma^2/n) (1 + (d + 1)/(n - d - 1))`` and at least ``d sigma^2/n``.
    Check: the two quoted formulas are not checked (status ``definition``); the rest symbolically.
    Source: inverse-Wishart means ``E[(X X^T)^{-1}] = I/(d - n - 1)`` and
    ``E[(X^T X)^{-1}] = I/(n - d - 1)``, as used in ``papers/wang2021.md`` §5 item 12.

    >>> erm_error().verify().statuses
    ('assumed', 'assumed', 'symbolic', 'symbolic', 'symbolic', 'symbolic')
    """
    E_under, E_over = Symbol("E_under", positive=True), Symbol("E_over", positive=True)
    steps = [
        Step(
            E_under,
            "=",
            (1 - n / d) * W2 + sigma**2 * n / (d - n - 1),
            r"quoted: $n < d - 1$, minimum-norm interpolant, inverse-Wishart mean $E[(X X^\top)^{-1}] = I/(d - n - 1)$",
            Assumed("a quoted inverse-Wishart result (Wang et al. 2021, Sec. 4)"),
        ),
        Step(
            E_over,
            "=",
            sigma**2 * d / (n - d - 1),
            r"quoted: $n > d + 1$, inverse-Wishart mean $E[(X^\top X)^{-1}] = I/(n - d - 1)$",
            Assumed("a quoted inverse-Wishart result (Wang et al. 2021, Sec. 4)"),
        ),
        Step(
            E_under,
            "=",
            Rational(1, 2) + sigma**2 * n / (n - 1),
            r"$n = d/2$ and $\|w^*\| = 1$: $\frac12 + \sigma^2 n/(d - n - 1)$",
            FromPrevious.substitute({d: 2 * n, W2: Integer(1)}, source=1),
        ),
        Step(
            E_under,
            ">=",
            Rational(1, 2) + sigma**2,
            r"$n/(n - 1) \ge 1$: the interpolant's error is $\Omega(\sigma^2)$ (needs $n \ge 2$)",
            Bound(assumptions=(n > 1,), given=(3,), reparametrize=((n, 1 + _q),)),
        ),
        Step(
            E_over * n / (d * sigma**2),
            "=",
            1 + (d + 1) / (n - d - 1),
            r"ratio to $d\sigma^2/n$: $n/(n - d - 1) = 1 + o(1)$ as $n/d \to \infty$",
            Identity(given=(2,)),
        ),
        Step(
            E_over,
            ">=",
            d * sigma**2 / n,
            r"never below $d\sigma^2/n$ (for $n > d + 1$)",
            Bound(assumptions=(n > d + 1,), given=(2,), reparametrize=((n, d + 1 + _q),)),
        ),
    ]
    return Derivation(
        "least_squares.erm-error",
        "ERM error under a Gaussian design (quoted) and its consequences",
        steps,
        "derived here: the ERM error behind Wang et al. (2021), Theorems 5 and 6, from inverse-Wishart means",
        (r"rows of $X$ iid $N(0, I_d)$, $\xi \sim N(0, \sigma^2 I_n)$", r"$\|w^*\| = 1$ where substituted"),
    )


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them via theory.registry).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "least_squares.iterate": iterate,
    "least_squares.train-loss": train_loss,
    "least_squares.tbt-quadratic": tbt_quadratic,
    "least_squares.validation-loss": validation_loss,
    "least_squares.validation-identity": validation_identity,
    "least_squares.early-stopping": early_stopping,
    "least_squares.erm-error": erm_error,
}

