"""Wichrowska, Maheswaranathan, Hoffman, Gómez Colmenarejo, Denil, de Freitas & Sohl-Dickstein
(ICML 2017): the hierarchical-RNN learned optimizer — its exact architectural properties with random
weights (gradient-scale invariance, first-step features, timescales, log-learning-rate shift
equivariance, unit-RMS directions), the log meta-objective and the unroll-length sampler of the
released code, and a scaled-down meta-training analogue (C8: the scalar biases by antithetic ES,
against tuned RMSProp). Claims in :mod:`.claims`, figures in :mod:`.figures`, the shared instances
and meta-training runs in :mod:`.experiments`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="wichrowska2017",
    title="Wichrowska, Maheswaranathan, Hoffman, Gómez Colmenarejo, Denil, de Freitas & Sohl-Dickstein (ICML 2017): learned optimizers that scale",
    citation="Wichrowska, Maheswaranathan, Hoffman, Gómez Colmenarejo, Denil, de Freitas & Sohl-Dickstein, ICML 2017",
    order=60,
    figures="l2l.proofs.papers.wichrowska2017.figures:figures",
    authors="Olga Wichrowska, Niru Maheswaranathan, Matthew W. Hoffman, Sergio Gómez\u00a0Colmenarejo, Misha Denil, "
    "Nando de\u00a0Freitas, Jascha Sohl-Dickstein",
    paper_title="Learned Optimizers that Scale and Generalize",
    year=2017,
    venue="Proceedings of the 34th International Conference on Machine Learning (ICML), PMLR 70",
    arxiv="1703.04813",
)
