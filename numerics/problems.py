"""Problems as small frozen, validated objects (``../shared/DESIGN.md``, "Problems as objects").

:class:`QuadraticProblem` is the quadratic of Wang, Yuan, Wu & Ge (2021), Section 3:

.. math::  f(w) = \\tfrac12 w^\\top H w,\\qquad H = \\sum_i \\lambda_i u_i u_i^\\top,\\qquad
           c_i = \\langle w_0, u_i\\rangle .

It is stored in the eigenbasis (``eigenvalues`` lambda_i > 0 and ``coefficients`` c_i); the basis
itself is kept only when the problem came from a dense matrix.

Example::

    >>> p = QuadraticProblem([1.0, 4.0], [0.6, 0.8])
    >>> p.L, p.alpha, p.kappa, p.dim
    (4.0, 1.0, 4.0, 2)
    >>> round(p.c_min, 12)
    0.6
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from . import codec
from .validation import SYMMETRY_RTOL, ValidationError, as_real_matrix, as_real_vector, as_symmetric_matrix  # noqa: F401 (SYMMETRY_RTOL re-exported)

__all__ = ["QuadraticProblem", "LeastSquaresProblem"]



@codec.register
@dataclass(frozen=True, eq=False)
class QuadraticProblem:
    """f(w) = 1/2 w^T H w in the eigenbasis of H.

    Parameters
    ----------
    eigenvalues:
        lambda_i, finite and > 0 (H positive definite), any order.
    coefficients:
        c_i = <w0, u_i>, finite, same length, not all zero (else f(w_t) = 0 for every t).
    eigenvectors:
        Optional orthonormal columns u_i (d x d); ``None`` means the standard basis.
    """

    eigenvalues: np.ndarray
    coefficients: np.ndarray
    eigenvectors: np.ndarray | None = field(default=None, repr=False)

    #: Keys of :meth:`to_dict` (:mod:`numerics.codec`).
    CODEC_KEYS: ClassVar[tuple[str, ...]] = ("eigenvalues", "coefficients")

    def __post_init__(self) -> None:
        lam = as_real_vector("eigenvalues", self.eigenvalues, positive=True)
        c = as_real_vector("coefficients", self.coefficients)
        if c.shape != lam.shape:
            raise ValidationError(
                "coefficients",
                f"must have the same length as eigenvalues ({lam.size}), got {c.size}",
            )
        if not np.any(c != 0):
            raise ValidationError("coefficients", "must not be all zero (then f(w_t) = 0 for all t)")
        lam.setflags(write=False)
        c.setflags(write=False)
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "coefficients", c)
        if self.eigenvectors is not None:
            u = as_real_matrix("eigenvectors", self.eigenvectors, square=True)
            if u.shape[0] != lam.size:
                raise ValidationError("eigenvectors", f"must be {lam.size} x {lam.size}, got {u.shape}")
            u.setflags(write=False)
            object.__setattr__(self, "eigenvectors", u)

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_matrix(cls, hessian: Any, w0: Any) -> "QuadraticProblem":
        """Diagonalise a dense symmetric positive definite ``hessian`` with ``numpy.linalg.eigh``."""
        h = as_symmetric_matrix("hessian", hessian)
        w = as_real_vector("w0", w0)
        if w.size != h.shape[0]:
            raise ValidationError("w0", f"must have length {h.shape[0]} to match hessian, got {w.size}")
        lam, u = np.linalg.eigh(0.5 * (h + h.T))
        if lam[0] <= 0:
            raise ValidationError(
                "hessian", f"must be positive definite (smallest eigenvalue is {lam[0]:.6g})"
            )
        if not np.any(w != 0):
            raise ValidationError("w0", "must not be all zero (then f(w_t) = 0 for all t)")
        return cls(lam, u.T @ w, u)

    # -- derived quantities -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.eigenvalues.size)

    @property
    def L(self) -> float:
        """Largest eigenvalue."""
        return float(self.eigenvalues.max())

    @property
    def alpha(self) -> float:
        """Smallest eigenvalue."""
        return float(self.eigenvalues.min())

    @property
    def kappa(self) -> float:
        """Condition number L / alpha."""
        return self.L / self.alpha

    @property
    def c_min(self) -> float:
        """min(|c_1|, |c_d|) of Wang et al. (2021), on the extreme eigenspaces.

        With a repeated extreme eigenvalue, the coefficient of that eigenspace is the norm of the
        coefficients over it (the paper's c_1 and c_d are the components along the extreme
        directions).
        """
        lam, c = self.eigenvalues, self.coefficients
        top = float(np.sqrt(np.sum(c[lam == lam.max()] ** 2)))
        bottom = float(np.sqrt(np.sum(c[lam == lam.min()] ** 2)))
        return min(top, bottom)

    def rho(self, eta: Any) -> np.ndarray:
        """rho(eta) = max_i |1 - eta lambda_i| = max(|1 - eta L|, |1 - eta alpha|)."""
        eta = np.asarray(eta, dtype=np.float64)
        return np.maximum(np.abs(1 - eta * self.L), np.abs(1 - eta * self.alpha))

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, w0) in the stored basis (the standard basis when none was stored)."""
        lam, c = self.eigenvalues, self.coefficients
        if self.eigenvectors is None:
            return np.diag(lam), c.copy()
        u = self.eigenvectors
        return (u * lam) @ u.T, u @ c

    def rotated(self, rotation: Any) -> "QuadraticProblem":
        """The same problem in another orthonormal basis: H = Q diag(lambda) Q^T, w0 = Q c."""
        q = as_real_matrix("rotation", rotation, square=True)
        if q.shape[0] != self.dim:
            raise ValidationError("rotation", f"must be {self.dim} x {self.dim}, got {q.shape}")
        return QuadraticProblem(self.eigenvalues, self.coefficients, q)

    def to_dict(self) -> dict:
        """JSON-serialisable form (used for counterexamples): the problem in its eigenbasis.

        The basis (``eigenvectors``) is not encoded: every quantity of the problem is a function
        of (eigenvalues, coefficients) alone, and counterexamples are stored in this form.

        >>> QuadraticProblem.from_dict(QuadraticProblem([1.0, 4.0], [0.6, 0.8]).to_dict())
        QuadraticProblem(dim=2, L=4, alpha=1, eigenvalues=[1.0, 4.0], coefficients=[0.6, 0.8])
        """
        return {"eigenvalues": self.eigenvalues.tolist(), "coefficients": self.coefficients.tolist()}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "QuadraticProblem":
        """Inverse of :meth:`to_dict`."""
        return cls(obj["eigenvalues"], obj["coefficients"])

    def __repr__(self) -> str:
        return (
            f"QuadraticProblem(dim={self.dim}, L={self.L:.6g}, alpha={self.alpha:.6g}, "
            f"eigenvalues={self.eigenvalues.tolist()!r}, coefficients={self.coefficients.tolist()!r})"
            if self.dim <= 8
            else f"QuadraticProblem(dim={self.dim}, L={self.L:.6g}, alpha={self.alpha:.6g})"
        )


