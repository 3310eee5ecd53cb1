"""The adjoint (reverse-mode) gradient of the NQM's final expected loss with respect to the whole
schedule (spec §5), with checkpointing when the trajectory does not fit in memory."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..validation import ValidationError, as_instance, as_int, as_real_vector, check_entries
from .problem import ADJOINT_STORE_FLOATS, MAX_STEPS, MAX_WORK, STEP_MAX, NQMProblem, eta_bound

__all__ = ["Adjoint", "final_excess_gradient", "schedule_gradient"]

# adjoint gradient of the final loss, spec §5


class Adjoint:
    """Forward and reverse passes of spec §5 with reusable buffers (an optimiser calls this
    thousands of times; fresh multi-MB temporaries would cost more in page faults than the
    arithmetic). Plain SGD runs on ``X`` alone; heavy ball keeps the state stacked as (3, d) =
    (X, W, Y) and applies ``M_t`` as two broadcast products, ``K1 * X + K2 * Y`` with
    ``K1 = ((1-a)^2, a^2, -a(1-a))``, ``K2 = (2 mu (1-a), -2 mu a, mu (1-2a))``, plus
    ``mu^2 W + n`` on every row; ``M_t^T`` is the same pair summed over rows (``W``'s adjoint is
    ``mu^2 (lX + lW + lY)``)."""

    def __init__(self, problem: NQMProblem, momentum: bool, max_store: int = ADJOINT_STORE_FLOATS):
        self.h = problem.h
        self.q = problem.h * problem.h * problem.sigma2
        self.d = problem.d
        self.X0 = problem.X0
        self.sgd = not momentum
        nstate = 1 if self.sgd else 3
        per_leaf = 5 if self.sgd else 18  # (steps x d) arrays alive in a stored segment
        # half the budget for a stored segment, half for each level of checkpoints
        self.leaf_cap = max(1, max_store // (2 * self.d * per_leaf))
        self.ck_cap = max(2, max_store // (2 * self.d * nstate))
        self._buf: dict[str, np.ndarray] = {}

    def _b(self, name: str, *shape: int) -> np.ndarray:
        need = int(np.prod(shape))
        arr = self._buf.get(name)
        if arr is None or arr.size < need:
            arr = np.empty(need)
            self._buf[name] = arr
        return arr[:need].reshape(shape)

    # -- plain SGD: X only -------------------------------------------------------------------
    def _sgd_coeffs(self, e: np.ndarray):
        n = e.size
        A = self._b("A", n, self.d)
        B = self._b("B", n, self.d)
        R = self._b("R", n, self.d)
        np.multiply(e[:, None], self.h, out=A)
        np.subtract(1.0, A, out=B)
        np.multiply(B, B, out=R)
        np.multiply((e * e)[:, None], self.q, out=A)  # A now holds the noise n_t
        return B, R, A

    def _sgd_leaf(self, X0: np.ndarray, e: np.ndarray, lam: np.ndarray, g: np.ndarray):
        n = e.size
        B, R, N = self._sgd_coeffs(e)
        Xs = self._b("Xs", n, self.d)
        X = X0.copy()
        for j in range(n):
            Xs[j] = X
            X *= R[j]
            X += N[j]
        L = self._b("L", n, self.d)  # L[j] = lambda_{j+1}
        L[n - 1] = lam
        for j in range(n - 2, -1, -1):
            np.multiply(L[j + 1], R[j + 1], out=L[j])
        lam0 = R[0] * L[0]
        # dX'/deta . lambda = lambda (-2 h (1-a) X + 2 eta h^2 sigma2)
        np.multiply(B, Xs, out=B)
        B *= -2.0 * self.h
        np.einsum("ij,ij->i", L, B, out=g)
        g += 2.0 * e * (L @ self.q)
        return X, lam0

    def _sgd_run(self, X0: np.ndarray, e: np.ndarray) -> np.ndarray:
        X = X0.copy()
        for s0 in range(0, e.size, self.leaf_cap):
            _, R, N = self._sgd_coeffs(e[s0:s0 + self.leaf_cap])
            for j in range(R.shape[0]):
                X *= R[j]
                X += N[j]
        return X

    # -- heavy ball: stacked (3, d) state -------------------------------------------------------
    # Buffers are laid out (3, n, d) so that every bulk operation runs on contiguous (n, d)
    # blocks; step j uses the (3, d) view [:, j].
    def _mom_coeffs(self, e: np.ndarray, u: np.ndarray):
        n, d = e.size, self.d
        A = self._b("A", n, d)
        B = self._b("B", n, d)
        K1 = self._b("K1", 3, n, d)
        K2 = self._b("K2", 3, n, d)
        N = self._b("N", n, d)
        np.multiply(e[:, None], self.h, out=A)
        np.subtract(1.0, A, out=B)
        np.multiply(B, B, out=K1[0])
        np.multiply(A, A, out=K1[1])
        np.multiply(A, B, out=K1[2])
        np.negative(K1[2], out=K1[2])
        uc = u[:, None]
        np.multiply(2.0 * uc, B, out=K2[0])
        np.multiply(-2.0 * uc, A, out=K2[1])
        np.multiply(A, -2.0 * uc, out=K2[2])
        K2[2] += uc
        np.multiply((e * e)[:, None], self.q, out=N)
        return A, K1, K2, N

    def _mom_steps(self, s: np.ndarray, K1, K2, N, u2, S=None) -> np.ndarray:
        d = self.d
        s = s.copy()
        sn = np.empty((3, d))
        tmp = np.empty((3, d))
        m = np.empty(d)
        mul, add = np.multiply, np.add
        for j in range(N.shape[0]):
            if S is not None:
                S[:, j] = s
            mul(s[1], u2[j], out=m)
            add(m, N[j], out=m)
            mul(K1[:, j], s[0], out=sn)
            mul(K2[:, j], s[2], out=tmp)
            add(sn, tmp, out=sn)
            add(sn, m, out=sn)
            s, sn = sn, s
        return s

    def _mom_leaf(self, s0: np.ndarray, e, u, lam: np.ndarray, ge, gm):
        n, d = e.size, self.d
        A, K1, K2, N = self._mom_coeffs(e, u)
        u2 = u * u
        S = self._b("S", 3, n, d)
        end = self._mom_steps(s0, K1, K2, N, u2, S)
        Lam = self._b("Lam", 3, n, d)  # Lam[:, j] = lambda_{j+1}
        lam = lam.copy()
        new = np.empty((3, d))
        tmp = np.empty((3, d))
        mul, add = np.multiply, np.add
        for j in range(n - 1, -1, -1):
            Lam[:, j] = lam
            mul(K1[:, j], lam, out=tmp)
            add(tmp[0], tmp[1], out=new[0])
            add(new[0], tmp[2], out=new[0])
            mul(K2[:, j], lam, out=tmp)
            add(tmp[0], tmp[1], out=new[2])
            add(new[2], tmp[2], out=new[2])
            add(lam[0], lam[1], out=new[1])
            add(new[1], lam[2], out=new[1])
            mul(new[1], u2[j], out=new[1])
            lam, new = new, lam
        # Lsum = lX + lW + lY; p = 2(1-a) lX - 2a lW + (1-2a) lY = 2 lX + lY - 2 a Lsum
        Ls = self._b("Ls", n, d)
        P = self._b("P", n, d)
        T1 = self._b("T1", n, d)
        add(Lam[0], Lam[1], out=Ls)
        add(Ls, Lam[2], out=Ls)
        mul(A, Ls, out=P)
        P *= -2.0
        P += Lam[2]
        P += Lam[0]
        P += Lam[0]
        X, W, Y = S[0], S[1], S[2]
        # d/d eta: sum h [-X p - 2 mu Y Lsum] + 2 eta h^2 sigma2 Lsum
        mul(X, P, out=T1)
        ge[:] = -(T1 @ self.h)
        mul(Y, Ls, out=T1)
        ge -= 2.0 * u * (T1 @ self.h)
        ge += 2.0 * e * (Ls @ self.q)
        # d/d mu: sum 2 mu W Lsum + Y p
        gm[:] = 2.0 * u * np.einsum("ij,ij->i", W, Ls)
        gm += np.einsum("ij,ij->i", Y, P)
        return end, lam

    def _mom_run(self, s: np.ndarray, e, u) -> np.ndarray:
        for s0 in range(0, e.size, self.leaf_cap):
            es, us = e[s0:s0 + self.leaf_cap], u[s0:s0 + self.leaf_cap]
            _, K1, K2, N = self._mom_coeffs(es, us)
            s = self._mom_steps(s, K1, K2, N, us * us)
        return s

    # -- driver with checkpointing -------------------------------------------------------------
    def __call__(self, etas: np.ndarray, mus: np.ndarray | None):
        """(final excess, d excess / d etas, d excess / d mus or None)."""
        T, d = etas.size, self.d
        ge = np.empty(T)
        gm = None if self.sgd else np.empty(T)
        final = {}

        def forward(s, lo, hi):
            if self.sgd:
                return self._sgd_run(s, etas[lo:hi])
            return self._mom_run(s, etas[lo:hi], mus[lo:hi])

        def segment(s, lo, hi, lam, top):
            n = hi - lo
            if n <= self.leaf_cap:
                if self.sgd:
                    end, lam0 = self._sgd_leaf(s, etas[lo:hi], lam, ge[lo:hi])
                else:
                    end, lam0 = self._mom_leaf(s, etas[lo:hi], mus[lo:hi], lam, ge[lo:hi], gm[lo:hi])
                if top:
                    final["s"] = end
                return lam0
            m = min(self.ck_cap, -(-n // self.leaf_cap))
            L = -(-n // m)
            bounds = list(range(lo, hi, L)) + [hi]
            ckpts = [s]
            for j in range(len(bounds) - 2):
                s = forward(s, bounds[j], bounds[j + 1])
                ckpts.append(s)
            if top:
                final["s"] = forward(s, bounds[-2], bounds[-1])
            for j in range(len(bounds) - 2, -1, -1):
                lam = segment(ckpts[j], bounds[j], bounds[j + 1], lam, False)
            return lam

        if self.sgd:
            s0, lam = self.X0, 0.5 * self.h
        else:
            s0 = np.zeros((3, d))
            s0[0] = self.X0
            lam = np.zeros((3, d))
            lam[0] = 0.5 * self.h
        try:
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                segment(s0, 0, T, lam, True)
        finally:
            # ``segment`` calls itself, so its closure is a reference cycle that holds ``self`` and
            # its buffers (up to max_store floats) until the cyclic collector happens to run: an
            # optimiser making a fresh Adjoint per call then held >1 GB. Breaking it frees them now.
            segment = None  # noqa: F841 - clears the closure cell the recursion reads
        Xf = final["s"] if self.sgd else final["s"][0]
        excess = 0.5 * float(self.h @ Xf)
        ok = math.isfinite(excess) and np.isfinite(ge).all() and (self.sgd or np.isfinite(gm).all())
        if not ok:
            raise ValidationError("etas", "the expected loss or its gradient overflows float64 for this schedule")
        return excess, ge, gm


def final_excess_gradient(problem: NQMProblem, etas: np.ndarray, mus: np.ndarray | None, max_store: int = ADJOINT_STORE_FLOATS):
    return Adjoint(problem, mus is not None, max_store)(etas, mus)


def schedule_gradient(problem: NQMProblem, etas: Any, mus: Any = None, *, max_store: Any = ADJOINT_STORE_FLOATS):
    r"""Final expected loss at ``T = len(etas)`` and its gradient by the adjoint recursion (spec §5).

    :math:`\lambda_T = (h/2, 0, 0)`, :math:`\lambda_t = M_t^\top\lambda_{t+1}`, and with
    :math:`\Lambda = \lambda_X+\lambda_W+\lambda_Y`,
    :math:`p = 2(1-a)\lambda_X - 2a\lambda_W + (1-2a)\lambda_Y` (all at t + 1):

    .. math::

        \frac{\partial L_T}{\partial\eta_t} = \sum_i h\,[-X p - 2\mu Y\Lambda] + 2\eta h^2\sigma^2\Lambda,
        \qquad
        \frac{\partial L_T}{\partial\mu_t} = \sum_i 2\mu W\Lambda + Y p,

    which is spec §5's six partial derivatives contracted with :math:`\lambda_{t+1}`; and
    :math:`\lambda_t = ((1-a)^2\lambda_X + a^2\lambda_W - a(1-a)\lambda_Y,\ \mu^2\Lambda,\ \mu p)`.
    ``mus=None``: plain SGD through ``X`` alone (:math:`\lambda_t = (1-a)^2\lambda_{t+1}`, a
    reverse cumulative product) and the third return value is ``None``. Memory: a segment's states
    and coefficients are stored while they fit in ``max_store / 2`` floats; a longer horizon is
    split into checkpointed segments (at most ``max_store / 2`` floats of checkpoints per level,
    recursively) that are recomputed before their reverse pass: one extra forward pass per
    level, peak memory about (levels + 1) / 2 x ``max_store`` x 8 bytes. Measured on one core
    (``benchmarks/nqm.py``): d = 10^4, T = 10^5 takes 12-13 s for SGD and 58-68 s for momentum
    (two levels), peak RSS of the whole process 0.19 and 0.22 GB.

    Returns ``(final_loss, d final_loss / d etas, d final_loss / d mus)``.

    >>> p = NQMProblem([1.0], [1.0], [0.0], [1.0])
    >>> L, g, _ = schedule_gradient(p, [0.5])       # L = 1/2 ((1-eta)^2 + eta^2) + 1/2
    >>> L, g.tolist()                               # dL/deta = -(1 - eta) + eta = 0
    (0.75, [0.0])
    """
    problem = as_instance(problem, NQMProblem, article="an")
    e = as_real_vector("etas", etas)
    if e.size > MAX_STEPS:
        raise ValidationError("etas", f"must have at most {MAX_STEPS} entries")
    check_entries("etas", e, 0.0, eta_bound(problem))
    m = None
    if mus is not None:
        m = as_real_vector("mus", mus)
        if m.size != e.size:
            raise ValidationError("mus", f"must have the length of etas, {e.size} (got {m.size})")
        check_entries("mus", m, None, STEP_MAX, absolute=True)
    if e.size * problem.d > MAX_WORK:
        raise ValidationError("etas", f"len(etas) x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    max_store = as_int("max_store", max_store, 1, 2**40, integral_floats=True)
    excess, ge, gm = final_excess_gradient(problem, e, m, max_store)
    return excess + problem.irreducible, ge, gm


# ---------------------------------------------------------------------------------------------
