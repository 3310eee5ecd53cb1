"""``theory.learned``: the timescale identity and the log meta-objective's properties of Wichrowska
et al. (2017) verify symbolically, and wrong variants of their key steps are rejected."""

from __future__ import annotations

import pytest
from sympy import log

from l2l.theory import learned, registry
from l2l.theory.derivation import Bound, Derivation, Identity, Step
from l2l.theory.learned import c, eps, f, f0, r


@pytest.mark.parametrize("name", list(learned.DERIVATIONS))
def test_derivations_verify_symbolically(name):
    v = registry.verified(name)  # the once-per-process cache, shared with test_strength
    assert v.status == "symbolic", [(k, learned.DERIVATIONS[name]().verify_step(k).status) for k in range(1, 6)]


def _one(step: Step) -> str:
    return Derivation("test.neg", "negative control", [step], "a test", ()).verify_step(1).status


@pytest.mark.parametrize("step", [
    Step((1 / (1 - r)) / (1 / (1 - r**2)), "=", 2 + r, "wrong: 2 + sqrt(beta)", Identity()),
    Step((1 / (1 - r)) / (1 / (1 - r**2)), "=", 1 + r**2, "wrong: 1 + beta", Identity()),
    Step(1 + r, "<", 2, "r < 1 not used: false for r > 1", Bound()),
    Step(log(c * f / f0), "=", log(f / f0), "f scaled but not f_0: not invariant", Identity()),
    Step(f / (f0 + eps) + eps, ">", 2 * eps, "a floor of 2 eps is not implied", Bound()),
    Step(log(f / (f0 + eps) + eps), "=", log(f / f0), "eps does matter", Identity()),
])
def test_wrong_variants_are_rejected(step):
    assert _one(step) == "failed"

