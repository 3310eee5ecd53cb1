r"""One expectation engine for :mod:`theory`: notation, laws, the engine and its derivation checks.

A step ``E[...] = rhs`` of a derivation is checked by computing ``E[...]`` from the update rule:
the argument is expanded into monomials in the random symbols and each monomial is replaced by
the product, over independent laws, of its moment under each law (linearity and independence;
Gaussian moments by Isserlis' theorem; random minibatch indices by enumerating every outcome).
No ``sympy.stats``.

Modules (one concept each):

* :mod:`~theory.expectation.notation` -- ``Sc``, ``Row``, ``Entry``, ``Avg``, ``expect``,
  ``tangent_of``: matrix statements that the realizer understands;
* :mod:`~theory.expectation.realize` -- ``realize``: a statement at concrete sizes, every entry a
  symbol;
* :mod:`~theory.expectation.laws` -- ``Gaussian``, ``SecondOrder``, ``UniformIndex`` (matrix) and
  ``KnownMoments``, ``CenteredNormal`` (scalar); ``wick``;
* :mod:`~theory.expectation.engine` -- ``expectation`` (concrete sizes), ``expectation_of``
  (symbolic scalars) and the rule ``Expectation``;
* :mod:`~theory.expectation.checks` -- ``MomentDerivation`` (status ``"concrete-d"``),
  ``ScalarMomentDerivation`` and ``tangent_rule``.

Used by :mod:`theory.sgd_moments`, :mod:`theory.least_squares` and :mod:`theory.nqm`.

Source: Isserlis (1918), Biometrika 12, 134-139; linearity and independence of expectation.

>>> x = sympy.Symbol("x", real=True)
>>> expectation_of(x**4, [CenteredNormal(x, sympy.Symbol("s2", positive=True))])
3*s2**2
"""

from __future__ import annotations

import sympy  # noqa: F401  (used by the docstring example)

from l2l.theory.expectation.checks import CONCRETE_STATUS, MomentDerivation, ScalarMomentDerivation, tangent_rule
from l2l.theory.expectation.engine import Expectation, expectation, expectation_of, random_symbols
from l2l.theory.expectation.laws import CenteredNormal, Gaussian, KnownMoments, Law, SecondOrder, UniformIndex, wick
from l2l.theory.expectation.notation import (
    Avg,
    Entry,
    MatAvg,
    MatExpect,
    MatTangent,
    Row,
    RowT,
    Sc,
    ScalarAvg,
    ScalarExpect,
    ScalarTangent,
    expect,
    tangent_of,
)
from l2l.theory.expectation.realize import realize

__all__ = [
    "Sc",
    "Row",
    "RowT",
    "Entry",
    "Avg",
    "MatAvg",
    "ScalarAvg",
    "MatExpect",
    "ScalarExpect",
    "MatTangent",
    "ScalarTangent",
    "expect",
    "tangent_of",
    "realize",
    "Gaussian",
    "SecondOrder",
    "UniformIndex",
    "KnownMoments",
    "CenteredNormal",
    "Law",
    "wick",
    "expectation",
    "expectation_of",
    "random_symbols",
    "Expectation",
    "CONCRETE_STATUS",
    "MomentDerivation",
    "ScalarMomentDerivation",
    "tangent_rule",
]
