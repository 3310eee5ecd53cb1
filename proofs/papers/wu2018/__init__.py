"""Wu, Ren, Liao & Grosse (ICLR 2018): short-horizon bias on the noisy quadratic model (spec
``papers/wu2018.md`` §2-§9). Claims in :mod:`.claims`, figures in :mod:`.figures`, the cached
computations both share in :mod:`.experiments`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="wu2018",
    title="Wu, Ren, Liao & Grosse (ICLR 2018): short-horizon bias on the noisy quadratic model",
    citation="Wu, Ren, Liao & Grosse, ICLR 2018",
    order=20,
    figures="l2l.proofs.papers.wu2018.figures:figures",
)
