r"""The averaged meta-loss of GD on a quadratic and its step-size derivative, at any unroll length.

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), §2 (the meta-loss averages
the inner loss over the unroll; as to notation [unconfirmed]) and §3.2 / claim A1 (the 1-D closed
form, [derived]), here for any dimension. GD with step :math:`\eta` on
:math:`f(w)=\tfrac12\sum_i\lambda_i w_i^2` from :math:`w_0=c` gives
:math:`w_{t,i}=r_i^t c_i` with :math:`r_i = 1-\eta\lambda_i`, so for an unroll of length
:math:`T\ge1`

.. math::

    L_T(\eta) = \frac1T\sum_{t=1}^T f(w_t) = \frac1{2T}\sum_i c_i^2\lambda_i\,S_i,\qquad
    \frac{dL_T}{d\eta} = -\frac1T\sum_i c_i^2\lambda_i^2\,r_i\,E_i,

    S_i = \sum_{t=1}^T q_i^t,\qquad E_i = \sum_{t=1}^T t\,q_i^{t-1},\qquad q_i = r_i^2 .

:math:`L_T` is a polynomial of degree :math:`2T` in :math:`\eta` (any real :math:`\eta`, also
negative: :mod:`.smoothing` evaluates it at :math:`\eta+\sigma\varepsilon`).

How it stays accurate (assumptions: float64 inputs, :math:`T\le 10^{12}`): with
:math:`u=\ln q = 2\ln|r|` (from :func:`numerics.quadratic.stable.log_abs_one_minus`, which takes
:math:`\eta\lambda` exactly, so :math:`r=0` is exact and :math:`r` near :math:`\pm1` keeps its
digits) and :math:`y=Tu`,

.. math::

    S = T e^{u}\,\frac{\varphi_1(y)}{\varphi_1(u)},\qquad
    E = \frac{T^2\varphi_{12}(y) + T e^{y}\varphi_2(u)}{\varphi_1(u)^2}\quad(|y|\le1),

with :math:`\varphi_1(z)=\mathrm{expm1}(z)/z`, :math:`\varphi_2(z)=(e^z-1-z)/z^2` and
:math:`\varphi_{12}=\varphi_1-\varphi_2=\sum_j (j+1)z^j/(j+2)!` (positive series, summed directly,
so the :math:`q\to1` limits :math:`S=T`, :math:`E=T(T+1)/2` come out without cancellation).
For :math:`|y|>1`, :math:`E=N/\mathrm{expm1}(u)^2` with
:math:`N = -\mathrm{expm1}(y) + T e^{y}\mathrm{expm1}(u)` (cancellation at most a factor 4 for
:math:`y<-1`; for :math:`y>1`, :math:`\ln N = y+\ln(T\,\mathrm{expm1}(u)+\mathrm{expm1}(-y))`).
Everything is kept as logarithms and summed over components with (signed) log-sum-exp, so
:math:`T=10^9` neither overflows nor underflows inside; the only error growing with :math:`T` is
the unavoidable :math:`\approx\epsilon\,|y|` of raising to the power :math:`T`. A value outside
float64's range comes back as a ``status`` ("overflow", or "underflow" for a nonzero value below
the smallest normal float64) with the value ``None``, never as inf or NaN.

Example (claim A1, :math:`a=w_0=1`, :math:`\alpha=2.05`, :math:`T=100`: spec value 1.6e5)::

    >>> from l2l.numerics import QuadraticProblem
    >>> r = meta_loss(QuadraticProblem([1.0], [1.0]), 2.05, 100)
    >>> f"{r.meta_loss_grad:.4g}", r.status
    ('1.599e+05', 'ok')
    >>> r = meta_loss(QuadraticProblem([1.0], [1.0]), 3.0, 10**9)   # |r| = 2: ln L is about 1.4e9
    >>> r.meta_loss, r.status, round(r.log_meta_loss / 1e9, 6)
    (None, 'overflow', 1.386294)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import QuadraticProblem
from ..quadratic.stable import log_abs_one_minus
from ..results import result_type, returns
from ..validation import as_horizon, as_horizons, as_instance, as_real, as_real_array

__all__ = ["MetaLoss", "meta_loss", "log_meta_loss", "signed_logsumexp", "to_float", "worst_status", "LOG_MAX", "LOG_TINY"]

#: ln of the largest finite float64 (a value with a larger log overflows).
LOG_MAX = math.log(np.finfo(np.float64).max)
#: ln of the smallest normal float64 (a nonzero value with a smaller log "underflows").
LOG_TINY = math.log(np.finfo(np.float64).tiny)

# Taylor coefficients on |z| <= 1 (20 terms: the first omitted is < 1e-19 relative).
_PHI2 = [1.0 / math.factorial(k + 2) for k in range(20)]
_PHI12 = [(k + 1) / math.factorial(k + 2) for k in range(20)]


def _series(coef: list[float], z: np.ndarray) -> np.ndarray:
    out = np.full_like(z, coef[-1])
    for c in reversed(coef[:-1]):
        out = out * z + c
    return out


def _log_phi1(z: np.ndarray) -> np.ndarray:
    """ln(expm1(z)/z) (0 at z = 0) for finite z, accurate to a few ulps absolute."""
    out = np.zeros_like(z)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mid = (np.abs(z) <= 1.0) & (z != 0.0)
        out[mid] = np.log(np.expm1(z[mid]) / z[mid])
        hi = z > 1.0
        out[hi] = z[hi] + np.log1p(-np.exp(-z[hi])) - np.log(z[hi])
        lo = z < -1.0
        out[lo] = np.log(-np.expm1(z[lo])) - np.log(-z[lo])
    return out


def _log_abs_expm1(u: np.ndarray) -> np.ndarray:
    """ln|expm1(u)| for finite u != 0 (no overflow for large u)."""
    with np.errstate(divide="ignore", over="ignore"):
        big = u > 700.0
        return np.where(big, u + np.log1p(-np.exp(-np.where(big, u, 1.0))), np.log(np.abs(np.expm1(np.where(big, 1.0, u)))))


def _log_sums(u: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ln S, ln E) of S = sum_{t=1}^T q^t and E = sum_{t=1}^T t q^(t-1), q = e^u (u = -inf: q = 0).

    ``u`` and ``T`` broadcast; T is float64 (exact up to 2^53)."""
    u, T = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(T, np.float64))
    ls = np.full(u.shape, -np.inf)
    le = np.zeros(u.shape)  # E = 1 at q = 0 (only the t = 1 term)
    fin = np.isfinite(u)
    uf, Tf = u[fin], T[fin]
    y = Tf * uf
    lnT = np.log(Tf)
    ls[fin] = lnT + uf + _log_phi1(y) - _log_phi1(uf)
    lef = np.empty(uf.shape)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        small = np.abs(y) <= 1.0  # then |u| <= 1 too
        us, ys, Ts = uf[small], y[small], Tf[small]
        phi1 = np.where(us == 0.0, 1.0, np.expm1(us) / np.where(us == 0.0, 1.0, us))
        num = Ts * Ts * _series(_PHI12, ys) + Ts * np.exp(ys) * _series(_PHI2, us)
        lef[small] = np.log(num) - 2.0 * np.log(phi1)
        pos = y > 1.0  # q > 1: ln N = y + ln(T expm1(u) + expm1(-y)), T expm1(u) >= y > 1
        up, yp = uf[pos], y[pos]
        a = lnT[pos] + _log_abs_expm1(up)  # ln(T expm1(u))
        lef[pos] = yp + a + np.log1p(np.expm1(-yp) * np.exp(-a)) - 2.0 * _log_abs_expm1(up)
        neg = y < -1.0  # q < 1: N = -expm1(y) + T e^y expm1(u) in (0.26, 1]
        un, yn, Tn = uf[neg], y[neg], Tf[neg]
        em = np.expm1(un)
        lef[neg] = np.log(-np.expm1(yn) + Tn * np.exp(yn) * em) - 2.0 * np.log(-em)
    le[fin] = lef
    return ls, le


