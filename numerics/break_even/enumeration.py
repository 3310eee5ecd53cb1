r"""Eq. 1 of Jastrzebski et al. (2020) by brute force: the mean-square factor averaged over every
minibatch.

The independent check (DESIGN.md, "Independence") of the closed form
:math:`(1-\eta\lambda)^2+\eta^2s^2c(S)` in :mod:`.stability`: no moments, no finite-population
factor, only the definition

.. math::  \mathbb E\big[(1-\eta h_B)^2\big]=\frac1M\sum_{B}\Big(1-\frac{\eta}{S}\sum_{i\in B}h_i\Big)^2,

where B runs over the :math:`M=\binom NS` index sets of S distinct indices (without replacement,
:func:`itertools.combinations`) or the :math:`M=N^S` index sequences (with replacement,
:func:`itertools.product`), each with weight exactly 1/M. When every ``h_i`` and ``eta`` is an
``int`` or a :class:`fractions.Fraction` the sum is exact rational arithmetic and a Fraction comes
back; otherwise each term is a float (batch mean by :func:`math.fsum`) and the terms are summed by
:func:`math.fsum` (relative error a few ulps per term, none from the summation of the >= 0
terms); a float beyond the float64 range comes back as ``inf``.

Deliberately independent of the closed form: it imports nothing from :mod:`.stability`; do not merge.

Example (N = 3, S = 2: three batches with means 1.5, 2, 2.5)::

    >>> from fractions import Fraction
    >>> enumerate_mean_square_factor([1, 2, 3], Fraction(1, 2), 2)
    Fraction(1, 24)
    >>> enumerate_mean_square_factor([1.0, 2.0, 3.0], 0.5, 2, "with_replacement")
    0.08333333333333333
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from ..validation import ValidationError, as_choice, as_int, as_real, as_real_vector

__all__ = ["MAX_ENUMERATED_BATCHES", "enumerate_mean_square_factor"]

#: Largest number of minibatches enumerated (C(N, S) or N^S): about a second of pure Python.
MAX_ENUMERATED_BATCHES = 10**6


def _rational(x: Any) -> bool:
    return isinstance(x, (int, Fraction)) and not isinstance(x, bool)


def enumerate_mean_square_factor(h: Any, eta: Any, S: Any, sampling: str = "without_replacement") -> Fraction | float:
    r""":math:`\mathbb E[(1-\eta h_B)^2]` over every minibatch B of S indices, each weighted 1/M
    (module docstring): exact (a Fraction) for int / Fraction input, else an fsum of floats.

    Assumptions: ``h`` a non-empty sequence of finite reals, ``eta >= 0``, integer
    :math:`1\le S\le N`, at most :data:`MAX_ENUMERATED_BATCHES` minibatches (else a
    ValidationError naming ``S``). Source: Jastrzebski et al. (2020), Eq. 1 (the left-hand side
    by its definition).

    >>> enumerate_mean_square_factor([Fraction(1, 2), 1, Fraction(3, 2), 2, 5], Fraction(1, 2), 5)
    Fraction(0, 1)
    """
    values = h.tolist() if isinstance(h, np.ndarray) else list(h) if isinstance(h, (list, tuple)) else h
    if not isinstance(values, list):
        raise ValidationError("h", f"must be a sequence of numbers (got {type(h).__name__})")
    exact = all(_rational(x) for x in values) and _rational(eta)
    if exact:
        as_real_vector("h", [float(x) for x in values])  # non-empty; ints and Fractions are finite
    else:
        values = as_real_vector("h", values).tolist()
    n = len(values)
    eta_value = as_real("eta", float(eta) if _rational(eta) else eta, 0.0)
    S = as_int("S", S, 1, n)
    sampling = as_choice("sampling", sampling, ("without_replacement", "with_replacement"))
    count = math.comb(n, S) if sampling == "without_replacement" else n**S
    if count > MAX_ENUMERATED_BATCHES:
        raise ValidationError("S", f"{count} minibatches of S = {S} from N = {n} exceed the enumeration limit of {MAX_ENUMERATED_BATCHES}")
    batches = itertools.combinations(range(n), S) if sampling == "without_replacement" else itertools.product(range(n), repeat=S)
    if exact:
        e = Fraction(eta)
        total = Fraction(0)
        for b in batches:
            total += (1 - e * sum((values[i] for i in b), Fraction(0)) / S) ** 2
        return total / count
    terms = []
    with np.errstate(over="ignore"):
        for b in batches:
            try:
                mean = math.fsum(values[i] for i in b) / S
            except OverflowError:
                return math.inf
            terms.append((1.0 - eta_value * mean) ** 2 if abs(eta_value * mean) < 1e150 else math.inf)
    try:
        return math.fsum(terms) / count
    except OverflowError:
        return math.inf
