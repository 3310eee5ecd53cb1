"""Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (ICML 2019): the pathologies of unrolled
meta-gradients (truncation bias, exploding gradients) and the smoothed objective, its RP and ES
estimators and their inverse-variance merge. Claims in :mod:`.claims`, figures in :mod:`.figures`,
the numbers both share in :mod:`.experiments`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="metz2019",
    title="Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (ICML 2019): unrolled meta-gradient estimators",
    citation="Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein, ICML 2019",
    order=40,
    figures="l2l.proofs.papers.metz2019.figures:figures",
    authors="Luke Metz, Niru Maheswaranathan, Jeremy Nixon, C. Daniel Freeman, Jascha Sohl-Dickstein",
    paper_title="Understanding and correcting pathologies in the training of learned optimizers",
    year=2019,
    venue="Proceedings of the 36th International Conference on Machine Learning (ICML), PMLR 97",
    arxiv="1810.10180",
)
