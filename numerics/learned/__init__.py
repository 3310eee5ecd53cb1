"""Learned optimizers: the hierarchical RNN optimizer of Wichrowska et al. (2017) and the
per-parameter MLP optimizer of Metz et al. (2019), with random weights; their meta-objectives, and
a small meta-training loop by antithetic evolution strategies.

Modules:

- :mod:`.hrnn`: the hierarchical RNN's feature and update pipeline (weights, state, one pure step,
  trajectories); claims C1-C5 of Wichrowska et al.'s digest are properties of this architecture.
- :mod:`.reference`: an independent per-coordinate implementation of one hierarchical-RNN step
  (plain loops; shares no code with :mod:`.hrnn`).
- :mod:`.mlp_lopt`: the per-parameter MLP optimizer (the released MLPLOpt form; Metz et al. A8).
- :mod:`.meta_objective`: the code's log meta-objective (C7) and unroll-length sampler (C6).
- :mod:`.es`: antithetic ES meta-gradients with their per-pair variance, and the meta-optimizer.
- :mod:`.tasks`: task families (2-D bowls and quadratics; least squares with train / validation
  splits) and the meta-objectives of an unroll (log, train-by-train, train-by-validation).
- :mod:`.baselines`: SGD, momentum, RMSProp and Adam tuned over a grid of learning rates.
- :mod:`.metatrain`: the meta-training loop and its two adapters (the hierarchical RNN with its RNN
  weights at 0, batched; the MLP optimizer with its last layer trained).

The two optimizers share names (``init_weights``, ``step``, ``run``): the hierarchical RNN's are
exported here, the MLP optimizer's stay in :mod:`.mlp_lopt`. Imports here are numpy-only.
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
from . import baselines, es, metatrain, mlp_lopt, tasks
from .meta_objective import META_EPS, LogMetaObjective, log_meta_objective, unroll_lengths
from .reference import reference_step

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
    "reference_step",
    "mlp_lopt",
    "es",
    "tasks",
    "baselines",
    "metatrain",
]
