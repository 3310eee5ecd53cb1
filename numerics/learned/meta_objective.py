r"""The log meta-objective and the unroll-length sampler of Wichrowska et al. (2017).

Source: Wichrowska et al. (2017), "Learned Optimizers that Scale and Generalize", released code
(trainable_optimizer.py for the objective, metaopt.py / metarun.py for the unroll lengths).

**Log meta-objective** ([code]). For a partial unroll of :math:`n` steps starting at
:math:`\theta_s`, with :math:`f_0=f(\theta^{(0)})` the loss at the start of the *whole series* of
partial unrolls,

.. math::

    \ell_{\rm meta}=\frac1{n+1}\sum_{j=0}^{n}\log\!\Big(\frac{F_j}{f_0+10^{-6}}+10^{-6}\Big),
    \qquad (F_0,\dots,F_n)=\big(f(\theta_s),\,f(\theta_s),\,f(\theta_{s+1}),\dots,f(\theta_{s+n-1})\big):

the code's exact terms: the start value appears twice and the loss after the final update is not
included. [derived] Each term is at least :math:`\log 10^{-6}\approx-13.82` (for :math:`f\ge0`);
the objective is invariant to :math:`f\to cf` up to the two :math:`10^{-6}` terms; a factor-10
decrease of :math:`f` lowers a term by :math:`\log 10` as long as :math:`f/f_0\gg10^{-6}`, and by less
near that floor.

**Unroll lengths** ([code]). One meta-iteration draws :math:`U=1+\mathrm{round}(\mathrm{Exp}(\text{scale }40))`
partial unrolls of :math:`50+\mathrm{round}(\mathrm{Exp}(\text{scale }200))` steps each; the total
is a compound sum, mean :math:`\approx 41\times250`, with coefficient of variation close to 1
(exponential-like). ``mode="product"`` draws the alternative the paper's digest compares it with,
:math:`\mathrm{round}(\mathrm{Exp}(40)\cdot\mathrm{Exp}(200))` (coefficient of variation
:math:`\sqrt3\approx1.73` before rounding; it can be 0).

Example (halving the loss at every step of a 3-step unroll, :math:`f_0=1`)::

    >>> r = log_meta_objective([1.0, 0.5, 0.25, 0.125], 1.0)
    >>> r.n_steps, np.round(r.terms, 4).tolist(), round(r.value, 4)
    (3, [0.0, 0.0, -0.6931, -1.3863], -0.5199)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_real, as_real_vector, check_entries

__all__ = [
    "META_EPS",
    "MAX_META_STEPS",
    "MAX_UNROLL_DRAWS",
    "LogMetaObjective",
    "log_meta_objective",
    "unroll_lengths",
]

#: The two epsilons of the code's log meta-objective: log(f / (f0 + eps) + eps).
META_EPS = 1e-6
#: Largest partial unroll accepted (number of losses minus 1).
MAX_META_STEPS = 10**7
#: Largest number of totals drawn by :func:`unroll_lengths` (each costs about 41 exponential draws).
MAX_UNROLL_DRAWS = 200_000


@result_type
@dataclass(frozen=True)
class LogMetaObjective:
    """The log meta-objective of one partial unroll."""

    value: float  #: the mean of the n + 1 terms
    terms: np.ndarray  #: (n + 1,) log(F_j / (f0 + 1e-6) + 1e-6) for F = (f_s, f_s, f_(s+1), ..., f_(s+n-1))
    n_steps: int  #: n, the number of inner steps of the partial unroll


@returns(LogMetaObjective)
def log_meta_objective(f_values: Any, f0: float) -> LogMetaObjective:
    r"""The code's log meta-objective (module docstring) of one partial unroll.

    ``f_values``: the losses along the partial unroll, :math:`f(\theta_s),\dots,f(\theta_{s+n})`
    (n + 1 numbers >= 0, n >= 1, as a trajectory gives them); the function forms the code's terms
    from them (the first twice, the last dropped). ``f0 >= 0``: the loss at the start of the whole
    series of partial unrolls.

    >>> r = log_meta_objective([5.0, 0.0, 0.0], 5.0)   # f = 0 reaches the floor log(1e-6)
    >>> float(r.terms[-1]) == math.log(1e-6), round(float(r.terms[-1]), 4)
    (True, -13.8155)
    """
    f = as_real_vector("f_values", f_values, min_len=2)
    if f.size > MAX_META_STEPS + 1:
        raise ValidationError("f_values", f"must have at most {MAX_META_STEPS + 1} entries (got {f.size})")
    check_entries("f_values", f, 0.0)
    f0 = as_real("f0", f0, 0.0)
    n = f.size - 1
    used = np.concatenate([f[:1], f[:-1]])
    terms = np.log(used / (f0 + META_EPS) + META_EPS)
    return LogMetaObjective(float(math.fsum(terms.tolist()) / (n + 1)), terms, n)


def unroll_lengths(n: int, seed: int = 0, mode: str = "code") -> np.ndarray:
    r"""``n`` total unroll lengths (int64) from ``default_rng(seed)`` (module docstring).

    - ``mode="code"``: :math:`\sum_{u=1}^{U}(50+\mathrm{round}(E_u))`,
      :math:`U=1+\mathrm{round}(E')`, :math:`E'\sim\mathrm{Exp}(\text{scale }40)`,
      :math:`E_u\sim\mathrm{Exp}(\text{scale }200)`. The U's are drawn first (all n of them), then
      all partial lengths at once, summed per draw.
    - ``mode="product"``: :math:`\mathrm{round}(E'E)`, one Exp(scale 40) and one Exp(scale 200)
      per draw (first all E', then all E).

    ``n`` in [1, 200000] (memory: the code mode draws about 41 n exponentials).

    >>> t = unroll_lengths(20000, seed=0)
    >>> bool(9500 < t.mean() < 11000), bool(0.9 < t.std() / t.mean() < 1.1), int(t.min()) >= 50
    (True, True, True)
    """
    n = as_int("n", n, 1, MAX_UNROLL_DRAWS)
    seed = as_int("seed", seed, 0)
    mode = as_choice("mode", mode, ("code", "product"))
    rng = np.random.default_rng(seed)
    if mode == "product":
        return np.round(rng.exponential(40.0, n) * rng.exponential(200.0, n)).astype(np.int64)
    counts = 1 + np.round(rng.exponential(40.0, n)).astype(np.int64)
    partial = 50 + np.round(rng.exponential(200.0, int(counts.sum()))).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.add.reduceat(partial, starts)
