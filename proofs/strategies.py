"""Public Hypothesis strategies for learning-to-learn problems (reusable in your own claims).

Like ``xarray.testing.strategies``, these are part of the API: every strategy is bounded (no
unbounded floats), produces valid objects only, and shrinks towards simple instances (small
dimension, mild conditioning, the first listed special step size).

>>> from hypothesis import given, settings
>>> from l2l.proofs import strategies as ps
>>> @settings(max_examples=5, deadline=None)
... @given(ps.quadratic_problems(max_dim=4, max_kappa=1e3))
... def check(p):
...     assert 1 <= p.dim <= 4 and p.kappa <= 1e3 * (1 + 1e-12)
>>> check()

Strategies
----------
``spectra``            positive eigenvalues with a controlled condition number; shapes
                       ``log-uniform``, ``clustered``, ``two-level``, ``repeated``.
``unit_coefficients``  unit vectors c (sum c_i^2 = 1), optionally skewed (one coordinate ~ 0).
``quadratic_problems`` :class:`numerics.QuadraticProblem` built from the two above.
``gaussian_quadratics`` the paper's instances: H = X X^T with Gaussian X (d x ratio*d).
``step_sizes``         eta >= 0 relative to 1/L, 2/(L+alpha) and 2/L, including those points.
``horizons``           integers t, log-uniform in [1, max_t].
``nqm_problems``       :class:`numerics.nqm.NQMProblem` (noisy quadratic model) with bounded ranges.
``nqm_moment_states``  (problem, state) pairs with feasible raw moments, for one-step statements.
``least_squares_problems`` :class:`numerics.LeastSquaresProblem` with bounded entries, with or
                       without a validation set.
``curvature_batches``  (h, S) pairs: per-example curvatures h_1..h_N along the top Hessian direction
                       and a minibatch size 1 <= S <= N (Jastrzebski et al. 2020, Eq. 1).
``HARD_QUADRATICS``    fixed instances at the known hard points (for ``@example``): extreme
                       condition number, a repeated top eigenvalue, one dominant coefficient.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from l2l.numerics.problems import QuadraticProblem

__all__ = [
    "spectra",
    "unit_coefficients",
    "quadratic_problems",
    "gaussian_quadratics",
    "step_sizes",
    "horizons",
    "nqm_problems",
    "nqm_moment_states",
    "least_squares_problems",
    "curvature_batches",
    "SPECTRUM_SHAPES",
    "HARD_QUADRATICS",
]

SPECTRUM_SHAPES = ("log-uniform", "clustered", "two-level", "repeated")


def _unit(x: float) -> st.SearchStrategy[float]:
    return st.floats(0.0, x, allow_nan=False, allow_infinity=False)


@st.composite
def spectra(
    draw,
    min_dim: int = 1,
    max_dim: int = 8,
    max_kappa: float = 1e6,
    shapes: tuple[str, ...] = SPECTRUM_SHAPES,
    scale: tuple[float, float] = (1e-2, 1e2),
) -> np.ndarray:
    """Eigenvalues lambda_i > 0 with kappa = max/min in [1, max_kappa] and L in ``scale``.

    ``log-uniform``: ln lambda uniform between ln(L/kappa) and ln L (both ends included);
    ``clustered``: all but the extremes within 10% of one interior value; ``two-level``: only the
    values L and L/kappa; ``repeated``: log-uniform with some eigenvalues duplicated exactly.
    """
    if not 1 <= min_dim <= max_dim:
        raise ValueError("spectra: need 1 <= min_dim <= max_dim")
    if not max_kappa >= 1:
        raise ValueError("spectra: max_kappa must be >= 1")
    d = draw(st.integers(min_dim, max_dim))
    shape = draw(st.sampled_from(shapes))
    log_l = draw(st.floats(math.log(scale[0]), math.log(scale[1])))
    log_k = draw(st.floats(0.0, math.log(max_kappa)))
    top, bottom = math.exp(log_l), math.exp(log_l - log_k)
    if d == 1:
        return np.array([top])
    if shape == "two-level":
        n_top = draw(st.integers(1, d - 1))
        lam = [top] * n_top + [bottom] * (d - n_top)
    else:
        inner = draw(st.lists(_unit(1.0), min_size=d - 2, max_size=d - 2))
        if shape == "clustered":
            centre = draw(_unit(1.0))
            inner = [min(1.0, max(0.0, centre + 0.1 * (u - 0.5))) for u in inner]
        lam = [top, bottom] + [math.exp(log_l - log_k * u) for u in inner]
        if shape == "repeated" and d >= 3:
            k = draw(st.integers(2, d))
            lam[k - 1] = lam[draw(st.integers(0, k - 2))]
    perm = draw(st.permutations(range(d)))
    return np.array([lam[i] for i in perm], dtype=np.float64)


@st.composite
def unit_coefficients(draw, dim: int, skewed: bool | None = None, min_abs: float = 0.0) -> np.ndarray:
    """A unit vector c in R^dim (sum c_i^2 = 1, entries of both signs).

    With ``skewed`` (drawn when None) one coordinate is scaled down by up to 10^-6, so that c_min is
    small; ``min_abs`` > 0 keeps every |c_i| at least that large before normalisation.
    """
    raw = draw(st.lists(st.floats(-1.0, 1.0), min_size=dim, max_size=dim))
    v = np.array(raw, dtype=np.float64)
    v = np.where(np.abs(v) < max(min_abs, 1e-3), np.copysign(max(min_abs, 1e-3), v + 0.0), v)
    if skewed is None:
        skewed = draw(st.booleans())
    if skewed and dim > 1:
        j = draw(st.integers(0, dim - 1))
        v[j] *= 10.0 ** -draw(st.floats(0.0, 6.0))
    return v / np.linalg.norm(v)


@st.composite
def quadratic_problems(
    draw,
    min_dim: int = 1,
    max_dim: int = 8,
    max_kappa: float = 1e6,
    shapes: tuple[str, ...] = SPECTRUM_SHAPES,
    skewed: bool | None = None,
) -> QuadraticProblem:
    """A :class:`numerics.QuadraticProblem` with a unit start vector (||w0|| = 1 as in the paper)."""
    lam = draw(spectra(min_dim=min_dim, max_dim=max_dim, max_kappa=max_kappa, shapes=shapes))
    c = draw(unit_coefficients(lam.size, skewed=skewed))
    return QuadraticProblem(lam, c)


def make_gaussian_quadratic(seed: int, dim: int, ratio: int = 2, normalise_w0: bool = True) -> QuadraticProblem:
    """H = X X^T with X in R^{dim x (ratio dim)} standard Gaussian (numpy Generator(seed)); w0
    uniform on the unit sphere, or N(0, I) unnormalised with ``normalise_w0=False`` (the released
    code's instance uses ratio = 1 and an unnormalised w0: papers/wang2021.md §6.1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(dim, ratio * dim))
    w0 = rng.normal(size=dim)
    if normalise_w0:
        w0 /= np.linalg.norm(w0)
    return QuadraticProblem.from_matrix(x @ x.T, w0)


def gaussian_quadratics(dims: tuple[int, ...] = (5, 20), ratio: int = 2, normalise_w0: bool = True):
    """The suggested instances of papers/wang2021.md §7: H = X X^T, X in R^{d x 2d} Gaussian
    (moderate kappa), w0 uniform on the sphere; drawn through a seed so they shrink to seed 0."""
    return st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(dims)).map(
        lambda sd: make_gaussian_quadratic(sd[0], sd[1], ratio, normalise_w0)
    )


