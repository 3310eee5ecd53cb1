r"""Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue & Grosse (NeurIPS 2019): steady-state risks and
batch size on the noisy quadratic model (claims).

*Which Algorithmic Choices Matter at Which Batch Sizes? Insights From a Noisy Quadratic Model*, the
companion paper in spec ``papers/wu2018.md`` in the project's shared folder (§10; checkable claims
§11 items 16-19).
Zhang et al.'s closed forms are written separately (``numerics.nqm.zhang``) from the moment recursion
they are checked against (``numerics.nqm``), and from a Monte Carlo simulation of the EMA iterate
(``numerics.nqm.montecarlo``); the risks themselves are SymPy derivations (``theory.nqm``).

The claim ids keep their historical prefix ``wu2018.`` (``wu2018.zhang.*``, and the batch-size
negative controls and findings), so scripts that select ``wu2018`` still get them; this paper's
section of the report groups them.

Run them with ``l2l check wu2018.zhang`` (or ``l2l check wu2018`` for both papers).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from l2l.numerics import nqm
from l2l.proofs.claim import claim, evidence, refute

from l2l.proofs.papers.zhang2019 import PAPER

from .experiments import batch_table

ZHANG = PAPER.short  # "Zhang et al. (2019)"


# =============================================================================================
# Zhang et al. (2019): steady-state risks and batch size (§11 items 16-19)


@claim(
    id="wu2018.zhang.sgd-risk",
    shares="derivation:nqm.zhang-sgd-risk",
    statement=r"s=(1-\alpha h)^2s+\alpha^2c/B \iff \tfrac12hs=\frac{\alpha c}{2B(2-\alpha h)};\quad "
    r"s_t=s_\star+(1-\alpha h)^{2t}(s_0-s_\star)",
    source=f"{ZHANG}, SGD on the noisy quadratic model: the steady-state risk [form in the paper unconfirmed; "
    "code: notebook]; derived here",
    kind="identity",
    tag="derived",
)
def zhang_sgd_risk():
    """SymPy derivation ``nqm.zhang-sgd-risk`` (fixed point and the closed form by induction)."""
    from l2l.theory.registry import verified

    return verified("nqm.zhang-sgd-risk")


@claim(
    id="wu2018.zhang.sgd-closed-form-vs-recursion",
    statement=r"\textstyle\sum_i\big[(1-\alpha h_i)^{2t}(\ell_i(0)-\ell_i^\star)+\ell_i^\star\big] = "
    r"\text{the expected loss of the moment recursion}",
    source=f"{ZHANG}, SGD on the noisy quadratic model: the expected loss at step t [form in the paper unconfirmed]; "
    "derived here",
    kind="identity",
    tag="derived",
    assumptions=r"$C=H$, $h_i\in[10^{-3},1]$, $0<\alpha h_i<2$, $t\le200$",
    tolerance="1e-12 relative: (t + 1) x a few eps for the recursion (<= 2e-13 at t = 200) plus the closed "
    "form's exp(2t ln|1 - a|) rounding",
    examples={"ci": 15, "dev": 60, "thorough": 500},
)
@given(d=st.integers(1, 20), B=st.sampled_from([1, 4, 64, 1024]), frac=st.floats(0.01, 1.99), t=st.integers(0, 200),
       s0=st.floats(0.1, 10.0), seed=st.integers(0, 2**31))
def zhang_sgd_vs_recursion(d, B, frac, t, s0, seed):
    from l2l.numerics.nqm import zhang

    h = np.random.default_rng(seed).uniform(1e-3, 1.0, d)
    alpha = frac / float(h.max())
    closed = float(zhang.sgd_risk(h, h, B, alpha, t, s0))
    p = nqm.NQMProblem.from_batch(h, h, B, mean0=np.zeros(d), var0=np.full(d, s0))
    rec = nqm.run(p, alpha, t, curve=False).final_excess
    assert abs(closed - rec) <= 1e-12 * rec, f"closed form {closed:.16g}, recursion {rec:.16g}"


@claim(
    id="wu2018.zhang.momentum-risk",
    shares="derivation:nqm.zhang-momentum-risk",
    statement=r"\tfrac12hX_\star=\frac{(1+\beta)\alpha c}{2B(1-\beta)(2+2\beta-\alpha h)}\ "
    r"(\text{fixed point of the }3\times3\text{ system}),\ \beta=0:\ \text{the SGD risk}",
    source=f"{ZHANG}, heavy-ball momentum on the noisy quadratic model: the steady-state risk [form in the paper "
    "unconfirmed; code: notebook]; derived here",
    kind="identity",
    tag="derived",
)
def zhang_momentum_risk():
    """SymPy derivation ``nqm.zhang-momentum-risk``."""
    from l2l.theory.registry import verified

    return verified("nqm.zhang-momentum-risk")


@claim(
    id="wu2018.zhang.momentum-stability",
    statement=r"\rho(M)=\max|r|^2,\ r^2-(1-\alpha h+\beta)r+\beta=0;\ \ \rho(M)<1\iff|r|<1",
    source=f"{ZHANG}, heavy-ball momentum: stability of the notebook's transition matrix [code: notebook]; derived here",
    kind="identity",
    tag="derived",
    tolerance="1e-9 relative (numpy eigvals of a 3x3 non-normal matrix: a double root of the mean "
    "polynomial makes M defective, where eigenvalues are only sqrt(eps) accurate; such points are kept "
    "off the grid by the check and listed)",
)
def zhang_momentum_stability():
    from l2l.numerics.nqm import zhang

    worst = 0.0
    for beta in np.linspace(0.0, 0.99, 34):
        a = np.linspace(0.01, 4.5, 151)
        disc = (1 - a + beta) ** 2 - 4 * beta
        a = a[np.abs(disc) > 1e-4]  # away from double roots (defective M)
        M = zhang.momentum_transition(a, 1.0, beta)
        rho = np.max(np.abs(np.linalg.eigvals(M)), axis=1)
        r = zhang.momentum_rate(a, 1.0, beta)
        err = np.abs(rho - r) / np.maximum(r, 1e-300)
        worst = max(worst, float(err.max()))
        roots_inside = np.array([max(abs(np.roots([1.0, -(1 - x + beta), beta]))) < 1 for x in a])
        if not np.array_equal(rho < 1, roots_inside):
            refute("rho(M) < 1 disagrees with |r| < 1", beta=float(beta))
        if err.max() > 1e-9:
            i = int(np.argmax(err))
            refute(f"spectral radius {rho[i]:.12g} vs max|r|^2 {r[i]:.12g}", beta=float(beta), alpha_h=float(a[i]))
    evidence("worst relative |rho(M) - max|r|^2| over the grid", worst, tolerance=1e-9)


@claim(
    id="wu2018.zhang.momentum-equals-sgd-at-small-step",
    statement=r"\alpha=(1-\beta)\alpha_{\mathrm{eff}}:\ \ell^\star_{\mathrm{mom}}/\ell^\star_{\mathrm{SGD}}(\alpha_{\mathrm{eff}})\to1 "
    r"\text{ as } \alpha_{\mathrm{eff}}h\to0",
    source=f"{ZHANG}, heavy-ball momentum: the risk of SGD at the same effective learning rate [form in the paper "
    "unconfirmed]; derived here",
    kind="asymptotic",
    tag="derived",
    tolerance="|ratio - 1| <= alpha_eff h: algebra gives ratio - 1 = -2 beta x / (2 + 2 beta - (1 - beta) x) with "
    "x = alpha_eff h, and 2 beta / (2 + 2 beta - (1 - beta) x) <= 1 for x <= 1",
)
def zhang_momentum_small_step():
    from l2l.numerics.nqm import zhang

    for beta in (0.0, 0.5, 0.9, 0.99):
        for x in (1e-2, 1e-3, 1e-4, 1e-6):  # alpha_eff h
            h = np.array([1.0])
            r = float(zhang.momentum_steady_state(h, h, 1, (1 - beta) * x, beta)) / float(zhang.sgd_steady_state(h, h, 1, x))
            if abs(r - 1) > x:
                refute(f"ratio {r:.12g} at alpha_eff h = {x}, beta = {beta}")
            if x == 1e-2:
                evidence(f"momentum / SGD steady-state risk at alpha_eff h = 1e-2, beta = {beta}", r, expected="-> 1")


@claim(
    id="wu2018.zhang.preconditioned-and-ema-risk",
    shares="derivation:nqm.zhang-ema-risk",
    statement=r"\ell^\star_{P=H^p}=\frac{\alpha ch^{-p}}{2B(2-\alpha h^{1-p})},\quad "
    r"\ell^\star_{\mathrm{EMA}}=\ell^\star_{\mathrm{SGD}}\frac{(1-\gamma)(1+\gamma(1-\alpha h))}{(1+\gamma)(1-\gamma(1-\alpha h))}",
    source=f"{ZHANG}, preconditioning and the exponential moving average of iterates: the steady-state risks [form "
    "in the paper unconfirmed]; derived here",
    kind="identity",
    tag="derived",
)
def zhang_precond_ema():
    """SymPy derivations ``nqm.zhang-preconditioned-risk`` and ``nqm.zhang-ema-risk`` (both must be
    proved; the verification of the second is returned, the first is checked here)."""
    from l2l.theory.registry import verified

    v = verified("nqm.zhang-preconditioned-risk")
    if not v.ok:
        refute("nqm.zhang-preconditioned-risk has a failed step")
    return verified("nqm.zhang-ema-risk")


@claim(
    id="wu2018.zhang.ema-monte-carlo",
    statement=r"\text{EMA-SGD at stationarity: Monte Carlo mean of } \tfrac12h\tilde\theta^2 = \ell^\star_{\mathrm{EMA}},\ "
    r"\text{factor}\in(0,1)",
    source=f"{ZHANG}, the exponential moving average of iterates [form in the paper unconfirmed]; derived here",
    kind="statistical",
    tag="derived",
    tolerance="|z| <= 5 over 4e4 paths, run for t with (1 - alpha h)^{2t}, gamma^t < 1e-12 so the transient is "
    "below the Monte Carlo error",
    examples={"ci": 4, "dev": 15, "thorough": 60},
)
@given(ah=st.floats(0.05, 1.9), gamma=st.floats(0.05, 0.95), seed=st.integers(0, 2**31))
def zhang_ema_mc(ah, gamma, seed):
    from l2l.numerics.nqm import zhang
    from l2l.numerics.nqm.montecarlo import simulate_nqm_ema

    h = np.array([1.0])
    f = float(zhang.ema_factor(h, ah, gamma)[0])
    assert 0 < f < 1, f"EMA factor {f}"
    star = float(zhang.ema_steady_state(h, h, 1, ah, gamma))
    rate = max(abs(1 - ah) ** 2, gamma**2)
    t = int(math.ceil(math.log(1e-12) / math.log(rate))) if rate > 0 else 1
    # Zhang's gradient noise c/B = h  <=>  sigma2 = c / (B h^2) = 1
    mc = simulate_nqm_ema(h, [1.0], [0.0], [1.0], ah, t, 40_000, seed, gamma=gamma, include_irreducible=False)
    z = (mc.mean - star) / mc.stderr
    evidence(f"z (alpha h = {ah:.3g}, gamma = {gamma:.3g})", z, tolerance="|z| <= 5")
    assert abs(z) <= 5, f"fixed point {star:.6g}, Monte Carlo {mc.mean:.6g} +- {mc.stderr:.2g}"


@claim(
    id="wu2018.zhang.critical-batch-size",
    statement=r"\text{steps to } \epsilon \text{ vs } B:\ \text{perfect scaling to a critical } B\text{, then a plateau; "
    r"momentum and preconditioning extend it; steps} \ge d/(2\epsilon B)",
    source=f"{ZHANG}, the critical batch size and how momentum and preconditioning move it [paper, abstract; code: "
    "notebook]; the reference table is derived here",
    kind="trend",
    tag="derived",
    assumptions=r"$d=1000$, $h_i=1/i$, $C=H$, $\epsilon=0.05$, $s_0=1$, $B\in\{1,4,\dots,65536\}$, each method at its best learning rate",
    tolerance="(a) steps x B within 1.1x of B = 1 for B <= 16; (b) plateau: SGD steps at B = 4096 within 10% of "
    "B = 65536 (the spec's 'for B >= 1024' is the finding wu2018.finding.sgd-plateau-from-1024); (c) best lr x 3-5 "
    "per 4x B for B <= 16 and <= 2/h_max; (d) momentum >= 9x fewer steps at B >= 4096 (the spec's 'within 2% at "
    "B <= 4' is the finding wu2018.finding.momentum-equals-sgd-at-small-batch); (e) p = 0.5 >= 2.5x fewer at B = 1 "
    "and >= 20x at B >= 4096; (f) the lower bound. Thresholds are the spec's (3x read as >= 2.5x: 'about 3x')",
)
def zhang_critical_batch():
    rows = batch_table()
    by = {int(r.batch_size): r for r in rows}
    spec = {1: 62218, 4: 15676, 16: 4033, 64: 1172, 256: 567, 1024: 445, 4096: 418, 65536: 411}
    evidence("SGD steps by B", {b: r.sgd.steps for b, r in by.items()}, expected=spec)
    evidence("momentum steps by B", {b: r.momentum.steps for b, r in by.items()},
             expected={1: 62088, 4: 15474, 16: 3806, 64: 915, 256: 236, 1024: 68, 4096: 44, 65536: 40})
    evidence("preconditioned (p = 0.5) steps by B", {b: r.preconditioned.steps for b, r in by.items()},
             expected={1: 19458, 4: 4866, 16: 1218, 64: 306, 256: 79, 1024: 25, 4096: 19, 65536: 18})
    evidence("best SGD learning rate by B", {b: r.sgd.alpha for b, r in by.items()},
             expected={1: 0.0205, 4: 0.0796, 16: 0.31, 64: 0.977, 256: 1.65, 1024: 1.83, 4096: 1.83, 65536: 1.83})
    s1 = by[1].sgd.steps
    for b in (4, 16):
        if not by[b].sgd.steps * b <= 1.1 * s1:
            refute(f"(a) no perfect scaling at B = {b}: {by[b].sgd.steps} x {b} vs {s1}")
    last = by[65536].sgd.steps
    if not abs(by[4096].sgd.steps - last) <= 0.1 * last:
        refute(f"(b) no plateau: {by[4096].sgd.steps} steps at B = 4096 vs {last} at 65536")
    for b0, b1 in ((1, 4), (4, 16)):
        q = by[b1].sgd.alpha / by[b0].sgd.alpha
        if not 3.0 <= q <= 5.0:
            refute(f"(c) best lr ratio {q:.3g} from B = {b0} to {b1}")
    if not max(r.sgd.alpha for r in rows) <= 2.0:
        refute("(c) best SGD lr above the stability limit 2/h_max")
    for b in (4096, 65536):
        if not by[b].sgd.steps >= 9 * by[b].momentum.steps:
            refute(f"(d) momentum gains only {by[b].sgd.steps / by[b].momentum.steps:.3g}x at B = {b}")
    if not by[1].sgd.steps >= 2.5 * by[1].preconditioned.steps:
        refute(f"(e) preconditioning gains only {by[1].sgd.steps / by[1].preconditioned.steps:.3g}x at B = 1")
    for b in (4096, 65536):
        if not by[b].sgd.steps >= 20 * by[b].preconditioned.steps:
            refute(f"(e) preconditioning gains only {by[b].sgd.steps / by[b].preconditioned.steps:.3g}x at B = {b}")
    for r in rows:
        for m in (r.sgd, r.momentum, r.preconditioned):
            if m.steps is None or m.steps < r.lower_bound:
                refute(f"(f) {m.method} at B = {r.batch_size:g}: {m.steps} steps below d/(2 eps B) = {r.lower_bound:.3g}")


@claim(
    id="wu2018.neg.perfect-scaling-at-every-batch-size",
    statement=r"\text{(false) steps}\times B \text{ is constant for every } B",
    source=f"negative control: the plateau past the critical batch size ({ZHANG} [paper, abstract; code: notebook])",
    kind="trend",
    expect="refuted",
    tag="derived",
)
def neg_perfect_scaling():
    rows = batch_table()
    s1 = rows[0].sgd.steps * rows[0].batch_size
    for r in rows:
        if not abs(r.sgd.steps * r.batch_size - s1) <= 0.1 * s1:
            refute(f"steps x B = {r.sgd.steps * r.batch_size:.4g} at B = {r.batch_size:g} vs {s1:.4g} at B = 1",
                   batch_size=r.batch_size, steps=r.sgd.steps, steps_at_1=rows[0].sgd.steps)


@claim(
    id="wu2018.neg.momentum-risk-equals-sgd-at-same-alpha",
    statement=r"\text{(false) } \ell^\star_{\mathrm{mom}}(\alpha,\beta) = \ell^\star_{\mathrm{SGD}}(\alpha)",
    source="negative control: momentum's risk is (1 + beta)/((1 - beta)(2 + 2 beta - alpha h)) / (1/(2 - alpha h)) "
    f"times SGD's at the same raw alpha ({ZHANG}, heavy-ball momentum; derived here)",
    kind="identity",
    expect="refuted",
    tag="derived",
    examples={"ci": 10, "dev": 40, "thorough": 200},
)
@given(ah=st.floats(0.01, 1.9), beta=st.floats(0.0, 0.99))
def neg_momentum_risk(ah, beta):
    from l2l.numerics.nqm import zhang

    h = np.array([1.0])
    m = float(zhang.momentum_steady_state(h, h, 1, ah, beta))
    s = float(zhang.sgd_steady_state(h, h, 1, ah))
    assert abs(m - s) <= 1e-9 * s, f"momentum {m:.6g} vs SGD {s:.6g} (beta = {beta:.3g})"


class UncertifiedOptimum(RuntimeError):
    """Raised (verdict ``error``, never ``refuted``) when a finding's tuned optimum cannot be
    certified: a weak tuner must neither create nor hide an ``expect="refuted"`` finding."""


def _local_scan(method: str, h, B: float, alpha: float, beta: float, spacing: float):
    """Fewest steps on a local grid around (alpha, beta): 41 log-spaced learning rates over +-1 grid
    step of the notebook's grid (momentum: 9 x 9 over (log alpha, log(1 - beta)), +-1 grid step each)."""
    from l2l.numerics.nqm import zhang

    # inside the notebook grids' ranges, the domain the table is tuned over (lr in [1e-5, 10^0.5],
    # 1 - beta in [1e-5, 1]); outside them the scan would answer a different question
    lo, hi = math.log(zhang.ZHANG_LR_GRID[0]), math.log(zhang.ZHANG_LR_GRID[-1])
    la = np.unique(np.exp(np.clip(np.linspace(math.log(alpha) - spacing, math.log(alpha) + spacing, 41 if method == "sgd" else 9), lo, hi)))
    if method == "sgd":
        pts = [(a, 0.0) for a in la]
    else:
        b_spacing = math.log(10.0) * 5.0 / 19.0  # ZHANG_BETA_GRID: 1 - logspace(-5, 0, 20)
        lb = math.log(1.0 - beta)
        lbs = np.unique(np.clip(np.linspace(lb - b_spacing, lb + b_spacing, 9), math.log(1e-5), 0.0))
        pts = [(a, 1.0 - math.exp(v)) for a in la for v in lbs if v < 0]
    scan = [(zhang.steps_to_target(method, h, h, B, 0.05, alpha=float(a), beta=float(b)), float(a), float(b)) for a, b in pts]
    return min((x for x in scan if x[0] is not None), default=(None, alpha, beta))


