"""Claim strings as MathML for report.html, rebuilt from a whitelist (issue 11: no ``href``, no event
handlers, no foreign elements; anything else falls back to escaped ``<code>``).

>>> "script" in latex_to_mathml(r"\text{</math><script>alert(1)</script>}").split("<mtext>")[0]
False
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["latex_to_mathml", "text_with_math", "sympy_mathml", "step_mathml", "layout_math", "step_rows_mathml",
           "split_rows", "mathml_width", "ROW_BUDGET_EM"]

# -- math conversion: MathML built from a whitelist ---------------------------------------------
#
# Claim statements, assumptions and justifications are outside strings: they reach the page only as
# MathML rebuilt here from a whitelist. The converters (latex2mathml for LaTeX, the package's
# presentation printer :mod:`theory.printing` for derivation steps) give an element tree; each
# element must be a MathML presentation element of :data:`_MATHML_ELEMENTS` (any other element,
# e.g. a foreign ``<svg>`` or ``<script>``, makes the whole formula fall back to escaped
# ``<code>``), each attribute must be one of
# :data:`_MATHML_ATTRIBUTES` with a plain value (``href``, ``style``, ``class``, ``id``, ``xlink:*``,
# ``on*`` and anything else are dropped), and every text node is escaped on output. Nothing from
# the converter's string output is ever copied into the page.

_MATHML_NS = "http://www.w3.org/1998/Math/MathML"
#: MathML presentation elements allowed in the report (no ``annotation-xml``, ``maction``, ``mglyph``).
_MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mstyle mtable mtr mtd "
    "mlabeledtr munder mover munderover mpadded mphantom menclose mfenced merror mmultiscripts "
    "mprescripts none semantics annotation".split()
)
#: Presentation attributes allowed on them; values must match :data:`_SAFE_VALUE`.
_MATHML_ATTRIBUTES = frozenset(
    "display mathvariant mathsize mathcolor mathbackground displaystyle scriptlevel dir fence separator "
    "stretchy symmetric largeop movablelimits accent accentunder form lspace rspace minsize maxsize "
    "linethickness bevelled numalign denomalign width height depth voffset notation open close "
    "separators columnalign rowalign columnspacing rowspacing columnlines rowlines columnwidth frame "
    "framespacing equalrows equalcolumns rowspan columnspan align encoding linebreak lquote rquote".split()
)
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 .,#%+\-]{0,64}")


class _Unsafe(Exception):
    """A formula holding something outside the whitelist (it is then shown as escaped source)."""


def _node_tag(tag: str) -> str:
    if tag.startswith("{"):  # namespaced (ElementTree): only the MathML namespace is accepted
        ns, _, local = tag[1:].partition("}")
        if ns != _MATHML_NS:
            raise _Unsafe(tag)
        tag = local
    if tag not in _MATHML_ELEMENTS:
        raise _Unsafe(tag)
    return tag


def _attrs(items: Any) -> str:
    out = []
    for key, value in items:
        if key in _MATHML_ATTRIBUTES and _SAFE_VALUE.fullmatch(str(value)):
            out.append(f' {key}="{html.escape(str(value), quote=True)}"')
    return "".join(out)


#: LaTeX's escaped specials, which latex2mathml leaves verbatim inside ``\text{...}``.
_TEX_SPECIALS = re.compile(r"\\([%&_#${}])")


def _text(raw: str | None) -> str:
    """A converter's text node, escaped. Both converters put character references into text
    verbatim (``&#x3B1;``, ``&InvisibleTimes;``) next to the user's raw text: decode, then escape.
    LaTeX's escaped specials (``10\\%`` in ``\\text{}``) become the characters they print.

    >>> _text(r"within 10\\% of &lt;x&gt;")
    'within 10% of &lt;x&gt;'
    """
    return html.escape(_TEX_SPECIALS.sub(r"\1", html.unescape(raw)), quote=False) if raw else ""


def _from_etree(el: Any) -> str:
    tag = _node_tag(el.tag)
    inner = _text(el.text) + "".join(_from_etree(child) + _text(child.tail) for child in el)
    return f"<{tag}{_attrs(el.attrib.items())}>{inner}</{tag}>"


def _from_minidom(node: Any) -> str:
    if node.nodeType == node.TEXT_NODE:
        return _text(node.data)
    if node.nodeType != node.ELEMENT_NODE:
        raise _Unsafe(f"node type {node.nodeType}")
    tag = _node_tag(node.tagName)
    inner = "".join(_from_minidom(child) for child in node.childNodes)
    return f"<{tag}{_attrs(node.attributes.items())}>{inner}</{tag}>"


def _code(text: str, cls: str = "tex") -> str:
    return f'<code class="{cls}">{html.escape(text)}</code>'


def latex_to_mathml(tex: str) -> str:
    """A LaTeX claim statement as inline MathML (``latex2mathml``'s element tree, rebuilt from the
    whitelist), else an escaped ``<code>``."""
    try:
        from latex2mathml import converter

        if hasattr(converter, "convert_to_element"):
            root = converter.convert_to_element(tex)
        else:  # an older latex2mathml: parse its string (text with markup in it fails to parse)
            import xml.etree.ElementTree as ET

            root = ET.fromstring(converter.convert(tex))
        if _node_tag(root.tag) != "math":
            raise _Unsafe(root.tag)
        return _from_etree(root)
    except Exception:  # noqa: BLE001 - missing package, unsupported LaTeX or unsafe markup: show the source
        return _code(tex)


_INLINE_MATH = re.compile(r"\$([^$]+)\$")


def text_with_math(text: str) -> str:
    """Prose with ``$...$`` segments (justifications, assumptions) as escaped HTML with inline
    MathML for each segment; text without ``$`` is only escaped."""
    parts = []
    pos = 0
    for m in _INLINE_MATH.finditer(text):
        parts.append(html.escape(text[pos : m.start()]))
        parts.append(latex_to_mathml(m.group(1)))
        pos = m.end()
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


_MATHML_REL = {"=": "=", "<=": "&#x02264;", ">=": "&#x02265;", "<": "&lt;", ">": "&gt;"}


def sympy_mathml(expr: Any) -> str:
    """A SymPy expression as presentation MathML: the element tree of the package's one printer
    (:func:`theory.printing.mathml_element`: names, signs and notation nodes as a paper writes
    them), rebuilt from the whitelist. Raises on anything the whitelist refuses."""
    from l2l.theory.printing import mathml_element

    return _from_minidom(mathml_element(expr))


def step_mathml(step: Any) -> str:
    """One derivation step ``lhs rel rhs`` as presentation MathML."""
    try:
        lhs = sympy_mathml(step.lhs)
        rhs = sympy_mathml(step.rhs)
    except Exception:  # noqa: BLE001
        return _code(step.text(), "step")
    return f'<math display="block"><mrow>{lhs}<mo>{_MATHML_REL[step.rel]}</mo>{rhs}</mrow></math>'


# -- layout: long formulas as several rows ------------------------------------------------------
#
# A page has no script (its CSP forbids them) and MathML Core has no automatic line breaking, so a
# long formula is broken here, before the page is written: the formula's top-level sequence (its
# unfenced ``<mrow>`` groups flattened) is cut before a top-level ``=``, relation, ``+`` or ``−``,
# and a group in parentheses that is alone wider than a row is opened (its content cut the same way,
# the parentheses left on the first and last row). The rows are filled greedily up to a width budget
# in em, estimated from the element tree (:func:`mathml_width`), and set as a one-column
# ``<mtable>``, continuation rows indented. The input is MathML already rebuilt from the whitelist;
# the output is rebuilt through it again (:func:`_from_etree`).

#: Operators a formula may be broken before, at its top level.
_BREAK_OPS = frozenset("= + - − ≤ ≥ < > ≈ ≠ ± ∓".split())
_RELATION_OPS = frozenset("= ≤ ≥ < > ≈ ≠".split())
_OPEN_FENCES = frozenset("( [ { ⟨ | ‖".split())
_CLOSE_FENCES = frozenset(") ] } ⟩ | ‖".split())
#: Width (em) of one character of an identifier, number or text; of an operator by kind.
_CHAR_EM, _REL_EM, _BIN_EM, _FENCE_EM, _PUNCT_EM, _SCRIPT_SCALE = 0.56, 1.6, 1.3, 0.42, 0.45, 0.72
#: Invisible operators (function application, invisible times, separator, plus).
_INVISIBLE = frozenset("\u2061\u2062\u2063\u2064")
#: Default row budget (em) for a display formula: fits a 1000 px window's text column at 16 px.
ROW_BUDGET_EM = 46.0


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _el_text(el: Any) -> str:
    return (el.text or "").strip()


def mathml_width(el: Any) -> float:
    """An estimate, in em, of the rendered width of a MathML element (an ``ElementTree`` element):
    characters at :data:`_CHAR_EM`, scripts scaled down, a fraction as wide as its wider part, a
    table as wide as its widest row. Used only to decide where to break rows."""
    tag = _local(el.tag)
    kids = list(el)
    if tag in ("mi", "mn", "mtext", "ms"):
        text = _el_text(el)
        return _CHAR_EM * len(text)
    if tag == "mo":
        text = _el_text(el)
        if not text or text in _INVISIBLE:
            return 0.0
        if text in _RELATION_OPS:
            return _REL_EM
        if text in ("+", "-", "−", "±", "∓", "×", "⋅", "·"):
            return _BIN_EM
        if text in _OPEN_FENCES or text in _CLOSE_FENCES:
            return _FENCE_EM
        if text in ("∑", "∏", "∫", "⋃", "⋂"):
            return 1.6
        if text in (",", ";", "′", "'", "⊤", "T", "¯", "˙", "^", "~"):
            return _PUNCT_EM
        return _CHAR_EM * len(text) + 0.3
    if tag == "mspace":
        m = re.fullmatch(r"([0-9.]+)em", el.get("width", "") or "")
        return float(m.group(1)) if m else 0.0
    if tag == "mfrac":
        return max((mathml_width(k) for k in kids), default=0.0) + 0.25
    if tag in ("msup", "msub"):
        return (mathml_width(kids[0]) if kids else 0.0) + sum(_SCRIPT_SCALE * mathml_width(k) for k in kids[1:2])
    if tag == "msubsup":
        base = mathml_width(kids[0]) if kids else 0.0
        return base + _SCRIPT_SCALE * max((mathml_width(k) for k in kids[1:]), default=0.0)
    if tag in ("munder", "mover", "munderover"):
        base = mathml_width(kids[0]) if kids else 0.0
        return max([base] + [_SCRIPT_SCALE * mathml_width(k) for k in kids[1:]])
    if tag in ("msqrt", "mroot"):
        return sum(mathml_width(k) for k in kids[:1]) + 1.0
    if tag == "mtable":
        rows = [r for r in kids if _local(r.tag) in ("mtr", "mlabeledtr")]
        cols: list[float] = []
        for r in rows:
            for j, cell in enumerate(list(r)):
                w = mathml_width(cell)
                if j < len(cols):
                    cols[j] = max(cols[j], w)
                else:
                    cols.append(w)
        return sum(cols) + 0.8 * max(len(cols) - 1, 0) + 0.4
    if tag == "mfenced":
        return sum(mathml_width(k) for k in kids) + 2 * _FENCE_EM + _PUNCT_EM * max(len(kids) - 1, 0)
    # mrow, mtd, mtr, mstyle, mpadded, menclose, semantics, math ...: the sum of the children
    return sum(mathml_width(k) for k in kids if _local(k.tag) != "annotation")


def _is_fence(el: Any, fences: frozenset) -> bool:
    return _local(el.tag) == "mo" and _el_text(el) in fences


def _fenced(el: Any) -> bool:
    """An ``<mrow>`` that is one unit, never flattened into its parent's top level: one wrapped in
    fences or ending in one, e.g. ``(a + b)``, ``S(w)`` or ``E[x | y]``."""
    kids = list(el)
    return bool(kids) and (_is_fence(kids[0], _OPEN_FENCES) or _is_fence(kids[-1], _CLOSE_FENCES))


def _flatten(children: list) -> list:
    """The top-level sequence of a formula: unfenced ``<mrow>`` groups replaced by their children."""
    out = []
    for el in children:
        if _local(el.tag) == "mrow" and not _fenced(el):
            out.extend(_flatten(list(el)))
        else:
            out.append(el)
    return out


def _top_tokens(root: Any) -> list:
    """The top-level sequence of a ``<math>`` element (its outer ``<mrow>`` wrappers removed)."""
    kids = list(root)
    while len(kids) == 1 and _local(kids[0].tag) == "mrow":
        kids = list(kids[0])
    return _flatten(kids)


def _openable(el: Any) -> bool:
    """``( ... )``: an ``<mrow>`` whose first and last children are an opening and a closing fence."""
    kids = list(el)
    return (_local(el.tag) == "mrow" and len(kids) >= 3 and _is_fence(kids[0], _OPEN_FENCES)
            and _is_fence(kids[-1], _CLOSE_FENCES))


#: Fences that nest (``|`` and ``‖`` open and close alike: they do not count).
_NEST_OPEN = frozenset("( [ { ⟨".split())
_NEST_CLOSE = frozenset(") ] } ⟩".split())
#: Punctuation after which a row may break (prose-like statements).
_PUNCT = frozenset(", ; :".split())


def _depths(tokens: list, opened: set) -> list[int]:
    """The bracket depth before each token, counting the fences that sit in the sequence itself
    (latex2mathml writes ``(1 + t)`` flat) but not those of groups opened by :func:`split_rows`."""
    out, depth = [], 0
    for tok in tokens:
        base = tok
        if _local(tok.tag) in ("msup", "msub", "msubsup") and len(tok):  # ``)^\beta``: the fence is the base
            base = tok[0]
        text = _el_text(base) if _local(base.tag) == "mo" and id(tok) not in opened else ""
        if text in _NEST_CLOSE:
            depth = max(depth - 1, 0)
        out.append(depth)
        if text in _NEST_OPEN:
            depth += 1
    return out


def _is_break(tokens: list, i: int, depth: int) -> bool:
    """Whether a row may start at ``tokens[i]``: outside brackets, a top-level operator of
    :data:`_BREAK_OPS` that follows an operand (a unary minus after ``=`` or ``(`` stays with its
    operand), a text, or whatever follows a comma, semicolon or colon."""
    if i == 0 or depth:
        return False
    tok, prev = tokens[i], tokens[i - 1]
    prev_mo = _local(prev.tag) in ("mo", "mi") and _el_text(prev)
    if _local(tok.tag) == "mo" and _el_text(tok) in _BREAK_OPS:
        return not (_local(prev.tag) == "mo" and (_el_text(prev) in _BREAK_OPS or _el_text(prev) in _OPEN_FENCES))
    if _local(tok.tag) == "mtext":
        return True
    return bool(prev_mo) and prev_mo in _PUNCT and not _is_fence(tok, _CLOSE_FENCES)


def _segments(tokens: list, opened: set) -> list[list]:
    segs: list[list] = [[]]
    for i, (tok, depth) in enumerate(zip(tokens, _depths(tokens, opened))):
        if segs[-1] and _is_break(tokens, i, depth):
            segs.append([])
        segs[-1].append(tok)
    return segs


def _width(tokens: list) -> float:
    return sum(mathml_width(t) for t in tokens)


def split_rows(tokens: list, budget: float) -> list[list]:
    """The top-level ``tokens`` of a formula cut into rows of at most ``budget`` em where a break
    allows it: a too-wide segment with a group in parentheses is opened (widest group first, a few
    times at most), then the segments are packed greedily (an equation's relation after the first
    row starts a row of its own)."""
    opened: set = set()
    for _ in range(8):
        segs = _segments(tokens, opened)
        wide = [s for s in segs if _width(s) > budget]
        if not wide:
            break
        candidates = [t for s in wide for t in s if _openable(t)]
        if not candidates:
            break
        target = max(candidates, key=mathml_width)
        kids = list(target)
        opened |= {id(kids[0]), id(kids[-1])}
        k = tokens.index(target)
        tokens = tokens[:k] + [kids[0]] + _flatten(kids[1:-1]) + [kids[-1]] + tokens[k + 1 :]
    rows: list[list] = []
    segs = _segments(tokens, opened)
    # an equation's relation (one or two of them) after a continuation row, or its second relation,
    # starts a row: "a + b" / "= c"; prose with many relations is packed as it comes
    n_rel = sum(_local(g[0].tag) == "mo" and _el_text(g[0]) in _RELATION_OPS for g in segs)
    seen_rel = False
    for seg in segs:
        rel = _local(seg[0].tag) == "mo" and _el_text(seg[0]) in _RELATION_OPS and n_rel <= 2
        if rows and _width(rows[-1]) + _width(seg) <= budget and not (rel and (seen_rel or len(rows) > 1)):
            rows[-1].extend(seg)
        else:
            rows.append(list(seg))
        seen_rel = seen_rel or any(_local(t.tag) == "mo" and _el_text(t) in _RELATION_OPS for t in seg)
    return rows


def layout_math(mathml: str, budget: float = ROW_BUDGET_EM, indent_em: float = 2.0) -> str:
    """A ``<math>`` element as several rows when it is estimated wider than ``budget`` em (see
    the comment above); unchanged when it fits, cannot be broken, or is not MathML (an escaped
    ``<code>`` fallback). The result is rebuilt through the whitelist."""
    import xml.etree.ElementTree as ET

    if not mathml.startswith("<math"):
        return mathml
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError:
        return mathml
    if mathml_width(root) <= budget:
        return mathml
    rows = split_rows(_top_tokens(root), budget - indent_em)
    if len(rows) < 2:
        return mathml
    table = ET.Element("mtable", {"columnalign": "left", "rowspacing": "0.35em", "displaystyle": "true"})
    for n, row in enumerate(rows):
        tr = ET.SubElement(table, "mtr")
        td = ET.SubElement(tr, "mtd", {"columnalign": "left"})
        line = ET.SubElement(td, "mrow")
        if n:
            ET.SubElement(line, "mspace", {"width": f"{indent_em:g}em"})
        line.extend(row)
    out = ET.Element("math", {k: v for k, v in root.attrib.items() if k == "display"})
    out.append(table)
    try:
        return _from_etree(out)
    except _Unsafe:  # cannot happen for whitelisted input; keep the original if it does
        return mathml


def step_rows_mathml(step: Any, budget: float = ROW_BUDGET_EM) -> str:
    """One derivation step (:func:`step_mathml`) laid out in rows that fit ``budget`` em."""
    return layout_math(step_mathml(step), budget)