#: Fixed quadratics at the hard points, for a claim's explicit ``@example``s (run first under every
#: profile, so ``ci`` always visits them): ``kappa-1e6`` (L = 1, alpha = 1e-6: 2/(L + alpha) sits a
#: hair below 2/L, and ln|1 - eta alpha| ~ -1e-6 needs log1p), ``repeated-top`` (L repeated, so
#: eta = 1/L zeroes two components at once), ``dominant-bottom`` (c concentrated on alpha, where
#: the top component's share of f starts at 1e-6 and the sign of G' turns late).
HARD_QUADRATICS: dict[str, QuadraticProblem] = {
    "kappa-1e6": QuadraticProblem([1.0, 0.1, 1e-3, 1e-6], [0.5, 0.5, 0.5, 0.5]),
    "repeated-top": QuadraticProblem([2.0, 2.0, 0.5, 0.25, 0.125], [0.4, 0.4, 0.4, 0.4, float(np.sqrt(0.36))]),
    "dominant-bottom": QuadraticProblem([4.0, 1.0, 0.01], [1e-3, 1e-3, float(np.sqrt(1.0 - 2e-6))]),
}

SPECIAL_STEP_SIZES = ("0", "1/L", "2/(L+alpha)", "2/L", "1/alpha", "1/lambda_i")