def _certified_steps(B: float, opt, method: str) -> tuple[int, dict]:
    """The fewest steps to the target at batch size ``B`` for ``method`` (``"sgd"`` or ``"momentum"``),
    certified: (1) a second tuning from a different start, the notebook's learning-rate grid shifted
    by half a grid step (numerics.nqm.zhang.optimal_steps, refined); (2) local scans
    (:func:`_local_scan`) from the better of the two, repeated from each improvement, at most 3
    rounds: the optimum is certified when a scan around it finds nothing better. Findings use the
    certified count, so a weak tuner can neither create nor hide them; an optimum still improving
    after 3 rounds ends the claim with ``error`` (UncertifiedOptimum)."""
    from l2l.numerics.nqm import zhang

    h = 1.0 / np.arange(1, 1001)
    spacing = math.log(zhang.ZHANG_LR_GRID[1] / zhang.ZHANG_LR_GRID[0])
    shifted = zhang.ZHANG_LR_GRID * math.exp(spacing / 2)
    alt = zhang.optimal_steps(method, h, h, B, 0.05, lr_grid=shifted[shifted <= zhang.ZHANG_LR_GRID[-1]])
    starts = [(opt.steps, opt.alpha, opt.beta or 0.0)]
    if alt.steps is not None:
        starts.append((alt.steps, alt.alpha, alt.beta or 0.0))
    best = min(starts)
    rounds = []
    for _ in range(3):
        cand = _local_scan(method, h, B, best[1], best[2], spacing)
        rounds.append(cand[0])
        if cand[0] is None or cand[0] >= best[0]:
            return best[0], {"table": opt.steps, "second start (shifted grid)": alt.steps, "local scans": rounds, "certified": best[0]}
        best = cand
    raise UncertifiedOptimum(f"the {method} optimum at B = {B:g} still improves after 3 local scans: table {opt.steps}, "
                             f"second start {alt.steps}, scans {rounds}")


