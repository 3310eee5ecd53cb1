r"""The one printer of :mod:`theory.printing` (issue 12, point 1): maths as a paper writes it.

* each notation node of :mod:`theory.expectation.notation` in LaTeX and in MathML (the expected
  strings are written by hand: they are what a reader should see);
* signs (``w - eta g``, never ``(-1)``), for scalars and matrices, in both printers;
* symbol names written in LaTeX or as Greek words print the same way, never as a LaTeX command
  inside a MathML identifier;
* a sweep over every registered derivation: the report's MathML of each step (through
  :func:`proofs.report.mathml.step_mathml`) has no text node holding a backslash or an internal
  class name, never falls back to ``<code>``, and each step's LaTeX is structurally sound; the
  checkers are shown to catch what SymPy's stock printers produce (negative controls).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import sympy
from sympy import Identity, IndexedBase, MatrixSymbol, Symbol
from sympy.printing.mathml import MathMLPresentationPrinter

from l2l.proofs.report.mathml import step_mathml
from l2l.theory import registry
from l2l.theory.derivation import Step
from l2l.theory.expectation.notation import Avg, Entry, Row, Sc, expect, tangent_of
from l2l.theory.printing import latex, mathml, relation_latex, text

d = Symbol("d", integer=True, positive=True)
n = Symbol("n", integer=True, positive=True)
j = Symbol("j", integer=True, positive=True)
eta = Symbol("eta")
X, y = MatrixSymbol("X", n, d), MatrixSymbol("y", n, 1)
w, g, x, M = MatrixSymbol("w", d, 1), MatrixSymbol("g", d, 1), MatrixSymbol("x", d, 1), MatrixSymbol("M", d, d)
x_, y_ = Symbol("x"), Symbol("y")
IT = "\u2062"  # invisible times

# ------------------------------------------------------------------------------------------------
# the notation nodes, one by one

NODES = {
    "Sc": (
        Sc(x.T * w),
        r"\left(x^{\top} w\right)",
        f"<mrow><mo>(</mo><mrow><msup><mi>x</mi><mo>⊤</mo></msup><mo>{IT}</mo><mi>w</mi></mrow><mo>)</mo></mrow>",
    ),
    "Row": (Row(X, j, x_), "x_{j}", "<msub><mi>x</mi><mi>j</mi></msub>"),
    "RowT": (Row(X, j, x_).T, r"x_{j}^{\top}", "<msubsup><mi>x</mi><mi>j</mi><mo>⊤</mo></msubsup>"),
    "Entry": (Entry(y, j, y_), "y_{j}", "<msub><mi>y</mi><mi>j</mi></msub>"),
    "MatAvg": (
        Avg(Row(X, j, x_) * Row(X, j, x_).T, j, n),
        r"\frac{1}{n} \sum_{j=1}^{n} x_{j} x_{j}^{\top}",
        "<mrow><mfrac><mn>1</mn><mi>n</mi></mfrac><munderover><mo>∑</mo><mrow><mi>j</mi><mo>=</mo><mn>1</mn></mrow>"
        f"<mi>n</mi></munderover><mrow><msub><mi>x</mi><mi>j</mi></msub><mo>{IT}</mo>"
        "<msubsup><mi>x</mi><mi>j</mi><mo>⊤</mo></msubsup></mrow></mrow>",
    ),
    "ScalarAvg": (
        Avg(Entry(y, j, y_) - Sc(Row(X, j, x_).T * w), j, n),
        r"\frac{1}{n} \sum_{j=1}^{n} \left(y_{j} - \left(x_{j}^{\top} w\right)\right)",
        "<mrow><mfrac><mn>1</mn><mi>n</mi></mfrac><munderover><mo>∑</mo><mrow><mi>j</mi><mo>=</mo><mn>1</mn></mrow>"
        "<mi>n</mi></munderover><mrow><mo>(</mo><mrow><msub><mi>y</mi><mi>j</mi></msub><mo>−</mo><mrow><mo>(</mo>"
        f"<mrow><msubsup><mi>x</mi><mi>j</mi><mo>⊤</mo></msubsup><mo>{IT}</mo><mi>w</mi></mrow><mo>)</mo></mrow>"
        "</mrow><mo>)</mo></mrow></mrow>",
    ),
    "MatExpect": (
        expect(w * w.T),
        r"\mathbb{E}\left[w w^{\top}\right]",
        f"<mrow><mi>𝔼</mi><mo>[</mo><mrow><mi>w</mi><mo>{IT}</mo><msup><mi>w</mi><mo>⊤</mo></msup></mrow><mo>]</mo></mrow>",
    ),
    "MatExpect-given": (
        expect(g, w),
        r"\mathbb{E}\left[g \,\middle|\, w\right]",
        "<mrow><mi>𝔼</mi><mo>[</mo><mi>g</mi><mo>|</mo><mi>w</mi><mo>]</mo></mrow>",
    ),
    "ScalarExpect": (  # the parentheses of Sc are dropped inside the brackets
        expect(Sc(w.T * w)),
        r"\mathbb{E}\left[w^{\top} w\right]",
        f"<mrow><mi>𝔼</mi><mo>[</mo><mrow><msup><mi>w</mi><mo>⊤</mo></msup><mo>{IT}</mo><mi>w</mi></mrow><mo>]</mo></mrow>",
    ),
    "MatTangent": (
        tangent_of(M * w, [(M, MatrixSymbol("Mdot", d, d))], eta),
        r"\frac{\mathrm{d}}{\mathrm{d}\eta} \left(M w\right)",
        '<mrow><mfrac><mi mathvariant="normal">d</mi><mrow><mi mathvariant="normal">d</mi><mi>η</mi></mrow></mfrac>'
        f"<mrow><mo>(</mo><mrow><mi>M</mi><mo>{IT}</mo><mi>w</mi></mrow><mo>)</mo></mrow></mrow>",
    ),
    "ScalarTangent": (
        tangent_of(Symbol("Lbar"), [(Symbol("Lbar"), Symbol("Lbardot"))], eta),
        r"\frac{\mathrm{d}}{\mathrm{d}\eta} \bar{L}",
        '<mrow><mfrac><mi mathvariant="normal">d</mi><mrow><mi mathvariant="normal">d</mi><mi>η</mi></mrow></mfrac>'
        '<mover accent="true"><mi>L</mi><mo>¯</mo></mover></mrow>',
    ),
}


@pytest.mark.parametrize("key", NODES)
def test_notation_node_latex(key):
    expr, tex, _ = NODES[key]
    assert latex(expr) == tex


@pytest.mark.parametrize("key", NODES)
def test_notation_node_mathml(key):
    expr, _, mml = NODES[key]
    assert mathml(expr) == mml


def test_every_notation_class_is_covered():
    from l2l.theory.expectation import notation

    printed = {type(expr).__name__ for expr, _, _ in NODES.values()}
    assert {cls.__name__ for cls in notation.CUSTOM} | {"Sc"} <= printed


def test_an_average_inside_a_product_is_parenthesised():
    avg = Avg(Row(X, j, x_) * Row(X, j, x_).T, j, n)
    assert latex(avg * M) == r"\left(\frac{1}{n} \sum_{j=1}^{n} x_{j} x_{j}^{\top}\right) M"
    assert mathml(avg * M).startswith("<mrow><mrow><mo>(</mo><mrow><mfrac>")


# ------------------------------------------------------------------------------------------------
# signs


@pytest.mark.parametrize(
    "expr",
    [w - eta * g, Symbol("w") - eta * Symbol("g"), -eta * g + w, w + (-1) * eta * g],
    ids=["matrix", "scalar", "matrix-reordered", "matrix-times-minus-one"],
)
def test_subtraction_reads_w_minus_eta_g(expr):
    assert latex(expr) == r"w - \eta g"
    assert text(expr) == "w - eta*g"
    assert mathml(expr) == f"<mrow><mi>w</mi><mo>−</mo><mrow><mi>η</mi><mo>{IT}</mo><mi>g</mi></mrow></mrow>"


def test_signs_of_matrix_products_and_scalar_sums():
    H = MatrixSymbol("H", d, d)
    assert latex(-eta * g) == r"- \eta g"
    assert mathml(-eta * g) == f"<mrow><mo>−</mo><mi>η</mi><mo>{IT}</mo><mi>g</mi></mrow>"
    assert latex((Identity(d) - eta * H) * w) == r"\left(\mathbb{I} - \eta H\right) w"
    assert latex(1 - eta * IndexedBase("lambda")[Symbol("i")]) == r"1 - \eta \lambda_{i}"
    assert latex(-Symbol("a") + Symbol("b") - Symbol("c")) == "b - a - c"  # only the first positive term moves
    for expr in (w - eta * (H * w - MatrixSymbol("b", d, 1)), (Identity(d) - eta * H) * M * (Identity(d) - eta * H.T)):
        assert "(-1)" not in latex(expr) and "<mn>-1</mn>" not in mathml(expr) and "<mn>−1</mn>" not in mathml(expr)


# ------------------------------------------------------------------------------------------------
# symbol names

NAMES = {
    r"\varepsilon": (r"\varepsilon", "<mi>ε</mi>"),
    "varepsilon": (r"\varepsilon", "<mi>ε</mi>"),
    "epsilon": (r"\varepsilon", "<mi>ε</mi>"),
    "xi": (r"\xi", "<mi>ξ</mi>"),
    r"\xi": (r"\xi", "<mi>ξ</mi>"),
    r"\xi_v": (r"\xi_{v}", "<msub><mi>ξ</mi><mi>v</mi></msub>"),
    "eta": (r"\eta", "<mi>η</mi>"),
    "Sigma": (r"\Sigma", '<mi mathvariant="normal">Σ</mi>'),
    r"\bar{g}(w)": (r"\bar{g}(w)", '<mrow><mover accent="true"><mi>g</mi><mo>¯</mo></mover><mo>(</mo><mi>w</mi><mo>)</mo></mrow>'),
    "gbar(w)": (r"\bar{g}(w)", '<mrow><mover accent="true"><mi>g</mi><mo>¯</mo></mover><mo>(</mo><mi>w</mi><mo>)</mo></mrow>'),
    "w'": ("w'", "<msup><mi>w</mi><mo>′</mo></msup>"),
    "theta'": (r"\theta'", "<msup><mi>θ</mi><mo>′</mo></msup>"),
    "Mdot'_e": (r"\dot{M}'_{e}", '<msubsup><mover accent="true"><mi>M</mi><mo>˙</mo></mover><mi>e</mi><mo>′</mo></msubsup>'),
    r"\dot{M}'_e": (r"\dot{M}'_{e}", '<msubsup><mover accent="true"><mi>M</mi><mo>˙</mo></mover><mi>e</mi><mo>′</mo></msubsup>'),
    "Lbardot": (r"\dot{\bar{L}}", '<mover accent="true"><mover accent="true"><mi>L</mi><mo>¯</mo></mover><mo>˙</mo></mover>'),
    r"\dot{\bar{L}}": (r"\dot{\bar{L}}", '<mover accent="true"><mover accent="true"><mi>L</mi><mo>¯</mo></mover><mo>˙</mo></mover>'),
    "Fhat_TbT": (r"\hat{F}_{\mathrm{TbT}}", '<msub><mover accent="true"><mi>F</mi><mo>^</mo></mover><mi>TbT</mi></msub>'),
    "alpha_eff": (r"\alpha_{\mathrm{eff}}", "<msub><mi>α</mi><mi>eff</mi></msub>"),
    "m_theta": (r"m_{\theta}", "<msub><mi>m</mi><mi>θ</mi></msub>"),
    "s^*": ("s^{*}", "<msup><mi>s</mi><mo>∗</mo></msup>"),
    "ell_*": (r"\ell_{*}", "<msub><mi>ℓ</mi><mo>∗</mo></msub>"),
    "r2": ("r_{2}", "<msub><mi>r</mi><mn>2</mn></msub>"),
    "beta^v": (r"\beta^{v}", "<msup><mi>β</mi><mi>v</mi></msup>"),
}


@pytest.mark.parametrize("name", NAMES)
def test_symbol_names_print_as_a_paper_writes_them(name):
    tex, mml = NAMES[name]
    assert latex(Symbol(name)) == tex
    assert mathml(Symbol(name)) == mml


def test_transposes_join_the_superscript():
    assert latex(MatrixSymbol("w^*", d, 1).T) == r"w^{* \top}"
    assert latex(MatrixSymbol("w'", d, 1).T) == r"w^{\prime \top}"  # not the double superscript w'^{T}
    assert latex(MatrixSymbol("gbar(w)", d, 1).T) == r"\bar{g}(w)^{\top}"
    assert mathml(MatrixSymbol("w^*", d, 1).T) == "<msup><mi>w</mi><mrow><mo>∗</mo><mo>⊤</mo></mrow></msup>"


def test_unreadable_names_are_shown_as_text_not_run():
    evil = "</math><script>x</script>"
    assert latex(Symbol(evil)) == r"\text{</math><script>x</script>}"
    assert mathml(Symbol(evil)) == "<mi>&lt;/math&gt;&lt;script&gt;x&lt;/script&gt;</mi>"
    assert mathml(Symbol(r"\foo")) == "<mi>foo</mi>"  # an unknown command loses its backslash


def test_relation_latex():
    assert relation_latex(Symbol("rho"), ">=", (Symbol("L") - Symbol("alpha")) / Symbol("K")) == r"\rho \ge \frac{L - \alpha}{K}"


# ------------------------------------------------------------------------------------------------
# checkers and the sweep over every registered derivation

#: Class names that must never be shown as identifiers or operators.
INTERNAL = {"matexpect", "matavg", "scalaravg", "scalarexpect", "entry", "rowt", "row", "sc", "mattangent",
            "scalartangent", "subs", "trace", "determinant"}


def mathml_problems(markup: str) -> list[str]:
    """What is wrong with a formula of the report: a ``<code>`` fallback, a text node with a
    backslash (a LaTeX command shown as text), an internal class name as ``<mi>``/``<mo>``, or a
    ``(-1)`` factor."""
    if "<code" in markup:
        return ["fell back to <code>"]
    out = []
    for el in ET.fromstring(markup).iter():
        text = (el.text or "").strip()
        if "\\" in text:
            out.append(f"backslash in <{el.tag}>{text}")
        if el.tag in ("mi", "mo") and text.lower() in INTERNAL:
            out.append(f"internal name <{el.tag}>{text}")
    if re.search(r"<mo>\(</mo><mn>[-−]1</mn><mo>\)</mo>", markup):
        out.append("a (-1) factor")
    return out


def latex_problems(tex: str) -> list[str]:
    """Structural faults of a LaTeX formula: unbalanced braces or ``\\left``/``\\right``, a double
    superscript or subscript, internal names, text shown for an unreadable symbol name."""
    out = []
    stack: list[str] = []
    scripts = []  # (kind, index of the closing brace) of every braced script
    k = 0
    while k < len(tex):
        if tex.startswith(("\\{", "\\}", "\\|"), k):
            k += 2
            continue
        if tex.startswith("\\left", k):
            stack.append("left")
        elif tex.startswith("\\right", k):
            if not stack or stack.pop() != "left":
                out.append(f"unbalanced \\right at {k}")
        elif tex[k] == "{":
            stack.append(("{", tex[k - 1] if k else "", k))  # type: ignore[arg-type]
        elif tex[k] == "}":
            top = stack.pop() if stack else None
            if not isinstance(top, tuple):
                out.append(f"unbalanced }} at {k}")
            elif top[1] in "^_":
                scripts.append((top[1], k))
        k += 1
    if stack:
        out.append(f"unclosed {stack[-1]!r}")
    for kind, end in scripts:
        if tex[end + 1 : end + 2] == kind:
            out.append(f"double {'superscript' if kind == '^' else 'subscript'} at {end}")
    if re.search(r"'_\{[^{}]*\}\^", tex):
        out.append("double superscript after a prime")
    if re.search(r"\\text\{", tex):
        out.append("a symbol name shown as text")
    for m in re.finditer(r"\\operatorname\{([^{}]*)\}", tex):
        if m.group(1) != "tr":
            out.append(f"operator name {m.group(1)}")
    if re.search(r"\b(" + "|".join(sorted(INTERNAL - {"row", "entry", "sc", "subs", "trace"})) + r")\b", tex.lower()):
        out.append("an internal class name")
    return out


def _steps():
    for name in registry.names():
        for k, step in enumerate(registry.get(name).steps, start=1):
            yield name, k, step


@pytest.mark.parametrize("name", registry.names())
def test_every_step_mathml_is_clean(name):
    bad = {}
    for k, step in enumerate(registry.get(name).steps, start=1):
        markup = step_mathml(step)
        assert markup.startswith('<math display="block">'), (name, k)
        problems = mathml_problems(markup)
        if problems:
            bad[k] = problems
    assert not bad, (name, bad)


@pytest.mark.parametrize("name", registry.names())
def test_every_step_latex_is_sound(name):
    bad = {}
    for k, step in enumerate(registry.get(name).steps, start=1):
        problems = latex_problems(step.latex())
        if problems:
            bad[k] = problems
    assert not bad, (name, bad)


CONTROLS = {
    "latex-name": (X * w + MatrixSymbol(r"\xi", n, 1), "backslash"),  # a deliberately unmapped \xi
    "notation-node": (expect(w * w.T), "internal name"),
    "minus-one": (w - eta * g, "(-1)"),
}


@pytest.mark.parametrize("key", CONTROLS)
def test_the_mathml_checker_catches_sympys_stock_printer(key, monkeypatch):
    """Negative control: were the report to print steps with SymPy's own presentation printer (as it
    did before), a LaTeX-named symbol would show as ``<mi>\\xi</mi>``, a notation node by its class
    name and ``-eta g`` with a ``(-1)``: the checker finds each, so the clean sweep is not vacuous."""
    expr, fault = CONTROLS[key]
    step = Step(Symbol("z"), "=", expr, "control")
    assert mathml_problems(step_mathml(step)) == []  # the package's printer
    monkeypatch.setattr("l2l.theory.printing.mathml_element", lambda e: MathMLPresentationPrinter()._print(e))
    assert any(fault in p for p in mathml_problems(step_mathml(step)))  # SymPy's stock printer
    assert mathml_problems('<code class="step">x</code>') == ["fell back to <code>"]


def test_the_latex_checker_catches_faults():
    assert latex_problems(r"\left(x") == ["unclosed 'left'"]
    assert latex_problems(r"x\right)")[0].startswith("unbalanced")
    assert latex_problems(r"{x^{2}}^{3}") == []
    assert latex_problems(r"x^{2}^{3}") == ["double superscript at 4"]
    assert latex_problems(r"m'_{e}^{2}") == ["double superscript after a prime"]
    assert "an internal class name" in latex_problems(sympy.latex(expect(w * w.T)))  # SymPy's stock printer


def test_a_step_with_notation_nodes_prints_through_the_report():
    step = Step(expect(Sc(w.T * w)), "=", Sc(w.T * w), "test")
    assert step.latex() == r"\mathbb{E}\left[w^{\top} w\right] = \left(w^{\top} w\right)"
    markup = step_mathml(step)
    assert mathml_problems(markup) == [] and "<mi>𝔼</mi>" in markup


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine (pdflatex) installed")
def test_every_step_latex_compiles(tmp_path):
    """With pdflatex present, every step of every derivation typesets (one document, amsmath)."""
    body = "\n".join(rf"\[ {step.latex()} \]" for _, _, step in _steps())
    doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\n\\end{document}\n"
    (tmp_path / "steps.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "steps.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and not errors, errors or proc.stdout[-2000:]