@st.composite
def step_sizes(draw, problem: QuadraticProblem, max_factor: float = 3.0, special: bool = True) -> float:
    """eta in [0, max_factor / L]: either a special point (0, 1/L, 2/(L+alpha), 2/L, 1/lambda_i
    when inside the range) or a multiple of one of 1/L, 2/(L+alpha), 2/L."""
    L, a = problem.L, problem.alpha
    bound = max_factor / L
    points = [0.0, 1.0 / L, 2.0 / (L + a), 2.0 / L] + [float(1.0 / x) for x in problem.eigenvalues]
    points = [p for p in points if p <= bound]
    if special and draw(st.booleans()):
        return draw(st.sampled_from(points))
    unit = draw(st.sampled_from([1.0 / L, 2.0 / (L + a), 2.0 / L]))
    return min(bound, unit * draw(st.floats(0.0, bound / unit)))


def horizons(max_t: int = 10**6, min_t: int = 1) -> st.SearchStrategy[int]:
    """Integers t, log-uniform in [min_t, max_t] (shrinks towards min_t)."""
    if not 1 <= min_t <= max_t:
        raise ValueError("horizons: need 1 <= min_t <= max_t")
    lo, hi = math.log(min_t), math.log(max_t)
    return st.floats(0.0, 1.0).map(lambda u: max(min_t, min(max_t, int(round(math.exp(lo + u * (hi - lo)))))))


# -- noisy quadratic model (Wu et al. 2018; Zhang et al. 2019) --------------------------------


