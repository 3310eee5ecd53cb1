"""Wang, Yuan, Wu & Ge (ICML 2021): step-size tuning by learning to learn (spec
``papers/wang2021.md`` in the project's shared folder).

Claims in :mod:`.claims` (Section 3: quadratics, Theorems 3-4, Corollary 1; Section 4: least
squares, train-by-train versus train-by-validation), figures in :mod:`.figures`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="wang2021",
    title="Wang, Yuan, Wu & Ge (ICML 2021): step-size tuning by learning to learn",
    citation="Wang, Yuan, Wu & Ge, ICML 2021",
    order=10,
    figures="l2l.proofs.papers.wang2021.figures:figures",
    authors="Xiang Wang, Shuai Yuan, Chenwei Wu, Rong Ge",
    paper_title="Guarantees for Tuning the Step Size using a Learning-to-Learn Approach",
    year=2021,
    venue="Proceedings of the 38th International Conference on Machine Learning (ICML), PMLR 139",
    arxiv="2006.16495",
)
