"""numerics: stable evaluators, simulators, references and diagnostics (numpy, scipy, mpmath).

Imports here are light (numpy only): ``l2l eval`` must start fast and never load SymPy or SciPy.
Layout: :mod:`.validation` (every input check) · :mod:`.codec` (problems as JSON) ·
:mod:`.problems` · one subpackage per model (:mod:`.quadratic`, :mod:`.least_squares`,
:mod:`.nqm`), each with its closed form, simulation and reference · :mod:`.estimators` (Metz et al.
2019: meta-loss, exact estimator moments, Monte Carlo) · :mod:`.diagnostics` ·
:mod:`.toys`.
"""

from .nqm.problem import NQMProblem
from .problems import LeastSquaresProblem, QuadraticProblem
from .validation import ValidationError

__all__ = ["QuadraticProblem", "LeastSquaresProblem", "NQMProblem", "ValidationError"]