def _bounded(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def curvature_batches(
    draw,
    max_n: int = 12,
    h_range: tuple[float, float] = (0.0, 5.0),
    max_batches: int | None = None,
    sampling: str = "without_replacement",
):
    """``(h, S)``: per-example curvatures ``h`` (a float64 array of N in [2, max_n] entries from the
    closed ``h_range``; an eighth of the draws have all entries equal, where s^2 = 0) and a
    minibatch size 1 <= S <= N. ``max_batches`` bounds the number of distinct minibatches
    (C(N, S), or N^S with ``sampling="with_replacement"``) so that an enumeration over all of them
    stays cheap. Shrinks towards N = 2, S = 1 and the lower end of the range.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, deadline=None)
    ... @given(curvature_batches(max_n=6, max_batches=50))
    ... def check(inst):
    ...     h, S = inst
    ...     assert 2 <= h.size <= 6 and 1 <= S <= h.size and math.comb(h.size, S) <= 50
    >>> check()
    """
    if not max_n >= 2:
        raise ValueError("curvature_batches: max_n must be >= 2")
    n = draw(st.integers(2, max_n))
    if draw(st.integers(0, 7)) == 0:
        h = np.full(n, draw(_bounded(*h_range)))
    else:
        h = np.array(draw(st.lists(_bounded(*h_range), min_size=n, max_size=n)))

    def count(S: int) -> int:
        return math.comb(n, S) if sampling == "without_replacement" else n**S

    sizes = [S for S in range(1, n + 1) if max_batches is None or count(S) <= max_batches]
    return h, draw(st.sampled_from(sizes))


@st.composite
def nqm_problems(
    draw,
    max_dim: int = 5,
    h_range: tuple[float, float] = (0.01, 1.0),
    sigma2_range: tuple[float, float] = (0.1, 2.0),
    mean0_range: tuple[float, float] = (-1.0, 1.0),
    var0_range: tuple[float, float] = (0.0, 1.0),
):
    """:class:`numerics.nqm.NQMProblem` with 1..max_dim coordinates, curvatures ``h``, noise
    variances ``sigma2`` and initial means/variances drawn per coordinate from the given closed
    ranges (defaults: the ranges of papers/wu2018.md §11 item 2). Shrinks towards d = 1 and the
    lower ends.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, deadline=None)
    ... @given(nqm_problems(max_dim=3))
    ... def check(p):
    ...     assert 1 <= p.d <= 3 and (p.h >= 0.01).all() and (p.sigma2 <= 2.0).all()
    >>> check()
    """
    from l2l.numerics.nqm import NQMProblem

    if not max_dim >= 1:
        raise ValueError("nqm_problems: max_dim must be >= 1")
    d = draw(st.integers(1, max_dim))
    lists = [draw(st.lists(_bounded(*r), min_size=d, max_size=d)) for r in (h_range, sigma2_range, mean0_range, var0_range)]
    return NQMProblem(*lists)


@st.composite
def nqm_moment_states(
    draw,
    max_dim: int = 8,
    momentum: bool = False,
    h_range: tuple[float, float] = (0.01, 1.0),
    sigma2_range: tuple[float, float] = (0.01, 10.0),
    moment_range: tuple[float, float] = (0.01, 10.0),
):
    """A pair ``(problem, state)``: an NQM and a raw-moment state (X, W, Y) = (E w^2, E v^2, E w v)
    with X > 0 and, with ``momentum``, W > 0 and a feasible correlation |Y| <= sqrt(X W) (the
    edge |Y| = sqrt(X W) included); without it W = Y = 0 (plain SGD, or t = 0 with v_0 = 0).
    For checking one-step (greedy) statements at arbitrary states, not only reachable ones.
    """
    from l2l.numerics.nqm import NQMProblem, State

    d = draw(st.integers(1, max_dim))
    h = np.array(draw(st.lists(_bounded(*h_range), min_size=d, max_size=d)))
    s2 = np.array(draw(st.lists(_bounded(*sigma2_range), min_size=d, max_size=d)))
    X = np.array(draw(st.lists(_bounded(*moment_range), min_size=d, max_size=d)))
    if momentum:
        W = np.array(draw(st.lists(_bounded(*moment_range), min_size=d, max_size=d)))
        r = np.array(draw(st.lists(_bounded(-1.0, 1.0), min_size=d, max_size=d)))
        Y = r * np.sqrt(X * W)
    else:
        W, Y = np.zeros(d), np.zeros(d)
    return NQMProblem(h, s2, np.zeros(d), X), State(X, W, Y)


@st.composite
def least_squares_problems(draw, max_n: int = 8, max_d: int = 4, validation: bool | None = None, scale: float = 2.0):
    """:class:`numerics.LeastSquaresProblem`: n in [1, max_n] samples of dimension d in [1, max_d],
    entries of X and y in [-scale, scale], and (when ``validation`` is True, or drawn when None) a
    validation set of 1..max_n samples. Shrinks towards n = d = 1, zero entries, no validation.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, deadline=None)
    ... @given(least_squares_problems(max_n=3, max_d=2, validation=True))
    ... def check(p):
    ...     assert p.n <= 3 and p.d <= 2 and p.has_validation
    >>> check()
    """
    from l2l.numerics.problems import LeastSquaresProblem

    if not (max_n >= 1 and max_d >= 1 and 0 < scale <= 1e6):
        raise ValueError("least_squares_problems: max_n, max_d >= 1 and 0 < scale <= 1e6")
    n, d = draw(st.integers(1, max_n)), draw(st.integers(1, max_d))
    entry = _bounded(-scale, scale)
    X = draw(st.lists(st.lists(entry, min_size=d, max_size=d), min_size=n, max_size=n))
    y = draw(st.lists(entry, min_size=n, max_size=n))
    if not (draw(st.booleans()) if validation is None else validation):
        return LeastSquaresProblem(X, y)
    m = draw(st.integers(1, max_n))
    Xv = draw(st.lists(st.lists(entry, min_size=d, max_size=d), min_size=m, max_size=m))
    yv = draw(st.lists(entry, min_size=m, max_size=m))
    return LeastSquaresProblem(X, y, Xv, yv)
