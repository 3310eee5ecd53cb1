r"""Full-batch gradient descent on least squares, in closed form at any horizon.

Source: Wang, Yuan, Wu & Ge (2021), Section 4 (``../shared/papers/wang2021.md`` §2.3 and §5
items 10-11). The problem is :class:`~numerics.LeastSquaresProblem`: training loss
:math:`\hat f(w) = \frac1{2n}\|y - Xw\|^2`, optional validation loss
:math:`\frac1{2n_v}\|y_v - X_vw\|^2`, and GD :math:`w_{\tau+1} = w_\tau - \eta(\hat Hw_\tau - b)`
from :math:`w_0` (default 0), :math:`\hat H = X^\top X/n`, :math:`b = X^\top y/n`.

Closed form [paper §5 item 10-11 for w_0 = 0; derived here for any w_0]. Write the thin SVD
:math:`X = \sum_i s_i u_i v_i^\top` over the *range* (:math:`s_i > 0`), so
:math:`\hat H = \sum_i \lambda_i v_iv_i^\top` with :math:`\lambda_i = s_i^2/n`. Put

.. math::

    a_i = 1-\eta\lambda_i,\qquad z_i = \langle u_i, Xw_0 - y\rangle = s_i\,e_i,\qquad
    e_i = \langle v_i, w_0 - w_{\rm ERM}\rangle,\qquad r = y - Xw_{\rm ERM},

with :math:`w_{\rm ERM} = \hat H^+b = X^+y` the minimum-norm least-squares solution. Then

.. math::

    w_t &= w_0 - \textstyle\sum_i (1-a_i^t)\,e_i\,v_i
         \;=\; P_{\rm null}w_0 + P_{\rm range}w_{\rm ERM} + \sum_i a_i^t e_i v_i,\\
    \hat f(w_t) &= \tfrac1{2n}\|r\|^2 + \tfrac12\textstyle\sum_i \lambda_i a_i^{2t} e_i^2
                 = \tfrac1{2n}\big(\|r\|^2 + \sum_i a_i^{2t} z_i^2\big),\\
    \frac{d\hat f(w_t)}{d\eta} &= -t\textstyle\sum_i \lambda_i^2 a_i^{2t-1}e_i^2
                 = -\tfrac tn\sum_i \lambda_i a_i^{2t-1} z_i^2,\\
    \frac{dw_t}{d\eta} &= -t\textstyle\sum_i \lambda_i a_i^{t-1}e_i\,v_i,\qquad
    \frac{d}{d\eta}\tfrac1{2n_v}\|y_v - X_vw_t\|^2
        = -\tfrac1{n_v}\big\langle y_v - X_vw_t,\; X_v\,\tfrac{dw_t}{d\eta}\big\rangle .

The null-space part of :math:`w_0` never moves (:math:`Xv = 0` there), and :math:`\lambda_i e_i =
s_iz_i/n`, so nothing divides by a small singular value.

How it stays accurate (float64):

* Scale: :func:`gd` first rescales by exact powers of 2 (``frexp``/``ldexp``, no rounding):
  :math:`X = 2^{k_1}\tilde X` with :math:`\max|\tilde X_{jk}| \in [1/2, 1)`, so
  :math:`s_i = 2^{k_1}\tilde s_i` and :math:`\lambda_i = 4^{k_1}\tilde\lambda_i`. The products
  :math:`\eta\lambda_i = (\eta\,\tilde\lambda_i)\,4^{k_1}` are formed exactly (the power of 2 is
  added to the exponent of Dekker's product), so :math:`a_i` is the same number and no step size
  is rescaled. The residual at :math:`w_0` is :math:`Xw_0 - y = 2^{k_z}\tilde r`, hence
  :math:`z_i = 2^{k_z}\tilde z_i`, the training loss scales by :math:`4^{k_z}`, its d/d eta by
  :math:`4^{k_1 + k_z}` (one :math:`\lambda_i`), :math:`e_i = z_i/s_i = 2^{k_z - k_1}\tilde e_i`
  (:math:`w_{\rm ERM}` may itself be beyond the float64 range); the validation set has its own
  scale, :math:`X_v = 2^{k_v}\tilde X_v`, :math:`y_v - X_vw_0 = 2^{k_r}\tilde r_v`, and its residual
  :math:`2^{k_r}\tilde r_v - 2^{k_z - k_1 + k_v}\tilde B\tilde q` is summed relative to the larger
  of the two parts, row by row. The exponents are added back with ``ldexp`` (exact) at the end, so
  X entries from 1e-300 to 1e300, or subnormal, give the accuracy of entries of order 1.

* The eigenpairs of :math:`\hat H` come from the SVD of X, not from ``eigh`` of
  :math:`X^\top X`: that would square the conditioning and lose every :math:`\lambda_i` below
  :math:`\epsilon\lambda_{\max}`; the SVD gets each :math:`s_i` to :math:`\epsilon s_{\max}` absolute.
  Singular values :math:`s_i \le \max(n,d)\,\epsilon\,s_{\max}` are treated as exactly 0 (the
  default cut-off of ``numpy.linalg.lstsq``); their components then stay in the null space and
  their :math:`z_i^2` in :math:`\|r\|^2`. The error this makes is at most
  :math:`t\,\eta\,\lambda_i z_i^2/n` with :math:`\lambda_i \le (\max(n,d)\epsilon)^2\lambda_{\max}`,
  i.e. below :math:`10^{-29}\,t\,\eta\lambda_{\max}` relative for d, n <= 1000.
* :math:`\ln|a_i|` is :func:`numerics.quadratic.stable.log_abs_one_minus` (exact product
  :math:`\eta\lambda_i`, ``log1p``), so :math:`\eta = 1/\lambda_i` (:math:`a_i = 0`, handled
  exactly: :math:`0^0 = 1`) and :math:`\eta \approx 2/\lambda_i` are resolved.
* Speed (issue 17): :func:`gd` forms its sums in blocks of about 2^16 (step size x component)
  entries (:func:`_parts_fast`): one pass for :math:`\ln|a_i|` and each row's largest exponent,
  one for the terms, with the same floating-point operations as the whole-array log-space code
  (:func:`_parts_log_space`, kept as the reference and the fallback), so the two agree bit for bit
  (``tests/numerics/test_least_squares_fast.py``); at t = 10^9 it runs at about the CPU time of a
  bare-numpy evaluation with 3x less extra memory (``benchmarks/evaluate.py``).
* :math:`a_i^k` is formed as :math:`\pm\exp(k\ln|a_i|)`, and :math:`1-a_i^t` as
  ``-expm1(t ln|a_i|)`` (or :math:`1 + |a_i|^t` for a negative power), exact to a few ulps even
  when :math:`\eta t\lambda_i \ll 1`. Sums of ordinary magnitude are formed directly; where a
  term would leave (about) [e^-600, e^300], the sum is taken relative to its largest exponent and
  only the final value is exponentiated. So the result is exact to rounding at any t up to 10^12
  wherever it is representable (the only error growing with t is the unavoidable
  :math:`\epsilon\,k\,|\ln|a_i||` of multiplying a rounded logarithm by k); beyond the float64
  range the losses are ``+inf`` and the derivatives ``±inf`` (honestly: the true value exceeds
  1.8e308). No NaN is produced for valid input. A subnormal step size (eta < ~1e-300) gives
  subnormal increments, exact only to the subnormal spacing (absolute, not relative).

Also here, sharing no code with the closed form (``../shared/DESIGN.md``, "Independence"):
:func:`numerics.least_squares.simulation.simulate`, the dense float64 unroll with a forward-mode tangent (and the truncation rule of
§2.3), and :func:`numerics.least_squares.reference.reference`, the same unroll in mpmath at 50 digits on the raw (X, y).

Example (1-d: X = [[1], [2]], y = [1, 1], so H = 5/2, w_ERM = 3/5 and ||r||^2 = 1/5; at
eta = 1/5, a = 1/2 and the training loss is 1/20 + (5/4)(1/2)^(2t)(3/5)^2)::

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0], X_valid=[[1.0]], y_valid=[0.0])
    >>> g = gd(p, 0.2, [1, 2, 10**12])
    >>> g.train_loss.round(14).tolist()                     # 0.05 + 0.45 / 4**t
    [0.1625, 0.078125, 0.05]
    >>> g.valid_loss.round(14).tolist()                     # (1/2) (3/5 (1 - 2**-t))**2
    [0.045, 0.10125, 0.18]
    >>> iterate(p, 0.2, 2).round(12).tolist()               # 3/5 (1 - 1/4)
    [0.45]
    >>> bool(gd(p, 1.0, 10**9).train_loss == np.inf)     # |a| = 3/2: (3/2)^(2e9) overflows
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exact_product import veltkamp_split
from ..problems import LeastSquaresProblem
from ..quadratic.stable import (  # ln|1 - eta lam| exactly: per grid, per block, and its ranges
    BLOCK, SPLIT_MAX, SPLIT_MIN, ln_abs_block, log_abs_grid, rows_in_range, log_abs_one_minus)
from ..validation import ValidationError, as_horizons, as_instance, as_nonnegative_reals, as_vector_of_length
from ..results import result_type, returns

__all__ = [
    "LeastSquaresSpectrum",
    "LeastSquaresGD",
    "spectrum",
    "erm",
    "gd",
    "iterate",
    "iterate_norms",
    "first_crossing",
]

_EPS = float(np.finfo(np.float64).eps)
_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# the eigenbasis


@dataclass(frozen=True, eq=False)
class LeastSquaresSpectrum:
    """Everything the closed form needs, computed once per (problem, w0) by :func:`spectrum`.

    ``s`` (r,) are the kept singular values of X (descending), ``lam = s**2 / n`` the nonzero
    eigenvalues of H, ``V`` (d x r) the eigenvectors, ``z = U^T (X w0 - y)`` (r,), ``resid2`` =
    ||r||^2 = ||y - X w_ERM||^2 (0 exactly when rank = n), ``vw0 = V^T w0`` and ``null_w0_norm2``
    = ||P_null w0||^2; with a validation set, ``B = X_valid V`` (n_valid x r) and ``rv0 = y_valid -
    X_valid w0``.
    """

    problem: LeastSquaresProblem
    w0: np.ndarray
    s: np.ndarray
    lam: np.ndarray
    V: np.ndarray
    z: np.ndarray
    resid2: float
    vw0: np.ndarray
    null_w0_norm2: float
    B: np.ndarray | None
    rv0: np.ndarray | None

    @property
    def rank(self) -> int:
        return int(self.s.size)

    @property
    def e(self) -> np.ndarray:
        """e_i = <v_i, w0 - w_ERM> = z_i / s_i (large where s_i is small; the closed form avoids it)."""
        return self.z / self.s

    @property
    def lam_max(self) -> float:
        return float(self.lam[0]) if self.lam.size else 0.0

    @property
    def lam_min_positive(self) -> float:
        """Smallest nonzero eigenvalue of H (lambda_min^+)."""
        return float(self.lam[-1]) if self.lam.size else 0.0


def spectrum(problem: LeastSquaresProblem, w0: Any = None) -> LeastSquaresSpectrum:
    """The eigen-data of H = X^T X / n via the thin SVD of X (see the module docstring).

    >>> from l2l.numerics import LeastSquaresProblem
    >>> sp = spectrum(LeastSquaresProblem([[1.0, 1.0], [2.0, 2.0]], [1.0, 1.0]))
    >>> sp.rank, round(sp.lam_max, 12), round(sp.resid2, 12)     # rank 1, H = [[5/2, 5/2], [5/2, 5/2]]
    (1, 5.0, 0.2)
    """
    problem = as_instance(problem, LeastSquaresProblem)
    n, d = problem.n, problem.d
    w = as_vector_of_length("w0", w0, d)  # None: w0 = 0
    x, y = problem.X, problem.y
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    cut = max(n, d) * _EPS * (float(s[0]) if s.size else 0.0)
    keep = s > cut
    s = s[keep]
    u = u[:, keep]
    v = vt[keep].T
    lam = s * s / n
    z = u.T @ (x @ w - y)
    if s.size == n:  # U spans R^n: y is in the range of X, the residual is exactly 0
        resid2 = 0.0
    else:
        res = y - u @ (u.T @ y)
        resid2 = float(res @ res)
    vw0 = v.T @ w
    null = w - v @ vw0
    B = rv0 = None
    if problem.has_validation:
        B = problem.X_valid @ v
        rv0 = problem.y_valid - problem.X_valid @ w
    arrays = [w, s, lam, v, z, vw0] + ([B, rv0] if B is not None else [])
    for arr in arrays:
        arr.setflags(write=False)
    return LeastSquaresSpectrum(problem, w, s, lam, v, z, resid2, vw0, float(null @ null), B, rv0)


def _exponent(x: float) -> int | None:
    """k with x = m 2^k, m in [1/2, 1); None for x = 0."""
    return int(np.frexp(x)[1]) if x > 0 else None


def _scaled_spectrum(problem: LeastSquaresProblem, w0: Any) -> tuple[LeastSquaresSpectrum, tuple[int, int, int, int]]:
    """The spectrum of the problem rescaled by exact powers of 2, and the exponents (k1, kz, kv, kr).

    With X = 2^k1 X~ (max|X~| in [1/2, 1)), the SVD of X~ gives s = 2^k1 s~ and lam = 4^k1 lam~;
    the training residual at w0 is X w0 - y = 2^kz r~ (so z = 2^kz z~, ||r||^2 = 4^kz resid2~);
    X_valid = 2^kv Xv~ (B = 2^kv B~) and y_valid - X_valid w0 = 2^kr rv0~. Each exponent is chosen
    from frexp exponents, never by forming a quotient such as y / 2^k1, so every stored field is
    of order 1 whatever the scale of the data (X entries from 1e-300 to 1e300, or subnormal),
    including w_ERM = X^+ y, which may itself be beyond the float64 range. The returned spectrum
    holds the scaled fields (``vw0`` and ``null_w0_norm2`` stay in true units).
    """
    n, d = problem.n, problem.d
    w = as_vector_of_length("w0", w0, d)  # None: w0 = 0
    k1 = _exponent(float(np.max(np.abs(problem.X)))) or 0
    x = np.ldexp(problem.X, -k1)
    ew = _exponent(float(np.max(np.abs(w)))) or 0
    wm = np.ldexp(w, -ew)  # max |wm| in [1/2, 1)

    def residual(A: np.ndarray, kA: int, b: np.ndarray) -> tuple[np.ndarray, int]:
        """A w - b = 2^k m with A = 2^kA A~: (m, k), max|m| of order 1."""
        aw = A @ wm
        ks = [e for e in (None if not aw.any() else kA + ew + _exponent(float(np.max(np.abs(aw)))),
                          _exponent(float(np.max(np.abs(b))))) if e is not None]
        k = max(ks, default=0)
        with np.errstate(under="ignore"):
            return np.ldexp(aw, kA + ew - k) - np.ldexp(b, -k), k

    res, kz = residual(x, k1, problem.y)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    cut = max(n, d) * _EPS * (float(s[0]) if s.size else 0.0)
    keep = s > cut
    s = s[keep]
    u = u[:, keep]
    v = vt[keep].T
    lam = s * s / n
    z = u.T @ res
    if s.size == n:
        resid2 = 0.0
    else:
        with np.errstate(under="ignore"):
            yk = np.ldexp(problem.y, -kz)
        rr = yk - u @ (u.T @ yk)
        resid2 = float(rr @ rr)
    vw0 = v.T @ w
    null = w - v @ vw0
    B = rv0 = None
    kv = kr = 0
    if problem.has_validation:
        kv = _exponent(float(np.max(np.abs(problem.X_valid)))) or 0
        xv = np.ldexp(problem.X_valid, -kv)
        B = xv @ v
        rv, kr = residual(xv, kv, problem.y_valid)
        rv0 = -rv
    arrays = [w, s, lam, v, z, vw0] + ([B, rv0] if B is not None else [])
    for arr in arrays:
        arr.setflags(write=False)
    return LeastSquaresSpectrum(problem, w, s, lam, v, z, resid2, vw0, float(null @ null), B, rv0), (k1, kz, kv, kr)


def erm(problem: LeastSquaresProblem) -> np.ndarray:
    """w_ERM = X^+ y, the minimum-norm least-squares solution (same cut-off as ``lstsq``).

    >>> from l2l.numerics import LeastSquaresProblem
    >>> erm(LeastSquaresProblem([[1.0, 1.0]], [2.0])).round(14).tolist()
    [1.0, 1.0]
    """
    sp = spectrum(problem)
    # z = -U^T y when w0 = 0, so <v_i, w_ERM> = -z_i / s_i
    return sp.V @ (-sp.z / sp.s)


def _as_spectrum(problem: Any, w0: Any) -> LeastSquaresSpectrum:
    if isinstance(problem, LeastSquaresSpectrum):
        if w0 is not None:
            raise ValidationError("w0", "must not be given with a precomputed LeastSquaresSpectrum (it fixes w0)")
        return problem
    return spectrum(problem, w0)


def _grid(eta: Any, t: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    eta = as_nonnegative_reals("eta", eta)
    t = as_horizons("t", t)
    try:
        eta, t = np.broadcast_arrays(eta, t)
    except ValueError:
        raise ValidationError("t", f"shape {t.shape} cannot be broadcast against eta's shape {eta.shape}") from None
    return eta, t, eta.shape


# ---------------------------------------------------------------------------------------------
# log-space helpers (private; of numerics.quadratic.stable only ln|1 - eta lam| is reused)


def _power_parts(la: np.ndarray, sa: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln|a^k| and sign(a^k) for integer k >= 0 (broadcast), with 0^0 = 1 exactly."""
    k = np.asarray(k)
    with np.errstate(invalid="ignore"):
        lp = np.where(k == 0, 0.0, k * la)
    sp = np.where((sa < 0) & (k % 2 == 1), -1.0, 1.0)
    return lp, sp


