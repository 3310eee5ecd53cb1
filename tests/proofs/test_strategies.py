"""The public strategies reach the points their docstrings promise (the hard cases claims rely on):
the extremes of a spectrum and the special step sizes. A strategy that silently stops producing
them makes every claim drawing from it weaker without failing any (the mutation harness showed
two such mutants surviving)."""

from __future__ import annotations

from hypothesis import HealthCheck, find, settings

from l2l.numerics import QuadraticProblem
from l2l.proofs import strategies as ps

#: `find` searches deterministically (derandomize) with a bounded budget
SEARCH = settings(max_examples=500, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


def test_spectra_reach_their_condition_number_for_every_shape():
    # d = 2: a spectrum is just its two ends, L and L/kappa, so nothing interior can hide a lost end
    for shape in ps.SPECTRUM_SHAPES:
        lam = find(ps.spectra(min_dim=2, max_dim=2, max_kappa=1e6, shapes=(shape,)),
                   lambda lam: lam.max() / lam.min() > 1e3, settings=SEARCH)
        assert lam.max() / lam.min() > 1e3, shape


def test_step_sizes_hit_every_special_point():
    p = QuadraticProblem([4.0, 3.0, 0.25], [0.6, 0.0, 0.8])
    L, a = p.L, p.alpha
    for point in (0.0, 1 / L, 2 / (L + a), 2 / L, 1 / 3.0):  # 1/alpha = 4 lies beyond the range 3/L
        found = find(ps.step_sizes(p), lambda e, point=point: e == point, settings=SEARCH)
        assert found == point


def test_curvature_batches_reach_zero_variance_full_batch_and_the_batch_limit():
    """Equal curvatures (s^2 = 0), the full batch S = N, and the largest N allowed; ``max_batches``
    is respected for both samplings."""
    import math

    find(ps.curvature_batches(), lambda i: i[0].size >= 3 and (i[0] == i[0][0]).all(), settings=SEARCH)
    find(ps.curvature_batches(), lambda i: i[1] == i[0].size >= 3, settings=SEARCH)
    find(ps.curvature_batches(max_n=12), lambda i: i[0].size == 12, settings=SEARCH)
    for sampling, count in (("without_replacement", math.comb), ("with_replacement", lambda n, s: n**s)):
        big = find(ps.curvature_batches(max_batches=100, sampling=sampling), lambda i: i[1] >= 2 and i[0].size >= 5, settings=SEARCH)
        assert count(big[0].size, big[1]) <= 100
