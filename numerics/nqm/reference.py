r"""High-precision reference for the noisy quadratic model (NQM) of Wu et al. (2018), in mpmath.

Model (``papers/wu2018.md`` §2-§3; form of the loss [unconfirmed], algebra [derived]). Per
coordinate ``i`` (the coordinates are independent),

.. math::

    L(w) = \tfrac12\sum_i h_i (w_i - c_i)^2,\quad c_i\sim\mathcal N(0,\sigma_i^2)
    \text{ fresh every step},\qquad g_i = h_i(w_i - c_i),

    v' = \mu_t v - \eta_t g,\qquad w' = w + v',\qquad v_0 = 0,\quad
    \mathbb E w_{0,i} = \texttt{mean0}_i,\ \mathbb V w_{0,i} = \texttt{var0}_i .

**Route (deliberately not the 3x3 raw-moment recursion of §3).** Write ``z = (w, v)`` for one
coordinate and ``a_t = eta_t h``. The update is the affine map

.. math::

    z' = A_t z + b_t c,\qquad A_t = \begin{pmatrix}1-a_t & \mu_t\\ -a_t & \mu_t\end{pmatrix},
    \qquad b_t = \begin{pmatrix}a_t\\ a_t\end{pmatrix},

with ``c`` independent of ``z`` and of every earlier draw. Taking expectations and outer
products (``E c = 0``, ``E c^2 = sigma2``) gives, for the mean ``m = E z`` and the covariance
``P = Cov z``,

.. math::

    m' = A_t m,\qquad P' = A_t P A_t^\top + \sigma^2 b_t b_t^\top .

The code forms ``A_t P A_t^T`` as two generic 2x2 matrix products (``(A P) A^T``), not through
the expanded entries of §3, so a slip in either derivation shows up as a disagreement between
this module and the recursion-based implementation. The expected loss, *including* the
irreducible part, is

.. math::

    \mathbb E[L(w_t)] = \tfrac12\sum_i h_i\big(m_{t,i,w}^2 + P_{t,i,ww} + \sigma_i^2\big).

**Precision.** Every input is taken from its float64 value exactly (``mpf(float(x))``) into a
*local* context (``mpmath.MPContext``; the global ``mp.dps`` is never touched). All operations are
additions and multiplications, ``~35`` per coordinate and step, so the relative rounding error
is about ``35 t 10^{-dps}`` times the amplification of the (stable or unstable) dynamics; at the
default ``dps = 50`` and ``t <= 10^4`` results are good to ~40 digits for stable dynamics (the
tests check dps 50 against dps 80 to ``1e-40``). Cost ``O(t d)`` mpmath operations: about 60
microseconds per coordinate-step at dps 50 (measured: ``t d = 10^4`` in 0.7 s, ``10^5`` in 6 s);
:data:`MAX_REFERENCE_WORK` bounds ``t d``.

Example (the by-hand case of the tests: ``h = sigma2 = 1``, ``eta = mu = 1/2``, ``w_0 = 1``)::

    >>> ref = nqm_reference([1.0], [1.0], [1.0], [0.0], 0.5, 2, mu=0.5)
    >>> [ref.ctx.nstr(x, 10) for x in ref.curve]
    ['1.0', '0.75', '0.75']
    >>> ref.as_float()
    array([1.  , 0.75, 0.75])
    >>> g = greedy_eta_reference([1.0], [1.0], [1.0], [0.0], 0.5, 2, mu=0.5)
    >>> g.ctx.nstr(g.eta, 20)
    '0.33333333333333333333'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import mpmath
import numpy as np

from ..validation import ValidationError, as_int, as_per_coordinate, as_real_vector, as_schedule

__all__ = [
    "NQMReference",
    "GreedyEtaReference",
    "nqm_reference",
    "greedy_eta_reference",
    "to_float",
    "MAX_REFERENCE_WORK",
]

#: Largest accepted ``max(t, 1) * d`` (number of coordinate-steps); 10^7 is about 10 minutes.
MAX_REFERENCE_WORK = 10**7
#: Largest accepted horizon ``t``.
MAX_REFERENCE_T = 10**7


@dataclass(frozen=True)
class NQMReference:
    """Expected NQM loss in mpmath (values are ``mpf`` of ``ctx``).

    ``loss``: E[L(w_t)] (with the irreducible term); ``curve``: tuple of E[L(w_k)] for k = 0..t
    (None if ``curve=False``); ``irreducible``: 1/2 sum h sigma2; ``mean``: per coordinate
    ``(E w_t, E v_t)``; ``cov``: per coordinate ``(Var w_t, Cov(w_t, v_t), Var v_t)``.
    """

    ctx: Any
    dps: int
    t: int
    loss: Any
    curve: tuple | None
    irreducible: Any
    mean: tuple
    cov: tuple

    @property
    def excess(self) -> Any:
        """E[L(w_t)] - 1/2 sum h sigma2 = 1/2 sum h E[w_t^2]."""
        return self.loss - self.irreducible

    def as_float(self, name: str = "curve") -> Any:
        """``curve`` (default) as a float64 array, or ``loss``/``excess``/``irreducible`` as a float."""
        if name == "curve":
            if self.curve is None:
                raise ValidationError("name", "no curve stored (call nqm_reference with curve=True)")
            return to_float(self.curve)
        if name not in ("loss", "excess", "irreducible"):
            raise ValidationError("name", f"must be one of 'curve', 'loss', 'excess', 'irreducible' (got {name!r})")
        return to_float(getattr(self, name))

    def mpf_str(self, name: str = "loss", digits: int = 20) -> str:
        return self.ctx.nstr(getattr(self, name), digits)


@dataclass(frozen=True)
class GreedyEtaReference:
    """One-step-optimal step size at the state after ``t`` steps (values are ``mpf`` of ``ctx``).

    The one-step expected loss is the exact quadratic ``F(eta) = f0 + f1 eta + f2 eta^2``
    (``coefficients = (f0, f1, f2)``); ``eta = -f1 / (2 f2)`` is its minimiser and ``loss`` =
    ``F(eta)``.
    """

    ctx: Any
    dps: int
    t: int
    mu_next: Any
    eta: Any
    loss: Any
    coefficients: tuple

    def as_float(self, name: str = "eta") -> float:
        if name not in ("eta", "loss"):
            raise ValidationError("name", f"must be 'eta' or 'loss' (got {name!r})")
        return float(getattr(self, name))


def to_float(x: Any) -> Any:
    """An mpf (or a sequence of them) as a Python float (or a float64 array); round to nearest."""
    if isinstance(x, (list, tuple)):
        return np.array([float(v) for v in x], dtype=np.float64)
    return float(x)


# ---------------------------------------------------------------------------------------------
# input checks


def _inputs(h, sigma2, mean0, var0, eta, t, mu):
    h = as_real_vector("h", h, positive=True)
    d = h.size
    s2 = as_per_coordinate("sigma2", sigma2, d, nonneg=True)
    m0 = as_per_coordinate("mean0", mean0, d, nonneg=False)
    v0 = as_per_coordinate("var0", var0, d, nonneg=True)
    t = as_int("t", t, 0, MAX_REFERENCE_T, integral_floats=True)
    if max(t, 1) * d > MAX_REFERENCE_WORK:
        raise ValidationError("t", f"t x d = {t * d} exceeds MAX_REFERENCE_WORK = {MAX_REFERENCE_WORK:.0e}")
    etas = as_schedule("eta", eta, t, nonneg=True)
    mus = as_schedule("mu", mu, t, nonneg=False)
    return h, s2, m0, v0, etas, mus, t


# ---------------------------------------------------------------------------------------------
# the 2x2 propagation


def _step(m, P, a, mu, s2):
    """One step of (mean, covariance) of z = (w, v) under z' = A z + b c (see module docstring).

    ``m = (m_w, m_v)``, ``P = (p_ww, p_wv, p_vv)``; ``a = eta h`` and ``mu`` are mpf.
    """
    A00, A01, A10, A11 = 1 - a, mu, -a, mu
    mw, mv = m
    m_new = (A00 * mw + A01 * mv, A10 * mw + A11 * mv)
    pww, pwv, pvv = P
    # (A P): 2x2 times symmetric 2x2
    AP00 = A00 * pww + A01 * pwv
    AP01 = A00 * pwv + A01 * pvv
    AP10 = A10 * pww + A11 * pwv
    AP11 = A10 * pwv + A11 * pvv
    # (A P) A^T, symmetric: entries (0,0), (0,1), (1,1); plus sigma2 b b^T with b = (a, a)
    noise = s2 * a * a
    P_new = (
        AP00 * A00 + AP01 * A01 + noise,
        AP00 * A10 + AP01 * A11 + noise,
        AP10 * A10 + AP11 * A11 + noise,
    )
    return m_new, P_new


def _run(ctx, h, s2, m0, v0, etas, mus, t, curve: bool):
    """Propagate every coordinate; returns (final loss, curve or None, means, covariances)."""
    E = [ctx.mpf(float(x)) for x in etas]
    U = [ctx.mpf(float(x)) for x in mus]
    sums = [ctx.mpf(0)] * (t + 1) if curve else None
    total = ctx.mpf(0)
    means, covs = [], []
    half = ctx.mpf(1) / 2
    for hi_f, s2_f, m0_f, v0_f in zip(h, s2, m0, v0):
        hi, s2i = ctx.mpf(float(hi_f)), ctx.mpf(float(s2_f))
        m = (ctx.mpf(float(m0_f)), ctx.mpf(0))
        P = (ctx.mpf(float(v0_f)), ctx.mpf(0), ctx.mpf(0))
        w = half * hi
        if curve:
            sums[0] += w * (m[0] * m[0] + P[0] + s2i)
        for k in range(t):
            m, P = _step(m, P, E[k] * hi, U[k], s2i)
            if curve:
                sums[k + 1] += w * (m[0] * m[0] + P[0] + s2i)
        total += w * (m[0] * m[0] + P[0] + s2i)
        means.append(m)
        covs.append(P)
    return total, (tuple(sums) if curve else None), tuple(means), tuple(covs)


def nqm_reference(
    h: Sequence[float],
    sigma2: Any,
    mean0: Any,
    var0: Any,
    eta: Any,
    t: int,
    mu: Any = 0.0,
    *,
    dps: int = 50,
    curve: bool = True,
) -> NQMReference:
    r"""Expected NQM loss E[L(w_k)] for k = 0..t at ``dps`` digits (module docstring for the math).

    ``h`` > 0 (length d); ``sigma2`` >= 0, ``mean0``, ``var0`` >= 0: per coordinate (a single
    number is used for every coordinate); ``eta`` >= 0 and ``mu`` (any finite real): a number or
    a schedule of length ``t`` (``eta[k]``, ``mu[k]`` are used in step k -> k+1); ``t`` >= 0.

    Source: Wu et al. (2018) as digested in ``papers/wu2018.md`` §2-§3 (model form
    [unconfirmed]; moment algebra [derived]).

    SGD closed form (``mu = 0``, constant ``eta``; §3): with ``s_k = E w_k^2`` and ``a = eta h``,
    ``s_k = s* + (1 - a)^{2k} (s_0 - s*)``, ``s* = a sigma2 / (2 - a)``:

    >>> ref = nqm_reference([2.0], [0.5], [1.0], [0.25], 0.25, 3, dps=30)
    >>> a = 0.5; s_star = a * 0.5 / (2 - a); s0 = 1.25
    >>> float(ref.loss), 0.5 * 2.0 * (s_star + (1 - a) ** 6 * (s0 - s_star) + 0.5)
    (0.68359375, 0.68359375)
    >>> ref.mpf_str("excess", 25)          # 1/2 h E[w_3^2] = 47/256, exactly
    '0.18359375'
    """
    dps = as_int("dps", dps, 15, 10_000)
    h, s2, m0, v0, etas, mus, t = _inputs(h, sigma2, mean0, var0, eta, t, mu)
    ctx = mpmath.MPContext()
    ctx.dps = dps
    loss, sums, means, covs = _run(ctx, h, s2, m0, v0, etas, mus, t, bool(curve))
    irreducible = sum((ctx.mpf(float(a)) * ctx.mpf(float(b)) for a, b in zip(h, s2)), ctx.mpf(0)) / 2
    return NQMReference(ctx=ctx, dps=dps, t=t, loss=loss, curve=sums, irreducible=irreducible, mean=means, cov=covs)


def greedy_eta_reference(
    h: Sequence[float],
    sigma2: Any,
    mean0: Any,
    var0: Any,
    eta: Any,
    t: int,
    mu: Any = 0.0,
    *,
    mu_next: Any = 0.0,
    dps: int = 50,
) -> GreedyEtaReference:
    r"""argmin over ``eta`` of E[L(w_{t+1})], one step from the state reached after ``t`` steps.

    The next step is heavy ball with momentum ``mu_next`` (default 0: the greedy *SGD* step of
    ``papers/wu2018.md`` §4). The state after ``t`` steps is propagated exactly as in
    :func:`nqm_reference`; then the one-step expected loss ``F(eta)`` is computed by the same
    2x2 propagation (``_step``) at ``eta = 0, 1, 2``.

    Why three evaluations suffice: ``w' = (1 - eta h) w + mu v + eta h c`` is affine in ``eta``,
    so ``E[w'^2]`` and hence ``F`` are polynomials of degree (at most) 2 in ``eta``. A quadratic
    is fixed by its values at three points, exactly:
    ``f2 = (F(2) - 2F(1) + F(0)) / 2``, ``f1 = F(1) - F(0) - f2``, ``f0 = F(0)``, and the vertex
    ``eta* = -f1 / (2 f2)`` is the global minimiser when ``f2 > 0`` (``f2 = 1/2 sum h^3 (E w^2 +
    sigma2)``, zero only if every ``E w^2`` and ``sigma2`` vanishes, which is rejected). The fit
    loses about ``log10(max |F(k)| / f2)`` of the ``dps`` digits to cancellation, so the
    context runs with 20 guard digits. This route never forms the closed form
    ``sum h^2 X / sum h^3 (X + sigma2)`` of §4; the tests compare the two.

    Source: greedy rule of Wu et al. (2018), Theorem 2 [unconfirmed numbering]; closed form
    [derived] (``papers/wu2018.md`` §4).

    >>> g = greedy_eta_reference([1.0, 0.1], [1.0, 10.0], [1.0, 1.0], [0.0, 0.0], 0.5, 0)
    >>> X = [1.0, 1.0]; h = [1.0, 0.1]; s2 = [1.0, 10.0]   # §4 formula, for comparison only
    >>> g.ctx.nstr(g.eta, 25)
    '0.5022376926902038787619045'
    >>> sum(a*a*x for a, x in zip(h, X)) / sum(a**3*(x+s) for a, x, s in zip(h, X, s2))
    0.5022376926902039
    """
    dps = as_int("dps", dps, 15, 10_000)
    h, s2, m0, v0, etas, mus, t = _inputs(h, sigma2, mean0, var0, eta, t, mu)
    mn = as_schedule("mu_next", mu_next, 1, nonneg=False)
    ctx = mpmath.MPContext()
    ctx.dps = dps + 20
    _, _, means, covs = _run(ctx, h, s2, m0, v0, etas, mus, t, False)
    mu1 = ctx.mpf(float(mn[0]))
    half = ctx.mpf(1) / 2

    def F(e):
        tot = ctx.mpf(0)
        for hi_f, s2_f, m, P in zip(h, s2, means, covs):
            hi, s2i = ctx.mpf(float(hi_f)), ctx.mpf(float(s2_f))
            m1, P1 = _step(m, P, e * hi, mu1, s2i)
            tot += half * hi * (m1[0] * m1[0] + P1[0] + s2i)
        return tot

    F0, F1, F2 = F(ctx.mpf(0)), F(ctx.mpf(1)), F(ctx.mpf(2))
    f2 = (F2 - 2 * F1 + F0) / 2
    f1 = F1 - F0 - f2
    if not f2 > 0:
        raise ValidationError(
            "sigma2", "the one-step loss does not depend on eta (every E[w_t^2] and sigma2 is 0): no unique minimiser"
        )
    e_star = -f1 / (2 * f2)
    loss = F0 + f1 * e_star + f2 * e_star * e_star
    out = mpmath.MPContext()
    out.dps = dps
    return GreedyEtaReference(
        ctx=out,
        dps=dps,
        t=t,
        mu_next=out.mpf(mu1),
        eta=out.mpf(e_star),
        loss=out.mpf(loss),
        coefficients=(out.mpf(F0), out.mpf(f1), out.mpf(f2)),
    )