def _log_one_minus_power(la: np.ndarray, sa: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln|1 - a^t| and sign(1 - a^t): -expm1(t ln|a|) when a^t > 0, 1 + |a|^t when a^t < 0."""
    x, sp = _power_parts(la, sa, t)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        pos = sp > 0
        # a^t = e^x > 0: 1 - e^x; for x > 0 use ln(e^x - 1) = x + ln(-expm1(-x))
        lpos = np.where(x > 0, x + np.log(-np.expm1(-np.abs(x))), np.log(-np.expm1(np.minimum(x, 0.0))))
        spos = -np.sign(x)
        lneg = np.logaddexp(0.0, x)
        return np.where(pos, lpos, lneg), np.where(pos, spos, 1.0)


def _log_abs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore"):
        return np.log(np.abs(x)), np.sign(x)


def _exp_signed(log_abs: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """sign * exp(log_abs), with 0 where sign == 0 (never 0 * inf)."""
    with np.errstate(over="ignore", under="ignore"):
        return np.where(sign == 0, 0.0, sign * np.exp(np.where(sign == 0, 0.0, log_abs)))


#: Rows whose largest term has ln|term| within [_LIN_LO, _LIN_HI] (and no factor exp(x) below
#: e^-700, i.e. near the subnormal range) are computed in linear space, the rest relative to their
#: largest exponent. Linear space avoids the exp/log round trip (relative error eps x |ln value|)
#: for ordinary magnitudes; e^300 keeps the squares and inner products of such terms below 1e270.
_LIN_LO, _LIN_HI, _X_MIN = -600.0, 300.0, -700.0


def _terms(c: np.ndarray, x: np.ndarray, sx: np.ndarray, hi: float = _LIN_HI) -> tuple[np.ndarray, np.ndarray]:
    """(M, v) with c_i sx_i exp(x_i) = exp(M) v_i exactly in exact arithmetic, per row of x (N, r).

    M = 0 (linear space) for rows whose terms are of ordinary size; otherwise M is the row's
    largest ln|term| and |v_i| <= 1.
    """
    lc, sc = _log_abs(c)
    with np.errstate(invalid="ignore"):
        lt = np.where(sc != 0, lc + x, -np.inf)
    big = np.max(lt, axis=-1, initial=-np.inf)
    xmin = np.min(np.where((sc != 0) & np.isfinite(x), x, np.inf), axis=-1, initial=np.inf)
    lin = (np.isneginf(big) | ((big >= _LIN_LO) & (big <= hi))) & (xmin >= _X_MIN)
    m = np.where(lin | np.isneginf(big), 0.0, big)
    # each row in the one form it uses (the same numbers as forming both and selecting)
    v = np.empty(np.broadcast_shapes(np.shape(c), x.shape, sx.shape))
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        if lin.any():  # c_i = 0 contributes exactly 0 (not 0 * inf where a^k overflows)
            v[lin] = np.where(sc != 0, c * sx[lin] * _exp(x[lin]), 0.0)
        if not lin.all():
            log = ~lin
            v[log] = np.where(sc != 0, sc * sx[log] * _exp(lt[log] - m[log][:, None]), 0.0)
    return m, v


def _exp(x: np.ndarray) -> np.ndarray:
    """np.exp(x), without calling it where x < -746 (exp(x) < 2^-1075 rounds to 0 there; libm's
    underflow path costs several ordinary exps, and at large t most exponents are there)."""
    out = np.zeros(x.shape)
    np.exp(x, out=out, where=~(x < -746.0))
    return out


def _coeffs(sp: LeastSquaresSpectrum, la: np.ndarray, sa: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, q~) with q_i = (1 - a_i^t) e_i = exp(M) q~_i per row of la (N, r) (any leading shape).

    Linear space (M = 0, phi by ``-expm1``) while ln|q| <= _LIN_HI; otherwise relative to the
    row's largest ln|q| (M > 0, |q~| <= 1).
    """
    e = sp.z / sp.s
    le, se = _log_abs(e)
    lphi, sphi = _log_one_minus_power(la, sa, t)
    lq = lphi + le
    big = np.max(lq, axis=-1, initial=-np.inf)
    lin = big <= _LIN_HI
    m = np.where(lin, 0.0, big)
    x, spow = _power_parts(la, sa, t)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        phi = np.where(spow > 0, -np.expm1(x), 1.0 + np.exp(x))
        q_lin = np.where(se != 0, phi * e, 0.0)  # e_i = 0: exactly 0 (not 0 * inf)
        q_log = np.where(se != 0, sphi * se * np.exp(lq - m[..., None]), 0.0)
    return m, np.where(lin[..., None], q_lin, q_log)


def _row_exponent(parts: list) -> np.ndarray:
    """Per row, the largest 2^k_i x max|x_i| as an exponent K (so that sum_i 2^(k_i - K) x_i is of
    order 1; parts that then underflow are below 2^-1074 of the largest: negligible)."""
    out = None
    for x, k in parts:
        big = np.max(np.abs(x), axis=-1, initial=0.0)
        e = np.where(big > 0, np.frexp(big)[1].astype(np.int64) + k, np.iinfo(np.int64).min // 4)
        out = e if out is None else np.maximum(out, e)
    return np.where(out < np.iinfo(np.int64).min // 8, 0, out)


def _unscale(m: np.ndarray, v: np.ndarray, log_factor: float = 0.0, factor: float = 1.0, k2: int = 0) -> np.ndarray:
    """factor * exp(m) * v * 2^k2, without an exp/log round trip where m == 0 (there ``ldexp``,
    exact); +-inf beyond the range."""
    lv, sv = _log_abs(v)
    with np.errstate(over="ignore", under="ignore"):
        lin = np.ldexp(factor * v, k2) if np.any(k2) else factor * v
        return np.where(m == 0, lin, _exp_signed(m + lv + log_factor + k2 * _LN2, sv))


# ---------------------------------------------------------------------------------------------
# the closed form


@result_type
@dataclass(frozen=True)
class LeastSquaresGD:
    """GD on least squares at broadcast (eta, t); every array field has that shape.

    Losses are +inf, and derivatives +-inf, exactly where the true value exceeds the float64
    range (never NaN). ``valid_loss`` and ``valid_loss_grad`` are ``None`` without a validation set.
    """

    eta: np.ndarray  #: step sizes (broadcast shape)
    t: np.ndarray  #: horizons (broadcast shape)
    train_loss: np.ndarray  #: (1/2n) ||y - X w_t||^2
    train_loss_grad: np.ndarray  #: d/d eta of train_loss
    valid_loss: np.ndarray | None  #: (1/2 n_valid) ||y_valid - X_valid w_t||^2
    valid_loss_grad: np.ndarray | None  #: d/d eta of valid_loss


@returns(LeastSquaresGD)
def gd(problem: LeastSquaresProblem | LeastSquaresSpectrum, eta: Any, t: Any, w0: Any = None) -> LeastSquaresGD:
    r"""Training and validation loss of GD after t steps, and their d/d eta (module docstring).

    ``eta`` (>= 0) and ``t`` (integers in [1, 10^12]) broadcast like numpy arrays (as in
    :func:`numerics.quadratic.stable.evaluate`); ``problem`` may be a precomputed :func:`spectrum` (then
    ``w0`` is fixed by it). Work O(N (r + n_valid r)) for N broadcast points and rank r.

    Accuracy: exact up to the rounding of the SVD and of ln|a_i|; the relative error of each
    term grows like eps x 2t x eta lambda_i / |a_i| (the conditioning of a^(2t) in the inputs), as
    for any method given float64 inputs, plus eps ||z|| / |z_i| where a dominant term has a small
    coefficient z_i. Measured against a self-validated (>= 50-digit) mpmath unroll of the raw
    (X, y) on 1000 random instances with n, d <= 6, t <= 50: at most 8.4e-12 relative to each
    quantity's scale where that conditioning is moderate, 1.7e-11 overall
    (``tests/numerics/test_least_squares.py``).

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0])
    >>> g = gd(p, [0.0, 0.2, 0.4], 1)
    >>> g.train_loss.round(12).tolist(), g.train_loss_grad.round(12).tolist()
    ([0.5, 0.1625, 0.05], [-2.25, -1.125, 0.0])
    >>> g.valid_loss is None
    True
    """
    if isinstance(problem, LeastSquaresSpectrum):
        sp, ks = _as_spectrum(problem, w0), (0, 0, 0, 0)
    else:
        # exact power-of-2 rescaling (_scaled_spectrum): lam = 4^k1 lam~, so a_i = 1 - eta 4^k1 lam~_i
        # is the same number and no step size is rescaled; z = 2^kz z~ (losses x 4^kz), e = z / s
        # = 2^(kz - k1) e~, B = 2^kv B~, rv0 = 2^kr rv0~; d/d eta picks up lam's 4^k1.
        sp, ks = _scaled_spectrum(as_instance(problem, LeastSquaresProblem), w0)
    eta, t, shape = _grid(eta, t)
    eta_f, t_f = eta.reshape(-1), t.reshape(-1)
    parts = _parts_fast(sp, eta_f, t_f, 2 * ks[0]) if _fast_applies(sp) else _parts_log_space(sp, eta_f, t_f, 2 * ks[0])
    train, train_grad, valid, valid_grad = _finish(sp, ks, t_f, *parts)
    return LeastSquaresGD(
        eta=eta.copy(),
        t=t.copy(),
        train_loss=train.reshape(shape),
        train_loss_grad=train_grad.reshape(shape),
        valid_loss=None if valid is None else valid.reshape(shape),
        valid_loss_grad=None if valid_grad is None else valid_grad.reshape(shape),
    )


def _parts_log_space(sp: LeastSquaresSpectrum, eta_f: np.ndarray, t_f: np.ndarray, shift: int) -> tuple:
    """The per-row sums of :func:`gd` on whole (N, r) arrays, each term through :func:`_terms` and
    :func:`_coeffs` (the reference form of :func:`_parts_fast`, and its fallback for spectra it
    declines): ``(m, total)`` of the training loss and of its derivative, and, with a validation set,
    ``(M, q~)`` of :func:`_coeffs` and ``(M_h, h~)`` of h_i = (s_i z_i / n) a_i^(t-1)."""
    tt = t_f[:, None]
    la, sa = log_abs_grid(eta_f, sp.lam, shift)  # (N, r)
    # training loss: (||r||^2 + sum_i z_i^2 a_i^(2t)) / (2n)
    l2t, _ = _power_parts(la, sa, 2 * tt)
    c = np.append(sp.z * sp.z, sp.resid2)
    x = np.concatenate([l2t, np.zeros((la.shape[0], 1))], axis=1)
    m, v = _terms(c, x, np.ones_like(x), hi=600.0)
    train = (m, np.sum(v, axis=-1))
    # d/d eta: -(t/n) sum_i lam_i z_i^2 a_i^(2t-1)
    l2t1, s2t1 = _power_parts(la, sa, 2 * tt - 1)
    m, v = _terms(sp.lam * sp.z * sp.z, l2t1, s2t1, hi=600.0)
    grad = (m, np.sum(v, axis=-1))
    if sp.B is None:
        return train, grad, None, None
    coeffs = _coeffs(sp, la, sa, tt)
    lt1, st1 = _power_parts(la, sa, tt - 1)
    h = _terms(sp.s * sp.z / sp.problem.n, lt1, st1 * np.ones_like(la))
    return train, grad, coeffs, h


def _finish(sp: LeastSquaresSpectrum, ks: tuple, t_f: np.ndarray, train: tuple, grad: tuple, coeffs: tuple | None,
            hterms: tuple | None) -> tuple:
    """The four fields of :func:`gd` (flat) from the per-row parts of :func:`_parts_fast` or
    :func:`_parts_log_space`: scale factors, exponents and the products with the validation set."""
    k1, kz, kv, kr = ks
    p = sp.problem
    n = p.n
    tf = t_f.astype(np.float64)
    train_loss = _unscale(train[0], train[1], -math.log(2 * n), 1.0 / (2 * n), 2 * kz)
    train_grad = -_unscale(grad[0], grad[1], np.log(tf) - math.log(n), tf / n, 2 * k1 + 2 * kz)
    if coeffs is None:
        return train_loss, train_grad, None, None
    nv = p.n_valid
    m, q = coeffs
    # y_v - X_v w_t = 2^kr rv0~ + 2^kq e^M (q~ B~^T), kq = kz - k1 + kv; scaled by 2^K e^M with
    # K = max(kr, kq), both factors 2^(kr - K), 2^(kq - K) <= 1 (exact, or negligibly small)
    kq = kz - k1 + kv
    with np.errstate(under="ignore"):
        ra, rb = np.exp(-m)[:, None] * sp.rv0[None, :], q @ sp.B.T
        K = _row_exponent([(ra, kr), (rb, kq)])
        rt = np.ldexp(ra, (kr - K)[:, None]) + np.ldexp(rb, (kq - K)[:, None])
    ss = np.sum(rt * rt, axis=-1)
    valid = _unscale(2.0 * m, ss, -math.log(2 * nv), 1.0 / (2 * nv), 2 * K)
    # h_i = t lam_i a_i^(t-1) e_i = t (s_i z_i / n) a_i^(t-1);  d valid / d eta = <r_v, B h> / n_v
    mh, h = hterms
    with np.errstate(over="ignore"):
        dot = np.sum(rt * (h @ sp.B.T), axis=-1)
    # h = 2^(k1 + kz) h~ and B = 2^kv B~
    valid_grad = _unscale(m + mh, dot, np.log(tf) - math.log(nv), tf / nv, K + k1 + kz + kv)
    return train_loss, train_grad, valid, valid_grad


# ---------------------------------------------------------------------------------------------
# the fast path: the same numbers as _parts_log_space, in cache-sized blocks


def _fast_applies(sp: LeastSquaresSpectrum) -> bool:
    """Every per-component factor finite (else, e.g. inf + -inf, the log-space path's NaN rules
    apply) and a nonempty spectrum."""
    if sp.lam.size == 0:
        return False
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        arrays = [sp.z * sp.z, sp.lam * sp.z * sp.z] + ([sp.s * sp.z / sp.problem.n, sp.z / sp.s] if sp.B is not None else [])
        return all(bool(np.isfinite(a).all()) for a in arrays) and math.isfinite(sp.resid2)


class _Term:
    """The per-component factors of one sum of :func:`_terms` (computed once per call): the
    coefficients c_i, ``lc`` = ln|c_i|, ``sc`` = sign c_i (None when every c_i >= 0), ``zero``:
    where c_i == 0 (None if nowhere), and ``hi``, the upper end of its linear range."""

    __slots__ = ("c", "lc", "sc", "zero", "hi", "nonneg")

    def __init__(self, c: np.ndarray, hi: float) -> None:
        with np.errstate(divide="ignore"):
            self.c, self.lc, self.hi = c, np.log(np.abs(c)), hi
        self.nonneg = bool((c >= 0).all())
        self.sc = None if self.nonneg else np.sign(c)
        zero = c == 0
        self.zero = zero if zero.any() else None

    def decide(self, big: np.ndarray, xmin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lin, m) per row, as :func:`_terms` decides them."""
        lin = (np.isneginf(big) | ((big >= _LIN_LO) & (big <= self.hi))) & (xmin >= _X_MIN)
        return lin, np.where(lin | np.isneginf(big), 0.0, big)


def _masked_min(L: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Per row, min of the finite L_i where ``keep`` (all if None); +inf if there is none."""
    ok = L > -np.inf if keep is None else (L > -np.inf) & keep
    return np.min(np.where(ok, L, np.inf), axis=1, initial=np.inf)


def _parts_fast(sp: LeastSquaresSpectrum, eta: np.ndarray, t: np.ndarray, shift: int) -> tuple:
    """:func:`_parts_log_space`, bit for bit, in blocks of about ``BLOCK`` entries.

    Per block of rows, pass 1 computes ln|a_i| and a_i (:func:`ln_abs_block` for the rows in its
    range, :func:`log_abs_one_minus` otherwise: the numbers of :func:`log_abs_grid`) and, per
    row and sum, the largest ln|term| = ln|c_i| + k ln|a_i| and the smallest k ln|a_i| (as k times
    the smallest ln|a_i|: x -> k x rounds monotonically for k > 0), which fix each row's form in
    :func:`_terms`; pass 2 forms the terms in that form with the same operations (the sign of
    a^k by ``copysign``: sign flips commute with rounding). The coefficients q_i of the
    validation residual take the linear form (``-expm1``) where max(0, t max ln|a_i|) +
    max ln|e_i| + 1 <= _LIN_HI (then ln|q_i| <= _LIN_HI for every i: ln|1 - a^t| <= max(0,
    t ln|a|) + ln 2); other rows go through :func:`_coeffs`. Extra memory: a few arrays of the
    block's size, two of length r per validation sum, plus O(r) per-component factors.
    """
    N, r = eta.size, sp.lam.size
    n = sp.problem.n
    valid = sp.B is not None
    tf = t.astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        lam_s = np.ldexp(sp.lam, int(shift))
    lo, hi = float(np.min(lam_s)), float(np.max(lam_s))
    ok = rows_in_range(eta, lo, hi) if (SPLIT_MIN <= lo and hi <= SPLIT_MAX) else np.zeros(N, bool)
    tr = _Term(sp.z * sp.z, 600.0)
    gr = _Term(sp.lam * sp.z * sp.z, 600.0)
    r2 = float(sp.resid2)
    with np.errstate(divide="ignore"):
        lr2 = float(np.log(np.array([r2]))[0])  # as _terms takes it (numpy's log, not libm's)
    terms = [(tr, 2.0 * tf), (gr, 2.0 * tf - 1.0)]
    if valid:
        ht = _Term(sp.s * sp.z / n, _LIN_HI)
        terms.append((ht, tf - 1.0))
        e = sp.z / sp.s
        with np.errstate(divide="ignore"):
            le_max = float(np.max(np.log(np.abs(e))))
        Q, H = np.empty((N, r)), np.empty((N, r))
        mq, mh = np.zeros(N), np.zeros(N)
    m_tr, tot_tr, m_gr, tot_gr = np.zeros(N), np.empty(N), np.zeros(N), np.empty(N)

    nb = max(1, min(N, BLOCK // r))
    cw = min(r, BLOCK)
    L, A = np.empty((nb, r)), np.empty((nb, r))
    V = np.empty((nb, r + 1))
    V[:, r] = 0.0
    X, P, Ew, S, U = (np.empty((nb, cw)) for _ in range(5))
    m1, m2, m3 = (np.empty((nb, cw), bool) for _ in range(3))
    yh, yl = np.empty(cw), np.empty(cw)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        for fast, rows in ((True, np.flatnonzero(ok)), (False, np.flatnonzero(~ok))):
            for b0 in range(0, rows.size, nb):
                idx = rows[b0 : b0 + nb]
                k = idx.size
                if idx[-1] - idx[0] == k - 1:  # consecutive rows: views of the outputs, no copies
                    idx = slice(int(idx[0]), int(idx[0]) + k)
                et = eta[idx][:, None]
                if fast:
                    xh, xl = veltkamp_split(et)
                Lb, Ab = L[:k], A[:k]
                ks = [kk[idx] for _, kk in terms]
                k0 = (ks[2] == 0.0) if valid else None  # t = 1: a^0 = 1 (also 0^0)
                has_k0 = valid and bool(k0.any())
                big = [np.full(k, -np.inf) for _ in terms]
                lmax = np.full(k, -np.inf)
                fmin = [np.full(k, np.inf) for _ in terms]  # min finite ln|a_i| over c_i != 0
                # pass 1: ln|a|, a, and the row statistics that fix each sum's form
                for j0 in range(0, r, cw):
                    j1 = min(r, j0 + cw)
                    w = j1 - j0
                    Lc, Ac, Xc = Lb[:, j0:j1], Ab[:, j0:j1], X[:k, :w]
                    if fast:
                        ln_abs_block(et, xh, xl, lam_s[j0:j1], yh[:w], yl[:w], P[:k, :w], Ew[:k, :w], S[:k, :w],
                                      U[:k, :w], m1[:k, :w], m2[:k, :w], m3[:k, :w], Lc, Ac)
                    else:
                        Lc[...], Ac[...] = log_abs_one_minus(et, sp.lam[None, j0:j1], shift)
                    cmin = Lc.min(axis=1)
                    np.maximum(lmax, Lc.max(axis=1), out=lmax)
                    anyzero = bool(np.isneginf(cmin).any())  # some a_i = 0
                    for i, ((term, _), kk) in enumerate(zip(terms, ks)):
                        np.multiply(Lc, kk[:, None], out=Xc)
                        if i == 2 and has_k0:
                            Xc[k0] = 0.0
                        Xc += term.lc[j0:j1]
                        np.maximum(big[i], Xc.max(axis=1), out=big[i])
                        if term.zero is None and not anyzero:
                            np.minimum(fmin[i], cmin, out=fmin[i])
                        else:
                            keep = None if term.zero is None else ~term.zero[j0:j1]
                            np.minimum(fmin[i], _masked_min(Lc, keep), out=fmin[i])
                # each sum's form per row, as _terms decides it
                forms = []
                for i, ((term, _), kk) in enumerate(zip(terms, ks)):
                    xmin = kk * fmin[i]
                    if i == 2 and has_k0:  # x = 0 for every term with c_i != 0
                        xmin = np.where(k0, 0.0 if term.zero is None or not term.zero.all() else np.inf, xmin)
                    if i == 0:  # the ||r||^2 column: x = 0, ln|c| = ln ||r||^2
                        np.maximum(big[0], lr2, out=big[0])
                        if r2 != 0.0:
                            xmin = np.minimum(xmin, 0.0)
                    forms.append(term.decide(big[i], xmin))
                # pass 2: each sum in its form, and the sums over whole rows
                Vb = V[:k]
                for i, ((term, _), kk) in enumerate(zip(terms, ks)):
                    lin, m = forms[i]
                    out = Vb[:, :r] if i < 2 else (H[idx] if isinstance(idx, slice) else np.empty((k, r)))
                    odd = np.ones(k, bool) if i == 1 else (np.zeros(k, bool) if i == 0 else (t[idx] % 2 == 0))
                    _pass2(term, Lb, Ab, kk, lin, m, odd, k0 if has_k0 and i == 2 else None, out, X, m1, cw)
                    if i == 0:
                        Vb[:, r] = np.where(lin, r2, np.exp(lr2 - m)) if r2 != 0.0 else 0.0
                        m_tr[idx], tot_tr[idx] = m, np.sum(Vb, axis=-1)
                    elif i == 1:
                        m_gr[idx], tot_gr[idx] = m, np.sum(Vb[:, :r], axis=-1)
                    else:
                        mh[idx] = m
                        if not isinstance(idx, slice):
                            H[idx] = out
                if valid:
                    tq = tf[idx]
                    sure = np.maximum(0.0, tq * lmax) + le_max + 1.0 <= _LIN_HI
                    Qb = Q[idx] if isinstance(idx, slice) else np.empty((k, r))
                    if sure.any():
                        _q_linear(Lb, Ab, tq, t[idx] % 2 == 1, e, sure, Qb, X, P, m1, cw)
                    if not sure.all():
                        rest = np.flatnonzero(~sure)
                        mm, qq = _coeffs(sp, Lb[rest], np.sign(Ab[rest]), t[idx][rest][:, None])
                        Qb[rest] = qq
                        mq[np.arange(N)[idx][rest]] = mm
                    if not isinstance(idx, slice):
                        Q[idx] = Qb
    train, grad = (m_tr, tot_tr), (m_gr, tot_gr)
    if not valid:
        return train, grad, None, None
    return train, grad, (mq, Q), (mh, H)


def _pass2(term: _Term, L, A, kk, lin, m, odd, k0, out, X, M, cw) -> None:
    """The values v_i of :func:`_terms` into ``out`` (rows of the block): c_i sx_i exp(x_i) on
    linear rows, sc_i sx_i exp(ln|c_i| + x_i - m) on the others, x = k ln|a| (0 where k = 0),
    sx = sign of a where k is odd; rows grouped by form and parity (a view when one group)."""
    k, r = L.shape
    groups = []
    for lin_g in (True, False):
        for odd_g in (True, False):
            sel = (lin == lin_g) & (odd == odd_g)
            if sel.any():
                groups.append((lin_g, odd_g, sel))
    for lin_g, odd_g, sel in groups:
        whole = bool(sel.all())
        rows = slice(None) if whole else np.flatnonzero(sel)
        Lg = L if whole else L[rows]
        Ag = A if whole else A[rows]
        og = out if whole else np.empty((Lg.shape[0], r))
        kg, mg = kk[rows][:, None], m[rows][:, None]
        zg = None if k0 is None else k0[rows]
        g = Lg.shape[0]
        for j0 in range(0, r, cw):
            j1 = min(r, j0 + cw)
            w = j1 - j0
            Xc, Mc, Oc = X[:g, :w], M[:g, :w], og[:, j0:j1]
            np.multiply(Lg[:, j0:j1], kg, out=Xc)
            if zg is not None and zg.any():
                Xc[zg] = 0.0
            if not lin_g:
                Xc += term.lc[j0:j1]
                Xc -= mg
            Oc[...] = 0.0
            np.greater_equal(Xc, -746.0, out=Mc)  # exp(x) < 2^-1075 rounds to 0 (as _exp)
            np.exp(Xc, out=Oc, where=Mc)
            if odd_g:
                np.copysign(Oc, Ag[:, j0:j1], out=Oc)  # sign of a^k (a = 0: +, as _power_parts)
            if lin_g:
                Oc *= term.c[j0:j1]
            elif term.sc is not None:
                Oc *= term.sc[j0:j1]
            if term.zero is not None:  # c_i = 0: exactly +0 (no 0 * inf, no -0)
                np.copyto(Oc, 0.0, where=term.zero[j0:j1])
        if not whole:
            out[rows] = og


def _q_linear(L, A, tq, odd, e, sure, Q, X, T, M, cw) -> None:
    """q_i = phi_i e_i with phi = -expm1(t ln|a|), or 1 + |a|^t where a^t < 0 (as :func:`_coeffs`'s
    linear form), for the rows ``sure``."""
    whole = bool(sure.all())
    rows = slice(None) if whole else np.flatnonzero(sure)
    Lg = L if whole else L[rows]
    Ag = A if whole else A[rows]
    og = Q if whole else np.empty(Lg.shape)
    tg, og_odd = tq[rows][:, None], odd[rows]
    g, r = Lg.shape
    ezero = e == 0
    ezero = ezero if ezero.any() else None
    for j0 in range(0, r, cw):
        j1 = min(r, j0 + cw)
        w = j1 - j0
        Xc, Oc = X[:g, :w], og[:, j0:j1]
        np.multiply(Lg[:, j0:j1], tg, out=Xc)
        np.expm1(Xc, out=Oc)
        np.negative(Oc, out=Oc)
        if og_odd.any():
            Mc, Tc = M[:g, :w], T[:g, :w]
            np.less(Ag[:, j0:j1], 0.0, out=Mc)
            Mc &= og_odd[:, None]
            if Mc.any():
                np.exp(Xc, out=Tc, where=Mc)
                np.add(1.0, Tc, out=Oc, where=Mc)
        Oc *= e[j0:j1]
        if ezero is not None:  # e_i = 0: exactly +0 (no 0 * inf, no -0)
            np.copyto(Oc, 0.0, where=ezero[j0:j1])
    if not whole:
        Q[rows] = og


def iterate(problem: LeastSquaresProblem | LeastSquaresSpectrum, eta: Any, t: Any, w0: Any = None) -> np.ndarray:
    r"""w_t = w0 - sum_i (1 - a_i^t) e_i v_i, shape ``broadcast(eta, t).shape + (d,)``.

    Entries beyond the float64 range are +-inf (never NaN).

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])      # H = I / 2, w_ERM = (1, 1)
    >>> iterate(p, [1.0, 2.0], 3, w0=[0.0, 2.0]).tolist()                 # a = 1/2 and 0
    [[0.875, 1.125], [1.0, 1.0]]
    """
    sp = _as_spectrum(problem, w0)
    eta, t, shape = _grid(eta, t)
    la, sa = log_abs_grid(eta.reshape(-1), sp.lam)
    m, q = _coeffs(sp, la, sa, t.reshape(-1)[:, None])
    with np.errstate(under="ignore"):
        b = np.exp(-m)[:, None] * sp.w0[None, :] - q @ sp.V.T  # w_t / e^M
    w = _unscale(m[:, None], b)
    return w.reshape(shape + (sp.problem.d,))


def iterate_norms(problem: LeastSquaresProblem | LeastSquaresSpectrum, eta: Any, t_max: Any, w0: Any = None) -> np.ndarray:
    r"""ln ||w_tau|| for tau = 0..t_max at each eta: shape ``eta.shape + (t_max + 1,)``.

    ||w_tau||^2 = ||P_null w0||^2 + sum_i (<v_i, w0> - (1 - a_i^tau) e_i)^2 (in log space, so a
    divergent run gives a finite ln-norm). Cost O(len(eta) x t_max x r). :func:`first_crossing`
    uses the same norms to locate the truncation step.

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0])             # w_ERM = 3/5, H = 5/2
    >>> np.exp(iterate_norms(p, 1.0, 3)).round(12).tolist()             # 3/5 (1 - (-3/2)^tau)
    [0.0, 1.5, 0.75, 2.625]
    """
    sp = _as_spectrum(problem, w0)
    eta = as_nonnegative_reals("eta", eta)
    tm = as_horizons("t_max", t_max)
    if tm.ndim != 0:
        raise ValidationError("t_max", f"must be a single integer (got shape {tm.shape})")
    t_max = int(tm)
    shape = eta.shape
    flat = eta.reshape(-1)
    out = np.empty((flat.size, t_max + 1))
    w0n2 = float(sp.w0 @ sp.w0)
    out[:, 0] = 0.5 * math.log(w0n2) if w0n2 > 0 else -np.inf
    out[:, 1:] = _norms_range(sp, flat, 1, t_max)
    return out.reshape(shape + (t_max + 1,))


def first_crossing(
    problem: LeastSquaresProblem | LeastSquaresSpectrum, eta: Any, t_max: Any, radius: Any, w0: Any = None
) -> np.ndarray:
    r"""First tau in [0, t_max] with ||w_tau|| >= radius, or -1 if there is none (eta's shape).

    Exact (every tau is examined, through the closed-form norms of :func:`iterate_norms`), with
    two shortcuts that change no answer: a step size with every |a_i| <= 1 cannot reach beyond
    ||P_null w0|| + (sum_i (|<v_i, w0>| + 2|e_i|)^2)^(1/2), so when that bound is below the radius
    it is not scanned; otherwise tau is scanned in growing blocks and a step size stops being
    scanned at its first crossing. Used for the truncation rule of Wang et al. (2021) §2.3.

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0])     # |w_tau| = 0.6 |1 - (1 - 2.5 eta)^tau|
    >>> first_crossing(p, [0.2, 1.0], 10, 2.0).tolist()            # eta = 1: 1.5, 0.75, 2.625, ...
    [-1, 3]
    """
    sp = _as_spectrum(problem, w0)
    eta = as_nonnegative_reals("eta", eta)
    tm = as_horizons("t_max", t_max)
    if tm.ndim != 0:
        raise ValidationError("t_max", f"must be a single integer (got shape {tm.shape})")
    t_max = int(tm)
    r = as_nonnegative_reals("radius", radius)
    if r.ndim != 0 or not float(r) > 0:
        raise ValidationError("radius", f"must be a single number > 0 (got {'shape ' + str(r.shape) if r.ndim else float(r)})")
    lr = math.log(float(r))
    flat = eta.reshape(-1)
    out = np.full(flat.size, -1, dtype=np.int64)
    if math.sqrt(float(sp.w0 @ sp.w0)) >= float(r):
        out[:] = 0
        return out.reshape(eta.shape)
    a_max = np.max(np.abs(1.0 - flat[:, None] * sp.lam[None, :]), axis=-1, initial=0.0)
    bound = math.sqrt(sp.null_w0_norm2) + float(np.linalg.norm(np.abs(sp.vw0) + 2.0 * np.abs(sp.z / sp.s)))
    todo = np.nonzero(~((a_max <= 1.0) & (bound < float(r))))[0]
    start, block = 1, 64
    while todo.size and start <= t_max:
        stop = min(t_max, start + block - 1)
        ln = _norms_range(sp, flat[todo], start, stop)  # (len(todo), stop - start + 1)
        hit = ln >= lr
        found = hit.any(axis=-1)
        out[todo[found]] = start + np.argmax(hit[found], axis=-1)
        todo = todo[~found]
        start, block = stop + 1, min(4 * block, 65536)
    return out.reshape(eta.shape)


def _norms_range(sp: LeastSquaresSpectrum, eta: np.ndarray, start: int, stop: int) -> np.ndarray:
    """ln ||w_tau|| for tau = start..stop (>= 1) at each eta (1-D): shape (len(eta), stop - start + 1)."""
    la, sa = log_abs_grid(eta, sp.lam)
    with np.errstate(divide="ignore"):
        lnull = math.log(sp.null_w0_norm2) if sp.null_w0_norm2 > 0 else -np.inf
    out = np.empty((la.shape[0], stop - start + 1))
    chunk = max(1, int(4_000_000 // max(1, la.size)))
    for s0 in range(start, stop + 1, chunk):
        taus = np.arange(s0, min(stop, s0 + chunk - 1) + 1)
        m, qs = _coeffs(sp, la[:, None, :], sa[:, None, :], taus[None, :, None])  # (N, T, r)
        # component c_i = vw0_i - q_i, as exp(M) (vw0 e^-M - q~)
        with np.errstate(under="ignore"):
            comp = np.exp(-m)[..., None] * sp.vw0 - qs
            # ||comp||^2 scaled by its largest entry, so tiny iterates do not underflow
            big = np.max(np.abs(comp), axis=-1, initial=0.0)
            safe = np.where(big > 0, big, 1.0)
            c2 = np.sum((comp / safe[..., None]) ** 2, axis=-1)
            with np.errstate(divide="ignore"):
                lc2 = np.where(big > 0, np.log(c2) + 2.0 * (np.log(safe) + m), -np.inf)
            total = np.logaddexp(lc2, lnull)
        out[:, s0 - start : s0 - start + taus.size] = 0.5 * total
    return out
