r"""Growth-rate diagnostics: is a sequence exponential in t, or polynomially bounded?

Source: Wang, Yuan, Wu & Ge (2021), Theorem 3 and Theorem 4(ii) (``../shared/papers/wang2021.md``
§3.2 remark (c), §3.3, §7 items 5 and 8). The paper's *definition*: a meta-gradient
"explodes/vanishes" when it is exponentially large/small in the horizon t. For GD on
:math:`f(w)=\tfrac12 w^\top Hw` with step size :math:`\eta` (``a_i = 1 - eta lambda_i``):

.. math::

    F'(\eta) = \frac{d f(w_t)}{d\eta} = -t\sum_i c_i^2\lambda_i^2 a_i^{2t-1},\qquad
    \frac1t\ln|F'(\eta)| \xrightarrow[t\to\infty]{} 2\ln\rho(\eta),\quad
    \rho(\eta)=\max_i|1-\eta\lambda_i| ,

so :math:`\ln|F'| - \ln t` is, once the sub-dominant components have died out, *exactly* affine in
t with slope :math:`2\ln\rho(\eta)` (negative on (0, 2/L), positive beyond 2/L), while at the
exceptional points :math:`\eta = 0` and :math:`\eta = 2/L` it is :math:`\asymp t` (polynomial of
degree 1). The log meta-gradient :math:`G'` of :math:`\tfrac1t\ln f(w_t)` is bounded independently
of t (Theorem 4(ii)).

A claim of that kind cannot be checked from one value; it is checked from *values over a grid of
horizons*: the natural logs ``log_abs`` = ln|g(t)| (possibly huge, e.g. ``naive_grad_log_abs``
from :func:`numerics.quadratic.stable.evaluate`, which is accurate up to t = 10^9) are fitted by ordinary
least squares against t (exponential model, :func:`fit_exponential`) and against ln t (polynomial
model, :func:`fit_polynomial`), and :func:`classify` decides which model the data support.

Choosing the horizon grid (why the tests start late and run long)
------------------------------------------------------------------
The slope of ln|F'| - ln t equals 2 ln rho only after the sub-dominant eigencomponents are
negligible: the i-th term relative to the dominant one decays like
:math:`(|a_i|/\rho)^{2t} = e^{-2 g_i t}`, with gap :math:`g_i = \ln\rho - \ln|a_i|`, which is small
when eigenvalues crowd the active end of the spectrum (e.g. g ~ 0.007 on a 20-d Wishart instance at
eta = 0.5 x 2/(L + alpha)). On the paper's grid t in [50, 800] the fitted slope can then be off by
more than 5% (measured on 800 Wishart instances, d = 5 and 20, eta in {0.5, 1, 1.3} x 2/(L + alpha):
over 5% on 0.7% of them, up to 18%), for a reason unrelated to the claim. So either

* start the grid at :func:`settling_horizon` (where every sub-dominant term is below a relative
  ``rel_tol`` of the dominant ones, computed from the spectrum), or
* use long horizons (t ~ 10^3 - 10^5), which the stable evaluator allows at no cost.

Measured on the same instances: a log-spaced grid over two decades from the settling horizon gives
slopes equal to 2 ln rho to <= 4e-10 relative, the fixed grid t in [1000, 20000] to <= 1.5e-4.

Decision rule of :func:`classify` (thresholds and why)
-------------------------------------------------------
``exponential-growth`` / ``exponential-decay`` when all three hold:

1. the exponential model explains the data at least as well as the polynomial one (residual sum
   of squares of ln|g| vs t <= that of ln|g| vs ln t: both have two parameters);
2. the slope is significant: ``slope_stderr / |slope| <= rel_threshold`` (default 0.1, i.e. a
   t-statistic >= 10; stricter than the usual 2-5 because residuals of deterministic sequences are
   correlated, which makes the classical standard error optimistic);
3. the slope matters over the grid: ``|slope| (t_max - t_min) >= min_total_change`` (default
   3 nats, a factor e^3 ~ 20). An exponential rate is only meaningful against the grid it was
   measured on: 1e-4 per step is "exponential" over 10^5 steps and invisible over 100.

``bounded`` (otherwise) when the fitted polynomial degree is ~0, ``|degree| <= bounded_degree``
(default 0.5: half the smallest degree this package must detect, the linear growth of F' at
eta = 0 and 2/L, so the midpoint between "flat" and "linear"), **and** the values stay within
``bounded_range`` nats (default ln 1000: a factor 1000 over the grid). Why not tighter: a bounded
sequence with a transient (G' moves from a weighted mean over all eigencomponents at t = 1 to its
limit, a change of up to about ln kappa nats) shows an apparent degree of up to
1.5 x (its drop) / ln(t_max / t_min) on a log-spaced grid; measured on 1300 Wishart instances
(d = 5 and 20) over t in [1, 10^6] at eta = 0.5 x 2/(L + alpha): |degree| <= 0.25 and ln-range
<= 4.9. The degree test catches growth on short grids, the range test on long ones.

``polynomial`` otherwise: ln|g| is better described by a power of t (degree = the polynomial
slope, possibly negative), or the exponential slope is not significant or too small to matter.

Exact zeros (``log_abs = -inf``) have no logarithm; they are dropped from every fit and counted
(``n_zero``): a sequence that passes through 0 changes sign there, and its magnitude elsewhere is
what the growth question is about. NaN or +inf is an error.

The spec's reference fits (§7 item 8: slopes -0.041, -0.085, +0.287, +0.872 against predictions
-0.044, -0.088, +0.284, +0.869 on t in [50, 800]) are reproduced to the printed digits on the
20-d Wishart instance drawn with ``numpy.random.default_rng(0)``; they are fits of ln|F'| itself,
and the "residual from the log t term" they mention is the OLS slope of ln t over that grid
(+0.0030). Subtracting ln t recovers the prediction to 0.2% there.

Limits: a sequence that passes close to 0 between grid points (a sign change, e.g. G' at an eta that
eta*(t) sweeps past as t grows) has a deep dip in ln|g| that widens its ln-range without any growth;
the verdict then describes the dip. When the grid's relative span is narrow (t_max / t_min close to
1), ln t is nearly affine in t and the two models cannot be told apart; widen the grid. Mixed
behaviour t^p e^{bt} is classified by whichever factor dominates over the grid; fit the paper's
ln|F'| - ln t with ``fit_exponential(..., subtract_log_t=True)`` to remove the known factor t.

Example (the naive meta-gradient on a 2-d problem, L = 3, alpha = 1)::

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> ts = np.arange(100, 2001, 100)
    >>> c = naive_gradient_growth(p, 0.8, ts)          # 0.8 > 2/L: explodes (slope biased by ln t)
    >>> c.kind, round(c.exponential.slope, 6), round(float(predicted_rate(p, 0.8)), 6)
    ('exponential-growth', 0.674224, 0.672944)
    >>> fit = fit_exponential(ts, evaluate(p, 0.8, ts).naive_grad_log_abs, subtract_log_t=True)
    >>> compare_slope(fit, predicted_rate(p, 0.8)).ok
    True
    >>> naive_gradient_growth(p, 2 / 3, np.geomspace(10, 10**6, 20).astype(int)).kind   # eta = 2/L
    'polynomial'
    >>> log_gradient_growth(p, 0.8, np.geomspace(1, 10**6, 20).astype(int)).kind
    'bounded'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problems import QuadraticProblem
from ..quadratic.stable import evaluate, log_abs_one_minus
from ..validation import ValidationError, as_horizons, as_instance, as_nonnegative_real, as_nonnegative_reals, as_real, as_real_vector

__all__ = [
    "GrowthFit",
    "Classification",
    "SlopeComparison",
    "KINDS",
    "fit_exponential",
    "fit_polynomial",
    "classify",
    "compare_slope",
    "predicted_rate",
    "settling_horizon",
    "naive_gradient_growth",
    "log_gradient_growth",
    "DEFAULT_REL_THRESHOLD",
    "DEFAULT_MIN_TOTAL_CHANGE",
    "DEFAULT_BOUNDED_RANGE",
    "DEFAULT_BOUNDED_DEGREE",
]

KINDS = ("exponential-growth", "exponential-decay", "polynomial", "bounded")

#: Largest accepted slope_stderr / |slope| for an exponential slope to count as non-zero
#: (t-statistic >= 10; see the module docstring).
DEFAULT_REL_THRESHOLD = 0.1
#: Smallest |slope| x (t_max - t_min), in nats, for an exponential to matter over the grid.
DEFAULT_MIN_TOTAL_CHANGE = 3.0
#: Largest ln-range (max - min of ln|g|) of a bounded sequence: a factor 1000.
DEFAULT_BOUNDED_RANGE = math.log(1000.0)
#: Largest |polynomial degree| of a bounded sequence.
DEFAULT_BOUNDED_DEGREE = 0.5

#: Components whose ln|1 - eta lambda_i| is within this of the largest are treated as tied with it
#: by :func:`settling_horizon` (over t <= 10^6 their weights drift by at most a factor e^(2e-3)).
_TIE = 1e-9


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class GrowthFit:
    """Ordinary least squares y = intercept + slope * x.

    ``model`` is ``"exponential"`` (x = t, y = ln|g|), ``"exponential-over-t"`` (x = t,
    y = ln|g| - ln t: the paper's fit of ln|F'| - ln t, §7 item 8) or ``"polynomial"`` (x = ln t,
    y = ln|g|, slope = degree). ``slope_stderr`` is the classical OLS standard error
    sqrt(rss / (n - 2) / sum (x - mean x)^2) (0 when n = 2); ``r2`` = 1 - rss / tss (1 when the y
    are all equal); ``x`` and ``y`` are the data actually fitted (exact zeros dropped).
    """

    model: str
    slope: float
    intercept: float
    slope_stderr: float
    r2: float
    max_abs_residual: float
    rss: float
    n: int
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    @property
    def residuals(self) -> np.ndarray:
        """y - (intercept + slope x), computed about the means (no cancellation at huge y)."""
        return _residuals(self.x, self.y, self.slope)

    @property
    def rel_stderr(self) -> float:
        """slope_stderr / |slope| (inf for a zero slope)."""
        return self.slope_stderr / abs(self.slope) if self.slope != 0 else math.inf


@dataclass(frozen=True)
class Classification:
    """Verdict of :func:`classify`; ``kind`` is one of :data:`KINDS`.

    ``exponential`` and ``polynomial`` are the two fits the decision compares, and
    ``exponential_over_t`` the fit of ln|g| - ln t (for comparing with 2 ln rho). ``log_range`` is
    max - min of the fitted ln|g|, ``total_change`` = |exponential slope| x (t_max - t_min),
    ``n_zero`` the number of exact zeros dropped, ``thresholds`` the values used.
    """

    kind: str
    reason: str
    exponential: GrowthFit
    polynomial: GrowthFit
    exponential_over_t: GrowthFit
    log_range: float
    total_change: float
    n_zero: int
    thresholds: dict

    @property
    def rate(self) -> float:
        """Slope of ln|g| against t (per step)."""
        return self.exponential.slope

    @property
    def degree(self) -> float:
        """Slope of ln|g| against ln t."""
        return self.polynomial.slope


@dataclass(frozen=True)
class SlopeComparison:
    """A fitted slope against a prediction: ``rel_error`` = |fitted - predicted| / |predicted|."""

    fitted: float
    predicted: float
    rel_error: float
    rel_tol: float
    ok: bool
    sentence: str


# ---------------------------------------------------------------------------------------------
# fitting


def _prepare(ts: Any, log_abs: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated (t, ln|g|) with exact zeros (-inf) dropped, and the number dropped."""
    t = as_real_vector("ts", ts, min_len=3)
    if (t <= 0).any():
        raise ValidationError("ts", f"every horizon must be > 0 (ln t is fitted); got {float(t[t <= 0][0])!r}")
    if (np.diff(t) <= 0).any():
        raise ValidationError("ts", "must be strictly increasing")
    if isinstance(log_abs, (str, bytes)) or log_abs is None or isinstance(log_abs, (bool, np.bool_)):
        raise ValidationError("log_abs", f"must be numeric (got {type(log_abs).__name__})")
    try:
        y = np.asarray(log_abs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError("log_abs", f"must be a 1-D list of numbers ({exc})") from None
    if y.shape != t.shape:
        raise ValidationError("log_abs", f"must have the same length as ts ({t.size}), got shape {y.shape}")
    if np.isnan(y).any():
        raise ValidationError("log_abs", f"must not contain NaN (entry {int(np.argmax(np.isnan(y)))})")
    if np.isposinf(y).any():
        raise ValidationError("log_abs", f"must not contain +inf (entry {int(np.argmax(np.isposinf(y)))})")
    keep = np.isfinite(y)  # -inf = ln 0: an exact zero, dropped
    n_zero = int((~keep).sum())
    if keep.sum() < 3:
        raise ValidationError(
            "log_abs",
            f"needs at least 3 finite values (exact zeros, -inf, are dropped); got {int(keep.sum())}",
        )
    return t[keep], y[keep], n_zero


def _residuals(x: np.ndarray, y: np.ndarray, slope: float) -> np.ndarray:
    return (y - y.mean()) - slope * (x - x.mean())


def _ols(model: str, x: np.ndarray, y: np.ndarray) -> GrowthFit:
    n = x.size
    xm, ym = x.mean(), y.mean()
    dx, dy = x - xm, y - ym  # centred: y may be ~1e9 (ln|F'| at t = 1e9), x up to 1e12
    sxx = float(dx @ dx)
    if not sxx > 0:
        raise ValidationError("ts", "needs at least 2 distinct horizons")
    slope = float(dx @ dy) / sxx
    res = dy - slope * dx
    rss = float(res @ res)
    tss = float(dy @ dy)
    stderr = math.sqrt(rss / (n - 2) / sxx) if n > 2 else 0.0
    r2 = 1.0 - rss / tss if tss > 0 else 1.0
    return GrowthFit(
        model=model,
        slope=slope,
        intercept=float(ym - slope * xm),
        slope_stderr=stderr,
        r2=float(r2),
        max_abs_residual=float(np.max(np.abs(res))),
        rss=rss,
        n=int(n),
        x=x,
        y=y,
    )


def fit_exponential(ts: Any, log_abs: Any, subtract_log_t: bool = False) -> GrowthFit:
    r"""OLS of ln|g(t)| (natural logs, any magnitude) against t: |g| ~ e^{intercept + slope t}.

    With ``subtract_log_t`` the fitted values are ln|g| - ln t (the paper's fit of
    :math:`\ln|F'| - \ln t`, ``wang2021.md`` §7 item 8, which removes the exact factor t of
    :math:`F' = -t\sum_i c_i^2\lambda_i^2 a_i^{2t-1}`). Exact zeros (-inf) are dropped.

    >>> t = np.array([10.0, 20.0, 30.0, 40.0])
    >>> f = fit_exponential(t, np.log(t) - 0.5 * t, subtract_log_t=True)
    >>> round(f.slope, 12), round(f.intercept, 12), f.r2, f.n
    (-0.5, 0.0, 1.0, 4)
    """
    t, y, _ = _prepare(ts, log_abs)
    if subtract_log_t:
        return _ols("exponential-over-t", t, y - np.log(t))
    return _ols("exponential", t, y)


def fit_polynomial(ts: Any, log_abs: Any) -> GrowthFit:
    """OLS of ln|g(t)| against ln t: |g| ~ e^{intercept} t^{slope}; the slope is the degree.

    >>> t = np.array([1.0, 10.0, 100.0, 1000.0])
    >>> round(fit_polynomial(t, 3 * np.log(t) + 1).slope, 12)
    3.0
    """
    t, y, _ = _prepare(ts, log_abs)
    return _ols("polynomial", np.log(t), y)


# ---------------------------------------------------------------------------------------------
# classification


def classify(
    ts: Any,
    log_abs: Any,
    *,
    rel_threshold: float = DEFAULT_REL_THRESHOLD,
    min_total_change: float = DEFAULT_MIN_TOTAL_CHANGE,
    bounded_range: float = DEFAULT_BOUNDED_RANGE,
    bounded_degree: float = DEFAULT_BOUNDED_DEGREE,
) -> Classification:
    """Classify the growth of |g(t)| from ln|g| over the grid ``ts`` (see the module docstring).

    Returns a :class:`Classification` whose ``kind`` is ``"exponential-growth"``,
    ``"exponential-decay"``, ``"polynomial"`` or ``"bounded"``, with both fits and a
    human-readable ``reason``. The verdict is about *this grid*: it says which model explains the
    values observed, not what happens beyond t_max.

    >>> t = np.arange(1.0, 101.0)
    >>> classify(t, 3 * np.log(t)).kind                           # t^3: polynomial, not exponential
    'polynomial'
    >>> classify(t, 0.2 * t).kind, classify(t, 5.0 - 0.2 * t).kind
    ('exponential-growth', 'exponential-decay')
    >>> classify(t, 0.01 * t).kind          # changes by 0.99 nats < 3: too little to call exponential
    'bounded'
    >>> classify(t, 0.01 * t, min_total_change=0.5).kind
    'exponential-growth'
    >>> print(classify(t, np.full(100, 2.5)).reason)
    bounded: ln|g| varies by 0 nats over t in [1, 100] (<= 6.91) with degree 0 (|.| <= 0.5).
    """
    rel_threshold = as_real("rel_threshold", rel_threshold, 0.0, lo_open=True)
    min_total_change = as_real("min_total_change", min_total_change, 0.0, lo_open=True)
    bounded_range = as_real("bounded_range", bounded_range, 0.0, lo_open=True)
    bounded_degree = as_real("bounded_degree", bounded_degree, 0.0, lo_open=True)
    t, y, n_zero = _prepare(ts, log_abs)
    expo = _ols("exponential", t, y)
    expo_t = _ols("exponential-over-t", t, y - np.log(t))
    poly = _ols("polynomial", np.log(t), y)
    span = float(t[-1] - t[0])
    total = abs(expo.slope) * span
    log_range = float(np.ptp(y))
    grid = f"t in [{t[0]:.6g}, {t[-1]:.6g}]"
    zeros = f" ({n_zero} exact zero{'s' if n_zero != 1 else ''} dropped)" if n_zero else ""

    better = expo.rss <= poly.rss
    significant = expo.rel_stderr <= rel_threshold
    large = total >= min_total_change
    if better and significant and large:
        kind = "exponential-growth" if expo.slope > 0 else "exponential-decay"
        reason = (
            f"{kind}: ln|g| is affine in t with slope {expo.slope:.6g} +- {expo.slope_stderr:.2g} per step "
            f"(r2 = {expo.r2:.6f}), a total change of {total:.4g} nats over {grid}{zeros}; "
            f"the power law fits worse (rss {poly.rss:.3g} vs {expo.rss:.3g})."
        )
    elif abs(poly.slope) <= bounded_degree and log_range <= bounded_range:
        kind = "bounded"
        reason = (
            f"bounded: ln|g| varies by {log_range:.3g} nats over {grid}{zeros} (<= {bounded_range:.3g}) "
            f"with degree {poly.slope:.3g} (|.| <= {bounded_degree:.3g})."
        )
    else:
        kind = "polynomial"
        why = []
        if not better:
            why.append(f"the power law fits better (rss {poly.rss:.3g} vs {expo.rss:.3g} for the exponential)")
        if not significant:
            why.append(
                f"the exponential slope {expo.slope:.3g} +- {expo.slope_stderr:.2g} is not significant "
                f"(relative stderr > {rel_threshold:.3g})"
            )
        if not large:
            why.append(f"the exponential changes ln|g| by only {total:.3g} nats (< {min_total_change:.3g})")
        reason = (
            f"polynomial: ln|g| ~ {poly.slope:.4g} ln t (degree +- {poly.slope_stderr:.2g}, r2 = {poly.r2:.6f}) "
            f"over {grid}{zeros}, varying by {log_range:.3g} nats; " + "; ".join(why) + "."
        )
    return Classification(
        kind=kind,
        reason=reason,
        exponential=expo,
        polynomial=poly,
        exponential_over_t=expo_t,
        log_range=log_range,
        total_change=total,
        n_zero=n_zero,
        thresholds=dict(
            rel_threshold=rel_threshold,
            min_total_change=min_total_change,
            bounded_range=bounded_range,
            bounded_degree=bounded_degree,
        ),
    )


def compare_slope(fit: GrowthFit, predicted: Any, rel_tol: float = 0.05) -> SlopeComparison:
    """Compare ``fit.slope`` with a predicted slope: ok when the relative error <= ``rel_tol``.

    The relative error is |fitted - predicted| / |predicted| (0 if both are 0, inf if only the
    prediction is). The sentence says "consistent with" or "inconsistent with", never "proves".

    >>> f = fit_exponential([1, 2, 3], [0.0, -1.0, -2.0])
    >>> print(compare_slope(f, -1.02).sentence)
    fitted slope -1 (+- 0) vs predicted -1.02: relative error 0.0196 <= 0.05, consistent with the prediction.
    """
    if not isinstance(fit, GrowthFit):
        raise ValidationError("fit", f"must be a GrowthFit (got {type(fit).__name__})")
    if isinstance(predicted, (bool, np.bool_)) or not isinstance(
        predicted, (int, float, np.integer, np.floating, np.ndarray)
    ) or np.ndim(predicted) != 0:
        raise ValidationError("predicted", f"must be a real number (got {type(predicted).__name__})")
    pred = float(predicted)
    if not math.isfinite(pred):
        raise ValidationError("predicted", f"must be finite (got {pred!r})")
    rel_tol = as_real("rel_tol", rel_tol, 0.0, lo_open=True)
    diff = abs(fit.slope - pred)
    rel = diff / abs(pred) if pred != 0 else (0.0 if diff == 0 else math.inf)
    ok = bool(rel <= rel_tol)
    sentence = (
        f"fitted slope {fit.slope:.6g} (+- {fit.slope_stderr:.2g}) vs predicted {pred:.6g}: "
        f"relative error {rel:.3g} {'<=' if ok else '>'} {rel_tol:.3g}, "
        f"{'consistent' if ok else 'inconsistent'} with the prediction."
    )
    return SlopeComparison(fitted=fit.slope, predicted=pred, rel_error=rel, rel_tol=rel_tol, ok=ok, sentence=sentence)


# ---------------------------------------------------------------------------------------------
# quadratic problems


def predicted_rate(problem: QuadraticProblem, eta: Any, *, excited_only: bool = False) -> Any:
    r"""2 ln rho(eta) = 2 max_i ln|1 - eta lambda_i|: the limit of (1/t) ln|F'(eta)| (§3.2 remark (c)).

    Computed from :func:`numerics.quadratic.stable.log_abs_one_minus` (eta lambda_i exact), so it is
    accurate near eta = 2/L (where it is ~0) and for tiny eta. The paper's rho runs over *all*
    eigenvalues; the rate actually observed is over the components with c_i != 0, which is what
    ``excited_only=True`` gives (they differ only when c_1 = 0 or c_d = 0). Returns a float for a
    scalar ``eta``, else an array of ``eta``'s shape.

    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> round(predicted_rate(p, 0.8), 12), bool(np.abs(predicted_rate(p, [0.0, 2 / 3])).max() < 1e-15)
    (0.672944473242, True)
    """
    problem = as_instance(problem, QuadraticProblem)
    e = as_nonnegative_reals("eta", eta)
    lam = problem.eigenvalues[problem.coefficients != 0] if excited_only else problem.eigenvalues
    la, _ = log_abs_one_minus(e[..., None], lam)
    out = 2.0 * np.max(la, axis=-1)
    return float(out) if out.ndim == 0 else out


def settling_horizon(problem: QuadraticProblem, eta: Any, rel_tol: float = 1e-6) -> int:
    r"""Smallest t from which f(w_t) and F'(eta) are each within ``rel_tol`` of their dominant part.

    Both are sums of terms :math:`s_i e^{K_i + 2t\ell_i}` with :math:`\ell_i = \ln|1-\eta\lambda_i|`
    (:math:`K_i = \ln(c_i^2\lambda_i)` for 2f, :math:`\ln(c_i^2\lambda_i^2) - \ell_i` and sign
    :math:`s_i = \mathrm{sign}(1-\eta\lambda_i)` for :math:`-F'/t`). The dominant part is the
    cluster of components with :math:`\ell_i \ge \max_j \ell_j - 10^{-9}` (ties such as the two
    extremes at eta = 2/(L + alpha)); a component outside it, at gap :math:`g_i = \max\ell - \ell_i`,
    is below ``rel_tol / n`` of the cluster's sum once
    :math:`t \ge (K_i - K^* - \ln(\mathrm{rel\_tol}\,S/n)) / (2 g_i)`. From this horizon on,
    ln|F'| - ln t is affine in t with slope 2 ln rho to within about ``2 g rel_tol`` per step, and
    ln|F'| is ln t plus a constant at eta = 0 or 2/L. Returns 1 when nothing needs to settle.

    Raises :class:`ValidationError` (field ``eta``) when the dominant cluster of F' cancels
    exactly (opposite-sign ties with equal weights): then the leading rate is not 2 ln rho.

    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> settling_horizon(p, 0.8), settling_horizon(p, 0.0), settling_horizon(p, 0.1)
    (4, 1, 34)
    """
    problem = as_instance(problem, QuadraticProblem)
    e = as_nonnegative_real("eta", eta)
    rel_tol = as_real("rel_tol", rel_tol, 0.0, lo_open=True)
    if rel_tol >= 1:
        raise ValidationError("rel_tol", f"must be in (0, 1) (got {rel_tol!r})")
    keep = problem.coefficients != 0
    lam, c = problem.eigenvalues[keep], problem.coefficients[keep]
    la, sa = log_abs_one_minus(np.full(lam.shape, e), lam)
    alive = np.isfinite(la)  # a_i = 0 contributes nothing for t >= 1
    if not alive.any():
        return 1
    lam, c, la, sa = lam[alive], c[alive], la[alive], sa[alive]
    m = float(la.max())
    tied = la >= m - _TIE
    worst = 1.0
    lc2 = 2.0 * np.log(np.abs(c))
    for k, s in ((lc2 + np.log(lam), np.ones_like(sa)), (lc2 + 2.0 * np.log(lam) - la, sa)):
        k_star = float(k[tied].max())
        cluster = abs(float(np.sum(s[tied] * np.exp(k[tied] - k_star))))
        if cluster <= 1e-12 * float(np.sum(np.exp(k[tied] - k_star))):
            raise ValidationError(
                "eta", f"the dominant components cancel exactly at eta = {e!r}; the rate is not 2 ln rho there"
            )
        sub = ~tied
        if not sub.any():
            continue
        n_sub = int(sub.sum())
        need = (k[sub] - k_star - math.log(rel_tol * cluster / n_sub)) / (2.0 * (m - la[sub]))
        worst = max(worst, float(need.max()))
    return int(math.ceil(worst))


def _grid(ts: Any) -> np.ndarray:
    t = as_horizons("ts", ts)
    if t.ndim != 1 or t.size < 3:
        raise ValidationError("ts", f"must be a 1-D list of at least 3 horizons (got shape {t.shape})")
    if (np.diff(t) <= 0).any():
        raise ValidationError("ts", "must be strictly increasing")
    return t


def naive_gradient_growth(problem: QuadraticProblem, eta: Any, ts: Any, **thresholds: float) -> Classification:
    """Classify ln|F'(eta)| = ln|d f(w_t) / d eta| over the horizons ``ts`` (Theorem 3).

    Values come from :func:`numerics.quadratic.stable.evaluate` (``naive_grad_log_abs``), accurate at any
    t <= 10^9, so the grid may be as long as the question needs. Exact zeros of F' (sign changes
    at some t) are dropped. ``thresholds`` are passed to :func:`classify`.

    Expected (§3.2 remark (c)): ``exponential-decay`` for 0 < eta < 2/L, ``exponential-growth``
    above 2/L, ``polynomial`` with degree 1 at eta = 0 and eta = 2/L (grid past
    :func:`settling_horizon`).
    """
    problem = as_instance(problem, QuadraticProblem)
    e = as_nonnegative_real("eta", eta)
    t = _grid(ts)
    ev = evaluate(problem, e, t)
    if bool(np.any(ev.loss_is_zero)):
        raise ValidationError(
            "eta",
            f"f(w_t) = 0 exactly at eta = {e!r} (eta lambda_i = 1 on every excited component): F' is identically 0",
        )
    return classify(t, ev.naive_grad_log_abs, **thresholds)


def log_gradient_growth(problem: QuadraticProblem, eta: Any, ts: Any, **thresholds: float) -> Classification:
    """Classify ln|G'(eta)|, G the log meta-objective (1/t) ln f(w_t), over ``ts`` (Theorem 4(ii)).

    G' comes from :func:`numerics.quadratic.stable.evaluate` (``log_objective_grad``). Where G' is exactly 0
    its log is -inf and the point is dropped (counted in ``n_zero``). G' does not exist where
    f(w_t) = 0 exactly; that happens for every t at once (eta lambda_i = 1 on every excited
    component) and raises :class:`ValidationError` on ``eta``.

    Expected: ``bounded`` at every fixed eta >= 0 on well-conditioned instances (G' converges to
    d/d eta of 2 ln rho as t grows). Caveat: for eta between eta*(t_min) and 2/(L + alpha), G'
    changes sign as t grows (eta*(t) sweeps past eta), so ln|G'| dips towards -inf near that t and
    its ln-range is large although |G'| stays bounded; classify the values of |G'| away from such
    a crossing, or check sup |G'| directly.
    """
    problem = as_instance(problem, QuadraticProblem)
    e = as_nonnegative_real("eta", eta)
    t = _grid(ts)
    ev = evaluate(problem, e, t)
    if bool(np.any(ev.loss_is_zero)):
        raise ValidationError(
            "eta", f"f(w_t) = 0 exactly at eta = {e!r} (eta lambda_i = 1 on every excited component): G' is undefined"
        )
    g = np.asarray(ev.log_objective_grad, dtype=np.float64)
    with np.errstate(divide="ignore"):
        y = np.log(np.abs(g))  # exact 0 -> -inf, dropped by classify
    return classify(t, y, **thresholds)
