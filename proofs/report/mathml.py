"""Claim strings as MathML for report.html, rebuilt from a whitelist (issue 11: no ``href``, no event
handlers, no foreign elements; anything else falls back to escaped ``<code>``).

>>> "script" in latex_to_mathml(r"\text{</math><script>alert(1)</script>}").split("<mtext>")[0]
False
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["latex_to_mathml", "text_with_math", "sympy_mathml", "step_mathml"]

# -- math conversion: MathML built from a whitelist ---------------------------------------------
#
# Claim statements, assumptions and justifications are outside strings: they reach the page only as
# MathML rebuilt here from a whitelist. The converters (latex2mathml for LaTeX, SymPy's presentation
# printer for derivation steps) give an element tree; each element must be a MathML presentation
# element of :data:`_MATHML_ELEMENTS` (any other element, e.g. a foreign ``<svg>`` or ``<script>``,
# makes the whole formula fall back to escaped ``<code>``), each attribute must be one of
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


def _text(raw: str | None) -> str:
    """A converter's text node, escaped. Both converters put character references into text
    verbatim (``&#x3B1;``, ``&InvisibleTimes;``) next to the user's raw text: decode, then escape."""
    return html.escape(html.unescape(raw), quote=False) if raw else ""


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
    """A SymPy expression as presentation MathML (SymPy's printer's element tree, rebuilt from the
    whitelist). Raises on anything the whitelist refuses."""
    from sympy.printing.mathml import MathMLPresentationPrinter

    return _from_minidom(MathMLPresentationPrinter()._print(expr))


def step_mathml(step: Any) -> str:
    """One derivation step ``lhs rel rhs`` as presentation MathML."""
    try:
        lhs = sympy_mathml(step.lhs)
        rhs = sympy_mathml(step.rhs)
    except Exception:  # noqa: BLE001
        return _code(step.text(), "step")
    return f'<math display="block"><mrow>{lhs}<mo>{_MATHML_REL[step.rel]}</mo>{rhs}</mrow></math>'
