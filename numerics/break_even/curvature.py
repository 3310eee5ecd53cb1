r"""Curvature measurements along a training trajectory: the top Hessian eigenvalue from
Hessian-vector products, and the spectrum of the gradient covariance by the Gram trick.

**Top Hessian eigenvalue** :math:`\lambda_H^1` (the largest *algebraic* eigenvalue of the symmetric
D x D Hessian H) from a callable ``hvp(v) = H v``; H is never formed.

- ``method="lanczos"``: :func:`scipy.sparse.linalg.eigsh` (ARPACK's implicitly restarted Lanczos) on
  a :class:`~scipy.sparse.linalg.LinearOperator`, ``k=1``, ``which="LA"``, start vector
  ``v0 = default_rng(seed).standard_normal(D)``, so the result is a deterministic function of the
  inputs. ARPACK stops when the Ritz estimate of the residual satisfies
  :math:`\|Hv-\theta v\|\le \mathrm{tol}\,|\theta|`; for symmetric H this bounds the eigenvalue
  error by :math:`\mathrm{tol}\,|\theta|` (Bauer-Fike), and by :math:`\|r\|^2/\mathrm{gap}` once the
  Ritz value is isolated.
- ``method="power"``: power iteration :math:`v\leftarrow Hv/\|Hv\|`, Rayleigh quotient
  :math:`\theta=v^\top Hv`, the same stopping rule. Power iteration finds the eigenvalue of largest
  *modulus*. If that one is negative (or if :math:`\pm\rho` both occur, so the iteration
  oscillates and does not converge), a second phase runs power iteration on the shifted operator
  :math:`H+\sigma I` with :math:`\sigma=\max_k\|Hv_k\|` (the largest norm ratio seen, an estimate of
  the spectral radius :math:`\rho` from below); its eigenvalues :math:`\lambda_i+\sigma` are
  (up to the estimate's error) non-negative, so its dominant one is :math:`\lambda_H^1+\sigma`, and
  :math:`\lambda_H^1=\theta_{\text{shifted}}-\sigma` (returned as the Rayleigh quotient of H itself at
  the final vector). In that phase the residual tolerance is relative to :math:`\lambda_H^1+\sigma`,
  so the eigenvalue error bound is :math:`\mathrm{tol}\,(\lambda_H^1+\sigma)`. The first phase gets
  at most half of the ``maxiter`` budget.

:func:`finite_difference_hvp` gives ``hvp`` from a gradient alone,
:math:`Hv\approx\|v\|\,\big(\nabla L(\theta+\epsilon u)-\nabla L(\theta-\epsilon u)\big)/(2\epsilon)`,
:math:`u=v/\|v\|`.

**Gradient covariance** (Jastrzebski et al. (2020), Section 2):
:math:`K=\frac1N\sum_i(g_i-g)(g_i-g)^\top`. With the M per-example (or per-minibatch) gradients
stacked as the rows of :math:`G\in\mathbb R^{M\times D}` and centred, :math:`G_c=G-\mathbf 1\bar g^\top`,
:math:`\hat K=G_c^\top G_c/M` has the same nonzero eigenvalues as the M x M Gram matrix
:math:`G_cG_c^\top/M` (the Gram trick, Section 4 and App. B), :math:`\mathrm{Tr}\hat K=\|G_c\|_F^2/M`
and :math:`\operatorname{rank}\hat K\le\min(M-1,D)` (the centred rows sum to zero). With minibatch-mean
gradients of size B, :math:`\hat K\approx K/B`: a constant rescale, so ratios such as
:math:`\mathrm{Tr}K/\lambda_K^1` are unaffected.

Source: Jastrzebski et al. (2020), Sections 2 and 4 (measurement of :math:`\lambda_H^1`,
:math:`\lambda_K^1`, :math:`\mathrm{Tr}K/\lambda_K^1`).

Example (a 3 x 3 Hessian with eigenvalues -5, 1, 2: the largest *algebraic* one is 2, although
power iteration alone would find -5)::

    >>> import numpy as np
    >>> H = np.diag([-5.0, 1.0, 2.0])
    >>> round(top_hessian_eigenvalue(lambda v: H @ v, 3).eigenvalue, 12)
    2.0
    >>> round(top_hessian_eigenvalue(lambda v: H @ v, 3, method="power").eigenvalue, 6)
    2.0
    >>> s = gram_spectrum([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(s.top_eigenvalue, 12), round(s.trace, 12), s.numerical_rank, s.rank_bound
    (0.333333333333, 0.444444444444, 2, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_real, as_real_matrix, as_real_vector

__all__ = [
    "top_covariance_eigenvalue",
    "TopEigenpair",
    "GramSpectrum",
    "top_hessian_eigenvalue",
    "finite_difference_hvp",
    "gram_spectrum",
    "trace_K",
    "rank_bound",
    "MAX_HVP_DIM",
    "MAX_GRAM_ROWS",
    "MAX_GRAM_ENTRIES",
    "LANCZOS_TOL",
    "POWER_TOL",
]

#: Largest parameter dimension D accepted by :func:`top_hessian_eigenvalue` (Lanczos keeps about
#: 20 vectors of length D).
MAX_HVP_DIM = 10**7
#: Largest number of gradient rows M for the Gram trick (an M x M ``eigh``: M^3 / 3 flops).
MAX_GRAM_ROWS = 4096
#: Largest M x D accepted by :func:`gram_spectrum` (the centred copy of G is held in memory).
MAX_GRAM_ENTRIES = 5 * 10**7
#: Default relative residual tolerance of Lanczos: exact HVPs are accurate to a few ulps, and the
#: eigenvalue error it allows (<= tol |theta|) is 100x below the 1e-8 the tests ask for.
LANCZOS_TOL = 1e-10
#: Default relative residual tolerance of power iteration: it is usually paired with finite-difference
#: HVPs, whose relative error is ~1e-8 at best (see :func:`finite_difference_hvp`), so a residual
#: below ~1e-7 may never be reached; 1e-6 bounds the eigenvalue error by 1e-6 relative.
POWER_TOL = 1e-6
_EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------- top Hessian eigenvalue


@result_type
@dataclass(frozen=True)
class TopEigenpair:
    """Largest algebraic eigenvalue of a symmetric operator given by its matrix-vector product."""

    eigenvalue: float  #: lambda_H^1, the largest algebraic eigenvalue (the Rayleigh quotient at the returned vector)
    eigenvector: np.ndarray  #: unit-norm approximate eigenvector (length D)
    n_hvp: int  #: number of Hessian-vector products used
    converged: bool  #: True when the residual ||Hv - lambda v|| <= tol |lambda| was reached
    method: str  #: "lanczos" or "power"
    tol: float  #: the relative residual tolerance asked for
    shifted: bool  #: power only: True when the shifted second phase (H + sigma I) gave the answer


class _CountingOperator:
    """Wraps ``hvp``: checks each output, counts calls, keeps the last (v, Hv) pair."""

    def __init__(self, hvp: Callable, dim: int):
        self.hvp, self.dim, self.n, self.last = hvp, dim, 0, None

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        out = np.asarray(self.hvp(v), dtype=np.float64).reshape(-1)
        self.n += 1
        if out.shape != (self.dim,):
            raise ValidationError("hvp", f"must return a vector of length dim = {self.dim} (got shape {out.shape})")
        if not np.all(np.isfinite(out)):
            raise ValidationError("hvp", "returned non-finite values (the Hessian-vector product overflowed or is undefined)")
        self.last = (v.copy(), out)
        return out


@returns(TopEigenpair)
def top_hessian_eigenvalue(
    hvp: Callable[[np.ndarray], np.ndarray],
    dim: Any,
    *,
    method: str = "lanczos",
    tol: Any = None,
    seed: Any = 0,
    maxiter: Any = None,
) -> TopEigenpair:
    r"""lambda_H^1, the largest algebraic eigenvalue of the symmetric operator ``v -> hvp(v)`` on R^dim.

    Statement: :math:`\lambda_H^1=\max_{\|v\|=1}v^\top Hv`. Assumption: ``hvp`` is linear and
    symmetric (an exact or finite-difference Hessian-vector product). ``method`` is "lanczos"
    (ARPACK ``eigsh``, ``k=1``, ``which="LA"``) or "power" (shifted power iteration; see the module
    docstring). ``tol`` is the relative residual tolerance (default :data:`LANCZOS_TOL` or
    :data:`POWER_TOL`); ``seed`` fixes the start vector ``default_rng(seed).standard_normal(dim)``;
    ``maxiter`` caps ARPACK's restarts (default 100 x dim, at least 1000) or the power steps
    (default 10000). If ARPACK fails outright (its Krylov space collapses, e.g. H v0 = 0), the answer
    comes from power iteration and ``method`` says "power". Not converging is a flag, not an error: the returned eigenvalue is then the
    Rayleigh quotient of the last vector, a lower bound on lambda_H^1.
    dim = 1 is answered by one product. Source: Jastrzebski et al. (2020), Section 4.

    >>> import numpy as np
    >>> r = top_hessian_eigenvalue(lambda v: np.array([[2.0, 1.0], [1.0, 2.0]]) @ v, 2)
    >>> round(r.eigenvalue, 12), r.converged
    (3.0, True)
    """
    if not callable(hvp):
        raise ValidationError("hvp", f"must be a callable v -> H v (got {type(hvp).__name__})")
    dim = as_int("dim", dim, 1, MAX_HVP_DIM)
    method = as_choice("method", method, ("lanczos", "power"))
    default_tol = LANCZOS_TOL if method == "lanczos" else POWER_TOL
    tol = default_tol if tol is None else as_real("tol", tol, 0.0, 1.0, lo_open=True, hi_open=True)
    seed = as_int("seed", seed, 0)
    if maxiter is None:
        maxiter = max(1000, 100 * dim) if method == "lanczos" else 10000
    maxiter = as_int("maxiter", maxiter, 1, 10**8)
    op = _CountingOperator(hvp, dim)
    if dim == 1:
        one = np.ones(1)
        value = float(op(one)[0])
        return TopEigenpair(value, one, op.n, True, method, tol, False)
    v0 = np.random.default_rng(seed).standard_normal(dim)
    if method == "lanczos":
        return _lanczos(op, dim, v0, tol, maxiter)
    return _power(op, v0, tol, maxiter)


def _lanczos(op: _CountingOperator, dim: int, v0: np.ndarray, tol: float, maxiter: int) -> TopEigenpair:
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    lin = LinearOperator((dim, dim), matvec=op, dtype=np.float64)
    try:
        vals, vecs = eigsh(lin, k=1, which="LA", v0=v0, tol=tol, maxiter=maxiter)
        vec = vecs[:, 0] / np.linalg.norm(vecs[:, 0])
        converged = True
    except ArpackNoConvergence as exc:
        converged = False
        if exc.eigenvectors is not None and exc.eigenvectors.size:
            vec = exc.eigenvectors[:, -1] / np.linalg.norm(exc.eigenvectors[:, -1])
        else:  # nothing converged: the last vector ARPACK multiplied
            vec = op.last[0] / np.linalg.norm(op.last[0])
    except ArpackError:
        # ARPACK gives up when the Krylov space collapses at once (error -9: H v0 = 0, e.g. a Hessian
        # that vanishes where tanh and softmax saturate). Shifted power iteration has no such case.
        return _power(op, v0, tol, maxiter)
    # The eigenvalue is the Rayleigh quotient of the returned vector (one more product): for a
    # symmetric H its error is quadratic in the vector's error, and it is a lower bound on lambda_1.
    value = float(vec @ op(vec))
    return TopEigenpair(value, vec, op.n, converged, "lanczos", tol, False)


def _power_phase(op: Callable, v: np.ndarray, shift: float, tol: float, steps: int):
    """Power iteration on (H + shift I) from v: (theta of H + shift, v, converged, largest norm ratio)."""
    v = v / np.linalg.norm(v)
    theta, radius = 0.0, 0.0
    for _ in range(steps):
        w = op(v) + shift * v
        norm = float(np.linalg.norm(w))
        radius = max(radius, norm)
        theta = float(v @ w)
        if norm == 0.0:  # v is in the null space: H + shift I vanishes on it
            return theta, v, True, radius
        if float(np.linalg.norm(w - theta * v)) <= tol * abs(theta):
            return theta, v, True, radius
        v = w / norm
    return theta, v, False, radius


def _power(op: _CountingOperator, v0: np.ndarray, tol: float, maxiter: int) -> TopEigenpair:
    first = max(1, maxiter // 2)
    theta, v, converged, radius = _power_phase(op, v0, 0.0, tol, first)
    if converged and theta >= 0.0:
        return TopEigenpair(theta, v, op.n, True, "power", tol, False)
    # The dominant-modulus eigenvalue is negative (or +rho and -rho both occur, or phase one was
    # slow): H + radius I has eigenvalues lambda_i + radius >= ~0, whose dominant one is lambda_1 + radius.
    sigma = radius
    theta_s, v_s, converged, _ = _power_phase(op, v, sigma, tol, max(1, maxiter - first))
    value = float(v_s @ op(v_s))  # Rayleigh quotient of H itself (no cancellation against sigma)
    return TopEigenpair(value, v_s, op.n, converged, "power", tol, True)


def finite_difference_hvp(grad: Callable[[np.ndarray], np.ndarray], theta: Any, eps: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    r"""A Hessian-vector product from a gradient by central differences along the unit direction:

    .. math:: Hv \approx \|v\|\,\frac{\nabla L(\theta+\epsilon u)-\nabla L(\theta-\epsilon u)}{2\epsilon},
              \qquad u = v/\|v\|.

    Error model: truncation :math:`\epsilon^2\|\nabla^3L[u,u,u\cdot]\|/6=O(\epsilon^2)` plus rounding
    :math:`O(\varepsilon_{\text{mach}}\|\nabla L\|/\epsilon)` (the two gradients agree in their leading
    digits), and the displacement :math:`\theta\pm\epsilon u` itself is rounded to
    :math:`\varepsilon_{\text{mach}}\|\theta\|_\infty`. Balancing the first two with third
    derivatives and gradients of the same order gives
    :math:`\epsilon=\varepsilon_{\text{mach}}^{1/3}\max(1,\|\theta\|_\infty)\approx6\cdot10^{-6}`
    (the default), with a relative error of about :math:`\varepsilon_{\text{mach}}^{2/3}\approx4\cdot10^{-11}`
    times the ratio of those derivative scales -- well below the 1e-4 that power iteration is asked for.
    Two gradient evaluations per product; the zero vector maps to zero without any.
    Source: Jastrzebski et al. (2020), Section 4 (power iteration with finite-difference HVPs).

    >>> import numpy as np
    >>> hvp = finite_difference_hvp(lambda w: np.array([w[0] ** 3, 2.0 * w[1]]), [1.0, 0.0])
    >>> np.round(hvp(np.array([1.0, 1.0])), 8).tolist()
    [3.0, 2.0]
    """
    if not callable(grad):
        raise ValidationError("grad", f"must be a callable theta -> gradient (got {type(grad).__name__})")
    theta = as_real_vector("theta", theta)
    if theta.size > MAX_HVP_DIM:
        raise ValidationError("theta", f"must have at most {MAX_HVP_DIM} entries (got {theta.size})")
    scale = max(1.0, float(np.max(np.abs(theta))))
    eps = _EPS ** (1.0 / 3.0) * scale if eps is None else as_real("eps", eps, 0.0, 1.0, lo_open=True)

    def hvp(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape != theta.shape:
            raise ValidationError("v", f"must have length {theta.size} (got shape {v.shape})")
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros_like(theta)
        u = v / norm
        gp = np.asarray(grad(theta + eps * u), dtype=np.float64).reshape(-1)
        gm = np.asarray(grad(theta - eps * u), dtype=np.float64).reshape(-1)
        return (gp - gm) * (norm / (2.0 * eps))

    return hvp


# ----------------------------------------------------------------------------- gradient covariance


@result_type
@dataclass(frozen=True)
class GramSpectrum:
    r"""Spectrum of :math:`\hat K=G_c^\top G_c/M` from the M x M Gram matrix :math:`G_cG_c^\top/M`."""

    top_eigenvalue: float  #: lambda_K^1, the largest eigenvalue of K_hat
    eigenvalues: np.ndarray  #: all M eigenvalues of the Gram matrix, descending (those <= threshold are zero up to rounding)
    trace: float  #: Tr K_hat = ||G_c||_F^2 / M (from the entries, not from the eigenvalues)
    trace_ratio: float | None  #: Tr K_hat / lambda_K^1 (None when lambda_K^1 <= threshold, i.e. K_hat = 0 numerically)
    smallest_nonzero: float | None  #: lambda_K^*, the smallest eigenvalue above the threshold (None if none)
    numerical_rank: int  #: number of eigenvalues above the threshold
    threshold: float  #: max(M, D) eps_mach lambda_K^1: eigenvalues at or below it count as zero
    rank_bound: int  #: min(M - 1, D) when centred, min(M, D) otherwise
    n_rows: int  #: M, the number of gradients
    dim: int  #: D, the parameter dimension
    center: bool  #: whether the rows were centred (True: the covariance K; False: the uncentred second moment)


def rank_bound(n_rows: Any, dim: Any, *, center: bool = True) -> int:
    r"""Upper bound on :math:`\operatorname{rank}\hat K`: :math:`\min(M-1,D)` for centred rows (they sum
    to zero, so they span at most M - 1 dimensions), :math:`\min(M,D)` otherwise.
    Source: Jastrzebski et al. (2020), Section 3 (the submission's "N - D" is a typo for this bound).

    >>> rank_bound(128, 484), rank_bound(1000, 484), rank_bound(128, 484, center=False)
    (127, 484, 128)
    """
    m = as_int("n_rows", n_rows, 1)
    d = as_int("dim", dim, 1)
    return min(m - 1, d) if center else min(m, d)


def _gradient_rows(G: Any) -> np.ndarray:
    shape = np.shape(G) if isinstance(G, np.ndarray) else None
    if shape is not None and len(shape) == 2 and (shape[0] > MAX_GRAM_ROWS or shape[0] * shape[1] > MAX_GRAM_ENTRIES):
        raise ValidationError("G", f"must have at most {MAX_GRAM_ROWS} rows and {MAX_GRAM_ENTRIES} entries (got shape {shape})")
    G = as_real_matrix("G", G)
    if G.shape[0] > MAX_GRAM_ROWS or G.size > MAX_GRAM_ENTRIES:
        raise ValidationError("G", f"must have at most {MAX_GRAM_ROWS} rows and {MAX_GRAM_ENTRIES} entries (got shape {G.shape})")
    return G


def _centred(G: np.ndarray, center: bool) -> np.ndarray:
    if not isinstance(center, (bool, np.bool_)):
        raise ValidationError("center", f"must be True or False (got {center!r})")
    if center and G.shape[0] < 2:
        raise ValidationError("G", f"must have at least 2 rows to be centred (got {G.shape[0]})")
    return G - G.mean(axis=0) if center else G


def trace_K(G: Any, *, center: bool = True) -> float:
    r""":math:`\mathrm{Tr}\hat K=\|G_c\|_F^2/M` for the M x D gradient rows G (centred if ``center``).
    Source: Jastrzebski et al. (2020), Section 2 (definition of K).

    >>> round(trace_K([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 12)  # 4/9
    0.444444444444
    """
    Gc = _centred(_gradient_rows(G), center)
    return float(np.sum(Gc * Gc) / Gc.shape[0])


def top_covariance_eigenvalue(G: Any, *, center: bool = True, tol: Any = None, seed: Any = 0) -> tuple[float, float]:
    r"""``(lambda_K^1, Tr K)`` of :math:`\hat K=G_c^\top G_c/M` without forming either Gram matrix:
    Lanczos (:func:`top_hessian_eigenvalue`) on the smaller of :math:`v\mapsto G_c^\top(G_cv)/M`
    (D x D) and :math:`v\mapsto G_c(G_c^\top v)/M` (M x M, the Gram trick), O(M D) per product,
    against O(min(M, D)^3) for :func:`gram_spectrum`'s dense eigenvalues. Use it when only the top
    eigenvalue and the trace are needed along a trajectory. Same limits as :func:`gram_spectrum`.

    >>> lam, tr = top_covariance_eigenvalue([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(lam, 12), round(tr, 12)   # K_hat = [[2, -1], [-1, 2]] / 9: eigenvalues 1/3, 1/9
    (0.333333333333, 0.444444444444)
    """
    Gc = _centred(_gradient_rows(G), center)
    m, d = Gc.shape
    trace = float(np.sum(Gc * Gc) / m)
    if trace == 0.0:
        return 0.0, 0.0
    if d <= m:
        top = top_hessian_eigenvalue(lambda v: Gc.T @ (Gc @ v) / m, d, tol=tol, seed=seed)
    else:
        top = top_hessian_eigenvalue(lambda v: Gc @ (Gc.T @ v) / m, m, tol=tol, seed=seed)
    return float(top.eigenvalue), trace


@returns(GramSpectrum)
def gram_spectrum(G: Any, center: bool = True) -> GramSpectrum:
    r"""The spectrum of the gradient covariance :math:`\hat K=G_c^\top G_c/M` by the Gram trick.

    Statement: for :math:`A\in\mathbb R^{M\times D}`, :math:`A^\top A` and :math:`AA^\top` have the
    same nonzero eigenvalues, so ``numpy.linalg.eigvalsh`` of the M x M matrix
    :math:`G_cG_c^\top/M` gives those of the D x D :math:`\hat K` (cheap when M << D). Rows of G are
    per-example (or per-minibatch-mean) gradients; ``center=False`` gives the uncentred second moment
    instead (the "G" of Sagun et al. and Papyan), a different matrix.

    Numerical rank: the Gram matrix is formed and diagonalised in float64 with backward-stable
    operations, so every eigenvalue carries an absolute error of order
    :math:`\varepsilon_{\text{mach}}\lambda_K^1` times a modest factor of the sizes; eigenvalues at
    or below ``threshold`` :math:`=\max(M,D)\,\varepsilon_{\text{mach}}\,\lambda_K^1` (numpy's
    ``matrix_rank`` convention) are treated as zero. Small eigenvalues therefore have only absolute
    accuracy :math:`\sim\varepsilon_{\text{mach}}\lambda_K^1`. Sizes: M <= :data:`MAX_GRAM_ROWS`,
    M D <= :data:`MAX_GRAM_ENTRIES`. Source: Jastrzebski et al. (2020), Sections 2 and 4.

    >>> s = gram_spectrum([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> s.eigenvalues.round(12).tolist(), s.trace_ratio, s.numerical_rank, s.rank_bound
    ([1.0, 0.0], 1.0, 1, 1)
    """
    G = _gradient_rows(G)
    Gc = _centred(G, center)
    m, d = Gc.shape
    gram = (Gc @ Gc.T) / m
    gram = 0.5 * (gram + gram.T)  # exactly symmetric (the product is symmetric only up to rounding)
    eig = np.linalg.eigvalsh(gram)[::-1].copy()
    top = float(eig[0])
    trace = float(np.sum(Gc * Gc) / m)
    threshold = max(m, d) * _EPS * max(top, 0.0)
    above = eig[eig > threshold] if top > 0.0 else eig[:0]
    rank = int(above.size)
    return GramSpectrum(
        top_eigenvalue=top,
        eigenvalues=eig,
        trace=trace,
        trace_ratio=trace / top if rank else None,
        smallest_nonzero=float(above[-1]) if rank else None,
        numerical_rank=rank,
        threshold=float(threshold),
        rank_bound=min(m - 1, d) if center else min(m, d),
        n_rows=m,
        dim=d,
        center=bool(center),
    )

