"""A claim that is refuted: "the naive meta-gradient never exceeds t L^2 for eta <= 3/L".

It is false above eta = 2/L, where |d f(w_t)/d eta| explodes like (eta L - 1)^(2t) (Wang et al.
2021, Theorem 3 (iii)); `l2l check` finds and shrinks a counterexample and exits 1.
"""

import math

from hypothesis import given, strategies as st

from l2l import claim, strategies as ps
from l2l.numerics.quadratic.stable import evaluate


@claim(
    id="mylab.naive-gradient-bound",
    statement=r"|F'(\eta)| \le t L^2 \text{ for all } \eta \le 3/L",
    source="my (wrong) note",
    kind="inequality",
)
@given(problem=ps.quadratic_problems(max_dim=4, max_kappa=100), t=st.integers(1, 100), frac=st.floats(0.0, 1.0))
def naive_gradient_bound(problem, t, frac):
    eta = frac * 3.0 / problem.L
    log_abs = float(evaluate(problem, eta, t).naive_grad_log_abs)
    # at eta = 0 the bound is tight (|F'(0)| = t sum c_i^2 lambda_i^2 = t L^2 when every lambda_i = L):
    # 1e-12 covers float64 rounding of that sum (a few eps), so only a real excess refutes it
    assert log_abs <= math.log(t * problem.L**2) + 1e-12, f"ln|F'| = {log_abs:.6g} > ln(t L^2) = {math.log(t * problem.L**2):.6g}"
