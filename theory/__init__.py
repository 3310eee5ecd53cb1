"""theory: SymPy derivations of closed forms; every step is checked by SymPy.

Layout (one concept per module):

* :mod:`~theory.derivation` -- the derivation model, its checks and the one status ranking;
* :mod:`~theory.store` -- where verifications of registered derivations are kept between processes;
* :mod:`~theory.expectation` -- the one expectation engine (notation, laws, engine, checks);
* models: :mod:`~theory.quadratic`, :mod:`~theory.least_squares`, :mod:`~theory.sgd_moments`,
  :mod:`~theory.nqm` (each a ``DERIVATIONS`` table);
* :mod:`~theory.registry` -- every derivation by name (imports the models; nothing imports it back);
* :mod:`~theory.lambdify` -- the closed forms as plain callables.

This package imports nothing from :mod:`numerics` or :mod:`proofs`, and no numpy.
"""
