r"""Claim strings as LaTeX for report.tex: escaping, non-ASCII for pdflatex, and the refusal of file,
shell and definition primitives (``\input``, ``\write``, ``\catcode``, ``\def``, ``^^`` ...) that a
claim string must never reach TeX with.
"""

from __future__ import annotations

import re
from typing import Any

from .text import cell

__all__ = ["tex_text", "tex_wrap", "tex_ascii", "tex_mathtext", "tex_cell", "tex_display", "tex_equation", "tex_block",
           "tex_refusal", "split_tex", "tex_width", "TEX_ROW_BUDGET_EM"]

#: Row budget (em at 10 pt) of a display: 0.9 of an A4 text width with 2 cm margins (48 em).
TEX_ROW_BUDGET_EM = 40.0

_TEX_ESC = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "$": r"\$", "^": r"\^{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}"}
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


def _tex_chars(s: str) -> str:
    return "".join(_TEX_ESC.get(ch) or (_tex_char(ch) if ord(ch) > 126 else ch) for ch in s)


#: A number with a minus sign (``-0.5``, ``1e-05``, ``−3``): kept in one ``\mbox`` so that no line
#: break separates the sign from its digits.
_SIGNED_NUMBER = re.compile(r"(?<![\w.])[-\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


#: `` = `` and the like in prose (``d = 2``): tied to both neighbours, never a line's first or last word.
_TIED_RELATION = re.compile(r"(?<=\S) (=|<=|>=|<|>|≤|≥|≈|≠) (?=\S)")


def tex_text(s: Any) -> str:
    """Plain text for LaTeX: special characters escaped, known non-ASCII symbols mapped, any other
    non-ASCII character shown as its code point (pdflatex has no glyph for it); a number with a
    minus sign is boxed, so that the sign never ends a line without its digits, and a spaced
    relation (``d = 2``) is tied to its neighbours."""
    parts = _TIED_RELATION.split(str(s))  # text, relation, text, ...
    return "".join(_tex_text_untied(p) if k % 2 == 0 else f"~{_tex_text_untied(p)}~" for k, p in enumerate(parts))


def _tex_text_untied(s: str) -> str:
    out, pos = [], 0
    for m in _SIGNED_NUMBER.finditer(s):
        if "-" in m.group(0) or "\u2212" in m.group(0):
            out.append(_tex_chars(s[pos : m.start()]))
            out.append(r"\mbox{" + _tex_chars(m.group(0)) + "}")
            pos = m.end()
    out.append(_tex_chars(s[pos:]))
    return "".join(out)


#: Characters after which :func:`tex_wrap` allows a line break (ids, paths, JSON, versions).
_BREAK_AFTER = frozenset("./_-,:;=|)]}")
#: The longest run of characters :func:`tex_wrap` leaves without a break opportunity.
_MAX_RUN = 18


def _number_pieces(num: str, size: int = 10) -> str:
    r"""A long number for a narrow cell: pieces of ``size`` characters with a break allowed between
    them; the sign stays in the first piece and the exponent in the last, each piece in an
    ``\mbox`` when it holds a minus sign."""
    m = re.fullmatch(r"(.*?)([eE][-+]?\d+)?", num)
    mantissa, exponent = m.group(1), m.group(2) or ""
    pieces = [mantissa[j : j + size] for j in range(0, len(mantissa), size)] or [""]
    pieces[-1] += exponent
    return r"\allowbreak{}".join(
        r"\mbox{" + _tex_chars(p) + "}" if ("-" in p or "\u2212" in p) else _tex_chars(p) for p in pieces)


def tex_wrap(s: Any) -> str:
    r"""Like :func:`tex_text`, with line breaks allowed (``\allowbreak``) after ``.``, ``_``, ``-``,
    ``,``, ``/``... and inside any run of more than 18 characters without one, never inside a
    number: for ids, JSON and messages, in the typewriter font, which has no hyphenation."""
    s = str(s)
    spans = [(m.start(), m.end()) for m in _SIGNED_NUMBER.finditer(s)]
    out: list[str] = []
    run, k, i = 0, 0, 0
    while i < len(s):
        while k < len(spans) and spans[k][1] <= i:
            k += 1
        if k < len(spans) and spans[k][0] == i:  # a number: boxed pieces (_number_pieces)
            a, b = spans[k]
            out.append(_number_pieces(s[a:b]))
            run = 0
            i = b
            continue
        ch = s[i]
        if run >= _MAX_RUN and not ch.isspace():
            out.append(r"\allowbreak{}")
            run = 0
        out.append(_tex_chars(ch))
        run = 0 if ch.isspace() else run + 1
        if ch in _BREAK_AFTER and i + 1 < len(s) and not s[i + 1].isspace():
            out.append(r"\allowbreak{}")
            run = 0
        i += 1
    return "".join(out)


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
# - ``^^`` (TeX's character-code escape), an unescaped ``%``, or a control character;
# - what would stop pdflatex and so lose the whole PDF: a ``#``, an ``&`` outside an alignment
#   environment, unbalanced braces, environments or ``\left``/``\right``.
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
    braces = envs = lefts = 0
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
                envs += 1 if name == "begin" else -1
            elif "@" in name or low in _TEX_REFUSED_NAMES or any(part in low for part in _TEX_REFUSED_PARTS):
                return f"\\{name}"
            elif name in ("left", "right"):
                lefts += 1 if name == "left" else -1
            i += 1 + len(name)
            continue
        if ch == "%":
            return "an unescaped %"
        if ord(ch) < 32 and ch not in "\n\t":
            return f"control character U+{ord(ch):04X}"
        if ch == "#":
            return "a # (the macro parameter character)"
        if ch == "&" and envs <= 0:
            return "an & outside an alignment environment"
        braces += 1 if ch == "{" else -1 if ch == "}" else 0
        if braces < 0 or envs < 0 or lefts < 0:
            return "unbalanced braces, environments or \\left/\\right"
        i += 1
    if braces or envs or lefts:
        return "unbalanced braces, environments or \\left/\\right"
    return None


def _tex_refused(src: Any, reason: str) -> str:
    """Refused claim LaTeX: a note saying why, then the source as escaped verbatim text."""
    return (
        rf"\textit{{[not typeset: it uses {tex_text(reason)}, which report.tex refuses in claim text]}} "
        rf"\texttt{{{tex_wrap(src)}}}"
    )


def tex_display(s: Any) -> str:
    """A claim statement as display math (broken into rows when long: :func:`tex_equation`), or
    refused (verbatim with a note)."""
    reason = tex_refusal(s)
    if reason is not None:
        return r"\par\noindent " + _tex_refused(s, reason) + r"\par"
    if tex_width(tex_ascii(s)) <= TEX_ROW_BUDGET_EM:
        return rf"\[ {tex_ascii(s)} \]"
    return tex_equation(s)


def tex_equation(s: Any, number: Any = None, budget: float = TEX_ROW_BUDGET_EM) -> str:
    r"""Claim or derivation LaTeX as a display that fits the line: cut into rows of at most
    ``budget`` em (:func:`split_tex`), set in ``aligned`` (continuation rows indented) inside the
    template's ``\fitmath`` (``\stepmath`` after a step's ``number``), which scales a display down only
    if it is still wider than the line.
    Refused LaTeX (:func:`tex_refusal`) is shown as verbatim text with a note; the rows are checked
    again after cutting (the cut adds only ``\left.``, ``\right.``, ``&``, ``\\`` and ``\quad``)."""
    label = "" if number is None else f"({tex_text(number)})"
    reason = tex_refusal(s)
    if reason is not None:
        return rf"\par\noindent \textbf{{{label}}} " + _tex_refused(s, reason) + r"\par"
    src = tex_ascii(s)
    rows = split_tex(src, budget)
    body = src
    if len(rows) > 1:
        cut = r"\begin{aligned}&" + r" \\ &\quad ".join(rows) + r"\end{aligned}"
        if tex_refusal(cut) is None:
            body = cut
    return rf"\stepmath{{{label}}}{{{body}}}" if number is not None else rf"\fitmath{{{body}}}"


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
    """A table cell: JSON for structures (as for Markdown), escaped, breakable (:func:`tex_wrap`)."""
    return tex_wrap(cell(value))


# -- layout: long displays broken into rows ------------------------------------------------------
#
# A derivation step or claim statement too wide for the page is cut, in the LaTeX source, before a
# top-level relation (``=``, ``\le``...) or binary ``+``/``-`` (never a unary minus), after the
# source has passed :func:`tex_refusal`. "Top level" is outside braces, ``\left...\right`` pairs and
# environments; a ``\left(...\right)`` group alone wider than a row is opened (cut inside, each row
# closed with ``\right.`` and reopened with ``\left.``). Widths are estimated in em of the 10 pt
# font (:func:`tex_width`); the rows go into ``aligned`` inside the template's ``\l2lfit``, which
# also scales down a display that is still wider than the line (never an overfull box).


_TEX_REL = {"=", "<", ">", r"\le", r"\ge", r"\leq", r"\geq", r"\ne", r"\neq", r"\approx", r"\sim", r"\equiv",
            r"\to", r"\lt", r"\gt"}
_TEX_BIN = {"+", "-", r"\pm", r"\mp"}
_TEX_ARG_WIDTH = {"frac": "max", "dfrac": "max", "tfrac": "max", "binom": "max", "sqrt": "plus1"}
_TEX_WIDE = {"sum": 1.6, "prod": 1.6, "int": 1.0, "quad": 1.0, "qquad": 2.0, "cdot": 0.8, "cdots": 1.3,
             "ldots": 1.3, "dots": 1.3, "infty": 1.0, "left": 0.0, "right": 0.0, "middle": 0.0,
             "limits": 0.0, "displaystyle": 0.0, "textstyle": 0.0, "nonumber": 0.0}
_TEX_TEXTLIKE = {"text", "textrm", "textit", "textbf", "mbox", "operatorname", "mathrm", "texttt"}


class _Atom:
    """One unit of a LaTeX formula: its source span, estimated width (em) and kind (``rel``,
    ``bin``, ``space``, ``open`` for a ``\\left...\\right`` group, else ``atom``)."""

    __slots__ = ("start", "end", "width", "kind", "inner", "inner_start", "inner_end")

    def __init__(self, start: int, end: int, width: float, kind: str = "atom") -> None:
        self.start, self.end, self.width, self.kind = start, end, width, kind
        self.inner: list[_Atom] = []
        self.inner_start = self.inner_end = start


def _skip_group(src: str, i: int) -> int:
    """The index after the brace group starting at ``src[i] == "{"`` (backslash-escapes skipped)."""
    depth = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _delimiter_end(src: str, i: int) -> int:
    """The index after the delimiter that follows ``\\left``/``\\right``/``\\middle`` at ``i``."""
    while i < len(src) and src[i] == " ":
        i += 1
    if i < len(src) and src[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", src[i:])
        return i + (len(m.group(0)) if m else 1)
    return min(i + 1, len(src))


def _parse_tex(src: str, i: int, stop: int) -> list[_Atom]:
    """The atoms of ``src[i:stop]`` at its top level (see :class:`_Atom`)."""
    atoms: list[_Atom] = []
    while i < stop:
        ch = src[i]
        if ch in " \t\n":
            j = i
            while j < stop and src[j] in " \t\n":
                j += 1
            atoms.append(_Atom(i, j, 0.0, "space"))
            i = j
        elif ch in "^_":
            j = i + 1
            while j < stop and src[j] == " ":
                j += 1
            if j < stop and src[j] == "{":
                end = _skip_group(src, j)
                w = _tex_seq_width(_parse_tex(src, j + 1, end - 1))
            elif j < stop and src[j] == "\\":
                m = re.match(r"\\([A-Za-z]+|.)", src[j:stop])
                end, w = j + len(m.group(0)), 0.6
            else:
                end, w = min(j + 1, stop), 0.56
            base = next((a for a in reversed(atoms) if a.kind != "space"), None)
            w *= 0.72
            if base is not None and base.kind != "space" and atoms[-1] is base:
                base.end = end  # the script belongs to its base
                base.width += w
            else:
                atoms.append(_Atom(i, end, w))
            i = end
        elif ch == "{":
            end = _skip_group(src, i)
            atoms.append(_Atom(i, end, _tex_seq_width(_parse_tex(src, i + 1, end - 1))))
            i = end
        elif ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", src[i:stop])
            word = m.group(1) if m else ""
            j = i + len(m.group(0)) if m else i + 1
            if word == "left":
                open_end = _delimiter_end(src, j)
                close = _matching_right(src, open_end, stop)
                close_end = _delimiter_end(src, close + len(r"\right"))
                inner = _parse_tex(src, open_end, close)
                a = _Atom(i, close_end, _tex_seq_width(inner) + 0.84, "open")
                a.inner, a.inner_start, a.inner_end = inner, open_end, close
                atoms.append(a)
                i = close_end
            elif word == "begin":
                end = _matching_end(src, i, stop)
                atoms.append(_Atom(i, end, _env_width(src, i, end)))
                i = end
            elif ("\\" + word) in _TEX_REL:
                atoms.append(_Atom(i, j, 1.6, "rel"))
                i = j
            elif ("\\" + word) in _TEX_BIN:
                atoms.append(_Atom(i, j, 1.3, "bin"))
                i = j
            elif word in (",", ":", ";", "!", " "):
                atoms.append(_Atom(i, j, {",": 0.17, ":": 0.22, ";": 0.28, "!": -0.17, " ": 0.33}[word]))
                i = j
            else:
                args = []
                while j < stop and src[j] == "{":
                    end = _skip_group(src, j)
                    args.append((j + 1, end - 1))
                    j = end
                if word in _TEX_TEXTLIKE:
                    w = sum(0.5 * len(src[a:b]) for a, b in args)
                elif _TEX_ARG_WIDTH.get(word) == "max":
                    w = max((_tex_seq_width(_parse_tex(src, a, b)) for a, b in args), default=0.0) + 0.3
                else:
                    w = sum(_tex_seq_width(_parse_tex(src, a, b)) for a, b in args)
                    if not args:
                        w = _TEX_WIDE.get(word, 0.6)
                    elif word == "sqrt":
                        w += 1.0
                atoms.append(_Atom(i, j, w))
                i = j
        elif ch in "=<>":
            atoms.append(_Atom(i, i + 1, 1.6, "rel"))
            i += 1
        elif ch in "+-":
            atoms.append(_Atom(i, i + 1, 1.3, "bin"))
            i += 1
        else:
            atoms.append(_Atom(i, i + 1, 0.3 if ch in ",;.'" else 0.42 if ch in "()[]|" else 0.56))
            i += 1
    return atoms


def _matching_right(src: str, i: int, stop: int) -> int:
    """The index of the ``\\right`` that closes a ``\\left`` whose delimiter ends at ``i``."""
    depth = 1
    for m in re.finditer(r"\\(left|right)(?![A-Za-z])|\\.", src[i:stop]):
        if m.group(1) == "left":
            depth += 1
        elif m.group(1) == "right":
            depth -= 1
            if depth == 0:
                return i + m.start()
    return stop


def _matching_end(src: str, i: int, stop: int) -> int:
    """The index after the ``\\end{...}`` that closes the ``\\begin{...}`` at ``i``."""
    depth = 0
    for m in re.finditer(r"\\(begin|end)\s*\{[^}]*\}|\\.", src[i:stop]):
        if m.group(1) == "begin":
            depth += 1
        elif m.group(1) == "end":
            depth -= 1
            if depth == 0:
                return i + m.end()
    return stop


def _env_width(src: str, start: int, end: int) -> float:
    """A ``matrix``/``cases``-like environment: the sum of its columns' widest cells."""
    body = re.sub(r"^\\begin\s*\{[^}]*\}(\{[^}]*\})?|\\end\s*\{[^}]*\}$", "", src[start:end])
    cols: list[float] = []
    for row in _split_top(body, r"\\"):
        for k, cell in enumerate(_split_top(row, "&")):
            w = _tex_seq_width(_parse_tex(cell, 0, len(cell)))
            cols[k : k + 1] = [max(cols[k], w)] if k < len(cols) else [w]
    return sum(cols) + 1.0 * max(len(cols) - 1, 0) + 0.5


def _split_top(src: str, sep: str) -> list[str]:
    """``src`` split at ``sep`` outside braces and environments."""
    out, depth, env, last, i = [], 0, 0, 0, 0
    while i < len(src):
        if src.startswith(sep, i) and depth == 0 and env == 0:
            out.append(src[last:i])
            i += len(sep)
            last = i
            continue
        ch = src[i]
        if ch == "\\":
            m = re.match(r"\\(begin|end)(?![A-Za-z])", src[i:])
            if m:
                env += 1 if m.group(1) == "begin" else -1
            i += 2 if src[i + 1 : i + 2] == "\\" else 1 + (len(m.group(0)) - 1 if m else 1)
            continue
        depth += ch == "{"
        depth -= ch == "}"
        i += 1
    out.append(src[last:])
    return out


def _tex_seq_width(atoms: list[_Atom]) -> float:
    return sum(a.width for a in atoms)


def tex_width(src: str) -> float:
    """An estimate of the width, in em, of the LaTeX formula ``src`` set in display style."""
    return _tex_seq_width(_parse_tex(src, 0, len(src)))


def _tex_breakable(src: str, seq: list, k: int, depth: int) -> bool:
    """Whether a row may start at ``seq[k]``: outside brackets, a relation or a binary ``+``/``-``
    after an operand, a ``\\text``, or whatever follows a comma, semicolon or colon."""
    a = seq[k]
    if depth or not isinstance(a, _Atom) or a.kind == "space":
        return False
    prev = next((p for p in reversed(seq[:k]) if not (isinstance(p, _Atom) and p.kind == "space")), None)
    if a.kind in ("rel", "bin"):
        return isinstance(prev, _Atom) and prev.kind not in ("rel", "bin")
    if src.startswith(r"\text", a.start):
        return prev is not None
    return (isinstance(prev, _Atom) and src[prev.start : prev.end] in (",", ";", ":")
            and src[a.start : a.end] not in (")", "]", r"\}"))


def _tex_depths(src: str, seq: list) -> list[int]:
    """The bracket depth before each item of ``seq`` (plain ``(``, ``[``, ``\\{``; not the opened groups)."""
    out, depth = [], 0
    for a in seq:
        text = src[a.start : a.end] if isinstance(a, _Atom) else ""
        if text.startswith((")", "]", r"\}")):  # ``)^{2}``: a script belongs to its fence
            depth = max(depth - 1, 0)
        out.append(depth)
        if text in ("(", "[", r"\{"):
            depth += 1
    return out


def split_tex(src: str, budget: float = TEX_ROW_BUDGET_EM) -> list[str]:
    r"""The LaTeX formula ``src`` cut into rows estimated at most ``budget`` em wide (see the
    comment above); one row when it fits or cannot be cut. Each row is balanced: a group opened
    across rows ends a row with ``\right.`` and starts the next with ``\left.``.

    >>> split_tex(r"a = b + c", budget=100)
    ['a = b + c']
    >>> rows = split_tex(r"x = " + " + ".join(["y_{%d}" % k for k in range(30)]), budget=20)
    >>> rows[0][:11], all(r.startswith("+ y_") for r in rows[1:]), max(map(tex_width, rows)) <= 20
    ('x = y_{0} +', True, True)
    >>> rows = split_tex(r"z = 2 \left(" + " + ".join(["y_{%d}" % k for k in range(30)]) + r"\right)", budget=20)
    >>> rows[0][:15], rows[0][-7:], rows[1][:7], rows[-1][-7:]
    ('z = 2 \\left( y_', '\\right.', '\\left. ', '\\right)')
    """
    seq: list = _parse_tex(src, 0, len(src))
    if _tex_seq_width(seq) <= budget:
        return [src.strip()]

    def widths(items: list) -> float:
        return sum(a.width for a in items if isinstance(a, _Atom))

    def segments(items: list) -> list[list]:
        segs: list[list] = [[]]
        for k, (a, depth) in enumerate(zip(items, _tex_depths(src, items))):
            if widths(segs[-1]) > 0 and _tex_breakable(src, items, k, depth):
                segs.append([])
            segs[-1].append(a)
        return segs

    for _ in range(8):  # open the widest \left...\right group of a too-wide segment
        wide = [a for s in segments(seq) if widths(s) > budget for a in s if isinstance(a, _Atom) and a.kind == "open"]
        if not wide:
            break
        g = max(wide, key=lambda a: a.width)
        k = seq.index(g)
        seq = seq[:k] + [("(", g.start, g.inner_start)] + g.inner + [(")", g.inner_end, g.end)] + seq[k + 1 :]
    rows: list[list] = []
    seen_rel = False
    segs = segments(seq)

    def starts_with_rel(seg: list) -> bool:
        head = next((a for a in seg if isinstance(a, _Atom) and a.kind != "space"), None)
        return head is not None and head.kind == "rel"

    # as in the HTML (mathml.split_rows): an equation's relation after a continuation row, or its
    # second relation, starts a row; prose with many relations is packed as it comes
    n_rel = sum(map(starts_with_rel, segs))
    for seg in segs:
        rel = starts_with_rel(seg) and n_rel <= 2
        if rows and widths(rows[-1]) + widths(seg) <= budget and not (rel and (seen_rel or len(rows) > 1)):
            rows[-1].extend(seg)
        else:
            rows.append(list(seg))
        seen_rel = seen_rel or rel or any(isinstance(a, _Atom) and a.kind == "rel" for a in seg)
    out, depth = [], 0
    for row in rows:
        text = r"\left. " * depth
        for a in row:
            if isinstance(a, _Atom):
                text += src[a.start : a.end]
            else:
                text += src[a[1] : a[2]] + " "
                depth += 1 if a[0] == "(" else -1
        out.append((text.strip() + r" \right." * depth).strip())
    return out
