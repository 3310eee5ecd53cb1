r"""Claim strings as LaTeX for report.tex: escaping, non-ASCII for pdflatex, and the refusal of file,
shell and definition primitives (``\input``, ``\write``, ``\catcode``, ``\def``, ``^^`` ...) that a
claim string must never reach TeX with.
"""

from __future__ import annotations

import re
from typing import Any

from .text import cell

__all__ = ["tex_text", "tex_ascii", "tex_mathtext", "tex_cell", "tex_display", "tex_block", "tex_refusal"]

_TEX_ESC = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "$": r"\$", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}"}
#: Non-ASCII characters that appear in messages and sources, as pdflatex-safe LaTeX.
_TEX_UNICODE = {"σ": r"\ensuremath{\sigma}", "η": r"\ensuremath{\eta}", "ρ": r"\ensuremath{\rho}",
                "κ": r"\ensuremath{\kappa}", "λ": r"\ensuremath{\lambda}", "α": r"\ensuremath{\alpha}",
                "β": r"\ensuremath{\beta}", "μ": r"\ensuremath{\mu}", "τ": r"\ensuremath{\tau}",
                "ε": r"\ensuremath{\varepsilon}", "θ": r"\ensuremath{\theta}", "≤": r"\ensuremath{\le}",
                "≥": r"\ensuremath{\ge}", "≈": r"\ensuremath{\approx}", "≠": r"\ensuremath{\ne}",
                "×": r"\ensuremath{\times}", "→": r"\ensuremath{\to}", "∞": r"\ensuremath{\infty}",
                "±": r"\ensuremath{\pm}", "²": r"\ensuremath{^2}", "√": r"\ensuremath{\surd}",
                "·": r"\ensuremath{\cdot}", "−": "-", "–": "--", "—": "---", "…": r"\dots{}", "§": r"\S{}",
                "’": "'", "“": "``", "”": "''"}


def _tex_char(ch: str) -> str:
    """One non-ASCII character for pdflatex, in text or math mode; unknown ones as their code point."""
    return _TEX_UNICODE.get(ch, f"[U+{ord(ch):04X}]")


def tex_text(s: Any) -> str:
    """Plain text for LaTeX: special characters escaped, known non-ASCII symbols mapped, any other
    non-ASCII character shown as its code point (pdflatex has no glyph for it)."""
    return "".join(_TEX_ESC.get(ch) or (_tex_char(ch) if ord(ch) > 126 else ch) for ch in str(s))


def tex_ascii(s: Any) -> str:
    """LaTeX source (statements, derivations) made pdflatex-safe: only non-ASCII characters mapped."""
    return "".join(_tex_char(ch) if ord(ch) > 126 else ch for ch in str(s))


# -- TeX from claim strings: the refusal rule ------------------------------------------------------
#
# Claim statements, the ``$...$`` math of assumptions and the derivations' LaTeX are copied into
# report.tex as LaTeX source. pdflatex runs such source with full access to files (``\input``,
# ``\openin``, ``\write``...) and can redefine anything, so each of these strings passes
# :func:`tex_refusal` first. A string is refused, and then shown as escaped verbatim text with a note
# saying why instead of being typeset, when it holds
#
# - a control word named in :data:`_TEX_REFUSED_NAMES`, or whose name contains one of
#   :data:`_TEX_REFUSED_PARTS` (``input``, ``include``, ``open``, ``write``, ``read``, ``code`` as in
#   ``\catcode``, ``def``, ``csname``, ``command``, ``package``, ``class``, ``makeat``, ``file``,
#   ``pdf``...), or containing ``@``;
# - ``\begin``/``\end`` not followed by ``{name}`` for a math environment of :data:`_TEX_ENVIRONMENTS`;
# - ``^^`` (TeX's character-code escape), an unescaped ``%``, or a control character.
#
# Everything else from outside (ids, sources, messages, evidence, witnesses, prose around ``$...$``)
# is escaped character by character (:func:`tex_text`) and never runs as TeX.

