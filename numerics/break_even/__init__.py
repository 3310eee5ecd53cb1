"""Jastrzebski et al. (2020), the break-even point: SGD stability along the top Hessian direction
(:mod:`.stability`, checked by :mod:`.enumeration` and :mod:`.montecarlo`), the uv-model
(:mod:`.uv`), curvature measurements and a small MLP."""

from .curvature import (
    GramSpectrum,
    TopEigenpair,
    finite_difference_hvp,
    gram_spectrum,
    rank_bound,
    top_covariance_eigenvalue,
    top_hessian_eigenvalue,
    trace_K,
)
from .mlp import BreakEvenRun, MLPProblem, init_params, make_problem, train
from .enumeration import MAX_ENUMERATED_BATCHES, enumerate_mean_square_factor
from .montecarlo import SampleMean, simulate_log_rate, simulate_mean_square_factor
from .stability import (
    SAMPLINGS,
    almost_sure_rate,
    alpha_star,
    break_even_curvature,
    critical_step,
    curvature_moments,
    finite_population_factor,
    mean_square_factor,
)
from .uv import UVRun, TopCurvatures, run_uv, uv_data, uv_example_hessians, uv_gradient, uv_gradients, uv_hessian, uv_loss, uv_top_curvatures

__all__ = [
    "SAMPLINGS",
    "finite_population_factor",
    "curvature_moments",
    "mean_square_factor",
    "critical_step",
    "break_even_curvature",
    "almost_sure_rate",
    "alpha_star",
    "MAX_ENUMERATED_BATCHES",
    "enumerate_mean_square_factor",
    "SampleMean",
    "simulate_mean_square_factor",
    "simulate_log_rate",
    "UVRun",
    "TopCurvatures",
    "run_uv",
    "uv_data",
    "uv_loss",
    "uv_gradients",
    "uv_gradient",
    "uv_hessian",
    "uv_example_hessians",
    "uv_top_curvatures",
    "TopEigenpair",
    "GramSpectrum",
    "top_hessian_eigenvalue",
    "finite_difference_hvp",
    "gram_spectrum",
    "top_covariance_eigenvalue",
    "trace_K",
    "rank_bound",
    "MLPProblem",
    "make_problem",
    "init_params",
    "BreakEvenRun",
    "train",
]
