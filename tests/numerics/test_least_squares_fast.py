"""The fast path of numerics.least_squares.closed_form.gd (issue 17) against its log-space path and mpmath.

``gd`` forms its per-row sums by ``_parts_fast`` (ln|1 - eta lambda_i| in cache-sized blocks, each
row's form -- linear or relative to its largest exponent -- fixed in one pass and the terms formed
in a second) and, for spectra it declines, by ``_parts_log_space`` (the earlier whole-array code,
unchanged; it also computes the coefficients of the rows whose validation residual needs the log
form). These tests hold them to each other and to an independent reference:

* bit for bit, every field, on bounded random spectra with the branch edges: eta in {0, 1/lambda_i,
  2/lambda_i, their neighbouring floats, tiny, huge}, t in {1, 2, 3, ..., 10^12}, zero coefficients
  z_i, repeated eigenvalues, ||r||^2 = 0, with and without a validation set; also with blocks of a
  few entries (so rows and columns are split into many blocks); and never NaN (the earlier code
  gave 0 x inf = NaN for a zero z_i or e_i whose a_i^k overflows, e.g. y = 0 at a divergent eta);
* against an mpmath evaluation of the closed form written here from the spectrum (no code of the
  package), within a rounding bound: eps x k |ln|a_i|| for a^k, relative to each sum's scale;
* extra memory at most a bound from the array sizes (tracemalloc; no timed test). Speed is
  measured in ``benchmarks/evaluate.py``.
"""

from __future__ import annotations

import math
import tracemalloc

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares import closed_form as cf

EPS = float(np.finfo(np.float64).eps)
FIELDS = ("train_loss", "train_loss_grad", "valid_loss", "valid_loss_grad")


def make_spectrum(lam, z, resid2=0.0, n=None, B=None, rv0=None) -> cf.LeastSquaresSpectrum:
    """A LeastSquaresSpectrum built from its fields (no SVD): lam = s^2 / n with s = sqrt(lam n)
    (then lam is recomputed from s, as ``spectrum`` does). X and X_valid are placeholders that fix
    n and n_valid; ``gd`` on a spectrum reads only s, lam, z, resid2, B and rv0."""
    lam = np.asarray(lam, float)
    r = lam.size
    n = max(r, 1) if n is None else n
    s = np.sqrt(lam * n)
    lam = s * s / n
    kw = {}
    if B is not None:
        kw = dict(X_valid=np.zeros((B.shape[0], 1)), y_valid=np.zeros(B.shape[0]))
    p = LeastSquaresProblem(np.zeros((n, 1)), np.zeros(n), **kw)
    return cf.LeastSquaresSpectrum(p, np.zeros(1), s, lam, np.empty((0, r)), np.asarray(z, float), float(resid2),
                                   np.zeros(r), 0.0, B, rv0)


def log_space(sp, eta, t):
    """Every field of gd by the log-space path alone (flat eta, t of one length)."""
    eta, t = np.broadcast_arrays(np.asarray(eta, float), np.asarray(t, np.int64))
    parts = cf._parts_log_space(sp, eta.reshape(-1), t.reshape(-1), 0)
    return cf._finish(sp, (0, 0, 0, 0), t.reshape(-1), *parts)


def same_bits(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a, float).reshape(-1), np.asarray(b, float).reshape(-1)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------
# random spectra with the branch edges


@st.composite
def spectra(draw, max_rank=8):
    r = draw(st.integers(1, max_rank))
    lam = np.array(draw(st.lists(st.floats(1e-3, 1e3), min_size=r, max_size=r)))
    if r > 1 and draw(st.booleans()):
        lam[1] = lam[0]  # a repeated eigenvalue
    lam = np.sort(lam)[::-1]
    # |z_i| in [1e-3, 10] or 0: a precomputed spectrum is not rescaled, so z_i^2 must not underflow
    # (gd(problem) rescales X and y by powers of 2 first; test_least_squares.py covers extreme scales)
    z = np.array(draw(st.lists(st.floats(1e-3, 10) | st.floats(-10, -1e-3) | st.just(0.0), min_size=r, max_size=r)))
    resid2 = draw(st.sampled_from([0.0, 0.25, 3.0]))
    B = rv0 = None
    if draw(st.booleans()):
        nv = draw(st.integers(1, 3))
        B = np.array(draw(st.lists(st.floats(-2, 2), min_size=nv * r, max_size=nv * r))).reshape(nv, r)
        rv0 = np.array(draw(st.lists(st.floats(-2, 2), min_size=nv, max_size=nv)))
    return make_spectrum(lam, z, resid2, n=r + draw(st.integers(0, 3)), B=B, rv0=rv0)


