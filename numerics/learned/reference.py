r"""A second, independent implementation of one step of the hierarchical RNN optimizer of
Wichrowska et al. (2017): coordinate by coordinate, in plain Python floats and loops.

Deliberately independent of :mod:`.hrnn` (the independence rule of the package's design): it is
written from the update rule as the docstring of :mod:`.hrnn` and the paper's digest state it, and
shares no code with it -- it does not import :mod:`.hrnn` at all, calls none of the weights'
methods (it reads their matrices as data), and uses its own sigmoid, GRU cell, affine maps,
means and clipping. Do not merge it with :mod:`.hrnn`; the tests compare the two.

One step (per tensor, per coordinate :math:`i`, per scale :math:`k=0..3`), everything read from the
state **before** the step unless marked new:

.. math::

    \beta_0=\text{stored input decay},\ \beta_{k+1}=\sqrt{\beta_k},\qquad
    m_k\leftarrow(1-\beta_k)g+\beta_km_k,

    \beta_s=\begin{cases}0&\text{if every } v_k \text{ of the tensor is } 0\\
    \text{stored scale decay}&\text{otherwise}\end{cases},\qquad
    v_k\leftarrow(1-\beta_s)(m_k^2+10^{-12})+\beta_sv_k,

    x_k=\operatorname{asinh}\!\big(m_k/\sqrt{v_k+10^{-16}}\big),\quad
    \ell_k=\log(v_k+10^{-16}),\quad r_k=\ell_k-\tfrac14\textstyle\sum_j\ell_j,

    F=[x_0..x_3,\ x_0x_1,x_1x_2,x_2x_3,\ r_0..r_3,\ \eta_i-\bar\eta],\quad\bar\eta=\text{mean of all stored }\eta.

Parameter GRU (hidden 10) with the additive bias :math:`A_{pt}(s_{\rm tensor})+A_{pg}(s_{\rm global})`
split into (reset, update, candidate) thirds:
:math:`\rho,u=\sigma([F,h]W_g+b_g+\text{bias}_{\rho,u})`,
:math:`c=\tanh([F,\rho h]W_c+b_c+\text{bias}_c)`, :math:`h'=uh+(1-u)c`. The tensor GRU consumes the
tensor mean of :math:`[h',F]` (22 numbers) with bias :math:`A_{tg}(s_{\rm global})`; then from
:math:`h'`:

.. math::

    d=h'w_{\rm upd}+xw_{\rm sc},\quad d\leftarrow d/\sqrt{\mathrm{mean}_{\rm tensor}d^2+10^{-16}},\quad
    \eta_{\rm step}=\min(33,\max(-33,\eta+h'w_{\rm lr}+b_{\rm lr})),

    \eta'=\sigma(\ell_m)\eta+(1-\sigma(\ell_m))\eta_{\rm step},\quad
    \theta'=\theta-e^{\eta_{\rm step}+o}d,\quad \beta_0'=\sigma(h'w_{\rm inp}+b_{\rm inp}),\quad
    \beta_s'=\sigma(h'w_{\rm scl}+b_{\rm scl}),

and, after every tensor, the global GRU (no bias input) consumes the mean of the new tensor states.

Example (first step from the initial state: every scaled gradient is :math:`\pm\operatorname{asinh}(1)`)::

    >>> from l2l.numerics.learned.hrnn import init_state, init_weights
    >>> w = init_weights(0)
    >>> new, fields = reference_step(w, init_state(w, [(3,)], seed=1), [np.zeros(3)], [np.array([1.0, -2.0, 0.5])])
    >>> [round(row[0], 6) for row in fields["m"][0]], fields["step_count"]
    ([1.0, -2.0, 0.5], 1)
    >>> d = fields["direction"][0]
    >>> round(math.sqrt(sum(x * x for x in d) / 3), 12)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from ..validation import ValidationError, as_real_vector

__all__ = ["reference_step", "MAX_REFERENCE_PARAMETERS"]

#: Largest total number of parameters: this is a per-coordinate loop in Python (about 1 ms each).
MAX_REFERENCE_PARAMETERS = 10**4

_MS_EPS = 1e-12
_SQRT_EPS = 1e-16
_CLIP = 33.0
_SCALES = 4

_WEIGHT_FIELDS = ("param_rnn", "tensor_rnn", "global_rnn", "param_bias_from_tensor", "param_bias_from_global",
                  "tensor_bias_from_global", "w_upd", "w_shortcut", "w_inp", "w_scl", "w_lr", "b_inp", "b_scl",
                  "b_lr", "lr_momentum_logit", "offset")
_STATE_FIELDS = ("shapes", "param_rnn", "tensor_rnn", "global_rnn", "m", "v", "log_lr", "input_decay",
                 "scale_decay", "step_count")


def _sig(z: float) -> float:
    """The logistic function, in the form that never overflows."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _rows(a: Any) -> list:
    return np.asarray(a, dtype=np.float64).tolist()


