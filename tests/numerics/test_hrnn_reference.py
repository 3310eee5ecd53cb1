"""The hierarchical RNN step (:mod:`l2l.numerics.learned.hrnn`, vectorised numpy) against its
independent per-coordinate reimplementation (:mod:`l2l.numerics.learned.reference`, plain Python
floats and loops, written from the update rule; it imports nothing of ``hrnn``).

Kind: exact. Both sides evaluate the same float64 arithmetic in different orders (BLAS vs
left-to-right sums of at most 42 products, ``tanh``-form vs ``exp``-form sigmoid, ``fsum`` vs
pairwise means), so each quantity differs by a few ulps after one step; the GRUs are contractions
(gates in (0, 1), tanh of slope <= 1), so over a few steps these differences stay of order 1e-15
relative (measured below 1e-13 in the worst case over hundreds of draws; the unit-RMS normalisation
of the direction divides by an RMS of order 1). 1e-12 relative (to each array's largest entry)
leaves room and still catches a wrong gate, bias, ordering or epsilon.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics.learned import hrnn
from l2l.numerics.learned.reference import reference_step
from l2l.numerics.validation import ValidationError

seeds = st.integers(0, 2**16)
shape_lists = st.lists(st.one_of(st.tuples(st.integers(1, 6)), st.tuples(st.integers(1, 3), st.integers(1, 3))),
                       min_size=1, max_size=3)
RTOL = 1e-12


def _close(a, b, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(a.shape)
    scale = max(float(np.max(np.abs(a))), 1e-300)
    err = float(np.max(np.abs(a - b)))
    assert err <= RTOL * scale, f"{what}: max |difference| {err:.3g} vs scale {scale:.3g}"


@given(wseed=seeds, sseed=seeds, pseed=seeds, shapes=shape_lists, steps=st.integers(1, 4), scale=st.sampled_from([0.5, 1.5]),
       perturbed=st.booleans())
def test_hrnn_step_equals_reference(wseed, sseed, pseed, shapes, steps, scale, perturbed):
    """``perturbed``: start from a state with random momenta and stored decays in (0, 1) but every
    mean square still 0, so the first-step rule (scale decay forced to 0 while the tensor's v_k is
    all zero) is exercised against a non-zero stored decay."""
    w = hrnn.init_weights(wseed, scale, zero_lr_weights=False)
    state = hrnn.init_state(w, shapes, seed=sseed)
    rng = np.random.default_rng(pseed)
    if perturbed:
        state = dataclasses.replace(
            state,
            m=tuple(rng.normal(size=m.shape) for m in state.m),
            input_decay=tuple(rng.uniform(0.0, 1.0, e.shape) for e in state.input_decay),
            scale_decay=tuple(rng.uniform(0.0, 1.0, e.shape) for e in state.scale_decay),
        )
    ref_state = state
    theta = [rng.normal(size=s) for s in shapes]
    theta_ref = [t.copy() for t in theta]
    for k in range(steps):
        # gradients of a random quadratic at the hrnn iterate, fed to both (so only the step differs)
        grads = [rng.normal(size=s) * 10 ** rng.uniform(-3, 3) + 0.5 * t for s, t in zip(shapes, theta)]
        theta, state, info = hrnn.step(w, state, theta, grads)
        theta_ref, fields = reference_step(w, ref_state, theta_ref, grads)
        ref_state = fields
        for i in range(len(shapes)):
            _close(theta[i], theta_ref[i], f"step {k} params[{i}]")
            _close(info.update[i], fields["update"][i], f"step {k} update[{i}]")
            _close(info.direction[i], fields["direction"][i], f"step {k} direction[{i}]")
            _close(info.features[i], fields["features"][i], f"step {k} features[{i}]")
            for name in ("param_rnn", "tensor_rnn", "m", "v", "log_lr", "input_decay", "scale_decay"):
                _close(getattr(state, name)[i], fields[name][i], f"step {k} {name}[{i}]")
        _close(state.global_rnn, fields["global_rnn"], f"step {k} global_rnn")
        assert state.step_count == fields["step_count"] == k + 1


def test_reference_is_pure_and_validates():
    w = hrnn.init_weights(1)
    s = hrnn.init_state(w, [(2,)], seed=0)
    p, g = [np.ones(2)], [np.array([1.0, -1.0])]
    m0 = s.m[0].copy()
    reference_step(w, s, p, g)
    assert np.array_equal(p[0], np.ones(2)) and np.array_equal(s.m[0], m0)
    with pytest.raises(ValidationError) as err:
        reference_step(w, s, [np.ones(3)], g)
    assert err.value.field == "params[0]"
    with pytest.raises(ValidationError) as err:
        reference_step(w, s, p, [np.array([1.0, np.nan])])
    assert err.value.field == "grads[0]"
    with pytest.raises(ValidationError) as err:
        reference_step("w", s, p, g)
    assert err.value.field == "weights"
    with pytest.raises(ValidationError) as err:
        reference_step(w, {"shapes": [(2,)]}, p, g)
    assert err.value.field == "state"


def test_reference_shares_no_code_with_hrnn():
    """The reference imports nothing of numerics but validation (tests/numerics/test_layout.py
    states the same rule for the other models' references)."""
    path = Path(__file__).resolve().parents[2] / "numerics" / "learned" / "reference.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("l2l")):
            imported.add((node.level, node.module))
        elif isinstance(node, ast.Import):
            assert all(not a.name.startswith("l2l") for a in node.names)
    assert imported <= {(2, "validation")}, imported
