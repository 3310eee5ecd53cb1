r"""Exact identities of the hierarchical-RNN learned optimizer of Wichrowska et al. (2017).

Setting (Wichrowska, Maheswaranathan, Hoffman, Gómez Colmenarejo, Denil, de Freitas &
Sohl-Dickstein (2017), "Learned Optimizers that Scale and Generalize", ICML; the released code's
momentum timescales and log meta-objective; claims C3 and C7 of the paper's digest, [derived]).

``learned.timescale`` (C3)
    The accumulators ``m <- (1 - beta) g + beta m`` average over ``tau(beta) = 1/(1 - beta)`` steps;
    the scales are ``beta_{k+1} = sqrt(beta_k)``, and ``tau(sqrt beta)/tau(beta) = 1 + sqrt beta``,
    which lies in ``(1, 2)`` for ``0 < beta < 1``: each scale less than doubles the timescale.
``learned.log-meta-objective`` (C7)
    The per-step term ``log(f/(f_0 + eps) + eps)``: at ``eps = 0`` it is invariant to ``f -> c f``
    (``c > 0``) and equal multiplicative progress counts equally (``log(r f/f_0) - log(f/f_0) =
    log r``); with ``eps > 0`` every term is at least ``log eps`` (the floor).

>>> tuple(DERIVATIONS)
('learned.timescale', 'learned.log-meta-objective')
>>> timescale().verify_step(3).status
'symbolic'
"""

from __future__ import annotations

from typing import Callable

from sympy import Function, Integer, Symbol, log

from l2l.theory.derivation import Bound, Derivation, FromPrevious, Identity, Step

__all__ = ["DERIVATIONS", "timescale", "log_meta_objective"]

_SOURCE = "Wichrowska et al. (2017)"

beta = Symbol("beta", positive=True)
r = Symbol("r", positive=True)  # r = sqrt(beta)
c = Symbol("c", positive=True)
f = Symbol("f", positive=True)
f0 = Symbol("f_0", positive=True)
rho = Symbol("rho", positive=True)
eps = Symbol("epsilon", positive=True)
tau = Function("tau")
term = Function("ell")


def timescale() -> Derivation:
    r"""``learned.timescale`` (C3): ``tau(sqrt beta)/tau(beta) = 1 + sqrt beta`` in ``(1, 2)``.

    Statement: with ``tau(beta) = 1/(1 - beta)``, ``tau(sqrt beta)/tau(beta) = 1 + sqrt beta``;
    for ``0 < beta < 1`` (``beta = r^2``, ``0 < r < 1``) the ratio exceeds 1 and is below 2.

    >>> timescale().verify().status
    'symbolic'
    """
    ratio = (1 / (1 - r)) / (1 / (1 - r**2))
    steps = [
        Step(tau(beta), "=", 1 / (1 - beta), r"the timescale of $m \leftarrow (1-\beta)g + \beta m$: the weights $(1-\beta)\beta^j$ have mean lag $\beta/(1-\beta)$, so it averages over $1/(1-\beta)$ steps"),
        Step(tau(r**2), "=", 1 / (1 - r**2), r"step 1 at $\beta = r^2$, $r = \sqrt\beta$", FromPrevious.substitute({beta: r**2}, source=1)),
        Step(ratio, "=", 1 + r, r"$\tau(r)/\tau(r^2) = (1 - r^2)/(1 - r) = 1 + r$", Identity()),
        Step(1 + r, ">", 1, r"$r = \sqrt\beta > 0$", Bound()),
        Step(1 + r, "<", 2, r"$r < 1$ because $\beta < 1$", Bound(reparametrize=((r, 1 / (1 + Symbol("u", positive=True))),))),
    ]
    return Derivation(
        "learned.timescale",
        "Timescales of the multi-scale momentum",
        steps,
        f"{_SOURCE}, multi-timescale momentum with learned decays (the released code's beta_{{k+1}} = sqrt(beta_k); the identity is derived here)",
        (r"$0 < \beta < 1$",),
    )


def log_meta_objective() -> Derivation:
    r"""``learned.log-meta-objective`` (C7): scale invariance and equal credit at ``eps = 0``; the floor.

    >>> log_meta_objective().verify().status
    'symbolic'
    """
    steps = [
        Step(term(f), "=", log(f / (f0 + eps) + eps), r"the per-step term of the log meta-objective, $f_0$ the loss at the start of the series"),
        Step(term(f), "=", log(f / f0), r"at $\epsilon = 0$", FromPrevious.substitute({eps: Integer(0)}, source=1)),
        Step(log(c * f / (c * f0)), "=", log(f / f0), r"$f \to cf$ (and so $f_0 \to cf_0$), $c > 0$: the ratio is unchanged", Identity()),
        Step(log(rho * f / f0) - log(f / f0), "=", log(rho), r"progress by a factor $\rho$ adds $\log\rho$ at every loss level", Identity()),
        Step(f / (f0 + eps) + eps, ">", eps, r"with $\epsilon > 0$ the argument of the logarithm exceeds $\epsilon$; $\log$ is increasing, so every term exceeds $\log\epsilon$ (the floor, $\log 10^{-6} = -13.8$ per step)", Bound()),
    ]
    return Derivation(
        "learned.log-meta-objective",
        "The log meta-objective: scale invariance, equal credit, floor",
        steps,
        f"{_SOURCE}, the meta-objective that rewards exact convergence (introduction; the released code's log objective; the properties are derived here)",
        (r"$f, f_0 > 0$, $c > 0$, $\rho > 0$, $\epsilon > 0$",),
    )


#: Every derivation of this module, by name (``l2l derive NAME`` prints them).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "learned.timescale": timescale,
    "learned.log-meta-objective": log_meta_objective,
}
