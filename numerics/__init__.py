"""numerics: stable evaluators, simulators, references and diagnostics (numpy, scipy, mpmath).

Imports here are light (numpy only): ``l2l eval`` must start fast and never load SymPy.
"""

from .problems import LeastSquaresProblem, QuadraticProblem
from .validation import ValidationError

__all__ = ["QuadraticProblem", "LeastSquaresProblem", "ValidationError"]
