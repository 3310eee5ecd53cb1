"""Result objects for people (issue 12): every field documented in ``help()``, a short ``repr`` and
an HTML table for notebooks, for the result types the ``l2l eval`` models return."""

from __future__ import annotations

import dataclasses
import pydoc

import numpy as np
import pytest

from l2l.numerics import QuadraticProblem
from l2l.numerics.least_squares.closed_form import LeastSquaresGD, gd
from l2l.numerics.least_squares.moments import AdditiveNoiseMoments, FiniteSetMoments, GaussianMoments, finite_set_expectation
from l2l.numerics.nqm.dynamics import Trajectory, run
from l2l.numerics.quadratic.stable import QuadraticEvaluation, evaluate
from l2l.numerics.quadratic.unroll import BackpropResult, backprop, forward_tangent
from l2l.numerics.results import field_docs

TYPES = [QuadraticEvaluation, BackpropResult, LeastSquaresGD, FiniteSetMoments, GaussianMoments, AdditiveNoiseMoments, Trajectory]


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_every_field_is_documented(cls):
    docs = field_docs(cls)
    assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == []
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert all(f.name in text.split("Fields")[1] for f in dataclasses.fields(cls))


@pytest.mark.parametrize("fn, cls", [(evaluate, QuadraticEvaluation), (backprop, BackpropResult), (forward_tangent, BackpropResult),
                                     (gd, LeastSquaresGD), (finite_set_expectation, FiniteSetMoments), (run, Trajectory)])
def test_help_on_an_evaluator_lists_its_result_fields(fn, cls):
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    assert f"Returns a :class:`{cls.__name__}`" in text
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        assert f.name in text and docs[f.name].split()[0] in text


def test_repr_is_short_and_html_is_escaped():
    p = QuadraticProblem(eigenvalues=np.linspace(1, 4, 1000), coefficients=np.ones(1000))
    r = evaluate(p, eta=np.linspace(0, 0.5, 200), t=10)
    text = repr(r)
    assert text.startswith("QuadraticEvaluation(eta=array(shape=(200,), float64: 0, ") and len(text) < 2000
    page = r._repr_html_()
    assert page.startswith("<table>") and "log_objective_grad" in page and "<script" not in page
    assert "d/d eta of (1/t) ln f(w_t)" in page
