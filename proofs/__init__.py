"""proofs: claims, the runner, public Hypothesis strategies, catalogues, reports and the CLI.

Submodules are imported lazily so that ``l2l eval`` does not pay for SymPy or Hypothesis.
"""
