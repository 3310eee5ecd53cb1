r"""Printing the package's expressions for people: LaTeX and presentation MathML as a paper writes them.

One printer for every derivation, in two back ends that follow the same rules:

* symbol names: a name is read as ``core[accent...]['...][_sub][^sup][(args)]``. The core is a
  letter, a Greek name (``eta`` -> :math:`\eta`, ``epsilon`` -> :math:`\varepsilon`, ``ell`` ->
  :math:`\ell`) or a word (upright); accents are suffixes as in SymPy (``gbar`` -> :math:`\bar g`,
  ``Mdot`` -> :math:`\dot M`, ``Lbardot`` -> :math:`\dot{\bar L}`); primes are kept (``w'``);
  trailing digits are a subscript (``r2`` -> :math:`r_2`); scripts are names too (``m_theta`` ->
  :math:`m_\theta`, ``w_ERM`` -> :math:`w_{\mathrm{ERM}}`). Names written in LaTeX (``\xi``,
  ``\bar{g}(w)``, ``\hat{F}_{TbT}``) are read the same way, so no LaTeX command ever reaches a
  MathML identifier;
* signs: a sum with a positive term starts with one (its first positive term moves to the front),
  a negative term is a subtraction, and a product never shows a ``(-1)`` factor (``w - \eta g``,
  ``1 - \eta \lambda``), for scalars and matrices alike;
* the notation nodes of :mod:`theory.expectation.notation`: ``E[x | y]``, averages
  ``(1/n) sum_{j=1}^{n} (...)``, rows and entries as subscripts ``x_j``, ``x_j^T``, the scalar of
  a ``1 x 1`` matrix in parentheses, tangents ``d/d eta (...)``; transposes as :math:`^\top`.

:func:`latex` gives a LaTeX string, :func:`mathml_element` a ``xml.dom.minidom`` element (the
report rebuilds it through its whitelist), :func:`mathml` that element as a string,
:func:`relation_latex` one step ``lhs rel rhs``, and :func:`text` SymPy's plain string form with the
same signs (``w - eta*g``; names stay as written, ``gbar(w)``).

Source: presentation only (no mathematics is claimed here).

>>> import sympy
>>> d = sympy.Symbol("d", integer=True, positive=True)
>>> w, g = sympy.MatrixSymbol("w", d, 1), sympy.MatrixSymbol("g", d, 1)
>>> eta = sympy.Symbol("eta")
>>> latex(w - eta * g)
'w - \\eta g'
>>> mathml(w - eta * g)
'<mrow><mi>w</mi><mo>−</mo><mrow><mi>η</mi><mo>\u2062</mo><mi>g</mi></mrow></mrow>'
>>> latex(sympy.Symbol(r"\bar{g}(w)")), latex(sympy.Symbol("gbar(w)")), latex(sympy.Symbol("mdot'_e"))
('\\bar{g}(w)', '\\bar{g}(w)', "\\dot{m}'_{e}")
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from xml.dom.minidom import Text

from sympy import Basic, Integral, MatrixSymbol, Mul, Product, Sum
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE, precedence, precedence_traditional
from sympy.printing.str import StrPrinter

__all__ = [
    "PaperLatexPrinter",
    "PaperMathMLPrinter",
    "PaperStrPrinter",
    "latex",
    "mathml",
    "mathml_element",
    "relation_latex",
    "text",
    "RELATIONS_LATEX",
]

#: LaTeX of the relations a derivation step may use.
RELATIONS_LATEX = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}

# ------------------------------------------------------------------------------------------------
# symbol names

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega"
).split()
_GREEK_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
#: Greek name -> (LaTeX, character). ``epsilon`` prints as the paper's varepsilon.
_GREEK_MAP: dict[str, tuple[str, str]] = {}
for _g in _GREEK:
    _base = _g[3:] if _g.startswith("var") else _g
    _char = {"varepsilon": "ε", "epsilon": "ε", "vartheta": "ϑ", "varpi": "ϖ", "varrho": "ϱ", "varsigma": "ς",
             "varphi": "φ", "phi": "ϕ"}.get(_g) or unicodedata.lookup("GREEK SMALL LETTER " + ("LAMDA" if _base == "lambda" else _base.upper()))
    _GREEK_MAP[_g] = ("\\varepsilon" if _g == "epsilon" else "\\" + _g, _char)
for _g in _GREEK_UPPER:
    _GREEK_MAP[_g] = ("\\" + _g, unicodedata.lookup("GREEK CAPITAL LETTER " + ("LAMDA" if _g == "Lambda" else _g.upper())))
_GREEK_MAP["lamda"] = _GREEK_MAP["lambda"]
_GREEK_MAP["ell"] = ("\\ell", "ℓ")
#: Accent -> (LaTeX command, combining mark shown over the base in MathML).
_ACCENTS = {"bar": ("bar", "¯"), "hat": ("hat", "^"), "dot": ("dot", "˙"), "ddot": ("ddot", "¨"),
            "tilde": ("tilde", "~"), "vec": ("vec", "→"), "check": ("check", "ˇ")}
_LATEX_ACCENTS = {"bar": "bar", "overline": "bar", "hat": "hat", "widehat": "hat", "dot": "dot", "ddot": "ddot",
                  "tilde": "tilde", "widetilde": "tilde", "vec": "vec", "check": "check"}
_SYMBOLS = {"*": ("*", "∗"), "+": ("+", "+"), "-": ("-", "−"), "T": ("\\top", "⊤")}


@dataclass(frozen=True)
class _Atom:
    """One printable piece: ``kind`` is greek, letter, word, number, symbol or raw."""

    kind: str
    text: str


@dataclass(frozen=True)
class _Name:
    """A parsed symbol name: accents (outermost first) over a core, primes, scripts, arguments."""

    core: _Atom
    accents: tuple[str, ...] = ()
    primes: int = 0
    subs: tuple[tuple[_Atom | "_Name", ...], ...] = ()
    sups: tuple[tuple[_Atom | "_Name", ...], ...] = ()
    args: tuple["_Name", ...] | None = None


def _word(text: str) -> _Atom:
    if text in _GREEK_MAP:
        return _Atom("greek", text)
    if text.isdigit():
        return _Atom("number", text)
    if len(text) == 1 and text.isalpha():
        return _Atom("letter", text)
    if text in _SYMBOLS:
        return _Atom("symbol", text)
    if re.fullmatch(r"[^\W\d_]+", text):
        return _Atom("word", text)
    return _Atom("raw", text)


def _matching(s: str, start: int) -> int:
    """Index of the brace closing the one at ``start``, or -1."""
    depth = 0
    for k in range(start, len(s)):
        depth += {"{": 1, "}": -1}.get(s[k], 0)
        if depth == 0:
            return k
    return -1


def _split_top(s: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def _script(text: str) -> tuple[_Atom | _Name, ...]:
    """A sub- or superscript: comma-separated names (``{TbT}``, ``theta``, ``*``, ``1,1``)."""
    if text.startswith("{") and _matching(text, 0) == len(text) - 1:
        text = text[1:-1]
    return tuple(_item(p.strip()) for p in _split_top(text, ",") if p.strip())


def _item(text: str) -> _Atom | _Name:
    """One index or script item: a number, a symbol such as ``*``, or a name."""
    return _word(text) if text.isdigit() or text in _SYMBOLS else _parse(text)


def _core(head: str) -> tuple[_Atom, tuple[str, ...]]:
    """The core of a head without scripts: a Greek name, a letter or a word, with suffix accents."""
    head = head[1:] if head.startswith("\\") and head[1:] in _GREEK_MAP else head
    for suffix in sorted(_ACCENTS, key=len, reverse=True):
        rest = head[: -len(suffix)]
        if head.endswith(suffix) and rest:
            inner, accents = _core(rest)
            if inner.kind in ("greek", "letter"):
                return inner, (suffix,) + accents
    return _word(head), ()


def _parse(name: str) -> _Name | _Atom:
    """Parse a symbol name (never raises: anything unreadable is one ``raw`` atom)."""
    parsed = _parse_strict(name)
    return parsed if parsed is not None else _Atom("raw", name)


def _parse_strict(name: str) -> _Name | None:
    if not name:
        return None
    args = None
    m = re.fullmatch(r"(.+?)([(\[])([^()\[\]]*)[)\]]", name)
    if m is not None:
        inner = [_item(p.strip()) for p in m.group(3).split(",")]
        if m.group(2) == "[":  # an entry name such as M[1,2]: its indices as a subscript
            base = _parse_strict(m.group(1))
            if base is None or base.args is not None:
                return None
            return _Name(base.core, base.accents, base.primes, base.subs + (tuple(inner),), base.sups)
        if any(isinstance(a, _Atom) and a.kind == "raw" for a in inner):
            return None
        args, name = tuple(inner), m.group(1)
    accents: tuple[str, ...] = ()
    rest = name
    am = re.match(r"\\([A-Za-z]+)\{", rest)
    if am is not None and am.group(1) in _LATEX_ACCENTS:  # \bar{g}..., \dot{\bar{L}}...
        close = _matching(rest, am.end() - 1)
        if close < 0:
            return None
        inner = _parse_strict(rest[am.end() : close])
        if inner is None or inner.args is not None or inner.subs or inner.sups:
            return None
        core, accents, primes = inner.core, (_LATEX_ACCENTS[am.group(1)],) + inner.accents, inner.primes
        rest = rest[close + 1 :]
        pm = re.match(r"'*", rest)
        primes += len(pm.group(0))
        rest = rest[pm.end() :]
    else:
        hm = re.match(r"(\\?[^\W\d_]+)(\d*)('*)", rest)
        if hm is None:
            return None
        core, accents = _core(hm.group(1))
        if core.kind == "raw":
            return None
        primes = len(hm.group(3))
        rest = rest[hm.end() :]
        if hm.group(2):
            rest = "_" + hm.group(2) + rest
    subs: list[tuple] = []
    sups: list[tuple] = []
    while rest:
        sm = re.match(r"([_^])(\{[^{}]*\}|[^_^{}]+)", rest)
        if sm is None:
            return None
        (subs if sm.group(1) == "_" else sups).append(_script(sm.group(2)))
        rest = rest[sm.end() :]
    for piece in (*subs, *sups):
        if any(isinstance(a, _Atom) and a.kind == "raw" for a in piece):
            return None
    return _Name(core, accents, primes, tuple(subs), tuple(sups), args)


# -- LaTeX of names

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}", "&": r"\&",
                 "%": r"\%", "#": r"\#", "$": r"\$", "~": r"\~{}"}


def _atom_latex(a: _Atom) -> str:
    if a.kind == "greek":
        return _GREEK_MAP[a.text][0]
    if a.kind in ("letter", "number"):
        return a.text
    if a.kind == "symbol":
        return _SYMBOLS[a.text][0]
    if a.kind == "word":
        return rf"\mathrm{{{a.text}}}"
    return r"\text{" + "".join(_TEXT_ESCAPES.get(ch, ch) for ch in a.text) + "}"


def _piece_latex(p: _Atom | _Name) -> str:
    return _atom_latex(p) if isinstance(p, _Atom) else _name_latex(p)


def _name_latex(n: _Name | _Atom, extra_sup: str | None = None) -> str:
    """A name in LaTeX; ``extra_sup`` (``\\top``) joins its superscript. Primes are written ``w'``
    unless a superscript follows them (``w^{\\prime \\top}``, never the double superscript ``w'^{a}``
    after a subscript)."""
    if isinstance(n, _Atom):
        s = _atom_latex(n)
        return s if extra_sup is None else f"{{{s}}}^{{{extra_sup}}}"
    s = _atom_latex(n.core)
    for acc in reversed(n.accents):
        s = rf"\{_ACCENTS[acc][0]}{{{s}}}"
    sups = [_piece_latex(p) for piece in n.sups for p in piece]
    if extra_sup is not None and n.args is None:
        sups.append(extra_sup)
        extra_sup = None
    if sups:
        sups = [r"\prime"] * n.primes + sups
    else:
        s += "'" * n.primes
    if n.subs:
        s += "_{" + ",".join(_piece_latex(p) for piece in n.subs for p in piece) + "}"
    if sups:
        s += "^{" + " ".join(sups) + "}"
    if n.args is not None:
        s += "(" + ", ".join(_name_latex(a) for a in n.args) + ")"
    if extra_sup is not None:
        s += f"^{{{extra_sup}}}"
    return s


def _scripted(tex: str) -> bool:
    """Whether a printed base already carries a superscript (or a prime before a subscript), so that
    a power or an index must not be attached to it directly."""
    return "^" in tex or ("'" in tex and "_" in tex)


# ------------------------------------------------------------------------------------------------
# shared rules

_AVERAGES = ("MatAvg", "ScalarAvg", "MatTangent", "ScalarTangent")
#: A scalar coefficient holding one of these is parenthesised before the matrices it multiplies.
_SUMMATIONS = (Sum, Product, Integral)


def _is(expr: Any, *names: str) -> bool:
    """Dispatch on the notation classes by name (importing them here would be an import cycle)."""
    return type(expr).__name__ in names


def _negative_coeff(c: Basic) -> bool:
    """A scalar coefficient printed with a leading minus: a negative number times the rest (a sum
    is never negative here, whatever SymPy's canonical sign of it)."""
    return bool(c.as_coeff_Mul()[0].is_negative)


def _negative(term: Basic) -> bool:
    """A term of a sum printed as a subtraction (``- eta g`` for scalars and matrices alike)."""
    if term.is_Matrix and term.is_MatMul:
        return _negative_coeff(term.as_coeff_matrices()[0])
    return bool(term.could_extract_minus_sign())


def _bracket_body(x: Basic, products: bool) -> bool:
    """Whether the body of an average (or, with ``products``, of a tangent) needs parentheses: a sum,
    a negative term, or (``products``) a product; never a symbol, entry, row or power of one."""
    prec = precedence_traditional(x)
    return prec < PRECEDENCE["Mul"] or _negative(x) or (products and prec <= PRECEDENCE["Mul"])


class _PaperOrder:
    """The terms of a sum in SymPy's order, except that a sum with a positive term never starts with
    a minus: its first positive term moves to the front (``1 - eta lambda``, ``w - eta g``).
    (SymPy's ``could_extract_minus_sign`` misses the sign of a matrix term ``-eta g``.)"""

    def _as_ordered_terms(self, expr, order=None):
        terms = list(super()._as_ordered_terms(expr, order=order))  # type: ignore[misc]
        first = next((k for k, t in enumerate(terms) if not _negative(t)), 0)
        return [terms[first]] + terms[:first] + terms[first + 1 :]


# ------------------------------------------------------------------------------------------------
# LaTeX


class PaperLatexPrinter(_PaperOrder, LatexPrinter):
    r"""SymPy's LaTeX printer with the package's names, signs and notation nodes.

    >>> import sympy
    >>> PaperLatexPrinter().doprint(1 - sympy.Symbol("eta") * sympy.Symbol("lambda"))
    '1 - \\eta \\lambda'
    """

    def _print_Add(self, expr, order=None):
        tex = ""
        for k, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if _negative(term):
                tex += "- " if k == 0 else " - "
                term = -term
            elif k:
                tex += " + "
            term_tex = self._print(term)
            tex += r"\left(" + term_tex + r"\right)" if self._needs_add_brackets(term) else term_tex
        return tex

    def _print_Symbol(self, expr, style="plain"):
        return _name_latex(_parse(expr.name))

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr):
        return _name_latex(_parse(expr.name))

    def _print_IndexedBase(self, expr):
        return self._print(expr.label)

    def _print_Indexed(self, expr):
        base = self._print(expr.base)
        if "_" in base or "'" in base or _scripted(base):
            base = "{" + base + "}"
        return base + "_{" + ",".join(self._print(i) for i in expr.indices) + "}"

    def parenthesize_super(self, s):
        return r"\left(" + s + r"\right)" if _scripted(s) else s

    def _print_MatPow(self, expr):
        base = self._print(expr.base)
        if isinstance(expr.base, MatrixSymbol) and not _scripted(base):
            return f"{base}^{{{self._print(expr.exp)}}}"
        return r"\left(" + base + r"\right)^{" + self._print(expr.exp) + "}"

    def _print_Function(self, expr, exp=None):
        if not isinstance(expr, AppliedUndef):
            return super()._print_Function(expr, exp)
        name = _name_latex(_parse(expr.func.__name__))
        out = name + r"\left(" + ", ".join(self._print(a) for a in expr.args) + r"\right)"
        return out if exp is None else r"\left(" + out + r"\right)^{" + exp + "}"

    def _print_Transpose(self, expr):
        arg = expr.arg
        if isinstance(arg, MatrixSymbol):
            return _name_latex(_parse(arg.name), r"\top")
        return r"\left(" + self._print(arg) + r"\right)^{\top}"

    def parenthesize(self, item, level, is_neg=False, strict=False):  # an average or tangent: in parentheses
        if _is(item, *_AVERAGES):
            return r"\left(" + self._print(item) + r"\right)"
        return super().parenthesize(item, level, is_neg, strict)

    def _needs_mul_brackets(self, expr, first=False, last=False) -> bool:
        return _is(expr, *_AVERAGES) or super()._needs_mul_brackets(expr, first=first, last=last)

    def _matmul_factor(self, x) -> str:
        if x.is_MatAdd or x.is_MatMul or _is(x, *_AVERAGES):
            return r"\left(" + self._print(x) + r"\right)"
        return self.parenthesize(x, PRECEDENCE["Mul"], strict=True)

    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_matrices()
        sign = ""
        if _negative_coeff(coeff):
            sign, coeff = "- ", -coeff
        parts = []
        if coeff != 1:
            c = self._print(coeff)
            if coeff.is_Add or (isinstance(coeff, Mul) and coeff.has(*_SUMMATIONS)):
                c = r"\left(" + c + r"\right)"
            parts.append(c)
        parts += [self._matmul_factor(m) for m in mats]
        return sign + " ".join(parts)

    # -- notation nodes

    def _paren(self, x) -> str:
        return r"\left(" + self._print(x) + r"\right)"

    def _body(self, x, products: bool = False) -> str:
        return self._paren(x) if _bracket_body(x, products) else self._print(x)

    def _print_Sc(self, expr):
        return self._paren(expr.args[0])

    def _print_Row(self, expr):
        return self._print(expr.args[2]) + "_{" + self._print(expr.args[1]) + "}"

    def _print_RowT(self, expr):
        return self._print(expr.args[2]) + "_{" + self._print(expr.args[1]) + r"}^{\top}"

    _print_Entry = _print_Row

    def _print_MatAvg(self, expr):
        body, idx, count = expr.args
        n = self._print(count)
        return rf"\frac{{1}}{{{n}}} \sum_{{{self._print(idx)}=1}}^{{{n}}} " + self._body(body)

    _print_ScalarAvg = _print_MatAvg

    def _print_MatExpect(self, expr):
        arg = expr.args[0]
        inner = self._print(arg.args[0]) if _is(arg, "Sc") else self._print(arg)
        if len(expr.args) > 1:
            return rf"\mathbb{{E}}\left[{inner} \,\middle|\, {self._print(expr.args[1])}\right]"
        return rf"\mathbb{{E}}\left[{inner}\right]"

    _print_ScalarExpect = _print_MatExpect

    def _print_MatTangent(self, expr):
        return r"\frac{\mathrm{d}}{\mathrm{d}" + self._print(expr.args[2]) + "} " + self._body(expr.args[0], True)

    _print_ScalarTangent = _print_MatTangent