def edge_etas(lam, rng):
    with np.errstate(divide="ignore"):  # a zero eigenvalue (a rank-deficient X) gives infinite steps, dropped below
        out = [0.0, 1e-310, 1e-300, 1e300, 1.7e308, float(rng.uniform(0, 1)) * 3 / lam[0]]
        for li in lam:
            for x in (1 / li, 2 / li, 0.5 / li, 1.5 / li, 3 / li):
                out += [x, float(np.nextafter(x, 0)), float(np.nextafter(x, np.inf))]
    out = np.array(out)
    return out[np.isfinite(out)]


T_EDGES = [1, 2, 3, 4, 50, 10**9, 10**9 + 1, 10**12]


@given(sp=spectra(), seed=st.integers(0, 2**32 - 1), t=st.sampled_from(T_EDGES) | st.integers(1, 10**12))
def test_fast_path_is_the_log_space_path_bit_for_bit(sp, seed, t):
    eta = edge_etas(sp.lam, np.random.default_rng(seed))
    tt = np.array(sorted({t, 1, 2, 10**9}))
    E, Tm = np.broadcast_arrays(eta[:, None], tt[None, :])
    g = cf.gd(sp, E, Tm)
    ref = log_space(sp, E, Tm)
    for name, r in zip(FIELDS, ref):
        assert same_bits(getattr(g, name), None if r is None else r.reshape(E.shape)), name
    for name in FIELDS:  # never NaN
        v = getattr(g, name)
        assert v is None or not np.isnan(v).any(), name


@given(sp=spectra(max_rank=12), seed=st.integers(0, 2**32 - 1), chunk=st.sampled_from([1, 3, 8, 20]))
def test_blocking_does_not_change_a_bit(sp, seed, chunk):
    """Blocks of a few entries (many row blocks, several column chunks per row, rows of mixed
    form and parity in one block) give the numbers of the whole-array path."""
    rng = np.random.default_rng(seed)
    eta = edge_etas(sp.lam, rng)
    t = rng.choice(np.array(T_EDGES), size=eta.size)
    old = cf.BLOCK
    cf.BLOCK = chunk
    try:
        g = cf.gd(sp, eta, t)
    finally:
        cf.BLOCK = old
    for name, r in zip(FIELDS, log_space(sp, eta, t)):
        assert same_bits(getattr(g, name), r), name


def test_problem_input_takes_the_fast_path_and_matches():
    """Through the SVD (scaled spectrum, exponents k1, kz, kv, kr): the same bits as the log-space
    parts on the same scaled spectrum."""
    rng = np.random.default_rng(3)
    for scale in (1e-200, 1.0, 1e150):
        X = rng.normal(size=(6, 4)) * scale
        p = LeastSquaresProblem(X, rng.normal(size=6), X_valid=rng.normal(size=(3, 4)), y_valid=rng.normal(size=3))
        sp, ks = cf._scaled_spectrum(p, None)
        eta = edge_etas(np.ldexp(sp.lam, 2 * ks[0]), rng)
        t = rng.choice(np.array(T_EDGES), size=eta.size)
        g = cf.gd(p, eta, t)
        assert cf._fast_applies(sp)
        ref = cf._finish(sp, ks, t, *cf._parts_log_space(sp, eta, t, 2 * ks[0]))
        for name, r in zip(FIELDS, ref):
            assert same_bits(getattr(g, name), r), name


# ---------------------------------------------------------------------------------------------
# an independent reference: the closed form summed in mpmath from the spectrum's fields


