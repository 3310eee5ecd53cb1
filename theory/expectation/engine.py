r"""The expectation engine: ``E[...]`` by linearity, independence and the moments of each law.

One procedure, two entry points. The argument is expanded into monomials in the random symbols;
each monomial's coefficient is kept and the monomial is replaced by the product, over the
independent laws, of the law's moment of that monomial (:func:`_average_monomials`):

``E[c * prod_L prod_{x in L} x^{k_x}] = c * prod_L E_L[prod_{x in L} x^{k_x}]``.

* :func:`expectation` -- a matrix (or scalar) expression at concrete sizes, with the matrix laws of
  :mod:`theory.expectation.laws`: the random-index outcomes of every :class:`UniformIndex` are
  enumerated (probability ``n^-B`` each), the expression is realized entry by entry
  (:mod:`theory.expectation.realize`), and every entry is averaged over the :class:`Gaussian`
  (Isserlis) and :class:`SecondOrder` (first and second moments only) blocks.
* :func:`expectation_of` -- a symbolic scalar polynomial, with the scalar laws
  :class:`KnownMoments` and :class:`CenteredNormal`; a ``Sum`` over coordinates whose body is
  random is averaged inside (``E sum_i f_i = sum_i E f_i``). The noise laws are applied first and
  a vanishing factor (``E c = 0``) settles the monomial whatever the state moments are.

The rule :class:`Expectation` marks a derivation step ``E[...] = rhs`` computed this way; it is
checked by the derivation classes of :mod:`theory.expectation.checks` (the plain
:class:`theory.derivation.Derivation` reports it as an unknown rule, failed). No ``sympy.stats``.

Source: linearity of expectation, independence; Isserlis (1918), Biometrika 12, 134-139.

>>> x, c = sympy.symbols("x c", real=True)
>>> expectation_of((x - c) ** 2, [KnownMoments((x,), ((x, 0), (x**2, 1))), CenteredNormal(c, 2)])
3
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import sympy
from sympy import Add, Basic, ImmutableMatrix, Integer, Mul, Pow, Rational, Sum, Symbol, expand, sstr

from l2l.theory.derivation import Rule
from l2l.theory.expectation.laws import (  # noqa: F401  (KnownMoments: example)
    CenteredNormal,
    Gaussian,
    KnownMoments,
    Law,
    SecondOrder,
    UniformIndex,
    wick,
)
from l2l.theory.polynomial import expand_exact
from l2l.theory.expectation.realize import RealizeContext, concrete_int, realize_in

__all__ = ["Expectation", "expectation", "expectation_of", "random_symbols"]


# ------------------------------------------------------------------------------------------------
# the shared step: a polynomial averaged monomial by monomial


def _average_monomials(expr: Basic, gens: Sequence[Basic], parts: Sequence, settle_on_zero: bool) -> Basic:
    """``sum_monomials coeff * prod_parts part.moment(exponents)`` for the polynomial ``expr`` in ``gens``.

    Each part has ``variables`` and ``moment(exps)`` (a law, or a realized block of one); a part
    whose variables do not occur in a monomial contributes the factor 1. ``settle_on_zero``:
    stop multiplying a monomial at the first factor 0 (so later parts are not consulted).
    ``sympy.Poly`` raises ``PolynomialError`` if a random symbol enters non-polynomially.
    """
    poly = sympy.Poly(expr, *gens)
    total: Basic = Integer(0)
    for monom, coeff in poly.terms():
        powers = dict(zip(gens, monom))
        value: Basic = coeff
        for part in parts:
            exps = [powers.get(var, 0) for var in part.variables]
            if not any(exps):
                continue
            factor_ = part.moment(exps)
            value = value * factor_
            if settle_on_zero and factor_ == 0:
                break
        total += value
    return total


# ------------------------------------------------------------------------------------------------
# matrix laws at concrete sizes


@dataclass
class _Block:
    """A realized matrix law: explicit entry symbols and their moments."""

    variables: tuple[Symbol, ...]
    kind: str  # "gaussian" | "second"
    cov: ImmutableMatrix | None = None
    mean: ImmutableMatrix | None = None
    second: ImmutableMatrix | None = None

    def moment(self, exps: Sequence[int]) -> Basic:
        idx = tuple(a for a, e in enumerate(exps) for _ in range(e))
        if self.kind == "gaussian":
            cov = self.cov
            return wick(idx, lambda a, b: cov[a, b])
        if len(idx) == 0:
            return Integer(1)
        if len(idx) == 1:
            return self.mean[idx[0], 0]
        if len(idx) == 2:
            return self.second[idx[0], idx[1]]
        raise ValueError(
            f"a monomial of degree {len(idx)} in {', '.join(map(str, self.variables))}: only first and second moments are known"
        )


def _as_matrix(x: Basic, rows: int) -> ImmutableMatrix:
    if isinstance(x, ImmutableMatrix):
        return x
    return ImmutableMatrix([[x]]) if rows == 1 else ImmutableMatrix(sympy.eye(rows) * x)


def _blocks(laws: Sequence[Law], ctx: RealizeContext) -> list[_Block]:
    out = []
    for law in laws:
        if isinstance(law, UniformIndex):
            continue
        if isinstance(law, Gaussian):
            if isinstance(law.name, Symbol):
                out.append(_Block((law.name,), "gaussian", cov=_as_matrix(realize_in(law.cov, ctx), 1)))
                continue
            value = realize_in(law.name, ctx)
            cov = realize_in(law.cov, ctx)
            if law.iid_rows:
                cov = _as_matrix(cov, value.shape[1])
                for r in range(value.shape[0]):
                    out.append(_Block(tuple(value[r, :]), "gaussian", cov=cov))
            else:
                out.append(_Block(tuple(value[:, 0]), "gaussian", cov=_as_matrix(cov, value.shape[0])))
        elif isinstance(law, SecondOrder):
            value = realize_in(law.name, ctx)
            out.append(
                _Block(tuple(value[:, 0]), "second", mean=realize_in(law.mean, ctx), second=realize_in(law.second, ctx))
            )
        else:
            raise TypeError(f"unknown law {law!r}")
    return out


def _average_entry(entry: Basic, blocks: Sequence[_Block]) -> Basic:
    gens = [s for blk in blocks for s in blk.variables]
    entry = expand_exact(entry)
    if not gens or not entry.has(*gens):
        return entry
    return expand_exact(_average_monomials(entry, gens, blocks, settle_on_zero=False))


def expectation(
    arg: Basic, laws: Sequence[Law], sizes: Mapping[Basic, int], symmetric: Iterable[str] = ()
) -> Basic:
    r"""``E[arg]`` at concrete sizes, computed by enumeration and moment replacement (see module docstring).

    >>> d = sympy.Symbol("d", integer=True, positive=True)
    >>> x = sympy.MatrixSymbol("x", d, 1)
    >>> Sig = sympy.MatrixSymbol("Sigma", d, d)
    >>> expectation(x * x.T, [Gaussian(x, Sig)], {d: 2}, symmetric=["Sigma"])
    Matrix([
    [Sigma[1,1], Sigma[1,2]],
    [Sigma[1,2], Sigma[2,2]]])
    """
    ctx = RealizeContext(dict(sizes), frozenset(symmetric), {}, {}, {})
    index_laws = [law for law in laws if isinstance(law, UniformIndex)]
    spaces = []
    for law in index_laws:
        count, rng = concrete_int(law.count, ctx, "count"), concrete_int(law.range, ctx, "range")
        spaces.append([(str(law.base.label), tup) for tup in itertools.product(range(1, rng + 1), repeat=count)])
        spaces[-1] = [(key, tup, Rational(1, rng**count)) for key, tup in spaces[-1]]
    total: Basic | None = None
    for combo in itertools.product(*spaces) if spaces else [()]:
        prob: Basic = Integer(1)
        outcome = {}
        for key, tup, p in combo:
            outcome[key] = tup
            prob *= p
        value = realize_in(arg, ctx.child(outcome=outcome)) * prob
        total = value if total is None else total + value
    blocks = _blocks(laws, ctx)
    if isinstance(total, ImmutableMatrix):
        return total.applyfunc(lambda e: _average_entry(e, blocks))
    return _average_entry(total, blocks)


# ------------------------------------------------------------------------------------------------
# scalar laws, symbolic


def random_symbols(laws: Sequence[Law]) -> tuple[Basic, ...]:
    """The random symbols of scalar ``laws``, in order; a symbol with two laws is an error."""
    out: list[Basic] = []
    for law in laws:
        for var in law.variables:
            if var in out:
                raise ValueError(f"{sstr(var)} has two laws")
            out.append(var)
    return tuple(out)


def _expect_monomials(term: Basic, laws: Sequence[Law], randoms: tuple[Basic, ...]) -> Basic:
    present = [r for r in randoms if term.has(r)]
    if not present:
        return term
    # independent laws multiply; the noise laws first, so that a vanishing factor (E c = 0)
    # settles the monomial whatever the state moments are
    ordered = sorted(laws, key=lambda law: not isinstance(law, CenteredNormal))
    return _average_monomials(term, present, ordered, settle_on_zero=True)


def expectation_of(expr: Basic, laws: Sequence[Law]) -> Basic:
    r"""``E[expr]`` for a polynomial in the random symbols of ``laws`` (sums over coordinates allowed).

    Linearity term by term; within a term independent laws multiply; a ``Sum`` whose body is
    random is averaged inside (``E sum_i f_i = sum_i E f_i``); a product of a random sum with
    other random factors is refused.

    >>> th, c, X, s = sympy.symbols("theta c X sigma", real=True)
    >>> expectation_of((th - c) ** 2, [KnownMoments((th,), ((th, 0), (th**2, X))), CenteredNormal(c, s**2)])
    X + sigma**2
    """
    randoms = random_symbols(laws)
    total: Basic = Integer(0)
    for term in Add.make_args(expand(expr)):
        factors = Mul.make_args(term)
        random_sums = [f for f in factors if isinstance(f, Sum) and f.has(*randoms)]
        for f in factors:
            if isinstance(f, Pow) and f.base.has(*randoms) and isinstance(f.base, Sum):
                raise ValueError(f"a power of a random sum ({sstr(f)}) is not supported")
        if random_sums:
            if len(random_sums) > 1:
                raise ValueError(f"a product of random sums ({sstr(term)}) is not supported")
            rest = Mul(*[f for f in factors if f is not random_sums[0]])
            if rest.has(*randoms):
                raise ValueError(f"a random sum times another random factor ({sstr(term)}) is not supported")
            s_ = random_sums[0]
            total += rest * Sum(expectation_of(s_.function, laws), *s_.limits)
        else:
            total += _expect_monomials(term, laws, randoms)
    return total


# ------------------------------------------------------------------------------------------------
# the rule


@dataclass(frozen=True)
class Expectation(Rule):
    r"""This step is ``E[arg] = rhs`` (``E[arg | ...]`` for a conditional one), computed from ``laws``.

    ``given`` lists earlier equations (the update rule ``w' = w - eta g``, definitions such as
    ``H = X^T X / n`` or ``X = m_theta^2 + V_theta``); their left sides are replaced by their right
    sides, repeatedly, in the ``E[...]`` arguments and in the right side before computing.
    Matrix laws (:class:`MomentDerivation`): the left side is one ``E[...]``, computed by
    :func:`expectation` at the derivation's sizes. Scalar laws (:class:`ScalarMomentDerivation`):
    every ``E[...]`` node of the step is computed by :func:`expectation_of`. The plain
    :class:`theory.derivation.Derivation` reports this rule as unknown (failed).
    """

    laws: tuple = ()
    given: tuple[int, ...] = ()
    kind = "expectation"