@functools.lru_cache(maxsize=8192)  # a report prints each step in three formats
def latex(expr: Any) -> str:
    r"""``expr`` in LaTeX, as a paper writes it.

    >>> import sympy
    >>> latex(sympy.Symbol("s_*") * sympy.Symbol("alpha_eff") - sympy.Symbol("xi"))
    '\\alpha_{\\mathrm{eff}} s_{*} - \\xi'
    """
    return PaperLatexPrinter().doprint(expr)


def relation_latex(lhs: Any, rel: str, rhs: Any) -> str:
    r"""One step ``lhs rel rhs`` in LaTeX (``rel`` one of ``= <= >= < >``).

    >>> import sympy
    >>> relation_latex(sympy.Symbol("rho"), ">=", 0)
    '\\rho \\ge 0'
    """
    return f"{latex(lhs)} {RELATIONS_LATEX[rel]} {latex(rhs)}"


# ------------------------------------------------------------------------------------------------
# plain text


class PaperStrPrinter(_PaperOrder, StrPrinter):
    """SymPy's string printer with the package's signs (matrix sums and products included)."""

    def _print_MatAdd(self, expr):
        out = ""
        for k, term in enumerate(self._as_ordered_terms(expr)):
            if _negative(term):
                out += "-" if k == 0 else " - "
                term = -term
            elif k:
                out += " + "
            out += self.parenthesize(term, precedence(expr))
        return out

    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_matrices()
        sign = ""
        if _negative_coeff(coeff):
            sign, coeff = "-", -coeff
        parts = [self.parenthesize(coeff, PRECEDENCE["Add"])] if coeff != 1 else []
        return sign + "*".join(parts + [self.parenthesize(m, precedence(expr)) for m in mats])


