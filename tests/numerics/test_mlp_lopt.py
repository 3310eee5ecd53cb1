"""The per-parameter MLP learned optimizer (:mod:`l2l.numerics.learned.mlp_lopt`, Metz et al. 2019
§6, the ``MLPLOpt`` form): shapes, purity, the weight-vector round trip, one and two steps of a
one-entry tensor computed by hand with plain loops (written here from the update rule, sharing no
code with the module), and input validation.

Kind: exact. Tolerances are float64 rounding: the hand loop and the module evaluate the same
arithmetic in another order (sums of at most 33 products per unit), so they agree to ~1e-15
relative; 1e-12 leaves room and still catches any wrong constant, feature or order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics.learned.mlp_lopt import (
    DECAYS,
    NUM_FEATURES,
    TIMESCALES,
    MLPState,
    MLPWeights,
    features,
    flatten,
    init_state,
    init_weights,
    num_weights,
    run,
    step,
    unflatten,
)
from l2l.numerics.validation import ValidationError

seeds = st.integers(0, 2**16)
shape_lists = st.lists(st.one_of(st.tuples(st.integers(1, 12)), st.tuples(st.integers(1, 3), st.integers(1, 4)), st.just(())),
                       min_size=1, max_size=3)


def _problem(seed: int, shapes) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes], [rng.normal(size=s) * 10 ** rng.uniform(-2, 2) for s in shapes]


@given(seed=seeds, shapes=shape_lists)
def test_shapes_and_purity(seed, shapes):
    w = init_weights(seed % 7)
    params, grads = _problem(seed, shapes)
    s = init_state(shapes)
    copies = [p.copy() for p in params], [g.copy() for g in grads], [m.copy() for m in s.momenta]
    new, s1, info = step(w, s, params, grads)
    new2, s2, info2 = step(w, s1, new, grads)
    for a, b in zip(params + grads + list(s.momenta), copies[0] + copies[1] + copies[2]):
        assert np.array_equal(a, b)  # nothing given is modified
    for i, shp in enumerate(shapes):
        n = math.prod(shp)
        assert new[i].shape == shp and info.direction[i].shape == shp and info.update[i].shape == shp
        assert info.features[i].shape == (n, NUM_FEATURES) and s1.momenta[i].shape == (n, len(DECAYS))
        assert np.array_equal(params[i] - info.update[i], new[i])
    assert (s1.step_count, s2.step_count) == (1, 2)
    # the same step from a fresh call: deterministic
    again = step(w, s, params, grads)[0]
    assert all(np.array_equal(a, b) for a, b in zip(again, new))


@given(seed=seeds, shapes=shape_lists)
def test_stacked_mlp_equals_one_call_per_tensor(seed, shapes):
    """The batched fast path (one matrix product over all tensors) against one step per tensor:
    rows of a matrix product do not depend on the other rows, so they agree exactly."""
    w = init_weights(seed % 5)
    params, grads = _problem(seed, shapes)
    new, _, info = step(w, init_state(shapes), params, grads)
    for i, shp in enumerate(shapes):
        alone, _, info1 = step(w, init_state([shp]), [params[i]], [grads[i]])
        assert np.allclose(alone[0], new[i], rtol=0, atol=1e-15 * (1 + np.abs(params[i]).max()))
        assert np.allclose(info1.update[0], info.update[i], rtol=1e-12, atol=0)


@given(seed=seeds, hidden=st.lists(st.integers(1, 40), min_size=0, max_size=3))
def test_flatten_round_trip(seed, hidden):
    w = init_weights(seed, tuple(hidden))
    v = flatten(w)
    assert v.shape == (num_weights(w),)
    back = unflatten(v, w)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(w.layers, back.layers))
    v2 = np.random.default_rng(seed).normal(size=v.size)
    assert np.array_equal(flatten(unflatten(v2, w)), v2)


def test_init_is_deterministic_and_truncated():
    a, b = init_weights(3), init_weights(3)
    assert np.array_equal(flatten(a), flatten(b))
    assert not np.array_equal(flatten(a), flatten(init_weights(4)))
    for W, bias in a.layers:
        assert np.all(np.abs(W) <= 2.0 / math.sqrt(W.shape[0])) and np.all(bias == 0)
    assert [W.shape for W, _ in a.layers] == [(19, 32), (32, 32), (32, 2)]
    assert np.all(flatten(init_weights(0, scale=0.0)) == 0)


# ---------------------------------------------------------------------------------------------
# a one-entry tensor by hand (loops only)


def _hand_mlp(layers, x):
    """Plain-loop dense layers: ReLU on all but the last."""
    for k, (W, b) in enumerate(layers):
        W = np.asarray(W).tolist()
        out = []
        for j in range(len(b)):
            acc = float(b[j])
            for i in range(len(x)):
                acc += x[i] * W[i][j]
            out.append(max(acc, 0.0) if k < len(layers) - 1 else acc)
        x = out
    return x


def _hand_steps(layers, w0: float, gs: list) -> list:
    """A scalar parameter through len(gs) steps, from the update rule as written in the digest."""
    decays = [0.1, 0.5, 0.9, 0.99, 0.999, 0.9999]
    taus = [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000]
    m = [0.0] * 6
    w = w0
    out = []
    for t, g in enumerate(gs):
        m = [b * mj + (1 - b) * g for b, mj in zip(decays, m)]
        cols = [g, w] + m
        feats = [c / math.sqrt(1e-5 + c * c) for c in cols]  # mean over one entry is the entry squared
        feats += [math.tanh(t / tau - 1.0) for tau in taus]
        d, mag = _hand_mlp(layers, feats)
        delta = d * math.exp(mag * 0.001) * 0.001
        w = w - delta
        out.append((feats, d, mag, delta, w))
    return out


@pytest.mark.parametrize("seed,hidden", [(0, (32, 32)), (5, (3,)), (11, (4, 7))])
def test_one_entry_tensor_by_hand(seed, hidden):
    wts = init_weights(seed, hidden, scale=3.0)  # larger weights: outputs of order 1-10, so exp(1e-3 m) != 1
    w0, gs = 0.7, [2.5, -0.3, 1e-3]
    hand = _hand_steps(wts.layers, w0, gs)
    s = init_state([()])
    p = [np.array(w0)]
    for (feats, d, mag, delta, w_new), g in zip(hand, gs):
        p, s, info = step(wts, s, p, [np.array(g)])
        assert np.allclose(info.features[0][0], feats, rtol=1e-14, atol=1e-15)
        assert math.isclose(float(info.direction[0]), d, rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(float(info.magnitude[0]), mag, rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(float(info.update[0]), delta, rel_tol=1e-12, abs_tol=1e-17)
        assert math.isclose(float(p[0]), w_new, rel_tol=1e-14) and p[0].shape == ()


def test_step_and_exp_multipliers_are_not_swapped():
    """Distinct multipliers (the defaults are equal, so a swap would not show there)."""
    w = init_weights(4, scale=3.0)
    p, g = [np.array([0.5, -1.0, 2.0])], [np.array([1.0, 3.0, -0.2])]
    new, _, info = step(w, init_state([3]), p, g, step_mult=0.01, exp_mult=0.5)
    d, mu = info.direction[0], info.magnitude[0]
    for i in range(3):
        want = 0.01 * float(d[i]) * math.exp(0.5 * float(mu[i]))
        assert math.isclose(float(info.update[0][i]), want, rel_tol=1e-14)
        assert math.isclose(float(new[0][i]), float(p[0][i]) - want, rel_tol=1e-14)


def test_momentum_before_features_and_time_before_increment():
    """Two code orderings made visible: the first step already sees m_j = (1 - beta_j) g (momenta
    updated first), and the time features of step t use t - 1 completed steps (tanh(-1) at first)."""
    s = init_state([4])
    g = np.array([1.0, 2.0, -1.0, 0.5])
    f = features(s, [np.zeros(4)], [g])[0]
    rms = math.sqrt(np.mean(g**2) + 1e-5)
    for j, b in enumerate(DECAYS):
        col = (1 - b) * g
        assert np.allclose(f[:, 2 + j], col / np.sqrt(1e-5 + np.mean(col**2)), rtol=1e-14, atol=0)
    assert np.allclose(f[:, 0], g / rms, rtol=1e-14, atol=0)
    assert np.all(f[:, 1] == 0.0)
    assert np.allclose(f[:, 8:], math.tanh(-1.0), rtol=0, atol=0)
    s5 = MLPState(s.shapes, s.momenta, 5)
    f5 = features(s5, [np.zeros(4)], [g])[0]
    assert np.allclose(f5[0, 8:], [math.tanh(5 / tau - 1) for tau in TIMESCALES], rtol=1e-15, atol=0)


def test_run_trajectory():
    r = run(init_weights(1), lambda p: [2.0 * p[0], p[1]], [np.ones(3), np.ones((2, 2))], 4)
    assert r.params.shape == (5, 7) and r.steps_done == 4 and r.status == "ok"
    assert np.array_equal(r.params[-1], np.concatenate([p.ravel() for p in r.final_params]))
    stop = run(init_weights(1), lambda p: [p[0] * np.nan], [np.ones(2)], 3)
    assert stop.status == "nonfinite_gradient" and stop.steps_done == 0 and stop.params.shape == (1, 2)


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: init_weights(-1), "seed"),
        (lambda: init_weights(0, hidden=(0,)), "hidden[0]"),
        (lambda: init_weights(0, hidden=(8,) * 9), "hidden"),
        (lambda: init_weights(0, scale=-1.0), "scale"),
        (lambda: init_state([]), "shapes"),
        (lambda: init_state([(0,)]), "shapes[0]"),
        (lambda: init_state([10**6, 1]), "shapes"),
        (lambda: unflatten(np.zeros(3), init_weights(0)), "vector"),
        (lambda: unflatten(np.full(1762, np.inf), init_weights(0)), "vector"),
        (lambda: MLPWeights(((np.zeros((18, 2)), np.zeros(2)),)), "layers[0]"),
        (lambda: MLPWeights(((np.zeros((19, 3)), np.zeros(3)),)), "layers"),
        (lambda: step(init_weights(0), init_state([2]), [np.zeros(3)], [np.zeros(2)]), "params[0]"),
        (lambda: step(init_weights(0), init_state([2]), [np.zeros(2)], [np.array([1.0, np.nan])]), "grads[0]"),
        (lambda: step(init_weights(0), init_state([2]), [np.zeros(2)], [np.zeros(2), np.zeros(2)]), "grads"),
        (lambda: step(init_weights(0), init_state([2]), [np.zeros(2)], [np.zeros(2)], step_mult=np.inf), "step_mult"),
        (lambda: step("w", init_state([2]), [np.zeros(2)], [np.zeros(2)]), "weights"),
        (lambda: step(init_weights(0), "s", [np.zeros(2)], [np.zeros(2)]), "state"),
        (lambda: step(init_weights(0), MLPState(((2,),), (np.zeros((3, 6)),), 0), [np.zeros(2)], [np.zeros(2)]), "state"),
        (lambda: step(init_weights(0), MLPState(((2,),), (np.zeros((2, 6)),), -1), [np.zeros(2)], [np.zeros(2)]), "state.step_count"),
        (lambda: run(init_weights(0), lambda p: p, [np.zeros(10)], 10**6), "steps"),
        (lambda: run(init_weights(0), lambda p: p, [np.zeros(10)], 3, lr=1.0), "step_kwargs"),
        (lambda: num_weights(None), "weights"),
    ],
)
def test_validation_names_the_field(call, field):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.field == field, str(err.value)
