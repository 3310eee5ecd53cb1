"""theory: SymPy derivations of closed forms; every step is checked by SymPy.

This package imports nothing from :mod:`numerics` or :mod:`proofs`.
"""
