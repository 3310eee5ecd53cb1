"""Zhang et al. (NeurIPS 2019): which algorithmic choices matter at which batch sizes, on the noisy
quadratic model (spec ``papers/wu2018.md`` §10, in the project's shared folder). Claims in
:mod:`.claims` (ids ``wu2018.zhang.*`` and the batch-size controls and findings, kept from when the
two papers shared one module), figure in :mod:`.figures`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="zhang2019",
    title="Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue & Grosse (NeurIPS 2019): batch size on the noisy quadratic model",
    citation="Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue & Grosse, NeurIPS 2019",
    order=30,
    figures="l2l.proofs.papers.zhang2019.figures:figures",
    authors="Guodong Zhang, Lala Li, Zachary Nado, James Martens, Sushant Sachdeva, George E. Dahl, "
    "Christopher J. Shallue, Roger Grosse",
    paper_title="Which Algorithmic Choices Matter at Which Batch Sizes? Insights From a Noisy Quadratic Model",
    year=2019,
    venue="Advances in Neural Information Processing Systems 32 (NeurIPS)",
    arxiv="1907.04164",
)