def _vecmat(x: list, M: list) -> list:
    """x M for a row vector x and a matrix given as a list of rows."""
    out = [0.0] * len(M[0])
    for xi, row in zip(x, M):
        for j, mij in enumerate(row):
            out[j] += xi * mij
    return out


def _dot(a: list, b: list) -> float:
    s = 0.0
    for ai, bi in zip(a, b):
        s += ai * bi
    return s


class _Gru:
    """The bias GRU cell, read from a weights object's four arrays."""

    def __init__(self, cell: Any):
        self.gm = _rows(cell.gate_matrix)
        self.gb = _rows(cell.gate_bias)
        self.cm = _rows(cell.candidate_matrix)
        self.cb = _rows(cell.candidate_bias)
        self.n = len(self.cb)

    def __call__(self, x: list, h: list, extra: list | None) -> list:
        n = self.n
        extra = extra if extra is not None else [0.0] * (3 * n)
        pre = _vecmat(list(x) + list(h), self.gm)
        reset = [_sig(pre[j] + self.gb[j] + extra[j]) for j in range(n)]
        upd = [_sig(pre[n + j] + self.gb[n + j] + extra[n + j]) for j in range(n)]
        cand_pre = _vecmat(list(x) + [reset[j] * h[j] for j in range(n)], self.cm)
        cand = [math.tanh(cand_pre[j] + self.cb[j] + extra[2 * n + j]) for j in range(n)]
        return [upd[j] * h[j] + (1.0 - upd[j]) * cand[j] for j in range(n)]


def _affine(aff: Any, x: list) -> list:
    out = _vecmat(x, _rows(aff.matrix))
    return [o + b for o, b in zip(out, _rows(aff.bias))]


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def _tensor_values(field: str, value: Any, shapes: Sequence) -> list:
    if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, Sequence) or len(value) != len(shapes):
        raise ValidationError(field, f"must be a list of {len(shapes)} arrays, one per tensor")
    out = []
    for i, (x, shp) in enumerate(zip(value, shapes)):
        if tuple(np.shape(x)) != tuple(shp):
            raise ValidationError(f"{field}[{i}]", f"must have shape {tuple(shp)} (got {tuple(np.shape(x))})")
        out.append(as_real_vector(f"{field}[{i}]", np.ravel(x)).tolist())
    return out


