r"""Figures of the Metz et al. (2019) section of ``l2l report``.

1. the RP and ES estimator variances against the unroll length T on the double well, stable
   (alpha = 0.5) and chaotic (alpha = 1.45), with the inverse-variance weight on RP;
2. the TBPTT fixed points alpha_K against the window K on the 2-D quadratic, alpha* as a line;
3. the double-well meta-loss L_T against alpha, raw and Gaussian-smoothed (T = 50).

Their numbers come from :mod:`.experiments`, where the claims that compute them publish them, so a
report that ran the catalogue draws these figures without computing anything.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import COLORS, LINESTYLES, FigureSpec, figure_function, legend_below, log_scale, subplots

from . import experiments as X

_DW = (r"gradient descent $w \leftarrow w - \alpha(w^3 - w)$ on the double well $f(w) = \frac{1}{4}(w^2 - 1)^2$ "
       r"from $w_0 = 0.5$, meta-loss $L_T(\alpha) = \frac{1}{T}\sum_{t=1}^{T} f(w_t)$")


def _style(i: int) -> dict:
    return dict(color=COLORS[i], ls=LINESTYLES[i])


def draw_regime(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    T = np.asarray(data["T"], dtype=float)
    for ax, alpha, title in ((ax1, "0.5", r"Stable: $\alpha = 0.5$"), (ax2, "1.45", r"Chaotic: $\alpha = 1.45$")):
        d = data[alpha]
        rp = np.array([np.nan if v is None else v for v in d["var_rp"]], dtype=float)
        ax.plot(T, rp, marker="o", **_style(0), label="reparameterization (RP)")
        ax.plot(T, np.asarray(d["var_es"], dtype=float), marker="s", **_style(1), label="antithetic ES")
        log_scale(ax, "both")
        ax.set_xlabel("unroll length $T$")
        ax.set_title(title)
    ax1.set_ylabel("estimator variance")
    legend_below(fig)
    w_stable = min(data["0.5"]["weight_rp"])
    chaos = [(t, w) for t, w in zip(data["T"], data["1.45"]["weight_rp"]) if t >= 30 and w is not None]
    w_chaos = max(w for _, w in chaos)
    t_exact = max(t for t, w in zip(data["T"], data["1.45"]["weight_rp"]) if w is not None)
    span = f"$T = {t_exact}$" if t_exact == 30 else rf"$30 \le T \le {t_exact}$"
    return render(
        fig,
        "metz-estimator-variance",
        "Reparameterization against ES variance (Metz et al. 2019)",
        r"Sample variances of the pair-averaged reparameterization (RP) estimate and of the antithetic evolution-strategies "
        rf"(ES) estimate of $d\tilde L_T/d\alpha$, perturbation scale $\sigma = {X.SIGMA:g}$, {X.SAMPLES} samples, "
        rf"for {_DW}. Stable step size (left): RP is far more precise, and the inverse-variance weight on RP is at least "
        rf"{w_stable:.4f}. Chaotic step size (right): the RP variance grows exponentially with $T$ while the ES variance "
        rf"stays bounded, and at {span} the weight on RP is at most {w_chaos:.1e}. The RP variance is drawn up to "
        rf"$T = {t_exact}$: beyond, the chaotic orbit's float64 rounding errors have taken the RP samples' digits "
        r"(status imprecise), so there is no exact variance to draw.",
    )


def draw_alpha_k(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    ax.plot(data["K"], data["alpha_k"], marker="o", **_style(0), label=r"$\alpha_K$ (TBPTT)")
    ax.axhline(data["alpha_star"], **_style(1), label=r"$\alpha^*$ (full horizon)")
    ax.axhline(1.0, color="0.4", lw=0.8, ls=":", label=r"greedy $1/\lambda_{\max}$")
    log_scale(ax, "x")
    ax.set_xlabel("truncation window $K$")
    ax.set_ylabel(r"step size $\alpha$")
    ax.set_title("Bias from short truncations")
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.55))  # above the rising curve, below alpha*: no line there
    return render(
        fig,
        "metz-truncation-bias",
        "Truncation bias of truncated backpropagation (Metz et al. 2019)",
        r"The step size $\alpha_K$ at which the truncated meta-gradient vanishes, against the window length $K$, for "
        r"gradient descent on $\frac{1}{2}(w_1^2 + 0.01\,w_2^2)$ from $w_0 = (1, 1)$ with meta-loss averaged over "
        rf"$T = {X.TOY_T}$ steps; each window starts from the state reached with the same $\alpha$ and no derivative "
        rf"flows across window boundaries. Short windows are biased toward the greedy rate 1; $\alpha_K$ rises "
        rf"monotonically to the full-horizon optimum $\alpha^* = {data['alpha_star']:.4f}$ at $K = T$.",
    )


def draw_roughness(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    ax.plot(data["alpha"], data["raw"], lw=0.9, **_style(0), label="raw $L_T$")
    ax.plot(data["alpha"], data["smoothed"], lw=1.8, **_style(1), label=r"smoothed $\tilde L_T$")
    ax.set_xlabel(r"step size $\alpha$")
    ax.set_ylabel(f"meta-loss ($T = {X.ROUGH_T}$)")
    ax.set_title("Smoothing tames roughness")
    legend_below(fig)
    return render(
        fig,
        "metz-smoothing",
        "Raw and smoothed meta-loss of a chaotic unroll (Metz et al. 2019)",
        rf"The meta-loss $L_T$ with $T = {X.ROUGH_T}$ for {_DW}, on {X.GRID[2]} step sizes in "
        rf"$[{X.GRID[0]}, {X.GRID[1]}]$, and its Gaussian smoothing $\tilde L_T(\alpha) = \mathrm{{E}}\,L_T(\alpha + "
        rf"\sigma\varepsilon)$ with $\sigma = {X.SIGMA:g}$, estimated with the same {X.ROUGH_SAMPLES} draws of "
        rf"$\varepsilon$ at every step size. Total variation: {data['tv_raw']:.2f} raw, {data['tv_smoothed']:.2f} smoothed.",
    )


figures = figure_function(
    FigureSpec("metz-estimator-variance", X.regime_figure_data, draw_regime, cost=0.6),
    FigureSpec("metz-truncation-bias", X.alpha_k_figure_data, draw_alpha_k, cost=1.2),
    FigureSpec("metz-smoothing", X.roughness_figure_data, draw_roughness, cost=0.3),
)
figures.__doc__ = "The three figures, each made by ``render(fig, name, title, caption)``."