@codec.register
@dataclass(frozen=True, eq=False)
class LeastSquaresProblem:
    """Least squares (1/2n)||y - X w||^2 with an optional validation set (Wang et al. 2021, §4).

    Parameters
    ----------
    X, y:
        training design (n x d, finite) and targets (length n).
    X_valid, y_valid:
        optional validation design (n_valid x d) and targets; give both or neither.

    The training Hessian is H = X^T X / n and b = X^T y / n; full-batch GD from w0 is
    w_{t+1} = w_t - eta (H w_t - b).

    >>> p = LeastSquaresProblem([[1.0, 0.0], [0.0, 2.0]], [1.0, 2.0])
    >>> p.n, p.d, p.hessian.tolist(), p.has_validation
    (2, 2, [[0.5, 0.0], [0.0, 2.0]], False)
    """

    X: np.ndarray
    y: np.ndarray
    X_valid: np.ndarray | None = None
    y_valid: np.ndarray | None = None

    #: Keys of :meth:`to_dict` (:mod:`numerics.codec`).
    CODEC_KEYS: ClassVar[tuple[str, ...]] = ("X", "y", "X_valid", "y_valid")

    def __post_init__(self) -> None:
        x = as_real_matrix("X", self.X)
        y = as_real_vector("y", self.y)
        if y.size != x.shape[0]:
            raise ValidationError("y", f"must have one entry per row of X ({x.shape[0]}), got {y.size}")
        for arr in (x, y):
            arr.setflags(write=False)
        object.__setattr__(self, "X", x)
        object.__setattr__(self, "y", y)
        if (self.X_valid is None) != (self.y_valid is None):
            missing = "y_valid" if self.y_valid is None else "X_valid"
            raise ValidationError(missing, "give X_valid and y_valid together, or neither")
        if self.X_valid is not None:
            xv = as_real_matrix("X_valid", self.X_valid)
            yv = as_real_vector("y_valid", self.y_valid)
            if xv.shape[1] != x.shape[1]:
                raise ValidationError("X_valid", f"must have {x.shape[1]} columns like X, got {xv.shape[1]}")
            if yv.size != xv.shape[0]:
                raise ValidationError("y_valid", f"must have one entry per row of X_valid ({xv.shape[0]}), got {yv.size}")
            for arr in (xv, yv):
                arr.setflags(write=False)
            object.__setattr__(self, "X_valid", xv)
            object.__setattr__(self, "y_valid", yv)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_valid(self) -> int:
        return 0 if self.X_valid is None else int(self.X_valid.shape[0])

    @property
    def has_validation(self) -> bool:
        return self.X_valid is not None

    @property
    def hessian(self) -> np.ndarray:
        """H = X^T X / n."""
        return self.X.T @ self.X / self.n

    @property
    def b(self) -> np.ndarray:
        """X^T y / n (so the training gradient is H w - b)."""
        return self.X.T @ self.y / self.n

    def to_dict(self) -> dict:
        """JSON-ready form; ``X_valid`` and ``y_valid`` are None without a validation set."""
        return {
            "X": self.X.tolist(),
            "y": self.y.tolist(),
            "X_valid": None if self.X_valid is None else self.X_valid.tolist(),
            "y_valid": None if self.y_valid is None else self.y_valid.tolist(),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "LeastSquaresProblem":
        """Inverse of :meth:`to_dict`."""
        return cls(obj["X"], obj["y"], obj.get("X_valid"), obj.get("y_valid"))