def signed_logsumexp(x: np.ndarray, sign: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(ln|S|, sign S) of S = sum sign * exp(x) along ``axis``; (-inf, 0) where S == 0 (or empty).

    The positive and negative parts are summed separately in log space and subtracted once, so
    the only cancellation is the unavoidable one of S itself.

    >>> l, s = signed_logsumexp(np.log(np.array([3.0, 1.0])), np.array([1.0, -1.0]))
    >>> round(float(np.exp(l)), 12), float(s)
    (2.0, 1.0)
    """
    x = np.asarray(x, np.float64)
    sign = np.broadcast_to(np.asarray(sign, np.float64), x.shape)
    x = np.where(sign == 0, -np.inf, x)

    def lse(v: np.ndarray) -> np.ndarray:
        m = np.max(v, axis=axis, keepdims=True) if v.shape[axis] else np.full(v.shape[:axis % v.ndim] + (1,) + v.shape[axis % v.ndim + 1:], -np.inf)
        safe = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(under="ignore", divide="ignore"):
            s = np.sum(np.exp(v - safe), axis=axis, keepdims=True)
            return np.squeeze(np.where(np.isfinite(m), safe + np.log(s), -np.inf), axis=axis)

    pos = lse(np.where(sign > 0, x, -np.inf))
    neg = lse(np.where(sign < 0, x, -np.inf))
    hi, lo = np.maximum(pos, neg), np.minimum(pos, neg)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        diff = np.where(np.isfinite(hi), lo - hi, -np.inf)
        out = np.where(pos == neg, -np.inf, hi + np.log1p(-np.exp(diff)))
    s = np.where(pos > neg, 1.0, np.where(neg > pos, -1.0, 0.0))
    return out, s


def log_meta_loss(problem: QuadraticProblem, eta: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ln L_T, ln|dL_T/d eta|, sign dL_T/d eta)`` at the broadcast of ``eta`` (any finite real)
    and ``T`` (integers in [1, 10^12]), as float64 arrays: the log-space core of :func:`meta_loss`,
    vectorised, never overflowing (ln L_T = -inf where L_T = 0 exactly; the sign is 0 where the
    derivative is exactly 0).

    Work and memory are O(size of the broadcast x dim).

    >>> from l2l.numerics import QuadraticProblem
    >>> ll, lg, sg = log_meta_loss(QuadraticProblem([1.0], [1.0]), [0.5, 1.0], 10)
    >>> np.exp(ll).round(6).tolist(), (sg * np.exp(lg)).round(6).tolist()
    ([0.016667, 0.0], [-0.088888, -0.0])
    """
    as_instance(problem, QuadraticProblem)
    eta = as_real_array("eta", eta)
    T = as_horizons("T", T)
    eta_b, T_b = np.broadcast_arrays(eta, T)
    return _log_meta_loss(problem, eta_b.reshape(-1), T_b.reshape(-1).astype(np.float64), eta_b.shape)


def _log_meta_loss(problem: QuadraticProblem, eta_f: np.ndarray, T_f: np.ndarray, shape: tuple) -> tuple:
    keep = problem.coefficients != 0
    lam = problem.eigenvalues[keep]
    lc2 = 2.0 * np.log(np.abs(problem.coefficients[keep]))
    llam = np.log(lam)
    la, sa = log_abs_one_minus(eta_f[:, None], lam[None, :])  # (n, d): ln|r_i|, sign r_i
    ls, le = _log_sums(2.0 * la, T_f[:, None])
    lnT = np.log(T_f)
    with np.errstate(invalid="ignore"):
        loss, _ = signed_logsumexp(lc2 + llam + ls, np.ones_like(ls))
        lg, sg = signed_logsumexp(lc2 + 2.0 * llam + la + le, sa)
    loss = loss - np.log(2.0) - lnT
    lg = lg - lnT
    return loss.reshape(shape), lg.reshape(shape), (-sg).reshape(shape)


def to_float(log_abs: float, sign: float = 1.0) -> tuple[float | None, str]:
    """(value, status) for a value given as ln|x| and sign: ``"ok"`` with the float64 value,
    ``"overflow"`` (None) beyond float64's largest value, ``"underflow"`` (None) for a nonzero value
    below its smallest normal; an exact 0 (ln = -inf) is ``(0.0, "ok")``.

    >>> to_float(800.0), to_float(-800.0), to_float(-math.inf), to_float(math.log(2.0), -1.0)
    ((None, 'overflow'), (None, 'underflow'), (0.0, 'ok'), (-2.0, 'ok'))
    """
    log_abs = float(log_abs)
    if log_abs == -math.inf or sign == 0:
        return 0.0, "ok"
    if log_abs > LOG_MAX:
        return None, "overflow"
    if log_abs < LOG_TINY:
        return None, "underflow"
    return math.copysign(math.exp(log_abs), sign), "ok"


def worst_status(statuses: list[str]) -> str:
    """"overflow" if any, else "underflow" if any, else "ok"."""
    return "overflow" if "overflow" in statuses else "underflow" if "underflow" in statuses else "ok"


@result_type
@dataclass(frozen=True)
class MetaLoss:
    """L_T(eta) and dL_T/d eta for GD on a quadratic (Metz et al. 2019, §2 and claim A1)."""

    eta: float  #: step size
    T: int  #: unroll length
    meta_loss: float | None  #: L_T(eta) = (1/T) sum_{t=1}^T f(w_t); None when out of float64's range
    meta_loss_grad: float | None  #: dL_T/d eta; None when out of float64's range
    log_meta_loss: float  #: ln L_T (-inf when L_T = 0 exactly)
    log_abs_meta_loss_grad: float  #: ln |dL_T/d eta| (-inf when it is 0 exactly)
    meta_loss_grad_sign: int  #: sign of dL_T/d eta, in {-1, 0, 1}
    status: str  #: "ok", or "overflow" / "underflow" when a value is outside float64's range


@returns(MetaLoss)
def meta_loss(problem: QuadraticProblem, eta: Any, T: Any) -> MetaLoss:
    """L_T(eta) and its eta-derivative for one step size ``eta`` (any finite real) and unroll
    length ``T`` (an integer in [1, 10^12]; accurate to about eps * T |ln r^2| relative)."""
    as_instance(problem, QuadraticProblem)
    eta = as_real("eta", eta)
    T = as_horizon("T", T)
    ll, lg, sg = _log_meta_loss(problem, np.array([eta]), np.array([float(T)]), ())
    value, s1 = to_float(ll)
    grad, s2 = to_float(lg, float(sg))
    return MetaLoss(eta=eta, T=T, meta_loss=value, meta_loss_grad=grad, log_meta_loss=float(ll),
                    log_abs_meta_loss_grad=float(lg), meta_loss_grad_sign=int(sg), status=worst_status([s1, s2]))