@functools.lru_cache(maxsize=8192)
def text(expr: Any) -> str:
    """``expr`` in SymPy's string form, with the signs of :func:`latex`.

    >>> import sympy
    >>> d = sympy.Symbol("d", integer=True, positive=True)
    >>> w, g = sympy.MatrixSymbol("w", d, 1), sympy.MatrixSymbol("g", d, 1)
    >>> text(w - sympy.Symbol("eta") * g), sympy.sstr(w - sympy.Symbol("eta") * g)
    ('w - eta*g', '(-eta)*g + w')
    """
    return PaperStrPrinter().doprint(expr)


# ------------------------------------------------------------------------------------------------
# MathML

_MINUS = "−"
_TIMES = "\u2062"  # invisible times


class PaperMathMLPrinter(_PaperOrder, MathMLPresentationPrinter):
    """SymPy's presentation-MathML printer with the package's names, signs and notation nodes.

    Text nodes hold plain Unicode (no entity references, no LaTeX).
    """

    def _el(self, tag: str, *children, text: str | None = None, **attrs):
        el = self.dom.createElement(tag)
        for k, v in attrs.items():
            el.setAttribute(k, v)
        if text is not None:
            el.appendChild(self.dom.createTextNode(text))
        for c in children:
            el.appendChild(c)
        return el

    def _mo(self, text: str):
        return self._el("mo", text=text)

    def _row(self, *children):
        return self._el("mrow", *children)

    def _parens(self, x, left: str = "(", right: str = ")"):
        return self._row(self._mo(left), x, self._mo(right))

    # -- names

    def _atom(self, a: _Atom):
        if a.kind == "greek":
            char = _GREEK_MAP[a.text][1]
            return self._el("mi", text=char, mathvariant="normal") if a.text[0].isupper() else self._el("mi", text=char)
        if a.kind == "number":
            return self._el("mn", text=a.text)
        if a.kind == "symbol":
            return self._mo(_SYMBOLS[a.text][1])
        return self._el("mi", text=a.text.replace("\\", "") if a.kind == "raw" else a.text)

    def _piece(self, p):
        return self._atom(p) if isinstance(p, _Atom) else self._name(p)

    def _script_row(self, pieces: list, sep: str | None = ","):
        if len(pieces) == 1:
            return pieces[0]
        row = self._row()
        for k, p in enumerate(pieces):
            if k and sep is not None:
                row.appendChild(self._mo(sep))
            row.appendChild(p)
        return row

    def _name(self, n, extra_sup=None):
        if isinstance(n, _Atom):
            base = self._atom(n)
            return base if extra_sup is None else self._el("msup", base, extra_sup)
        base = self._atom(n.core)
        for acc in reversed(n.accents):
            base = self._el("mover", base, self._mo(_ACCENTS[acc][1]), accent="true")
        subs = [self._piece(p) for piece in n.subs for p in piece]
        sups = [self._mo("′" * n.primes)] if n.primes else []
        sups += [self._piece(p) for piece in n.sups for p in piece]
        if extra_sup is not None and n.args is None:
            sups.append(extra_sup)
            extra_sup = None
        if subs and sups:
            base = self._el("msubsup", base, self._script_row(subs), self._script_row(sups, None))
        elif subs:
            base = self._el("msub", base, self._script_row(subs))
        elif sups:
            base = self._el("msup", base, self._script_row(sups, None))
        if n.args is not None:
            row = self._row(base, self._mo("("))
            for k, a in enumerate(n.args):
                if k:
                    row.appendChild(self._mo(","))
                row.appendChild(self._name(a))
            row.appendChild(self._mo(")"))
            base = row
        if extra_sup is not None:
            base = self._el("msup", base, extra_sup)
        return base

    def _print_Add(self, expr, order=None):
        row = self._row()
        for k, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if _negative(term):
                row.appendChild(self._mo(_MINUS))
                term = -term
            elif k:
                row.appendChild(self._mo("+"))
            row.appendChild(self._print(term))
        return row

    def _print_Symbol(self, sym, style="plain"):
        return self._name(_parse(sym.name))

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, sym):
        return self._name(_parse(sym.name))

    def _print_Indexed(self, e):
        idx = [self._print(i) for i in e.indices]
        return self._el("msub", self._print(e.base), self._script_row(idx))

    def _print_Function(self, e):
        if not isinstance(e, AppliedUndef):
            return super()._print_Function(e)
        return self._row(self._name(_parse(e.func.__name__)), self._paren_comma_separated(*e.args))

    def _print_Trace(self, e):
        return self._row(self._el("mi", text="tr"), self._parens(self._print(e.arg)))

    def _print_Determinant(self, e):
        inner = self._print(e.arg)
        if inner.tagName == "mrow" and len(inner.childNodes) == 3 and inner.childNodes[1].tagName == "mtable":
            inner = inner.childNodes[1]  # an explicit matrix: its table between the bars, no brackets
        return self._parens(inner, "|", "|")

    def _print_Subs(self, e):
        at = self._row()
        for k, (v, p) in enumerate(zip(e.variables, e.point)):
            if k:
                at.appendChild(self._mo(","))
            at.appendChild(self._print(v))
            at.appendChild(self._mo("="))
            at.appendChild(self._print(p))
        return self._el("msub", self._row(self._print(e.expr), self._mo("|")), at)

    def _print_Sum(self, e):
        row = self._row()
        for var, lo, hi in e.limits:
            low = self._row(self._print(var), self._mo("="), self._print(lo))
            row.appendChild(self._el("munderover", self._mo("∑"), low, self._print(hi)))
        row.appendChild(self.parenthesize(e.function, PRECEDENCE["Mul"], strict=True))
        return row

    def _print_Transpose(self, e):
        top = self._mo("⊤")
        if isinstance(e.arg, MatrixSymbol):
            return self._name(_parse(e.arg.name), top)
        return self._el("msup", self._parens(self._print(e.arg)), top)

    def parenthesize(self, item, level, strict=False):  # an average or tangent inside anything: in parentheses
        if _is(item, *_AVERAGES):
            return self._parens(self._print(item))
        return super().parenthesize(item, level, strict)

    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_matrices()
        row = self._row()
        if _negative_coeff(coeff):
            row.appendChild(self._mo(_MINUS))
            coeff = -coeff
        factors = []
        if coeff != 1:
            if coeff.is_Add or (isinstance(coeff, Mul) and coeff.has(*_SUMMATIONS)):
                factors.append(self._parens(self._print(coeff)))
            else:
                factors.append(self._print(coeff))
        for m in mats:
            if m.is_MatAdd or m.is_MatMul or _is(m, *_AVERAGES):
                factors.append(self._parens(self._print(m)))
            else:
                factors.append(super().parenthesize(m, PRECEDENCE["Mul"], strict=True))
        for k, f in enumerate(factors):
            if k:
                row.appendChild(self._mo(_TIMES))
            row.appendChild(f)
        return row

    # -- notation nodes

    def _body(self, x, products: bool = False):
        return self._parens(self._print(x)) if _bracket_body(x, products) else self._print(x)

    def _print_Sc(self, e):
        return self._parens(self._print(e.args[0]))

    def _print_Row(self, e):
        return self._el("msub", self._print(e.args[2]), self._print(e.args[1]))

    _print_Entry = _print_Row

    def _print_RowT(self, e):
        return self._el("msubsup", self._print(e.args[2]), self._print(e.args[1]), self._mo("⊤"))

    def _print_MatAvg(self, e):
        body, idx, count = e.args
        frac = self._el("mfrac", self._el("mn", text="1"), self._print(count))
        low = self._row(self._print(idx), self._mo("="), self._el("mn", text="1"))
        return self._row(frac, self._el("munderover", self._mo("∑"), low, self._print(count)), self._body(body))

    _print_ScalarAvg = _print_MatAvg

    def _print_MatExpect(self, e):
        arg = e.args[0]
        row = self._row(self._el("mi", text="𝔼"), self._mo("["))
        row.appendChild(self._print(arg.args[0]) if _is(arg, "Sc") else self._print(arg))
        if len(e.args) > 1:
            row.appendChild(self._mo("|"))
            row.appendChild(self._print(e.args[1]))
        row.appendChild(self._mo("]"))
        return row

    _print_ScalarExpect = _print_MatExpect

    def _print_MatTangent(self, e):
        d = self._el("mi", text="d", mathvariant="normal")
        frac = self._el("mfrac", d, self._row(self._el("mi", text="d", mathvariant="normal"), self._print(e.args[2])))
        return self._row(frac, self._body(e.args[0], True))

    _print_ScalarTangent = _print_MatTangent


def _tidy(node: Any) -> None:
    """Text nodes as plain (escaping) minidom text with entity references decoded to characters
    (SymPy's printer writes raw, unescaped text); a hyphen used as minus becomes a minus sign and
    SymPy's double-struck differential an upright d."""
    for child in list(node.childNodes):
        if child.nodeType == child.TEXT_NODE:
            text = Text()
            text.data = html.unescape(child.data)
            if node.tagName == "mo":
                text.data = {"-": _MINUS, "ⅆ": "d"}.get(text.data, text.data)
            node.replaceChild(text, child)
        else:
            _tidy(child)


def mathml_element(expr: Any) -> Any:
    """``expr`` as a presentation-MathML ``xml.dom.minidom`` element (without the ``<math>`` root)."""
    el = PaperMathMLPrinter()._print(expr)
    _tidy(el)
    return el


def mathml(expr: Any) -> str:
    """``expr`` as a presentation-MathML string (see :func:`mathml_element`).

    >>> import sympy
    >>> mathml(sympy.Symbol("xi_v"))
    '<msub><mi>ξ</mi><mi>v</mi></msub>'
    """
    return mathml_element(expr).toxml()