def mp_fields(sp, eta: float, t: int, dps: int = 60):
    """(value, scale) of each field in mpmath (local context), written from the formulas of the
    module docstring only: a_i = 1 - eta lam_i exactly, train = (||r||^2 + sum z^2 a^2t) / 2n, its
    d/d eta = -(t/n) sum lam z^2 a^(2t-1); r_v = rv0 + sum_i (1 - a_i^t)(z_i/s_i) B_:i (w_t = w0 - sum_i (1 - a_i^t) e_i v_i),
    valid = |r_v|^2 / 2n_v, d/d eta = <r_v, sum_i t (s_i z_i / n) a_i^(t-1) B_:i> / n_v. The scale
    is the same expression with every term replaced by its absolute value."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    n = sp.problem.n
    e = ctx.mpf(eta)
    lam = [ctx.mpf(float(x)) for x in sp.lam]
    s = [ctx.mpf(float(x)) for x in sp.s]
    z = [ctx.mpf(float(x)) for x in sp.z]
    a = [1 - e * li for li in lam]
    tr = [zi**2 * ai ** (2 * t) for zi, ai in zip(z, a)]
    train = (ctx.mpf(sp.resid2) + ctx.fsum(tr)) / (2 * n)
    gr = [li * zi**2 * ai ** (2 * t - 1) for li, zi, ai in zip(lam, z, a)]
    lnmax = max([float(abs(ctx.log(abs(ai)))) for ai in a if ai != 0], default=0.0)
    out = {"train_loss": (train, train), "train_loss_grad": (-t * ctx.fsum(gr) / n, t * ctx.fsum(abs(x) for x in gr) / n)}
    if sp.B is not None:
        nv = sp.B.shape[0]
        B = [[ctx.mpf(float(x)) for x in row] for row in sp.B]
        q = [(1 - ai**t) * zi / si for ai, zi, si in zip(a, z, s)]
        h = [t * si * zi / n * ai ** (t - 1) for ai, zi, si in zip(a, z, s)]
        rv = [ctx.mpf(float(r0)) + ctx.fsum(qi * bi for qi, bi in zip(q, row)) for r0, row in zip(sp.rv0, B)]
        rs = [abs(ctx.mpf(float(r0))) + ctx.fsum(abs(qi * bi) for qi, bi in zip(q, row)) for r0, row in zip(sp.rv0, B)]
        bh = [ctx.fsum(hi * bi for hi, bi in zip(h, row)) for row in B]
        bhs = [ctx.fsum(abs(hi * bi) for hi, bi in zip(h, row)) for row in B]
        out["valid_loss"] = (ctx.fsum(x**2 for x in rv) / (2 * nv), ctx.fsum(x**2 for x in rs) / (2 * nv))
        out["valid_loss_grad"] = (ctx.fsum(x * y for x, y in zip(rv, bh)) / nv, ctx.fsum(x * y for x, y in zip(rs, bhs)) / nv)
    return out, lnmax


@given(sp=spectra(max_rank=5), seed=st.integers(0, 2**32 - 1), t=st.sampled_from([1, 2, 3, 7, 50, 1000, 10**6, 10**9]))
def test_matches_an_independent_mpmath_closed_form(sp, seed, t):
    rng = np.random.default_rng(seed)
    eta = edge_etas(sp.lam, rng)
    eta = eta[eta <= 1e6]  # a^t with |a| ~ 1e300 and t = 10^9 is beyond mpmath's exponent range
    g = cf.gd(sp, eta, t)
    for i, e in enumerate(eta):
        fields, lnmax = mp_fields(sp, float(e), t)
        # a^k = exp(k ln|a|) from a ln|a| good to a few ulps: relative error ~ eps k |ln|a||
        # (the unavoidable one of multiplying a rounded logarithm by k); sums relative to their scale
        tol = 64 * EPS * (1 + 2 * t * lnmax)
        for name, (value, scale) in fields.items():
            got = float(getattr(g, name)[i])
            if abs(value) > 1.7e308 or scale > 1e300:
                if abs(value) > 1.8e308:
                    assert got == math.copysign(math.inf, value), (name, e, t)
                continue
            assert abs(got - float(value)) <= tol * float(scale) + 1e-300, (name, e, t, got, float(value))


# ---------------------------------------------------------------------------------------------
# memory


@pytest.mark.parametrize("r, N, nv", [(200_000, 1, 0), (200_000, 1, 2), (1000, 200, 0), (1000, 200, 3)])
def test_extra_memory_is_bounded_by_array_sizes(r, N, nv):
    """Peak extra memory (tracemalloc) of one call: the block buffers (a few arrays of
    min(N r, 2^16) entries and r + 1 columns), O(r) per-component factors, and with a validation set
    the two N x r coefficient arrays (q, h) that the products with B need (and the log-form
    coefficients of one block at a time) -- never the ~20 N x r temporaries of a whole-array
    evaluation."""
    rng = np.random.default_rng(0)
    lam = np.exp(rng.uniform(np.log(1e-2), 0.0, r))
    B = rng.normal(size=(nv, r)) if nv else None
    sp = make_spectrum(lam, rng.normal(size=r), 0.5, B=B, rv0=rng.normal(size=nv) if nv else None)
    eta = np.linspace(0, 3.0, N + 1)[1:] if N > 1 else np.array([1.9])
    cf.gd(sp, eta, 10**9)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        cf.gd(sp, eta, 10**9)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    block = min(N * r, cf.BLOCK) + r
    # with a validation set, rows whose residual needs the log form (here eta > 2/L) go through
    # _coeffs a block at a time: about 16 temporaries of the block's size
    bound = 8 * (12 * r + (26 if nv else 10) * block + (3 * N * r if nv else 0) + 8 * N * max(nv, 1)) + (1 << 16)
    assert peak <= bound, (peak, bound)
    if N == 1:  # the budget: at most 10x the float64 input arrays
        inputs = 3 * 8 * r + (B.nbytes if nv else 0)
        assert peak <= 10 * inputs
