"""The computations that the Metz et al. (2019) claims and figures share, cached per process.

Claims that compute these numbers publish what the figures show (``publish``), so a report that ran
the catalogue draws the figures without computing them again (``shared``).

* :func:`alpha_k_table`: the TBPTT fixed points alpha_K of the 2-D quadratic (lambda = (1, 0.01),
  w_0 = (1, 1), T = 1000) and the full-horizon minimiser alpha*;
* :func:`double_well_samples`: per-sample RP and antithetic ES estimates on the double well;
* :func:`regime_table`: their sample variances and inverse-variance weights against T at
  alpha = 0.5 (stable) and 1.45 (chaotic);
* :func:`roughness_data`: L_T against alpha, raw and Gaussian-smoothed (T = 50).
"""

from __future__ import annotations

import functools

import numpy as np

from l2l.numerics import QuadraticProblem

#: The 2-D problem of the truncation-bias toy: lambda = (1, 0.01), w_0 = (1, 1), horizon T = 1000.
TOY_EIGENVALUES = (1.0, 0.01)
TOY_W0 = (1.0, 1.0)
TOY_T = 1000
#: Windows whose fixed points the reference table lists, and their reference values (4 decimals).
SPEC_K = (1, 2, 5, 20, 100, 1000)
SPEC_ALPHA_K = {1: 1.0050, 2: 1.0074, 5: 1.0145, 20: 1.0464, 100: 1.1383, 1000: 1.1716}
SPEC_ALPHA_STAR = 1.1716
#: Windows drawn in the alpha_K figure (the reference ones and a few between).
FIGURE_K = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

#: The double-well estimator setting of the regime switch: perturbation scale, samples, seed.
SIGMA = 0.01
SAMPLES = 4096
SEED = 0
REGIME_ALPHAS = (0.5, 1.45)
REGIME_T = (10, 20, 30, 50, 100, 200, 300)

#: The roughness grid: 301 points on [1.3, 1.59], T = 50, 64 Monte Carlo samples.
GRID = (1.3, 1.59, 301)
ROUGH_T = 50
ROUGH_SAMPLES = 64

ALPHA_K_FIGURE = "metz2019.alpha-k"
REGIME_FIGURE = "metz2019.regime"
ROUGHNESS_FIGURE = "metz2019.roughness"


def toy_problem() -> QuadraticProblem:
    return QuadraticProblem(list(TOY_EIGENVALUES), list(TOY_W0))


@functools.lru_cache(maxsize=None)
def alpha_star() -> float:
    from l2l.numerics.estimators.truncation import full_minimiser

    return full_minimiser(toy_problem(), TOY_T)


@functools.lru_cache(maxsize=None)
def alpha_k(K: int) -> float:
    from l2l.numerics.estimators.truncation import tbptt_fixed_point

    return tbptt_fixed_point(toy_problem(), TOY_T, K)


def alpha_k_table() -> dict:
    """alpha_K for every K of :data:`FIGURE_K` (which contains :data:`SPEC_K`) and alpha*."""
    return {"K": list(FIGURE_K), "alpha_k": [alpha_k(k) for k in FIGURE_K], "alpha_star": alpha_star()}


def alpha_k_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(ALPHA_K_FIGURE, alpha_k_table)


@functools.lru_cache(maxsize=64)
def double_well_samples(alpha: float, T: int, samples: int = SAMPLES, seed: int = SEED, sigma: float = SIGMA):
    from l2l.numerics.estimators.chaos import double_well_estimator_samples

    return double_well_estimator_samples(alpha, T, sigma, samples, seed=seed)


def sample_variances(alpha: float, T: int, seed: int = SEED) -> dict:
    """Sample variances (divisor S - 1, without the released code's 1e-8 floor) of the RP and ES
    samples, and the inverse-variance weight on RP as the released code computes it (floor
    included); var_rp and the weight are None where the RP samples have status 'overflow' (beyond
    float64) or 'imprecise' (the chaotic orbit's rounding has taken their digits)."""
    from l2l.numerics.estimators.merge import inverse_variance_merge

    s = double_well_samples(alpha, T, seed=seed)
    var_es = float(np.var(s.es, ddof=1))
    if s.status != "ok":
        return {"var_rp": None, "var_es": var_es, "weight_rp": None, "status": s.status}
    m = inverse_variance_merge(s.rp, s.es)
    return {"var_rp": float(np.var(s.rp, ddof=1)), "var_es": var_es, "weight_rp": float(m.weight_rp),
            "merged_var": float(m.weight_rp**2 * m.var_rp + m.weight_es**2 * m.var_es), "status": "ok"}


def regime_table() -> dict:
    out: dict = {"T": list(REGIME_T)}
    for alpha in REGIME_ALPHAS:
        rows = [sample_variances(alpha, T) for T in REGIME_T]
        out[str(alpha)] = {key: [r[key] for r in rows] for key in ("var_rp", "var_es", "weight_rp")}
    return out


def regime_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(REGIME_FIGURE, regime_table)


def grid() -> np.ndarray:
    lo, hi, n = GRID
    return np.linspace(lo, hi, n)


def roughness_table() -> dict:
    from l2l.numerics.estimators.chaos import double_well, smoothed_double_well, total_variation

    g = grid()
    raw = np.asarray(double_well(g, ROUGH_T).meta_loss)
    sm = smoothed_double_well(g, ROUGH_T, SIGMA, ROUGH_SAMPLES, seed=SEED)
    return {"alpha": g, "raw": raw, "smoothed": sm.smoothed, "tv_raw": total_variation(raw),
            "tv_smoothed": total_variation(sm.smoothed)}


def roughness_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(ROUGHNESS_FIGURE, roughness_table)