@claim(
    id="wu2018.finding.sgd-plateau-from-1024",
    statement=r"\text{(spec, not confirmed) SGD steps to } \epsilon \text{ are within 10\% of the plateau for every } B\ge1024",
    source=f"{ZHANG}, the critical batch size [code: notebook], with the plateau as specified for this package "
    "('within 10% of ~411' from B = 1024); finding of this package",
    kind="trend",
    expect="refuted",
    tag="derived",
    tolerance="10% of the B = 65536 value, each B at its best learning rate (notebook grid refined 3 rounds)",
)
def finding_sgd_plateau():
    """With the learning rate refined beyond the notebook's grid, the best rate at large B moves to
    1.93-1.98 (the grid stops at 1.83) and the plateau falls from ~411 to 382 steps, so B = 1024 (443
    steps) is still 16% above it; from B = 4096 (404) on the plateau holds
    (``wu2018.zhang.critical-batch-size``). On the notebook grid alone the reference numbers come back."""
    by = {int(r.batch_size): r for r in batch_table()}
    steps = {}
    for b in (1024, 4096, 65536):  # the verdict uses the best count the certificate found (multi-start)
        steps[b], c = _certified_steps(float(b), by[b].sgd, "sgd")
        evidence(f"certificate of the SGD optimum at B = {b}: steps from the table / second start / local scan", c,
                 expected="none below the table's")
    last = steps[65536]
    for b in (1024, 4096):
        gap = steps[b] / last - 1
        evidence(f"SGD steps at B = {b} above the B = 65536 value", gap, expected="<= 0.10")
        if gap > 0.10:
            refute(f"{steps[b]} steps at B = {b} is {gap:.0%} above {last} at B = 65536",
                   batch_size=b, steps=steps[b], plateau=last, lr=by[b].sgd.alpha)


