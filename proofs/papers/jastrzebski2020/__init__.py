"""Jastrzebski, Szymczak, Fort, Arpit, Tabor, Cho & Geras (ICLR 2020): the break-even point of SGD —
Eq. 1 (mean-square stability along the top Hessian direction) derived and checked exactly, its
monotone break-even curvature, mean-square against almost-sure stability, the curvature
measurements (Lanczos, the Gram trick) and honest scaled-down analogues of the conjectures. Claims
in :mod:`.claims`, figures in :mod:`.figures`, the numbers both share in :mod:`.experiments`.
"""

from l2l.proofs.papers import Paper

PAPER = Paper(
    key="jastrzebski2020",
    title="Jastrzebski, Szymczak, Fort, Arpit, Tabor, Cho & Geras (ICLR 2020): the break-even point of SGD",
    citation="Jastrzebski, Szymczak, Fort, Arpit, Tabor, Cho & Geras, ICLR 2020",
    order=50,
    figures="l2l.proofs.papers.jastrzebski2020.figures:figures",
    authors="Stanisław Jastrzębski, Maciej Szymczak, Stanislav Fort, Devansh Arpit, Jacek Tabor, Kyunghyun Cho, Krzysztof Geras",
    paper_title="The Break-Even Point on Optimization Trajectories of Deep Neural Networks",
    year=2020,
    venue="International Conference on Learning Representations (ICLR)",
    arxiv="2002.09572",
)
