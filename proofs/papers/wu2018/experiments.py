"""Computations shared by the Wu et al. (2018) claims and figures, cached: several claims and the
report's figures read the same optimal schedules on the spec's stand-in NQP (``papers/wu2018.md`` §2,
§7). Claims run in worker processes, so the numbers the figures show are also *published*
(:func:`l2l.proofs.report.figures.publish`) when a claim computes them: ``l2l report`` then draws
the figures without computing them again. Claims never read what is published.
"""

from __future__ import annotations

import functools

import numpy as np

from l2l.numerics import nqm

SOURCE = "Wu, Ren, Liao & Grosse (ICLR 2018)"

EPS = float(np.finfo(np.float64).eps)
#: The step-size cap of spec §11 item 8 (h_max = 1 on the stand-in).
CAP = 1.999


# =============================================================================================
# shared computations (cached: several claims read the same optimal schedules)


def stand_in(n: int, kappa: float) -> nqm.NQMProblem:
    return nqm.NQMProblem.stand_in(n, kappa=kappa)


@functools.lru_cache(maxsize=None)
def schedules(n: int, kappa: float, T: int) -> dict:
    """Greedy, T-optimal and best constant step size on the stand-in (n, kappa) at horizon T."""
    p = stand_in(n, kappa)
    cap = CAP / float(p.h.max())
    greedy = nqm.greedy_schedule(p, T, eta_max=cap)
    opt = nqm.optimal_schedule(p, T, eta_max=cap, init=greedy.etas)
    eta_fixed, fixed_loss = nqm.best_constant_eta(p, T, eta_max=cap)
    out = {"problem": p, "cap": cap, "greedy": greedy, "optimal": opt, "fixed": (eta_fixed, fixed_loss - p.irreducible)}
    if (n, kappa, T) in FIGURE_SETTINGS:
        _publish(schedule_figure_name(n, kappa, T), _schedule_summary(out))
    return out


#: The settings (n, kappa, T) whose schedules the report's figures show.
FIGURE_SETTINGS = ((1000, 1.0, 250), (1000, 0.01, 250))


def schedule_figure_name(n: int, kappa: float, T: int) -> str:
    return f"wu2018.schedules(n={int(n)},kappa={float(kappa)!r},T={int(T)})"


def _schedule_summary(s: dict) -> dict:
    p = s["problem"]
    return {
        "h": p.h,
        "etas": {k: s[k].etas for k in ("greedy", "optimal")},
        "excess": {k: s[k].excess for k in ("greedy", "optimal")},
        "fixed_eta": s["fixed"][0],
        "final_per_coordinate": {k: nqm.per_coordinate_excess(p, final_state(p, s[k])) for k in ("greedy", "optimal")},
    }


def schedule_figure_data(n: int, kappa: float, T: int) -> dict:
    """What the figures show of :func:`schedules` (arrays as lists): published by the claims
    that computed it, else computed here."""
    from l2l.proofs.report.figures import shared

    return shared(schedule_figure_name(n, kappa, T), lambda: _schedule_summary(schedules(n, kappa, T)))


def _publish(name: str, data: dict) -> None:
    """Hand ``data`` to the report's figures; never fails a claim (the figure computes it then)."""
    try:
        from l2l.proofs.report.figures import publish  # lazily: only on this expensive path

        publish(name, data)
    except Exception:  # noqa: BLE001 - a claim's verdict must not depend on the report's cache
        pass


#: The settings of the spec's §7 reference table (n, kappa, T) on the stand-in: where the
#: quantitative statements of §11 item 8 were derived, so where they are asserted.
TABLE_SETTINGS = ((20, 1.0, 50), (100, 1.0, 100), (100, 0.01, 100), (1000, 1.0, 250), (1000, 0.01, 250))
#: The whole parameter grid of §11 item 8: n in {20, 100, 1000}, kappa in {1, 0.01}, T in {50, 100, 250}
#: (all 18 optimal schedules take a few seconds). Statements that fail off the table are findings.
GRID_SETTINGS = tuple((n, k, T) for n in (20, 100, 1000) for k in (1.0, 0.01) for T in (50, 100, 250))


def bias_settings(grid: bool = False) -> tuple[tuple[int, float, int], ...]:
    """(n, kappa, T) of §11 item 8: the reference table, or the full grid."""
    return GRID_SETTINGS if grid else TABLE_SETTINGS


#: §7 reference values [derived] (greedy excess, optimal excess) on the stand-in, for evidence only.
SPEC_BIAS = {(1000, 1.0, 250): (1.461, 0.956), (1000, 0.01, 250): (0.484, 0.138), (100, 1.0, 100): (0.668, 0.434),
             (100, 0.01, 100): (0.078, 0.0135), (20, 1.0, 50): (0.282, 0.208), (1000, 1.0, 1000): (1.110, 0.455)}


def final_state(p: nqm.NQMProblem, s: nqm.Schedule) -> nqm.State:
    return nqm.run(p, s.etas, len(s.etas), mu=s.mus, curve=False).state


# =============================================================================================
# Look-ahead, momentum, the deterministic control, the offline family (§11 items 10-12, 14)


@functools.lru_cache(maxsize=None)
def look_ahead_runs():
    p = stand_in(1000, 1.0)
    runs = {k: nqm.receding_horizon_schedule(p, 1000, k, eta_max=CAP) for k in (1, 3, 10, 30, 100, 300)}
    opt = nqm.optimal_schedule(p, 1000, eta_max=CAP, init=runs[300].etas)
    _publish(LOOK_AHEAD_FIGURE, _look_ahead_summary(runs, opt))
    return runs, opt


LOOK_AHEAD_FIGURE = "wu2018.look_ahead_runs()"


def _look_ahead_summary(runs: dict, opt: nqm.Schedule) -> dict:
    ks = sorted(runs)
    return {"k": ks, "final_excess": [runs[k].final_excess for k in ks], "etas": [runs[k].etas for k in ks],
            "optimal_etas": opt.etas, "optimal_excess": opt.final_excess}


def look_ahead_figure_data() -> dict:
    """What the look-ahead figure shows of :func:`look_ahead_runs` (published by the claim)."""
    from l2l.proofs.report.figures import shared

    return shared(LOOK_AHEAD_FIGURE, lambda: _look_ahead_summary(*look_ahead_runs()))
