r"""Exact expected dynamics of SGD on least squares: moment recursions derived from the update rule.

For SGD on a quadratic loss the iterate is a random vector, but its first two moments
``m = E[w]`` and ``M = E[w w^T]`` follow an exact *linear* (affine) recursion: the update is affine
in ``w`` with random coefficients that are independent of ``w``, so taking expectations (linearity,
the tower rule, independence) closes the recursion on ``(m, M)``. This module derives the
recursion for three noise models and checks every step with SymPy:

``sgd.finite-set``
    minibatches of size ``B`` drawn uniformly *with replacement* from a finite training set
    ``(x_j, y_j)``, ``j = 1..n``; ``H = X^T X / n``, ``b = X^T y / n``, ``A = I - eta H``::

        m' = A m + eta b
        M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + (eta^2 / B) (Sbar(M, m) - Gbar(M, m))
        Sbar(M, m) = (1/n) sum_j x_j x_j^T (x_j^T M x_j - 2 y_j x_j^T m + y_j^2)
        Gbar(M, m) = H M H - H m b^T - b m^T H + b b^T

    from ``E[g g^T | w] = (1/B) S(w) + (1 - 1/B) gbar gbar^T`` (``gbar = H w - b``,
    ``S(w) = (1/n) sum_j x_j x_j^T (x_j^T w - y_j)^2``); expected training loss
    ``(1/2n) (tr(X^T X M) - 2 y^T X m + y^T y)``.
``sgd.gaussian``
    fresh samples ``x ~ N(0, Sigma)``, ``y = <w*, x> + xi``, ``xi ~ N(0, sigma^2)``, batch ``B``;
    with ``e = w - w*``::

        m_e' = (I - eta Sigma) m_e
        M_e' = (I - eta Sigma) M_e (I - eta Sigma) + (eta^2 / B) (Sigma M_e Sigma + (tr(Sigma M_e) + sigma^2) Sigma)

    population loss ``1/2 (tr(Sigma M_e) + sigma^2)``; it rests on ``sgd.isserlis``:
    ``E[x x^T A x x^T] = 2 Sigma A Sigma + tr(Sigma A) Sigma`` for symmetric ``A``.
``sgd.additive-noise``
    ``w' = w - eta (H w - b + eps)``, ``E[eps] = 0``, ``Cov(eps) = S``:
    ``M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + eta^2 S``.

Each derivation also carries the forward tangent recursion (``d/d eta`` of the moment map, with
``mdot = dm/d eta``, ``Mdot = dM/d eta``) as ``FromPrevious`` steps.

How the steps are checked. The statements are written in matrix notation (SymPy
``MatrixSymbol`` expressions of symbolic size ``d x d``, ``n x d``, ...). A ``MomentDerivation``
checks them in two ways:

* ``"symbolic"``: pure matrix algebra (``Identity`` steps) is expanded with SymPy's
  noncommutative matrix algebra; a difference that expands to the zero matrix holds for every size.
* ``"concrete-d"``: otherwise the two sides are *realized* at the concrete sizes listed in
  ``MomentDerivation.sizes`` (e.g. ``(d, n, B) = (2, 3, 2)``): every matrix becomes an explicit
  matrix of independent symbols (symmetric where the derivation says so: ``M``, ``Sigma``, ...),
  and the difference must cancel to 0 entry by entry, with all entries, moments and ``eta``
  symbolic. For an ``Expectation`` step the left side ``E[...]`` is computed *from the
  update rule* at those sizes: the minibatch index tuples ``(J_1, ..., J_B)`` are enumerated (all
  ``n^B`` of them, probability ``n^-B`` each), the product is expanded, and the remaining random
  symbols are replaced by their moments: ``w_a -> m_a``, ``w_a w_b -> M_ab`` (only first and
  second moments are assumed), and Gaussian entries by Isserlis' (Wick's) theorem written out as a
  sum over pairings, ``E[x_a x_b x_c x_e] = S_ab S_ce + S_ac S_be + S_ae S_bc``. Independent
  blocks multiply. No ``sympy.stats``.

``"concrete-d"`` (one of :data:`theory.derivation.STATUSES`) means "exact, with every entry
symbolic, at the listed sizes only". The tangent steps are ``FromPrevious`` steps whose operation
(:func:`theory.expectation.tangent_rule`) is the total derivative in ``eta`` with the states
``m, M, ...`` depending on ``eta`` (plain ``FromPrevious.differentiate`` would treat them as
constants). The checks (:class:`theory.expectation.MomentDerivation`, the laws, the engine) live
in :mod:`theory.expectation`; the recursion maps realized here are lambdified in
:mod:`theory.lambdify` (``finite_set_step_callable``, ...).

Source: derived (the update rules are those of ``papers/wang2021.md`` §2.1 and §4.4 and
``papers/wu2018.md``; the SGD results of the paper's Appendix D are not reproduced or claimed).

>>> tuple(DERIVATIONS)
('sgd.isserlis', 'sgd.finite-set', 'sgd.gaussian', 'sgd.additive-noise')
>>> finite_set_recursion(1, 2, 1).m_next[0]   # E[w'] = (1 - eta H) m + eta b
eta*(X[1,1]*y[1]/2 + X[2,1]*y[2]/2) + m[1]*(-eta*(X[1,1]**2/2 + X[2,1]**2/2) + 1)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import sympy
from sympy import Basic, Expr, ImmutableMatrix, IndexedBase, MatrixSymbol, Symbol, Trace, ZeroMatrix, sstr
from sympy.matrices.expressions.matexpr import MatrixExpr

from l2l.theory.derivation import Assumed, Derivation, Identity, Step
from l2l.theory.expectation import (
    Avg,
    Entry,
    Expectation,
    Gaussian,
    MomentDerivation,
    Row,
    Sc,
    SecondOrder,
    UniformIndex,
    expect,
    realize,
    tangent_rule,
)

__all__ = [
    "eta",
    "d",
    "n",
    "B",
    "sigma",
    "isserlis",
    "finite_set",
    "gaussian",
    "additive_noise",
    "MomentRecursion",
    "finite_set_recursion",
    "gaussian_recursion",
    "additive_noise_recursion",
    "DERIVATIONS",
]

# ------------------------------------------------------------------------------------------------
# symbols (eta and d are those of theory.quadratic)

eta = Symbol("eta", nonnegative=True)
d = Symbol("d", integer=True, positive=True)
n = Symbol("n", integer=True, positive=True)
B = Symbol("B", integer=True, positive=True)
sigma = Symbol("sigma", positive=True)
# aliases for functions whose parameters are named d, n, B
_dim, _nsamp, _batch = d, n, B
_j = Symbol("j", integer=True, positive=True)
_k = Symbol("k", integer=True, positive=True)
_J = IndexedBase("J")



# ------------------------------------------------------------------------------------------------
# derivations

_SOURCE = (
    "derived here (the SGD update rule of Wang et al. (2021), Section 2.2, and the noisy quadratic of "
    "Wu et al. (2018); the SGD results of Wang et al. (2021), Appendix D, are not reproduced)"
)


def _I(k: Basic = d) -> sympy.Identity:
    return sympy.Identity(k)


def _ms(name: str, rows: Basic = d, cols: Basic = 1) -> MatrixSymbol:
    return MatrixSymbol(name, rows, cols)


def isserlis() -> MomentDerivation:
    r"""``sgd.isserlis``: ``E[x x^T A x x^T] = 2 Sigma A Sigma + tr(Sigma A) Sigma`` for ``x ~ N(0, Sigma)``.

    Statement: for symmetric ``A``; for a general ``C`` the middle term is
    ``Sigma (C + C^T) Sigma``; also ``E[x x^T] = Sigma`` and
    ``E[(x^T A x)^2] = 2 tr(Sigma A Sigma A) + tr(Sigma A)^2``.
    Assumptions: ``x ~ N(0, Sigma)``; ``Sigma`` and ``A`` symmetric, ``C`` arbitrary.
    Check: step 1 quotes Isserlis' theorem; the others are computed from it (the fourth moments
    written out as the sum over the three pairings, :func:`wick`) with symbolic symmetric
    ``Sigma``, ``A`` and symbolic ``C`` at ``d = 1, 2, 3``.
    Source: Isserlis (1918), Biometrika 12, 134-139; the matrix forms are derived.

    >>> isserlis().verify_step(2).status   # E[x x^T] = Sigma; every step is verified in tests/theory
    'concrete-d'
    """
    x, Sig, A, C = _ms("x"), _ms("Sigma", d, d), _ms("A", d, d), _ms("C", d, d)
    a, b, c, e = sympy.symbols("a b c e", integer=True, positive=True)
    xi, Si = IndexedBase("x"), IndexedBase("Sigma")
    law = (Gaussian(x, Sig),)
    steps = [
        Step(
            expect(xi[a] * xi[b] * xi[c] * xi[e]),
            "=",
            Si[a, b] * Si[c, e] + Si[a, c] * Si[b, e] + Si[a, e] * Si[b, c],
            r"Isserlis' theorem for $x \sim N(0, \Sigma)$: a sum over the pairings; odd moments vanish",
            Assumed("Isserlis' theorem, quoted (the expectation engine of steps 2-5 applies it)"),
        ),
        Step(expect(x * x.T), "=", Sig, r"the covariance of $x$", Expectation(law)),
        Step(
            expect(x * x.T * A * x * x.T),
            "=",
            2 * Sig * A * Sig + Trace(Sig * A) * Sig,
            r"entry $(a, b)$ is $\sum_{c,e} A_{ce} E[x_a x_c x_e x_b]$; the three pairings give "
            r"$\Sigma A \Sigma$, $\Sigma A^\top \Sigma$ and $\operatorname{tr}(\Sigma A)\Sigma$",
            Expectation(law),
        ),
        Step(
            expect(x * x.T * C * x * x.T),
            "=",
            Sig * (C + C.T) * Sig + Trace(Sig * C) * Sig,
            r"the same for a general (not symmetric) $C$",
            Expectation(law),
        ),
        Step(
            expect(Sc(x.T * A * x) ** 2),
            "=",
            2 * Trace(Sig * A * Sig * A) + Trace(Sig * A) ** 2,
            r"the trace of $A$ times step 3",
            Expectation(law),
        ),
    ]
    return MomentDerivation(
        "sgd.isserlis",
        "Fourth moments of a Gaussian vector (Isserlis)",
        steps,
        "Isserlis (1918), Biometrika 12, 134-139; matrix forms derived",
        (r"$x \sim N(0, \Sigma)$", r"$\Sigma = \Sigma^\top$, $A = A^\top$"),
        sizes=({d: 1}, {d: 2}, {d: 3}),
        symmetric=("Sigma", "A"),
    )


# -- finite training set

_x, _y = Symbol("x"), Symbol("y")


def _sbar(X: MatrixExpr, y: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> MatrixExpr:
    """``(1/n) sum_j x_j x_j^T (x_j^T Mx x_j - 2 y_j x_j^T mx [+ y_j^2])``."""
    xj, yj = Row(X, _j, _x), Entry(y, _j, _y)
    scalar = Sc(xj.T * Mx * xj) - 2 * yj * Sc(xj.T * mx) + (yj**2 if const else 0)
    return Avg(scalar * xj * xj.T, _j, n)


def _gbar(H: MatrixExpr, b: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> MatrixExpr:
    """``H Mx H - H mx b^T - b mx^T H [+ b b^T]``."""
    out = H * Mx * H - H * mx * b.T - b * mx.T * H
    return out + b * b.T if const else out


def _finite_loss(X: MatrixExpr, y: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> Expr:
    """``(1/2n)(tr(X^T X Mx) - 2 y^T X mx [+ y^T y])``."""
    out = Trace(X.T * X * Mx) - 2 * Sc(y.T * X * mx) + (Sc(y.T * y) if const else 0)
    return out / (2 * n)


def _affine_second(A: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, b: MatrixExpr) -> MatrixExpr:
    """``E[(A w + eta b)(A w + eta b)^T]`` in terms of ``E[w w^T] = Mx``, ``E[w] = mx``."""
    return A * Mx * A.T + eta * (A * mx * b.T + b * mx.T * A.T) + eta**2 * b * b.T


def _affine_second_tangent(A, H, Mx, mx, Md, md, b) -> MatrixExpr:
    """``d/d eta`` of :func:`_affine_second` with ``A = I - eta H``."""
    return (
        A * Md * A.T
        - H * Mx * A.T
        - A * Mx * H.T
        + (A * mx * b.T + b * mx.T * A.T)
        + eta * (A * md * b.T + b * md.T * A.T - H * mx * b.T - b * mx.T * H.T)
        + 2 * eta * b * b.T
    )


#: Step numbers of the recursion, loss and tangents in each derivation (used by the exports).
_FINITE_STEPS = {"m_next": 15, "M_next": 16, "loss": 18, "dm_next": 19, "dM_next": 20, "dloss": 21}


def finite_set() -> MomentDerivation:
    r"""``sgd.finite-set``: moments of minibatch SGD (with replacement) on a finite training set.

    Setting: data ``X`` (``n x d``, rows ``x_j^T``) and ``y`` (``n``); training loss
    ``(1/2n)||y - X w||^2``; ``H = X^T X / n``, ``b = X^T y / n``, ``A = I - eta H``. Update
    ``w' = w - eta g`` with ``g = (1/B) sum_{k=1}^B x_{J_k} (x_{J_k}^T w - y_{J_k})`` and
    ``J_1, ..., J_B`` iid uniform on ``1..n``, independent of ``w``.

    Statement: ``E[g | w] = gbar = H w - b``; ``E[g g^T | w] = (1/B) S(w) + (1 - 1/B) gbar gbar^T``
    with ``S(w) = (1/n) sum_j x_j x_j^T (x_j^T w - y_j)^2``; so ``E[w' w'^T | w] = (w - eta gbar)
    (w - eta gbar)^T + (eta^2/B)(S(w) - gbar gbar^T)`` and, with ``m = E[w]``, ``M = E[w w^T]``:
    ``m' = A m + eta b``,
    ``M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + (eta^2/B)(Sbar(M, m) - Gbar(M, m))``,
    where ``Sbar(M, m) = (1/n) sum_j x_j x_j^T (x_j^T M x_j - 2 y_j x_j^T m + y_j^2)`` and
    ``Gbar(M, m) = H M H - H m b^T - b m^T H + b b^T`` are ``S(w)`` and ``gbar gbar^T`` averaged over
    ``w``. Expected training loss ``Lbar = (1/2n)(tr(X^T X M) - 2 y^T X m + y^T y)``; forward
    tangents ``mdot' = A mdot - (H m - b)``, ``Mdot' = d M'/d eta`` (step 20) and
    ``Lbar_dot = (1/2n)(tr(X^T X Mdot) - 2 y^T X mdot)``. Iterating the map ``t`` times from
    ``(m, M) = (w_0, w_0 w_0^T)`` gives the exact expected loss of SGD after ``t`` steps and its
    ``eta``-derivative (the ``least_squares_sgd`` model of ``DESIGN.md``; with a validation set,
    use ``X_valid``, ``y_valid`` in ``Lbar``).

    Check: each expectation is computed *from the update rule* by enumerating all ``n^B`` index
    tuples (probability ``n^-B`` each), expanding, and replacing ``w_a -> m_a``,
    ``w_a w_b -> M_ab``, at ``(d, n, B) = (2, 2, 1), (2, 2, 2), (2, 3, 1), (2, 3, 2), (1, 3, 3)``
    with symbolic data, ``w``, ``m``, symmetric ``M`` and ``eta`` (status ``concrete-d``); the
    regrouping of step 10 is symbolic matrix algebra. Source: derived.

    >>> D = finite_set()   # every step is verified in tests/theory
    >>> D.verify_step(10).status, D.verify_step(17).status
    ('symbolic', 'concrete-d')
    """
    X, y = _ms("X", n, d), _ms("y", n, 1)
    w, m, M = _ms("w"), _ms("m"), _ms("M", d, d)
    H, b = _ms("H", d, d), _ms("b")
    g, gb, S = _ms("g"), _ms("gbar(w)"), _ms("S(w)", d, d)
    wp, mp, Mp = _ms("w'"), _ms("m'"), _ms("M'", d, d)
    Sb, Gb = _ms("Sbar(M,m)", d, d), _ms("Gbar(M,m)", d, d)
    md, Md, mpd, Mpd = _ms("mdot"), _ms("Mdot", d, d), _ms("mdot'"), _ms("Mdot'", d, d)
    Lb, Lbd = Symbol("Lbar"), Symbol("Lbardot")
    A = _I() - eta * H
    xk, yk = Row(X, _J[_k], _x), Entry(y, _J[_k], _y)
    xj, yj = Row(X, _j, _x), Entry(y, _j, _y)
    idx = UniformIndex(_J, B, n)
    wlaw = SecondOrder(w, m, M)
    M_next = _affine_second(A, M, m, b) + eta**2 / B * (Sb - Gb)
    pairs = [(m, md), (M, Md), (mp, mpd), (Mp, Mpd), (Lb, Lbd)]
    dM_next = (
        _affine_second_tangent(A, H, M, m, Md, md, b)
        + 2 * eta / B * (Sb - Gb)
        + eta**2 / B * (_sbar(X, y, Md, md, const=False) - _gbar(H, b, Md, md, const=False))
    )
    steps = [
        Step(H, "=", X.T * X / n, r"$H = X^\top X / n$, the Hessian of the training loss"),
        Step(b, "=", X.T * y / n, r"$b = X^\top y / n$"),
        Step(
            g,
            "=",
            Avg(xk * (Sc(xk.T * w) - yk), _k, B),
            r"minibatch gradient; $J_1, \dots, J_B$ iid uniform on $\{1, \dots, n\}$ (with replacement), independent of $w$",
        ),
        Step(wp, "=", w - eta * g, r"the SGD update"),
        Step(gb, "=", H * w - b, r"the full-batch gradient $\nabla \hat f(w)$"),
        Step(
            S, "=", Avg(xj * xj.T * (Sc(xj.T * w) - yj) ** 2, _j, n), r"mean outer product of the per-sample gradients"
        ),
        Step(
            expect(g, w),
            "=",
            gb,
            r"linearity: each $J_k$ is uniform, so $E[x_{J_k}(x_{J_k}^\top w - y_{J_k}) \mid w] = \bar g(w)$",
            Expectation((idx,)),
        ),
        Step(
            expect(g * g.T, w),
            "=",
            S / B + (1 - 1 / B) * gb * gb.T,
            r"expand $\frac{1}{B^2}\sum_{k,l}$: the $B$ terms $k = l$ give $S(w)$, the $B(B-1)$ terms "
            r"$k \ne l$ factor by independence into $\bar g \bar g^\top$",
            Expectation((idx,)),
        ),
        Step(
            expect(wp * wp.T, w),
            "=",
            w * w.T - eta * (w * gb.T + gb * w.T) + eta**2 * (S / B + (1 - 1 / B) * gb * gb.T),
            r"expand $w' w'^\top$ and use steps 7 and 8 (linearity)",
            Expectation((idx,)),
        ),
        Step(
            expect(wp * wp.T, w),
            "=",
            (w - eta * gb) * (w - eta * gb).T + eta**2 / B * (S - gb * gb.T),
            r"regroup: the full-batch step plus $\eta^2/B$ times the per-sample gradient covariance",
            Identity(given=(9,)),
        ),
        Step(
            Sb,
            "=",
            _sbar(X, y, M, m),
            r"$E[S(w)]$ with $m = E[w]$, $M = E[w w^\top]$: "
            r"$(x_j^\top w - y_j)^2 \to x_j^\top M x_j - 2 y_j x_j^\top m + y_j^2$",
        ),
        Step(Gb, "=", _gbar(H, b, M, m), r"$E[\bar g \bar g^\top]$, likewise"),
        Step(
            expect(wp),
            "=",
            A * m + eta * b,
            r"tower rule: average step 7 over $w$",
            Expectation((idx, wlaw)),
        ),
        Step(
            expect(wp * wp.T),
            "=",
            M_next,
            r"tower rule: average step 10 over $w$; $w - \eta \bar g = A w + \eta b$ gives "
            r"$A M A^\top + \eta(A m b^\top + b m^\top A^\top) + \eta^2 b b^\top$",
            Expectation((idx, wlaw)),
        ),
        Step(mp, "=", A * m + eta * b, r"$m' = E[w']$ (step 13)"),
        Step(Mp, "=", M_next, r"$M' = E[w' w'^\top]$ (step 14)"),
        Step(
            expect(Sc((y - X * w).T * (y - X * w)) / (2 * n)),
            "=",
            _finite_loss(X, y, M, m),
            r"expected training loss: expand the square, $E[w w^\top] = M$, $E[w] = m$",
            Expectation((wlaw,)),
        ),
        Step(Lb, "=", _finite_loss(X, y, M, m), r"$\bar L(m, M)$, the expected training loss (step 17)"),
        Step(
            mpd,
            "=",
            A * md - (H * m - b),
            r"forward tangent of step 15",
            tangent_rule(pairs, eta, source=15),
        ),
        Step(
            Mpd,
            "=",
            dM_next,
            r"forward tangent of step 16 (product rule; $\bar S$ and $\bar G$ are affine in $(M, m)$)",
            tangent_rule(pairs, eta, source=16),
        ),
        Step(
            Lbd,
            "=",
            _finite_loss(X, y, Md, md, const=False),
            r"meta-gradient of the expected training loss through the moments",
            tangent_rule(pairs, eta, source=18),
        ),
    ]
    return MomentDerivation(
        "sgd.finite-set",
        "SGD with replacement on a finite training set: exact moment recursion",
        steps,
        _SOURCE,
        (
            r"$J_1, \dots, J_B$ iid uniform on $\{1, \dots, n\}$, independent of $w$",
            r"$m = E[w]$, $M = E[w w^\top]$",
        ),
        sizes=(
            {d: 2, n: 2, B: 1},
            {d: 2, n: 2, B: 2},
            {d: 2, n: 3, B: 1},
            {d: 2, n: 3, B: 2},
            {d: 1, n: 3, B: 3},
        ),
        symmetric=("M", "Mdot", "M'", "Mdot'"),
        definitions=(1, 2, 3, 4, 5, 6, 11, 12),
    )


# -- fresh Gaussian samples

_GAUSS_STEPS = {"m_next": 10, "M_next": 11, "loss": 13, "dm_next": 14, "dM_next": 15, "dloss": 16}


def gaussian() -> MomentDerivation:
    r"""``sgd.gaussian``: moments of minibatch SGD on fresh Gaussian samples (population least squares).

    Setting: every step draws a fresh batch ``x_1..x_B`` iid ``N(0, Sigma)`` and
    ``y_k = <w*, x_k> + xi_k`` with ``xi_k`` iid ``N(0, sigma^2)``, independent of ``w``; loss
    ``1/2 (y - <w, x>)^2``; update ``w' = w - eta g``, ``g = (1/B) sum_k x_k (x_k^T w - y_k)``.
    Track the error ``e = w - w*``: ``e' = e - eta g``.

    Statement: ``E[g | e] = Sigma e``;
    ``E[g g^T | e] = (1/B)(2 Sigma e e^T Sigma + (e^T Sigma e) Sigma + sigma^2 Sigma) + (1 - 1/B) Sigma e e^T Sigma``
    (Isserlis, ``sgd.isserlis``); with ``m_e = E[e]``, ``M_e = E[e e^T]``:
    ``m_e' = (I - eta Sigma) m_e`` and
    ``M_e' = (I - eta Sigma) M_e (I - eta Sigma) + (eta^2/B)(Sigma M_e Sigma + (tr(Sigma M_e) + sigma^2) Sigma)``;
    population loss ``E[1/2 (y - <w, x>)^2] = 1/2 (tr(Sigma M_e) + sigma^2)`` (for a fresh ``(x, y)``);
    forward tangents of all three.
    Check: expectations computed from the update with Isserlis' theorem for the Gaussian entries and
    ``e_a -> (m_e)_a``, ``e_a e_b -> (M_e)_ab``, at ``(d, B) = (1, 1), (1, 2), (2, 1), (2, 2), (3, 1)``,
    symbolic symmetric ``Sigma``, ``M_e``, symbolic ``w*``, ``sigma``, ``eta``.
    Source: derived; ``papers/wang2021.md`` §2.3 (data model).

    >>> gaussian().verify_step(5).status   # E[g | e] = Sigma e; every step is verified in tests/theory
    'concrete-d'
    """
    Sig, ws = _ms("Sigma", d, d), _ms("w^*")
    e, w = _ms("e"), _ms("w")
    xb, xib, yb = _ms("X_B", B, d), _ms("xi_B", B, 1), _ms("y_B", B, 1)
    g, ep = _ms("g"), _ms("e'")
    me, Me = _ms("m_e"), _ms("M_e", d, d)
    mep, Mep = _ms("m'_e"), _ms("M'_e", d, d)
    med, Med, mepd, Mepd = _ms("mdot_e"), _ms("Mdot_e", d, d), _ms("mdot'_e"), _ms("Mdot'_e", d, d)
    x0, xi0 = _ms("x"), Symbol("xi")
    Lp, Lpd = Symbol("Lbar"), Symbol("Lbardot")
    xk, yk = Row(xb, _k, _x), Entry(yb, _k, _y)
    Ps = _I() - eta * Sig
    laws_batch = (Gaussian(xb, Sig, iid_rows=True), Gaussian(xib, sigma**2, iid_rows=True))
    elaw = SecondOrder(e, me, Me)
    M_next = Ps * Me * Ps + eta**2 / B * (Sig * Me * Sig + (Trace(Sig * Me) + sigma**2) * Sig)
    loss = (Trace(Sig * Me) + sigma**2) / 2
    pairs = [(me, med), (Me, Med), (mep, mepd), (Mep, Mepd), (Lp, Lpd)]
    steps = [
        Step(w, "=", ws + e, r"the error $e = w - w^*$"),
        Step(
            yb,
            "=",
            xb * ws + xib,
            r"the batch: rows $x_k^\top$ of $X_B$ iid $N(0, \Sigma)$, $\xi_k$ iid $N(0, \sigma^2)$, independent of $w$",
        ),
        Step(g, "=", Avg(xk * (Sc(xk.T * w) - yk), _k, B), r"minibatch gradient of $\frac12 (y - \langle w, x\rangle)^2$"),
        Step(ep, "=", e - eta * g, r"the SGD update $w' = w - \eta g$ in terms of the error"),
        Step(expect(g, e), "=", Sig * e, r"$E[x x^\top] = \Sigma$, $E[\xi] = 0$", Expectation(laws_batch)),
        Step(
            expect(g * g.T, e),
            "=",
            (2 * Sig * e * e.T * Sig + Sc(e.T * Sig * e) * Sig + sigma**2 * Sig) / B + (1 - 1 / B) * Sig * e * e.T * Sig,
            r"terms $k = l$: sgd.isserlis with $A = e e^\top$ plus $\sigma^2 \Sigma$; terms $k \ne l$: independence",
            Expectation(laws_batch),
        ),
        Step(
            expect(ep * ep.T, e),
            "=",
            Ps * e * e.T * Ps + eta**2 / B * (Sig * e * e.T * Sig + (Sc(e.T * Sig * e) + sigma**2) * Sig),
            r"expand $e' e'^\top$ with steps 5 and 6",
            Expectation(laws_batch),
        ),
        Step(expect(ep), "=", Ps * me, r"tower rule over $e$ ($m_e = E[e]$)", Expectation(laws_batch + (elaw,))),
        Step(
            expect(ep * ep.T),
            "=",
            M_next,
            r"tower rule over $e$ ($M_e = E[e e^\top]$, $E[e^\top \Sigma e] = \operatorname{tr}(\Sigma M_e)$)",
            Expectation(laws_batch + (elaw,)),
        ),
        Step(mep, "=", Ps * me, r"$m_e' = E[e']$ (step 8)"),
        Step(Mep, "=", M_next, r"$M_e' = E[e' e'^\top]$ (step 9)"),
        Step(
            expect((Sc(x0.T * ws) + xi0 - Sc(x0.T * w)) ** 2 / 2),
            "=",
            loss,
            r"population loss at a fresh $(x, y)$, $x \sim N(0, \Sigma)$, $y = \langle w^*, x\rangle + \xi$",
            Expectation((Gaussian(x0, Sig), Gaussian(xi0, sigma**2), elaw)),
        ),
        Step(Lp, "=", loss, r"$\bar L(m_e, M_e)$ (step 12)"),
        Step(mepd, "=", Ps * med - Sig * me, r"forward tangent of step 10", tangent_rule(pairs, eta, source=10)),
        Step(
            Mepd,
            "=",
            Ps * Med * Ps
            - Sig * Me * Ps
            - Ps * Me * Sig
            + 2 * eta / B * (Sig * Me * Sig + (Trace(Sig * Me) + sigma**2) * Sig)
            + eta**2 / B * (Sig * Med * Sig + Trace(Sig * Med) * Sig),
            r"forward tangent of step 11",
            tangent_rule(pairs, eta, source=11),
        ),
        Step(Lpd, "=", Trace(Sig * Med) / 2, r"forward tangent of step 13", tangent_rule(pairs, eta, source=13)),
    ]
    return MomentDerivation(
        "sgd.gaussian",
        "SGD on fresh Gaussian samples: exact moment recursion of the error",
        steps,
        _SOURCE + "; the data model of Wang et al. (2021), Section 4, with a general covariance",
        (
            r"$x_k \sim N(0, \Sigma)$, $\xi_k \sim N(0, \sigma^2)$, all independent and independent of $w$",
            r"$m_e = E[w - w^*]$, $M_e = E[(w - w^*)(w - w^*)^\top]$",
        ),
        sizes=({d: 1, B: 1}, {d: 1, B: 2}, {d: 2, B: 1}, {d: 2, B: 2}, {d: 3, B: 1}),
        symmetric=("Sigma", "M_e", "Mdot_e", "M'_e", "Mdot'_e"),
        definitions=(1, 2, 3, 4),
    )


# -- additive gradient noise

_NOISE_STEPS = {"m_next": 6, "M_next": 7, "loss": 9, "dm_next": 10, "dM_next": 11, "dloss": 12}


def additive_noise() -> MomentDerivation:
    r"""``sgd.additive-noise``: moments of GD with additive gradient noise (a noisy quadratic).

    Setting: ``f(w) = 1/2 w^T H w - b^T w`` (``H`` symmetric); update
    ``w' = w - eta (H w - b + eps)`` with ``E[eps] = 0``, ``Cov(eps) = S``, ``eps`` independent of
    ``w`` (only these two moments of ``eps`` are assumed).
    Statement: with ``A = I - eta H``: ``m' = A m + eta b`` and
    ``M' = A M A + eta (A m b^T + b m^T A) + eta^2 b b^T + eta^2 S``;
    ``E[f(w)] = 1/2 tr(H M) - b^T m``; forward tangents of the three.
    Check: expectations from the update with ``w`` and ``eps`` independent second-order blocks
    at ``d = 1, 2, 3`` (symbolic symmetric ``H``, ``S``, ``M``).
    Source: derived; the noisy quadratic of ``papers/wu2018.md`` (there ``H`` diagonal, ``b = 0``).

    >>> additive_noise().verify_step(2).status   # every step is verified in tests/theory
    'concrete-d'
    """
    H, b, S = _ms("H", d, d), _ms("b"), _ms("S", d, d)
    w, eps, wp = _ms("w"), _ms("epsilon"), _ms("w'")
    m, M, mp, Mp = _ms("m"), _ms("M", d, d), _ms("m'"), _ms("M'", d, d)
    md, Md, mpd, Mpd = _ms("mdot"), _ms("Mdot", d, d), _ms("mdot'"), _ms("Mdot'", d, d)
    Lb, Lbd = Symbol("Lbar"), Symbol("Lbardot")
    A = _I() - eta * H
    noise = SecondOrder(eps, ZeroMatrix(d, 1), S)
    wlaw = SecondOrder(w, m, M)
    M_next = A * M * A + eta * (A * m * b.T + b * m.T * A) + eta**2 * b * b.T + eta**2 * S
    loss = Trace(H * M) / 2 - Sc(b.T * m)
    pairs = [(m, md), (M, Md), (mp, mpd), (Mp, Mpd), (Lb, Lbd)]
    steps = [
        Step(wp, "=", w - eta * (H * w - b + eps), r"noisy gradient step; $E[\varepsilon] = 0$, $\mathrm{Cov}(\varepsilon) = S$"),
        Step(expect(wp, w), "=", A * w + eta * b, r"$E[\varepsilon] = 0$", Expectation((noise,))),
        Step(
            expect(wp * wp.T, w),
            "=",
            (A * w + eta * b) * (A * w + eta * b).T + eta**2 * S,
            r"the cross terms vanish ($E[\varepsilon] = 0$); $E[\varepsilon \varepsilon^\top] = S$",
            Expectation((noise,)),
        ),
        Step(expect(wp), "=", A * m + eta * b, r"tower rule over $w$", Expectation((noise, wlaw))),
        Step(
            expect(wp * wp.T),
            "=",
            M_next,
            r"tower rule over $w$ ($\varepsilon$ independent of $w$)",
            Expectation((noise, wlaw)),
        ),
        Step(mp, "=", A * m + eta * b, r"$m' = E[w']$ (step 4)"),
        Step(Mp, "=", M_next, r"$M' = E[w' w'^\top]$ (step 5)"),
        Step(
            expect(Sc(w.T * H * w) / 2 - Sc(b.T * w)),
            "=",
            loss,
            r"expected loss: $E[w^\top H w] = \operatorname{tr}(H M)$",
            Expectation((wlaw,)),
        ),
        Step(Lb, "=", loss, r"$\bar L(m, M)$ (step 8)"),
        Step(mpd, "=", A * md - (H * m - b), r"forward tangent of step 6", tangent_rule(pairs, eta, source=6)),
        Step(
            Mpd,
            "=",
            A * Md * A
            - H * M * A
            - A * M * H
            + (A * m * b.T + b * m.T * A)
            + eta * (A * md * b.T + b * md.T * A - H * m * b.T - b * m.T * H)
            + 2 * eta * b * b.T
            + 2 * eta * S,
            r"forward tangent of step 7",
            tangent_rule(pairs, eta, source=7),
        ),
        Step(Lbd, "=", Trace(H * Md) / 2 - Sc(b.T * md), r"forward tangent of step 9", tangent_rule(pairs, eta, source=9)),
    ]
    return MomentDerivation(
        "sgd.additive-noise",
        "GD with additive gradient noise: exact moment recursion",
        steps,
        "derived here; the noisy quadratic of Wu et al. (2018) (diagonal H, b = 0 there)",
        (r"$H = H^\top$", r"$E[\varepsilon] = 0$, $\mathrm{Cov}(\varepsilon) = S$, $\varepsilon$ independent of $w$"),
        sizes=({d: 1}, {d: 2}, {d: 3}),
        symmetric=("H", "S", "M", "Mdot", "M'", "Mdot'"),
        definitions=(1,),
    )


# ------------------------------------------------------------------------------------------------
# explicit recursion maps at concrete sizes (for numerical comparisons)


@dataclass(frozen=True)
class MomentRecursion:
    r"""A verified moment map realized at concrete sizes: explicit SymPy matrices in explicit symbols.

    ``inputs`` lists ``(name, kind, value)`` with ``kind`` one of ``"matrix"``, ``"vector"``,
    ``"scalar"`` and ``value`` the explicit matrix (or symbol) standing for that input (symmetric
    inputs share ``N[a,b] = N[b,a]``); ``tangent_inputs`` likewise for the tangents ``dm``, ``dM``. ``m_next``, ``M_next``: the map; ``loss``: the expected loss at
    ``(m, M)``; ``dm_next``, ``dM_next``, ``dloss``: the forward tangents. Each is the right side of
    a step of the named derivation, realized with its definitions substituted.
    """

    name: str
    sizes: tuple[tuple[str, int], ...]
    inputs: tuple[tuple[str, str, Basic], ...]
    tangent_inputs: tuple[tuple[str, str, Basic], ...]
    m_next: ImmutableMatrix
    M_next: ImmutableMatrix
    loss: Basic
    dm_next: ImmutableMatrix
    dM_next: ImmutableMatrix
    dloss: Basic


def _check_size(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _kind(x: Basic) -> str:
    if isinstance(x, MatrixSymbol):
        return "vector" if x.shape[1] == 1 else "matrix"
    return "scalar"


def _recursion(
    factory: Callable[[], MomentDerivation],
    steps: Mapping[str, int],
    sizes: Mapping[Basic, int],
    inputs: Sequence[tuple[str, Basic]],
    tangents: Sequence[tuple[str, Basic]],
) -> MomentRecursion:
    D = factory()
    real = {key: D.realize_rhs(k, sizes) for key, k in steps.items()}
    return MomentRecursion(
        name=D.name,
        sizes=tuple((sstr(k), v) for k, v in sizes.items()),
        inputs=tuple((nm, _kind(x), realize(x, sizes, D.symmetric)) for nm, x in inputs),
        tangent_inputs=tuple((nm, _kind(x), realize(x, sizes, D.symmetric)) for nm, x in tangents),
        m_next=real["m_next"],
        M_next=real["M_next"],
        loss=real["loss"],
        dm_next=real["dm_next"],
        dM_next=real["dM_next"],
        dloss=real["dloss"],
    )


@functools.lru_cache(maxsize=None)
def finite_set_recursion(d: int, n: int, B: int) -> MomentRecursion:
    r"""The ``sgd.finite-set`` map at ``d``, ``n``, ``B``: inputs ``X``, ``y``, ``m``, ``M``, ``eta``.

    >>> r = finite_set_recursion(1, 1, 1)
    >>> r.m_next[0]
    X[1,1]*eta*y[1] + m[1]*(-X[1,1]**2*eta + 1)
    """
    sizes = {_dim: _check_size(d, "d"), _nsamp: _check_size(n, "n"), _batch: _check_size(B, "B")}
    return _recursion(
        finite_set,
        _FINITE_STEPS,
        sizes,
        [("X", _ms("X", _nsamp, _dim)), ("y", _ms("y", _nsamp, 1)), ("m", _ms("m")), ("M", _ms("M", _dim, _dim)), ("eta", eta)],
        [("dm", _ms("mdot")), ("dM", _ms("Mdot", _dim, _dim))],
    )


@functools.lru_cache(maxsize=None)
def gaussian_recursion(d: int, B: int) -> MomentRecursion:
    r"""The ``sgd.gaussian`` map at ``d``, ``B``: inputs ``Sigma``, ``sigma``, ``m_e``, ``M_e``, ``eta``.

    >>> gaussian_recursion(1, 1).M_next[0, 0].expand().coeff(eta, 2)   # E[x^4] = 3 Sigma^2
    3*M_e[1,1]*Sigma[1,1]**2 + Sigma[1,1]*sigma**2
    """
    sizes = {_dim: _check_size(d, "d"), _batch: _check_size(B, "B")}
    return _recursion(
        gaussian,
        _GAUSS_STEPS,
        sizes,
        [("Sigma", _ms("Sigma", _dim, _dim)), ("sigma", sigma), ("m", _ms("m_e")), ("M", _ms("M_e", _dim, _dim)), ("eta", eta)],
        [("dm", _ms("mdot_e")), ("dM", _ms("Mdot_e", _dim, _dim))],
    )


@functools.lru_cache(maxsize=None)
def additive_noise_recursion(d: int) -> MomentRecursion:
    r"""The ``sgd.additive-noise`` map at ``d``: inputs ``H``, ``b``, ``S``, ``m``, ``M``, ``eta``.

    >>> additive_noise_recursion(1).M_next[0, 0].expand().coeff(eta, 2)
    H[1,1]**2*M[1,1] - 2*H[1,1]*b[1]*m[1] + S[1,1] + b[1]**2
    """
    sizes = {_dim: _check_size(d, "d")}
    return _recursion(
        additive_noise,
        _NOISE_STEPS,
        sizes,
        [("H", _ms("H", _dim, _dim)), ("b", _ms("b")), ("S", _ms("S", _dim, _dim)), ("m", _ms("m")), ("M", _ms("M", _dim, _dim)), ("eta", eta)],
        [("dm", _ms("mdot")), ("dM", _ms("Mdot", _dim, _dim))],
    )



# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them via theory.registry).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "sgd.isserlis": isserlis,
    "sgd.finite-set": finite_set,
    "sgd.gaussian": gaussian,
    "sgd.additive-noise": additive_noise,
}