_TEX_REFUSED_NAMES = frozenset(
    "let futurelet glet special shipout immediate font stop dump batchmode nonstopmode scrollmode "
    "errorstopmode message errmessage typeout url href nolinkurl directlua latelua luaexec luadirect "
    "scantokens expandafter noexpand aftergroup afterassignment uppercase lowercase string detokenize "
    "unexpanded global outer long protected input endinput".split()
)
_TEX_REFUSED_PARTS = (
    "input", "include", "open", "close", "write", "read", "code", "def", "csname", "command", "environment",
    "package", "class", "makeat", "file", "pdf", "xetex", "luatex", "explsyntax", "every", "output", "hyper",
    "shell", "verbatim", "listing", "newtoks", "toks", "jobname",
)
_TEX_ENVIRONMENTS = frozenset(
    "align* aligned alignat* alignedat array cases dcases rcases matrix pmatrix bmatrix Bmatrix vmatrix "
    "Vmatrix smallmatrix split gather* gathered subarray".split()
)
_TEX_ENV_ARG = re.compile(r"[ \t]*\{([A-Za-z*]+)\}")


def tex_refusal(src: str) -> str | None:
    """Why the claim LaTeX ``src`` may not be typeset in report.tex (see the rule above), or None."""
    src = str(src)
    if "^^" in src:
        return "^^ (a character-code escape)"
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            m = re.match(r"[A-Za-z@]+", src[i + 1 :])
            if m is None:  # a control symbol such as \, \{ \\ \%: inert
                i += 2
                continue
            name = m.group(0)
            low = name.lower()
            if name in ("begin", "end"):
                env = _TEX_ENV_ARG.match(src, i + 1 + len(name))
                if env is None or env.group(1) not in _TEX_ENVIRONMENTS:
                    return f"\\{name} of an environment other than a math one"
            elif "@" in name or low in _TEX_REFUSED_NAMES or any(part in low for part in _TEX_REFUSED_PARTS):
                return f"\\{name}"
            i += 1 + len(name)
        elif ch == "%":
            return "an unescaped %"
        elif ord(ch) < 32 and ch not in "\n\t":
            return f"control character U+{ord(ch):04X}"
        else:
            i += 1
    return None


def _tex_refused(src: Any, reason: str) -> str:
    """Refused claim LaTeX: a note saying why, then the source as escaped verbatim text."""
    return (
        rf"\textit{{[not typeset: it uses {tex_text(reason)}, which report.tex refuses in claim text]}} "
        rf"\texttt{{{tex_text(src)}}}"
    )


def tex_display(s: Any) -> str:
    """A claim statement as display math, or refused (verbatim with a note)."""
    reason = tex_refusal(s)
    if reason is not None:
        return r"\par\noindent " + _tex_refused(s, reason) + r"\par"
    return rf"\[ {tex_ascii(s)} \]"


def tex_block(s: Any) -> str:
    """A derivation's LaTeX (an ``align*`` block), or refused (verbatim with a note)."""
    reason = tex_refusal(s)
    return tex_ascii(s) if reason is None else r"\par\noindent " + _tex_refused(s, reason) + r"\par"


def tex_mathtext(s: Any) -> str:
    """Prose with ``$...$`` math for LaTeX: text escaped, math kept (non-ASCII mapped in both);
    refused as a whole when a math segment is (see the rule above)."""
    parts = str(s).split("$")
    if len(parts) % 2 == 0:  # an unmatched dollar: all text
        return tex_text(s)
    for k in range(1, len(parts), 2):
        reason = tex_refusal(parts[k])
        if reason is not None:
            return _tex_refused(s, reason)
    return "".join(tex_ascii(f"${p}$") if k % 2 else tex_text(p) for k, p in enumerate(parts))


def tex_cell(value: Any) -> str:
    """A table cell: JSON for structures (as for Markdown), escaped, breakable at commas."""
    return tex_text(cell(value)).replace(",", r",\allowbreak{}")
