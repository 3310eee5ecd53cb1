"""Wu, Ren, Liao & Grosse (ICLR 2018): short-horizon bias on the noisy quadratic model (spec
``papers/wu2018.md`` §2-§9, in the project's shared folder). Claims in :mod:`.claims`, figures in
:mod:`.figures`, the cached computations both share in :mod:`.experiments`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="wu2018",
    title="Wu, Ren, Liao & Grosse (ICLR 2018): short-horizon bias on the noisy quadratic model",
    citation="Wu, Ren, Liao & Grosse, ICLR 2018",
    order=20,
    figures="l2l.proofs.papers.wu2018.figures:figures",
    authors="Yuhuai Wu, Mengye Ren, Renjie Liao, Roger Grosse",
    paper_title="Understanding Short-Horizon Bias in Stochastic Meta-Optimization",
    year=2018,
    venue="6th International Conference on Learning Representations (ICLR)",
    arxiv="1803.02021",
)