def reference_step(weights: Any, state: Any, params: Sequence, grads: Sequence) -> tuple[list[np.ndarray], dict]:
    """One step of the hierarchical RNN optimizer, per coordinate (module docstring).

    ``weights``: an ``HRNNWeights`` (read as data); ``state``: an ``HRNNState`` or a mapping with the
    same field names (the dict this function returns works). Returns ``(new_params, fields)``: the
    new parameters (arrays with the tensors' shapes) and a dict with every ``HRNNState`` field of the
    new state (``shapes``, ``param_rnn``, ``tensor_rnn``, ``global_rnn``, ``m``, ``v``, ``log_lr``,
    ``input_decay``, ``scale_decay``, ``step_count``; nested lists) plus ``direction``, ``update``,
    ``eta_step`` and ``features`` per tensor (lists over coordinates). Nothing given is modified.
    """
    for name in _WEIGHT_FIELDS:
        if not hasattr(weights, name):
            raise ValidationError("weights", f"must be an HRNNWeights (missing {name!r})")
    for name in _STATE_FIELDS:
        try:
            _get(state, name)
        except (KeyError, AttributeError, TypeError):
            raise ValidationError("state", f"must be an HRNNState or a mapping of its fields (missing {name!r})") from None
    shapes = [tuple(int(d) for d in s) for s in _get(state, "shapes")]
    sizes = [math.prod(s) for s in shapes]
    if sum(sizes) > MAX_REFERENCE_PARAMETERS:
        raise ValidationError("state", f"the reference takes at most {MAX_REFERENCE_PARAMETERS} parameters (got {sum(sizes)})")
    theta = _tensor_values("params", params, shapes)
    gs = _tensor_values("grads", grads, shapes)

    p_gru, t_gru, g_gru = _Gru(weights.param_rnn), _Gru(weights.tensor_rnn), _Gru(weights.global_rnn)
    w_upd, w_sc, w_inp = _rows(weights.w_upd), _rows(weights.w_shortcut), _rows(weights.w_inp)
    w_scl, w_lr = _rows(weights.w_scl), _rows(weights.w_lr)
    b_inp, b_scl, b_lr = float(weights.b_inp), float(weights.b_scl), float(weights.b_lr)
    keep = _sig(float(weights.lr_momentum_logit))
    offset = float(weights.offset)

    old_global = _rows(_get(state, "global_rnn"))
    all_lr = [e for arr in _get(state, "log_lr") for e in _rows(arr)]
    mean_lr = math.fsum(all_lr) / len(all_lr)
    bias_pg = _affine(weights.param_bias_from_global, old_global)
    bias_tg = _affine(weights.tensor_bias_from_global, old_global)

    out: dict[str, list] = {k: [] for k in ("param_rnn", "tensor_rnn", "m", "v", "log_lr", "input_decay", "scale_decay",
                                             "direction", "update", "eta_step", "features")}
    new_params = []
    for t_i, (shp, n) in enumerate(zip(shapes, sizes)):
        h_old = _rows(_get(state, "param_rnn")[t_i])
        m_old = _rows(_get(state, "m")[t_i])
        v_old = _rows(_get(state, "v")[t_i])
        eta_old = _rows(_get(state, "log_lr")[t_i])
        b0_old = _rows(_get(state, "input_decay")[t_i])
        bs_old = _rows(_get(state, "scale_decay")[t_i])
        s_old = _rows(_get(state, "tensor_rnn")[t_i])
        first = [all(v_old[j][k] == 0.0 for j in range(n)) for k in range(_SCALES)]
        bias_pt = _affine(weights.param_bias_from_tensor, s_old)
        bias_p = [a + b for a, b in zip(bias_pt, bias_pg)]

        ms, vs, xs, feats, hs = [], [], [], [], []
        for j in range(n):
            g = gs[t_i][j]
            betas = [b0_old[j]]
            for _ in range(_SCALES - 1):
                betas.append(math.sqrt(betas[-1]))
            m = [(1.0 - betas[k]) * g + betas[k] * m_old[j][k] for k in range(_SCALES)]
            v = []
            for k in range(_SCALES):
                bs = 0.0 if first[k] else bs_old[j]
                v.append((1.0 - bs) * (m[k] * m[k] + _MS_EPS) + bs * v_old[j][k])
            x = [math.asinh(m[k] / math.sqrt(v[k] + _SQRT_EPS)) for k in range(_SCALES)]
            logs = [math.log(v[k] + _SQRT_EPS) for k in range(_SCALES)]
            mean_log = (logs[0] + logs[1] + logs[2] + logs[3]) / 4.0
            f = x + [x[k] * x[k + 1] for k in range(_SCALES - 1)] + [lg - mean_log for lg in logs] + [eta_old[j] - mean_lr]
            h = p_gru(f, h_old[j], bias_p)
            ms.append(m)
            vs.append(v)
            xs.append(x)
            feats.append(f)
            hs.append(h)

        width = len(hs[0]) + len(feats[0])
        layer_in = [0.0] * width
        for h, f in zip(hs, feats):
            for q, val in enumerate(h + f):
                layer_in[q] += val
        layer_in = [val / n for val in layer_in]
        s_new = t_gru(layer_in, s_old, bias_tg)

        raw_d = [_dot(h, w_upd) + _dot(x, w_sc) for h, x in zip(hs, xs)]
        norm = math.sqrt(sum(d * d for d in raw_d) / n + _SQRT_EPS)
        d = [val / norm for val in raw_d]
        eta_step, eta_new, upd, th_new, b0_new, bs_new = [], [], [], [], [], []
        for j in range(n):
            e = eta_old[j] + _dot(hs[j], w_lr) + b_lr
            e = min(_CLIP, max(-_CLIP, e))
            eta_step.append(e)
            eta_new.append(keep * eta_old[j] + (1.0 - keep) * e)
            u = math.exp(e + offset) * d[j]
            upd.append(u)
            th_new.append(theta[t_i][j] - u)
            b0_new.append(_sig(_dot(hs[j], w_inp) + b_inp))
            bs_new.append(_sig(_dot(hs[j], w_scl) + b_scl))
        new_params.append(np.array(th_new, dtype=np.float64).reshape(shp))
        for key, val in (("param_rnn", hs), ("tensor_rnn", s_new), ("m", ms), ("v", vs), ("log_lr", eta_new),
                         ("input_decay", b0_new), ("scale_decay", bs_new), ("direction", d), ("update", upd),
                         ("eta_step", eta_step), ("features", feats)):
            out[key].append(val)

    k_t = len(out["tensor_rnn"])
    mean_state = [sum(s[q] for s in out["tensor_rnn"]) / k_t for q in range(len(out["tensor_rnn"][0]))]
    new_global = g_gru(mean_state, old_global, None)
    fields = {"shapes": tuple(shapes), "global_rnn": new_global, "step_count": int(_get(state, "step_count")) + 1, **out}
    return new_params, fields
