"""A claim that holds: the log meta-gradient of GD on a quadratic is bounded independently of t.

Run it with `l2l check examples/claims/log_gradient_bound.py` or `pytest examples/claims/log_gradient_bound.py`.
"""

from hypothesis import given, strategies as st

from l2l import claim, strategies as ps
from l2l.numerics.quadratic.stable import evaluate


@claim(
    id="mylab.log-gradient-bound",
    statement=r"|G'(\eta)| \le \frac{2L^2(L+\alpha)}{c_{\min}^2\alpha(L-\alpha)} \text{ for all } \eta \ge 0,\ t \ge 1",
    source="my note (after Wang et al. 2021, Theorem 4 (ii))",
    kind="inequality",
)
@given(problem=ps.quadratic_problems(max_dim=8, max_kappa=1e4), t=st.integers(1, 10_000), data=st.data())
def log_gradient_bound(problem, t, data):
    if problem.L == problem.alpha:
        return  # the bound assumes L > alpha
    eta = data.draw(ps.step_sizes(problem, max_factor=10.0), label="eta")
    g = float(evaluate(problem, eta, t).log_objective_grad)
    bound = 2 * problem.L**2 * (problem.L + problem.alpha) / (problem.c_min**2 * problem.alpha * (problem.L - problem.alpha))
    assert abs(g) <= bound * (1 + 1e-10), f"|G'| = {abs(g):.6g} > {bound:.6g}"
