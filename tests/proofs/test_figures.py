"""The report's figures (issue 12): one style, two sizes, three forms, readable captions, legends
that cover no curve, deterministic bytes, and a cache that changes nothing but the time.

The figures checked are the README main job's (``l2l report``, drawn in two worker processes and
read back from the session's disk cache), drawn once more here to compare bytes; speed is measured
in ``benchmarks/report_figures.py``, not here.
"""

from __future__ import annotations

import re
import struct

import pytest

from l2l.proofs import papers as paper_registry
from l2l.proofs.report import figures as F
from l2l.proofs.report.latex import tex_refusal
from l2l.proofs.report.mathml import latex_to_mathml

ALLOWED_PIXELS = {(round(w * F.DPI), round(h * F.DPI)) for w, h in F.SIZES.values()}
MIN_PT = 9.0


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        mp.delenv("L2L_NO_CACHE", raising=False)
        yield


@pytest.fixture(scope="module")
def builtin() -> list:
    return [p for p in paper_registry.papers() if p.module in paper_registry.BUILTIN]


@pytest.fixture(scope="module")
def drawn(main_job_report, builtin) -> list:
    """The figures the README main job (``l2l report``: its claims, then two worker processes)
    drew, read back from its disk cache (the session's, tests/conftest.py): every figure must be
    there, so these are the report's own figures."""
    plan = F.FigurePlan(builtin)
    assert plan.names == [], f"figures the main job did not cache: {plan.names}"
    return plan.finish([])


def test_every_builtin_paper_draws_its_specs(drawn, builtin):
    for p in builtin:
        specs = F._figure_function(p.figures).specs
        assert [f.name for f in drawn if f.paper == p.key] == [s.name for s in specs], p.key
    assert len({f.name for f in drawn}) == len(drawn) >= 9


def test_three_forms_at_an_allowed_size(drawn):
    for f in drawn:
        assert f.png[:8] == b"\x89PNG\r\n\x1a\n", f.name
        assert struct.unpack(">II", f.png[16:24]) in ALLOWED_PIXELS, f.name
        assert (f.width_in, f.height_in) in F.SIZES.values(), f.name
        assert f.svg.startswith("<svg") and f.svg.endswith("</svg>") and "<metadata>" not in f.svg, f.name
        assert f.pdf.startswith(b"%PDF") and b"/CreationDate" not in f.pdf and b"/Producer" not in f.pdf, f.name


def test_text_is_large_enough_and_legends_cover_no_curve(drawn):
    for f in drawn:
        assert f.font_pt.get("tick", 0) >= MIN_PT and f.font_pt.get("label", 0) >= MIN_PT, (f.name, f.font_pt)
        assert min(f.font_pt.values()) >= MIN_PT, (f.name, f.font_pt)
        assert f.legend_covers == 0, f"{f.name}: a legend lies on {f.legend_covers} line(s)"


#: What a caption or title must not contain outside its $...$ math: identifiers with underscores
#: (function and variable names), calls like ``name(``, dotted module paths.
CODE = re.compile(r"\b\w*_\w*\b|\b[A-Za-z_][\w.]*\(|\b[a-z]+\.[a-z]+\b|`")


def _prose(text: str) -> str:
    return re.sub(r"\$[^$]*\$", "", text)


@pytest.mark.parametrize("field", ["title", "caption"])
def test_captions_are_words_not_code(drawn, field):
    for f in drawn:
        text = getattr(f, field)
        assert text.count("$") % 2 == 0, (f.name, text)
        found = CODE.findall(_prose(text))
        assert not found, (f.name, found)
        for math in re.findall(r"\$([^$]*)\$", text):
            assert not latex_to_mathml(math).startswith("<code"), (f.name, math)  # MathML in HTML
            assert tex_refusal(math) is None, (f.name, math)  # typeset by LaTeX


def test_caption_pattern_catches_code():
    for bad in ("make_gaussian_quadratic(0, 20)", "numerics.quadratic.stable.evaluate", "eta_star", "rng = default_rng(1)"):
        assert CODE.search(_prose(bad)), bad
    assert not CODE.search(_prose(r"Theorem 4(ii), $w_t$ and $f(w)$, e g L-BFGS-B, 2/(L + alpha)"))


def test_deterministic_in_any_worker_and_through_the_cache(drawn, builtin):
    """Drawn again here, in one process, from the numbers the main job's claims published: the
    same bytes as the main job's figures, drawn in its worker pool and read back from its cache."""
    again = F.make_figures(builtin, jobs=1, cache=False)
    assert len(again) == len(drawn)
    for a, b in zip(drawn, again):
        assert a.name == b.name
        assert a.svg == b.svg, a.name
        assert a.png == b.png, a.name
        assert a.pdf == b.pdf, a.name
        assert a == b, a.name


def test_no_cache_variable(monkeypatch):
    monkeypatch.setenv("L2L_NO_CACHE", "1")
    assert F.cache_dir() is None
    assert F.shared("test.no-cache", lambda: {"x": [1.5]}) == {"x": [1.5]}
    monkeypatch.setenv("L2L_NO_CACHE", "0")
    assert F.cache_dir() is not None


def test_shared_numbers_round_trip_exactly(cache_home):
    import numpy as np

    data = {"a": np.array([0.1, 1 / 3, np.pi, 1e-300, np.nan]), "b": np.float64(2.5), "c": (1, 2), "d": {"e": [np.inf]}}
    first = F.publish("test.round-trip", data)
    again = F.shared("test.round-trip", lambda: pytest.fail("published: must not recompute"))
    assert np.array_equal(first["a"], again["a"], equal_nan=True) and first["a"][1] == 1 / 3
    assert again["b"] == 2.5 and again["c"] == [1, 2] and again["d"] == {"e": [float("inf")]}


def test_the_style_does_not_leak(drawn, builtin):
    """Drawing in this process changes neither the user's rcParams nor the backend."""
    import matplotlib

    before, backend = dict(matplotlib.rcParams), matplotlib.get_backend()
    figs = F.make_figures([p for p in builtin if p.key == "zhang2019"], jobs=1, cache=False)
    assert figs and dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend
    fig, ax = F.subplots(2)
    assert tuple(fig.get_size_inches()) == F.SIZES["wide"]


def test_a_plugin_figure_made_with_pyplot_renders():
    import matplotlib.pyplot as plt
    import matplotlib.style

    with matplotlib.style.context(["default", F.STYLE]):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="y = x")
        f = F.render_figure(fig, "toy", "A line", "y = x")
    assert f.png and f.svg and f.pdf and not plt.get_fignums()
    assert struct.unpack(">II", f.png[16:24]) == (round(F.SIZES["single"][0] * F.DPI), round(F.SIZES["single"][1] * F.DPI))
