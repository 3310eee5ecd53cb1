"""Learned optimizers: the hierarchical RNN optimizer of Wichrowska et al. (2017) with random
weights, its log meta-objective and its unroll-length sampler.

Modules:

- :mod:`.hrnn`: the feature and update pipeline (weights, state, one pure step, trajectories);
  claims C1-C5 of the paper's digest are properties of this architecture.
- :mod:`.meta_objective`: the code's log meta-objective (C7) and unroll-length sampler (C6).

Imports here are numpy-only.
"""

from .hrnn import (
    GLOBAL_HIDDEN,
    MAX_LOG_LR,
    NUM_FEATURES,
    NUM_SCALES,
    PARAM_HIDDEN,
    TENSOR_HIDDEN,
    HRNNRun,
    HRNNState,
    HRNNStepInfo,
    HRNNWeights,
    init_state,
    init_weights,
    run,
    shift_log_lrs,
    step,
    timescale,
)
from .meta_objective import META_EPS, LogMetaObjective, log_meta_objective, unroll_lengths

__all__ = [
    "PARAM_HIDDEN",
    "TENSOR_HIDDEN",
    "GLOBAL_HIDDEN",
    "NUM_SCALES",
    "NUM_FEATURES",
    "MAX_LOG_LR",
    "HRNNWeights",
    "HRNNState",
    "HRNNStepInfo",
    "HRNNRun",
    "init_weights",
    "init_state",
    "step",
    "shift_log_lrs",
    "run",
    "timescale",
    "META_EPS",
    "LogMetaObjective",
    "log_meta_objective",
    "unroll_lengths",
]
