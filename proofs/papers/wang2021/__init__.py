"""Wang, Yuan, Wu & Ge (ICML 2021): step-size tuning by learning to learn (spec ``papers/wang2021.md``).

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
)
