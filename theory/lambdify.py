r"""One lambdify layer for :mod:`theory`: the derived closed forms as plain callables.

Every closed form that :mod:`numerics`, :mod:`proofs` and the tests evaluate directly is turned
into a Python callable here, and only here (the models stay purely symbolic):

* quadratic GD (:mod:`theory.quadratic`): :func:`lambdify_concrete` -- ``f(eigenvalues,
  coefficients, eta, t)`` for one closed form with its sums expanded at a concrete ``d``;
* SGD moment maps (:mod:`theory.sgd_moments`): ``finite_set_step_callable``,
  ``finite_set_tangent_callable``, ``finite_set_loss_callable`` and the ``gaussian_*`` and
  ``additive_noise_*`` counterparts -- the verified recursions realized at concrete sizes; inputs
  are nested sequences, ``modules`` is ``"mpmath"`` (mpmath's current context, never changed
  here), ``"math"`` (floats) or ``"exact"`` (ints / ``Fraction`` in, ``Fraction`` out);
* the NQM (:mod:`theory.nqm`): :func:`moment_step_callable` (``s' = M s + n``) and
  :func:`steady_state_risk_callable` (Zhang et al.'s risks).

These are the closed forms as written: at large ``t`` the unnormalised quadratic forms overflow or
underflow (that is the point of ``numerics/stable.py``). Every callable is cached per arguments.

Source: the derivations of the modules named above; ``sympy.lambdify``.

>>> f = lambdify_concrete("loss", 2, modules="math")
>>> round(f([2.0, 1.0], [0.6, 0.8], 0.25, 3), 12)   # 1/2 (0.72 (1/2)^6 + 0.64 (3/4)^6)
0.062578125
>>> step = finite_set_step_callable(1, 2, 1)
>>> m1, M1 = step([[1], [2]], [1, 0], [0], [[0]], 0.5)   # from w = 0 (m = 0, M = 0)
>>> float(m1[0]), float(M1[0][0])   # E[w'] = eta b = 1/4; E[w'^2] = eta^2 (1/2)(1^2 + 0) = 1/8
(0.25, 0.125)
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Callable, Sequence

import gmpy2
import sympy
from sympy import Abs, Basic, ImmutableMatrix, Integer, Max, Sum, Symbol, sstr
from sympy.printing.pycode import PythonCodePrinter

from l2l.theory import nqm, quadratic, sgd_moments

__all__ = [
    "lambdify_concrete",
    "finite_set_step_callable",
    "finite_set_tangent_callable",
    "finite_set_loss_callable",
    "gaussian_step_callable",
    "gaussian_tangent_callable",
    "gaussian_loss_callable",
    "additive_noise_step_callable",
    "additive_noise_tangent_callable",
    "additive_noise_loss_callable",
    "moment_step_callable",
    "steady_state_risk_callable",
]


# ------------------------------------------------------------------------------------------------
# quadratic GD: closed forms with the sums expanded at a concrete d


_QUADRATIC_MODULES = ("mpmath", "math")


@functools.lru_cache(maxsize=None)
def _quadratic_lambdified(expr_name: str, dim: int, modules: str) -> Callable[..., object]:
    expr, _ = quadratic.EXPRESSIONS[expr_name]()
    lam, c, d, eta, t, rho = quadratic.lam, quadratic.c, quadratic.d, quadratic.eta, quadratic.t, quadratic.rho
    lams = [Symbol(f"lam_{k}") for k in range(1, dim + 1)]
    cs = [Symbol(f"c_{k}") for k in range(1, dim + 1)]
    expr = expr.xreplace({d: Integer(dim)})
    expr = expr.replace(
        lambda e: isinstance(e, Sum),
        lambda e: sympy.Add(*[e.function.xreplace({e.limits[0][0]: Integer(k)}) for k in range(1, dim + 1)]),
    )
    rep = {lam[k]: lams[k - 1] for k in range(1, dim + 1)}
    rep.update({c[k]: cs[k - 1] for k in range(1, dim + 1)})
    expr = expr.xreplace(rep)
    # for d = 1 the coefficients cancel and leave x**(2t - 1) * x**(-2t): combine such powers
    # (exact for integer exponents) so that no needlessly large intermediate is formed
    expr = sympy.powsimp(expr, deep=True, combine="exp")
    if expr.has(rho):
        expr = expr.xreplace({rho: Max(*[Abs(1 - eta * x) for x in lams])})
    return sympy.lambdify([*lams, *cs, eta, t], expr, modules=modules)


def lambdify_concrete(expr_name: str, d: int, modules: str = "mpmath") -> Callable[..., object]:
    r"""A plain callable ``f(eigenvalues, coefficients, eta, t)`` for one closed form in dimension ``d``.

    The sums are expanded for the given ``d``, the ``IndexedBase`` entries become positional
    arguments, and the expression is passed to ``sympy.lambdify`` with ``modules`` ``"mpmath"``
    (arithmetic at the precision of mpmath's global context, which this function never changes)
    or ``"math"`` (floats). ``expr_name`` is a key of :data:`theory.quadratic.EXPRESSIONS`. Powers of one base are
    combined (``powsimp``, exact for the integer exponents here), and for ``"log_grad_normalised"``
    the symbol ``rho`` becomes ``max_i |1 - eta lambda_i|``. These are the closed forms as written:
    at large ``t`` the unnormalised ones overflow or underflow (that is the point of
    ``"log_grad_normalised"`` and of ``numerics/stable.py``). The callables are cached per
    ``(expr_name, d, modules)``.

    >>> g = lambdify_concrete("log_grad", 1, modules="math")
    >>> g([2.0], [1.0], 0.25, 4)   # d = 1: G' = -2 lambda / (1 - eta lambda)
    -8.0
    """
    if expr_name not in quadratic.EXPRESSIONS:
        raise ValueError(f"expr_name must be one of {sorted(quadratic.EXPRESSIONS)}, got {expr_name!r}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    if modules not in _QUADRATIC_MODULES:
        raise ValueError(f"modules must be one of {_QUADRATIC_MODULES}, got {modules!r}")
    fn = _quadratic_lambdified(expr_name, d, modules)

    def evaluate(eigenvalues, coefficients, eta_value, t_value):
        ev, cs = list(eigenvalues), list(coefficients)
        if len(ev) != d:
            raise ValueError(f"eigenvalues must have length d = {d}, got {len(ev)}")
        if len(cs) != d:
            raise ValueError(f"coefficients must have length d = {d}, got {len(cs)}")
        return fn(*ev, *cs, eta_value, t_value)

    evaluate.__name__ = f"{expr_name}_d{d}_{modules}"
    evaluate.__doc__ = f"{expr_name} for d = {d} ({modules}): f(eigenvalues, coefficients, eta, t)."
    return evaluate



# ------------------------------------------------------------------------------------------------
# SGD moment maps at concrete sizes


#: The ``modules`` of the moment-map callables (``"exact"``: ints / Fractions in, Fractions out).
_CALL_MODULES = ("mpmath", "math", "exact")


class _Reader:
    """Reads user arguments (nested sequences, numbers) into the symbols of explicit inputs."""

    def __init__(self, specs: Sequence[tuple[str, str, Basic]]):
        self.specs = tuple(specs)
        self.symbols: list[Symbol] = []
        self.positions: dict[Symbol, list[tuple[int, int, int]]] = {}
        for pos, (_, _kind_, value) in enumerate(self.specs):
            if isinstance(value, ImmutableMatrix):
                for a in range(value.shape[0]):
                    for b in range(value.shape[1]):
                        self._add(value[a, b], (pos, a, b))
            else:
                self._add(value, (pos, -1, -1))

    def _add(self, sym: Basic, where: tuple[int, int, int]) -> None:
        if sym not in self.positions:
            self.symbols.append(sym)
            self.positions[sym] = []
        self.positions[sym].append(where)

    def read(self, args: Sequence[object]) -> list[object]:
        if len(args) != len(self.specs):
            names = ", ".join(nm for nm, _, _ in self.specs)
            raise TypeError(f"expected {len(self.specs)} arguments ({names}), got {len(args)}")
        cells = []
        for (nm, kind, value), arg in zip(self.specs, args):
            if kind != "scalar":
                rows, cols = value.shape
                try:
                    if kind == "vector":
                        if len(arg) != rows:
                            raise ValueError
                        cells.append([[arg[a]] for a in range(rows)])
                    else:
                        if len(arg) != rows or any(len(arg[a]) != cols for a in range(rows)):
                            raise ValueError
                        cells.append([[arg[a][b] for b in range(cols)] for a in range(rows)])
                except (TypeError, ValueError):
                    shape = f"a sequence of length {rows}" if kind == "vector" else f"a {rows} x {cols} nested sequence"
                    raise ValueError(f"argument {nm!r} must be {shape}") from None
            else:
                cells.append(arg)
        out = []
        for sym in self.symbols:
            vals = [cells[p] if a < 0 else cells[p][a][b] for p, a, b in self.positions[sym]]
            if len(vals) == 1 or all(v == vals[0] for v in vals[1:]):
                out.append(vals[0])
            elif all(isinstance(v, (int, Fraction)) for v in vals):
                out.append(Fraction(sum(vals), len(vals)))  # exact mean of the symmetric pair
            else:
                out.append(sum(vals[1:], vals[0]) / len(vals))
        return out


def _shape_out(value: Basic, convert: Callable[[Basic], object]) -> object:
    if isinstance(value, ImmutableMatrix):
        if value.shape[1] == 1:
            return [convert(value[a, 0]) for a in range(value.shape[0])]
        return [[convert(value[a, b]) for b in range(value.shape[1])] for a in range(value.shape[0])]
    return convert(value)


class _ExactPrinter(PythonCodePrinter):
    """Python code over GMP rationals (``gmpy2.mpq``): rationals as ``mpq(p, q)``, integers as
    ints, integer powers only; a Float or a fractional power (an irrational result) is refused."""

    def _print_Rational(self, e: Basic) -> str:
        return f"mpq({int(e.p)}, {int(e.q)})"

    _print_Half = _print_Rational

    def _print_Integer(self, e: Basic) -> str:
        return str(int(e))

    def _print_Float(self, e: Basic) -> str:
        raise ValueError(f"non-rational constant {sstr(e)} in an exact expression")

    def _print_Pow(self, e: Basic, rational: bool = False) -> str:
        if not e.exp.is_Integer:
            raise ValueError(f"non-rational output {sstr(e)}")
        return super()._print_Pow(e, rational=True)


def _make_callable(
    specs: Sequence[tuple[str, str, Basic]], outputs: Sequence[tuple[str, Basic]], modules: str, name: str
):
    if modules not in _CALL_MODULES:
        raise ValueError(f"modules must be one of {_CALL_MODULES}, got {modules!r}")
    reader = _Reader(specs)
    flat: list[Basic] = []
    shapes = []
    for kind, out in outputs:
        if kind == "scalar":
            shapes.append(None)
            flat.append(out)
        else:
            shapes.append((out.shape, kind))
            flat.extend(list(out))

    def unflatten(values: Sequence[object]) -> tuple:
        res, pos = [], 0
        for shp in shapes:
            if shp is None:
                res.append(values[pos])
                pos += 1
            else:
                (r, c), kind = shp
                block = values[pos : pos + r * c]
                pos += r * c
                if kind == "vector":
                    res.append(list(block))
                else:
                    res.append([list(block[a * c : (a + 1) * c]) for a in range(r)])
        return tuple(res)

    if modules == "exact":
        # the expressions printed as Python over GMP rationals (exact, integer powers only; a float
        # or an irrational operation is refused when printing), Fractions in and out: 9x faster
        # than substituting into the SymPy expressions over Fraction, and gmpy2's mpq another 14x
        # (d = n = 4, batch 3, 30 steps of the finite-set tangent map: 23 s, 2.6 s, 0.19 s), the
        # same numbers
        exact = sympy.lambdify(reader.symbols, flat, modules=[{"mpq": gmpy2.mpq}], printer=_ExactPrinter, cse=True)

        def to_mpq(x: object) -> object:
            if isinstance(x, Fraction) or (isinstance(x, int) and not isinstance(x, bool)):
                return gmpy2.mpq(x)
            if isinstance(x, Basic) and x.is_Rational:
                return gmpy2.mpq(int(x.p), int(x.q))
            raise TypeError(f"modules='exact' takes ints, fractions.Fraction or SymPy Rationals, got {x!r}")

        def exact_output(x: object) -> Fraction:
            if isinstance(x, (int, type(gmpy2.mpz(0)), type(gmpy2.mpq(0)))) and not isinstance(x, bool):
                return Fraction(int(x.numerator), int(x.denominator))
            raise ValueError(f"non-rational output {x!r}")

        def fn(*args):
            vals = [to_mpq(v) for v in reader.read(args)]
            return unflatten([exact_output(v) for v in exact(*vals)])

    else:
        compiled = sympy.lambdify(reader.symbols, flat, modules=modules)

        def fn(*args):
            return unflatten(list(compiled(*reader.read(args))))

    fn.__name__ = name
    fn.__doc__ = f"{name}({', '.join(nm for nm, _, _ in specs)}) ({modules})"
    return fn


def _step_fn(rec: sgd_moments.MomentRecursion, modules: str, name: str):
    return _make_callable(rec.inputs, [("vector", rec.m_next), ("matrix", rec.M_next)], modules, name)


def _tangent_fn(rec: sgd_moments.MomentRecursion, modules: str, name: str):
    specs = list(rec.inputs[:-1]) + list(rec.tangent_inputs) + [rec.inputs[-1]]
    outs = [("vector", rec.m_next), ("matrix", rec.M_next), ("vector", rec.dm_next), ("matrix", rec.dM_next)]
    return _make_callable(specs, outs, modules, name)


def _loss_fn(rec: sgd_moments.MomentRecursion, modules: str, name: str):
    specs = list(rec.inputs[:-1]) + list(rec.tangent_inputs)
    return _make_callable(specs, [("scalar", rec.loss), ("scalar", rec.dloss)], modules, name)


@functools.lru_cache(maxsize=None)
def finite_set_step_callable(d: int, n: int, B: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, eta) -> (m', M')``: one step of the ``sgd.finite-set`` moment map.

    ``X`` is ``n x d`` (nested sequences, rows ``x_j``), ``y``, ``m`` sequences, ``M`` a ``d x d``
    nested sequence (read as ``(M + M^T)/2``: the map assumes a symmetric second moment).
    ``modules``: ``"mpmath"`` (mpmath's current context, never changed here), ``"math"`` (floats)
    or ``"exact"`` (ints / ``Fraction`` in, ``Fraction`` out). Outputs: ``m'`` a list, ``M'`` a
    list of lists. Cached per arguments.

    >>> f = finite_set_step_callable(1, 2, 2, modules="exact")
    >>> f([[1], [3]], [1, 1], [0], [[0]], 1)[1]   # eta^2 (b^2 + (Sbar - b^2)/B), b = 2, Sbar = 5, B = 2
    [[Fraction(9, 2)]]
    """
    return _step_fn(sgd_moments.finite_set_recursion(d, n, B), modules, f"finite_set_step_d{d}_n{n}_B{B}")


@functools.lru_cache(maxsize=None)
def finite_set_tangent_callable(d: int, n: int, B: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, dm, dM, eta) -> (m', M', dm', dM')``: the map and its forward tangent in ``eta``.

    >>> f = finite_set_tangent_callable(1, 1, 1, modules="exact")
    >>> f([[2]], [2], [0], [[0]], [0], [[0]], 0)[2]   # dm'/deta at eta = 0, m = 0: b = 4
    [Fraction(4, 1)]
    """
    return _tangent_fn(sgd_moments.finite_set_recursion(d, n, B), modules, f"finite_set_tangent_d{d}_n{n}_B{B}")


@functools.lru_cache(maxsize=None)
def finite_set_loss_callable(d: int, n: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, dm, dM) -> (Lbar, Lbar_dot)``: expected training loss and its tangent.

    ``Lbar = (1/2n)(tr(X^T X M) - 2 y^T X m + y^T y)``, ``Lbar_dot`` the same with ``(dm, dM)``
    and without ``y^T y``. For the validation loss pass ``X_valid``, ``y_valid`` (``n`` = their
    number of rows).

    >>> f = finite_set_loss_callable(1, 1, modules="exact")
    >>> f([[1]], [1], [0], [[0]], [0], [[0]])
    (Fraction(1, 2), Fraction(0, 1))
    """
    return _loss_fn(sgd_moments.finite_set_recursion(d, n, 1), modules, f"finite_set_loss_d{d}_n{n}")


@functools.lru_cache(maxsize=None)
def gaussian_step_callable(d: int, B: int, modules: str = "mpmath"):
    r"""``f(Sigma, sigma, m_e, M_e, eta) -> (m_e', M_e')`` for ``sgd.gaussian`` (``sigma`` the noise std).

    >>> f = gaussian_step_callable(1, 1, modules="exact")
    >>> f([[1]], 1, [1], [[1]], 1)   # (1 - 1)^2 + 1 * (1 + (1 + 1)) = 3
    ([Fraction(0, 1)], [[Fraction(3, 1)]])
    """
    return _step_fn(sgd_moments.gaussian_recursion(d, B), modules, f"gaussian_step_d{d}_B{B}")


@functools.lru_cache(maxsize=None)
def gaussian_tangent_callable(d: int, B: int, modules: str = "mpmath"):
    """``f(Sigma, sigma, m_e, M_e, dm_e, dM_e, eta) -> (m_e', M_e', dm_e', dM_e')`` for ``sgd.gaussian``."""
    return _tangent_fn(sgd_moments.gaussian_recursion(d, B), modules, f"gaussian_tangent_d{d}_B{B}")


@functools.lru_cache(maxsize=None)
def gaussian_loss_callable(d: int, modules: str = "mpmath"):
    """``f(Sigma, sigma, m_e, M_e, dm_e, dM_e) -> (1/2 (tr(Sigma M_e) + sigma^2), 1/2 tr(Sigma dM_e))``."""
    return _loss_fn(sgd_moments.gaussian_recursion(d, 1), modules, f"gaussian_loss_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_step_callable(d: int, modules: str = "mpmath"):
    r"""``f(H, b, S, m, M, eta) -> (m', M')`` for ``sgd.additive-noise`` (``H``, ``S``, ``M`` read symmetrised).

    >>> from fractions import Fraction
    >>> f = additive_noise_step_callable(1, modules="exact")
    >>> f([[2]], [0], [[1]], [1], [[1]], Fraction(1, 4))   # (1/2)^2 + 1/16
    ([Fraction(1, 2)], [[Fraction(5, 16)]])
    """
    return _step_fn(sgd_moments.additive_noise_recursion(d), modules, f"additive_noise_step_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_tangent_callable(d: int, modules: str = "mpmath"):
    """``f(H, b, S, m, M, dm, dM, eta) -> (m', M', dm', dM')`` for ``sgd.additive-noise``."""
    return _tangent_fn(sgd_moments.additive_noise_recursion(d), modules, f"additive_noise_tangent_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_loss_callable(d: int, modules: str = "mpmath"):
    """``f(H, b, S, m, M, dm, dM) -> (1/2 tr(H M) - b^T m, 1/2 tr(H dM) - b^T dm)``."""
    return _loss_fn(sgd_moments.additive_noise_recursion(d), modules, f"additive_noise_loss_d{d}")



# ------------------------------------------------------------------------------------------------
# the noisy quadratic model


@functools.lru_cache(maxsize=None)
def moment_step_callable(modules: str = "math") -> Callable[..., tuple]:
    r"""``f(X, W, Y, alpha, mu, h, sigma2) -> (X', W', Y')``: :func:`theory.nqm.next_moments` lambdified.

    >>> f = moment_step_callable()
    >>> f(1.0, 0.0, 0.0, 0.5, 0.0, 1.0, 1.0)   # (1/2)^2 + 1/4; (1/4) + 1/4; -(1/4) + 1/4
    (0.5, 0.5, 0.0)
    """
    s2 = Symbol("sigma2", nonnegative=True)
    expr = nqm.next_moments(sigma2=s2)
    fn = sympy.lambdify((nqm.X, nqm.W, nqm.Y, nqm.alpha, nqm.mu, nqm.h, s2), tuple(expr), modules=modules)

    def step(X_, W_, Y_, alpha_, mu_, h_, sigma2_):
        return tuple(fn(X_, W_, Y_, alpha_, mu_, h_, sigma2_))

    return step


@functools.lru_cache(maxsize=None)
def steady_state_risk_callable(kind: str, modules: str = "math") -> Callable[..., object]:
    r""":func:`theory.nqm.steady_state_risk` lambdified; arguments ``(alpha, h, c, B, extra)`` with ``extra`` the
    ``beta`` / ``p`` / ``gamma`` of the kind (omit it for ``"sgd"``).

    >>> steady_state_risk_callable("momentum")(0.1, 1.0, 1.0, 1.0, 0.0) == steady_state_risk_callable("sgd")(0.1, 1.0, 1.0, 1.0)
    True
    """
    extra = {"sgd": (), "momentum": (nqm.beta,), "preconditioned": (nqm.p,), "ema": (nqm.gamma,)}
    if kind not in extra:
        raise ValueError(f"steady_state_risk_callable: kind must be one of {nqm.RISK_KINDS}, got {kind!r}")
    args = (nqm.alpha, nqm.h, nqm.c_grad, nqm.batch) + extra[kind]
    return sympy.lambdify(args, nqm.steady_state_risk(kind), modules=modules)
