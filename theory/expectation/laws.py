r"""The laws of the random quantities of an ``E[...]`` step: one family, one moment interface.

Every law names its random symbols and gives the expectation of a monomial in them; independent
laws multiply (:mod:`theory.expectation.engine`). Two groups, by how the engine applies them:

*Matrix laws* (realized at concrete sizes, :func:`theory.expectation.engine.expectation`):

* :class:`Gaussian` -- zero-mean Gaussian vector / iid Gaussian rows / scalar; moments by Isserlis'
  (Wick's) theorem, :func:`wick`: ``E[x_a x_b x_c x_e] = S_ab S_ce + S_ac S_be + S_ae S_bc``,
  odd moments 0;
* :class:`SecondOrder` -- only ``E[w] = m`` and ``E[w w^T] = M`` known (degree <= 2);
* :class:`UniformIndex` -- random indices ``J[1..B]`` iid uniform on ``1..n``: all ``n^B``
  outcomes enumerated with probability ``n^-B`` each.

*Scalar laws* (symbolic, :func:`theory.expectation.engine.expectation_of`):

* :class:`KnownMoments` -- state variables of which a table of moments is known;
* :class:`CenteredNormal` -- a noise symbol ``~ N(0, v)``: ``E x^k = (k-1)!! v^(k/2)``, odd 0.

Source: Isserlis (1918), Biometrika 12, 134-139; the rest is linearity and independence.

>>> x = sympy.Symbol("x")
>>> CenteredNormal(x, sympy.Symbol("v")).moment((4,))
3*v**2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy
from sympy import Basic, IndexedBase, Integer, MatrixSymbol, Mul, sstr

__all__ = [
    "Gaussian",
    "SecondOrder",
    "UniformIndex",
    "KnownMoments",
    "CenteredNormal",
    "Law",
    "wick",
]


def wick(indices: Sequence[int], cov: Callable[[int, int], Basic]) -> Basic:
    r"""Isserlis' theorem: ``E[x_{i1} ... x_{i2k}]`` for ``x ~ N(0, S)`` as a sum over pairings.

    ``E[x_{i1} x_{i2} ... ] = sum_{p >= 2} S_{i1 ip} E[product of the others]``; odd orders
    vanish. ``cov(a, b)`` returns ``S_ab``.

    >>> S = sympy.Matrix(2, 2, sympy.symbols("s11 s12 s21 s22"))
    >>> wick((0, 0, 1, 1), lambda a, b: S[min(a, b), max(a, b)])
    s11*s22 + 2*s12**2
    """
    idx = tuple(indices)
    if not idx:
        return Integer(1)
    if len(idx) % 2:
        return Integer(0)
    first, rest = idx[0], idx[1:]
    total: Basic = Integer(0)
    for pos, other in enumerate(rest):
        total += cov(first, other) * wick(rest[:pos] + rest[pos + 1 :], cov)
    return total


@dataclass(frozen=True)
class Gaussian:
    r"""Zero-mean Gaussian entries of the matrix (or vector, or scalar) ``name``.

    ``iid_rows=False``: the column vector ``name`` (``d x 1``) is ``N(0, cov)``.
    ``iid_rows=True``: the rows of ``name`` (``r x c``) are independent ``N(0, cov)`` vectors
    (``cov`` is ``c x c``, or a scalar variance when ``c = 1``). A plain ``Symbol`` is a scalar
    ``N(0, cov)``. Moments by Isserlis' theorem (:func:`wick`).
    """

    name: Basic
    cov: Basic
    iid_rows: bool = False

    def describe(self) -> str:
        rows = " (iid rows)" if self.iid_rows else ""
        return f"{sstr(self.name)}{rows} ~ N(0, {sstr(self.cov)}) by Isserlis' theorem"


@dataclass(frozen=True)
class SecondOrder:
    r"""A random column vector ``name`` of which only ``E[name] = mean`` and ``E[name name^T] = second`` are known.

    Monomials of degree 3 or more in its entries cannot be averaged (the check fails loudly).
    """

    name: MatrixSymbol
    mean: Basic
    second: Basic

    def describe(self) -> str:
        return f"{sstr(self.name)}: E = {sstr(self.mean)}, second moment {sstr(self.second)} (degree <= 2 only)"


@dataclass(frozen=True)
class UniformIndex:
    r"""Random indices ``J[1], ..., J[count]``, independent and uniform on ``1..range``.

    The expectation enumerates all ``range**count`` outcomes with probability ``range**-count``.
    """

    base: IndexedBase
    count: Basic
    range: Basic

    def describe(self) -> str:
        return (
            f"{self.base.label}[1..{sstr(self.count)}] iid uniform on 1..{sstr(self.range)}, all "
            f"{sstr(self.range)}^{sstr(self.count)} outcomes enumerated"
        )


@dataclass(frozen=True)
class KnownMoments:
    r"""Random state variables of which only the listed moments are known.

    ``table`` pairs a monomial in ``variables`` with its expectation, e.g.
    ``((theta, m_theta), (theta**2, X), (theta*v, Y))``. A monomial that the expansion needs and the
    table does not list fails the check (loudly, naming it).
    """

    variables: tuple[Basic, ...]
    table: tuple[tuple[Basic, Basic], ...]

    def moment(self, exps: Sequence[int]) -> Basic:
        if not any(exps):
            return Integer(1)
        key = Mul(*[var**e for var, e in zip(self.variables, exps)])
        for mono, value in self.table:
            if mono == key:
                return value
        raise ValueError(f"the moment E[{sstr(key)}] is not among the known moments of {self.describe()}")

    def describe(self) -> str:
        names_ = ", ".join(sstr(x) for x in self.variables)
        return f"({names_}) with " + ", ".join(f"E[{sstr(k)}] = {sstr(val)}" for k, val in self.table)


@dataclass(frozen=True)
class CenteredNormal:
    r"""A noise symbol ``~ N(0, variance)``, independent of every other law of the step.

    ``E x^k = (k - 1)!! variance^(k/2)`` for even ``k`` and 0 for odd ``k``.
    """

    variable: Basic
    variance: Basic

    @property
    def variables(self) -> tuple[Basic, ...]:
        return (self.variable,)

    def moment(self, exps: Sequence[int]) -> Basic:
        (k,) = exps
        if k % 2:
            return Integer(0)
        return sympy.factorial2(k - 1) * self.variance ** (k // 2) if k else Integer(1)

    def describe(self) -> str:
        return f"{sstr(self.variable)} ~ N(0, {sstr(self.variance)}) independent (odd moments 0)"



Law = Gaussian | SecondOrder | UniformIndex | KnownMoments | CenteredNormal