@claim(
    id="wu2018.finding.momentum-equals-sgd-at-small-batch",
    statement=r"\text{(spec, not confirmed) at } B\le4 \text{ momentum needs within 2\% of SGD's steps}",
    source=f"{ZHANG}, momentum does not help at small batch sizes [code: notebook text], with the 2% band specified "
    "for this package; finding of this package",
    kind="trend",
    expect="refuted",
    tag="derived",
    tolerance="2% of SGD's steps, both at their best (learning rate, beta) on the notebook grids, refined",
)
def finding_momentum_small_batch():
    """Momentum with beta ~ 0.9994 (a point of the notebook's own grid 1 - logspace(-5, 0, 20)) needs
    60749 steps at B = 1 and 14344 at B = 4 against SGD's 62218 and 15662: 2.4% and 8.4% fewer,
    confirmed by two independent implementations (``numerics.nqm.zhang`` closed forms and the
    ``numerics.nqm`` recursion). The qualitative finding (no large gain at small B, >= 9x at large
    B) stands; the 2% band does not. Certificate (finding): the table's momentum optimum at B = 1 is
    not locally optimal: a second tuning from a shifted grid gives 60739 and local scans inside the
    notebook grids' ranges settle at 60508 steps (2.7% fewer than SGD's certified 62218); the
    verdict uses the certified count, so it only strengthens."""
    by = {int(r.batch_size): r for r in batch_table()}
    best = {}
    for b in (1, 4):  # the verdict uses the best count the certificate found (multi-start)
        for method, opt in (("sgd", by[b].sgd), ("momentum", by[b].momentum)):
            best[b, method], c = _certified_steps(float(b), opt, method)
            evidence(f"certificate of the {method} optimum at B = {b}: steps from the table / second start / local scan", c,
                     expected="none below the table's")
    for b in (1, 4):
        gain = 1 - best[b, "momentum"] / best[b, "sgd"]
        evidence(f"B = {b}: momentum saves", gain, expected="<= 0.02")
        if abs(gain) > 0.02:
            refute(f"momentum needs {best[b, 'momentum']} steps vs SGD {best[b, 'sgd']} at B = {b} ({gain:.1%} fewer)",
                   batch_size=b, momentum_steps=best[b, "momentum"], sgd_steps=best[b, "sgd"],
                   beta=by[b].momentum.beta, effective_lr=by[b].momentum.effective_alpha)
